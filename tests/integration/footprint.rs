//! Footprint on real images: section sizes agree with GNU `size -A` on
//! every cell's image, bytes are attributed to the crates whose functions
//! and statics they are, an option's cost is the median of the pairs a
//! person picks by hand, budgets and growth fail the cells they should,
//! and `diff` says what changed in size.
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::check::{cell, check_json};
use crate::util::{linkmatrix, project_copy, repo, run, stderr, stdout, write};

/// `size -A`'s sections with a nonzero address (the allocated ones), as
/// name → bytes.
fn size_a(image: &Path) -> BTreeMap<String, u64> {
    let o = Command::new("size").arg("-A").arg(image).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            match f.as_slice() {
                [name, bytes, addr] => Some((
                    (*name).to_owned(),
                    bytes.parse().ok()?,
                    addr.parse::<u64>().ok()?,
                )),
                _ => None,
            }
        })
        .filter(|(_, bytes, addr)| *addr != 0 && *bytes != 0)
        .map(|(n, b, _)| (n, b))
        .collect()
}

/// `inspect --size --format json` of one file.
fn measured(image: &Path, memory: Option<&Path>) -> Value {
    let mut args = vec!["inspect".to_owned(), "--size".to_owned()];
    if let Some(m) = memory {
        args.extend(["--memory".to_owned(), m.display().to_string()]);
    }
    args.extend(["--top", "1000", "--format", "json"].map(str::to_owned));
    args.push(image.display().to_string());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = run(&repo(), &args);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    v[0]["size"].clone()
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[test]
fn section_sizes_agree_with_size_a_on_every_cells_image() {
    let (code, r, err) = check_json(&repo(), &[]);
    assert_eq!(code, 0, "{err}");
    let cells = repo().join("target/linkmatrix/linkmatrix/cells");
    for c in r["cells"].as_array().unwrap() {
        let id = c["id"].as_str().unwrap();
        let dir = cells.join(id);
        // The report's size is the image's, as `inspect --size` measures it.
        let s = &c["size"];
        let again = measured(&dir.join("image.elf"), Some(&dir.join("link.ld")));
        assert_eq!(s["sections"], again["sections"], "{id}");
        assert_eq!(s["crates"], again["crates"], "{id}");
        let ours: BTreeMap<String, u64> = s["sections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| (x["name"].as_str().unwrap().to_owned(), u(&x["bytes"])))
            .collect();
        assert_eq!(ours, size_a(&dir.join("image.elf")), "{id}");
        // Flash and RAM are the sums of the sections' shares, and every
        // byte is some crate's.
        for m in ["flash", "ram"] {
            let sections: u64 = s["sections"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| u(&x[m]))
                .sum();
            let crates: u64 = s["crates"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| u(&x[m]))
                .sum();
            assert_eq!((sections, crates), (u(&s[m]), u(&s[m])), "{id} {m}");
        }
        // The image runs from its RAM region: RAM holds everything,
        // flash (the image's bytes) everything but .bss.
        let bss = ours[".bss"];
        assert_eq!(u(&s["ram"]), ours.values().sum::<u64>(), "{id}");
        assert_eq!(u(&s["flash"]), ours.values().sum::<u64>() - bss, "{id}");
        assert_eq!(s["regions"][0]["name"], "RAM", "{id}");
        assert_eq!(u(&s["regions"][0]["used"]), u(&s["ram"]), "{id}");
    }
}

const ALPHA: &str = r"#![no_std]
/// 256 words of read-only data.
pub static TABLE: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = (i as u32).wrapping_mul(0x9e37_79b9);
        i += 1;
    }
    t
};

#[inline(never)]
pub fn checksum(data: &[u8]) -> u32 {
    data.iter().fold(0u32, |a, b| a.rotate_left(5) ^ TABLE[*b as usize])
}
";

const BETA: &str = r"#![no_std]
/// 2 KiB of zero-initialized RAM.
pub static mut BUFFER: [u8; 2048] = [0; 2048];

#[inline(never)]
pub fn mix(x: u32) -> u32 {
    let i = (x as usize) % 2048;
    unsafe {
        let b = &mut *core::ptr::addr_of_mut!(BUFFER);
        b[i] = b[i].wrapping_add(x as u8);
        u32::from(b[i]) * 31 + x
    }
}
";

const APP: &str = r#"#![no_std]
#[no_mangle]
pub extern "C" fn app_entry(x: u32) -> u32 {
    let bytes = x.to_le_bytes();
    alpha::checksum(core::hint::black_box(&bytes)) ^ beta::mix(core::hint::black_box(x))
}

#[cfg(target_os = "none")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {}
}
"#;

/// A crate whose two path dependencies define known functions and
/// statics: each counts for its own crate.
#[test]
fn bytes_count_for_the_crates_whose_functions_and_statics_they_are() {
    let d = tempfile::tempdir().unwrap();
    let dep = |name: &str| {
        format!("[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n")
    };
    write(d.path(), "alpha/Cargo.toml", &dep("alpha"));
    write(d.path(), "alpha/src/lib.rs", ALPHA);
    write(d.path(), "beta/Cargo.toml", &dep("beta"));
    write(d.path(), "beta/src/lib.rs", BETA);
    write(
        d.path(),
        "Cargo.toml",
        "[package]\nname = \"sizes-app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\nalpha = { path = \"alpha\" }\nbeta = { path = \"beta\" }\n",
    );
    write(d.path(), "src/lib.rs", APP);
    let o = linkmatrix(d.path())
        .env("LINKMATRIX_BUNDLE", "embedded")
        .args(["init", "--target", "x86"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let (code, r, err) = check_json(d.path(), &[]);
    assert_eq!(code, 0, "{err}\n{r:#}");
    let id = r["cells"][0]["id"].as_str().unwrap();
    let dir = d.path().join("target/linkmatrix/linkmatrix/cells").join(id);
    let s = measured(&dir.join("image.elf"), Some(&dir.join("link.ld")));
    let sym = |name: &str| -> Value {
        s["symbols"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == name)
            .unwrap_or_else(|| panic!("no symbol {name}: {s:#}"))
            .clone()
    };
    assert_eq!(sym("alpha::checksum")["crate"], "alpha");
    assert_eq!(sym("beta::mix")["crate"], "beta");
    let table = sym("alpha::TABLE");
    assert_eq!(
        (u(&table["bytes"]), &table["crate"]),
        (1024, &Value::from("alpha"))
    );
    let buffer = sym("beta::BUFFER");
    assert_eq!(
        (u(&buffer["bytes"]), &buffer["section"]),
        (2048, &Value::from(".bss"))
    );
    let krate = |name: &str| -> (u64, u64) {
        s["crates"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == name)
            .map_or((0, 0), |x| (u(&x["flash"]), u(&x["ram"])))
    };
    // alpha: its table and its function, in flash (and, running from RAM,
    // in RAM too); beta: its function, and its 2 KiB buffer in RAM only.
    let (af, ar) = krate("alpha");
    let (bf, br) = krate("beta");
    assert!(af >= 1024 + u(&sym("alpha::checksum")["bytes"]), "{s:#}");
    assert_eq!(af, ar);
    assert_eq!(bf, u(&sym("beta::mix")["bytes"]), "{s:#}");
    assert_eq!(br, 2048 + bf, "{s:#}");
}

/// A name that looks like rustc's hashed codegen unit names (base 36 of
/// a 128-bit hash), as an incremental build gives them.
fn hash_like(name: &str) -> bool {
    (20..=26).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase())
}

/// The `STT_FILE` names of an ELF image's symbol table.
fn file_symbols(image: &Path) -> Vec<String> {
    let data = std::fs::read(image).unwrap();
    let elf = goblin::elf::Elf::parse(&data).unwrap();
    elf.syms
        .iter()
        .filter(|s| s.st_type() == goblin::elf::sym::STT_FILE)
        .filter_map(|s| elf.strtab.get_at(s.st_name).map(str::to_owned))
        .collect()
}

/// Crate attribution does not depend on how rustc named the objects: in
/// a `dev` build (incremental: codegen units named by a hash, which is
/// all the image's DWARF and symbol table say of them) no hash is taken
/// for a crate, and without debug info (`-Cdebuginfo=0`) the
/// `#[no_mangle]` function still counts for its crate, from the
/// staticlib's members (`<crate>-<hash>.<unit>.rcgu.o`). Four cells of a
/// three-crate fixture (about 15 s).
#[test]
fn crates_are_named_by_their_objects_whatever_rustc_names_the_codegen_units() {
    let d = tempfile::tempdir().unwrap();
    let dep = |name: &str| {
        format!("[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n")
    };
    write(d.path(), "alpha/Cargo.toml", &dep("alpha"));
    write(d.path(), "alpha/src/lib.rs", ALPHA);
    write(d.path(), "beta/Cargo.toml", &dep("beta"));
    write(d.path(), "beta/src/lib.rs", BETA);
    write(
        d.path(),
        "Cargo.toml",
        "[package]\nname = \"sizes-app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\nalpha = { path = \"alpha\" }\nbeta = { path = \"beta\" }\n",
    );
    write(d.path(), "src/lib.rs", APP);
    let o = linkmatrix(d.path())
        .env("LINKMATRIX_BUNDLE", "embedded")
        .args(["init", "--target", "x86"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let cfg = d.path().join("linkmatrix.yaml");
    let text = std::fs::read_to_string(&cfg).unwrap().replace(
        "options: {}",
        "options:\n  debuginfo:\n    type: choice\n    values: [full, none]\n    when: {none: {rustflags: [-Cdebuginfo=0]}}",
    );
    std::fs::write(&cfg, text).unwrap();
    let (code, r, err) = check_json(d.path(), &[]);
    assert_eq!(code, 0, "{err}\n{r:#}");
    let cells = d.path().join("target/linkmatrix/linkmatrix/cells");
    let known = ["sizes_app", "alpha", "beta", "core", "compiler_builtins"];
    let mut hashed_units = 0;
    for c in r["cells"].as_array().unwrap() {
        let id = c["id"].as_str().unwrap();
        let dir = cells.join(id);
        let image = dir.join("image.elf");
        hashed_units += file_symbols(&image).iter().filter(|f| hash_like(f)).count();
        for k in c["size"]["crates"].as_array().unwrap() {
            let name = k["name"].as_str().unwrap();
            assert!(
                name.starts_with('[') || known.contains(&name),
                "{id}: `{name}` is no crate of the build: {:#}",
                c["size"]["crates"]
            );
        }
        // The report's size, measured again with every symbol (what
        // `diff` does), and by `inspect --size` given the staticlib.
        let lib = dir.join("libsizes_app.a").display().to_string();
        let script = dir.join("link.ld").display().to_string();
        let img = image.display().to_string();
        let mut args = vec!["inspect", "--size", "--top", "1000", "--format", "json"];
        args.extend(["--memory", &script, "--input", &lib, &img]);
        let o = run(d.path(), &args);
        assert!(o.status.success(), "{}", stderr(&o));
        let s: Value = serde_json::from_slice(&o.stdout).unwrap();
        let s = &s[0]["size"];
        assert_eq!(s["crates"], c["size"]["crates"], "{id}");
        let krate = |name: &str| {
            s["symbols"]
                .as_array()
                .unwrap()
                .iter()
                .find(|x| x["name"] == name)
                .unwrap_or_else(|| panic!("{id}: no symbol {name}: {s:#}"))["crate"]
                .clone()
        };
        assert_eq!(krate("app_entry"), "sizes_app", "{id}");
        assert_eq!(krate("alpha::TABLE"), "alpha", "{id}");
        assert_eq!(krate("beta::BUFFER"), "beta", "{id}");
        // The image alone, without debug info, cannot say whose the
        // unmangled function is: unknown, never a guess.
        if c["options"]["debuginfo"] == "none" {
            let o = run(
                d.path(),
                &[
                    "inspect", "--size", "--top", "1000", "--format", "json", &img,
                ],
            );
            let alone: Value = serde_json::from_slice(&o.stdout).unwrap();
            let entry = alone[0]["size"]["symbols"]
                .as_array()
                .unwrap()
                .iter()
                .find(|x| x["name"] == "app_entry")
                .unwrap()
                .clone();
            assert_eq!(entry["crate"], "[unknown]", "{id}");
        }
    }
    // The dev cells were built incrementally: the case is exercised.
    assert!(hashed_units > 0, "no hashed codegen unit in any image");
}

/// The cost of `smp` and `mmu` per arch on the repository's matrix is the
/// median over the pairs of cells a person picks by hand: same arch, the
/// option flipped, the rest as the rules make it.
#[test]
fn an_options_cost_on_kalloc_is_the_median_of_its_pairs() {
    let (code, report, err) = check_json(&repo(), &[]);
    assert_eq!(code, 0, "{err}");
    let flash: BTreeMap<&str, i64> = report["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let f = c["size"]["flash"].as_i64();
            (
                c["id"].as_str().unwrap(),
                f.unwrap_or_else(|| panic!("{c:#}")),
            )
        })
        .collect();
    let o = run(&repo(), &["footprint", "--format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let f: Value = serde_json::from_slice(&o.stdout).unwrap();
    let cost = |option: &str, arch: &str| -> &Value {
        f["options"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["option"] == option && o["arch"] == arch && o["value"] == true)
            .unwrap_or_else(|| panic!("no {option} on {arch}: {f:#}"))
    };
    for arch in ["arm", "x86"] {
        // smp on: up → smp, with mmu and without.
        let d1 =
            flash[&*format!("{arch}-smp-mmu-release")] - flash[&*format!("{arch}-up-mmu-release")];
        let d2 = flash[&*format!("{arch}-smp-nommu-release")]
            - flash[&*format!("{arch}-up-nommu-release")];
        let c = cost("smp", arch);
        assert_eq!(c["pairs"], 2);
        // The median of two is their mean (a half is exact in JSON).
        let twice = |c: &Value| (c["flash"]["median"].as_f64().unwrap() * 2.0) as i64;
        assert_eq!(twice(c), d1 + d2);
        assert_eq!(c["flash"]["min"].as_i64().unwrap(), d1.min(d2));
        assert_eq!(c["flash"]["max"].as_i64().unwrap(), d1.max(d2));
        // mmu on: the rules turn percpu-km off with it.
        let c = cost("mmu", arch);
        let m1 =
            flash[&*format!("{arch}-up-mmu-release")] - flash[&*format!("{arch}-up-nommu-release")];
        let m2 = flash[&*format!("{arch}-smp-mmu-release")]
            - flash[&*format!("{arch}-smp-nommu-release")];
        assert_eq!(twice(c), m1 + m2);
        assert!(
            c["follow"]
                .as_array()
                .unwrap()
                .iter()
                .any(|v| v == "percpu-km"),
            "{c:#}"
        );
        assert_eq!(c["crates"][0]["name"], "kalloc", "{c:#}");
    }
    // percpu-km never changes alone: no figure is made up for it.
    let unpaired = f["unpaired"].as_array().unwrap();
    assert!(unpaired.iter().any(|v| v == "percpu-km@arm"), "{f:#}");
    // The table says the same.
    let o = run(&repo(), &["footprint"]);
    let text = stdout(&o);
    assert!(text.contains("OPTION") && text.contains("smp"), "{text}");
}

/// The finding of `kind` in a cell of a report.
fn finding<'a>(c: &'a Value, kind: &str) -> &'a Value {
    c["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind}: {c:#}"))
}

/// A budget below a cell's flash fails it and one at its flash passes,
/// decided again from the cached cell; a cell that grew against a
/// baseline made from a smaller build fails with `size-growth`, the same
/// when `merge` gates the report alone; a baseline written then accepts
/// it. One cell of a copy of the repository's matrix: one cold build and
/// one after an edit (about 20 s).
#[test]
fn budgets_and_growth_against_a_baseline_from_a_smaller_build() {
    let d = project_copy();
    let cfg = d.path().join("linkmatrix.yaml");
    let matrix = std::fs::read_to_string(&cfg).unwrap();
    let policy = |size: &str| {
        let text = matrix.replace("policy:\n", &format!("policy:\n  size:\n{size}"));
        std::fs::write(&cfg, text).unwrap();
    };
    let id = "x86-up-mmu-release";
    let path = |name: &str| d.path().join(name).display().to_string();
    let (bl, bl2, rj) = (path("small.json"), path("grown.json"), path("r.json"));
    let (code, r, err) = check_json(d.path(), &["--cell", id, "--write-baseline", &bl]);
    assert_eq!(code, 0, "{err}");
    let flash = u(&cell(&r, id)["size"]["flash"]);
    let saved: Value = serde_json::from_slice(&std::fs::read(&bl).unwrap()).unwrap();
    assert_eq!(u(&saved["sizes"][id]["flash"]), flash, "{saved:#}");

    // A budget one byte below: size-budget, with its numbers; the cell is
    // not built again for it.
    policy(&format!("    max: {{flash: {}}}\n", flash - 1));
    let (code, r, err) = check_json(d.path(), &["--cell", id]);
    assert_eq!(code, 1, "{err}");
    let c = cell(&r, id);
    assert_eq!(c["cached"], true);
    let f = finding(c, "size-budget");
    assert_eq!(u(&f["size"]["bytes"]), flash);
    assert_eq!(u(&f["size"]["limit"]), flash - 1);
    assert_eq!(f["size"]["measure"], "flash");
    // At the size: a pass.
    policy(&format!("    max: {{flash: {flash}}}\n"));
    let (code, _, err) = check_json(d.path(), &["--cell", id]);
    assert_eq!(code, 0, "{err}");

    // The crate grows by a 4 KiB table behind a new exported function.
    let capi = d.path().join("fixtures/kalloc/src/capi.rs");
    let mut src = std::fs::read_to_string(&capi).unwrap();
    src.push_str(
        "\n/// A build tag (the footprint test's growth).\n#[no_mangle]\npub extern \"C\" fn kalloc_build_tag(i: usize) -> u8 {\n    static TAG: [u8; 4096] = {\n        let mut t = [0u8; 4096];\n        let mut k = 0;\n        while k < 4096 {\n            t[k] = (k * 7 + 3) as u8;\n            k += 1;\n        }\n        t\n    };\n    TAG[i % 4096]\n}\n",
    );
    std::fs::write(&capi, src).unwrap();
    policy("    max-growth: 1%\n");
    let (code, r, err) = check_json(d.path(), &["--cell", id, "--baseline", &bl]);
    assert_eq!(code, 1, "{err}");
    let c = cell(&r, id);
    let grown = u(&c["size"]["flash"]);
    assert!(grown >= flash + 4096, "{grown} vs {flash}");
    let f = finding(c, "size-growth");
    assert_eq!(
        (u(&f["size"]["bytes"]), u(&f["size"]["baseline"])),
        (grown, flash)
    );
    assert_eq!(u(&c["size"]["before"]["flash"]), flash);
    // The summary shows the change.
    let o = linkmatrix(d.path())
        .args(["check", "--no-provision", "--cell", id, "--baseline", &bl])
        .output()
        .unwrap();
    let text = stdout(&o);
    let want = format!("(+{})", grouped(grown - flash));
    assert!(text.contains(&want), "{want} in:\n{text}");

    // `merge` gates a report written without the baseline the same way.
    let (code, _, err) = check_json(d.path(), &["--cell", id, "--report", &format!("json={rj}")]);
    assert_eq!(code, 0, "{err}");
    let o = run(
        d.path(),
        &["merge", &rj, "--baseline", &bl, "--format", "json"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let merged: Value = serde_json::from_slice(&o.stdout).unwrap();
    finding(cell(&merged, id), "size-growth");

    // A baseline written now accepts the growth.
    let (code, _, err) = check_json(
        d.path(),
        &["--cell", id, "--baseline", &bl, "--write-baseline", &bl2],
    );
    assert_eq!(code, 1, "{err}");
    let (code, r, err) = check_json(d.path(), &["--cell", id, "--baseline", &bl2]);
    assert_eq!(code, 0, "{err}\n{r:#}");
}

/// `1234567` as `1,234,567`.
fn grouped(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// `diff` says how the size changes from one cell to the other: by
/// region, section and crate, and the symbols that differ (ARM UP with an
/// MMU does not define the local TLB flush SMP defines).
#[test]
fn diff_shows_the_size_change_by_region_section_crate_and_symbol() {
    let o = run(
        &repo(),
        &[
            "diff",
            "--config",
            "configs/percpu-2021.yaml",
            "arm-smp-mmu-release",
            "arm-up-mmu-release",
        ],
    );
    let text = stdout(&o);
    assert!(o.status.success(), "{}\n{text}", stderr(&o));
    for want in [
        "size, from arm-smp-mmu-release to arm-up-mmu-release:",
        "  flash ",
        "  region RAM: ",
        "  section .text: ",
        "  crate kalloc: flash -",
        "  symbols that changed most:",
        "local_flush_tlb_kernel_range (gone)",
    ] {
        assert!(text.contains(want), "{want:?} in:\n{text}");
    }
}

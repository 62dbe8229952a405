//! Footprint on real images: section sizes agree with GNU `size -A` on
//! every cell's image, bytes are attributed to the crates whose functions
//! and statics they are, and an option's cost is the median of the pairs a
//! person picks by hand.
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::check::check_json;
use crate::util::{linkmatrix, repo, run, stderr, stdout, write};

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
        let s = measured(&dir.join("image.elf"), Some(&dir.join("link.ld")));
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

/// The cost of `smp` and `mmu` per arch on the repository's matrix is the
/// median over the pairs of cells a person picks by hand: same arch, the
/// option flipped, the rest as the rules make it.
#[test]
fn an_options_cost_on_kalloc_is_the_median_of_its_pairs() {
    let o = run(&repo(), &["footprint", "--format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let f: Value = serde_json::from_slice(&o.stdout).unwrap();
    let flash: BTreeMap<&str, i64> = f["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["id"].as_str().unwrap(), c["flash"].as_i64().unwrap()))
        .collect();
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

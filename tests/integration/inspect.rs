//! `inspect` against `nm -u`.
use std::collections::BTreeSet;

use serde_json::Value;

use crate::util::{linkmatrix, repo, stderr};

/// Undefined symbols of an archive per `nm`: U/w/v in any member, minus
/// what any member defines globally.
fn nm_undefined(path: &std::path::Path) -> BTreeSet<String> {
    let o = std::process::Command::new("nm")
        .arg(path)
        .output()
        .expect("nm (binutils) is installed");
    assert!(o.status.success());
    let mut undef = BTreeSet::new();
    let mut defined = BTreeSet::new();
    for line in String::from_utf8_lossy(&o.stdout).lines() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        let (kind, name) = match parts.as_slice() {
            [k, n] | [_, k, n] => (*k, *n),
            _ => continue,
        };
        match kind {
            "U" | "w" | "v" => {
                undef.insert(name.to_owned());
            }
            k if k.chars().all(|c| c.is_ascii_uppercase()) => {
                defined.insert(name.to_owned());
            }
            _ => {}
        }
    }
    undef.difference(&defined).cloned().collect()
}

#[test]
fn inspect_agrees_with_nm_on_an_archive_built_by_check() {
    let o = linkmatrix(&repo())
        .args([
            "check",
            "--no-provision",
            "--no-cache",
            "--cell",
            "x86-smp-mmu-release",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // The cell's own copy of the staticlib it linked.
    let lib = repo().join("target/linkmatrix/linkmatrix/cells/x86-smp-mmu-release/libkalloc.a");
    let o = linkmatrix(&repo())
        .args(["inspect", "--format", "json"])
        .arg(&lib)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let ours: BTreeSet<String> = v[0]["undefined"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["symbol"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ours, nm_undefined(&lib));
    // --symbols-only reads the symbol tables alone and finds the same set.
    let o = linkmatrix(&repo())
        .args(["inspect", "--symbols-only", "--format", "json"])
        .arg(&lib)
        .output()
        .unwrap();
    let quick: Value = serde_json::from_slice(&o.stdout).unwrap();
    let quick: BTreeSet<String> = quick[0]["undefined"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["symbol"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(quick, ours);
    // …and adds the functions: the platform hooks are referenced from kalloc.
    let flush = v[0]["undefined"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["symbol"] == "flush_tlb_kernel_range")
        .unwrap();
    assert!(
        flush["referenced_by"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["function"].as_str().unwrap().starts_with("kalloc::"))
    );
}

#[test]
fn inspect_refuses_bad_input_with_the_file_name() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("trunc.o");
    std::fs::write(&p, b"\x7fELF\x02\x01\x01\x00\x00\x00").unwrap();
    let o = linkmatrix(&repo()).arg("inspect").arg(&p).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("trunc.o"), "{}", stderr(&o));
    let p = d.path().join("empty.a");
    std::fs::write(&p, b"").unwrap();
    let o = linkmatrix(&repo()).arg("inspect").arg(&p).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("empty.a"));
}

/// The independent second reader: on objects clang makes for eleven
/// architectures (32/64-bit, little and big endian), archives of them, and
/// this machine's own archives and shared objects, linkmatrix's undefined
/// symbols are exactly goblin's.
#[test]
fn inspect_agrees_with_goblin_across_architectures_and_real_files() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("u.c");
    std::fs::write(
        &src,
        "extern int ext_fn(int);\nextern int ext_data;\n__attribute__((weak)) extern int weak_fn(void);\nstatic int helper(int x) { return ext_fn(x) + ext_data; }\nint api(int x) { return helper(x) + (weak_fn ? weak_fn() : 0); }\nint shared_def(void) { return 1; }\n",
    )
    .unwrap();
    let src2 = d.path().join("v.c");
    std::fs::write(&src2, "extern int shared_def(void);\nextern void other_ext(void);\nint user(void) { other_ext(); return shared_def(); }\n").unwrap();
    let targets = [
        "x86_64-linux-gnu",
        "i686-linux-gnu",
        "aarch64-linux-gnu",
        "armv7a-none-eabi",
        "thumbv7em-none-eabi",
        "riscv64-unknown-elf",
        "riscv32-unknown-elf",
        "powerpc64-linux-gnu",
        "powerpc-linux-gnu",
        "s390x-linux-gnu",
        "mips-linux-gnu",
    ];
    let mut files = Vec::new();
    for t in targets {
        let mut objs = Vec::new();
        for (i, s) in [&src, &src2].iter().enumerate() {
            let obj = d.path().join(format!("{t}-{i}.o"));
            let o = std::process::Command::new("clang")
                .args([
                    &format!("--target={t}"),
                    "-ffreestanding",
                    "-O1",
                    "-g",
                    "-c",
                ])
                .arg(s)
                .arg("-o")
                .arg(&obj)
                .output()
                .expect("clang (scripts/test.sh installs it)");
            assert!(
                o.status.success(),
                "{t}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            objs.push(obj);
        }
        let ar = d.path().join(format!("lib{t}.a"));
        let o = std::process::Command::new("ar")
            .arg("rc")
            .arg(&ar)
            .args(&objs)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        files.extend(objs);
        files.push(ar);
    }
    // This machine's own: a few archives and shared objects.
    for dir in ["/usr/lib/x86_64-linux-gnu", "/usr/lib"] {
        let Ok(rd) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut found: Vec<_> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.is_file()
                    && p.extension().is_some_and(|x| x == "a" || x == "so")
                    && std::fs::metadata(p).is_ok_and(|m| m.len() < 8 << 20)
            })
            .collect();
        found.sort();
        files.extend(found.into_iter().take(12));
    }
    let mut compared = 0;
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        if !bytes.starts_with(b"\x7fELF") && !bytes.starts_with(b"!<arch>\n") {
            continue; // linker scripts named .so
        }
        let o = linkmatrix(&repo())
            .args(["inspect", "--symbols-only", "--format", "json"])
            .arg(f)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}: {}", f.display(), stderr(&o));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        let ours: BTreeSet<String> = v[0]["undefined"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["symbol"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            ours,
            crate::oracle::goblin_undefined(&bytes).expect("goblin reads it"),
            "{}",
            f.display()
        );
        compared += 1;
    }
    assert!(compared >= 33, "only {compared} files compared");
}

/// A PIE is `ET_DYN` like a shared object, and was read like one: a PIE
/// linked with `--emit-relocs` got no referencing functions. The tables
/// now follow what the file has; a stripped executable lists its dynamic
/// imports, labelled.
#[test]
fn a_pie_with_relocations_is_attributed_and_a_stripped_one_lists_its_imports() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("pie.c");
    std::fs::write(&src, "extern int ext_fn(int);\n__attribute__((noinline)) int helper(int x) { return ext_fn(x); }\nvoid _start(void) { helper(1); for (;;); }\n").unwrap();
    let pie = d.path().join("pie.elf");
    let o = std::process::Command::new("clang")
        .args([
            "--target=x86_64-linux-gnu",
            "-fPIE",
            "-pie",
            "-nostdlib",
            "-fuse-ld=lld",
            "-O1",
        ])
        .args(["-Wl,--emit-relocs", "-Wl,--unresolved-symbols=ignore-all"])
        .arg(&src)
        .arg("-o")
        .arg(&pie)
        .output()
        .expect("clang and lld (scripts/test.sh installs them)");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = linkmatrix(&repo())
        .args(["inspect", "--format", "json"])
        .arg(&pie)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let u = &v[0]["undefined"][0];
    assert_eq!(u["symbol"], "ext_fn", "{v:#}");
    assert!(u.get("dynamic").is_none(), "{v:#}");
    assert_eq!(u["referenced_by"][0]["function"], "helper", "{v:#}");

    let stripped = d.path().join("stripped.elf");
    let o = std::process::Command::new("strip")
        .arg(&pie)
        .arg("-o")
        .arg(&stripped)
        .output()
        .expect("strip (binutils)");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = linkmatrix(&repo())
        .args(["inspect", "--format", "json"])
        .arg(&stripped)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["undefined"][0]["symbol"], "ext_fn", "{v:#}");
    assert_eq!(v[0]["undefined"][0]["dynamic"], true, "{v:#}");
}

/// Compressed debug sections (`SHF_COMPRESSED`, zlib or zstd) once gave no
/// file:line; they are decompressed and give the same answer as plain ones.
#[test]
fn compressed_debug_sections_still_give_file_and_line() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("dbg.c");
    std::fs::write(&src, "extern int ext_fn(int);\n__attribute__((noinline)) int helper(int x) {\n    return ext_fn(x);\n}\nvoid _start(void) { helper(1); for (;;); }\n").unwrap();
    let plain = d.path().join("plain.elf");
    let o = std::process::Command::new("clang")
        .args([
            "--target=x86_64-linux-gnu",
            "-g",
            "-fPIE",
            "-pie",
            "-nostdlib",
            "-fuse-ld=lld",
            "-O1",
        ])
        .args(["-Wl,--emit-relocs", "-Wl,--unresolved-symbols=ignore-all"])
        .arg(&src)
        .arg("-o")
        .arg(&plain)
        .output()
        .expect("clang and lld (scripts/test.sh installs them)");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for z in ["none", "zlib", "zstd"] {
        let f = d.path().join(format!("{z}.elf"));
        let o = std::process::Command::new("objcopy")
            .arg(format!("--compress-debug-sections={z}"))
            .arg(&plain)
            .arg(&f)
            .output()
            .expect("objcopy (binutils)");
        assert!(
            o.status.success(),
            "{z}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let o = linkmatrix(&repo())
            .args(["inspect", "--format", "json"])
            .arg(&f)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        let r = &v[0]["undefined"][0]["referenced_by"][0];
        assert_eq!(r["function"], "helper", "{z}: {v:#}");
        assert!(
            r["file"].as_str().is_some_and(|f| f.ends_with("dbg.c")),
            "{z}: {v:#}"
        );
        assert_eq!(r["line"], 3, "{z}: {v:#}");
    }
}

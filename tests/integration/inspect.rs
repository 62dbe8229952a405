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
            "--cell",
            "x86-smp-mmu-release",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lib = repo().join("target/linkmatrix/linkmatrix/cells/x86-smp-mmu-release/target/x86_64-unknown-none/release/libkalloc.a");
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

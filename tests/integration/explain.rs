//! `explain` on logs made by the real linkers (fixtures/logs/README.md).
use std::io::Write;
use std::process::Stdio;

use serde_json::Value;

use crate::util::{linkmatrix, repo};

fn explain(log: &str) -> Value {
    let o = linkmatrix(&repo())
        .args([
            "explain",
            "--format",
            "json",
            &format!("fixtures/logs/{log}"),
        ])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "findings exit 1: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

/// (symbol, function, file, line) of each finding's first reference.
fn firsts(v: &Value) -> Vec<(String, String, String, u64)> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let r = &f["referenced_by"][0];
            (
                f["symbol"].as_str().unwrap().to_owned(),
                r["function"].as_str().unwrap_or("").to_owned(),
                r["file"].as_str().unwrap_or("").to_owned(),
                r["line"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

fn has(v: &Value, symbol: &str, function: &str, file: &str, line: u64) {
    let all = firsts(v);
    assert!(
        all.iter().any(|(s, f, fi, l)| s == symbol
            && f.contains(function)
            && fi.ends_with(file)
            && *l == line),
        "no ({symbol}, {function}, {file}, {line}) in {all:#?}"
    );
}

#[test]
fn gnu_ld_bfd_with_and_without_debug_info() {
    for log in ["bfd.log", "arm-bfd.log"] {
        let v = explain(log);
        has(
            &v,
            "flush_tlb_kernel_range",
            "pcpu_post_unmap_tlb_flush",
            "main.c",
            3,
        );
        has(&v, "missing_counter", "helper", "main.c", 4);
        assert_eq!(v["findings"].as_array().unwrap().len(), 2, "{log}");
    }
    let v = explain("bfd-nodebug.log");
    has(
        &v,
        "flush_tlb_kernel_range",
        "pcpu_post_unmap_tlb_flush",
        "main.c",
        0,
    );
}

#[test]
fn gold_lld_mold_and_colours() {
    let v = explain("gold.log");
    has(&v, "flush_tlb_kernel_range", "", "/tmp/logs/main.c", 3);
    let v = explain("gold-nodebug.log");
    has(&v, "missing_counter", "helper", "main.c", 0);
    for log in ["lld.log", "lld-color.log"] {
        let v = explain(log);
        has(
            &v,
            "flush_tlb_kernel_range",
            "pcpu_post_unmap_tlb_flush",
            "/tmp/logs/main.c",
            3,
        );
        has(&v, "missing_counter", "helper", "/tmp/logs/main.c", 4);
        assert_eq!(
            v["findings"][1]["referenced_by"].as_array().unwrap().len(),
            1,
            "duplicate references merge"
        );
    }
    let v = explain("mold.log");
    has(&v, "missing_counter", "helper", "main.c", 0);
    has(
        &v,
        "flush_tlb_kernel_range",
        "pcpu_post_unmap_tlb_flush",
        "main.c",
        0,
    );
}

#[test]
fn rustc_wrapper_demangles_without_the_hash() {
    let v = explain("rustc.log");
    has(
        &v,
        "flush_tlb_kernel_range",
        "r::percpu::pcpu_post_unmap_tlb_flush",
        "r.rs",
        2,
    );
    let f = v["findings"][0]["referenced_by"][0]["function"]
        .as_str()
        .unwrap();
    assert_eq!(f, "r::percpu::pcpu_post_unmap_tlb_flush");
}

#[test]
fn ld64_msvc_and_modpost() {
    let v = explain("ld64.log");
    has(
        &v,
        "flush_tlb_kernel_range",
        "pcpu_post_unmap_tlb_flush",
        "",
        0,
    );
    let refs = v["findings"][0]["referenced_by"].as_array().unwrap();
    assert_eq!(refs.len(), 2);
    assert_eq!(v["findings"][1]["referenced_by"][0]["function"], "main");
    let v = explain("msvc.log");
    has(
        &v,
        "flush_tlb_kernel_range",
        "pcpu_post_unmap_tlb_flush",
        "",
        0,
    );
    has(&v, "missing_counter", "", "", 0);
    has(&v, "?kalloc_init@@YAXXZ", "main", "", 0);
    for log in ["modpost.log", "modpost-old.log"] {
        let v = explain(log);
        assert_eq!(v["findings"].as_array().unwrap().len(), 1);
        assert_eq!(v["findings"][0]["symbol"], "v7wbi_flush_kern_tlb_range");
        assert_eq!(
            v["findings"][0]["referenced_by"][0]["object"],
            "drivers/staging/zsmalloc/zsmalloc.ko"
        );
    }
    let v = explain("percpu-2021.log");
    has(
        &v,
        "flush_tlb_kernel_range",
        "pcpu_post_unmap_tlb_flush",
        "mm/percpu-vm.c",
        188,
    );
}

#[test]
fn binary_garbage_and_a_clean_log_find_nothing() {
    let mut child = linkmatrix(&repo())
        .args(["explain", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let garbage: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    child.stdin.take().unwrap().write_all(&garbage).unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).contains("no undefined symbols"));
}

#[test]
fn a_huge_log_with_huge_lines_streams_in_bounded_memory() {
    // 256 MB through stdin: make noise, a 10 MB line, CRLF, one finding.
    let mut child = linkmatrix(&repo())
        .args(["explain", "--format", "json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let noise =
            "make[3]: Entering directory '/src/very/long/path/to/some/subsystem'\r\n".repeat(1000);
        stdin.write_all(&vec![b'y'; 10 << 20]).unwrap();
        stdin.write_all(b"\n").unwrap();
        let mut sent = 0;
        while sent < 256 << 20 {
            stdin.write_all(noise.as_bytes()).unwrap();
            sent += noise.len();
        }
        stdin.write_all(b"ld.lld: error: undefined symbol: late_symbol\r\n>>> referenced by x.c:9\r\n>>>               x.o:(late_fn)\r\n").unwrap();
        stdin // still open: the reader is alive and waiting
    });
    let stdin = writer.join().unwrap();
    // The peak resident size so far, read while the process waits for more.
    std::thread::sleep(std::time::Duration::from_millis(200));
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    let peak_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    drop(stdin);
    let o = child.wait_with_output().unwrap();
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["findings"][0]["symbol"], "late_symbol");
    assert_eq!(v["findings"][0]["referenced_by"][0]["function"], "late_fn");
    assert!(peak_kb < 64 * 1024, "peak RSS {} MB", peak_kb / 1024);
}

/// `>>> referenced by` lines once bypassed the per-symbol cap (a hostile
/// log grew memory without bound), and a C++ function named by lld lost
/// its own closing parenthesis (`run(std::string const&` ).
#[test]
fn references_are_capped_and_cpp_names_keep_their_parentheses() {
    let mut log = String::from("ld.lld: error: undefined symbol: helper(std::string const&)\n");
    log.push_str(">>> referenced by main.cpp:3 (/tmp/main.cpp:3)\n>>>               main.o:(run(std::__1::basic_string<char> const&))\n");
    log.push_str(">>> referenced by lib.cpp:9 (/tmp/lib.cpp:9)\n>>>               lib.o:(go(int)) in archive libx.a\n");
    for i in 0..5000 {
        log.push_str(&format!(">>> referenced by f{i}.c:{i} (/tmp/f{i}.c:{i})\n"));
    }
    let mut child = linkmatrix(&repo())
        .args(["explain", "--format", "json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(log.as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let refs = v["findings"][0]["referenced_by"].as_array().unwrap();
    assert!(refs.len() <= 1000, "{} references kept", refs.len());
    assert_eq!(
        refs[0]["function"],
        "run(std::__1::basic_string<char> const&)"
    );
    assert_eq!(refs[1]["function"], "go(int)");
    assert_eq!(refs[1]["object"], "libx.a(lib.o)");
}

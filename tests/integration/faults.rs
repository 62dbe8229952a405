//! Faults in the programs linkmatrix runs (robustness items 9-12, README "Robustness"), injected
//! with fake compilers and linkers declared in a test target file.
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::{linkmatrix, stderr, write};

/// A crate, a target file whose C compiler or linker is `fake`, a matrix.
fn faulty_project(cc: &str, linker: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "Cargo.toml",
        "[package]\nname = \"f\"\nversion = \"0.1.0\"\nedition = \"2021\"\n[features]\nx = []\n",
    );
    write(
        d.path(),
        "src/lib.rs",
        "#![no_std]\n#[no_mangle]\npub extern \"C\" fn f_entry() -> u32 { 7 }\n#[cfg(target_os = \"none\")]\n#[panic_handler]\nfn p(_: &core::panic::PanicInfo<'_>) -> ! { loop {} }\n",
    );
    write(d.path(), "plat.c", "int plat(void) { return 1; }\n");
    write(
        d.path(),
        "targets/fake.yaml",
        &format!(
            "triple: armv7a-none-eabi\ncc: {{compiler: [{cc}], flags: [-ffreestanding]}}\nlinker: {{program: [{linker}]}}\nplatform: {{sources: [../plat.c]}}\n"
        ),
    );
    write(
        d.path(),
        "linkmatrix.yaml",
        "crate: .\ntargets: [fake]\noptions:\n  x: {feature: x}\naxes:\n  x: [false, true]\n",
    );
    d
}

fn script(dir: &Path, name: &str, body: &str) {
    let p = write(dir, name, &format!("#!/bin/sh\n{body}\n"));
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Still running 30 s from now? (SIGKILL is delivered asynchronously: a
/// killed process may take a moment to die, longer on a busy machine. A
/// zombie waiting for a reaper that is not us does not count.)
fn survives(pid: i32) -> bool {
    let until = Instant::now() + Duration::from_secs(30);
    while pid_alive(pid) {
        if Instant::now() > until {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

fn pid_alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(") ")
                .map(|(_, rest)| !rest.starts_with('Z') && !rest.starts_with('X'))
        })
        .unwrap_or(false)
}

#[test]
fn robustness_09_missing_compiler_is_an_error_cell_with_the_fix() {
    let d = faulty_project("no-such-compiler-7", "ld.lld");
    let o = linkmatrix(d.path())
        .args(["check", "--no-provision", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    for c in r["cells"].as_array().unwrap() {
        assert_eq!(c["status"], "error");
        // The fix names the program and where the target file names it
        // (no package provides `no-such-compiler-7`, so none is offered).
        let e = c["error"].as_str().unwrap();
        assert!(
            e.contains("none of no-such-compiler-7 on PATH (targets/fake.yaml:2:")
                && !e.contains("apt-get install"),
            "{c}"
        );
    }
}

#[test]
fn robustness_10_a_linker_killed_by_sigsegv_is_named() {
    let d = faulty_project("clang", "./segv-ld");
    script(d.path(), "segv-ld", "kill -SEGV $$");
    let o = linkmatrix(d.path())
        .args(["check", "--no-provision", "--format", "json"])
        .output()
        .unwrap();
    let r: Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&o)));
    assert_eq!(o.status.code(), Some(2), "{r:#}");
    for c in r["cells"].as_array().unwrap() {
        assert_eq!(c["status"], "error", "{c:#}");
        assert!(c["error"].as_str().unwrap().contains("SIGSEGV"), "{c:#}");
    }
}

#[test]
fn robustness_11_a_hanging_compiler_is_killed_by_the_cell_timeout() {
    let d = faulty_project("./hang-cc", "ld.lld");
    script(
        d.path(),
        "hang-cc",
        "echo $$ >> \"$(dirname \"$0\")/pids\"; sleep 300 & echo $! >> \"$(dirname \"$0\")/pids\"; wait",
    );
    let start = Instant::now();
    let o = linkmatrix(d.path())
        .args([
            "check",
            "--no-provision",
            "--format",
            "json",
            "--timeout",
            "4",
        ])
        .output()
        .unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "took {:?}",
        start.elapsed()
    );
    let r: Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&o)));
    assert_eq!(o.status.code(), Some(2));
    for c in r["cells"].as_array().unwrap() {
        assert_eq!(c["status"], "error");
        assert!(c["error"].as_str().unwrap().contains("timed out"), "{c:#}");
    }
    let pids = std::fs::read_to_string(d.path().join("pids")).unwrap();
    for pid in pids.lines().filter_map(|p| p.trim().parse::<i32>().ok()) {
        assert!(!survives(pid), "process {pid} of a timed-out cell survived");
    }
}

#[test]
fn robustness_12_ctrl_c_ends_every_child_and_writes_no_report() {
    let d = faulty_project("./hang-cc", "ld.lld");
    script(
        d.path(),
        "hang-cc",
        "echo $$ >> \"$(dirname \"$0\")/pids\"; sleep 300 & echo $! >> \"$(dirname \"$0\")/pids\"; wait",
    );
    let report = d.path().join("report.json");
    let mut child = linkmatrix(d.path())
        .args(["check", "--no-provision", "--jobs", "2", "--report"])
        .arg(format!("json={}", report.display()))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the hanging compiler runs (first asked by the cc crate,
    // for the target's compile line, while the other cell waits for that
    // answer).
    let start = Instant::now();
    while std::fs::read_to_string(d.path().join("pids")).map_or(0, |s| s.lines().count()) < 2 {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "cells never reached the compiler"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let sent = Instant::now();
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        // A hang guard, not a speed check (a busy machine is slow).
        assert!(
            sent.elapsed() < Duration::from_secs(60),
            "not stopped within 60 s of Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(130));
    assert!(!report.exists(), "a report was written after Ctrl-C");
    let pids = std::fs::read_to_string(d.path().join("pids")).unwrap();
    for pid in pids.lines().filter_map(|p| p.trim().parse::<i32>().ok()) {
        assert!(!survives(pid), "process {pid} survived Ctrl-C");
    }
    let out = child.wait_with_output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("interrupted"));
}

/// A failed link once counted as explained when its log said "undefined"
/// anywhere. Now every symbol the linker names must be a finding or
/// allowed: a linker that also names `ghost_symbol`, which inspection
/// cannot account for, makes a `link-error` with the linker's words.
#[test]
fn a_failed_link_naming_an_unaccounted_symbol_is_a_link_error() {
    let run = |linker: &str, body: &str| -> Value {
        let d = faulty_project("clang", linker);
        write(
            d.path(),
            "src/lib.rs",
            "#![no_std]\nextern \"C\" { fn board_led_on(m: u32); }\n#[no_mangle]\npub extern \"C\" fn f_entry() -> u32 { unsafe { board_led_on(1) }; 7 }\n#[cfg(target_os = \"none\")]\n#[panic_handler]\nfn p(_: &core::panic::PanicInfo<'_>) -> ! { loop {} }\n",
        );
        write(
            d.path(),
            "linkmatrix.yaml",
            "crate: .\ntargets: [fake]\npolicy:\n  allow-undefined: [board_led_*]\n",
        );
        script(d.path(), linker.trim_start_matches("./"), body);
        let o = linkmatrix(d.path())
            .args(["check", "--no-provision", "--format", "json"])
            .output()
            .unwrap();
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&o)))
    };
    // The real linker fails on `board_led_on` only, which the policy allows.
    let r = run("./plain-ld", "exec ld.lld \"$@\"");
    assert_eq!(r["cells"][0]["status"], "pass", "{r:#}");
    // The same, but the linker also names a symbol nothing accounts for.
    let r = run(
        "./ghost-ld",
        "ld.lld \"$@\"; rc=$?\ncase \" $* \" in *unresolved-symbols=ignore-all*) exit $rc;; esac\necho 'ld.lld: error: undefined symbol: ghost_symbol' >&2\necho '>>> referenced by the linker script' >&2\nexit 1",
    );
    let c = &r["cells"][0];
    assert_eq!(c["status"], "fail", "{r:#}");
    let f = c["findings"].as_array().unwrap();
    assert!(
        f.iter().any(|f| f["kind"] == "link-error"
            && f["message"].as_str().unwrap().contains("ghost_symbol")),
        "{c:#}"
    );
}

/// A compiler that exits but leaves a background child holding its output
/// pipe once made the cell wait for that child, past `--timeout` (95 s for
/// a 5 s timeout). Now a compile ends when the compiler does; the cc
/// crate's detection run (which cc makes itself, in a child linkmatrix)
/// is bounded at 30 s; no child is left either way. A hang guard far
/// above the child's lifetime, not a time bound.
#[test]
fn a_compiler_leaving_a_background_child_does_not_hold_the_cell() {
    let d = faulty_project("./bg-cc", "ld.lld");
    script(
        d.path(),
        "bg-cc",
        "sleep 600 & echo $! >> \"$(dirname \"$0\")/pids\"; exit 0",
    );
    let o = crate::util::output_within(
        linkmatrix(d.path()).args([
            "check",
            "--no-provision",
            "--format",
            "json",
            "--timeout",
            "300",
        ]),
        Duration::from_secs(240),
        "the cells waited for the compiler's background child",
    );
    let r: Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&o)));
    // The compiler "succeeded" without an object: not a pass.
    for c in r["cells"].as_array().unwrap() {
        assert_ne!(c["status"], "pass", "{c:#}");
    }
    let pids = std::fs::read_to_string(d.path().join("pids")).unwrap();
    for pid in pids.lines().filter_map(|p| p.trim().parse::<i32>().ok()) {
        assert!(!survives(pid), "background process {pid} survived");
    }
}

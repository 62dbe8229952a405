//! The command line itself: help, completions, the cargo subcommand form.
use crate::util::{repo, run, stdout};

#[test]
fn every_subcommand_has_help() {
    for sub in [
        "plan",
        "check",
        "init",
        "doctor",
        "setup",
        "inspect",
        "completions",
    ] {
        let o = run(&repo(), &[sub, "--help"]);
        assert!(o.status.success(), "{sub} --help failed");
        assert!(stdout(&o).contains("Usage: linkmatrix"), "{sub}");
    }
    let o = run(&repo(), &["check", "--help"]);
    for flag in [
        "--jobs",
        "--cell",
        "--report",
        "--no-cache",
        "--no-provision",
        "--format",
        "--timeout",
    ] {
        assert!(stdout(&o).contains(flag), "check --help lacks {flag}");
    }
}

#[test]
fn completions_are_generated() {
    let o = run(&repo(), &["completions", "bash"]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("linkmatrix"));
}

#[test]
fn the_word_cargo_passes_is_accepted() {
    // `cargo linkmatrix plan` runs `cargo-linkmatrix linkmatrix plan`.
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_cargo-linkmatrix"))
        .current_dir(repo())
        .args(["linkmatrix", "plan", "--format", "json"])
        .output()
        .unwrap();
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["cells"].as_array().unwrap().len(), 8);
}

#[test]
fn bad_usage_exits_2() {
    let o = run(&repo(), &["plan", "--format", "yaml"]);
    assert_eq!(o.status.code(), Some(2));
}

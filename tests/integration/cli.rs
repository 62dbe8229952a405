//! The command line itself: help, completions, the cargo subcommand form.
use crate::util::{repo, run, stdout};

/// Every subcommand a user can run.
const SUBCOMMANDS: [&str; 13] = [
    "plan",
    "check",
    "init",
    "doctor",
    "setup",
    "inspect",
    "explain",
    "why",
    "diff",
    "minimize",
    "footprint",
    "merge",
    "completions",
];

#[test]
fn every_subcommand_has_help() {
    for sub in SUBCOMMANDS {
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

#[test]
fn doctor_names_the_toolchain_for_arm_and_x86() {
    let o = run(&repo(), &["doctor"]);
    let out = stdout(&o);
    assert!(
        o.status.success(),
        "not buildable here (run `linkmatrix setup`):\n{out}"
    );
    assert!(out.contains("arm (armv7a-none-eabi): buildable"), "{out}");
    assert!(
        out.contains("x86 (x86_64-unknown-none): buildable"),
        "{out}"
    );
    assert!(
        out.contains("std:") && out.contains("rustc 1."),
        "names the toolchain:\n{out}"
    );
    assert!(out.contains("linker:") && out.contains("cc:"), "{out}");
}

#[test]
fn setup_says_what_it_would_run() {
    let o = run(&repo(), &["setup", "--dry-run", "--target", "arm"]);
    assert!(o.status.success());
    let out = stdout(&o);
    assert!(
        out.contains("nothing to install") || out.contains("+ "),
        "{out}"
    );
}

#[test]
fn help_snapshots() {
    // Every subcommand's --help is part of the interface: a change to it
    // shows up here (regenerate with INSTA_UPDATE=always).
    for sub in std::iter::once("").chain(SUBCOMMANDS) {
        let args: Vec<&str> = if sub.is_empty() {
            vec!["--help"]
        } else {
            vec![sub, "--help"]
        };
        let o = run(&repo(), &args);
        assert!(o.status.success(), "{sub}");
        let name = if sub.is_empty() {
            "help".to_owned()
        } else {
            format!("help_{sub}")
        };
        insta::assert_snapshot!(name, stdout(&o));
    }
}

/// Report and matrix files were created 0600 whatever the umask (a temp
/// file's mode survived the rename): they follow the umask like any file.
#[test]
fn written_files_follow_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    for (umask, mode) in [("022", 0o644), ("077", 0o600)] {
        let d = crate::util::project();
        let o = std::process::Command::new("sh")
            .args(["-c", &format!("umask {umask} && exec \"$0\" \"$@\"")])
            .arg(env!("CARGO_BIN_EXE_linkmatrix"))
            .args(["init", "--target", "x86"])
            .current_dir(d.path())
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let m = std::fs::metadata(d.path().join("linkmatrix.yaml")).unwrap();
        assert_eq!(m.permissions().mode() & 0o777, mode, "umask {umask}");
    }
}

/// `init --target` once wrote any name into the matrix; an unknown one is
/// now refused with the bundled names and the closest one, and nothing is
/// written.
#[test]
fn init_refuses_an_unknown_target() {
    let d = crate::util::project();
    let o = crate::util::run(d.path(), &["init", "--target", "x68"]);
    let e = crate::util::stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(e.contains("x68") && e.contains("did you mean `x86`"), "{e}");
    assert!(!d.path().join("linkmatrix.yaml").exists());
}

/// Outside any project, `doctor` with named targets uses the bundled ones
/// (without names it asks for a matrix).
#[test]
fn doctor_with_named_targets_needs_no_matrix() {
    let d = tempfile::tempdir().unwrap();
    let o = crate::util::run(d.path(), &["doctor", "--target", "x86"]);
    let out = crate::util::stdout(&o);
    assert!(
        out.contains("x86 (x86_64-unknown-none)"),
        "{out}{}",
        crate::util::stderr(&o)
    );
    let o = crate::util::run(d.path(), &["doctor"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(crate::util::stderr(&o).contains("linkmatrix init"));
}

/// A target file naming a C compiler that does not exist: `doctor` once
/// said to apt-install clang (installed) and `setup` that nothing was
/// missing. Now both name the program and the place in the target file,
/// and neither offers a package that would not provide it. A target with
/// no platform sources needs no C compiler at all.
#[test]
fn doctor_and_setup_name_a_missing_program_and_where_it_is_named() {
    let d = tempfile::tempdir().unwrap();
    crate::util::write(
        d.path(),
        "Cargo.toml",
        "[package]\nname = \"t\"\nversion = \"0.1.0\"\n",
    );
    crate::util::write(d.path(), "start.S", ".globl _start\n_start:\n");
    crate::util::write(
        d.path(),
        "targets/odd.yaml",
        "triple: armv7a-none-eabi\ncc:\n  compiler: [clang-99]\nlinker:\n  program: [rust-lld, ld.lld]\n  entry: _start\nplatform:\n  sources: [../start.S]\n",
    );
    crate::util::write(
        d.path(),
        "targets/bare.yaml",
        "triple: armv7a-none-eabi\ncc:\n  compiler: [clang-99]\nlinker:\n  program: [rust-lld, ld.lld]\n  entry: main\n",
    );
    crate::util::write(
        d.path(),
        "linkmatrix.yaml",
        "crate: .\ntargets: [odd, bare]\n",
    );
    let o = run(d.path(), &["doctor"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("none of clang-99 on PATH (targets/odd.yaml:3:14)"),
        "{out}"
    );
    assert!(!out.contains("apt-get install -y clang "), "{out}");
    let bare = out.split("bare (").nth(1).unwrap_or_default();
    assert!(bare.contains("cc:      not needed"), "{out}");
    let o = run(d.path(), &["setup", "--dry-run", "--target", "odd"]);
    let out = stdout(&o);
    assert!(!out.contains("nothing to install"), "{out}");
    assert!(
        !out.contains("install -y --no-install-recommends clang-99"),
        "{out}"
    );
}

/// `init` without `--target` once wrote the kalloc fixture's `arm` and `x86`
/// (its kernel-like platform). Now it takes the crate's own
/// `.cargo/config.toml` `build.target`, else generic bare-metal triples,
/// and the matrix it writes runs as is.
#[test]
fn init_picks_targets_from_cargo_config_else_bare_triples() {
    let d = tempfile::tempdir().unwrap();
    crate::util::write(
        d.path(),
        "Cargo.toml",
        "[package]\nname = \"plain\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    );
    crate::util::write(
        d.path(),
        "src/lib.rs",
        "#![no_std]\nextern \"C\" {\n    fn board_tick() -> u32;\n}\n#[no_mangle]\npub extern \"C\" fn plain_poll() -> u32 {\n    unsafe { board_tick() }\n}\n#[cfg(target_os = \"none\")]\n#[panic_handler]\nfn panic(_: &core::panic::PanicInfo<'_>) -> ! {\n    loop {}\n}\n",
    );
    let o = run(d.path(), &["init"]);
    assert!(o.status.success(), "{}", crate::util::stderr(&o));
    let yaml = std::fs::read_to_string(d.path().join("linkmatrix.yaml")).unwrap();
    assert!(
        yaml.contains("targets: [armv7a-none-eabi, x86_64-unknown-none]"),
        "{yaml}"
    );
    let o = crate::util::linkmatrix(d.path())
        .args(["check", "--no-provision", "--format", "json"])
        .output()
        .unwrap();
    let r: serde_json::Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", crate::util::stderr(&o)));
    assert_eq!(o.status.code(), Some(1), "{r:#}");
    for c in r["cells"].as_array().unwrap() {
        assert_eq!(c["findings"][0]["symbol"], "board_tick", "{c:#}");
    }

    crate::util::write(
        d.path(),
        ".cargo/config.toml",
        "[build]\ntarget = \"thumbv7em-none-eabihf\"\n",
    );
    let o = run(d.path(), &["init", "--force"]);
    assert!(o.status.success(), "{}", crate::util::stderr(&o));
    let yaml = std::fs::read_to_string(d.path().join("linkmatrix.yaml")).unwrap();
    assert!(yaml.contains("targets: [thumbv7em-none-eabihf]"), "{yaml}");
    assert!(yaml.contains("# Targets: build.target of"), "{yaml}");
}

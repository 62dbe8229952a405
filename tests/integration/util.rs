//! Helpers: run the binary with a clean environment, make projects.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The binary with the build environment of `cargo test` removed.
pub fn linkmatrix(cwd: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_linkmatrix"));
    c.current_dir(cwd)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CLICOLOR_FORCE")
        .env("NO_COLOR", "1");
    c
}

pub fn run(cwd: &Path, args: &[&str]) -> Output {
    linkmatrix(cwd).args(args).output().unwrap()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&p, text).unwrap();
    p
}

/// A project with a tiny crate, for config tests.
pub fn project() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir(d.path().join(".git")).unwrap();
    write(
        d.path(),
        "Cargo.toml",
        "[package]\nname = \"tiny\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[features]\nfast = []\nsmall = []\n",
    );
    write(d.path(), "src/lib.rs", "#![no_std]\n");
    d
}

/// Copy a directory tree.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let name = e.file_name();
        if name == "target" {
            continue;
        }
        let (src, dst) = (e.path(), to.join(&name));
        if e.file_type().unwrap().is_dir() {
            copy_tree(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

/// Assert an error is one screen: at most `lines` lines.
pub fn one_screen(text: &str, lines: usize) {
    assert!(
        text.lines().count() <= lines,
        "more than {lines} lines:\n{text}"
    );
}

/// A copy of the repository's matrix, targets and fixtures in a temporary
/// project, so that a test may edit them.
pub fn project_copy() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir(d.path().join(".git")).unwrap();
    for sub in [
        "targets",
        "templates",
        "configs",
        "fixtures/platform",
        "fixtures/kalloc/src",
    ] {
        copy_tree(&repo().join(sub), &d.path().join(sub));
    }
    std::fs::copy(
        repo().join("linkmatrix.yaml"),
        d.path().join("linkmatrix.yaml"),
    )
    .unwrap();
    std::fs::copy(
        repo().join("fixtures/kalloc/Cargo.toml"),
        d.path().join("fixtures/kalloc/Cargo.toml"),
    )
    .unwrap();
    std::fs::copy(
        repo().join("Cargo.lock"),
        d.path().join("fixtures/kalloc/Cargo.lock"),
    )
    .unwrap();
    d
}

/// Run `cmd` with its output captured, killing it and failing with `hung`
/// if it outlives `guard` — a hang guard for cases that used to hang, far
/// above the time they take, not a speed bound.
pub fn output_within(cmd: &mut Command, guard: std::time::Duration, hung: &str) -> Output {
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + guard;
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("{hung}");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

/// A JSON array of strings (a finding's `chain`), as `&str`s.
pub fn strs(v: &serde_json::Value) -> Vec<&str> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|x| x.as_str().unwrap_or_else(|| panic!("not a string: {x}")))
        .collect()
}

//! Hosted targets: Linux triples with the GNU C library (`*-linux-gnu*`)
//! whose prebuilt `std` is installed here — a rustup target, or Debian's
//! host std under /usr/lib/rustlib — work by name, with a target file made
//! from the bundled template `templates/hosted-linux-gnu.yaml`; and the
//! linker flavour rustc links a triple with (its target spec), which
//! linkmatrix's own link arguments in `bin` mode follow.
//!
//! It must not build or link anything; finding a std is looking at files
//! (no rustc runs), so a matrix loads as fast as before.
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::Rust;
use crate::model::LinkerFlavor;
use crate::process::{Cmd, which};

/// The sysroots a prebuilt std may be in, looked up without running
/// rustc: the one beside `rustc` on PATH (unless that is rustup's proxy),
/// every rustup toolchain, and Debian's `/usr`.
fn sysroots() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(rustc) = which("rustc")
        && let Ok(real) = std::fs::canonicalize(&rustc)
        && let Some(root) = real.parent().and_then(Path::parent)
    {
        out.push(root.to_path_buf());
    }
    out.extend(rustup_toolchains());
    out.push(PathBuf::from("/usr"));
    out.dedup();
    out
}

/// Every rustup toolchain's directory (`$RUSTUP_HOME/toolchains/*`,
/// `~/.rustup` by default), sorted.
pub(super) fn rustup_toolchains() -> Vec<PathBuf> {
    let home = std::env::var_os("RUSTUP_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".rustup")));
    let Some(home) = home else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(home.join("toolchains"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect();
    dirs.sort();
    dirs
}

/// A hosted triple linkmatrix knows how to link: Linux with the GNU C
/// library (`x86_64-unknown-linux-gnu`, `armv7-unknown-linux-gnueabihf`).
pub(crate) fn is_linux_gnu(triple: &str) -> bool {
    let parts: Vec<&str> = triple.split('-').collect();
    parts.len() >= 3
        && parts[parts.len() - 2] == "linux"
        && parts[parts.len() - 1].starts_with("gnu")
}

/// The sysroot holding a prebuilt std for `triple`, if one is installed.
pub(crate) fn prebuilt_std(triple: &str) -> Option<PathBuf> {
    sysroots()
        .into_iter()
        .find(|s| super::has_prebuilt_rlib(s, triple, "std"))
}

/// The GNU triple a Debian cross compiler for `triple` is named by
/// (`aarch64-unknown-linux-gnu` → `aarch64-linux-gnu`,
/// `armv7-unknown-linux-gnueabihf` → `arm-linux-gnueabihf`).
fn gnu_triple(triple: &str) -> String {
    let mut parts = triple.split('-');
    let arch = parts.next().unwrap_or_default();
    let rest: Vec<&str> = parts.filter(|p| *p != "unknown").collect();
    let arch = if arch.starts_with("arm") || arch.starts_with("thumb") {
        "arm"
    } else if arch.starts_with("riscv64") {
        "riscv64"
    } else if matches!(arch, "i586" | "i686") {
        "i686"
    } else {
        arch
    };
    format!("{arch}-{}", rest.join("-"))
}

/// Whether `triple` is this machine's own (the C compiler on PATH makes
/// its programs).
fn is_host(triple: &str) -> bool {
    triple.split('-').next() == Some(std::env::consts::ARCH) && cfg!(target_os = "linux")
}

/// The target file of hosted `triple` (std in `sysroot`) from the bundled
/// template text: the C compiler driver links it (`cc` for this machine's
/// triple, the Debian cross compiler `<gnu triple>-gcc` for another).
pub(crate) fn target_text(template: &str, triple: &str, sysroot: &Path) -> String {
    let gnu = gnu_triple(triple);
    let (compilers, apt) = if is_host(triple) {
        ("cc, gcc, clang".to_owned(), "gcc, libc6-dev".to_owned())
    } else {
        (format!("{gnu}-gcc"), format!("gcc-{gnu}"))
    };
    template
        .replace("{{triple}}", triple)
        .replace("{{std}}", &sysroot.display().to_string())
        .replace("{{compilers}}", &compilers)
        .replace("{{apt}}", &apt)
}

/// The linker rustc links `triple` with when the crate names none, and
/// its flavour: the target spec's `linker` (`cc` when it names none) and
/// `linker-flavor` (`gnu-cc`, `gnu-lld-cc`: a C driver; `gnu-lld`: the
/// linker), read with `--print target-spec-json` (unstable:
/// `RUSTC_BOOTSTRAP=1` for this one query, as cargo-miri does). `None`
/// when rustc would not say.
pub(crate) fn spec_linker(
    rust: &Rust,
    triple: &str,
    sysroot: Option<&Path>,
    timeout: Option<Duration>,
) -> Option<(LinkerFlavor, String)> {
    let mut cmd = Cmd::new(&rust.rustc)
        .env("RUSTC_BOOTSTRAP", "1")
        .args(["-Z", "unstable-options", "--print", "target-spec-json"])
        .args(["--target", triple])
        .timeout(timeout);
    if let Some(s) = sysroot {
        cmd = cmd.arg("--sysroot").arg(s);
    }
    let out = cmd.run().ok()?;
    let spec: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    let flavor = spec
        .get("linker-flavor")
        .and_then(serde_json::Value::as_str)
        .map(LinkerFlavor::of_rustc)?;
    let linker = spec
        .get("linker")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("cc");
    Some((flavor, linker.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linux_gnu_triples_and_their_cross_compilers() {
        assert!(is_linux_gnu("x86_64-unknown-linux-gnu"));
        assert!(is_linux_gnu("armv7-unknown-linux-gnueabihf"));
        assert!(!is_linux_gnu("x86_64-unknown-linux-musl"));
        assert!(!is_linux_gnu("thumbv7em-none-eabihf"));
        assert_eq!(gnu_triple("aarch64-unknown-linux-gnu"), "aarch64-linux-gnu");
        assert_eq!(
            gnu_triple("armv7-unknown-linux-gnueabihf"),
            "arm-linux-gnueabihf"
        );
        assert_eq!(
            gnu_triple("riscv64gc-unknown-linux-gnu"),
            "riscv64-linux-gnu"
        );
        assert_eq!(gnu_triple("i686-unknown-linux-gnu"), "i686-linux-gnu");
    }

    #[test]
    fn rustc_flavours() {
        assert_eq!(LinkerFlavor::of_rustc("gnu-lld-cc"), LinkerFlavor::Cc);
        assert_eq!(LinkerFlavor::of_rustc("gcc"), LinkerFlavor::Cc);
        assert_eq!(LinkerFlavor::of_rustc("gnu-lld"), LinkerFlavor::Ld);
        assert_eq!(
            LinkerFlavor::of_program("arm-none-eabi-gcc"),
            Some(LinkerFlavor::Cc)
        );
        assert_eq!(LinkerFlavor::of_program("gcc-12"), Some(LinkerFlavor::Cc));
        assert_eq!(
            LinkerFlavor::of_program("/usr/bin/ld.lld"),
            Some(LinkerFlavor::Ld)
        );
        assert_eq!(LinkerFlavor::of_program("rust-lld"), Some(LinkerFlavor::Ld));
        assert_eq!(LinkerFlavor::of_program("flip-link"), None);
        assert_eq!(
            LinkerFlavor::Cc.own(&["--emit-relocs", "-z", "x=1"]),
            ["-Wl,--emit-relocs", "-Wl,-z,x=1"]
        );
    }
}

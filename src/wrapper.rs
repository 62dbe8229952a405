//! linkmatrix as cargo's `RUSTC_WRAPPER`: how a cell's build gets the
//! sysroot (and linkmatrix's own rustc flags) without overriding the
//! crate's `.cargo/config.toml` rustflags, as cargo-miri and cargo-careful
//! do. `CARGO_ENCODED_RUSTFLAGS` would replace every `build.rustflags` and
//! `target.<triple>.rustflags` the crate configures (`-Tlink.x`,
//! `--cfg`s), so firmware would be built and linked with other flags than
//! its own.
//!
//! cargo runs `linkmatrix <rustc> <args>` with [`MARK`] set. A compilation
//! for the target (its args have `--target`; build scripts and proc macros
//! have none) gets `--sysroot`, the linker when the toolchain has no
//! `rust-lld`, and the extra flags; everything else runs unchanged. The
//! wrapper then `exec`s rustc: it replaces itself, so it starts no child of
//! its own and the process group `process` kills is unchanged.
//!
//! What the wrapper adds is not in cargo's fingerprints: the build
//! directory a cell uses is keyed by everything that goes in here.
use std::ffi::{OsStr, OsString};
use std::io::Write as _;
use std::process::ExitCode;

use crate::process::Cmd;

/// Set (to `1`) when linkmatrix runs as the wrapper.
pub(crate) const MARK: &str = "LINKMATRIX_RUSTC_WRAPPER";
/// `--sysroot` for target compilations.
const SYSROOT: &str = "LINKMATRIX_WRAP_SYSROOT";
/// `-C linker=` for target compilations that set none.
const LINKER: &str = "LINKMATRIX_WRAP_LINKER";
/// Extra rustc flags for target compilations, `\x1f`-separated.
const FLAGS: &str = "LINKMATRIX_WRAP_FLAGS";

/// What the wrapper adds to target compilations.
#[derive(Clone, Debug, Default)]
pub(crate) struct Injection {
    /// The sysroot (build-std providers).
    pub(crate) sysroot: Option<std::path::PathBuf>,
    /// The linker for a toolchain without `rust-lld`.
    pub(crate) linker: Option<std::path::PathBuf>,
    /// rustc flags.
    pub(crate) flags: Vec<String>,
}

impl Injection {
    /// `cmd` (a cargo command) with linkmatrix as its rustc wrapper.
    pub(crate) fn apply(&self, cmd: Cmd) -> Cmd {
        let exe = std::env::current_exe().unwrap_or_else(|_| "linkmatrix".into());
        let mut cmd = cmd
            .env("RUSTC_WRAPPER", exe)
            .env(MARK, "1")
            .env(FLAGS, self.flags.join("\x1f"));
        if let Some(s) = &self.sysroot {
            cmd = cmd.env(SYSROOT, s);
        }
        if let Some(l) = &self.linker {
            cmd = cmd.env(LINKER, l);
        }
        cmd
    }
}

/// True when this process was started by cargo as the wrapper.
pub(crate) fn is_wrapper(args: &[OsString]) -> bool {
    // cargo passes rustc's path first; `linkmatrix check` typed in a shell
    // that happens to have the mark set stays a command.
    std::env::var_os(MARK).is_some_and(|v| v == "1")
        && args.get(1).is_some_and(|rustc| {
            let p = std::path::Path::new(rustc);
            p.is_file()
                || p.file_name()
                    .is_some_and(|n| n.to_string_lossy().contains("rustc"))
        })
}

/// rustc's arguments with what the wrapper adds for a target compilation.
fn wrapped(
    args: &[OsString],
    sysroot: Option<&OsStr>,
    linker: Option<&OsStr>,
    flags: &str,
) -> Vec<OsString> {
    let is = |a: &OsString, name: &str| {
        let a = a.to_string_lossy();
        a == name || a.starts_with(&format!("{name}="))
    };
    if !args.iter().any(|a| is(a, "--target")) {
        return args.to_vec();
    }
    let mut out = args.to_vec();
    if let Some(s) = sysroot
        && !args.iter().any(|a| is(a, "--sysroot"))
    {
        out.push("--sysroot".into());
        out.push(s.to_owned());
    }
    if let Some(l) = linker
        && codegen_opt(args, "linker").is_none()
    {
        let mut arg = OsString::from("-Clinker=");
        arg.push(l);
        out.push(arg);
    }
    out.extend(
        flags
            .split('\x1f')
            .filter(|f| !f.is_empty())
            .map(OsString::from),
    );
    if c_driver(&out) {
        for a in &mut out {
            let s = a.to_string_lossy();
            if let Some(x) = s.strip_prefix("-Clink-arg=")
                && crate::build::LINK_ARGS.contains(&x)
            {
                *a = format!("-Clink-arg=-Wl,{x}").into();
            }
        }
    }
    out
}

/// The last `-C NAME=value` (or `-CNAME=value`) in rustc's arguments.
fn codegen_opt(args: &[OsString], name: &str) -> Option<String> {
    let mut found = None;
    let mut prev_c = false;
    for a in args {
        let s = a.to_string_lossy();
        let opt = if prev_c {
            &*s
        } else {
            s.strip_prefix("-C").unwrap_or_default()
        };
        if let Some(v) = opt
            .strip_prefix(name)
            .and_then(|rest| rest.strip_prefix('='))
        {
            found = Some(v.to_owned());
        }
        prev_c = s == "-C";
    }
    found
}

/// Whether the link is run by a C compiler driver (`arm-none-eabi-gcc`,
/// `clang`, `cc`), which takes linker options as `-Wl,…`: the last
/// `-C linker=` says, unless a `-C linker-flavor` names an ld flavor.
fn c_driver(args: &[OsString]) -> bool {
    if let Some(f) = codegen_opt(args, "linker-flavor") {
        return f == "gcc" || f.starts_with("gnu-cc");
    }
    let Some(l) = codegen_opt(args, "linker") else {
        return false;
    };
    let stem = std::path::Path::new(&l)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    stem.ends_with("gcc")
        || stem.ends_with("g++")
        || stem.ends_with("clang")
        || stem.ends_with("clang++")
        || stem == "cc"
        || stem.ends_with("-cc")
}

/// Run as the wrapper: `args` is `[linkmatrix, rustc, rustc args…]`.
pub(crate) fn run(args: &[OsString]) -> ExitCode {
    use std::os::unix::process::CommandExt;
    let sysroot = std::env::var_os(SYSROOT);
    let linker = std::env::var_os(LINKER);
    let flags = std::env::var(FLAGS).unwrap_or_default();
    let rest = wrapped(&args[2..], sysroot.as_deref(), linker.as_deref(), &flags);
    let err = std::process::Command::new(&args[1])
        .args(rest)
        .env_remove(MARK)
        .exec();
    // exec returns only when it failed.
    let _ = writeln!(
        anstream::stderr(),
        "error: linkmatrix (as rustc wrapper) could not run {}: {err}",
        args[1].to_string_lossy()
    );
    ExitCode::from(crate::commands::EXIT_TOOL)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strs(v: &[OsString]) -> Vec<String> {
        v.iter().map(|a| a.to_string_lossy().into_owned()).collect()
    }

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn host_compilations_run_unchanged() {
        let args = os(&["--crate-name", "build_script_build", "build.rs"]);
        let out = wrapped(
            &args,
            Some("/s".as_ref()),
            Some("/ld".as_ref()),
            "-Cdebuginfo=2",
        );
        assert_eq!(out, args);
    }

    #[test]
    fn target_compilations_get_the_sysroot_linker_and_flags() {
        let args = os(&["--crate-name", "app", "--target", "thumbv7em-none-eabihf"]);
        let out = wrapped(
            &args,
            Some("/s".as_ref()),
            Some("/usr/bin/ld.lld".as_ref()),
            "-Cdebuginfo=2\x1f--cfg\x1fx",
        );
        assert_eq!(
            strs(&out)[4..],
            [
                "--sysroot",
                "/s",
                "-Clinker=/usr/bin/ld.lld",
                "-Cdebuginfo=2",
                "--cfg",
                "x"
            ]
        );
    }

    #[test]
    fn the_crates_own_linker_and_sysroot_win() {
        let args = os(&[
            "--target=thumbv6m-none-eabi",
            "-C",
            "linker=flip-link",
            "--sysroot=/mine",
        ]);
        let out = wrapped(&args, Some("/s".as_ref()), Some("/ld".as_ref()), "");
        assert_eq!(out, args);
    }

    #[test]
    fn a_c_driver_gets_linkmatrixs_link_args_as_wl() {
        let args = os(&[
            "--target",
            "thumbv7em-none-eabihf",
            "-C",
            "linker=arm-none-eabi-gcc",
            "-Clink-arg=--emit-relocs",
            "-Clink-arg=-Tlink.x",
        ]);
        let out = strs(&wrapped(&args, None, None, ""));
        assert_eq!(
            out[4..],
            ["-Clink-arg=-Wl,--emit-relocs", "-Clink-arg=-Tlink.x"]
        );
        let lld = os(&[
            "--target=x",
            "-Clinker=flip-link",
            "-Clink-arg=--emit-relocs",
        ]);
        assert_eq!(wrapped(&lld, None, None, ""), lld);
    }
}

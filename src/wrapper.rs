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

use crate::model::LinkerFlavor;
use crate::process::Cmd;

/// Set (to `1`) when linkmatrix runs as the wrapper.
pub(crate) const MARK: &str = "LINKMATRIX_RUSTC_WRAPPER";
/// `--sysroot` for target compilations.
const SYSROOT: &str = "LINKMATRIX_WRAP_SYSROOT";
/// `-C linker=` for target compilations that set none.
const LINKER: &str = "LINKMATRIX_WRAP_LINKER";
/// Extra rustc flags for target compilations, `\x1f`-separated.
const FLAGS: &str = "LINKMATRIX_WRAP_FLAGS";
/// `cc` when rustc's default linker for the target is a C compiler
/// driver (its target spec's flavour), `ld` when it is the linker.
const FLAVOR: &str = "LINKMATRIX_WRAP_FLAVOR";

/// What the wrapper adds to target compilations.
#[derive(Clone, Debug, Default)]
pub(crate) struct Injection {
    /// The sysroot (build-std providers).
    pub(crate) sysroot: Option<std::path::PathBuf>,
    /// The linker for a toolchain without `rust-lld`.
    pub(crate) linker: Option<std::path::PathBuf>,
    /// The flavour of rustc's default linker for the target.
    pub(crate) flavor: Option<LinkerFlavor>,
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
        if let Some(f) = self.flavor {
            cmd = cmd.env(FLAVOR, flavor_word(f));
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

fn flavor_word(f: LinkerFlavor) -> &'static str {
    match f {
        LinkerFlavor::Cc => "cc",
        LinkerFlavor::Ld => "ld",
    }
}

/// What the wrapper is given for a target compilation.
#[derive(Default)]
struct Given<'a> {
    sysroot: Option<&'a OsStr>,
    linker: Option<&'a OsStr>,
    /// rustc's default linker's flavour for the target.
    flavor: Option<LinkerFlavor>,
    flags: &'a str,
}

/// rustc's arguments with what the wrapper adds for a target compilation.
fn wrapped(args: &[OsString], given: &Given<'_>) -> Vec<OsString> {
    let Given {
        sysroot,
        linker,
        flavor,
        flags,
    } = *given;
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
    if c_driver(&out, flavor) {
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
/// `clang`, `cc`), which takes linker options as `-Wl,…`, as rustc
/// decides it: a `-C linker-flavor`, else what the `-C linker=` program's
/// name says, else the target's default (`spec`: its spec's flavour; `cc`
/// on x86_64-unknown-linux-gnu, `gnu-lld` on bare-metal ARM).
fn c_driver(args: &[OsString], spec: Option<LinkerFlavor>) -> bool {
    if let Some(f) = codegen_opt(args, "linker-flavor") {
        return LinkerFlavor::of_rustc(&f) == LinkerFlavor::Cc;
    }
    let named = codegen_opt(args, "linker").and_then(|l| LinkerFlavor::of_program(&l));
    named.or(spec) == Some(LinkerFlavor::Cc)
}

/// Run as the wrapper: `args` is `[linkmatrix, rustc, rustc args…]`.
pub(crate) fn run(args: &[OsString]) -> ExitCode {
    use std::os::unix::process::CommandExt;
    let sysroot = std::env::var_os(SYSROOT);
    let linker = std::env::var_os(LINKER);
    let flags = std::env::var(FLAGS).unwrap_or_default();
    let flavor = match std::env::var(FLAVOR).as_deref() {
        Ok("cc") => Some(LinkerFlavor::Cc),
        Ok("ld") => Some(LinkerFlavor::Ld),
        _ => None,
    };
    let given = Given {
        sysroot: sysroot.as_deref(),
        linker: linker.as_deref(),
        flavor,
        flags: &flags,
    };
    let rest = wrapped(&args[2..], &given);
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
        let given = Given {
            sysroot: Some("/s".as_ref()),
            linker: Some("/ld".as_ref()),
            flags: "-Cdebuginfo=2",
            ..Given::default()
        };
        assert_eq!(wrapped(&args, &given), args);
    }

    #[test]
    fn target_compilations_get_the_sysroot_linker_and_flags() {
        let args = os(&["--crate-name", "app", "--target", "thumbv7em-none-eabihf"]);
        let given = Given {
            sysroot: Some("/s".as_ref()),
            linker: Some("/usr/bin/ld.lld".as_ref()),
            flags: "-Cdebuginfo=2\x1f--cfg\x1fx",
            ..Given::default()
        };
        let out = wrapped(&args, &given);
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
        let given = Given {
            sysroot: Some("/s".as_ref()),
            linker: Some("/ld".as_ref()),
            ..Given::default()
        };
        assert_eq!(wrapped(&args, &given), args);
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
        let out = strs(&wrapped(&args, &Given::default()));
        assert_eq!(
            out[4..],
            ["-Clink-arg=-Wl,--emit-relocs", "-Clink-arg=-Tlink.x"]
        );
        let lld = os(&[
            "--target=x",
            "-Clinker=flip-link",
            "-Clink-arg=--emit-relocs",
        ]);
        assert_eq!(wrapped(&lld, &Given::default()), lld);
    }

    /// x86_64-unknown-linux-gnu links with `cc` when the crate names no
    /// linker (its spec's flavour): linkmatrix's arguments are `-Wl,…`
    /// there, and stay as they are for a bare-metal target's `rust-lld`
    /// or a named `flip-link` on it.
    #[test]
    fn the_targets_default_linker_decides_without_a_named_one() {
        let hosted = os(&[
            "--target",
            "x86_64-unknown-linux-gnu",
            "-Clink-arg=--emit-relocs",
        ]);
        let cc = Given {
            flavor: Some(LinkerFlavor::Cc),
            ..Given::default()
        };
        assert_eq!(
            strs(&wrapped(&hosted, &cc))[2..],
            ["-Clink-arg=-Wl,--emit-relocs"]
        );
        let ld = Given {
            flavor: Some(LinkerFlavor::Ld),
            ..Given::default()
        };
        assert_eq!(wrapped(&hosted, &ld), hosted);
        let flip = os(&[
            "--target=x",
            "-Clinker=flip-link",
            "-Clink-arg=--emit-relocs",
        ]);
        assert_eq!(wrapped(&flip, &ld), flip);
        assert_eq!(
            strs(&wrapped(&flip, &cc))[2..],
            ["-Clink-arg=-Wl,--emit-relocs"]
        );
    }
}

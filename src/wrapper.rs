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
//! have none) gets the built `core`/`alloc` as a library directory
//! (`-L all=<sysroot>/lib/rustlib/<target>/lib`: rustc finds the crates
//! there as in a sysroot, and sccache, which refuses to cache a
//! compilation with `--sysroot`, caches it), the linker when the toolchain
//! has no `rust-lld`, and the extra flags; everything else runs unchanged.
//! The sysroot's path names its toolchain, so a cached compilation is never
//! one against another `core`. The wrapper then `exec`s rustc (or the
//! user's wrapper): it replaces itself, so it starts no child of its own
//! and the process group `process` kills is unchanged.
//!
//! What the wrapper adds is not in cargo's fingerprints: the build
//! directory a cell uses is keyed by everything that goes in here.
//!
//! The user's own wrapper (sccache, the usual compiler cache in Rust CI;
//! any program cargo would run as `RUSTC_WRAPPER`) is kept: linkmatrix's
//! wrapper runs it with rustc and the arguments, for every compilation, as
//! cargo would have. Flags the environment sets for every build
//! (`RUSTFLAGS` and its kin) are refused, never dropped: see
//! [`check_environment`].
//!
//! This module decides what reaches rustc; it does not build or run cells.
use std::ffi::{OsStr, OsString};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Result, bail};

use crate::model::LinkerFlavor;
use crate::process::Cmd;

/// Set (to `1`) when linkmatrix runs as the wrapper.
pub(crate) const MARK: &str = "LINKMATRIX_RUSTC_WRAPPER";
/// The sysroot whose target libraries target compilations get.
const SYSROOT: &str = "LINKMATRIX_WRAP_SYSROOT";
/// `-C linker=` for target compilations that set none.
const LINKER: &str = "LINKMATRIX_WRAP_LINKER";
/// Extra rustc flags for target compilations, `\x1f`-separated.
const FLAGS: &str = "LINKMATRIX_WRAP_FLAGS";
/// `cc` when rustc's default linker for the target is a C compiler
/// driver (its target spec's flavour), `ld` when it is the linker.
const FLAVOR: &str = "LINKMATRIX_WRAP_FLAVOR";
/// The linker rustc runs for the target when none is named (its spec's).
const DEFAULT_LINKER: &str = "LINKMATRIX_WRAP_DEFAULT_LINKER";
/// The user's own rustc wrapper, run with rustc and its arguments.
const CHAIN: &str = "LINKMATRIX_WRAP_CHAIN";

/// Environment variables that set rustc flags for every cargo build.
/// linkmatrix refuses them ([`check_environment`]).
pub(crate) const ENV_RUSTFLAGS: &[&str] = &[
    "RUSTFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "CARGO_BUILD_RUSTFLAGS",
];

/// What every bin-mode link gets (`build`'s bin mode passes them as `-C
/// link-arg=`); the wrapper puts `-Wl,` before them for a C compiler
/// driver.
pub(crate) const LINK_ARGS: &[&str] = &[
    "--emit-relocs",
    "-zdead-reloc-in-nonalloc=.debug_*=0xffffffffffffffff",
    "-zdead-reloc-in-nonalloc=.debug_ranges=1",
    "-zdead-reloc-in-nonalloc=.debug_loc=1",
    "--noinhibit-exec",
    "--unresolved-symbols=ignore-all",
];

/// What the wrapper adds to target compilations.
#[derive(Clone, Debug, Default)]
pub(crate) struct Injection {
    /// The sysroot (build-std providers).
    pub(crate) sysroot: Option<std::path::PathBuf>,
    /// The linker for a toolchain without `rust-lld`.
    pub(crate) linker: Option<std::path::PathBuf>,
    /// The flavour of rustc's default linker for the target.
    pub(crate) flavor: Option<LinkerFlavor>,
    /// rustc's default linker for the target (its spec's `linker`).
    pub(crate) default_linker: Option<String>,
    /// rustc flags.
    pub(crate) flags: Vec<String>,
    /// The user's rustc wrapper ([`user_wrapper`]), run with rustc.
    pub(crate) chain: Option<PathBuf>,
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
        if let Some(l) = &self.default_linker {
            cmd = cmd.env(DEFAULT_LINKER, l);
        }
        if let Some(w) = &self.chain {
            cmd = cmd.env(CHAIN, w);
        }
        cmd
    }
}

/// The user's rustc wrapper, found as cargo finds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct UserWrapper {
    /// The program (absolute, or as found on PATH).
    pub(crate) program: PathBuf,
    /// Where it was named: `RUSTC_WRAPPER`, `CARGO_BUILD_RUSTC_WRAPPER`, or
    /// the cargo configuration file with `build.rustc-wrapper`.
    pub(crate) from: String,
}

/// The rustc wrapper cargo would run for a build in `dir`: `RUSTC_WRAPPER`
/// (set but empty: none), else `CARGO_BUILD_RUSTC_WRAPPER`, else
/// `build.rustc-wrapper` of the nearest cargo configuration file that sets
/// it (`dir` upward, then `$CARGO_HOME`; a value with a `/` is relative to
/// the directory holding `.cargo/`). The source is cargo's configuration
/// reference (`build.rustc-wrapper`). `None` when there is none, or when
/// it is linkmatrix itself. An error names a program that is not there:
/// every compilation would fail.
pub(crate) fn user_wrapper(dir: &Path) -> Result<Option<UserWrapper>> {
    find_wrapper(|k| std::env::var_os(k), dir)
}

/// [`user_wrapper`] with the environment read through `env`.
fn find_wrapper(env: impl Fn(&str) -> Option<OsString>, dir: &Path) -> Result<Option<UserWrapper>> {
    let from_env = ["RUSTC_WRAPPER", "CARGO_BUILD_RUSTC_WRAPPER"]
        .into_iter()
        .find_map(|k| Some((env(k)?.to_string_lossy().into_owned(), k.to_owned(), None)));
    let named = from_env.or_else(|| configured_wrapper(dir));
    let Some((value, from, base)) = named else {
        return Ok(None);
    };
    if value.trim().is_empty() {
        return Ok(None);
    }
    let found = match (&base, value.contains('/')) {
        (Some(base), true) => {
            let p: &Path = base;
            let p = p.join(&value);
            p.is_file().then_some(p)
        }
        _ => crate::process::which(&value),
    };
    // A relative path in the environment is the user's, from where
    // linkmatrix was started (cargo runs in the crate's directory).
    let found = found.map(|p| std::path::absolute(&p).unwrap_or(p));
    let Some(program) = found else {
        bail!(
            "{from} names `{value}`, which is not {}: cargo could run no compiler through it; install it or unset {from}",
            if value.contains('/') {
                "a file"
            } else {
                "on PATH"
            }
        );
    };
    let me = std::env::current_exe()
        .ok()
        .and_then(|p| p.canonicalize().ok());
    if me.is_some() && program.canonicalize().ok() == me {
        return Ok(None);
    }
    Ok(Some(UserWrapper { program, from }))
}

/// `build.rustc-wrapper` of the nearest cargo configuration file: the
/// value, the file, and the directory a relative path is taken from.
fn configured_wrapper(dir: &Path) -> Option<(String, String, Option<PathBuf>)> {
    crate::cache::cargo_config_files(dir)
        .into_iter()
        .find_map(|f| {
            let text = std::fs::read_to_string(&f).ok()?;
            let table: toml::Table = text.parse().ok()?;
            let v = table
                .get("build")?
                .get("rustc-wrapper")?
                .as_str()?
                .to_owned();
            // `<dir>/.cargo/config.toml` is relative to `<dir>`;
            // `$CARGO_HOME/config.toml` to `$CARGO_HOME`'s parent, as cargo does.
            let base = f.parent().and_then(Path::parent).map(Path::to_path_buf);
            Some((v, f.display().to_string(), base))
        })
}

/// A program's identity for cache keys: its path, size and a digest of its
/// bytes (an upgrade is another identity; a reinstall of the same build,
/// with a new mtime, is not, so a CI runner that installs sccache afresh
/// each run keeps its cells cached).
pub(crate) fn program_identity(path: &Path) -> String {
    use sha2::{Digest, Sha256};
    match std::fs::read(path) {
        Ok(bytes) => format!(
            "{}:{}:{}",
            path.display(),
            bytes.len(),
            crate::cache::hex(&Sha256::digest(&bytes)[..16])
        ),
        Err(e) => format!("{}: {e}", path.display()),
    }
}

/// What the wrapper chains, for cache keys and build directories: the
/// user's wrapper's identity, or empty.
pub(crate) fn chain_identity(dir: &Path) -> String {
    // Asked for the key and for the build directory: the program is read
    // once per process.
    static SEEN: std::sync::Mutex<Vec<(PathBuf, String)>> = std::sync::Mutex::new(Vec::new());
    let id = match user_wrapper(dir) {
        Ok(Some(w)) => w.program,
        Ok(None) => return String::new(),
        Err(e) => return format!("{e:#}"),
    };
    let mut seen = SEEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((_, s)) = seen.iter().find(|(p, _)| *p == id) {
        return s.clone();
    }
    let s = program_identity(&id);
    seen.push((id, s.clone()));
    s
}

/// Refuse what would make a cell's build other than the matrix says, before
/// anything runs: rustc flags set in the environment for every build
/// (`RUSTFLAGS`, `CARGO_ENCODED_RUSTFLAGS`, `CARGO_BUILD_RUSTFLAGS`), and a
/// rustc wrapper that is not there. `command_build`: the matrix has
/// `build:` (its commands run without those variables too).
///
/// Why refused rather than applied: a cell is what the matrix says (its
/// id, `check --cell ID`, the cache, merged shards and baselines stand for
/// it), and cargo would let `RUSTFLAGS` replace every rustflag of the
/// crate's own `.cargo/config.toml` (`-Tlink.x`, `--cfg`s) that linkmatrix
/// keeps in force; flags meant for a host build (`-Ctarget-cpu=native`,
/// coverage, sanitizers) would make bare-metal cells fail for a reason
/// that is not theirs. The matrix's `rustflags:` apply after the crate's.
pub(crate) fn check_environment(manifest_dir: &Path, command_build: bool) -> Result<()> {
    for var in ENV_RUSTFLAGS {
        let Some(v) = std::env::var_os(var) else {
            continue;
        };
        let v = v.to_string_lossy();
        if v.split(['\x1f', ' ', '\t', '\n']).all(str::is_empty) {
            continue;
        }
        let shown = v.replace('\x1f', " ");
        let instead = if command_build {
            "A command build runs its commands without it: name what they need under another variable in `when: env:`"
        } else {
            "Put the flags in the matrix, where each cell's id, report and cache key carry them: `rustflags:` under an option's `when:` (for every cell, an option with one value: `warnings: {type: choice, values: [deny], when: {deny: {rustflags: [-Dwarnings]}}}`)"
        };
        bail!(
            "{var} is set in the environment (`{shown}`): linkmatrix refuses it rather than apply it or drop it. {instead}; or unset it for linkmatrix (`env -u {var} linkmatrix …`; in a workflow step, `env: {{{var}: \"\"}}`). Why: a cell is what the matrix says, and cargo would let {var} replace the rustflags of the crate's own .cargo/config.toml"
        );
    }
    if !command_build {
        user_wrapper(manifest_dir)?;
    }
    Ok(())
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
        && let Some(target) = target_dir_name(args)
    {
        let mut lib = OsString::from("all=");
        lib.push(
            std::path::Path::new(s)
                .join("lib/rustlib")
                .join(target)
                .join("lib"),
        );
        out.push("-L".into());
        out.push(lib);
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
                && LINK_ARGS.contains(&x)
            {
                *a = format!("-Clink-arg=-Wl,{x}").into();
            }
        }
    }
    out
}

/// The directory a sysroot keeps `--target`'s libraries in: the triple,
/// or a target specification file's stem (`--target` as one argument or
/// two, the last one winning as in rustc).
fn target_dir_name(args: &[OsString]) -> Option<String> {
    let mut found = None;
    let mut it = args.iter().map(|a| a.to_string_lossy());
    while let Some(a) = it.next() {
        if a == "--target" {
            found = it.next().map(std::borrow::Cow::into_owned);
        } else if let Some(v) = a.strip_prefix("--target=") {
            found = Some(v.to_owned());
        }
    }
    let t = found?;
    Some(if t.ends_with(".json") {
        std::path::Path::new(&t)
            .file_stem()?
            .to_string_lossy()
            .into_owned()
    } else {
        t
    })
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
    let mut rest = wrapped(&args[2..], &given);
    // A region-overflow relink: linkmatrix stands in for the linker.
    let default = std::env::var_os(DEFAULT_LINKER);
    let real = crate::relink::stand_in(&mut rest, default.as_ref());
    // The user's wrapper (sccache) runs rustc, as cargo would have run it.
    let chain = std::env::var_os(CHAIN).filter(|c| !c.is_empty());
    let mut cmd = match &chain {
        Some(w) => {
            let mut c = std::process::Command::new(w);
            c.arg(&args[1]);
            c
        }
        None => std::process::Command::new(&args[1]),
    };
    if let Some(r) = real {
        cmd.env(crate::relink::REAL, r);
    }
    let err = cmd.args(rest).env_remove(MARK).env_remove(CHAIN).exec();
    // exec returns only when it failed.
    let _ = writeln!(
        anstream::stderr(),
        "error: linkmatrix (as rustc wrapper) could not run {}: {err}",
        chain.as_deref().unwrap_or(&args[1]).to_string_lossy()
    );
    ExitCode::from(crate::model::EXIT_TOOL)
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

    fn no_env(_: &str) -> Option<OsString> {
        None
    }

    #[test]
    fn the_users_wrapper_is_found_as_cargo_finds_it() {
        let d = tempfile::tempdir().unwrap();
        let crate_dir = d.path().join("ws/member");
        std::fs::create_dir_all(crate_dir.join(".cargo")).unwrap();
        std::fs::create_dir_all(d.path().join("ws/.cargo")).unwrap();
        std::fs::create_dir_all(d.path().join("ws/tools")).unwrap();
        let tool = d.path().join("ws/tools/cachewrap");
        std::fs::write(&tool, "#!/bin/sh\nexec \"$@\"\n").unwrap();
        // The workspace's config names a wrapper relative to itself.
        std::fs::write(
            d.path().join("ws/.cargo/config.toml"),
            "[build]\nrustc-wrapper = \"tools/cachewrap\"\n",
        )
        .unwrap();
        let w = find_wrapper(no_env, &crate_dir).unwrap().unwrap();
        assert_eq!(w.program, tool);
        assert!(w.from.ends_with("ws/.cargo/config.toml"), "{}", w.from);
        // The environment wins over configuration files; empty means none.
        let env = |k: &str| (k == "RUSTC_WRAPPER").then(|| OsString::from(&tool));
        assert_eq!(
            find_wrapper(env, &crate_dir).unwrap().unwrap().from,
            "RUSTC_WRAPPER"
        );
        let empty = |k: &str| (k == "RUSTC_WRAPPER").then(OsString::new);
        assert_eq!(find_wrapper(empty, &crate_dir).unwrap(), None);
        // A wrapper that is not there is an error naming where it was set.
        let missing = |k: &str| {
            (k == "CARGO_BUILD_RUSTC_WRAPPER").then(|| OsString::from("no-such-wrapper-xyz"))
        };
        let e = format!("{:#}", find_wrapper(missing, &crate_dir).unwrap_err());
        assert!(
            e.contains("CARGO_BUILD_RUSTC_WRAPPER") && e.contains("no-such-wrapper-xyz"),
            "{e}"
        );
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
                "-L",
                "all=/s/lib/rustlib/thumbv7em-none-eabihf/lib",
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

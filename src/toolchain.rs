//! Finding what a target needs — a Rust standard library (`core`, `alloc`)
//! for its triple, a C compiler and a linker — and providing what is
//! missing: `doctor` reports, `setup` installs, and the sysroot of a
//! build-std toolchain is built once per (toolchain, target) and shared.
//!
//! Providers, in order: a rustup toolchain with the target's prebuilt std;
//! a toolchain with the library source (rustup's `rust-src`, or Debian's
//! `rust-web-src` under /usr/lib/rustlib/src) built with
//! `rustc-build-sysroot`. Nothing is assumed: every path is probed.
use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::model::Target;
use crate::process::{Cmd, which};

pub(crate) mod hosted;

/// A Rust toolchain found on this machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Rust {
    /// Where it comes from, for people: `rustup 1.95.0-x86_64…`, `/usr/bin`.
    pub(crate) label: String,
    /// Its rustc.
    pub(crate) rustc: PathBuf,
    /// Its cargo.
    pub(crate) cargo: PathBuf,
    /// `rustc -vV`.
    pub(crate) version: String,
    /// `rustc --print sysroot`.
    pub(crate) sysroot: PathBuf,
    /// The host triple.
    pub(crate) host: String,
}

impl Rust {
    /// The library source, if this toolchain has it.
    pub(crate) fn library_src(&self) -> Option<PathBuf> {
        let p = self.sysroot.join("lib/rustlib/src/rust/library");
        p.join("core/Cargo.toml").is_file().then_some(p)
    }

    /// True if the prebuilt std for `triple` is installed.
    pub(crate) fn has_prebuilt(&self, triple: &str) -> bool {
        has_prebuilt_rlib(&self.sysroot, triple, "core")
    }

    /// `rust-lld` shipped with this toolchain.
    pub(crate) fn rust_lld(&self) -> Option<PathBuf> {
        let p = self
            .sysroot
            .join("lib/rustlib")
            .join(&self.host)
            .join("bin/rust-lld");
        p.is_file().then_some(p)
    }

    /// The first line of `rustc -vV`.
    pub(crate) fn short_version(&self) -> &str {
        self.version.lines().next().unwrap_or("rustc ?")
    }
}

/// How a target's standard library is had.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum StdProvider {
    /// rustup's prebuilt std for the target.
    Prebuilt(Rust),
    /// Built from the library source of this toolchain.
    BuildStd {
        /// The toolchain.
        rust: Rust,
        /// Its `library/` source.
        src: PathBuf,
    },
    /// Nothing works yet.
    Missing {
        /// The one command that fixes it.
        fix: String,
    },
}

/// A program found for a role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Tool {
    /// The name asked for.
    pub(crate) name: String,
    /// Where it is.
    pub(crate) path: PathBuf,
}

/// Everything a target needs, as found.
#[derive(Clone, Debug)]
pub(crate) struct TargetTools {
    /// The std provider.
    pub(crate) std: StdProvider,
    /// The C compiler (`None`: the target has no platform sources), or
    /// the fix.
    pub(crate) cc: Result<Option<Tool>, String>,
    /// The linker, or the fix.
    pub(crate) linker: Result<Tool, String>,
    /// Debian packages that would provide the missing C compiler or
    /// linker (empty when none would: the target names a program no
    /// package we know provides).
    pub(crate) apt: Vec<String>,
}

impl TargetTools {
    /// Everything is there.
    pub(crate) fn ready(&self) -> bool {
        !matches!(self.std, StdProvider::Missing { .. }) && self.cc.is_ok() && self.linker.is_ok()
    }

    /// The commands that would fix what is missing.
    pub(crate) fn fixes(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let StdProvider::Missing { fix } = &self.std {
            out.push(fix.clone());
        }
        if let Err(f) = &self.cc {
            out.push(f.clone());
        }
        if let Err(f) = &self.linker {
            out.push(f.clone());
        }
        out.dedup();
        out
    }
}

/// The toolchains on this machine, probed once.
#[derive(Clone, Debug, Default)]
pub(crate) struct Toolchains {
    /// In order of preference.
    pub(crate) rusts: Vec<Rust>,
}

/// Debian's packages that give a build-std toolchain, C compiler and linker.
pub(crate) const DEBIAN_PACKAGES: &[&str] =
    &["rustc-web", "cargo-web", "rust-web-src", "clang", "lld"];

impl Toolchains {
    /// What builds for `t`, for cache keys: the std provider and the
    /// identities (path, size, mtime) of the C compiler and linker.
    pub(crate) fn identity(&self, t: &Target) -> String {
        let tools = self.for_target(t);
        let std = match &tools.std {
            StdProvider::Prebuilt(r) => format!("prebuilt {}", r.version),
            StdProvider::BuildStd { rust, src } => {
                format!("build-std {} {}", rust.version, src.display())
            }
            StdProvider::Missing { .. } => "missing".to_owned(),
        };
        let id = |t: Option<&Tool>| {
            t.map_or_else(|| "-".to_owned(), |t| crate::cache::file_identity(&t.path))
        };
        format!(
            "std={std}\ncc={}\nlinker={}",
            id(tools.cc.as_ref().ok().and_then(Option::as_ref)),
            id(tools.linker.as_ref().ok())
        )
    }

    /// Probe: `rustc` on PATH (usually the rustup proxy), every rustup
    /// toolchain, and /usr/bin/rustc (Debian).
    pub(crate) fn probe() -> Self {
        let mut candidates: Vec<(String, PathBuf, Option<PathBuf>)> = Vec::new();
        if let Some(r) = which("rustc") {
            candidates.push(("rustc on PATH".to_owned(), r, which("cargo")));
        }
        for d in hosted::rustup_toolchains() {
            let name = d
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            candidates.push((
                format!("rustup {name}"),
                d.join("bin/rustc"),
                Some(d.join("bin/cargo")),
            ));
        }
        candidates.push((
            "Debian /usr/bin".to_owned(),
            PathBuf::from("/usr/bin/rustc"),
            Some(PathBuf::from("/usr/bin/cargo")),
        ));

        // Every candidate at once (two rustc runs each; serially they
        // were most of a warm run), kept in preference order.
        let probed: Vec<Option<Rust>> = std::thread::scope(|s| {
            let handles: Vec<_> = candidates
                .into_iter()
                .filter(|(_, rustc, _)| rustc.is_file())
                .map(|(label, rustc, cargo)| s.spawn(move || probe_rust(&label, &rustc, cargo)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().ok().flatten())
                .collect()
        });
        let mut rusts: Vec<Rust> = Vec::new();
        let mut seen = BTreeSet::new();
        for r in probed.into_iter().flatten() {
            if seen.insert(r.sysroot.clone()) {
                rusts.push(r);
            }
        }
        Self { rusts }
    }

    /// How `target` would be built here.
    pub(crate) fn for_target(&self, target: &Target) -> TargetTools {
        let triple = &target.triple;
        let std = self
            .rusts
            .iter()
            .find(|r| r.has_prebuilt(triple))
            .map(|r| StdProvider::Prebuilt(r.clone()))
            .or_else(|| {
                self.rusts.iter().find_map(|r| {
                    r.library_src().map(|src| StdProvider::BuildStd {
                        rust: r.clone(),
                        src,
                    })
                })
            })
            .unwrap_or_else(|| StdProvider::Missing {
                fix: std_fix(triple),
            });
        let cc = if target.sources.is_empty() {
            // No platform sources: nothing to compile.
            Ok(None)
        } else {
            target
                .cc
                .iter()
                .find_map(|c| {
                    which(c).map(|p| Tool {
                        name: c.clone(),
                        path: p,
                    })
                })
                .map(Some)
                .ok_or_else(|| missing("C compiler", &target.cc, &target.cc_at, &target.apt))
        };
        let mut apt = Vec::new();
        let cc = cc.map_err(|(fix, pkgs)| {
            apt.extend(pkgs);
            fix
        });
        let linker = target
            .linker
            .iter()
            .find_map(|l| {
                if l == "rust-lld" {
                    self.rusts.iter().find_map(Rust::rust_lld).map(|p| Tool {
                        name: l.clone(),
                        path: p,
                    })
                } else {
                    which(l).map(|p| Tool {
                        name: l.clone(),
                        path: p,
                    })
                }
            })
            .ok_or_else(|| missing("linker", &target.linker, &target.linker_at, &target.apt))
            .map_err(|(fix, pkgs)| {
                apt.extend(pkgs);
                fix
            });
        apt.sort();
        apt.dedup();
        TargetTools {
            std,
            cc,
            linker,
            apt,
        }
    }
}

/// The Debian package that provides a program a target file names, when
/// known (`clang-16` is in `clang-16`).
fn package_of(program: &str) -> Option<String> {
    // `ld.lld[-N]` is in `lld[-N]`; the others are named like their package.
    let program = program.strip_prefix("ld.").unwrap_or(program);
    match program {
        "clang" | "lld" | "gcc" => Some(program.to_owned()),
        p if p.starts_with("clang-") || p.starts_with("lld-") => Some(p.to_owned()),
        p if p.starts_with("arm-none-eabi-") => Some("gcc-arm-none-eabi".to_owned()),
        _ => None,
    }
}

/// Whether apt has a package of that name to install.
fn apt_knows(pkg: &str) -> bool {
    Cmd::new("apt-cache")
        .args(["show", "--no-all-versions", pkg])
        .timeout(Some(Duration::from_secs(30)))
        .run()
        .is_ok_and(|o| !o.stdout.is_empty())
}

/// Whether dpkg says `pkg` is installed.
fn dpkg_installed(pkg: &str) -> bool {
    Cmd::new("dpkg-query")
        .args(["-W", "-f=${Status}", pkg])
        .timeout(Some(Duration::from_secs(30)))
        .run()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
}

/// None of `names` is on PATH: the packages that would provide one (the
/// target's `toolchain.apt`, else those of programs we know), leaving out
/// what is already installed; and what to tell the user, naming the
/// programs and where the target file names them.
fn missing(what: &str, names: &[String], at: &str, apt: &[String]) -> (String, Vec<String>) {
    // Declared packages are trusted; guessed ones must be known to apt.
    let mut pkgs: Vec<String> = if apt.is_empty() {
        names
            .iter()
            .filter_map(|n| package_of(n))
            .filter(|p| apt_knows(p))
            .collect()
    } else {
        apt.to_vec()
    };
    pkgs.dedup();
    pkgs.retain(|p| !dpkg_installed(p));
    let found = format!("{what}: none of {} on PATH ({at})", names.join(", "));
    let fix = if pkgs.is_empty() {
        format!("install one or name an installed one there   # {found}")
    } else {
        format!("apt-get install -y {}   # {found}", pkgs.join(" "))
    };
    (fix, pkgs)
}

fn probe_rust(label: &str, rustc: &Path, cargo: Option<PathBuf>) -> Option<Rust> {
    let t = Some(Duration::from_secs(30));
    let vv = Cmd::new(rustc).arg("-vV").timeout(t).run().ok()?;
    let version = String::from_utf8_lossy(&vv.stdout).into_owned();
    let host = version
        .lines()
        .find_map(|l| l.strip_prefix("host: "))?
        .trim()
        .to_owned();
    let sr = Cmd::new(rustc)
        .args(["--print", "sysroot"])
        .timeout(t)
        .run()
        .ok()?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sr.stdout).trim());
    // The cargo beside this rustc, else the one given.
    let cargo = [sysroot.join("bin/cargo")]
        .into_iter()
        .chain(cargo)
        .find(|p| p.is_file())?;
    Some(Rust {
        label: label.to_owned(),
        rustc: rustc.to_path_buf(),
        cargo,
        version,
        sysroot,
        host,
    })
}

pub(crate) fn is_debian_root() -> bool {
    Path::new("/etc/debian_version").is_file() && which("apt-get").is_some() && nix_is_root()
}

fn nix_is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
}

fn std_fix(triple: &str) -> String {
    if is_debian_root() {
        format!("apt-get install -y {}", DEBIAN_PACKAGES.join(" "))
    } else if which("rustup").is_some() {
        format!("rustup target add {triple}   # or: rustup component add rust-src")
    } else {
        "install rustup (https://rustup.rs), or Debian's rustc-web cargo-web rust-web-src"
            .to_owned()
    }
}

/// `doctor`: one block per target; returns whether every target is ready.
pub(crate) fn doctor(
    targets: &[&Target],
    chains: &Toolchains,
    out: &mut dyn Write,
) -> std::io::Result<bool> {
    if chains.rusts.is_empty() {
        writeln!(
            out,
            "no Rust toolchain found (rustc on PATH, ~/.rustup/toolchains, /usr/bin/rustc)"
        )?;
    } else {
        writeln!(out, "Rust toolchains:")?;
        for r in &chains.rusts {
            let src = if r.library_src().is_some() {
                ", has library source"
            } else {
                ""
            };
            writeln!(out, "  {:<28} {}{src}", r.label, r.short_version())?;
        }
    }
    let mut all = true;
    for t in targets {
        let tools = chains.for_target(t);
        let ok = tools.ready();
        all &= ok;
        writeln!(out)?;
        writeln!(
            out,
            "{} ({}): {}",
            t.name,
            t.triple,
            if ok { "buildable" } else { "NOT buildable" }
        )?;
        let std = match &tools.std {
            StdProvider::Prebuilt(r) => {
                format!("prebuilt std of {} ({})", r.label, r.short_version())
            }
            StdProvider::BuildStd { rust, src } => format!(
                "build-std core+alloc with {} ({}), source {}",
                rust.label,
                rust.short_version(),
                src.display()
            ),
            StdProvider::Missing { .. } => "missing".to_owned(),
        };
        writeln!(out, "  std:     {std}")?;
        match &tools.cc {
            Ok(Some(c)) => writeln!(out, "  cc:      {} ({})", c.name, c.path.display())?,
            Ok(None) => writeln!(out, "  cc:      not needed (no platform sources)")?,
            Err(_) => writeln!(out, "  cc:      missing")?,
        }
        match &tools.linker {
            Ok(l) => writeln!(out, "  linker:  {} ({})", l.name, l.path.display())?,
            Err(_) => writeln!(out, "  linker:  missing")?,
        }
        for fix in tools.fixes() {
            writeln!(out, "  fix:     {fix}")?;
        }
    }
    if !all {
        writeln!(out)?;
        writeln!(out, "`linkmatrix setup` installs what is missing.")?;
    }
    Ok(all)
}

/// What `setup` would run for these targets.
pub(crate) fn setup_plan(targets: &[&Target], chains: &Toolchains) -> Vec<Cmd> {
    let mut apt: BTreeSet<String> = BTreeSet::new();
    let mut rustup: BTreeSet<String> = BTreeSet::new();
    let debian = is_debian_root();
    for t in targets {
        let tools = chains.for_target(t);
        if matches!(tools.std, StdProvider::Missing { .. }) {
            if debian {
                apt.extend(DEBIAN_PACKAGES.iter().map(|s| (*s).to_owned()));
            } else if which("rustup").is_some() {
                rustup.insert(t.triple.clone());
            }
        }
        if debian {
            apt.extend(tools.apt.iter().cloned());
        }
    }
    let mut cmds = Vec::new();
    for triple in rustup {
        cmds.push(Cmd::new("rustup").args(["target", "add", &triple]));
    }
    cmds.extend(apt_install(&apt.into_iter().collect::<Vec<_>>()));
    cmds
}

/// `apt-get update` and `apt-get install` of `pkgs`, non-interactive;
/// nothing when there is nothing to install.
pub(crate) fn apt_install(pkgs: &[String]) -> Vec<Cmd> {
    if pkgs.is_empty() {
        return Vec::new();
    }
    vec![
        Cmd::new("apt-get")
            .arg("update")
            .env("DEBIAN_FRONTEND", "noninteractive"),
        Cmd::new("apt-get")
            .args(["install", "-y", "--no-install-recommends"])
            .args(pkgs)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    ]
}

/// Run the setup commands, saying each one first.
pub(crate) fn setup(cmds: &[Cmd], log: &mut dyn Write) -> Result<()> {
    for c in cmds {
        writeln!(log, "{c}")?;
        let out = c.clone().timeout(Some(Duration::from_secs(1800))).run();
        if let Err(e) = out {
            // rustup cannot download on some machines: say so and go on to
            // the next provider.
            if c.program() == Path::new("rustup") {
                writeln!(log, "  (failed: {e}; trying the next provider)")?;
                continue;
            }
            return Err(e).context("setup failed");
        }
    }
    Ok(())
}

/// Whether `sysroot` holds a prebuilt `lib<krate>-*.rlib` for `triple`
/// (`lib/rustlib/<triple>/lib`, rustup's and Debian's layout).
pub(crate) fn has_prebuilt_rlib(sysroot: &Path, triple: &str, krate: &str) -> bool {
    let dir = sysroot.join("lib/rustlib").join(triple).join("lib");
    let prefix = format!("lib{krate}-");
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| {
            let n = e.file_name();
            let n = n.to_string_lossy();
            n.starts_with(&prefix) && n.ends_with(".rlib")
        })
}

/// Build (once) the sysroot for `triple` from `src` with `rust`, in a child
/// process of our own (`linkmatrix __sysroot`) so that Ctrl-C and timeouts
/// reach the cargo it runs. Returns the sysroot directory.
pub(crate) fn ensure_sysroot(
    rust: &Rust,
    src: &Path,
    triple: &str,
    timeout: Option<Duration>,
    waiting: &dyn Fn(&Path),
    building: &dyn Fn(),
) -> Result<PathBuf> {
    let key = crate::cache::Key::new()
        .str("rustc", &rust.version)
        .str("src", &src.display().to_string())
        .finish();
    let dir = crate::cache::cache_dir()?.join("sysroot").join(key);
    let stamp = dir.join("lib/rustlib").join(triple).join(".linkmatrix-ok");
    if stamp.is_file() {
        return Ok(dir);
    }
    let lock_path = dir.with_extension(format!("{triple}.lock"));
    let _lock = crate::cache::lock(&lock_path, || waiting(&lock_path))?;
    if stamp.is_file() {
        return Ok(dir);
    }
    let exe = std::env::current_exe().context("locating linkmatrix itself")?;
    building();
    Cmd::new(exe)
        .arg("__sysroot")
        .arg(&rust.cargo)
        .arg(&rust.rustc)
        .arg(src)
        .arg(triple)
        .arg(&dir)
        .timeout(timeout)
        .run()
        .with_context(|| format!("building core+alloc for {triple} from {}", src.display()))?;
    if !stamp.is_file() {
        bail!(
            "building core+alloc for {triple} left no sysroot in {}",
            dir.display()
        );
    }
    Ok(dir)
}

/// The body of `linkmatrix __sysroot CARGO RUSTC SRC TRIPLE DIR`.
pub(crate) fn build_sysroot(
    cargo: &Path,
    rustc: &Path,
    src: &Path,
    triple: &str,
    dir: &Path,
) -> Result<()> {
    // rustc-build-sysroot runs this cargo itself; this whole function runs
    // in a child linkmatrix that `ensure_sysroot` started through `Cmd`, so
    // its process group, timeout and interruption still apply.
    let mut cmd = std::process::Command::new(cargo);
    cmd.env("RUSTC", rustc).env("RUSTC_BOOTSTRAP", "1");
    for k in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "RUSTC_WRAPPER",
    ] {
        cmd.env_remove(k);
    }
    let vv = Cmd::new(rustc)
        .arg("-vV")
        .timeout(Some(Duration::from_secs(60)))
        .run()
        .context("running rustc -vV")?;
    let meta = rustc_version::version_meta_for(&String::from_utf8_lossy(&vv.stdout))
        .context("parsing rustc -vV")?;
    rustc_build_sysroot::SysrootBuilder::new(dir, triple)
        .sysroot_config(rustc_build_sysroot::SysrootConfig::NoStd)
        .build_mode(rustc_build_sysroot::BuildMode::Build)
        .rustc_version(meta)
        .rustflag("-Cdebuginfo=1")
        .cargo(cmd)
        .build_from_source(src)
        .with_context(|| format!("building the {triple} sysroot"))?;
    let stamp = dir.join("lib/rustlib").join(triple).join(".linkmatrix-ok");
    std::fs::write(&stamp, b"").with_context(|| format!("writing {}", stamp.display()))?;
    Ok(())
}

/// The body of `linkmatrix __cc-args TRIPLE COMPILER`: the `cc` crate's
/// flags for compiling C for the Rust `triple` with `compiler` (its
/// `--target`, `-mthumb`, `-march`, float ABI, code model …), as a JSON
/// array. cc runs the compiler to tell its family; this runs in a child
/// linkmatrix that [`cc_args`] started through `Cmd`, so that run is
/// under its timeout and process group.
pub(crate) fn print_cc_args(triple: &str, compiler: &Path, out: &mut dyn Write) -> Result<()> {
    let scratch = tempfile::tempdir().context("a scratch directory for cc")?;
    let host = format!("{}-unknown-linux-gnu", std::env::consts::ARCH);
    let tool = cc::Build::new()
        .target(triple)
        .host(&host)
        .opt_level(2)
        .debug(true)
        .compiler(compiler)
        .out_dir(scratch.path())
        .cargo_metadata(false)
        .cargo_warnings(false)
        .warnings(false)
        .try_get_compiler()
        .with_context(|| {
            format!(
                "cc: no compile line for {triple} with {}",
                compiler.display()
            )
        })?;
    let args: Vec<String> = tool
        .args()
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    serde_json::to_writer(&mut *out, &args)?;
    writeln!(out)?;
    Ok(())
}

/// The `cc` crate's compile flags for `triple` with the C compiler `cc`
/// (see [`print_cc_args`]); a target file's `cc.flags` go after them.
pub(crate) fn cc_args(cc: &Tool, triple: &str, timeout: Option<Duration>) -> Result<Vec<String>> {
    let exe = std::env::current_exe().context("locating linkmatrix itself")?;
    let out = Cmd::new(exe)
        .arg("__cc-args")
        .arg(triple)
        .arg(&cc.path)
        .timeout(timeout)
        .run()
        .with_context(|| format!("asking the cc crate how to compile C for {triple}"))?;
    serde_json::from_slice(&out.stdout)
        .with_context(|| format!("reading the cc crate's flags for {triple}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cc crate maps each Rust triple to the C compiler's target
    /// (x86_64-unknown-none is `x86_64-unknown-none-elf` to clang), with
    /// the section flags `--gc-sections` needs: no per-target hand-written
    /// line.
    #[test]
    fn cc_gives_the_compile_line_for_each_triple() {
        let clang = which("clang").expect("clang on PATH (scripts/test.sh installs it)");
        for (triple, target) in [
            ("thumbv7em-none-eabihf", "--target=thumbv7em-none-eabihf"),
            ("x86_64-unknown-none", "--target=x86_64-unknown-none-elf"),
        ] {
            let mut out = Vec::new();
            print_cc_args(triple, &clang, &mut out).unwrap();
            let args: Vec<String> = serde_json::from_slice(&out).unwrap();
            assert!(args.iter().any(|a| a == target), "{triple}: {args:?}");
            assert!(args.iter().any(|a| a == "-ffunction-sections"), "{args:?}");
        }
    }
}

//! A command build's source tree and the Debian packages its commands
//! need: what `doctor` says is missing, and what `setup` installs and
//! unpacks — a source package's archive (`linux-source-6.1` installs
//! `/usr/src/linux-source-6.1.tar.xz`), unpacked once into the work
//! directory with the matrix's patches applied, and moved into place only
//! when whole, so a tree is never half unpacked or half patched.
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::model::{CommandBuild, SourcePackage};
use crate::process::{Cmd, which};

const QUERY: Option<Duration> = Some(Duration::from_secs(30));
/// Unpacking a kernel (1.5 GB) takes ~20 s; patching, less.
const UNPACK: Option<Duration> = Some(Duration::from_secs(1800));

/// Whether Debian's package database has `pkg` installed; `None` when
/// there is no dpkg to ask.
fn installed(pkg: &str) -> Option<bool> {
    which("dpkg-query")?;
    let out = Cmd::new("dpkg-query")
        .args(["-W", "-f=${Status}", pkg])
        .timeout(QUERY)
        .run_unchecked()
        .ok()?;
    Some(String::from_utf8_lossy(&out.stdout).ends_with(" installed"))
}

/// What a tree unpacked from `u` was made from: the package and each
/// patch's contents. Kept beside the tree; a patch edited since makes the
/// tree out of date (`setup` unpacks it again), never silently used.
pub(crate) fn stamp(u: &SourcePackage) -> String {
    let mut k = crate::cache::Key::new();
    k.str("package", &u.package);
    for p in &u.patches {
        k.file(p);
    }
    k.finish()
}

/// `.NAME.suffix` beside the tree `dest` (its stamp, its staging dir).
fn beside(dest: &Path, suffix: &str) -> PathBuf {
    let name = dest
        .file_name()
        .map_or_else(|| "tree".into(), |n| n.to_string_lossy());
    dest.with_file_name(format!(".{name}.{suffix}"))
}

fn stamp_file(dest: &Path) -> PathBuf {
    beside(dest, "stamp")
}

/// Whether `b`'s tree is there and, when `setup` makes it, made from
/// the matrix's package and patches as they are now; else what to do.
pub(crate) fn ready(b: &CommandBuild) -> Result<(), String> {
    match &b.unpack {
        None if b.source.is_dir() => Ok(()),
        None => Err(format!(
            "build.source {} does not exist",
            b.source.display()
        )),
        Some(u) if !b.source.is_dir() => Err(format!(
            "the source tree {} is not unpacked: `linkmatrix setup` installs package {} and unpacks it",
            b.source.display(),
            u.package
        )),
        Some(u) => {
            let had = std::fs::read_to_string(stamp_file(&b.source)).unwrap_or_default();
            if had.trim() == stamp(u) {
                Ok(())
            } else {
                Err(format!(
                    "the source tree {} is out of date with build.package/patches (a patch changed?): `linkmatrix setup` unpacks it again",
                    b.source.display()
                ))
            }
        }
    }
}

/// What is missing for `b`: packages not installed (the source package
/// only while its tree is not unpacked), and why the tree is not ready.
pub(crate) struct Missing {
    pub(crate) packages: Vec<String>,
    pub(crate) tree: Option<String>,
    /// No dpkg: which packages are installed is unknown.
    pub(crate) unknown: bool,
}

pub(crate) fn missing(b: &CommandBuild) -> Missing {
    let tree = ready(b).err();
    let wanted = b.packages.iter().chain(
        b.unpack
            .as_ref()
            .filter(|_| tree.is_some())
            .map(|u| &u.package),
    );
    let mut packages = Vec::new();
    let mut unknown = false;
    for p in wanted {
        match installed(p) {
            Some(true) => {}
            Some(false) => packages.push(p.clone()),
            None => unknown = true,
        }
    }
    Missing {
        packages,
        tree,
        unknown,
    }
}

/// `doctor` for a command build: the tree and each package. True when
/// nothing is missing.
pub(crate) fn doctor(b: &CommandBuild, out: &mut dyn Write) -> Result<bool> {
    let m = missing(b);
    if let Some(e) = &m.tree {
        writeln!(out, "source: {e}")?;
    } else {
        writeln!(out, "source: {}", b.source.display())?;
    }
    for p in &b.packages {
        let state = if m.packages.contains(p) {
            "missing (`linkmatrix setup` installs it)"
        } else if m.unknown {
            "unknown (no dpkg-query)"
        } else {
            "installed"
        };
        writeln!(out, "package {p}: {state}")?;
    }
    Ok(m.tree.is_none() && m.packages.is_empty())
}

/// The commands `setup` runs for `b`: apt for the missing packages (as
/// root on Debian; else an error naming them).
pub(crate) fn install_plan(m: &Missing) -> Result<Vec<Cmd>> {
    if m.packages.is_empty() {
        return Ok(Vec::new());
    }
    if !crate::toolchain::is_debian_root() {
        bail!(
            "install these Debian packages (or your system's equivalents): {}",
            m.packages.join(" ")
        );
    }
    Ok(crate::toolchain::apt_install(&m.packages))
}

/// The source archive package `pkg` installed (`dpkg -L`), under
/// `/usr/src` first.
fn archive(pkg: &str) -> Result<PathBuf> {
    let out = Cmd::new("dpkg")
        .args(["-L", pkg])
        .timeout(QUERY)
        .run()
        .with_context(|| format!("listing the files of package {pkg}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let tarballs: Vec<&str> = text
        .lines()
        .filter(|l| {
            [".tar.xz", ".tar.gz", ".tar.bz2", ".tar.zst", ".tgz"]
                .iter()
                .any(|e| l.ends_with(e))
        })
        .collect();
    tarballs
        .iter()
        .find(|l| l.starts_with("/usr/src/"))
        .or(tarballs.first())
        .map(PathBuf::from)
        .with_context(|| format!("package {pkg} installs no source archive (.tar.*)"))
}

/// Unpack `u`'s archive into `dest` with its patches applied: in a
/// directory beside it, renamed into place when whole.
pub(crate) fn unpack(u: &SourcePackage, dest: &Path, log: &mut dyn Write) -> Result<()> {
    let tarball = archive(&u.package)?;
    let staging = beside(dest, "unpacking");
    // Out of date from here until the new tree is in place.
    let _ = std::fs::remove_file(stamp_file(dest));
    if staging.exists() {
        std::fs::remove_dir_all(&staging)
            .with_context(|| format!("removing {}", staging.display()))?;
    }
    std::fs::create_dir_all(&staging).with_context(|| format!("creating {}", staging.display()))?;
    let untar = Cmd::new("tar")
        .arg("-xf")
        .arg(&tarball)
        .arg("-C")
        .arg(&staging)
        .timeout(UNPACK);
    writeln!(log, "{untar}")?;
    untar
        .run()
        .with_context(|| format!("unpacking {}", tarball.display()))?;
    // The archive's one top directory is the tree; else the staging dir is.
    let entries: Vec<PathBuf> = std::fs::read_dir(&staging)?
        .flatten()
        .map(|e| e.path())
        .collect();
    let top = match entries.as_slice() {
        [one] if one.is_dir() => one.clone(),
        _ => staging.clone(),
    };
    for p in &u.patches {
        let patch = Cmd::new("patch")
            .args(["-p1", "-s", "-N", "-d"])
            .arg(&top)
            .arg("-i")
            .arg(p)
            .timeout(UNPACK);
        writeln!(log, "{patch}")?;
        patch
            .run()
            .with_context(|| format!("{} does not apply to {}", p.display(), tarball.display()))?;
    }
    if dest.exists() {
        std::fs::remove_dir_all(dest).with_context(|| format!("removing {}", dest.display()))?;
    }
    std::fs::rename(&top, dest)
        .with_context(|| format!("moving the tree to {}", dest.display()))?;
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::write(stamp_file(dest), stamp(u))
        .with_context(|| format!("writing {}", stamp_file(dest).display()))?;
    Ok(())
}

/// `setup` for a command build: install what is missing, unpack the
/// tree. `dry_run` prints the plan instead.
pub(crate) fn setup(b: &CommandBuild, dry_run: bool, out: &mut dyn Write) -> Result<bool> {
    let m = missing(b);
    let cmds = install_plan(&m)?;
    let unpack_from = b.unpack.as_ref().filter(|_| m.tree.is_some());
    if cmds.is_empty() && unpack_from.is_none() {
        if m.tree.is_some() {
            bail!(
                "build.source {} does not exist, and no `package` says where to get it",
                b.source.display()
            );
        }
        writeln!(
            out,
            "nothing to do: the source tree and its packages are there"
        )?;
        return Ok(true);
    }
    if dry_run {
        for c in &cmds {
            writeln!(out, "{c}")?;
        }
        if let Some(u) = unpack_from {
            writeln!(
                out,
                "unpack package {}'s source archive into {}{}",
                u.package,
                b.source.display(),
                if u.patches.is_empty() {
                    String::new()
                } else {
                    format!(
                        ", applying {}",
                        u.patches
                            .iter()
                            .map(|p| p.display().to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            )?;
        }
        return Ok(true);
    }
    crate::toolchain::setup(&cmds, out)?;
    if let Some(u) = unpack_from {
        unpack(u, &b.source, out)?;
    }
    doctor(b, out)
}

/// A C or C++ compiler's name, with an optional target prefix and
/// version suffix: `gcc`, `clang-14`, `arm-linux-gnueabihf-gcc-12`.
pub(crate) fn is_c_compiler(name: &str) -> bool {
    let base = match name.rsplit_once('-') {
        Some((b, v)) if !v.is_empty() && v.chars().all(|c| c.is_ascii_digit() || c == '.') => b,
        _ => name,
    };
    let tool = base.rsplit('-').next().unwrap_or(base);
    matches!(tool, "cc" | "c++" | "gcc" | "g++" | "clang" | "clang++")
}

/// The programs on PATH whose name `wanted` accepts, by name: the one a
/// shell would run (the first directory that has it).
pub(crate) fn on_path(
    wanted: impl Fn(&str) -> bool,
) -> std::collections::BTreeMap<String, PathBuf> {
    let mut found = std::collections::BTreeMap::new();
    let path = std::env::var_os("PATH").unwrap_or_default();
    for d in std::env::split_paths(&path) {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            if let Ok(n) = e.file_name().into_string()
                && wanted(&n)
            {
                found.entry(n).or_insert_with(|| d.join(e.file_name()));
            }
        }
    }
    found
}

/// A linker's name: `ld`, `ld.lld`, `ld.bfd`, `arm-linux-gnueabihf-ld`.
fn is_linker(name: &str) -> bool {
    let tool = name.rsplit('-').next().unwrap_or(name);
    tool == "ld" || tool.starts_with("ld.")
}

/// The identity of the toolchain a command build may call: every C
/// compiler and linker on PATH and each command's program (path, size,
/// modification time, symlinks followed). A compiler upgrade is a cache
/// miss, not a stale result, although which of them the build system
/// picks is its own business.
pub(crate) fn tools_identity(b: &CommandBuild) -> String {
    let mut out: Vec<String> = on_path(|n| is_c_compiler(n) || is_linker(n))
        .values()
        .map(|p| crate::cache::file_identity(p))
        .collect();
    for words in b.config.iter().chain([&b.command]) {
        if let Some(p) = words.first().and_then(|w| which(w)) {
            out.push(crate::cache::file_identity(&p));
        }
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiler_names_ccache_stands_in_for() {
        for n in [
            "cc",
            "gcc",
            "clang",
            "clang++-14",
            "gcc-12",
            "arm-linux-gnueabihf-gcc",
            "x86_64-linux-gnu-g++-12",
        ] {
            assert!(is_c_compiler(n), "{n}");
        }
        for n in [
            "gcc-ar",
            "clang-format",
            "ld.lld",
            "arm-linux-gnueabihf-ld",
            "make",
            "ccache",
        ] {
            assert!(!is_c_compiler(n), "{n}");
        }
    }

    #[test]
    fn linker_names() {
        for n in ["ld", "ld.lld", "ld.bfd", "arm-linux-gnueabihf-ld"] {
            assert!(is_linker(n), "{n}");
        }
        for n in ["ldd", "lld-link", "ldconfig", "gold"] {
            assert!(!is_linker(n), "{n}");
        }
    }
}

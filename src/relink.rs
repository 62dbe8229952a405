//! A link whose memory region overflowed, relinked with that region made
//! large enough, so `check` can measure what fills it. The linker script
//! that defines the region is found as the linker finds it: each `-T`
//! argument (`-Wl,-T,…` through a C driver), and each file a script
//! `INCLUDE`s, looked up in the link's working directory, then in each
//! `-L` directory in order. A copy with the region's `LENGTH` enlarged is
//! written to a directory of the cell's, and the link is pointed at it:
//! the `-T` argument rewritten, or that directory searched first (and made
//! the working directory when the original was found there). The crate's
//! files are never changed.
//!
//! In `bin` mode rustc runs the linker: linkmatrix stands in for it (under
//! the linker's own file name, so rustc passes the same arguments), edits
//! the arguments so, and runs the real one ([`run_as_linker`]).
//!
//! It measures nothing itself (`inspect::footprint` does) and decides no
//! finding.
use std::ffi::OsString;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::inspect::memory::word_at;
use crate::model::Region;

/// The real linker the stand-in runs (set in its environment).
pub(crate) const REAL: &str = "LINKMATRIX_RELINK_REAL";
/// The region to enlarge.
pub(crate) const REGION: &str = "LINKMATRIX_RELINK_REGION";
/// Where the enlarged script is written.
pub(crate) const DIR: &str = "LINKMATRIX_RELINK_DIR";
/// Bytes the region overflowed by (it is made twice its length and that).
pub(crate) const EXTRA: &str = "LINKMATRIX_RELINK_EXTRA";

/// The file in the relink directory saying the region's original length
/// and where the enlarged copy is.
const SIDECAR: &str = ".region";

/// What a relink into `dir` enlarged: the region's original length, and
/// every region of the enlarged script.
pub(crate) fn enlarged_in(dir: &Path) -> Option<(u64, Vec<Region>)> {
    let text = std::fs::read_to_string(dir.join(SIDECAR)).ok()?;
    let mut lines = text.lines();
    let length = lines.next()?.parse().ok()?;
    let copy = lines.next()?;
    let script = read_script(Path::new(copy))?;
    Some((length, crate::inspect::memory::regions(&script)))
}

/// Scripts followed per link, at most (an `INCLUDE` cycle ends here).
const MAX_SCRIPTS: usize = 32;
/// Bytes of a linker script read, at most.
const MAX_SCRIPT: u64 = 1 << 20;

/// A link pointed at an enlarged copy of the script defining a region.
#[derive(Debug)]
pub(crate) struct Enlarged {
    /// The link's arguments, edited.
    pub(crate) args: Vec<String>,
    /// The working directory to link in, when it must change (the
    /// original script was found in the old one).
    pub(crate) cwd: Option<PathBuf>,
}

/// How a script was reached.
#[derive(Clone, Debug)]
enum Via {
    /// Argument `index`, whose text holds `given` (a path, or a name
    /// found in a `-L` directory).
    Arg { index: usize, given: String },
    /// An `INCLUDE` of a script.
    Include,
}

/// The script files a link names: `(argument index, name)` for `-T X`,
/// `-TX`, `--script=X`, `--script X`, and each of those inside `-Wl,…`.
fn script_args(args: &[String]) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (i, a) in args.iter().enumerate() {
        let next = args.get(i + 1).map(String::as_str);
        let words: Vec<&str> = match a.strip_prefix("-Wl,") {
            Some(rest) => rest.split(',').collect(),
            None => vec![a.as_str()],
        };
        let mut it = words.iter().copied().peekable();
        while let Some(w) = it.next() {
            let name = match w {
                "-T" | "--script" => it.next().or(if words.len() == 1 { next } else { None }),
                _ => w.strip_prefix("--script=").or_else(|| {
                    w.strip_prefix("-T")
                        .filter(|x| !x.is_empty() && !x.contains('='))
                }),
            };
            if let Some(n) = name {
                // A separate argument: its index is the next one.
                let index = if w == "-T" || w == "--script" {
                    if words.len() == 1 { i + 1 } else { i }
                } else {
                    i
                };
                out.push((index, n.to_owned()));
            }
        }
    }
    out
}

/// The `-L` directories of a link, in order.
fn search_dirs(args: &[String]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut it = args.iter().peekable();
    while let Some(a) = it.next() {
        if a == "-L" || a == "--library-path" {
            if let Some(d) = it.next() {
                out.push(PathBuf::from(d));
            }
        } else if let Some(d) = a
            .strip_prefix("-L")
            .or_else(|| a.strip_prefix("--library-path="))
            .or_else(|| a.strip_prefix("-Wl,-L"))
        {
            out.push(PathBuf::from(d));
        }
    }
    out
}

/// Where the linker finds script `name`: itself when absolute, in `cwd`,
/// else the first `-L` directory holding it; and whether found in `cwd`.
fn resolve(name: &str, cwd: &Path, dirs: &[PathBuf]) -> Option<(PathBuf, bool)> {
    let p = Path::new(name);
    if p.is_absolute() {
        return p.is_file().then(|| (p.to_path_buf(), false));
    }
    if cwd.join(p).is_file() {
        return Some((cwd.join(p), true));
    }
    dirs.iter()
        .map(|d| d.join(p))
        .find(|c| c.is_file())
        .map(|c| (c, false))
}

/// The files a script `INCLUDE`s, in order.
fn includes(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let code = line.split("/*").next().unwrap_or_default();
        let mut words = code.split_whitespace();
        while let Some(w) = words.next() {
            if w == "INCLUDE"
                && let Some(name) = words.next()
            {
                out.push(name.trim_matches(['"', ';']).to_owned());
            }
        }
    }
    out
}

fn read_script(p: &Path) -> Option<String> {
    let meta = std::fs::metadata(p).ok()?;
    if !meta.is_file() || meta.len() > MAX_SCRIPT {
        return None;
    }
    std::fs::read_to_string(p).ok()
}

/// `text` with region `name`'s `LENGTH` (or `len`, `l`) in a `MEMORY`
/// command set to `length`: the expression after its `=`, up to the next
/// `,`, `}`, `;`, line end or comment. `None` when no `MEMORY` command
/// defines the region so.
pub(crate) fn with_length(text: &str, name: &str, length: u64) -> Option<String> {
    let mut from = 0;
    while let Some(mem) = word_at(text, "MEMORY", from) {
        let open = mem + text[mem..].find('{')?;
        let close = open + text[open..].find('}')?;
        from = close;
        // NAME, its `(attributes)`, then `:`.
        let mut at = open;
        let def = loop {
            let Some(i) = word_at(&text[..close], name, at) else {
                break None;
            };
            let rest = text[i + name.len()..close].trim_start();
            let rest = match rest.strip_prefix('(') {
                Some(r) => r.split_once(')').map_or("", |(_, r)| r).trim_start(),
                None => rest,
            };
            if rest.starts_with(':') {
                break Some(i);
            }
            at = i + name.len();
        };
        let Some(def) = def else { continue };
        let value = ["LENGTH", "len", "l"].iter().find_map(|k| {
            let i = word_at(&text[..close], k, def)?;
            let after = &text[i + k.len()..close];
            let eq = after.len() - after.trim_start().len();
            after
                .trim_start()
                .starts_with('=')
                .then_some(i + k.len() + eq + 1)
        })?;
        let rest = &text[value..];
        let end = [rest.find([',', '}', ';', '\n']), rest.find("/*")]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(rest.len());
        return Some(format!("{} {length:#x}{}", &text[..value], &rest[end..]));
    }
    None
}

/// The link `args` (run in `cwd`) pointed at a copy of the script that
/// defines `region`, written into `dir`, with the region `extra` bytes
/// longer than twice its length. `None` when no script the link names
/// defines the region on one line.
pub(crate) fn enlarge(
    args: &[String],
    cwd: &Path,
    region: &str,
    extra: u64,
    dir: &Path,
) -> Option<Enlarged> {
    let dirs = search_dirs(args);
    let mut queue: Vec<(PathBuf, bool, Via)> = script_args(args)
        .into_iter()
        .filter_map(|(index, given)| {
            let (p, in_cwd) = resolve(&given, cwd, &dirs)?;
            Some((p, in_cwd, Via::Arg { index, given }))
        })
        .collect();
    let mut seen = 0;
    while !queue.is_empty() && seen < MAX_SCRIPTS {
        let (path, in_cwd, via) = queue.remove(0);
        seen += 1;
        let Some(text) = read_script(&path) else {
            continue;
        };
        let found = crate::inspect::memory::regions(&text)
            .into_iter()
            .find(|r| r.name == region);
        let Some(original) = found else {
            for name in includes(&text) {
                if let Some((p, c)) = resolve(&name, cwd, &dirs) {
                    queue.push((p, c, Via::Include));
                }
            }
            continue;
        };
        let length = original.length.saturating_mul(2).saturating_add(extra);
        let new_text = with_length(&text, region, length)?;
        let file = path.file_name()?;
        std::fs::create_dir_all(dir).ok()?;
        let copy = dir.join(file);
        std::fs::write(&copy, &new_text).ok()?;
        // What the measuring side needs: the original length, the copy.
        let sidecar = format!("{}\n{}\n", original.length, copy.display());
        std::fs::write(dir.join(SIDECAR), sidecar).ok()?;
        return Some(Enlarged {
            args: pointed(args, &via, in_cwd, &copy, dir, cwd),
            cwd: (in_cwd && !matches!(via, Via::Arg { ref given, .. } if given.contains('/')))
                .then(|| dir.to_path_buf()),
        });
    }
    None
}

/// `args` pointed at `copy` (in `dir`): a `-T` path argument rewritten; a
/// script found by name searched for in `dir` first (and, when it was
/// found in the old working directory, that directory searched next).
fn pointed(
    args: &[String],
    via: &Via,
    in_cwd: bool,
    copy: &Path,
    dir: &Path,
    cwd: &Path,
) -> Vec<String> {
    let mut out = args.to_vec();
    if let Via::Arg { index, given } = via
        && (given.contains('/') || Path::new(given).is_absolute())
    {
        if let Some(a) = out.get_mut(*index) {
            *a = a.replacen(given.as_str(), &copy.display().to_string(), 1);
        }
        return out;
    }
    let mut front = vec![format!("-L{}", dir.display())];
    if in_cwd {
        front.push(format!("-L{}", cwd.display()));
    }
    // rust-lld takes `-flavor gnu` first.
    let at = if out.first().is_some_and(|a| a == "-flavor") {
        2
    } else {
        0
    };
    let at = at.min(out.len());
    out.splice(at..at, front);
    out
}

/// Run as the linker of a `bin` relink: `args` is `[own name, linker
/// args…]`; the real linker ([`REAL`]) is run with them pointed at the
/// enlarged script (unchanged when none defines the region), in the
/// working directory that needs, and its exit status is returned.
pub(crate) fn run_as_linker(args: &[OsString]) -> ExitCode {
    use std::os::unix::process::CommandExt;
    let real = std::env::var_os(REAL).unwrap_or_default();
    let region = std::env::var(REGION).unwrap_or_default();
    let dir = std::env::var_os(DIR).map(PathBuf::from).unwrap_or_default();
    let rest: Vec<String> = args
        .iter()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let extra = std::env::var(EXTRA)
        .ok()
        .and_then(|x| x.parse().ok())
        .unwrap_or(0);
    let cwd = std::env::current_dir().unwrap_or_default();
    let enlarged = enlarge(&rest, &cwd, &region, extra, &dir);
    let mut cmd = std::process::Command::new(&real);
    for k in [REAL, REGION, DIR, EXTRA] {
        cmd.env_remove(k);
    }
    match enlarged {
        Some(e) => {
            cmd.args(&e.args);
            if let Some(d) = e.cwd {
                cmd.current_dir(d);
            }
        }
        None => {
            cmd.args(&rest);
        }
    }
    let err = cmd.exec();
    let _ = writeln!(
        anstream::stderr(),
        "error: linkmatrix (relinking as {}) could not run it: {err}",
        real.to_string_lossy()
    );
    ExitCode::from(crate::model::EXIT_TOOL)
}

/// The rustc argument that marks a `bin` relink's final compilation.
pub(crate) const MARK_CFG: &str = "linkmatrix_relink";

/// In a `bin` relink (rustc's arguments hold `--cfg` [`MARK_CFG`], [`DIR`]
/// is set), point rustc at linkmatrix standing in for the linker it would
/// run: the last `-C linker=` of `args`, else `default` (the target
/// spec's linker). The stand-in is a link named like that linker (rustc
/// passes a linker arguments by its name's flavour), in [`DIR`]. Returns
/// the real linker, for [`REAL`]; `None` when this is not a relink.
pub(crate) fn stand_in(args: &mut Vec<OsString>, default: Option<&OsString>) -> Option<OsString> {
    let dir = PathBuf::from(std::env::var_os(DIR)?);
    let marked = args.windows(2).any(|w| {
        w[0] == "--cfg"
            && w[1]
                .to_string_lossy()
                .strip_prefix(MARK_CFG)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('='))
    });
    if !marked {
        return None;
    }
    let named = args.iter().rev().find_map(|a| {
        let s = a.to_string_lossy();
        s.strip_prefix("-Clinker=").map(OsString::from)
    });
    let real = named.or_else(|| default.cloned())?;
    let name = Path::new(&real).file_name()?.to_owned();
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).ok()?;
    let link = bin.join(&name);
    let exe = std::env::current_exe().ok()?;
    if std::fs::read_link(&link).ok().as_deref() != Some(exe.as_path()) {
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&exe, &link).ok()?;
    }
    let mut arg = OsString::from("-Clinker=");
    arg.push(&link);
    args.push(arg);
    Some(real)
}

/// Whether this process runs as a relink's linker: started under another
/// name (the real linker's) with [`REAL`] set.
pub(crate) fn is_linker(args: &[OsString]) -> bool {
    std::env::var_os(REAL).is_some()
        && args.first().is_some_and(|a| {
            Path::new(a).file_name().is_some_and(|n| {
                let n = n.to_string_lossy();
                !n.starts_with("linkmatrix") && !n.starts_with("cargo-linkmatrix")
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_regions_length_is_replaced_on_its_line() {
        let x = "MEMORY\n{\n  FLASH : ORIGIN = 0x08000000, LENGTH = 48K\n  RAM : ORIGIN = 0x20000000, LENGTH = 16K\n}\n";
        let y = with_length(x, "FLASH", 0x20000).unwrap();
        assert_eq!(
            y,
            "MEMORY\n{\n  FLASH : ORIGIN = 0x08000000, LENGTH = 0x20000\n  RAM : ORIGIN = 0x20000000, LENGTH = 16K\n}\n"
        );
        let r = crate::inspect::memory::regions(&y);
        assert_eq!(r[0].length, 0x20000);
        assert_eq!(r[1].length, 16 * 1024);
        assert!(with_length(x, "ROM", 1).is_none());
        let attrs = "MEMORY {\n  FLASH (rx) : org = 0x0, len = 64K /* main */\n}\n";
        assert_eq!(
            with_length(attrs, "FLASH", 0x100).unwrap(),
            "MEMORY {\n  FLASH (rx) : org = 0x0, len = 0x100/* main */\n}\n"
        );
        // linkmatrix's own generic template: one line.
        let one = "MEMORY { MEM (rwx) : ORIGIN = 0x0, LENGTH = 1M }\n";
        assert_eq!(
            with_length(one, "MEM", 0x0030_0000).unwrap(),
            "MEMORY { MEM (rwx) : ORIGIN = 0x0, LENGTH = 0x300000}\n"
        );
    }

    #[test]
    fn scripts_and_search_directories_of_a_link() {
        let args: Vec<String> = [
            "-flavor",
            "gnu",
            "-L",
            "/a",
            "-L/b",
            "-Tlink.x",
            "-T",
            "/abs/x.ld",
            "-Wl,-T,y.ld",
            "--script=z.ld",
            "-Ttext=0x0",
        ]
        .map(str::to_owned)
        .into();
        assert_eq!(
            search_dirs(&args),
            [PathBuf::from("/a"), PathBuf::from("/b")]
        );
        let names: Vec<String> = script_args(&args).into_iter().map(|(_, n)| n).collect();
        assert_eq!(names, ["link.x", "/abs/x.ld", "y.ld", "z.ld"]);
        assert_eq!(
            includes("INCLUDE memory.x\n/* INCLUDE no.x */\nINCLUDE \"d.x\";"),
            ["memory.x", "d.x"]
        );
    }

    /// cortex-m-rt's `link.x` includes `memory.x` from a `-L` directory:
    /// the copy goes in a directory searched first, the region twice its
    /// length plus the overflow.
    #[test]
    fn a_region_included_by_name_is_enlarged_in_a_directory_searched_first() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("out");
        std::fs::create_dir_all(&out).unwrap();
        std::fs::write(out.join("link.x"), "INCLUDE memory.x\nSECTIONS {}\n").unwrap();
        std::fs::write(
            out.join("memory.x"),
            "MEMORY { FLASH : ORIGIN = 0x0, LENGTH = 1K\n}\n",
        )
        .unwrap();
        let args: Vec<String> = [
            "-flavor",
            "gnu",
            "-L",
            out.to_str().unwrap(),
            "-Tlink.x",
            "a.o",
        ]
        .map(str::to_owned)
        .into();
        let dir = d.path().join("relink");
        let e = enlarge(&args, d.path(), "FLASH", 100, &dir).unwrap();
        let (length, regions) = enlarged_in(&dir).unwrap();
        assert_eq!(length, 1024);
        assert_eq!(regions[0].length, 2048 + 100);
        assert_eq!(
            e.args[..3],
            [
                "-flavor".to_owned(),
                "gnu".to_owned(),
                format!("-L{}", dir.display())
            ]
        );
        assert!(e.cwd.is_none());
        assert!(dir.join("memory.x").is_file());
    }
}

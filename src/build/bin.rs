//! `mode: bin`: cargo builds and links the crate's binary itself, with
//! the crate's own linker configuration (`.cargo/config.toml` rustflags
//! such as `-Tlink.x`, `memory.x` and `defmt.x` from build scripts, its
//! `-C linker`). linkmatrix adds only link arguments that leave the
//! loaded image as it is: `--emit-relocs` (the relocations `inspect`
//! follows for chains and policy) and lld's DWARF tombstones for removed
//! code. They go after `cargo rustc --bin NAME --`, so they are in cargo's
//! fingerprint: an artifact linked with other arguments is never reused.
//!
//! A failed link is linked again permissively (unresolved symbols
//! allowed, the output kept) to give the image the undefined references
//! are attributed in.
use std::path::{Path, PathBuf};
use std::time::Duration;

use cargo_metadata::Message;

use super::{BuildFailure, RustSetup, cargo};
use crate::model::Cell;
use crate::process::Cmd;
use crate::wrapper::LINK_ARGS;

/// How many of [`LINK_ARGS`] the normal link takes; the rest make the
/// permissive one.
const NORMAL: usize = 4;

/// How the binary's link went.
#[derive(Debug)]
pub(crate) enum Linked {
    /// The binary linked.
    Ok {
        /// The ELF cargo wrote.
        elf: PathBuf,
        /// The directories the build's scripts added to the link search
        /// (`cargo:rustc-link-search`), in cargo's order: where the
        /// linker found `memory.x` and the like.
        link_search: Vec<PathBuf>,
        /// The rlibs cargo reports for the build (every dependency's):
        /// whose objects the link took.
        rlibs: Vec<PathBuf>,
        /// The binary's crate name (`my_fw` of bin `my-fw`).
        krate: String,
    },
    /// The link failed.
    Failed {
        /// The linker rustc ran (`rust-lld`, `flip-link`, `arm-none-eabi-gcc`).
        linker: String,
        /// rustc's report of the failure, with the linker's messages.
        diagnostics: String,
        /// The permissive link's image, when that one linked.
        image: Option<PathBuf>,
    },
}

/// The executable cargo reports in its JSON messages.
fn executable(stdout: &[u8]) -> Option<PathBuf> {
    Message::parse_stream(stdout)
        .flatten()
        .filter_map(|m| match m {
            Message::CompilerArtifact(a) => a.executable,
            _ => None,
        })
        .last()
        .map(cargo_metadata::camino::Utf8PathBuf::into_std_path_buf)
}

/// The rlibs of every crate cargo's JSON messages report, and the crate
/// name of the (last) executable's target.
fn artifacts(stdout: &[u8]) -> (Vec<PathBuf>, String) {
    let mut rlibs = Vec::new();
    let mut krate = String::new();
    for m in Message::parse_stream(stdout).flatten() {
        let Message::CompilerArtifact(a) = m else {
            continue;
        };
        if a.executable.is_some() {
            krate = a.target.name.replace('-', "_");
        }
        rlibs.extend(
            a.filenames
                .into_iter()
                .filter(|f| f.extension() == Some("rlib"))
                .map(cargo_metadata::camino::Utf8PathBuf::into_std_path_buf),
        );
    }
    (rlibs, krate)
}

/// The link search directories cargo's JSON messages report for the
/// build's scripts (`native=DIR`, `all=DIR` or a bare `DIR`), each once.
fn link_search(stdout: &[u8]) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    for m in Message::parse_stream(stdout).flatten() {
        let Message::BuildScriptExecuted(b) = m else {
            continue;
        };
        for p in b.linked_paths {
            let p = p.as_str();
            let dir = p.split_once('=').map_or(p, |(_, d)| d);
            let dir = PathBuf::from(dir);
            if !out.contains(&dir) {
                out.push(dir);
            }
        }
    }
    out
}

/// What rustc's "linking with `X` failed" error says, without the linker
/// command line (the reproduce command gives that): the linker's own
/// lines, dedented.
fn linker_messages(rendered: &str) -> String {
    let mut out = Vec::new();
    for line in rendered.lines().skip(1) {
        let t = line.trim_start();
        let t = t.strip_prefix("= note: ").unwrap_or(t);
        let t = t.trim_start_matches('|').trim();
        // The command line, and rustc's remarks about it.
        if t.is_empty()
            || t.starts_with('"')
            || t.starts_with("LC_ALL=")
            || t.starts_with("some arguments are omitted")
            || t.starts_with("note: some arguments are omitted")
        {
            continue;
        }
        // lld's `>>> referenced by` lines keep their indent.
        if t.starts_with(">>>") {
            out.push(format!(">>> {}", t.trim_start_matches('>').trim_start()));
        } else {
            out.push(t.to_owned());
        }
    }
    out.join("\n")
}

/// One cell's binary: what `cargo rustc --bin` needs.
pub(crate) struct BinJob<'a> {
    /// The toolchain.
    pub(crate) setup: &'a RustSetup,
    /// The crate's manifest.
    pub(crate) manifest: &'a Path,
    /// The cell.
    pub(crate) cell: &'a Cell,
    /// The binary (`None`: the package's only one).
    pub(crate) bin: Option<&'a str>,
    /// The cargo target directory.
    pub(crate) target_dir: &'a Path,
    /// Per-command timeout.
    pub(crate) timeout: Option<Duration>,
    /// Where each command is shown.
    pub(crate) log: &'a dyn Fn(&Cmd),
}

impl BinJob<'_> {
    /// `cargo rustc --bin NAME -- <link args> <extra>`: the normal link,
    /// or the permissive one.
    fn command(&self, permissive: bool, extra: &[&str]) -> Cmd {
        let head: Vec<&str> = match self.bin {
            Some(b) => vec!["rustc", "--bin", b],
            // The package's only binary (cargo says so when there are more).
            None => vec!["rustc", "--bins"],
        };
        let n = if permissive { LINK_ARGS.len() } else { NORMAL };
        cargo(
            self.setup,
            self.manifest,
            self.cell,
            self.target_dir,
            self.timeout,
            &head,
        )
        .arg("--")
        .args(LINK_ARGS[..n].iter().map(|a| format!("-Clink-arg={a}")))
        .args(extra)
    }

    /// Build and link the binary; on a failed link, link it again
    /// permissively for inspection.
    pub(crate) fn build(&self) -> Result<Linked, BuildFailure> {
        let cmd = self.command(false, &[]);
        (self.log)(&cmd);
        let err = match cmd.run() {
            Ok(out) => {
                return executable(&out.stdout)
                    .map(|elf| {
                        let (rlibs, krate) = artifacts(&out.stdout);
                        Linked::Ok {
                            elf,
                            link_search: link_search(&out.stdout),
                            rlibs,
                            krate,
                        }
                    })
                    .ok_or_else(|| {
                        BuildFailure::tool(format!("cargo reported no executable ({cmd})"))
                    });
            }
            Err(e) => e,
        };
        let mut f = BuildFailure::from_process("cargo build failed", &err);
        if f.message
            .contains("extra arguments to `rustc` can only be passed to one target")
        {
            f.message = format!(
                "the package has more than one binary: say which with `bin: NAME` in the matrix\n{}",
                f.message
            );
            f.cause = super::Cause::Tool;
        }
        let Some(link) = f
            .errors
            .iter()
            .find(|e| e.rendered.starts_with("error: linking with `"))
        else {
            return Err(f);
        };
        let linker = link
            .rendered
            .split('`')
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        let diagnostics = linker_messages(&link.rendered);
        let again = self.command(true, &[]);
        (self.log)(&again);
        let image = again.run().ok().and_then(|o| executable(&o.stdout));
        Ok(Linked::Failed {
            linker,
            diagnostics,
            image,
        })
    }

    /// The binary linked permissively once more with memory region
    /// `region` made large enough (`extra`: the bytes it overflowed by):
    /// linkmatrix stands in for the linker (see [`crate::relink`]),
    /// writing the enlarged script into `dir`. The image, when it linked.
    pub(crate) fn relink_enlarged(&self, region: &str, extra: u64, dir: &Path) -> Option<PathBuf> {
        use crate::relink;
        // The mark names the relink, so cargo links again for another
        // (its arguments are in the fingerprint) and keeps this one's
        // output fresh (the enlarged script it measured stays beside it).
        let mark = format!("{}=\"{region}-{extra}\"", relink::MARK_CFG);
        let cmd = self
            .command(true, &["--cfg", &mark])
            .env(relink::REGION, region)
            .env(relink::EXTRA, extra.to_string())
            .env(relink::DIR, dir);
        (self.log)(&cmd);
        let out = cmd.run().ok()?;
        executable(&out.stdout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linker_messages_drop_the_command_line() {
        let rendered = "error: linking with `rust-lld` failed: exit status: 1\n  |\n  = note:  \"rust-lld\" \"-flavor\" \"gnu\" \"/tmp/x.o\"\n  = note: some arguments are omitted. use `--verbose` to show all linker arguments\n  = note: rust-lld: error: undefined symbol: _critical_section_1_0_acquire\n          >>> referenced by lib.rs:28 (src/lib.rs:28)\n          >>>               fw-1.o:(fw::bump)\n\n";
        assert_eq!(
            linker_messages(rendered),
            "rust-lld: error: undefined symbol: _critical_section_1_0_acquire\n>>> referenced by lib.rs:28 (src/lib.rs:28)\n>>> fw-1.o:(fw::bump)"
        );
    }
}

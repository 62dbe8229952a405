//! Building one cell: the crate with cargo (for the cell's target, features
//! and profile, as a staticlib; artifact paths from cargo's JSON messages),
//! and the target's platform sources with the target's C compiler (flags
//! from the target file, `-DCONFIG_*` from the cell's options). Every
//! command goes through `process`, so timeouts and Ctrl-C reach it.
//!
//! A failure here is data (`BuildFailure`), turned into a `build-error`
//! finding by the caller.
mod bin;

use std::path::{Path, PathBuf};
use std::time::Duration;

use cargo_metadata::Message;

use crate::model::{Cell, Target, Value};
use crate::process::{Cmd, ProcessError};
use crate::toolchain::{Rust, Tool};
pub(crate) use bin::{BinJob, Linked};

/// How the crate is compiled for a cell.
#[derive(Clone, Debug)]
pub(crate) struct RustSetup {
    /// The toolchain.
    pub(crate) rust: Rust,
    /// A sysroot to pass with `--sysroot` (build-std providers).
    pub(crate) sysroot: Option<PathBuf>,
    /// The linker for final links when rustc's own (`rust-lld`) is not
    /// there (a built sysroot has none; Debian's rustc ships none).
    pub(crate) linker: Option<PathBuf>,
    /// How rustc's default linker for the target takes linker options
    /// (its target spec's flavour; `None`: not known): where linkmatrix's
    /// own link arguments in `bin` mode become `-Wl,…`.
    pub(crate) flavor: Option<crate::model::LinkerFlavor>,
    /// The linker rustc runs for the target when the crate names none
    /// (its target spec's: `rust-lld`, `cc`).
    pub(crate) default_linker: Option<String>,
    /// Ask rustc for the staticlib's native libraries
    /// (`--print=native-static-libs`): the target links them.
    pub(crate) native_libs: bool,
}

impl RustSetup {
    /// What the rustc wrapper adds to the cell's target compilations, and
    /// the user's own wrapper it runs (for a build in `dir`).
    pub(crate) fn injection(&self, flags: Vec<String>, dir: &Path) -> crate::wrapper::Injection {
        crate::wrapper::Injection {
            sysroot: self.sysroot.clone(),
            linker: self.linker.clone(),
            flavor: self.flavor,
            default_linker: self.default_linker.clone(),
            flags,
            // Checked before any cell runs (`wrapper::check_environment`).
            chain: crate::wrapper::user_wrapper(dir)
                .ok()
                .flatten()
                .map(|w| w.program),
        }
    }
}

/// Why a build failed: a message for the report, and whether it was the
/// code (a finding) or the tool (an error, and which).
#[derive(Debug)]
pub(crate) struct BuildFailure {
    /// What to show.
    pub(crate) message: String,
    /// Who failed: the code, or the tool and how.
    pub(crate) cause: Cause,
    /// rustc's errors, each where rustc points (empty when cargo failed
    /// before compiling, or for C).
    pub(crate) errors: Vec<CompilerError>,
}

/// Who a [`BuildFailure`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cause {
    /// The compiler rejected the code: a finding.
    Code,
    /// The tool could not run it (signal, missing program, no artifact,
    /// a file it could not write): an error.
    Tool,
    /// It was stopped: Ctrl-C or the cell's time limit.
    Stopped(crate::process::Stop),
}

impl BuildFailure {
    /// A failure of the tool (not the code) saying `message`.
    pub(crate) fn tool(message: String) -> Self {
        Self {
            message,
            cause: Cause::Tool,
            errors: Vec::new(),
        }
    }

    /// The compiler rejected the code.
    pub(crate) fn is_code(&self) -> bool {
        self.cause == Cause::Code
    }
}

/// One error rustc reported, from cargo's JSON messages.
#[derive(Debug, Clone)]
pub(crate) struct CompilerError {
    /// The crate being compiled.
    pub(crate) krate: String,
    /// rustc's rendered text.
    pub(crate) rendered: String,
    /// The primary span's file (followed out of macro expansions to the
    /// invocation), absolute when it could be found.
    pub(crate) file: Option<String>,
    /// Its line.
    pub(crate) line: Option<u32>,
}

/// At most this many rustc errors become findings; the rest are counted.
pub(crate) const MAX_COMPILER_ERRORS: usize = 20;

/// rustc's errors in cargo's `--message-format json` output.
pub(crate) fn compiler_errors(stdout: &str) -> Vec<CompilerError> {
    use cargo_metadata::diagnostic::DiagnosticLevel;
    let mut out = Vec::new();
    for msg in Message::parse_stream(stdout.as_bytes()).flatten() {
        let Message::CompilerMessage(m) = msg else {
            continue;
        };
        let d = &m.message;
        if !matches!(d.level, DiagnosticLevel::Error | DiagnosticLevel::Ice) {
            continue;
        }
        let mut span = d.spans.iter().find(|s| s.is_primary).cloned();
        while let Some(e) = span.as_ref().and_then(|s| s.expansion.clone()) {
            span = Some(e.span);
        }
        // A relative span is relative to where cargo ran rustc: the
        // workspace root or the package's directory; find it upward from
        // the crate's source.
        let file = span.as_ref().map(|s| {
            let rel = Path::new(&s.file_name);
            if rel.is_absolute() {
                return s.file_name.clone();
            }
            m.target
                .src_path
                .as_std_path()
                .ancestors()
                .skip(1)
                .map(|a| a.join(rel))
                .find(|p| p.is_file())
                .map_or_else(|| s.file_name.clone(), |p| p.display().to_string())
        });
        out.push(CompilerError {
            krate: m.target.name.clone(),
            rendered: d
                .rendered
                .clone()
                .unwrap_or_else(|| d.message.clone())
                .trim_end()
                .to_owned(),
            file,
            line: span.map(|s| u32::try_from(s.line_start).unwrap_or(0)),
        });
    }
    out
}

impl BuildFailure {
    /// From a process error: compiler diagnostics are findings; the rest
    /// are errors.
    pub(crate) fn from_process(what: &str, e: &ProcessError) -> Self {
        match e {
            ProcessError::Failed {
                status,
                stderr,
                stdout,
                ..
            } if status.starts_with("exit status") => {
                // rustc's errors are in cargo's JSON on stdout, cargo's and
                // build scripts' on stderr: a resource fault in either is
                // the machine's.
                let fault = crate::process::resource_fault(stderr)
                    .or_else(|| crate::process::resource_fault(stdout));
                match fault {
                    Some(line) => Self::tool(format!(
                        "{what}: the machine, not the code, stopped it: {line}\n{}",
                        trim_diagnostics(stderr)
                    )),
                    None if asks_for_a_missing_feature(stderr) => Self::tool(format!(
                        "{what}: the matrix asks for a feature the package does not have (check the option's `feature:` in the matrix file):\n{}",
                        trim_diagnostics(stderr)
                    )),
                    None => Self {
                        message: format!("{what}:\n{}", trim_diagnostics(stderr)),
                        cause: Cause::Code,
                        errors: compiler_errors(stdout),
                    },
                }
            }
            ProcessError::Interrupted { .. } => Self {
                message: "interrupted".to_owned(),
                cause: Cause::Stopped(crate::process::Stop::Interrupted),
                errors: Vec::new(),
            },
            other => Self {
                message: format!("{what}: {other}"),
                cause: other.stop().map_or(Cause::Tool, Cause::Stopped),
                errors: Vec::new(),
            },
        }
    }
}

/// Whether cargo refused the build because a requested feature does not
/// exist: cargo's "the package 'p' does not contain this feature: f"
/// (or "these features") and "none of the selected packages contains
/// this feature". That is the matrix's mistake, never the code's.
fn asks_for_a_missing_feature(stderr: &str) -> bool {
    stderr.lines().any(|l| {
        l.starts_with("error: ")
            && (l.contains("does not contain this feature")
                || l.contains("does not contain these features")
                || l.contains("none of the selected packages contains"))
    })
}

/// Keep the error lines of compiler output (and what follows each), capped.
pub(crate) fn trim_diagnostics(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().collect();
    let mut keep = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i];
        if l.starts_with("error") || l.contains(": error") || l.contains("error:") {
            let end = (i + 12).min(lines.len());
            for x in &lines[i..end] {
                if x.trim_start().starts_with("Compiling") {
                    break;
                }
                keep.push(*x);
            }
            i = end;
        } else {
            i += 1;
        }
    }
    let text = if keep.is_empty() {
        lines
            .iter()
            .rev()
            .take(20)
            .rev()
            .copied()
            .collect::<Vec<_>>()
            .join("\n")
    } else {
        keep.join("\n")
    };
    let mut text = text.trim().to_owned();
    if text.len() > 8000 {
        let mut cut = 8000;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str("\n… (truncated)");
    }
    text
}

/// The rustc flags every target compilation gets (through the wrapper,
/// so not in cargo's fingerprints: the build directory's name covers
/// them). Full debug info, kept in linked binaries (cargo strips it from a
/// profile without `debug`): file:line and inlined frames come from it.
pub(crate) const FLAGS: &[&str] = &["-Cdebuginfo=2", "-Cstrip=none"];

/// The cargo command that builds `cell`'s crate as a staticlib.
pub(crate) fn cargo_command(
    setup: &RustSetup,
    manifest: &Path,
    cell: &Cell,
    target_dir: &Path,
    timeout: Option<Duration>,
) -> Cmd {
    let cmd = cargo(
        setup,
        manifest,
        cell,
        target_dir,
        timeout,
        &["rustc", "--lib", "--crate-type", "staticlib"],
    );
    if setup.native_libs {
        cmd.args(["--", "--print=native-static-libs"])
    } else {
        cmd
    }
}

/// The libraries in rustc's `native-static-libs` note (`-lgcc_s -lc`),
/// as it prints them.
fn native_static_libs(rendered: &str) -> Option<Vec<String>> {
    let (_, libs) = rendered.split_once("native-static-libs:")?;
    let line = libs.lines().next().unwrap_or_default();
    Some(line.split_whitespace().map(str::to_owned).collect())
}

/// `cargo <head…>` for `cell`: its target, profile, exactly its features,
/// JSON messages, the sysroot and flags through the rustc wrapper, and
/// what its option values set.
pub(super) fn cargo(
    setup: &RustSetup,
    manifest: &Path,
    cell: &Cell,
    target_dir: &Path,
    timeout: Option<Duration>,
    head: &[&str],
) -> Cmd {
    let mut flags: Vec<String> = FLAGS.iter().map(|f| (*f).to_owned()).collect();
    flags.extend(cell.settings.rustflags.iter().cloned());
    let dir = manifest.parent().unwrap_or(Path::new("."));
    let cmd = Cmd::new(&setup.rust.cargo)
        .args(head)
        .arg("--manifest-path")
        .arg(manifest)
        .args(["--target", &cell.target])
        .args(["--profile", &cell.profile])
        // Exactly the cell's features: an option that is a default feature
        // is off in the cells that say so.
        .arg("--no-default-features")
        // rustc's diagnostics as JSON: each error with its primary span.
        .args(["--message-format", "json", "--color", "never"])
        .env("RUSTC", &setup.rust.rustc)
        .env("CARGO_TARGET_DIR", target_dir)
        // cargo reads `.cargo/config.toml` from its working directory up,
        // not from the manifest's: from the package's directory, the
        // crate's own configuration (its rustflags, `-Tlink.x`) applies
        // wherever linkmatrix was started.
        .current_dir(dir)
        .timeout(timeout);
    // The sysroot and linkmatrix's flags through the rustc wrapper: the
    // crate's own `.cargo/config.toml` rustflags stay in force.
    let mut cmd = setup.injection(flags, dir).apply(cmd);
    if !cell.features.is_empty() {
        cmd = cmd.arg("--features").arg(cell.features.join(","));
    }
    // What the cell's option values set (validated not to touch the above).
    for (k, v) in &cell.settings.env {
        cmd = cmd.env(k, v);
    }
    cmd.args(&cell.settings.cargo_args)
}

/// What building the crate produced.
#[derive(Debug)]
pub(crate) struct Built {
    /// The staticlib.
    pub(crate) staticlib: PathBuf,
    /// The crate's name (`-` as `_`), the prefix of its archive members.
    pub(crate) crate_name: String,
    /// What the build scripts ask the final link for.
    pub(crate) link: BuildScriptLink,
    /// The native libraries the staticlib needs, as rustc's
    /// `native-static-libs` says (`-lgcc_s`, `-lc`; empty unless asked).
    pub(crate) native: Vec<String>,
}

impl Built {
    /// This build with its staticlib copied into `dir`: a shared target
    /// directory is rewritten by the next cell's build.
    pub(crate) fn copied_to(mut self, dir: &Path) -> Result<Self, BuildFailure> {
        self.staticlib = copy_into(&self.staticlib, dir)?;
        Ok(self)
    }
}

/// Copy `file` into `dir` (written aside and renamed, so no reader sees
/// half a file); the copy's path.
pub(crate) fn copy_into(file: &Path, dir: &Path) -> Result<PathBuf, BuildFailure> {
    let fail = |e: std::io::Error| {
        BuildFailure::tool(format!(
            "copying {} into {}: {e}",
            file.display(),
            dir.display()
        ))
    };
    let name = file
        .file_name()
        .map_or_else(|| "artifact".into(), std::ffi::OsStr::to_os_string);
    let dest = dir.join(&name);
    let tmp = dir.join(format!(".{}.tmp", name.to_string_lossy()));
    std::fs::copy(file, &tmp).map_err(fail)?;
    std::fs::rename(&tmp, &dest).map_err(fail)?;
    Ok(dest)
}

/// Link inputs build scripts declared, as cargo reports them: search
/// paths (`cargo:rustc-link-search`, e.g. defmt's directory holding
/// `defmt.x`) and unbundled static libraries from every package, and the
/// crate's own `cargo:rustc-link-arg`s (cargo applies a package's link
/// args to its own final links only).
#[derive(Debug, Default, Clone)]
pub(crate) struct BuildScriptLink {
    /// `-L` directories.
    pub(crate) search: Vec<PathBuf>,
    /// Linker arguments (`-Tlink.x`).
    pub(crate) args: Vec<String>,
    /// `-l` libraries, after the crate.
    pub(crate) libs: Vec<String>,
}

impl BuildScriptLink {
    fn add(&mut self, b: &cargo_metadata::BuildScript) {
        for p in &b.linked_paths {
            // `native=/dir`, `all=/dir`, or `/dir`.
            let p = p.as_str();
            let dir = match p.split_once('=') {
                Some(("native" | "all" | "crate" | "dependency" | "framework", dir)) => dir,
                _ => p,
            };
            let dir = PathBuf::from(dir);
            if !self.search.contains(&dir) {
                self.search.push(dir);
            }
        }
        for l in &b.linked_libs {
            // A bundled static library is already inside the staticlib; a
            // dylib has no place in a freestanding image.
            let l = l.as_str();
            if let Some((kind, name)) = l.split_once('=')
                && kind.starts_with("static:")
                && kind.contains("-bundle")
            {
                let name = name.split_once(':').map_or(name, |(n, _)| n);
                if !self.libs.iter().any(|x| x == name) {
                    self.libs.push(name.to_owned());
                }
            }
        }
    }

    /// The package's own `cargo:rustc-link-arg`s, from the `output` file
    /// cargo keeps beside the build script's `out` directory.
    fn own_args(&mut self, b: &cargo_metadata::BuildScript) {
        let Some(dir) = b.out_dir.parent() else {
            return;
        };
        let Ok(text) = std::fs::read_to_string(dir.join("output")) else {
            return;
        };
        for line in text.lines() {
            let Some(rest) = line
                .strip_prefix("cargo::")
                .or_else(|| line.strip_prefix("cargo:"))
            else {
                continue;
            };
            if let Some(arg) = rest.strip_prefix("rustc-link-arg=") {
                self.args.push(arg.to_owned());
            }
        }
    }
}

/// Build the crate as a staticlib.
pub(crate) fn build_crate(
    setup: &RustSetup,
    manifest: &Path,
    package: &str,
    cell: &Cell,
    target_dir: &Path,
    timeout: Option<Duration>,
    log: &dyn Fn(&Cmd),
) -> Result<Built, BuildFailure> {
    let cmd = cargo_command(setup, manifest, cell, target_dir, timeout);
    log(&cmd);
    let out = cmd
        .run()
        .map_err(|e| BuildFailure::from_process("cargo build failed", &e))?;
    // The one artifact built as a staticlib is the crate's (its
    // dependencies are rlibs); its target name is the crate name, which may
    // differ from the package name. Build scripts run before the crates
    // that use them, so theirs come first.
    let mut link = BuildScriptLink::default();
    let mut scripts = Vec::new();
    let mut native = Vec::new();
    for msg in Message::parse_stream(out.stdout.as_slice()).flatten() {
        match msg {
            Message::BuildScriptExecuted(b) => {
                link.add(&b);
                scripts.push(b);
            }
            // rustc's note comes before the artifact.
            Message::CompilerMessage(m) => {
                if let Some(libs) = m.message.rendered.as_deref().and_then(native_static_libs) {
                    native = libs;
                }
            }
            Message::CompilerArtifact(a)
                if a.target
                    .crate_types
                    .contains(&cargo_metadata::CrateType::StaticLib) =>
            {
                if let Some(f) = a.filenames.iter().find(|f| f.as_str().ends_with(".a")) {
                    if let Some(own) = scripts.iter().find(|b| b.package_id == a.package_id) {
                        link.own_args(own);
                    }
                    return Ok(Built {
                        staticlib: f.clone().into_std_path_buf(),
                        crate_name: a.target.name.replace('-', "_"),
                        link,
                        native,
                    });
                }
            }
            _ => {}
        }
    }
    Err(BuildFailure::tool(format!(
        "cargo reported no staticlib artifact for `{package}` ({cmd})"
    )))
}

/// `CONFIG_*` macros for a cell: each true bool option, each choice value,
/// and the arch.
pub(crate) fn defines(cell: &Cell) -> Vec<String> {
    let up = |s: &str| s.to_ascii_uppercase().replace(['-', '.'], "_");
    let mut out = Vec::new();
    for (k, v) in &cell.options {
        match v {
            Value::Bool(true) => out.push(format!("CONFIG_{}", up(k))),
            Value::Str(s) if k == "arch" => out.push(format!("CONFIG_ARCH_{}", up(s))),
            Value::Str(s) if s != "off" => out.push(format!("CONFIG_{}_{}", up(k), up(s))),
            _ => {}
        }
    }
    out
}

/// Compile the platform sources; the objects, in source order.
///
/// `cc` is the C compiler with the `cc` crate's flags for the triple
/// (found by `toolchain::cc_args` in a child process: cc runs the compiler
/// itself to detect it, and that run must be under a timeout); the target
/// file's `cc.target` and `cc.flags` come after them, then its include
/// directories and the cell's `-DCONFIG_*`.
pub(crate) fn build_platform(
    target: &Target,
    cc: Option<&(Tool, Vec<String>)>,
    cell: &Cell,
    out_dir: &Path,
    timeout: Option<Duration>,
    log: &dyn Fn(&Cmd),
) -> Result<Vec<PathBuf>, BuildFailure> {
    let Some((cc, base)) = cc.filter(|_| !target.sources.is_empty()) else {
        return Ok(Vec::new());
    };
    std::fs::create_dir_all(out_dir)
        .map_err(|e| BuildFailure::tool(format!("creating {}: {e}", out_dir.display())))?;
    let mut args: Vec<String> = base.clone();
    if let Some(t) = &target.cc_triple {
        args.push(format!("--target={t}"));
    }
    args.extend(target.cflags.iter().cloned());
    args.extend(target.include.iter().map(|i| format!("-I{}", i.display())));
    args.extend(defines(cell).into_iter().map(|d| format!("-D{d}")));
    let mut objs = Vec::new();
    for (i, src) in target.sources.iter().enumerate() {
        let stem = src
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let obj = out_dir.join(format!("{i:02}-{stem}.o"));
        let cmd = Cmd::new(&cc.path)
            .args(&args)
            .arg("-c")
            .arg(src)
            .arg("-o")
            .arg(&obj)
            .timeout(timeout);
        log(&cmd);
        cmd.run()
            .map_err(|e| BuildFailure::from_process(&format!("compiling {}", src.display()), &e))?;
        objs.push(obj);
    }
    Ok(objs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(stderr: &str, stdout: &str) -> ProcessError {
        ProcessError::Failed {
            command: "cargo build".to_owned(),
            status: "exit status 101".to_owned(),
            stderr: stderr.to_owned(),
            stdout: stdout.to_owned(),
        }
    }

    #[test]
    fn a_full_disk_or_a_missing_feature_is_not_the_codes_failure() {
        // rustc's error in cargo's JSON (stdout), as a full /tmp gave it.
        let json = r#"{"reason":"compiler-message","message":{"rendered":"error: failed to build archive at `libr.rlib`: No space left on device (os error 28)\n"}}"#;
        let f = BuildFailure::from_process(
            "cargo build",
            &failed("error: could not compile `r`", json),
        );
        assert!(!f.is_code(), "{}", f.message);
        assert!(
            f.message.contains("No space left on device"),
            "{}",
            f.message
        );
        let typo = BuildFailure::from_process(
            "cargo build",
            &failed(
                "error: the package 'demo' does not contain this feature: fsat\nhelp: package with the missing feature: demo",
                "",
            ),
        );
        assert!(!typo.is_code(), "{}", typo.message);
        assert!(typo.message.contains("fsat"), "{}", typo.message);
        let code = BuildFailure::from_process(
            "cargo build",
            &failed("error[E0425]: cannot find value `x`", ""),
        );
        assert!(code.is_code());
    }
}

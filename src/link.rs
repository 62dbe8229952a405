//! Linking one cell with the target's real linker. Image mode: startup +
//! platform + crate into an executable with the target's linker script,
//! from the entry point and the crate's exported functions. Module mode:
//! the crate as a relocatable module (`-r`), and the platform alone as the
//! image whose exports the module is checked against.
//!
//! The linker's own diagnostics are kept. When a link fails, or for a
//! module, a second, permissive link (`--emit-relocs`, unresolved symbols
//! ignored) produces the image that `inspect` reads, so a failed cell is
//! still inspected.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::model::{LinkerFlavor, Target};
use crate::process::Cmd;
use crate::toolchain::Tool;

/// A linker invocation's result.
#[derive(Debug)]
pub(crate) struct LinkResult {
    /// The linker exited 0.
    pub(crate) success: bool,
    /// The output, if the linker wrote one.
    pub(crate) output: Option<PathBuf>,
    /// Its stderr (warnings and errors).
    pub(crate) diagnostics: String,
    /// The command line.
    pub(crate) command: String,
}

/// How a link went wrong for the tool itself (not the code).
#[derive(Debug)]
pub(crate) struct LinkToolError {
    /// The message.
    pub(crate) message: String,
    /// The linker was stopped (Ctrl-C, the cell's time limit).
    pub(crate) stop: Option<crate::process::Stop>,
}

impl LinkToolError {
    fn new(message: String) -> Self {
        Self {
            message,
            stop: None,
        }
    }
}

fn base(linker: &Tool) -> Cmd {
    let cmd = Cmd::new(&linker.path);
    if linker.path.file_name().is_some_and(|n| n == "rust-lld") {
        cmd.args(["-flavor", "gnu"])
    } else {
        cmd
    }
}

/// The options linkmatrix itself adds to links (in `ld`'s spelling): a
/// linker that refuses one of them fails the cell as an `error`, the
/// tool's fault, never as the crate's `fail` ([`refused_own_option`]).
pub(crate) const OWN_OPTIONS: &[&str] = &[
    "--emit-relocs",
    "dead-reloc-in-nonalloc",
    "--noinhibit-exec",
    "--unresolved-symbols",
    "--entry",
    "--undefined",
];

/// The line of `diagnostics` in which the linker (or its C driver)
/// refuses one of [`OWN_OPTIONS`] (`cc: error: unrecognized command-line
/// option '--emit-relocs'`, `ld.lld: error: unknown argument
/// '--emit-relocs'`), if any; a warning about one is no refusal.
pub(crate) fn refused_own_option(diagnostics: &str) -> Option<&str> {
    diagnostics.lines().find(|l| {
        let lower = l.to_ascii_lowercase();
        // A linker that only warns (gold: "ignoring unknown -z option")
        // went on: whatever failed the link was something else.
        !lower.contains("warning")
            && [
                "unrecognized",
                "unrecognised",
                "unknown",
                "invalid",
                "unsupported",
            ]
            .iter()
            .any(|w| lower.contains(w))
            && OWN_OPTIONS.iter().any(|o| l.contains(o))
    })
}

/// lld resolves debug-info references to functions `--gc-sections`
/// removed to 0 (1 in `.debug_ranges`/`.debug_loc`), so in an image linked
/// at address 0 their DWARF claims the live code there, and file:line and
/// inlined frames would name a dead function (often in `core`). The
/// DWARF tombstone (-1) instead makes readers skip them. GNU ld has no
/// such option; [`crate::inspect`] also refuses a location whose function
/// is not the symbol at that address.
fn tombstones(linker: &Tool, flavor: LinkerFlavor, cmd: Cmd) -> Cmd {
    let lld = linker
        .path
        .file_name()
        .is_some_and(|n| n.to_string_lossy().contains("lld"));
    // A C driver's linker is its own business (GNU ld has no such option).
    if !lld || flavor == LinkerFlavor::Cc {
        return cmd;
    }
    cmd.args([
        "-z",
        "dead-reloc-in-nonalloc=.debug_*=0xffffffffffffffff",
        // -1 is a base-address entry there; 1 makes an empty range.
        "-z",
        "dead-reloc-in-nonalloc=.debug_ranges=1",
        "-z",
        "dead-reloc-in-nonalloc=.debug_loc=1",
    ])
}

/// Fill the linker-script template.
pub(crate) fn render_script(template: &str, target: &Target) -> String {
    let mut vars: BTreeMap<&str, &str> = BTreeMap::new();
    vars.insert("name", &target.name);
    vars.insert("entry", &target.entry);
    vars.insert("triple", &target.triple);
    for (k, v) in &target.script_vars {
        vars.insert(k, v);
    }
    let mut out = template.to_owned();
    for (k, v) in vars {
        out = out.replace(&format!("{{{{{k}}}}}"), v);
    }
    out
}

/// The error of a link that failed on one of linkmatrix's own options.
pub(crate) fn refusal(command: &str, line: &str) -> String {
    format!(
        "the linker refused an option linkmatrix added, not the crate's fault (check the target's `linker.flavor`: `cc` for a C compiler driver, which takes `-Wl,…`; else report it): {}\n{command}",
        line.trim()
    )
}

fn run(cmd: &Cmd, output: &Path, log: &dyn Fn(&Cmd)) -> Result<LinkResult, LinkToolError> {
    log(cmd);
    let _ = std::fs::remove_file(output);
    let out = cmd.run_unchecked().map_err(|e| LinkToolError {
        message: e.to_string(),
        stop: e.stop(),
    })?;
    if out.status.code().is_none() {
        return Err(LinkToolError::new(format!(
            "{cmd}: linker {}",
            crate::process::describe_status(out.status)
        )));
    }
    let diagnostics = String::from_utf8_lossy(&out.stderr).into_owned();
    // A failure linkmatrix caused, or the machine, is no finding of the
    // crate's.
    if !out.status.success() {
        if let Some(line) = refused_own_option(&diagnostics) {
            return Err(LinkToolError::new(refusal(&cmd.to_string(), line)));
        }
        if let Some(line) = crate::process::resource_fault(&diagnostics) {
            return Err(LinkToolError::new(format!(
                "the machine, not the code, stopped the link: {line}\n{cmd}"
            )));
        }
    }
    Ok(LinkResult {
        success: out.status.success(),
        output: output.is_file().then(|| output.to_path_buf()),
        diagnostics,
        command: cmd.to_string(),
    })
}

/// Everything one link needs.
pub(crate) struct LinkInputs<'a> {
    /// The linker.
    pub(crate) linker: &'a Tool,
    /// The target.
    pub(crate) target: &'a Target,
    /// Platform objects (startup first).
    pub(crate) platform: &'a [PathBuf],
    /// The crate's staticlib.
    pub(crate) staticlib: &'a Path,
    /// Symbols to keep and follow (exported functions).
    pub(crate) roots: &'a [String],
    /// Where outputs go.
    pub(crate) dir: &'a Path,
    /// Per-command timeout.
    pub(crate) timeout: Option<Duration>,
    /// What the crate's build scripts ask the link for.
    pub(crate) scripts: &'a crate::build::BuildScriptLink,
    /// The native libraries rustc says the staticlib needs (`-lc`, …),
    /// linked after it when the target asks (`native-libs`).
    pub(crate) native: &'a [String],
}

impl LinkInputs<'_> {
    fn script(&self) -> Result<Option<PathBuf>, LinkToolError> {
        let Some(t) = &self.target.script else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(t)
            .map_err(|e| LinkToolError::new(format!("reading {}: {e}", t.display())))?;
        let out = self.dir.join("link.ld");
        std::fs::write(&out, render_script(&text, self.target))
            .map_err(|e| LinkToolError::new(format!("writing {}: {e}", out.display())))?;
        Ok(Some(out))
    }

    /// The target's entry symbol, else (a target without startup code)
    /// the crate's first root.
    fn entry(&self) -> &str {
        if self.target.entry.is_empty() {
            self.roots.first().map_or("", String::as_str)
        } else {
            &self.target.entry
        }
    }

    fn roots_args(&self) -> Vec<String> {
        let args: Vec<String> = self
            .roots
            .iter()
            .map(|r| format!("--undefined={r}"))
            .collect();
        self.own(&args)
    }

    /// linkmatrix's own linker options in the target's linker flavour.
    fn own<S: AsRef<str>>(&self, args: &[S]) -> Vec<String> {
        self.target.flavor.own(args)
    }

    /// The image link's arguments after the linker itself: output, search
    /// paths, the target's flags, the build scripts' arguments, entry,
    /// relocations kept, roots, the script, inputs and libraries.
    fn image_args(&self, out: &Path, script: Option<&Path>) -> Vec<std::ffi::OsString> {
        let mut args: Vec<std::ffi::OsString> = vec!["-o".into(), out.into()];
        args.extend(
            self.scripts
                .search
                .iter()
                .map(|d| format!("-L{}", d.display()).into()),
        );
        args.extend(self.target.ldflags.iter().map(Into::into));
        args.extend(self.scripts.args.iter().map(Into::into));
        let own = self.own(&[
            format!("--entry={}", self.entry()),
            "--emit-relocs".to_owned(),
        ]);
        args.extend(own.into_iter().map(Into::into));
        args.extend(self.roots_args().into_iter().map(Into::into));
        if let Some(s) = script {
            args.push("-T".into());
            args.push(s.into());
        }
        args.extend(self.platform.iter().map(Into::into));
        args.push(self.staticlib.into());
        args.extend(self.scripts.libs.iter().map(|l| format!("-l{l}").into()));
        if self.target.native_libs {
            args.extend(self.native.iter().map(Into::into));
        }
        args
    }

    /// The permissive link's own options (the output kept, unresolved
    /// symbols allowed).
    fn permissive(&self) -> Vec<String> {
        self.own(&["--noinhibit-exec", "--unresolved-symbols=ignore-all"])
    }

    /// Image mode: the real link, and, if it failed, a permissive one to
    /// inspect. Returns (real, inspectable image).
    pub(crate) fn image(
        &self,
        log: &dyn Fn(&Cmd),
    ) -> Result<(LinkResult, Option<PathBuf>), LinkToolError> {
        let script = self.script()?;
        let out = self.dir.join("image.elf");
        let flavor = self.target.flavor;
        let cmd = tombstones(self.linker, flavor, base(self.linker))
            .args(self.image_args(&out, script.as_deref()))
            .timeout(self.timeout);
        let real = run(&cmd, &out, log)?;
        if real.success && real.output.is_some() {
            let img = real.output.clone();
            return Ok((real, img));
        }
        let insp = self.dir.join("image-inspect.elf");
        let cmd2 = tombstones(self.linker, flavor, base(self.linker))
            .args(self.image_args(&insp, script.as_deref()))
            .args(self.permissive())
            .timeout(self.timeout);
        let r2 = run(&cmd2, &insp, log)?;
        Ok((real, r2.output))
    }

    /// The image linked permissively once more with memory region
    /// `region` made large enough (`extra`: the bytes it overflowed by),
    /// the enlarged script and the image written into `dir` (see
    /// [`crate::relink`]). The image, when it linked; `None` when no
    /// script of the link defines the region on one line.
    pub(crate) fn relink_enlarged(
        &self,
        region: &str,
        extra: u64,
        dir: &Path,
        log: &dyn Fn(&Cmd),
    ) -> Result<Option<PathBuf>, LinkToolError> {
        let script = self.script()?;
        let img = dir.join("image.elf");
        let mut args: Vec<String> = self
            .image_args(&img, script.as_deref())
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        args.extend(self.permissive());
        let cwd = std::env::current_dir().unwrap_or_default();
        let Some(e) = crate::relink::enlarge(&args, &cwd, region, extra, dir) else {
            return Ok(None);
        };
        let mut cmd = tombstones(self.linker, self.target.flavor, base(self.linker))
            .args(&e.args)
            .timeout(self.timeout);
        if let Some(d) = &e.cwd {
            cmd = cmd.current_dir(d);
        }
        Ok(run(&cmd, &img, log)?.output)
    }

    /// Module mode: the platform image, the module (`-r`), and the module
    /// linked alone (nothing garbage-collected, unresolved symbols
    /// ignored) for inspection. Returns (platform image, module link,
    /// inspectable module).
    pub(crate) fn module(
        &self,
        log: &dyn Fn(&Cmd),
    ) -> Result<(LinkResult, LinkResult, Option<PathBuf>), LinkToolError> {
        let script = self.script()?;
        let plat = self.dir.join("platform.elf");
        let flags: Vec<&String> = self
            .target
            .ldflags
            .iter()
            .filter(|f| f.as_str() != "--gc-sections")
            .collect();
        let entry: Vec<String> = (!self.target.entry.is_empty())
            .then(|| format!("--entry={}", self.target.entry))
            .into_iter()
            .collect();
        let mut cmd = base(self.linker)
            .arg("-o")
            .arg(&plat)
            .args(flags)
            .args(self.own(&entry));
        if let Some(s) = &script {
            cmd = cmd.arg("-T").arg(s);
        }
        let cmd = cmd.args(self.platform).timeout(self.timeout);
        let platform = run(&cmd, &plat, log)?;

        let module = self.dir.join("module.o");
        let cmd = base(self.linker)
            .arg("-r")
            .arg("-o")
            .arg(&module)
            .args(self.roots_args())
            .arg(self.staticlib)
            .timeout(self.timeout);
        let mlink = run(&cmd, &module, log)?;
        let Some(m) = mlink.output.as_ref().filter(|_| mlink.success) else {
            return Ok((platform, mlink, None));
        };
        let insp = self.dir.join("module-inspect.elf");
        let cmd = tombstones(self.linker, self.target.flavor, base(self.linker))
            .arg("-o")
            .arg(&insp)
            .args(self.own(&[
                "--emit-relocs",
                "--noinhibit-exec",
                "--unresolved-symbols=ignore-all",
            ]))
            .args(self.roots_args())
            .arg(m)
            .timeout(self.timeout);
        let r = run(&cmd, &insp, log)?;
        Ok((platform, mlink, r.output))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The C driver refusing `--emit-relocs` is linkmatrix's failure; a
    /// linker warning that it ignores one of linkmatrix's options is not,
    /// nor is a crate's own unknown option.
    #[test]
    fn a_refused_option_of_linkmatrixs_is_told_from_warnings_and_the_crates() {
        let gcc = "cc: error: unrecognized command-line option '--emit-relocs'\ncollect2: error: ld returned 1 exit status";
        assert_eq!(
            refused_own_option(gcc),
            Some("cc: error: unrecognized command-line option '--emit-relocs'")
        );
        let lld = "ld.lld: error: unknown argument '--emit-relocs'";
        assert!(refused_own_option(lld).is_some());
        let gold = "ld.gold: warning: ignoring unknown -z option dead-reloc-in-nonalloc=.debug_*=0xffffffffffffffff\nld.gold: error: undefined reference to 'f'";
        assert_eq!(refused_own_option(gold), None);
        let crates = "ld.lld: error: unknown argument '--frobnicate'";
        assert_eq!(refused_own_option(crates), None);
    }
}

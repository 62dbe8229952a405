//! A cell whose build is not cargo's (`build:` in the matrix: make/Kbuild,
//! any command that makes an ELF). Its options become a Kconfig fragment
//! the configuration commands merge; the configuration they leave is
//! checked against it, so a request the build system dropped (a Kconfig
//! dependency it could not satisfy) makes the cell an `error` naming the
//! option, never a cell built with other settings than its id says. A
//! failed build's findings come from its log (`explain`'s parsers for GNU
//! ld and lld); a good build's ELF is checked against the policy.
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::CheckOptions;
use super::cell::outcome;
use crate::model::{
    Cell, CellOutcome, CommandBuild, Finding, FindingKind, Inspected, Matrix, Status, Value,
};
use crate::process::Cmd;
use crate::workdir::WorkDir;

/// `{{var}}` replaced by its value in `word`.
fn render(word: &str, vars: &BTreeMap<String, String>) -> String {
    CommandBuild::fill(word, |v| vars.get(v).cloned())
}

/// The Kconfig fragment for `cell`: each option with a symbol, `=y` or
/// `is not set`.
pub(crate) fn fragment(m: &Matrix, cell: &Cell) -> String {
    let mut out = String::new();
    for rule in &m.rules.options {
        let Some(sym) = &rule.kconfig else { continue };
        match cell.options.get(&rule.name) {
            Some(Value::Bool(true)) => {
                let _ = writeln!(out, "CONFIG_{sym}=y");
            }
            _ => {
                let _ = writeln!(out, "# CONFIG_{sym} is not set");
            }
        }
    }
    out
}

/// The options whose symbol the configuration does not have as asked:
/// (option, asked, got).
pub(crate) fn dropped(m: &Matrix, cell: &Cell, config: &str) -> Vec<(String, bool, bool)> {
    let mut out = Vec::new();
    for rule in &m.rules.options {
        let Some(sym) = &rule.kconfig else { continue };
        let asked = matches!(cell.options.get(&rule.name), Some(Value::Bool(true)));
        let on = format!("CONFIG_{sym}=");
        let got = config.lines().any(|l| {
            l.strip_prefix(&on)
                .is_some_and(|v| v.trim() == "y" || v.trim() == "m")
        });
        if asked != got {
            out.push((rule.name.clone(), asked, got));
        }
    }
    out
}

/// Run one command build cell.
pub(super) fn run_cell(
    m: &Matrix,
    b: &CommandBuild,
    cell: &Cell,
    work: &WorkDir,
    opts: &CheckOptions,
    log: &dyn Fn(&Cmd),
) -> CellOutcome {
    let start = Instant::now();
    let done = |status, findings, error: Option<String>| {
        outcome(cell, opts, status, findings, error, start.elapsed())
    };
    let error = |e: String| done(Status::Error, Vec::new(), Some(e));
    let remaining = || {
        Some(
            opts.timeout
                .saturating_sub(start.elapsed())
                .max(Duration::from_millis(1)),
        )
    };
    // No image until this run links one: none for `why` and `diff` either
    // (not the last run's).
    work.write_inspected(
        &cell.id,
        &Inspected {
            image: None,
            roots: Vec::new(),
        },
    );
    if let Err(e) = crate::source::ready(b) {
        return error(e);
    }
    let frag_text = fragment(m, cell);
    let dir = work.command_dir(&build_dir_name(b, cell, &frag_text));
    let out = dir.join("out");
    if let Err(e) = std::fs::create_dir_all(&out) {
        return error(format!("creating {}: {e}", out.display()));
    }
    // Cells that configure alike share the directory: one at a time.
    let lock_file = PathBuf::from(format!("{}.lock", dir.display()));
    let _lock = match crate::cache::lock(&lock_file, || {}) {
        Ok(l) => l,
        Err(e) => return error(format!("{e:#}")),
    };
    let frag = dir.join("fragment.config");
    if let Err(e) = std::fs::write(&frag, &frag_text) {
        return error(format!("writing {}: {e}", frag.display()));
    }
    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    let path = |p: &Path| p.display().to_string();
    vars.insert("source".into(), path(&b.source));
    vars.insert("out".into(), path(&out));
    vars.insert("fragment".into(), path(&frag));
    vars.insert("arch".into(), cell.arch.clone());
    vars.insert("triple".into(), cell.target.clone());
    vars.insert("profile".into(), cell.profile.clone());
    vars.insert(
        "jobs".into(),
        std::thread::available_parallelism()
            .map_or(1, usize::from)
            .to_string(),
    );
    for (k, v) in &cell.options {
        vars.entry(k.clone()).or_insert_with(|| v.to_string());
    }
    let ccache = if b.ccache { ccache_path(work) } else { None };
    let cmd = |words: &[String]| {
        let words: Vec<String> = words.iter().map(|w| render(w, &vars)).collect();
        let mut c = Cmd::new(&words[0])
            .args(&words[1..])
            .current_dir(&b.source)
            .timeout(remaining());
        if let Some(p) = &ccache {
            c = c.env("PATH", p);
        }
        // What the cell's option values set (`when: {env}`): make reads
        // its variables from there (`LLVM=1`, `CROSS_COMPILE=…`).
        for (k, v) in &cell.settings.env {
            c = c.env(k, v);
        }
        c
    };

    // Configure, then check the configuration is the cell's.
    for words in &b.config {
        let step = cmd(words);
        log(&step);
        if let Err(e) = step.run() {
            return error(format!("configuring failed: {e}"));
        }
    }
    let config_file = PathBuf::from(render(&b.config_file, &vars));
    if m.rules.options.iter().any(|o| o.kconfig.is_some()) {
        let config = match std::fs::read_to_string(&config_file) {
            Ok(t) => t,
            Err(e) => {
                return error(format!(
                    "the configuration commands left no {}: {e}",
                    config_file.display()
                ));
            }
        };
        let bad = dropped(m, cell, &config);
        if !bad.is_empty() {
            let list: Vec<String> = bad
                .iter()
                .map(|(o, asked, got)| {
                    format!(
                        "option `{o}` asked {}, {} has it {}",
                        if *asked { "on" } else { "off" },
                        config_file.display(),
                        if *got { "on" } else { "off" }
                    )
                })
                .collect();
            return error(format!(
                "the build system did not take the cell's configuration (a dependency it could not satisfy?): {}",
                list.join("; ")
            ));
        }
    }

    // Build.
    let build = cmd(&b.command);
    log(&build);
    let elf = PathBuf::from(render(&b.elf, &vars));
    let _ = std::fs::remove_file(&elf);
    let res = match build.run_unchecked() {
        Ok(r) => r,
        Err(e) => return error(format!("{e}")),
    };
    if res.status.code().is_none() {
        return error(format!(
            "{build}: {}",
            crate::process::describe_status(res.status)
        ));
    }
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&res.stdout),
        String::from_utf8_lossy(&res.stderr)
    );
    if !res.status.success() {
        return done(Status::Fail, log_findings(m, b, &out, &text), None);
    }
    // A good build: its image against the policy.
    let data = match crate::inspect::read_file(&elf) {
        Ok(d) => d,
        Err(e) => {
            return error(format!("the build succeeded but {}: {e:#}", elf.display()));
        }
    };
    // Its undefined symbols are not findings (PROVIDE, aliases): only the
    // linker's diagnostics are.
    let (a, roots) = match super::bin::image_analysis(m, &elf, &data) {
        Ok(x) => x,
        Err(e) => return error(e),
    };
    let mut found = Vec::new();
    super::findings::policy_findings(m, &a, &mut found);
    work.write_inspected(
        &cell.id,
        &Inspected {
            image: Some(elf.clone()),
            roots,
        },
    );
    let mut o = done(Status::of(&found), found, None);
    o.size = crate::inspect::image_size(&data).ok();
    o
}

/// The name of `cell`'s out-of-tree build directory: its arch and a
/// digest of the source tree's path and what configures the build (the
/// commands, the fragment, the environment its option values set, the
/// values of the options the commands name), not the cell's id: cells
/// that configure alike share it, and a cell renamed or moved to another
/// matrix layout keeps its incremental build.
fn build_dir_name(b: &CommandBuild, cell: &Cell, fragment: &str) -> String {
    let templates: Vec<&String> = b
        .config
        .iter()
        .flatten()
        .chain(&b.command)
        .chain([&b.config_file, &b.elf])
        .collect();
    let mut named: BTreeMap<String, String> = BTreeMap::new();
    for t in &templates {
        CommandBuild::fill(t, |v| {
            if let Some(val) = cell.options.get(v) {
                named.insert(v.to_owned(), val.to_string());
            }
            None
        });
    }
    let mut k = crate::cache::Key::new();
    k.str("source", &b.source.display().to_string())
        .str("templates", &format!("{templates:?}"))
        .str("fragment", fragment)
        .str("env", &format!("{:?}", cell.settings.env))
        .str("named", &format!("{named:?}"))
        .str("target", &format!("{}/{}", cell.target, cell.profile));
    format!("{}-{}", cell.arch, &k.finish()[..12])
}

/// PATH with a directory first in which every C compiler on PATH
/// (`cc`, `gcc`, `clang`, `arm-linux-gnueabihf-gcc`, versioned names) is
/// a link to ccache, which runs the real one (ccache's masquerade mode):
/// command builds compile through the user's shared ccache without
/// knowing it. None without ccache, or when PATH already has a ccache
/// directory (the user's own setup, e.g. Debian's /usr/lib/ccache).
/// Made once per run, afresh (compilers come and go).
fn ccache_path(work: &WorkDir) -> Option<String> {
    static MADE: OnceLock<Option<String>> = OnceLock::new();
    MADE.get_or_init(|| {
        let path = std::env::var_os("PATH")?;
        let dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
        if dirs
            .iter()
            .any(|d| d.file_name().is_some_and(|n| n == "ccache"))
        {
            return None;
        }
        let ccache = crate::process::which("ccache")?;
        let bin = work.ccache_bin();
        let _ = std::fs::remove_dir_all(&bin);
        std::fs::create_dir_all(&bin).ok()?;
        for name in crate::source::on_path(crate::source::is_c_compiler).keys() {
            let _ = std::os::unix::fs::symlink(&ccache, bin.join(name));
        }
        let all = std::iter::once(bin).chain(dirs);
        std::env::join_paths(all)
            .ok()
            .map(|p| p.to_string_lossy().into_owned())
    })
    .clone()
}

/// A failed build's findings: the undefined symbols its linker named
/// (`explain`), else the log's errors as one `build-error`. Undefined
/// symbols a good build may carry (PROVIDE, weak) never come this way:
/// only the linker's own diagnostics count. Each reference is then
/// attributed through its object's DWARF in the build directory.
fn log_findings(m: &Matrix, b: &CommandBuild, out: &Path, text: &str) -> Vec<Finding> {
    let parsed = crate::explain::explain(&mut text.as_bytes()).map(|e| e.findings);
    let mut found: Vec<Finding> = parsed
        .unwrap_or_default()
        .into_iter()
        .filter(|f| f.kind == FindingKind::UndefinedSymbol)
        .filter(|f| {
            f.symbol
                .as_deref()
                .is_none_or(|s| !super::findings::allowed(m, s))
        })
        .collect();
    let mut objects = BTreeMap::new();
    for f in &mut found {
        attribute(f, out, &mut objects);
        // Paths as the tree and the build directory name them.
        let under = |p: &str, dir: &Path| {
            Path::new(p)
                .strip_prefix(dir)
                .ok()
                .map(|rel| rel.display().to_string())
        };
        for r in &mut f.referenced_by {
            if let Some(rel) = r.file.as_deref().and_then(|p| under(p, &b.source)) {
                r.file = Some(rel);
            }
            if let Some(rel) = r.object.as_deref().and_then(|p| under(p, out)) {
                r.object = Some(rel);
            }
        }
        // The tree is the project: the reference itself is where to look.
        f.at = f.referenced_by.iter().find_map(|r| {
            Some(crate::model::Location {
                file: r.file.clone().filter(|f| !f.starts_with('/'))?,
                line: r.line?,
            })
        });
    }
    if found.is_empty() {
        found.push(Finding::message(
            FindingKind::BuildError,
            crate::build::trim_diagnostics(text),
        ));
    }
    found
}

/// The object a linker's reference names, in the build directory:
/// `mm/percpu.o`, or the member of `vmlinux.a(mm/percpu.o)` (a thin
/// archive's members are the objects themselves).
fn object_path(out: &Path, object: &str) -> Option<PathBuf> {
    let inner = object
        .strip_suffix(')')
        .and_then(|o| o.split_once('('))
        .map_or(object, |(_, member)| member);
    [out.join(inner), out.join(object)]
        .into_iter()
        .find(|p| p.is_file())
}

/// Where each reference of `f` is, from its object's DWARF and
/// relocations: the innermost file and line (lld names only the function
/// clang inlined into, GNU ld the line without the inlined frames), and
/// the chain `function -> inlined callee… -> symbol`. A reference whose
/// object is not in the build directory, or has no DWARF, keeps what the
/// linker said. `objects` holds each object's undefined symbols, read
/// once.
fn attribute(
    f: &mut Finding,
    out: &Path,
    objects: &mut BTreeMap<PathBuf, Option<crate::model::Analysis>>,
) {
    let Some(symbol) = f.symbol.clone() else {
        return;
    };
    let mut chain: Vec<String> = Vec::new();
    for r in &mut f.referenced_by {
        let Some(path) = r.object.as_deref().and_then(|o| object_path(out, o)) else {
            continue;
        };
        let a = objects.entry(path.clone()).or_insert_with(|| {
            let data = crate::inspect::read_file(&path).ok()?;
            let name = path.display().to_string();
            crate::inspect::analyze(
                &[crate::inspect::Unit {
                    name: &name,
                    data: &data,
                }],
                &[],
            )
            .ok()
        });
        let Some(u) = a
            .as_ref()
            .and_then(|a| a.undefined.iter().find(|u| u.symbol == symbol))
        else {
            continue;
        };
        let Some(found) = u.referenced_by.iter().find(|x| x.function == r.function) else {
            continue;
        };
        if found.line.is_some() {
            r.file.clone_from(&found.file);
            r.line = found.line;
        }
        if chain.is_empty() {
            chain.push(r.function.clone());
            // Inlined callees are kept per raw symbol; C's are its name.
            let frames = u
                .inlined
                .iter()
                .find(|(raw, _)| crate::inspect::pretty(raw) == r.function);
            chain.extend(frames.into_iter().flat_map(|(_, v)| v.iter().cloned()));
            chain.push(symbol.clone());
        }
    }
    if f.chain.is_empty() {
        f.chain = chain;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_fill_known_variables_only() {
        let vars: BTreeMap<String, String> = [
            ("out".to_owned(), "/o".to_owned()),
            ("smp".to_owned(), "true".to_owned()),
        ]
        .into();
        assert_eq!(render("O={{out}}", &vars), "O=/o");
        assert_eq!(render("{{ smp }}-{{x}}", &vars), "true-{{x}}");
        assert_eq!(render("{{out", &vars), "{{out");
    }
}

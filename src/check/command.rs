//! A cell whose build is not cargo's (`build:` in the matrix: make/Kbuild,
//! any command that makes an ELF). Its options become a Kconfig fragment
//! the configuration commands merge; the configuration they leave is
//! checked against it, so a request the build system dropped (a Kconfig
//! dependency it could not satisfy) makes the cell an `error` naming the
//! option, never a cell built with other settings than its id says. A
//! failed build's findings come from its log (`explain`'s parsers for GNU
//! ld and lld); a good build's ELF is checked against the policy.
//!
//! It must not decide findings itself (`findings` does; the attribution
//! of a reference to its object's DWARF, which reads files, is here).
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::context::{CellCtx, Found};
use super::error::CellError;
use super::findings::{self, Evidence, UndefinedRule};
use crate::model::ObjectCrates;
use crate::model::{Cell, CommandBuild, Finding, Matrix, Value};
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

/// Run one command build cell: configure (checking the configuration is
/// the cell's), build, and inspect the ELF it made.
pub(super) fn run(ctx: &CellCtx<'_>, b: &CommandBuild) -> Result<Found, CellError> {
    let (m, cell) = (ctx.m, ctx.cell);
    crate::source::ready(b).map_err(|what| CellError::MissingTool { what, fix: None })?;
    let frag_text = fragment(m, cell);
    let dir = ctx.work.command_dir(&build_dir_name(b, cell, &frag_text));
    let out = dir.join("out");
    std::fs::create_dir_all(&out).map_err(|e| CellError::io("creating", &out, e))?;
    // Cells that configure alike share the directory: one at a time.
    let lock_file = PathBuf::from(format!("{}.lock", dir.display()));
    let _lock = crate::cache::lock(&lock_file, || {}).map_err(|e| CellError::Io {
        message: format!("{e:#}"),
        path: lock_file.clone(),
    })?;
    let frag = dir.join("fragment.config");
    std::fs::write(&frag, &frag_text).map_err(|e| CellError::io("writing", &frag, e))?;
    let vars = variables(b, cell, &out, &frag);
    let ccache = if b.ccache {
        ccache_path(ctx.work)
    } else {
        None
    };
    let cmd = |words: &[String]| {
        let words: Vec<String> = words.iter().map(|w| render(w, &vars)).collect();
        let mut c = Cmd::new(&words[0])
            .args(&words[1..])
            .current_dir(&b.source)
            .timeout(Some(ctx.remaining()));
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
        (ctx.log)(&step);
        step.run().map_err(|e| {
            CellError::process(&e, format!("configuring failed: {e}"), CellError::Build)
        })?;
    }
    configured_as_asked(m, cell, &PathBuf::from(render(&b.config_file, &vars)))?;

    // Build.
    let build = cmd(&b.command);
    (ctx.log)(&build);
    let elf = PathBuf::from(render(&b.elf, &vars));
    let _ = std::fs::remove_file(&elf);
    let res = build
        .run_unchecked()
        .map_err(|e| CellError::process(&e, e.to_string(), CellError::Build))?;
    if res.status.code().is_none() {
        return Err(CellError::Build(format!(
            "{build}: {}",
            crate::process::describe_status(res.status)
        )));
    }
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&res.stdout),
        String::from_utf8_lossy(&res.stderr)
    );
    if !res.status.success() {
        if let Some(line) = crate::process::resource_fault(&text) {
            return Err(CellError::Build(format!(
                "{build}: the machine, not the code, stopped it: {line}"
            )));
        }
        let mut found = findings::linker_log_findings(&ctx.rules(), &text);
        let mut objects = BTreeMap::new();
        for f in &mut found {
            attribute(f, &out, &mut objects);
        }
        return Ok(Found::findings(findings::locate_in_tree(
            found, &b.source, &out, &text,
        )));
    }
    // A good build: its image against the policy.
    let data = crate::inspect::read_file(&elf).map_err(|e| {
        CellError::Inspection(format!("the build succeeded but {}: {e:#}", elf.display()))
    })?;
    // Its undefined symbols are not findings (PROVIDE, aliases): only the
    // linker's diagnostics are.
    let (a, roots) = super::bin::image_analysis(m, &elf, &data)?;
    let findings = findings::decide(
        &ctx.rules(),
        Evidence {
            analysis: Some(&a),
            undefined: UndefinedRule::Ignored,
            diagnostics: None,
            link_failure: None,
            imports: None,
            places: None,
        },
    );
    Ok(Found {
        findings,
        image: Some(elf),
        roots,
        size: super::context::measure(m, &data, None, &ObjectCrates::default()),
        objects: ObjectCrates::default(),
    })
}

/// The template variables of `cell`'s commands.
fn variables(b: &CommandBuild, cell: &Cell, out: &Path, frag: &Path) -> BTreeMap<String, String> {
    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    let path = |p: &Path| p.display().to_string();
    vars.insert("source".into(), path(&b.source));
    vars.insert("out".into(), path(out));
    vars.insert("fragment".into(), path(frag));
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
    vars
}

/// An error unless the configuration the commands left in `config_file`
/// has every Kconfig option as `cell` asked (a build system drops a
/// request whose dependency it cannot satisfy).
fn configured_as_asked(m: &Matrix, cell: &Cell, config_file: &Path) -> Result<(), CellError> {
    if !m.rules.options.iter().any(|o| o.kconfig.is_some()) {
        return Ok(());
    }
    let config = std::fs::read_to_string(config_file).map_err(|e| CellError::Io {
        message: format!(
            "the configuration commands left no {}: {e}",
            config_file.display()
        ),
        path: config_file.to_path_buf(),
    })?;
    let bad = dropped(m, cell, &config);
    if bad.is_empty() {
        return Ok(());
    }
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
    Err(CellError::Configuration(format!(
        "the build system did not take the cell's configuration (a dependency it could not satisfy?): {}",
        list.join("; ")
    )))
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

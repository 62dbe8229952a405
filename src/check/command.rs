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
    let remaining = || {
        Some(
            opts.timeout
                .saturating_sub(start.elapsed())
                .max(Duration::from_millis(1)),
        )
    };
    if !b.source.is_dir() {
        return done(
            Status::Error,
            Vec::new(),
            Some(format!(
                "build.source {} does not exist (unpack the tree first)",
                b.source.display()
            )),
        );
    }
    let dir = work.cell(&cell.id);
    let out = dir.join("out");
    if let Err(e) = std::fs::create_dir_all(&out) {
        return done(
            Status::Error,
            Vec::new(),
            Some(format!("creating {}: {e}", out.display())),
        );
    }
    let frag = dir.join("fragment.config");
    if let Err(e) = std::fs::write(&frag, fragment(m, cell)) {
        return done(
            Status::Error,
            Vec::new(),
            Some(format!("writing {}: {e}", frag.display())),
        );
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
    let cmd = |words: &[String]| {
        let words: Vec<String> = words.iter().map(|w| render(w, &vars)).collect();
        let mut c = Cmd::new(&words[0])
            .args(&words[1..])
            .current_dir(&b.source)
            .timeout(remaining());
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
            return done(
                Status::Error,
                Vec::new(),
                Some(format!("configuring failed: {e}")),
            );
        }
    }
    let config_file = PathBuf::from(render(&b.config_file, &vars));
    if m.rules.options.iter().any(|o| o.kconfig.is_some()) {
        let config = match std::fs::read_to_string(&config_file) {
            Ok(t) => t,
            Err(e) => {
                return done(
                    Status::Error,
                    Vec::new(),
                    Some(format!(
                        "the configuration commands left no {}: {e}",
                        config_file.display()
                    )),
                );
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
            return done(
                Status::Error,
                Vec::new(),
                Some(format!(
                    "the build system did not take the cell's configuration (a dependency it could not satisfy?): {}",
                    list.join("; ")
                )),
            );
        }
    }

    // Build.
    let build = cmd(&b.command);
    log(&build);
    let elf = PathBuf::from(render(&b.elf, &vars));
    let _ = std::fs::remove_file(&elf);
    let res = match build.run_unchecked() {
        Ok(r) => r,
        Err(e) => return done(Status::Error, Vec::new(), Some(format!("{e}"))),
    };
    if res.status.code().is_none() {
        return done(
            Status::Error,
            Vec::new(),
            Some(format!(
                "{build}: {}",
                crate::process::describe_status(res.status)
            )),
        );
    }
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&res.stdout),
        String::from_utf8_lossy(&res.stderr)
    );
    if !res.status.success() {
        return done(Status::Fail, log_findings(m, &text), None);
    }
    // A good build: its image against the policy.
    let data = match crate::inspect::read_file(&elf) {
        Ok(d) => d,
        Err(e) => {
            return done(
                Status::Error,
                Vec::new(),
                Some(format!("the build succeeded but {}: {e:#}", elf.display())),
            );
        }
    };
    let name = elf.display().to_string();
    let roots: Vec<String> = crate::inspect::entry_symbol(&data).into_iter().collect();
    let a = match crate::inspect::analyze(
        &[crate::inspect::Unit {
            name: &name,
            data: &data,
        }],
        &roots,
    ) {
        Ok(a) => a,
        Err(e) => return done(Status::Error, Vec::new(), Some(format!("{e:#}"))),
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

/// A failed build's findings: the undefined symbols its linker named
/// (`explain`), else the log's errors as one `build-error`. Undefined
/// symbols a good build may carry (PROVIDE, weak) never come this way:
/// only the linker's own diagnostics count.
fn log_findings(m: &Matrix, text: &str) -> Vec<Finding> {
    let parsed = crate::explain::explain(&mut text.as_bytes()).map(|e| e.findings);
    let mut out: Vec<Finding> = parsed
        .unwrap_or_default()
        .into_iter()
        .filter(|f| f.kind == FindingKind::UndefinedSymbol)
        .filter(|f| {
            f.symbol
                .as_deref()
                .is_none_or(|s| !super::findings::allowed(m, s))
        })
        .map(|mut f| {
            f.referenced_by = f
                .referenced_by
                .iter()
                .map(|r| super::findings::relativize(m, r))
                .collect();
            let sites: Vec<(String, u32)> = f
                .referenced_by
                .iter()
                .filter_map(|r| Some((r.file.clone()?, r.line?)))
                .collect();
            f.at = super::findings::in_project(m, &sites);
            f
        })
        .collect();
    if out.is_empty() {
        out.push(Finding::message(
            FindingKind::BuildError,
            crate::build::trim_diagnostics(text),
        ));
    }
    out
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

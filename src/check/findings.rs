//! The one place where link and inspection results become [`Finding`]s:
//! undefined and unexported symbols (skipping weak and allowed ones),
//! forbidden symbols, link errors the symbols do not explain, and latent
//! references from a cell's debug twin.
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use crate::build;
use crate::inspect::{self, Unit};
use crate::link::{LinkInputs, LinkResult};
use crate::model::{
    Analysis, CellOutcome, Exports, Finding, FindingKind, Location, Matrix, Reference, Status,
    Target, Undefined,
};
use crate::process::Cmd;

/// Analyse a linked image, naming for each function where it came from.
fn analyze_file(
    path: &Path,
    roots: &[String],
    origins: &HashMap<String, String>,
) -> Result<Analysis, String> {
    let err = |e: anyhow::Error| format!("{e:#}");
    let data = inspect::read_file(path).map_err(err)?;
    let name = path.display().to_string();
    inspect::analyze_with_origins(
        &[Unit {
            name: &name,
            data: &data,
        }],
        roots,
        origins,
    )
    .map_err(err)
}

/// `r` with its file relative to the project and its object's directory
/// dropped.
pub(super) fn relativize(m: &Matrix, r: &Reference) -> Reference {
    let mut r = r.clone();
    if let Some(f) = &r.file
        && let Ok(rel) = Path::new(f).strip_prefix(&m.root)
    {
        r.file = Some(rel.display().to_string());
    }
    if let Some(o) = &r.object {
        // `…/libkalloc.a(kalloc-hash.kalloc.cgu.o)` → `libkalloc.a(…)`
        if let Some((path, member)) = o.split_once('(') {
            let file = Path::new(path)
                .file_name()
                .map_or_else(|| path.to_owned(), |f| f.to_string_lossy().into_owned());
            r.object = Some(format!("{file}({member}"));
        } else if let Some(file) = Path::new(o).file_name() {
            r.object = Some(file.to_string_lossy().into_owned());
        }
    }
    r
}

/// The block of the linker's output about `symbol`.
fn linker_block(diag: &str, symbol: &str) -> Option<String> {
    let lines: Vec<&str> = diag.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.contains("undefined") && l.contains(symbol))?;
    let end = lines[start + 1..]
        .iter()
        .position(|l| !l.starts_with(">>>") && !l.starts_with(' '))
        .map_or(lines.len(), |i| start + 1 + i);
    Some(lines[start..end.min(start + 12)].join("\n"))
}

pub(super) fn symbol_finding(
    m: &Matrix,
    kind: FindingKind,
    u: &Undefined,
    diag: Option<&str>,
) -> Finding {
    let mut f = Finding::symbol(kind, u.symbol.clone());
    f.referenced_by = u.referenced_by.iter().map(|r| relativize(m, r)).collect();
    f.chain.clone_from(&u.chain);
    f.message = diag.and_then(|d| linker_block(d, &u.symbol));
    f.at = in_project(m, &u.sites);
    f
}

/// The first of `sites` inside the project (not a registry dependency,
/// not the standard library), relative to its root.
pub(super) fn in_project(m: &Matrix, sites: &[(String, u32)]) -> Option<Location> {
    sites.iter().find_map(|(file, line)| {
        let p = Path::new(file);
        let rel = if p.is_absolute() {
            p.strip_prefix(&m.root).ok()?
        } else {
            p
        };
        let inside = !rel.as_os_str().is_empty()
            && !rel.components().any(|c| {
                matches!(c, std::path::Component::ParentDir)
                    || c.as_os_str() == ".cargo"
                    || c.as_os_str() == "target"
            });
        inside.then(|| Location {
            file: rel.display().to_string(),
            line: *line,
        })
    })
}

pub(super) fn policy_findings(m: &Matrix, a: &Analysis, out: &mut Vec<Finding>) {
    for r in a.reached(&m.policy.forbidden) {
        let mut f = Finding::symbol(FindingKind::ForbiddenSymbol, r.symbol);
        f.chain = r.chain;
        out.push(f);
    }
    for u in &a.undefined {
        if m.policy.forbidden.iter().any(|p| p.matches(&u.symbol)) {
            out.push(symbol_finding(m, FindingKind::ForbiddenSymbol, u, None));
        }
    }
}

pub(super) fn allowed(m: &Matrix, symbol: &str) -> bool {
    m.policy.allow_undefined.iter().any(|p| p.matches(symbol))
}

fn tool_error(e: crate::link::LinkToolError) -> String {
    e.message
}

pub(super) fn image_findings(
    m: &Matrix,
    inputs: &LinkInputs<'_>,
    roots: &[String],
    origins: &HashMap<String, String>,
    log: &dyn Fn(&Cmd),
) -> Result<(Vec<Finding>, Option<PathBuf>), String> {
    let (real, image) = inputs.image(log).map_err(tool_error)?;
    let mut out = Vec::new();
    let mut all_roots = vec![inputs.target.entry.clone()];
    all_roots.extend(roots.iter().cloned());
    if let Some(img) = &image {
        let a = analyze_file(img, &all_roots, origins)?;
        for u in &a.undefined {
            if u.weak || allowed(m, &u.symbol) {
                continue;
            }
            out.push(symbol_finding(
                m,
                FindingKind::UndefinedSymbol,
                u,
                Some(&real.diagnostics),
            ));
        }
        policy_findings(m, &a, &mut out);
    }
    if !real.success && (image.is_none() || !explained(m, &real.diagnostics, &out)) {
        out.push(link_error(&real));
    }
    Ok((out, image))
}

/// A failed link is explained when the linker's diagnostics name at least
/// one undefined symbol, every symbol they name is a finding of this cell
/// or allowed by the policy, and they report no other error.
pub(super) fn explained(m: &Matrix, diagnostics: &str, findings: &[Finding]) -> bool {
    let other_errors = diagnostics.lines().any(|l| {
        l.contains("error:")
            && !l.contains("undefined symbol")
            && !l.contains("undefined reference")
            // A C compiler driver's summary of its linker's failure
            // (clang: "ld.lld command failed with exit code 1"; gcc's
            // collect2: "ld returned 1 exit status") is no error of its own.
            && !l.contains("command failed with exit code")
            && !l.contains("ld returned")
    });
    if other_errors {
        return false;
    }
    let Ok(parsed) = crate::explain::explain(&mut diagnostics.as_bytes()) else {
        return false;
    };
    let named: Vec<&str> = parsed
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::UndefinedSymbol)
        .filter_map(|f| f.symbol.as_deref())
        .collect();
    // The linker may print a symbol demangled (lld does) or mangled.
    let spellings = |raw: &str| {
        let d = crate::explain::demangle_any(raw);
        [raw.to_owned(), d]
    };
    let found: BTreeSet<String> = findings
        .iter()
        .filter_map(|f| f.symbol.as_deref())
        .flat_map(spellings)
        .collect();
    !named.is_empty()
        && named.iter().all(|n| {
            spellings(n)
                .iter()
                .any(|x| found.contains(x) || allowed(m, x))
        })
}

fn link_error(r: &LinkResult) -> Finding {
    Finding::message(
        FindingKind::LinkError,
        format!("{}\n{}", r.command, build::trim_diagnostics(&r.diagnostics)),
    )
}

pub(super) fn module_findings(
    m: &Matrix,
    t: &Target,
    inputs: &LinkInputs<'_>,
    roots: &[String],
    origins: &HashMap<String, String>,
    log: &dyn Fn(&Cmd),
) -> Result<(Vec<Finding>, Option<PathBuf>), String> {
    let (platform, module, insp) = inputs.module(log).map_err(tool_error)?;
    let mut out = Vec::new();
    let Some(plat) = platform.output.as_ref().filter(|_| platform.success) else {
        out.push(link_error(&platform));
        return Ok((out, None));
    };
    if !module.success {
        out.push(link_error(&module));
        return Ok((out, None));
    }
    let pdata = inspect::read_file(plat).map_err(|e| format!("{e:#}"))?;
    let pname = plat.display().to_string();
    let section = match &t.exports {
        Exports::All => None,
        Exports::Section(s) => Some(s.as_str()),
    };
    let exported = inspect::exports(&pdata, &pname, section).map_err(|e| format!("{e:#}"))?;
    let defined = inspect::analyze(
        &[Unit {
            name: &pname,
            data: &pdata,
        }],
        &[],
    )
    .map_err(|e| format!("{e:#}"))?
    .defined;
    let Some(insp) = insp else {
        return Err("the module could not be linked for inspection".to_owned());
    };
    let a = analyze_file(&insp, roots, origins)?;
    for u in &a.undefined {
        if u.weak || allowed(m, &u.symbol) || exported.contains(&u.symbol) {
            continue;
        }
        let kind = if defined.contains(&u.symbol) {
            FindingKind::UnexportedSymbol
        } else {
            FindingKind::UndefinedSymbol
        };
        let mut f = symbol_finding(m, kind, u, None);
        f.message = Some(format!(
            "ERROR: modpost: \"{}\" [{}] {}",
            u.symbol,
            m.package,
            if kind == FindingKind::UnexportedSymbol {
                "undefined! (the platform defines it but does not export it)"
            } else {
                "undefined!"
            }
        ));
        out.push(f);
    }
    policy_findings(m, &a, &mut out);
    Ok((out, Some(insp)))
}

/// Symbols undefined in the debug twin but not in the cell: latent.
pub(super) fn add_latent(o: &mut CellOutcome, twin: &CellOutcome, deny: bool) {
    if !matches!(o.status, Status::Pass | Status::Fail) {
        return;
    }
    let have: BTreeSet<&str> = o
        .findings
        .iter()
        .filter_map(|f| f.symbol.as_deref())
        .collect();
    let latent: Vec<Finding> = twin
        .findings
        .iter()
        .filter(|f| matches!(f.kind, FindingKind::UndefinedSymbol | FindingKind::UnexportedSymbol))
        .filter(|f| f.symbol.as_deref().is_some_and(|s| !have.contains(s)))
        .map(|f| {
            let mut l = f.clone();
            l.kind = FindingKind::LatentUndefined;
            l.message = Some(
                "undefined in this cell's debug (dev profile) build but not in this one: the optimizer removed the reference, and a change that keeps the code path will bring it back"
                    .to_owned(),
            );
            l
        })
        .collect();
    if deny && !latent.is_empty() {
        o.status = Status::Fail;
    }
    o.findings.extend(latent);
}

//! The one place a cell's [`Finding`]s are decided, by pure functions over
//! data: what the link did ([`Evidence`]), the image's [`Analysis`], and
//! the matrix's policy ([`Rules`]). Every mode's runner gathers the
//! evidence (it does all the I/O) and calls [`decide`]; a compile failure
//! goes through [`build_findings`], a command build's failed link through
//! [`linker_log_findings`]; a debug twin's findings through [`add_latent`].
//!
//! It must not run a program or read a file. A new kind of finding is one
//! more rule called from [`decide`]: every mode gets it.
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

use crate::build::{self, BuildFailure};
use crate::model::{
    Analysis, CellOutcome, Finding, FindingKind, Location, Matrix, Policy, Reference, Status,
    Undefined,
};

/// What the rules read of the matrix.
#[derive(Clone, Copy)]
pub(crate) struct Rules<'a> {
    /// Forbidden symbols and symbols allowed to stay undefined.
    pub(crate) policy: &'a Policy,
    /// The project root paths are shown relative to.
    pub(crate) root: &'a Path,
    /// The package (module mode names it as modpost does).
    pub(crate) package: &'a str,
}

impl<'a> Rules<'a> {
    /// The rules of matrix `m`.
    pub(crate) fn of(m: &'a Matrix) -> Self {
        Self {
            policy: &m.policy,
            root: &m.root,
            package: &m.package,
        }
    }

    /// `symbol` may stay undefined.
    pub(crate) fn allowed(&self, symbol: &str) -> bool {
        self.policy
            .allow_undefined
            .iter()
            .any(|p| p.matches(symbol))
    }
}

/// Which of the image's undefined symbols are findings.
pub(crate) enum UndefinedRule<'a> {
    /// Each that is neither weak nor allowed (image and bin modes).
    All,
    /// Module mode: each the platform does not export (unless weak or
    /// allowed); one the platform defines is `unexported-symbol`, with
    /// modpost's words.
    Module {
        /// What the platform exports.
        exported: &'a BTreeSet<String>,
        /// What the platform defines.
        defined: &'a BTreeSet<String>,
    },
    /// None (a command build: PROVIDE and aliases leave symbols undefined
    /// in a good image; only its linker's diagnostics count).
    Ignored,
}

/// A final link that failed.
pub(crate) struct LinkFailure<'a> {
    /// The `link-error` finding to report unless the undefined symbols
    /// explain the failure.
    pub(crate) finding: Finding,
    /// The linker's words, checked against the symbol findings.
    pub(crate) diagnostics: &'a str,
    /// The failure counts even when every symbol the linker named is
    /// allowed (bin mode: the policy cannot make a binary exist).
    pub(crate) despite_policy: bool,
}

/// What a cell's link and inspection produced, for [`decide`].
pub(crate) struct Evidence<'a> {
    /// The linked (or permissively linked) image's reference graph;
    /// `None` when there is no image.
    pub(crate) analysis: Option<&'a Analysis>,
    /// Which undefined symbols are findings.
    pub(crate) undefined: UndefinedRule<'a>,
    /// The linker's output that a symbol finding quotes its block of.
    pub(crate) diagnostics: Option<&'a str>,
    /// The final link failed.
    pub(crate) link_failure: Option<LinkFailure<'a>>,
    /// A dynamically linked image's imports from its shared libraries
    /// (`inspect::dynamic_imports`); `None` for a static image.
    pub(crate) imports: Option<&'a BTreeSet<String>>,
    /// What the runner read for the kinds the failed link named beyond
    /// undefined symbols (definitions' lines, a region's fill).
    pub(crate) places: Option<&'a Places>,
}

/// A cell's findings from its evidence: undefined (or unexported)
/// symbols, forbidden symbols, then a link error the symbols do not
/// explain. A new finding kind is one more rule here.
pub(crate) fn decide(r: &Rules<'_>, ev: Evidence<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    // The failed link's words, read once by `explain`'s recognizers.
    let parsed: Option<Vec<Finding>> = ev.link_failure.as_ref().map(|f| {
        crate::explain::explain(&mut f.diagnostics.as_bytes())
            .map(|e| e.findings)
            .unwrap_or_default()
    });
    if let Some(a) = ev.analysis {
        let named = parsed.as_deref().map(named_undefined);
        let imported = |symbol: &str| imported(ev.imports, named.as_ref(), symbol);
        out.extend(undefined_findings(r, a, &ev, &imported));
        policy_findings(r, a, &mut out);
    }
    if let (Some(failure), Some(parsed)) = (ev.link_failure, parsed) {
        out.extend(linker::typed(r, &parsed, ev.places));
        if ev.analysis.is_none() {
            // No image to read: the symbols as the linker named them.
            out.extend(
                parsed
                    .iter()
                    .filter(|f| f.kind == FindingKind::UndefinedSymbol)
                    .filter(|f| f.symbol.as_deref().is_none_or(|s| !r.allowed(s)))
                    .map(|f| {
                        let mut f = f.clone();
                        f.referenced_by =
                            f.referenced_by.iter().map(|x| relativize(r, x)).collect();
                        f
                    }),
            );
        }
        let failing = Status::of(&out) == Status::Fail;
        if (failure.despite_policy && !failing) || !linker::explained(r, &parsed, &out) {
            out.push(failure.finding);
        }
    }
    out
}

/// A symbol name without the whitespace and control characters around it
/// (a wrapped name's newlines may reach the report as blank lines, or not
/// at all), for comparing the linker's words with the image's names.
fn loose(name: &str) -> &str {
    name.trim_matches(|c: char| c.is_whitespace() || c.is_control())
}

/// The undefined symbols a linker's words name, each as written and
/// demangled ([`loose`]).
fn named_undefined(parsed: &[Finding]) -> BTreeSet<String> {
    parsed
        .iter()
        .filter(|f| f.kind == FindingKind::UndefinedSymbol)
        .filter_map(|f| f.symbol.as_deref())
        .flat_map(|n| {
            let n = loose(n).to_owned();
            [crate::explain::demangle_any(&n), n]
        })
        .collect()
}

/// `symbol` is resolved at load time from a shared library the image
/// needs: the dynamic symbol table imports it, and the linker, if the
/// link failed, did not name it undefined (a permissive link imports
/// what it could not resolve too).
fn imported(
    imports: Option<&BTreeSet<String>>,
    named: Option<&BTreeSet<String>>,
    symbol: &str,
) -> bool {
    let plain = crate::inspect::unversioned(symbol);
    imports.is_some_and(|i| i.contains(plain))
        && named.is_none_or(|n| {
            let plain = loose(plain);
            !n.contains(plain) && !n.contains(&crate::explain::demangle_any(plain))
        })
}

/// The image's undefined symbols that are findings under `ev`'s
/// [`UndefinedRule`] (neither weak, allowed nor `imported`), each quoting
/// its block of `ev`'s diagnostics.
fn undefined_findings(
    r: &Rules<'_>,
    a: &Analysis,
    ev: &Evidence<'_>,
    imported: &dyn Fn(&str) -> bool,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for u in &a.undefined {
        if u.weak || r.allowed(&u.symbol) || imported(&u.symbol) {
            continue;
        }
        match &ev.undefined {
            UndefinedRule::Ignored => break,
            UndefinedRule::All => {
                out.push(symbol_finding(
                    r,
                    FindingKind::UndefinedSymbol,
                    u,
                    ev.diagnostics,
                ));
            }
            UndefinedRule::Module { exported, defined } => {
                if exported.contains(&u.symbol) {
                    continue;
                }
                let kind = if defined.contains(&u.symbol) {
                    FindingKind::UnexportedSymbol
                } else {
                    FindingKind::UndefinedSymbol
                };
                let mut f = symbol_finding(r, kind, u, None);
                f.message = Some(format!(
                    "ERROR: modpost: \"{}\" [{}] {}",
                    u.symbol,
                    r.package,
                    if kind == FindingKind::UnexportedSymbol {
                        "undefined! (the platform defines it but does not export it)"
                    } else {
                        "undefined!"
                    }
                ));
                out.push(f);
            }
        }
    }
    out
}

/// Forbidden symbols the image reaches from its roots, or leaves
/// undefined.
fn policy_findings(r: &Rules<'_>, a: &Analysis, out: &mut Vec<Finding>) {
    for x in a.reached(&r.policy.forbidden) {
        let mut f = Finding::symbol(FindingKind::ForbiddenSymbol, x.symbol);
        f.chain = x.chain;
        out.push(f);
    }
    for u in &a.undefined {
        if r.policy.forbidden.iter().any(|p| p.matches(&u.symbol)) {
            out.push(symbol_finding(r, FindingKind::ForbiddenSymbol, u, None));
        }
    }
}

/// `r` with its file relative to the project and its object's directory
/// dropped.
pub(crate) fn relativize(rules: &Rules<'_>, r: &Reference) -> Reference {
    let mut r = r.clone();
    if let Some(f) = &r.file
        && let Ok(rel) = Path::new(f).strip_prefix(rules.root)
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

/// Lines a wrapped name may take in a linker's output.
const MAX_NAME_LINES: usize = 8;

/// The block of the linker's output about `symbol`.
fn linker_block(diag: &str, symbol: &str) -> Option<String> {
    let lines: Vec<&str> = diag.lines().collect();
    // A name with newlines is wrapped over lines: its first line is on the
    // `undefined` line or the next one.
    let needle = loose(symbol).lines().next().unwrap_or_default();
    let start = lines.iter().enumerate().position(|(i, l)| {
        l.contains("undefined")
            && (l.contains(needle)
                || (needle != symbol && lines.get(i + 1).is_some_and(|n| n.contains(needle))))
    })?;
    // The name's own lines, then its `>>>` block.
    let own = symbol.matches('\n').count().min(MAX_NAME_LINES);
    let from = (start + 1 + own).min(lines.len());
    let end = lines[from..]
        .iter()
        .position(|l| !l.starts_with(">>>") && !l.starts_with(' '))
        .map_or(lines.len(), |i| from + i);
    Some(lines[start..end.min(start + 12)].join("\n"))
}

fn symbol_finding(r: &Rules<'_>, kind: FindingKind, u: &Undefined, diag: Option<&str>) -> Finding {
    let mut f = Finding::symbol(kind, u.symbol.clone());
    f.referenced_by = u.referenced_by.iter().map(|x| relativize(r, x)).collect();
    f.chain.clone_from(&u.chain);
    f.message = diag.and_then(|d| linker_block(d, &u.symbol));
    f.at = in_project(r, &u.sites);
    f
}

/// The first of `sites` inside the project (not a registry dependency,
/// not the standard library), relative to its root.
fn in_project(r: &Rules<'_>, sites: &[(String, u32)]) -> Option<Location> {
    sites.iter().find_map(|(file, line)| {
        let p = Path::new(file);
        let rel = if p.is_absolute() {
            p.strip_prefix(r.root).ok()?
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

/// The `link-error` finding of a linker run: its command line and the
/// error lines of its output.
pub(crate) fn link_error(command: &str, diagnostics: &str) -> Finding {
    Finding::message(
        FindingKind::LinkError,
        format!("{command}\n{}", build::trim_diagnostics(diagnostics)),
    )
}

/// A failed compile's findings: one per rustc error, at rustc's primary
/// span (so SARIF and GitHub annotations land on the line), capped; else
/// one with the build's output.
pub(crate) fn build_findings(r: &Rules<'_>, f: BuildFailure) -> Vec<Finding> {
    if f.errors.is_empty() {
        return vec![Finding::message(FindingKind::BuildError, f.message)];
    }
    let more = f.errors.len().saturating_sub(build::MAX_COMPILER_ERRORS);
    let mut out: Vec<Finding> = f
        .errors
        .into_iter()
        .take(build::MAX_COMPILER_ERRORS)
        .map(|e| {
            let rendered = with_hint(e.rendered);
            let mut finding = Finding::message(FindingKind::BuildError, rendered);
            if let (Some(file), Some(line)) = (&e.file, e.line) {
                finding.at = in_project(r, &[(file.clone(), line)]);
            }
            finding.referenced_by = vec![relativize(
                r,
                &Reference {
                    function: e.krate,
                    object: None,
                    file: e.file,
                    line: e.line,
                },
            )];
            finding
        })
        .collect();
    if more > 0
        && let Some(last) = out.last_mut()
        && let Some(msg) = last.message.as_mut()
    {
        let _ = write!(
            msg,
            "\n… and {more} more errors (run the reproduce command)"
        );
    }
    out
}

/// rustc's error with linkmatrix's hint where the cause is the matrix's
/// way of building, not the code: a `no_std` library is built as a
/// staticlib and linked into an image, which needs a panic handler that
/// a library alone usually leaves to the final binary (rustc's E0152
/// family: "`#[panic_handler]` function required, but not found").
fn with_hint(rendered: String) -> String {
    if rendered.contains("`#[panic_handler]` function required, but not found") {
        format!(
            "{rendered}\nhelp (linkmatrix): each cell links the library into an image, which needs one panic handler: add `#[cfg(target_os = \"none\")] #[panic_handler] fn panic(_: &core::panic::PanicInfo<'_>) -> ! {{ loop {{}} }}` to the crate, or depend on a panic crate (panic-halt) in the bare targets (README \"A crate of your own\")"
        )
    } else {
        rendered
    }
}

/// The undefined symbols a failed command build's linker named in its
/// log (`explain`'s parsers for GNU ld and lld), less those the policy
/// allows; the runner then attributes them and calls
/// [`locate_in_tree`].
pub(crate) fn linker_log_findings(r: &Rules<'_>, log: &str) -> Vec<Finding> {
    let parsed = crate::explain::explain(&mut log.as_bytes()).map(|e| e.findings);
    parsed
        .unwrap_or_default()
        .into_iter()
        .filter(|f| f.kind == FindingKind::UndefinedSymbol)
        .filter(|f| f.symbol.as_deref().is_none_or(|s| !r.allowed(s)))
        .collect()
}

/// A failed command build's findings placed in its tree: files relative
/// to `source`, objects to the build directory `out`, `at` the reference
/// itself (the tree is the project); no symbol at all makes the log's
/// errors one `build-error`.
pub(crate) fn locate_in_tree(
    mut found: Vec<Finding>,
    source: &Path,
    out: &Path,
    log: &str,
) -> Vec<Finding> {
    let under = |p: &str, dir: &Path| {
        Path::new(p)
            .strip_prefix(dir)
            .ok()
            .map(|rel| rel.display().to_string())
    };
    for f in &mut found {
        for r in &mut f.referenced_by {
            if let Some(rel) = r.file.as_deref().and_then(|p| under(p, source)) {
                r.file = Some(rel);
            }
            if let Some(rel) = r.object.as_deref().and_then(|p| under(p, out)) {
                r.object = Some(rel);
            }
        }
        f.at = f.referenced_by.iter().find_map(|r| {
            Some(Location {
                file: r.file.clone().filter(|f| !f.starts_with('/'))?,
                line: r.line?,
            })
        });
    }
    if found.is_empty() {
        found.push(Finding::message(
            FindingKind::BuildError,
            build::trim_diagnostics(log),
        ));
    }
    found
}

/// Symbols undefined in the debug twin but not in the cell: latent.
pub(crate) fn add_latent(o: &mut CellOutcome, twin: &CellOutcome, deny: bool) {
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

mod linker;
pub(crate) use linker::Places;

#[cfg(test)]
mod tests;

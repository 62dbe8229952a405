//! The linker's words as a cell's findings, beyond undefined symbols: the
//! kinds `explain`'s recognizers read from a failed link (duplicate
//! symbols, region and relocation overflows, linker-script assertions,
//! missing inputs), placed in the project with what the runner read of
//! the objects and the image ([`Places`]); and whether the linker said
//! anything those findings do not cover.
//!
//! It must not run a program or read a file: the runner fills [`Places`].
use std::collections::{BTreeMap, BTreeSet};

use super::{Rules, in_project, loose, relativize};
use crate::model::{Definition, Finding, FindingKind, RegionFill};

/// What the runner read for the kinds the linker named: source lines the
/// linker did not give, and what fills an overflowing region.
#[derive(Debug, Default)]
pub(crate) struct Places {
    /// Per (symbol, object as the linker names it): the definition's
    /// source line, from the object's DWARF.
    pub(crate) definitions: BTreeMap<(String, String), (String, u32)>,
    /// Per symbol: source lines of the definition the image kept — its own
    /// lines, then the entries of the functions it calls (a definition a
    /// macro wrote points into the macro's crate; what it calls is where
    /// the project wrote it).
    pub(crate) sites: BTreeMap<String, Vec<(String, u32)>>,
    /// Per region: its length in the linker script, when found.
    pub(crate) lengths: BTreeMap<String, u64>,
    /// Per region: what fills it (the image relinked with the region made
    /// large enough).
    pub(crate) fills: BTreeMap<String, RegionFill>,
}

/// The kinds beyond symbols that a linker names, each always a finding.
const TYPED: [FindingKind; 5] = [
    FindingKind::DuplicateSymbol,
    FindingKind::RegionOverflow,
    FindingKind::RelocationOverflow,
    FindingKind::LinkerScriptAssertion,
    FindingKind::MissingInput,
];

/// The findings of the kinds beyond undefined symbols in `parsed` (the
/// failed link's words, read by `explain`), placed: files relative to
/// the project, objects by their file name, `at` the first place inside
/// the project, a region's length and fill.
pub(crate) fn typed(r: &Rules<'_>, parsed: &[Finding], places: Option<&Places>) -> Vec<Finding> {
    let empty = Places::default();
    let places = places.unwrap_or(&empty);
    parsed
        .iter()
        .filter(|f| TYPED.contains(&f.kind))
        .map(|f| place(r, f.clone(), places))
        .collect()
}

fn place(r: &Rules<'_>, mut f: Finding, places: &Places) -> Finding {
    let symbol = f.symbol.clone().unwrap_or_default();
    // Where, before paths are made relative: absolute files are how
    // `in_project` tells the project from the registry.
    let mut sites: Vec<(String, u32)> = Vec::new();
    for d in &mut f.definitions {
        if d.file.is_none()
            && let Some(obj) = &d.object
            && let Some((file, line)) = places.definitions.get(&(symbol.clone(), obj.clone()))
        {
            d.file = Some(file.clone());
            d.line = Some(*line);
        }
        if let (Some(file), Some(line)) = (&d.file, d.line) {
            sites.push((file.clone(), line));
        }
    }
    for rf in &f.referenced_by {
        if let (Some(file), Some(line)) = (&rf.file, rf.line) {
            sites.push((file.clone(), line));
        }
    }
    if let Some(s) = places.sites.get(&symbol)
        && f.kind == FindingKind::DuplicateSymbol
    {
        sites.extend(s.iter().cloned());
    }
    f.at = in_project(r, &sites);
    f.referenced_by = f.referenced_by.iter().map(|x| relativize(r, x)).collect();
    f.definitions = f.definitions.iter().map(|d| definition(r, d)).collect();
    if let Some(rel) = &mut f.relocation {
        rel.target_object = rel.target_object.take().and_then(|o| {
            let as_ref = crate::model::Reference {
                object: Some(o),
                ..crate::model::Reference::default()
            };
            relativize(r, &as_ref).object
        });
    }
    if let Some(region) = &mut f.region {
        if region.size.is_none() {
            region.size = places.lengths.get(&region.name).copied();
        }
        region.fill = places.fills.get(&region.name).cloned();
    }
    f
}

/// A definition with its file relative to the project and its object by
/// file name (as [`relativize`] does for a reference).
fn definition(r: &Rules<'_>, d: &Definition) -> Definition {
    let as_ref = crate::model::Reference {
        function: String::new(),
        object: d.object.clone(),
        file: d.file.clone(),
        line: d.line,
    };
    let rel = relativize(r, &as_ref);
    Definition {
        object: rel.object,
        file: rel.file,
        ..d.clone()
    }
}

/// Whether the findings explain every error of a failed link: the
/// linker's words (`parsed`) name something (a symbol or another kind),
/// every undefined symbol they name is a finding or allowed, and none of
/// their errors is of a kind they could not name (a `link-error`).
pub(crate) fn explained(r: &Rules<'_>, parsed: &[Finding], findings: &[Finding]) -> bool {
    if parsed.is_empty() || parsed.iter().any(|f| f.kind == FindingKind::LinkError) {
        return false;
    }
    // The linker may print a symbol demangled (lld does) or mangled, and
    // a name's leading or trailing newlines as lines of their own.
    let spellings = |raw: &str| {
        let raw = loose(raw);
        let d = crate::explain::demangle_any(raw);
        [raw.to_owned(), d]
    };
    let found: BTreeSet<String> = findings
        .iter()
        .filter(|f| f.kind != FindingKind::LinkError)
        .filter_map(|f| f.symbol.as_deref())
        .flat_map(spellings)
        .collect();
    parsed
        .iter()
        .filter(|f| f.kind == FindingKind::UndefinedSymbol)
        .filter_map(|f| f.symbol.as_deref())
        .all(|n| {
            spellings(n)
                .iter()
                .any(|x| found.contains(x) || r.allowed(x))
        })
}

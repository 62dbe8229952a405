//! Baselines: findings a team has accepted, recorded by a stable signature
//! (cell id, kind, what it is about — a symbol, a region, a missing input,
//! an assertion, a size finding's measure —, referencing function without
//! its hash), so a gate fails only on new findings and says which known
//! ones are fixed; and each cell's flash and RAM, which `size-growth` is
//! measured against.
use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::model::{
    BASELINE_SCHEMA, Baseline, BaselineEntry as Entry, CellOutcome, Finding, Report, Status,
};

/// Strip a trailing `::h0123456789abcdef` legacy-mangling hash.
fn without_hash(f: &str) -> &str {
    match f.rsplit_once("::h") {
        Some((head, h)) if h.len() == 16 && h.chars().all(|c| c.is_ascii_hexdigit()) => head,
        _ => f,
    }
}

fn first_function(f: &Finding) -> Option<&str> {
    f.referenced_by
        .iter()
        .map(|r| without_hash(&r.function))
        .min()
}

/// `cell|kind|key|function`: the key is what the finding is about (its
/// symbol, region, missing input, assertion or size measure; see
/// `Finding::key`), so two region overflows or two missing inputs of a
/// cell are told apart, and a symbol finding's signature is what it always
/// was.
pub(crate) fn signature(c: &CellOutcome, f: &Finding) -> String {
    format!(
        "{}|{}|{}|{}",
        c.id,
        f.kind,
        f.key(),
        first_function(f).unwrap_or("")
    )
}

/// The baseline of a report's current findings.
pub(crate) fn from_report(r: &Report) -> Baseline {
    let mut findings: Vec<Entry> = r
        .cells
        .iter()
        .flat_map(|c| {
            c.findings.iter().map(move |f| Entry {
                signature: signature(c, f),
                cell: c.id.clone(),
                kind: f.kind.to_string(),
                symbol: f.symbol.clone(),
                function: first_function(f).map(str::to_owned),
            })
        })
        .collect();
    findings.sort();
    findings.dedup();
    // Each cell's flash and RAM, for `size-growth` against this baseline.
    let sizes = r
        .cells
        .iter()
        .filter(|c| matches!(c.status, Status::Pass | Status::Fail))
        .filter_map(|c| Some((c.id.clone(), c.size.as_ref()?.totals())))
        .collect();
    Baseline {
        schema: BASELINE_SCHEMA.to_owned(),
        findings,
        sizes,
    }
}

/// Read a baseline file.
pub(crate) fn load(path: &Path) -> Result<Baseline> {
    let bytes = std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let b: Baseline = serde_json::from_slice(&bytes)
        .with_context(|| format!("{}: not a linkmatrix baseline", path.display()))?;
    if b.schema != BASELINE_SCHEMA {
        bail!(
            "{}: schema `{}`, expected `{BASELINE_SCHEMA}`",
            path.display(),
            b.schema
        );
    }
    Ok(b)
}

/// Mark known findings `baseline: true`; a failing cell whose findings are
/// all known (or warnings, unless they are denied) passes. Returns the baseline entries no longer found in the
/// cells that ran (fixed: remove them).
pub(crate) fn apply(r: &mut Report, b: &Baseline, deny_warnings: bool) -> Vec<Entry> {
    let known: BTreeSet<&str> = b.findings.iter().map(|e| e.signature.as_str()).collect();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    for c in &mut r.cells {
        let sigs: Vec<String> = c.findings.iter().map(|f| signature(c, f)).collect();
        for (f, sig) in c.findings.iter_mut().zip(sigs) {
            if known.contains(sig.as_str()) {
                f.baseline = true;
                seen.insert(sig);
            }
        }
        if c.status == Status::Fail
            && c.findings
                .iter()
                .all(|f| f.baseline || (f.is_warning() && !deny_warnings))
        {
            c.status = Status::Pass;
        }
    }
    let ran: BTreeSet<&str> = r
        .cells
        .iter()
        .filter(|c| c.status != Status::Skipped && c.status != Status::Error)
        .map(|c| c.id.as_str())
        .collect();
    let fixed = b
        .findings
        .iter()
        .filter(|e| ran.contains(e.cell.as_str()) && !seen.contains(&e.signature))
        .cloned()
        .collect();
    let root = r.root.take();
    *r = Report::new(r.config.clone(), std::mem::take(&mut r.cells));
    r.root = root;
    fixed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_not_part_of_the_signature() {
        assert_eq!(without_hash("kalloc::f::h0123456789abcdef"), "kalloc::f");
        assert_eq!(without_hash("kalloc::f"), "kalloc::f");
        assert_eq!(without_hash("a::hello"), "a::hello");
    }
}

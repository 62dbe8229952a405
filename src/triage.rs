//! The triage verbs on inspected cells: `why` (every chain from a root to
//! a symbol), `diff` (what differs between two cells, and over the whole
//! matrix the smallest condition, an or of ands of option values, under
//! which each of their findings appears: `appears`, `condition`) and
//! `minimize` (delta-debug a failing cell's option values toward a passing
//! cell; its own file). They reuse `check` to have the cells built (from
//! the cache when nothing changed) and `inspect` to read them.
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use anyhow::{Context, Result, bail};

use crate::check::{self, CheckOptions};
use crate::inspect::{self, Unit};
use crate::model::{Analysis, Cell, CellOutcome, Matrix, Plan, Report, Value, closest};
use crate::workdir::WorkDir;

mod appears;
mod condition;
pub(crate) mod footprint;
mod grew;
mod minimize;

use appears::{Appears, appearances};
pub(crate) use minimize::minimize;

/// Run `cells` (not necessarily the matrix's own) through `check`, quietly.
pub(crate) fn run_cells(m: &Matrix, cells: Vec<Cell>, base: &CheckOptions) -> Result<Report> {
    let probe = Plan {
        matrix: m.clone(),
        cells,
    };
    let opts = CheckOptions {
        cells: Vec::new(),
        quiet: true,
        shard: None,
        timings: None,
        latent: false,
        deny_latent: false,
        ..base.clone()
    };
    check::run(&probe, &opts, &mut std::io::sink())
}

fn find_cell<'a>(p: &'a Plan, id: &str) -> Result<&'a Cell> {
    p.cells.iter().find(|c| c.id == id).with_context(|| {
        let ids: Vec<&str> = p.cells.iter().map(|c| c.id.as_str()).collect();
        let hint = closest(id, &ids)
            .map(|c| format!("; did you mean `{c}`?"))
            .unwrap_or_default();
        format!("no cell `{id}` in {}{hint}", p.matrix.path.display())
    })
}

/// The analysis of a checked cell's image.
fn analysis(m: &Matrix, id: &str) -> Result<Analysis> {
    let ins = WorkDir::of(m)
        .read_inspected(id)
        .with_context(|| format!("cell `{id}` has no inspected image yet"))?;
    let image = ins
        .image
        .with_context(|| format!("cell `{id}` did not link far enough to be inspected"))?;
    let data = inspect::read_file(&image)?;
    let name = image.display().to_string();
    inspect::analyze(
        &[Unit {
            name: &name,
            data: &data,
        }],
        &ins.roots,
    )
}

/// The cells `--cell` names: an id, or a glob over ids; every cell when
/// not given.
fn select_cells(p: &Plan, pattern: Option<&str>) -> Result<Vec<Cell>> {
    let Some(pat) = pattern else {
        return Ok(p.cells.clone());
    };
    if !pat.contains(['*', '?', '[']) {
        return Ok(vec![find_cell(p, pat)?.clone()]);
    }
    let g = glob::Pattern::new(pat).with_context(|| format!("--cell {pat}: not a glob"))?;
    let cells: Vec<Cell> = p
        .cells
        .iter()
        .filter(|c| g.matches(&c.id))
        .cloned()
        .collect();
    if cells.is_empty() {
        bail!(
            "--cell {pat}: matches no cell of {}",
            p.matrix.path.display()
        );
    }
    Ok(cells)
}

/// `why SYMBOL [--cell ID|GLOB]`: every chain from a root to the symbol,
/// in each selected cell where it is reachable (cells with the same
/// chains are listed together).
pub(crate) fn why(
    p: &Plan,
    symbol: &str,
    cell: Option<&str>,
    base: &CheckOptions,
    out: &mut dyn Write,
) -> Result<u8> {
    let m = &p.matrix;
    let cells = select_cells(p, cell)?;
    let report = run_cells(m, cells, base)?;
    let mut groups: Vec<(Vec<Vec<String>>, Vec<&str>)> = Vec::new();
    let mut unbuilt = Vec::new();
    for c in &report.cells {
        if let Some(e) = &c.error {
            unbuilt.push(format!(
                "{}: {}",
                c.id,
                e.lines().next().unwrap_or_default()
            ));
            continue;
        }
        let Ok(a) = analysis(m, &c.id) else {
            unbuilt.push(format!("{}: not linked far enough to inspect", c.id));
            continue;
        };
        let chains = a.chains_to(symbol, 64);
        if chains.is_empty() {
            continue;
        }
        match groups.iter_mut().find(|(ch, _)| *ch == chains) {
            Some((_, ids)) => ids.push(&c.id),
            None => groups.push((chains, vec![&c.id])),
        }
    }
    if report.cells.len() == 1 && unbuilt.len() == 1 {
        bail!("cell {}", unbuilt[0]);
    }
    for u in &unbuilt {
        writeln!(out, "could not inspect {u}")?;
    }
    if groups.is_empty() {
        let n = report.cells.len();
        let which = match report.cells.as_slice() {
            [one] => one.id.clone(),
            _ => format!("any of {n} cells"),
        };
        let symbol = crate::model::escape_controls(symbol);
        writeln!(out, "`{symbol}` is not reachable from any root in {which}")?;
        return Ok(1);
    }
    for (chains, ids) in &groups {
        writeln!(
            out,
            "{} chain{} from a root to `{}` in {}:",
            chains.len(),
            if chains.len() == 1 { "" } else { "s" },
            crate::model::escape_controls(symbol),
            ids.join(", ")
        )?;
        for (i, c) in chains.iter().enumerate() {
            let steps: Vec<_> = c.iter().map(|s| crate::model::escape_controls(s)).collect();
            writeln!(out, "{:>3}. {}", i + 1, steps.join(" -> "))?;
        }
    }
    Ok(0)
}

/// Symbols a cell's report says are undefined (or unexported).
fn undefined_in(c: &CellOutcome) -> BTreeSet<String> {
    c.findings
        .iter()
        .filter(|f| {
            matches!(
                f.kind,
                crate::model::FindingKind::UndefinedSymbol
                    | crate::model::FindingKind::UnexportedSymbol
            )
        })
        .filter_map(|f| f.symbol.clone())
        .collect()
}

/// `diff A B`.
pub(crate) fn diff(
    plan: &Plan,
    a: &str,
    b: &str,
    base: &CheckOptions,
    out: &mut dyn Write,
) -> Result<u8> {
    let m = &plan.matrix;
    let (ca, cb) = (find_cell(plan, a)?, find_cell(plan, b)?);
    let report = run_cells(m, plan.cells.clone(), base)?;
    let by_id: BTreeMap<&str, &CellOutcome> =
        report.cells.iter().map(|c| (c.id.as_str(), c)).collect();
    writeln!(out, "options ({a} vs {b}):")?;
    let keys: BTreeSet<&String> = ca.options.keys().chain(cb.options.keys()).collect();
    let mut same = true;
    for k in keys {
        let (va, vb) = (ca.options.get(k), cb.options.get(k));
        if va != vb {
            same = false;
            let show = |v: Option<&Value>| v.map_or_else(|| "-".to_owned(), ToString::to_string);
            writeln!(out, "  {k}: {} vs {}", show(va), show(vb))?;
        }
    }
    if ca.profile != cb.profile {
        writeln!(out, "  profile: {} vs {}", ca.profile, cb.profile)?;
    } else if same {
        writeln!(out, "  (none)")?;
    }
    let ua = by_id.get(a).map(|c| undefined_in(c)).unwrap_or_default();
    let ub = by_id.get(b).map(|c| undefined_in(c)).unwrap_or_default();
    for (who, x, y) in [(a, &ua, &ub), (b, &ub, &ua)] {
        let only: Vec<String> = x
            .difference(y)
            .map(|s| crate::model::escape_controls(s).into_owned())
            .collect();
        if !only.is_empty() {
            writeln!(out, "undefined only in {who}: {}", only.join(", "))?;
        }
    }
    let others = |id: &str| -> BTreeSet<String> {
        by_id
            .get(id)
            .map(|c| appearances(c).iter().filter_map(Appears::other).collect())
            .unwrap_or_default()
    };
    let (oa, ob) = (others(a), others(b));
    for (who, x, y) in [(a, &oa, &ob), (b, &ob, &oa)] {
        let only: Vec<&str> = x.difference(y).map(String::as_str).collect();
        if !only.is_empty() {
            writeln!(out, "findings only in {who}: {}", only.join(", "))?;
        }
    }
    if let (Some(x), Some(y)) = (by_id.get(a), by_id.get(b)) {
        grew::region_growth(x, y, out)?;
    }
    // Demangled without the hash: a crate's symbol hashes change with its
    // features, so mangled names would all differ between the cells.
    let defined = |id: &str| -> Option<BTreeSet<String>> {
        analysis(m, id).ok().map(|x| {
            x.defined
                .iter()
                .map(|s| inspect::demangle(s).unwrap_or_else(|| s.clone()))
                .collect()
        })
    };
    // A cell that left no image (a failed command build) has no defined
    // symbols to compare: every symbol of the other would be "only" there.
    let (da, db) = match (defined(a), defined(b)) {
        (Some(in_a), Some(in_b)) => (in_a, in_b),
        (in_a, _) => {
            let who = if in_a.is_none() { a } else { b };
            writeln!(out, "defined symbols not compared: {who} left no image")?;
            (BTreeSet::new(), BTreeSet::new())
        }
    };
    for (who, x, y) in [(a, &da, &db), (b, &db, &da)] {
        let only: Vec<&String> = x.difference(y).collect();
        if !only.is_empty() {
            let shown: Vec<&str> = only.iter().take(40).map(|s| s.as_str()).collect();
            let more = if only.len() > 40 {
                format!(" … ({} in all)", only.len())
            } else {
                String::new()
            };
            writeln!(out, "defined only in {who}: {}{more}", shown.join(", "))?;
        }
    }
    // The size change, from A to B, with every symbol.
    let full = |id: &str| by_id.get(id).and_then(|c| footprint::full_size(m, c));
    match (full(a), full(b)) {
        (Some(sa), Some(sb)) => {
            writeln!(out, "size, from {a} to {b}:")?;
            crate::footprint::diff::print(&sa, &sb, out)?;
        }
        (None, None) => {}
        (sa, _) => {
            let who = if sa.is_none() { a } else { b };
            writeln!(out, "size not compared: {who} has none (its link failed)")?;
        }
    }
    // Over the matrix: when does each of these findings appear?
    let wanted: BTreeSet<Appears> = by_id
        .get(a)
        .into_iter()
        .chain(by_id.get(b))
        .flat_map(|c| appearances(c))
        .collect();
    appears::conditions(plan, &report, &wanted, out)?;
    Ok(0)
}

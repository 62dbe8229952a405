//! `minimize ID`: delta-debug a failing cell's option values toward a
//! passing cell of the same arch and profile, and say the smallest set of
//! changes that still fails like it, with the command (or the `include:`
//! entry) that reproduces it. Cells run through `check` (`run_cells`);
//! nothing here builds or inspects.
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use anyhow::{Context, Result, bail};

use super::{find_cell, run_cells};
use crate::check::{self, CheckOptions};
use crate::model::{Cell, CellOutcome, Plan, Status, Value};

/// A cell's failure, as (finding kind, finding key) pairs: warnings
/// aside.
fn signatures(c: &CellOutcome) -> BTreeSet<(String, String)> {
    c.findings
        .iter()
        .filter(|f| !f.is_warning())
        .map(|f| (f.kind.to_string(), f.key()))
        .collect()
}

/// `from` with `changes` applied, completed by the matrix's rules (so a
/// probe is a configuration the matrix could have); a cell of the plan
/// when it is one.
fn probe_cell(p: &Plan, from: &Cell, changes: &BTreeMap<String, Value>) -> Cell {
    let m = &p.matrix;
    let mut pick = from.options.clone();
    pick.extend(changes.iter().map(|(k, v)| (k.clone(), v.clone())));
    pick.insert("profile".to_owned(), Value::Str(from.profile.clone()));
    let key = crate::cache::Key::new()
        .str("probe", &format!("{pick:?}"))
        .finish();
    let id = format!("probe-{}-{}", from.arch, &key[..10]);
    let probe = crate::plan::configure(m, &pick, Some(id)).unwrap_or_else(|| from.clone());
    p.cells
        .iter()
        .find(|c| c.options == probe.options && c.profile == probe.profile)
        .cloned()
        .unwrap_or(probe)
}

/// The failing cell and what probes are judged against: the plan's
/// outcomes and the cell's failure.
struct Failing<'a> {
    p: &'a Plan,
    base: &'a CheckOptions,
    cell: Cell,
    by_id: BTreeMap<&'a str, &'a CellOutcome>,
    want: BTreeSet<(String, String)>,
}

impl Failing<'_> {
    /// The options in which `c` differs from the failing cell.
    fn distance(&self, c: &Cell) -> usize {
        c.options
            .iter()
            .filter(|(k, v)| self.cell.options.get(*k) != Some(*v))
            .count()
    }

    /// The passing cells with the failing cell's arch and profile, nearest
    /// first.
    fn passing(&self) -> Result<Vec<&Cell>> {
        let mut passing: Vec<&Cell> = self
            .p
            .cells
            .iter()
            .filter(|c| c.arch == self.cell.arch && c.profile == self.cell.profile)
            .filter(|c| {
                self.by_id
                    .get(c.id.as_str())
                    .is_some_and(|o| o.status == Status::Pass)
            })
            .collect();
        if passing.is_empty() {
            bail!(
                "no passing cell with arch {} and profile {} to minimize toward",
                self.cell.arch,
                self.cell.profile
            );
        }
        passing.sort_by_key(|c| self.distance(c));
        Ok(passing)
    }

    /// Whether `from` with `changes` fails like the cell (a cell of the
    /// plan already ran; another probe is run).
    fn fails(&self, from: &Cell, changes: &BTreeMap<String, Value>) -> Result<bool> {
        let probe = probe_cell(self.p, from, changes);
        if let Some(o) = self.by_id.get(probe.id.as_str()) {
            return Ok(!signatures(o).is_disjoint(&self.want));
        }
        let r = run_cells(&self.p.matrix, vec![probe], self.base)?;
        Ok(r.cells
            .first()
            .is_some_and(|c| !signatures(c).is_disjoint(&self.want)))
    }

    /// The changes from passing cell `from` to the failing cell that the
    /// failure needs: the differences, applied from `from`, fail like the
    /// cell; one change at a time, every change it does not need is
    /// dropped.
    fn needed_changes(&self, from: &Cell) -> Result<BTreeMap<String, Value>> {
        let mut delta: BTreeMap<String, Value> = self
            .cell
            .options
            .iter()
            .filter(|(k, v)| from.options.get(*k) != Some(*v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for k in delta.keys().cloned().collect::<Vec<_>>() {
            let mut without = delta.clone();
            without.remove(&k);
            if self.fails(from, &without)? {
                delta = without;
            }
        }
        Ok(delta)
    }
}

/// `minimize ID`: the smallest set of option changes from a passing cell
/// (same arch and profile) that still fails like `ID`. The cells tried
/// are the nearest passing ones; the answer prefers options the rules
/// decide over options on an axis.
pub(crate) fn minimize(p: &Plan, id: &str, base: &CheckOptions, out: &mut dyn Write) -> Result<u8> {
    let m = &p.matrix;
    let cell = find_cell(p, id)?.clone();
    let report = run_cells(m, p.cells.clone(), base)?;
    let by_id: BTreeMap<&str, &CellOutcome> =
        report.cells.iter().map(|c| (c.id.as_str(), c)).collect();
    let f_out = by_id.get(id).context("the cell did not run")?;
    if f_out.status != Status::Fail {
        bail!(
            "cell `{id}` does not fail ({}): nothing to minimize",
            f_out.status
        );
    }
    let want = signatures(f_out);
    let failing = Failing {
        p,
        base,
        cell,
        by_id,
        want,
    };
    let passing = failing.passing()?;
    let best = failing.distance(passing[0]);
    let mut results: Vec<(&Cell, BTreeMap<String, Value>)> = Vec::new();
    for from in passing
        .iter()
        .take_while(|c| failing.distance(c) == best)
        .take(3)
    {
        results.push((from, failing.needed_changes(from)?));
    }
    // Fewest changes first; among those, changes to options the rules decide
    // (not on an axis) first: a fix changes a rule, not the configuration.
    results.sort_by_key(|(_, d)| {
        (
            d.len(),
            d.keys()
                .filter(|k| m.axes.iter().any(|(a, _)| a == *k))
                .count(),
        )
    });
    let (from, delta) = &results[0];
    write_changes(out, id, &failing.want, from, delta)?;
    write_reproduce(out, p, base, &probe_cell(p, from, delta))?;
    Ok(0)
}

/// What `id` fails with, the passing cell `from`, and the smallest set of
/// changes `delta` from it that still fails.
fn write_changes(
    out: &mut dyn Write,
    id: &str,
    want: &BTreeSet<(String, String)>,
    from: &Cell,
    delta: &BTreeMap<String, Value>,
) -> Result<()> {
    writeln!(
        out,
        "{id} fails with: {}",
        want.iter()
            .map(|(k, s)| format!("{k} {s}"))
            .collect::<Vec<_>>()
            .join(", ")
    )?;
    writeln!(
        out,
        "passing cell: {} (same arch and profile, fewest differences)",
        from.id
    )?;
    if delta.is_empty() {
        writeln!(
            out,
            "the failure does not depend on the options that differ"
        )?;
    } else {
        writeln!(
            out,
            "smallest set of option changes from it that still fails:"
        )?;
        for (k, v) in delta {
            let was = from
                .options
                .get(k)
                .map_or_else(|| "-".to_owned(), ToString::to_string);
            writeln!(out, "  {k}: {was} -> {v}")?;
        }
    }
    Ok(())
}

/// How to run `probe`, the smallest failing change: the matrix's own cell,
/// or the `include:` entry that adds it.
fn write_reproduce(out: &mut dyn Write, p: &Plan, base: &CheckOptions, probe: &Cell) -> Result<()> {
    if p.cells.iter().any(|c| c.id == probe.id) {
        // The smallest failing change is a cell the matrix already has.
        writeln!(out, "that is cell {} of the matrix", probe.id)?;
        writeln!(out, "reproduce: {}", check::reproduce(base, &probe.id))?;
        return Ok(());
    }
    let inc: Vec<String> = probe
        .options
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    let config = crate::model::display_path(&p.matrix.path);
    writeln!(out, "reproduce: add to `include:` in {config}")?;
    writeln!(
        out,
        "  - {{{}, profile: {}, id: {}}}",
        inc.join(", "),
        probe.profile,
        probe.id
    )?;
    writeln!(out, "then: {}", check::reproduce(base, &probe.id))?;
    Ok(())
}

//! `footprint`: the cells' sizes (from a report, or by running the cells
//! through `check`, from the cache when nothing changed), what each option
//! costs, printed or as JSON. Pairs of cells are judged by the matrix's
//! rules: `b` is `a` with one option changed when completing `a`'s axis
//! values, with that option set to `b`'s value, gives `b` (so options the
//! rules derive from it may change too).
//!
//! Also each cell's size measured again with every symbol, for `diff`.
//! The figures are `footprint::cost`'s and `footprint::diff`'s.
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use anyhow::Result;

use crate::check::CheckOptions;
use crate::footprint::cost::{self, Subject};
use crate::model::{CellOutcome, Matrix, Mode, Plan, Size, Status, Value};
use crate::workdir::WorkDir;

/// The options of the matrix with their values, the reference first:
/// `false` before `true`, a choice's values in its axis's order (else as
/// declared), and `profile` when the matrix has several.
fn subjects(m: &Matrix) -> Vec<Subject> {
    let axis = |name: &str| m.axes.iter().find(|(a, _)| a == name).map(|(_, v)| v);
    let mut out: Vec<Subject> = m
        .rules
        .options
        .iter()
        .map(|o| Subject {
            option: o.name.clone(),
            values: match (&o.choices, axis(&o.name)) {
                (None, _) => vec![Value::Bool(false), Value::Bool(true)],
                (Some(_), Some(values)) => values.clone(),
                (Some(c), None) => c.iter().map(|v| Value::Str(v.clone())).collect(),
            },
        })
        .collect();
    if let Some(p) = axis("profile").filter(|p| p.len() > 1) {
        out.push(Subject {
            option: "profile".to_owned(),
            values: p.clone(),
        });
    }
    out
}

fn value_of(c: &CellOutcome, option: &str) -> Option<Value> {
    match option {
        "profile" => Some(Value::Str(c.profile.clone())),
        _ => c.options.get(option).cloned(),
    }
}

/// Whether `to` is `from` with `option` changed alone: `from`'s axis
/// values with `option` set as in `to`, completed by the rules, are `to`.
fn is_pair(m: &Matrix, from: &CellOutcome, to: &CellOutcome, option: &str) -> bool {
    let mut pick: BTreeMap<String, Value> = m
        .axes
        .iter()
        .filter_map(|(a, _)| Some((a.clone(), value_of(from, a)?)))
        .collect();
    let Some(v) = value_of(to, option) else {
        return false;
    };
    pick.insert(option.to_owned(), v);
    let Some(made) = crate::plan::configure(m, &pick, None) else {
        return false;
    };
    let options = |o: &BTreeMap<String, Value>| {
        o.iter()
            .filter(|(k, _)| *k != "profile")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<BTreeMap<_, _>>()
    };
    made.profile == to.profile && options(&made.options) == options(&to.options)
}

/// `footprint [REPORT]`: exit 0, or 2 when no cell has a size.
pub(crate) fn footprint(
    p: &Plan,
    report: Option<&Path>,
    base: &CheckOptions,
    json: bool,
    out: &mut dyn Write,
) -> Result<u8> {
    let m = &p.matrix;
    let mut r = match report {
        Some(path) => crate::report::load(path)?,
        None => super::run_cells(m, p.cells.clone(), base)?,
    };
    r.cells.retain(|c| c.status != Status::Skipped);
    let costs = cost::costs(&r.cells, &subjects(m), &|a, b, o| is_pair(m, a, b, o));
    if json {
        serde_json::to_writer_pretty(&mut *out, &costs)?;
        writeln!(out)?;
    } else {
        cost::print(&costs, out)?;
    }
    if costs.cells.is_empty() {
        let _ = writeln!(
            anstream::stderr(),
            "error: no cell has a size (none linked far enough to be measured)"
        );
        return Ok(crate::model::EXIT_TOOL);
    }
    Ok(0)
}

/// A cell's size with every symbol (its report lists the largest few):
/// its image measured again from the work directory — a module's own
/// object, with the regions its size was measured with. `None` when the
/// cell has no size (its link failed) or the file is gone.
pub(crate) fn full_size(m: &Matrix, c: &CellOutcome) -> Option<Size> {
    c.size.as_ref()?;
    let wd = WorkDir::of(m);
    let dir = wd.cell(&c.id);
    let inspected = wd.read_inspected(&c.id)?;
    let image = match m.mode {
        Mode::Module => dir.join("module.o"),
        _ => inspected.image?,
    };
    let data = crate::inspect::read_file(&image).ok()?;
    let arch = c.options.get("arch").map(ToString::to_string);
    let scripted = arch
        .and_then(|a| m.targets.get(&a))
        .is_some_and(|t| t.script.is_some());
    let script = match m.mode {
        Mode::Image if scripted => Some(dir.join("link.ld")),
        Mode::Bin => Some(dir.join("memory.x")),
        _ => None,
    };
    let regions = script
        .and_then(|s| std::fs::read_to_string(s).ok())
        .map(|t| crate::inspect::memory::regions(&t))
        .unwrap_or_default();
    crate::inspect::footprint(&data, &regions, usize::MAX, &inspected.objects).ok()
}

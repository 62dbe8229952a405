//! Reading a large report: the option values that tell its cells apart
//! (each cell as the values where it differs from what most cells have,
//! instead of a long id), and its cells grouped by status and by what
//! they found, failing groups first. The human summary and Markdown use
//! it when a report is large; pure functions over a [`Report`].
use std::collections::BTreeMap;

use crate::model::{CellOutcome, Report, Status, Value};

/// More cells than this, or an id longer than [`LONG_ID`], and the
/// summaries group cells instead of listing one line per id.
pub(crate) const MANY_CELLS: usize = 16;
/// An id longer than this is no longer read at a glance.
pub(crate) const LONG_ID: usize = 40;

/// Whether the summaries group this report's cells.
pub(crate) fn at_scale(r: &Report) -> bool {
    r.cells.len() > MANY_CELLS || r.cells.iter().any(|c| c.id.len() > LONG_ID)
}

/// The options whose value differs between cells, each with the value
/// most cells have (ties: the smallest value).
#[derive(Debug)]
pub(crate) struct Variation {
    common: Vec<(String, Value)>,
}

/// A cell's values, `profile` included.
fn values(c: &CellOutcome) -> BTreeMap<String, Value> {
    let mut v = c.options.clone();
    v.insert("profile".to_owned(), Value::Str(c.profile.clone()));
    v
}

/// One value as a word: `smp` / `no-smp` for a bool, the value alone for
/// `arch` and `profile`, `name=value` for a choice.
fn word(option: &str, value: Option<&Value>) -> String {
    match value {
        Some(Value::Bool(true)) => option.to_owned(),
        Some(Value::Bool(false)) => format!("no-{option}"),
        Some(Value::Str(s)) if option == "arch" || option == "profile" => s.clone(),
        Some(Value::Str(s)) => format!("{option}={s}"),
        None => format!("{option}=-"),
    }
}

impl Variation {
    /// The varying options of a report, `arch` first and `profile` last.
    pub(crate) fn of(r: &Report) -> Self {
        let mut counts: BTreeMap<String, BTreeMap<Option<Value>, usize>> = BTreeMap::new();
        let all: Vec<BTreeMap<String, Value>> = r.cells.iter().map(values).collect();
        let keys: std::collections::BTreeSet<&String> = all.iter().flat_map(|v| v.keys()).collect();
        for k in keys {
            let per = counts.entry(k.clone()).or_default();
            for v in &all {
                *per.entry(v.get(k).cloned()).or_default() += 1;
            }
        }
        let mut common: Vec<(String, Value)> = counts
            .into_iter()
            .filter(|(_, per)| per.len() > 1)
            .filter_map(|(k, per)| {
                let best = per.values().copied().max()?;
                // BTreeMap order: the smallest value among the most common.
                let v = per.into_iter().find(|(_, n)| *n == best)?.0?;
                Some((k, v))
            })
            .collect();
        let rank = |k: &str| match k {
            "arch" => 0,
            "profile" => 2,
            _ => 1,
        };
        common.sort_by(|a, b| (rank(&a.0), &a.0).cmp(&(rank(&b.0), &b.0)));
        Self { common }
    }

    /// The words that tell `c` from the common values (`no-mmu smp`);
    /// empty for a cell with every common value.
    pub(crate) fn words(&self, c: &CellOutcome) -> Vec<String> {
        let v = values(c);
        self.common
            .iter()
            .filter(|(k, common)| v.get(k) != Some(common))
            .map(|(k, _)| word(k, v.get(k)))
            .collect()
    }

    /// The words a cell shows, joined; `(common values)` when none.
    pub(crate) fn label(&self, c: &CellOutcome) -> String {
        let w = self.words(c);
        if w.is_empty() {
            "(common values)".to_owned()
        } else {
            w.join(" ")
        }
    }

    /// The common values as words: `x86 release no-smp mmu`.
    pub(crate) fn common_words(&self) -> Vec<String> {
        self.common.iter().map(|(k, v)| word(k, Some(v))).collect()
    }
}

/// Cells with one status and the same findings (or the same first error
/// line).
#[derive(Debug)]
pub(crate) struct Group<'a> {
    /// Their status.
    pub(crate) status: Status,
    /// What they found, in one line (empty for passing cells).
    pub(crate) what: String,
    /// The cells, in report order.
    pub(crate) cells: Vec<&'a CellOutcome>,
}

/// Failing first, then errors, skipped, passing; within a status the
/// largest group first, then report order.
pub(crate) fn groups(r: &Report) -> Vec<Group<'_>> {
    let mut out: Vec<Group<'_>> = Vec::new();
    for c in &r.cells {
        let what = super::formats::cell_summary(c);
        match out
            .iter_mut()
            .find(|g| g.status == c.status && g.what == what)
        {
            Some(g) => g.cells.push(c),
            None => out.push(Group {
                status: c.status,
                what,
                cells: vec![c],
            }),
        }
    }
    let order = |s: Status| match s {
        Status::Fail => 0,
        Status::Error => 1,
        Status::Skipped => 2,
        Status::Pass => 3,
    };
    // Stable: equal keys keep report order.
    out.sort_by_key(|g| (order(g.status), std::cmp::Reverse(g.cells.len())));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(id: &str, opts: &[(&str, Value)], status: Status) -> CellOutcome {
        CellOutcome {
            id: id.to_owned(),
            target: "x86_64-unknown-none".to_owned(),
            options: opts
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
            features: Vec::new(),
            settings: crate::model::Settings::default(),
            profile: "release".to_owned(),
            status,
            duration_ms: 0,
            cached_duration_ms: None,
            reproduce: String::new(),
            findings: Vec::new(),
            error: None,
            error_kind: None,
            cached: false,
            size: None,
        }
    }

    #[test]
    fn a_cell_reads_as_the_values_where_it_differs_from_most() {
        let made = |id: &str, smp: bool, t: &str, status| {
            let opts = [
                ("arch", Value::Str("x86".to_owned())),
                ("smp", Value::Bool(smp)),
                ("t", Value::Str(t.to_owned())),
            ];
            cell(id, &opts, status)
        };
        let r = Report::new(
            "m.yaml".to_owned(),
            vec![
                made("a", false, "rtc", Status::Pass),
                made("b", false, "rtc", Status::Pass),
                made("c", true, "pit", Status::Fail),
            ],
        );
        let v = Variation::of(&r);
        assert_eq!(
            v.common_words(),
            ["no-smp", "t=rtc"],
            "arch and profile never vary here"
        );
        assert_eq!(v.label(&r.cells[2]), "smp t=pit");
        assert_eq!(v.label(&r.cells[0]), "(common values)");
        let g = groups(&r);
        assert_eq!(g[0].status, Status::Fail);
        assert_eq!(g[1].cells.len(), 2);
    }
}

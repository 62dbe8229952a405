//! When each finding appears over the matrix, for `diff`: the cells that
//! ran (and the configurations that are the same build as one of them) as
//! observations, the smallest condition over them from [`condition`], and
//! the line that says it — "in the cells run" when they are not every
//! configuration of the matrix. Runs nothing; reads a finished report.
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use anyhow::{Result, bail};

use super::condition;
use crate::model::{
    CellOutcome, FindingKind, Matrix, Plan, Report, Status, Value, escape_controls,
};

/// What `diff` follows over the matrix: a symbol undefined (or not
/// exported), or another finding by kind and what it is about (its
/// `Finding::key`: the symbol, region, missing input or assertion).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Appears {
    Undefined(String),
    Finding(FindingKind, String),
}

impl Appears {
    /// A finding other than an undefined symbol: `forbidden-symbol malloc`,
    /// `region-overflow FLASH` (names escaped).
    pub(super) fn other(&self) -> Option<String> {
        match self {
            Appears::Undefined(_) => None,
            Appears::Finding(k, s) if s.is_empty() => Some(k.to_string()),
            Appears::Finding(k, s) => Some(format!("{k} {}", escape_controls(s))),
        }
    }
}

/// `` `x` is undefined ``, `region FLASH overflows`, `` `device.x` is
/// missing ``: the finding, as the subject of a condition.
impl std::fmt::Display for Appears {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (kind, s) = match self {
            Appears::Undefined(s) => (FindingKind::UndefinedSymbol, escape_controls(s)),
            Appears::Finding(k, s) => (*k, escape_controls(s)),
        };
        match kind {
            _ if s.is_empty() => write!(f, "{kind} appears"),
            FindingKind::UndefinedSymbol => write!(f, "`{s}` is undefined"),
            FindingKind::DuplicateSymbol => write!(f, "`{s}` is defined more than once"),
            FindingKind::RegionOverflow => write!(f, "region {s} overflows"),
            FindingKind::RelocationOverflow => write!(f, "a relocation to `{s}` overflows"),
            FindingKind::LinkerScriptAssertion => {
                write!(f, "the linker-script assertion \"{s}\" fails")
            }
            FindingKind::MissingInput => write!(f, "`{s}` is missing"),
            FindingKind::SizeBudget => write!(f, "{s} is over its size budget"),
            FindingKind::SizeGrowth => write!(f, "{s} grows past `policy.size.max-growth`"),
            k => write!(f, "{k} `{s}` appears"),
        }
    }
}

/// The findings of a cell, as `diff` follows them (warnings aside).
pub(super) fn appearances(c: &CellOutcome) -> BTreeSet<Appears> {
    c.findings
        .iter()
        .filter(|f| !f.is_warning())
        .map(|f| match (f.kind, &f.symbol) {
            (FindingKind::UndefinedSymbol | FindingKind::UnexportedSymbol, Some(s)) => {
                Appears::Undefined(s.clone())
            }
            (k, _) => Appears::Finding(k, f.key()),
        })
        .collect()
}

/// A configuration's option values with `profile`, as conditions see them.
fn values(c: &CellOutcome) -> BTreeMap<String, Value> {
    let mut v = c.options.clone();
    v.insert("profile".to_owned(), Value::Str(c.profile.clone()));
    v
}

/// What the cells that ran show of the matrix.
struct Observations<'a> {
    /// Each configuration observed and the cell whose outcome it has: the
    /// cells that ran, then configurations of the matrix that are the same
    /// build as one of them (an alias: same target, features, profile and
    /// settings, so the same outcome).
    points: Vec<(BTreeMap<String, Value>, &'a CellOutcome)>,
    /// Configurations of the matrix's full product (its axes completed by
    /// the rules, less `exclude:`) observed by neither; `None` when the
    /// product is too large to count.
    missing: Option<usize>,
}

/// The most configurations of the full product `observe` enumerates.
const COUNT_LIMIT: u128 = 100_000;

/// The observations of the cells that ran (pass or fail) over the matrix:
/// on a covering or sampled plan, or with cells that could not run, some
/// configurations are missing, and a condition holds only in the cells
/// run.
fn observe<'a>(m: &Matrix, ran: &[&'a CellOutcome]) -> Observations<'a> {
    let mut points: Vec<(BTreeMap<String, Value>, &'a CellOutcome)> =
        ran.iter().map(|c| (values(c), *c)).collect();
    let total = m
        .axes
        .iter()
        .try_fold(1u128, |n, (_, v)| n.checked_mul(v.len() as u128));
    if total.is_none_or(|t| t > COUNT_LIMIT) {
        return Observations {
            points,
            missing: None,
        };
    }
    let mut seen: BTreeSet<BTreeMap<String, Value>> = points.iter().map(|p| p.0.clone()).collect();
    // The cells that ran by build (settings compared among the few).
    let mut builds: BTreeMap<(&str, &[String], &str), Vec<&'a CellOutcome>> = BTreeMap::new();
    for c in ran {
        builds
            .entry((&c.target, &c.features, &c.profile))
            .or_default()
            .push(c);
    }
    let mut missing = 0;
    let mut idx = vec![0usize; m.axes.len()];
    loop {
        let pick: BTreeMap<String, Value> = m
            .axes
            .iter()
            .zip(&idx)
            .map(|((k, vals), &i)| (k.clone(), vals[i].clone()))
            .collect();
        if let Some(cell) = crate::plan::configure(m, &pick, Some(String::new())) {
            let key = (
                cell.target.as_str(),
                cell.features.as_slice(),
                cell.profile.as_str(),
            );
            let same_build = builds
                .get(&key)
                .and_then(|cs| cs.iter().find(|c| c.settings == cell.settings))
                .copied();
            let mut v = cell.options;
            v.insert("profile".to_owned(), Value::Str(cell.profile));
            let excluded = m
                .exclude
                .iter()
                .any(|ex| ex.values.iter().all(|(k, x)| v.get(k) == Some(x)));
            if !excluded && !seen.contains(&v) {
                seen.insert(v.clone());
                match same_build {
                    Some(c) => points.push((v, c)),
                    None => missing += 1,
                }
            }
        }
        // Odometer, last axis fastest.
        let Some(a) = (0..idx.len())
            .rev()
            .find(|&a| idx[a] + 1 < m.axes[a].1.len())
        else {
            break;
        };
        idx[a] += 1;
        idx[a + 1..].fill(0);
    }
    Observations {
        points,
        missing: Some(missing),
    }
}

/// For each of `wanted`, the smallest condition in option values under
/// which it appears, over the cells that ran (pass or fail).
pub(super) fn conditions(
    plan: &Plan,
    report: &Report,
    wanted: &BTreeSet<Appears>,
    out: &mut dyn Write,
) -> Result<()> {
    let ran: Vec<&CellOutcome> = report
        .cells
        .iter()
        .filter(|c| matches!(c.status, Status::Pass | Status::Fail))
        .collect();
    if wanted.is_empty() || ran.is_empty() {
        return Ok(());
    }
    let obs = observe(&plan.matrix, &ran);
    let unrun = report.cells.len() - ran.len();
    let aliases = obs.points.len() - ran.len();
    let whole = obs.missing == Some(0);
    if !whole {
        let missing = match obs.missing {
            Some(n) => format!("{n} configurations of the matrix"),
            None => "configurations of the matrix".to_owned(),
        };
        let errored = if unrun > 0 {
            format!(", {unrun} of its cells could not run")
        } else {
            String::new()
        };
        writeln!(
            out,
            "over the {} cells that ran ({missing} are not among them{errored}): each condition below is exact in those cells and may not hold in the others",
            ran.len()
        )?;
    } else if unrun > 0 {
        writeln!(out, "({unrun} cells could not run and are not counted)")?;
    }
    if aliases > 0 {
        writeln!(
            out,
            "({aliases} more configurations of the matrix are the same build as a cell that ran, and count as it)"
        )?;
    }
    let scope = if whole { "" } else { " in the cells run" };
    for w in wanted {
        let cells: Vec<condition::Observed<'_>> = obs
            .points
            .iter()
            .map(|(v, c)| condition::Observed {
                id: &c.id,
                values: v.clone(),
                inside: appearances(c).contains(w),
            })
            .collect();
        let inside: Vec<&str> = ran
            .iter()
            .filter(|c| appearances(c).contains(w))
            .map(|c| c.id.as_str())
            .collect();
        let of = format!("{} of {} cells", inside.len(), ran.len());
        let found = condition::smallest(&cells);
        if let condition::Found::Exactly(conds) = &found {
            // The search's own check: each condition holds exactly there.
            let exact = conds
                .iter()
                .all(|c| cells.iter().all(|o| c.holds(&o.values) == o.inside));
            if !exact {
                bail!("internal error: a condition for {w} does not hold exactly");
            }
        }
        writeln!(out, "{}", condition_line(w, found, scope, &of, &inside))?;
    }
    Ok(())
}

/// One line of `diff` about when `w` appears.
fn condition_line(
    w: &Appears,
    found: condition::Found,
    scope: &str,
    of: &str,
    inside: &[&str],
) -> String {
    use condition::Found;
    match found {
        Found::Exactly(conds) => {
            let alts: Vec<String> = conds
                .iter()
                .skip(1)
                .take(3)
                .map(ToString::to_string)
                .collect();
            let also = if alts.is_empty() {
                String::new()
            } else {
                format!("; equally: {}", alts.join("; "))
            };
            format!("{w} exactly when {}{scope} ({of}{also})", conds[0])
        }
        Found::Always => format!("{w} in every cell{scope} ({of})"),
        Found::Never => format!("{w} in no cell{scope}"),
        Found::Conflict(x, y) => format!(
            "{w} in {of}, under no condition in options: {x} and {y} have the same option values and only {x} has it"
        ),
        Found::TooComplex => {
            let shown: Vec<&str> = inside.iter().take(12).copied().collect();
            let more = if inside.len() > shown.len() {
                ", …"
            } else {
                ""
            };
            format!(
                "{w} in {of}, under no condition of at most {} ands of {} option values: {}{more}",
                condition::MAX_TERMS,
                condition::MAX_LITERALS,
                shown.join(", ")
            )
        }
    }
}

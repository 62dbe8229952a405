//! What each option costs, over the matrix: for every option value and
//! arch, the flash and RAM difference between pairs of cells that differ
//! in that option alone — options the rules derive from it may follow it
//! (turning `mmu` off also turns `percpu-km` on) — as median, min and max
//! over those pairs, how many pairs each figure rests on, and the crates
//! whose bytes changed most (median per crate over the same pairs).
//!
//! Which two cells form a pair is the caller's question (`is_pair`): it
//! knows the matrix's rules. A covering plan has few exact pairs; an
//! option with none is listed as unpaired rather than guessed.
//!
//! Pure: cells in, figures out; [`print`] writes a table.
use std::collections::BTreeSet;
use std::io::Write;

use serde::Serialize;

use crate::model::{CellOutcome, Size, Value, grouped, signed};

/// One option of the matrix and the values it takes (the first is the
/// reference the others are measured against; a bool's is `false`).
#[derive(Clone, Debug)]
pub(crate) struct Subject {
    /// The option (or `profile`).
    pub(crate) option: String,
    /// Its values, the reference first.
    pub(crate) values: Vec<Value>,
}

/// A cell with a size.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct CellFigures {
    /// Cell id.
    pub(crate) id: String,
    /// Its arch.
    pub(crate) arch: String,
    /// Bytes of flash.
    pub(crate) flash: u64,
    /// Bytes of RAM.
    pub(crate) ram: u64,
}

/// Median, min and max of signed byte differences.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub(crate) struct Stat {
    /// The median (the mean of the two middle pairs when their number is
    /// even).
    #[serde(serialize_with = "whole_if_whole")]
    pub(crate) median: f64,
    /// The smallest difference.
    pub(crate) min: i64,
    /// The largest difference.
    pub(crate) max: i64,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's `serialize_with` shape
fn whole_if_whole<S: serde::Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    if v.fract() == 0.0 && v.abs() < 9e15 {
        s.serialize_i64(*v as i64)
    } else {
        s.serialize_f64(*v)
    }
}

/// One crate's share of an option's cost (medians over the pairs).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct CrateCost {
    /// The crate or bucket.
    pub(crate) name: String,
    /// Median flash difference.
    #[serde(serialize_with = "whole_if_whole")]
    pub(crate) flash: f64,
    /// Median RAM difference.
    #[serde(serialize_with = "whole_if_whole")]
    pub(crate) ram: f64,
}

/// What one option value costs on one arch.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct OptionCost {
    /// The option.
    pub(crate) option: String,
    /// The value measured.
    pub(crate) value: Value,
    /// The reference value it is measured against.
    pub(crate) against: Value,
    /// The arch.
    pub(crate) arch: String,
    /// Flash difference (value minus reference).
    pub(crate) flash: Stat,
    /// RAM difference.
    pub(crate) ram: Stat,
    /// How many pairs of cells the figures rest on.
    pub(crate) pairs: usize,
    /// Options the rules changed along with it in those pairs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) follow: Vec<String>,
    /// The crates whose bytes changed most, largest first.
    pub(crate) crates: Vec<CrateCost>,
}

/// Everything `footprint` reports.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Costs {
    /// Each cell with a size, in report order.
    pub(crate) cells: Vec<CellFigures>,
    /// Each option value and arch with at least one pair.
    pub(crate) options: Vec<OptionCost>,
    /// Options no two cells of an arch differ in alone (per arch:
    /// `option@arch`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) unpaired: Vec<String>,
    /// The cells without a size (a failed link, an `error` cell), left
    /// out of every figure, in report order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) unsized_cells: Vec<String>,
}

/// How many crates an option's cost lists.
const CRATES_SHOWN: usize = 5;

fn value_of(c: &CellOutcome, option: &str) -> Option<Value> {
    match option {
        "profile" => Some(Value::Str(c.profile.clone())),
        _ => c.options.get(option).cloned(),
    }
}

fn arch_of(c: &CellOutcome) -> String {
    match c.options.get("arch") {
        Some(v) => v.to_string(),
        None => c.target.clone(),
    }
}

/// The median of `v` (sorted in place); 0 for none.
fn median(v: &mut [i64]) -> f64 {
    v.sort_unstable();
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2] as f64,
        n => f64::midpoint(v[n / 2 - 1] as f64, v[n / 2] as f64),
    }
}

fn stat(mut v: Vec<i64>) -> Stat {
    let m = median(&mut v);
    Stat {
        median: m,
        min: v.first().copied().unwrap_or(0),
        max: v.last().copied().unwrap_or(0),
    }
}

fn diff(a: u64, b: u64) -> i64 {
    i64::try_from(i128::from(a) - i128::from(b)).unwrap_or(i64::MAX)
}

/// Per crate, the medians of its differences over `pairs` (a crate
/// missing from one cell has 0 bytes there), the largest first.
fn crate_costs(pairs: &[(&Size, &Size)]) -> Vec<CrateCost> {
    let names: BTreeSet<&str> = pairs
        .iter()
        .flat_map(|(a, b)| a.crates.iter().chain(&b.crates))
        .map(|c| c.name.as_str())
        .collect();
    let bytes = |s: &Size, name: &str| {
        s.crates
            .iter()
            .find(|c| c.name == name)
            .map_or((0, 0), |c| (c.flash, c.ram))
    };
    let mut out: Vec<CrateCost> = names
        .into_iter()
        .map(|name| {
            let (mut f, mut r): (Vec<i64>, Vec<i64>) = pairs
                .iter()
                .map(|(with, without)| {
                    let (wf, wr) = bytes(with, name);
                    let (of, or) = bytes(without, name);
                    (diff(wf, of), diff(wr, or))
                })
                .unzip();
            CrateCost {
                name: name.to_owned(),
                flash: median(&mut f),
                ram: median(&mut r),
            }
        })
        .filter(|c| c.flash != 0.0 || c.ram != 0.0)
        .collect();
    out.sort_by(|a, b| {
        let key = |c: &CrateCost| (c.flash.abs(), c.ram.abs());
        key(b)
            .partial_cmp(&key(a))
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| a.name.cmp(&b.name))
    });
    out.truncate(CRATES_SHOWN);
    out
}

/// The sized cells of `arch` where `option` is `value`.
fn with_value<'a>(
    sized: &[(&'a CellOutcome, &'a Size)],
    arch: &str,
    option: &str,
    value: &Value,
) -> Vec<(&'a CellOutcome, &'a Size)> {
    sized
        .iter()
        .filter(|(c, _)| arch_of(c) == arch && value_of(c, option).as_ref() == Some(value))
        .copied()
        .collect()
}

/// The costs of every subject's values on every arch, from the cells that
/// have a size. `is_pair(a, b, option)` says whether `b` is `a` with
/// `option` changed alone (derived options following).
pub(crate) fn costs(
    cells: &[CellOutcome],
    subjects: &[Subject],
    is_pair: &dyn Fn(&CellOutcome, &CellOutcome, &str) -> bool,
) -> Costs {
    let sized: Vec<(&CellOutcome, &Size)> = cells
        .iter()
        .filter_map(|c| c.size.as_ref().map(|s| (c, s)))
        .collect();
    let figures = sized
        .iter()
        .map(|(c, s)| CellFigures {
            id: c.id.clone(),
            arch: arch_of(c),
            flash: s.flash,
            ram: s.ram,
        })
        .collect();
    let arches: BTreeSet<String> = sized.iter().map(|(c, _)| arch_of(c)).collect();
    let mut options = Vec::new();
    let mut unpaired = Vec::new();
    for subject in subjects {
        let Some((reference, others)) = subject.values.split_first() else {
            continue;
        };
        for arch in &arches {
            let mut any = false;
            for value in others {
                let with = with_value(&sized, arch, &subject.option, value);
                let without = with_value(&sized, arch, &subject.option, reference);
                let mut pairs: Vec<(&CellOutcome, &Size, &CellOutcome, &Size)> = Vec::new();
                for &(w, ws) in &with {
                    for &(o, os) in &without {
                        if is_pair(o, w, &subject.option) || is_pair(w, o, &subject.option) {
                            pairs.push((w, ws, o, os));
                        }
                    }
                }
                if pairs.is_empty() {
                    continue;
                }
                any = true;
                let follow: BTreeSet<String> = pairs
                    .iter()
                    .flat_map(|(w, _, o, _)| {
                        w.options
                            .iter()
                            .filter(|(k, v)| {
                                *k != &subject.option
                                    && *k != "arch"
                                    && o.options.get(*k) != Some(v)
                            })
                            .map(|(k, _)| k.clone())
                    })
                    .collect();
                let both: Vec<(&Size, &Size)> = pairs.iter().map(|p| (p.1, p.3)).collect();
                options.push(OptionCost {
                    option: subject.option.clone(),
                    value: value.clone(),
                    against: reference.clone(),
                    arch: arch.clone(),
                    flash: stat(both.iter().map(|(w, o)| diff(w.flash, o.flash)).collect()),
                    ram: stat(both.iter().map(|(w, o)| diff(w.ram, o.ram)).collect()),
                    pairs: pairs.len(),
                    follow: follow.into_iter().collect(),
                    crates: crate_costs(&both),
                });
            }
            if !any {
                unpaired.push(format!("{}@{arch}", subject.option));
            }
        }
    }
    Costs {
        cells: figures,
        options,
        unpaired,
        unsized_cells: cells
            .iter()
            .filter(|c| c.size.is_none())
            .map(|c| c.id.clone())
            .collect(),
    }
}

/// A median for people: `+1,234`, `-56.5`.
fn show_median(m: f64) -> String {
    if m.fract() == 0.0 {
        signed(m as i64)
    } else {
        let whole = signed(m.trunc() as i64);
        let whole = if m < 0.0 && whole == "0" {
            "-0".to_owned()
        } else {
            whole
        };
        format!("{whole}.5")
    }
}

fn show_stat(s: &Stat, pairs: usize) -> String {
    if pairs < 2 || s.min == s.max {
        show_median(s.median)
    } else {
        format!(
            "{} ({}..{})",
            show_median(s.median),
            signed(s.min),
            signed(s.max)
        )
    }
}

/// The cells and the costs as tables.
pub(crate) fn print(c: &Costs, out: &mut dyn Write) -> std::io::Result<()> {
    let rows: Vec<Vec<String>> = c
        .cells
        .iter()
        .map(|x| vec![x.id.clone(), grouped(x.flash), grouped(x.ram)])
        .collect();
    super::table(out, &["CELL", "FLASH", "RAM"], &["FLASH", "RAM"], &rows)?;
    writeln!(out)?;
    if c.options.is_empty() {
        writeln!(out, "no two cells differ in one option alone")?;
    } else {
        let rows: Vec<Vec<String>> = c
            .options
            .iter()
            .map(|o| {
                let value = match (&o.value, &o.against) {
                    (Value::Bool(true), Value::Bool(false)) => "true".to_owned(),
                    (v, a) => format!("{v} (vs {a})"),
                };
                let crates: Vec<String> = o
                    .crates
                    .iter()
                    .take(3)
                    .filter(|k| k.flash != 0.0)
                    .map(|k| format!("{} {}", k.name, show_median(k.flash)))
                    .collect();
                vec![
                    o.option.clone(),
                    value,
                    o.arch.clone(),
                    show_stat(&o.flash, o.pairs),
                    show_stat(&o.ram, o.pairs),
                    o.pairs.to_string(),
                    o.follow.join(","),
                    crates.join(", "),
                ]
            })
            .collect();
        let h = [
            "OPTION",
            "VALUE",
            "ARCH",
            "FLASH",
            "RAM",
            "PAIRS",
            "FOLLOW",
            "CRATES (FLASH)",
        ];
        super::table(out, &h, &["FLASH", "RAM", "PAIRS"], &rows)?;
    }
    if !c.unpaired.is_empty() {
        writeln!(
            out,
            "no pair of cells with a size differs in these alone: {}",
            c.unpaired.join(", ")
        )?;
    }
    if let Some(first) = c.unsized_cells.first() {
        let more = c.unsized_cells.len() - 1;
        writeln!(
            out,
            "{} cell{} without a size (a failed link or an error) left out of these figures: {first}{}",
            c.unsized_cells.len(),
            if more == 0 { "" } else { "s" },
            if more == 0 {
                String::new()
            } else {
                format!(" and {more} more")
            }
        )?;
    }
    Ok(())
}

#[cfg(test)]
#[path = "cost_tests.rs"]
mod tests;

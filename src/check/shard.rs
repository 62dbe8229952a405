//! Splitting a matrix over N jobs: which shard runs each cell, balanced by
//! earlier durations when they are known, and what each is expected to
//! take. `plan --shards N` and `check --shard K/N` split with the same
//! function, so a shard given no cell list computes the plan's split from
//! the same durations; given the plan's list (`--shard-cells`), it runs
//! exactly that.
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use anyhow::{Result, bail};

use super::CheckOptions;
use crate::cache::{self, CacheEntry};
use crate::model::{Cell, Report, Shard, ShardBasis, ShardRun, Status, expected_text};
use crate::workdir::WorkDir;

/// Which shard (0-based) runs each cell: longest first onto the least
/// loaded shard when earlier durations are known (a cell without one
/// counts as their mean), else round robin. Deterministic for the same
/// cells and durations.
pub(crate) fn assign_shards(ids: &[&str], durations: &BTreeMap<&str, u64>, n: usize) -> Vec<usize> {
    let n = n.max(1);
    if durations.is_empty() {
        return (0..ids.len()).map(|i| i % n).collect();
    }
    let mean = mean(durations);
    let cost: Vec<u64> = ids.iter().map(|id| cost(durations, mean, id)).collect();
    let mut order: Vec<usize> = (0..ids.len()).collect();
    order.sort_by_key(|&i| (std::cmp::Reverse(cost[i]), i));
    let mut load = vec![0u64; n];
    let mut out = vec![0; ids.len()];
    for i in order {
        let s = (0..n).min_by_key(|&s| (load[s], s)).unwrap_or(0);
        load[s] += cost[i];
        out[i] = s;
    }
    out
}

fn mean(durations: &BTreeMap<&str, u64>) -> u64 {
    durations.values().sum::<u64>() / (durations.len() as u64).max(1)
}

/// A cell's expected time: its earlier duration, else the mean of those
/// known (at least 1 ms, so every cell weighs).
fn cost(durations: &BTreeMap<&str, u64>, mean: u64, id: &str) -> u64 {
    durations.get(id).copied().unwrap_or(mean).max(1)
}

/// The plan's cells split over `n` shards, each with its expected time.
pub(crate) fn plan_shards(ids: &[&str], durations: &BTreeMap<&str, u64>, n: usize) -> Vec<Shard> {
    let n = n.max(1);
    let which = assign_shards(ids, durations, n);
    (0..n)
        .map(|k| {
            let cells: Vec<&str> = ids
                .iter()
                .zip(&which)
                .filter(|(_, s)| **s == k)
                .map(|(id, _)| *id)
                .collect();
            Shard {
                label: format!("{}/{n}", k + 1),
                expected_ms: expected(&cells, durations),
                cells: cells.into_iter().map(str::to_owned).collect(),
            }
        })
        .collect()
}

fn expected(cells: &[&str], durations: &BTreeMap<&str, u64>) -> Option<u64> {
    let mean = mean(durations);
    (!durations.is_empty()).then(|| cells.iter().map(|id| cost(durations, mean, id)).sum())
}

/// Earlier durations of `ids` (ms, only those above 0): from `timings`
/// (an earlier report, [`report_timings`]) when given, else from the
/// cache entries in `work`; and where they came from.
pub(crate) fn durations<'a>(
    ids: &[&'a str],
    timings: Option<&(String, BTreeMap<String, u64>)>,
    work: &WorkDir,
) -> (BTreeMap<&'a str, u64>, ShardBasis) {
    let found: BTreeMap<&str, u64> = ids
        .iter()
        .filter_map(|id| {
            let ms = if let Some((_, t)) = timings {
                t.get(*id).copied()?
            } else {
                let e: CacheEntry = cache::read_entry(&work.cache_entry(id))?;
                e.outcome.duration_ms
            };
            (ms > 0).then_some((*id, ms))
        })
        .collect();
    let basis = match (timings, found.is_empty()) {
        (_, true) => ShardBasis::Count,
        (Some((path, _)), false) => ShardBasis::Timings(path.clone()),
        (None, false) => ShardBasis::Cache,
    };
    (found, basis)
}

/// Each cell's duration in a report: this run's, else (served from the
/// cache) the run's that computed it.
pub(crate) fn report_timings(r: &Report) -> BTreeMap<String, u64> {
    r.cells
        .iter()
        .filter_map(|c| {
            let ms = if c.duration_ms > 0 {
                c.duration_ms
            } else {
                c.cached_duration_ms?
            };
            Some((c.id.clone(), ms))
        })
        .collect()
}

/// Shard `k` of `n` of `ids`: `given` (the plan's list for it, checked
/// against the cells), else computed as the plan computes it.
pub(crate) fn this_shard(
    ids: &[&str],
    (k, n): (usize, usize),
    given: Option<&[String]>,
    durations: &BTreeMap<&str, u64>,
) -> Result<Shard> {
    let Some(given) = given else {
        let mut all = plan_shards(ids, durations, n);
        return Ok(all.swap_remove(k - 1));
    };
    let known: BTreeSet<&str> = ids.iter().copied().collect();
    let unknown: Vec<&str> = given
        .iter()
        .map(String::as_str)
        .filter(|c| !known.contains(c))
        .collect();
    if !unknown.is_empty() {
        bail!(
            "--shard-cells names cells this matrix does not have: {} (was the plan made from another matrix or commit?)",
            unknown.join(", ")
        );
    }
    let mine: BTreeSet<&str> = given.iter().map(String::as_str).collect();
    let cells: Vec<&str> = ids.iter().copied().filter(|c| mine.contains(c)).collect();
    Ok(Shard {
        label: format!("{k}/{n}"),
        expected_ms: expected(&cells, durations),
        cells: cells.into_iter().map(str::to_owned).collect(),
    })
}

/// The cells this run leaves to other shards (`--shard K/N`: the plan's
/// list from `--shard-cells`, else split as the plan splits), and this
/// shard; says on `err` which cells it runs and their expected time.
pub(super) fn select<'c>(
    cells: &[&'c Cell],
    opts: &CheckOptions,
    work: &WorkDir,
    err: &mut dyn Write,
) -> Result<(BTreeSet<&'c str>, Option<Shard>)> {
    let Some(kn) = opts.shard else {
        return Ok((BTreeSet::new(), None));
    };
    let ids: Vec<&str> = cells.iter().map(|c| c.id.as_str()).collect();
    let (durations, basis) = durations(&ids, opts.timings.as_ref(), work);
    let s = this_shard(&ids, kn, opts.shard_cells.as_deref(), &durations)?;
    if !opts.quiet {
        writeln!(
            err,
            "shard {}: {} of {} cells, expected {} ({})",
            s.label,
            s.cells.len(),
            ids.len(),
            expected_text(s.expected_ms),
            if opts.shard_cells.is_some() {
                "cells as the plan gave them".to_owned()
            } else {
                basis.to_string()
            }
        )?;
    }
    let mine: BTreeSet<&str> = s.cells.iter().map(String::as_str).collect();
    let skipped = cells
        .iter()
        .map(|c| c.id.as_str())
        .filter(|id| !mine.contains(id))
        .collect();
    Ok((skipped, Some(s)))
}

/// Say in the report what this shard ran, was expected to take and took
/// (its cells' times summed).
pub(super) fn record(report: &mut Report, shard: Option<Shard>) {
    let Some(s) = shard else { return };
    let took = report
        .cells
        .iter()
        .filter(|c| c.status != Status::Skipped)
        .map(|c| c.duration_ms)
        .sum();
    report.shards.push(ShardRun {
        shard: s.label,
        cells: s.cells.len(),
        expected_ms: s.expected_ms,
        duration_ms: took,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_balanced_by_duration_and_deterministic() {
        let ids = ["a", "b", "c", "d", "e"];
        let d: BTreeMap<&str, u64> = [("a", 100), ("b", 10), ("c", 60), ("d", 50), ("e", 5)].into();
        let s = assign_shards(&ids, &d, 2);
        assert_eq!(s, assign_shards(&ids, &d, 2));
        let load = |k| {
            ids.iter()
                .zip(&s)
                .filter(|(_, x)| **x == k)
                .map(|(i, _)| d[*i])
                .sum::<u64>()
        };
        assert!(load(0).abs_diff(load(1)) <= 15, "{s:?}");
        // No durations: round robin.
        assert_eq!(assign_shards(&ids, &BTreeMap::new(), 2), [0, 1, 0, 1, 0]);
    }

    #[test]
    fn each_shard_says_its_expected_time_and_a_given_list_is_kept() {
        let ids = ["a", "b", "c", "d"];
        let d: BTreeMap<&str, u64> = [("a", 9000), ("b", 1000), ("c", 1000)].into();
        let shards = plan_shards(&ids, &d, 2);
        // `d` has no time: it counts as the mean (3666 ms).
        assert_eq!(shards[0].cells, ["a"]);
        assert_eq!(shards[0].expected_ms, Some(9000));
        assert_eq!(shards[1].cells, ["b", "c", "d"]);
        assert_eq!(shards[1].expected_ms, Some(1000 + 1000 + 3666));
        assert_eq!(shards[1].label, "2/2");
        let by_count = plan_shards(&ids, &BTreeMap::new(), 2);
        assert_eq!(by_count[0].cells, ["a", "c"]);
        assert_eq!(by_count[0].expected_ms, None);
        // The plan's list, as a shard job is given it.
        let given = ["c".to_owned(), "a".to_owned()];
        let s = this_shard(&ids, (1, 2), Some(&given), &d).unwrap();
        assert_eq!(s.cells, ["a", "c"]);
        assert_eq!(
            this_shard(&ids, (2, 2), None, &d).unwrap(),
            shards[1].clone()
        );
        let e = this_shard(&ids, (1, 2), Some(&["zz".to_owned()]), &d).unwrap_err();
        assert!(format!("{e}").contains("zz"), "{e}");
    }
}

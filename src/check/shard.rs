//! Splitting a matrix over N jobs: which shard runs each cell, balanced by
//! earlier durations when they are known.
use std::collections::BTreeMap;

/// Which shard (0-based) runs each cell: longest first onto the least
/// loaded shard when earlier durations are known, else round robin.
/// Deterministic for the same cells and durations.
pub(crate) fn assign_shards(ids: &[&str], durations: &BTreeMap<&str, u64>, n: usize) -> Vec<usize> {
    if durations.is_empty() {
        return (0..ids.len()).map(|i| i % n).collect();
    }
    let avg = durations.values().sum::<u64>() / durations.len() as u64;
    let mut order: Vec<usize> = (0..ids.len()).collect();
    order.sort_by_key(|&i| {
        (
            std::cmp::Reverse(durations.get(ids[i]).copied().unwrap_or(avg)),
            i,
        )
    });
    let mut load = vec![0u64; n];
    let mut out = vec![0; ids.len()];
    for i in order {
        let s = (0..n).min_by_key(|&s| (load[s], s)).unwrap_or(0);
        load[s] += durations.get(ids[i]).copied().unwrap_or(avg).max(1);
        out[i] = s;
    }
    out
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
}

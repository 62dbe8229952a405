//! Shards: how a matrix is split over N CI jobs, and what each shard's run
//! took. Data and formatting only.
use serde::{Deserialize, Serialize};

/// One shard of a plan: which cells it runs and how long they are
/// expected to take.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Shard {
    /// `K/N`, 1-based, as `check --shard` takes it.
    #[serde(rename = "shard")]
    pub(crate) label: String,
    /// Its cells' ids, in plan order.
    pub(crate) cells: Vec<String>,
    /// The sum of its cells' earlier durations in milliseconds (a cell
    /// without one counts as the mean of those known); `None` when no
    /// durations were known and the cells were split by count.
    pub(crate) expected_ms: Option<u64>,
}

/// Where the durations that split a plan came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ShardBasis {
    /// An earlier report (`--timings`).
    Timings(String),
    /// The cache entries in the work directory.
    Cache,
    /// None known: cells dealt round robin.
    Count,
}

impl std::fmt::Display for ShardBasis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Timings(p) => write!(f, "balanced by the cell times in {p}"),
            Self::Cache => f.write_str("balanced by the cell times in the cache"),
            Self::Count => f.write_str("no earlier cell times: split by count"),
        }
    }
}

/// What one shard job ran, as its report says (merged: every shard's).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ShardRun {
    /// `K/N`.
    pub(crate) shard: String,
    /// Cells it ran (not `skipped`).
    pub(crate) cells: usize,
    /// What they were expected to take ([`Shard::expected_ms`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) expected_ms: Option<u64>,
    /// What they took in this run, summed (a cached cell: 0), in
    /// milliseconds: the same measure as `expected_ms`.
    pub(crate) duration_ms: u64,
}

/// A duration for people: `850ms`, `12.3s`, `4m 05s`, `1h 02m`.
pub(crate) fn human_ms(ms: u64) -> String {
    let s = ms / 1000;
    if ms < 1000 {
        format!("{ms}ms")
    } else if s < 60 {
        format!("{:.1}s", ms as f64 / 1000.0)
    } else if s < 3600 {
        format!("{}m {:02}s", s / 60, s % 60)
    } else {
        format!("{}h {:02}m", s / 3600, (s % 3600) / 60)
    }
}

/// [`human_ms`] of an expected time, `unknown` without one.
pub(crate) fn expected_text(ms: Option<u64>) -> String {
    ms.map_or_else(|| "unknown".to_owned(), human_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_at_their_scale() {
        assert_eq!(human_ms(850), "850ms");
        assert_eq!(human_ms(12_340), "12.3s");
        assert_eq!(human_ms(245_000), "4m 05s");
        assert_eq!(human_ms(3_720_000), "1h 02m");
        assert_eq!(expected_text(None), "unknown");
    }
}

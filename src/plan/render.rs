//! The `plan` renderers: a table for people, JSON (`{"cells":[...]}`, with
//! each cell's aliases and, for covering plans, what they cover), and
//! GitHub's `strategy.matrix`; with shards, each shard's cells and
//! expected time. No I/O beyond the writer given.
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write;

use serde::Serialize;

use super::{Planned, Summary};
pub(super) use crate::model::grouped_wide as grouped;
use crate::model::{Plan, Settings, Shard, ShardBasis, Value, display_path, expected_text};

/// `plan` output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    /// A table for people.
    Table,
    /// `{"cells":[...]}`.
    Json,
    /// `{"include":[...]}` for `strategy.matrix`.
    Github,
}

#[derive(Serialize)]
struct JsonCell<'a> {
    id: &'a str,
    target: &'a str,
    options: &'a BTreeMap<String, Value>,
    features: &'a [String],
    #[serde(flatten)]
    settings: &'a Settings,
    profile: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    aliases: &'a [String],
}

#[derive(Serialize)]
struct GithubEntry<'a> {
    cell: &'a str,
    target: &'a str,
}

/// What a covering plan's cells cover, after "N cells from FILE": e.g.
/// "cover all 412 value pairs of 17 axes (full product: 2,097,152 cells)".
/// `None` for the full product.
pub(crate) fn describe(s: &Summary) -> Option<String> {
    if s.cover.is_full() {
        return None;
    }
    let full = if s.full_product == u128::MAX {
        format!("full product: about 2^{:.0} cells", s.full_product_bits)
    } else {
        format!("full product: {} cells", grouped(s.full_product))
    };
    let each = "each option value alone on every arch and profile";
    let Some(c) = s.coverage.filter(|_| s.cover.strength.is_some()) else {
        return Some(format!("hold {each} ({full})"));
    };
    let what = |n: usize| match (c.strength, n) {
        (1, 1) => "value",
        (1, _) => "values",
        (2, 1) => "value pair",
        (2, _) => "value pairs",
        (_, 1) => "value triple",
        _ => "value triples",
    };
    let mut text = format!(
        "cover all {} {} of {} axes{} ({full})",
        grouped(c.covered as u128),
        what(c.covered),
        c.axes,
        if s.cover.each {
            format!(", and {each}")
        } else {
            String::new()
        },
    );
    if c.impossible > 0 {
        let _ = write!(
            text,
            "; the rules rule out {} more {}",
            grouped(c.impossible as u128),
            what(c.impossible)
        );
    }
    if c.undecided > 0 {
        let _ = write!(
            text,
            "; {} {} NOT covered: the search for a configuration with them ran out of budget",
            grouped(c.undecided as u128),
            what(c.undecided)
        );
    }
    Some(text)
}

/// How many cells were merged into equal builds, for `plan`'s last lines.
pub(crate) fn merged_note(s: &Summary) -> Option<String> {
    let n: usize = s.aliases.values().map(Vec::len).sum();
    (n > 0).then(|| {
        format!(
            "{n} more {} merged: equal builds (target, profile, settings, features after implication); `--format json` lists each cell's aliases",
            if n == 1 { "cell" } else { "cells" }
        )
    })
}

/// Write the plan; with `shards` (the plan split over CI jobs, and what
/// balanced it), each shard's cells and expected time too.
pub(crate) fn render(
    planned: &Planned,
    format: Format,
    shards: Option<(&[Shard], &ShardBasis)>,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let plan = &planned.plan;
    let none: Vec<String> = Vec::new();
    match format {
        Format::Json => {
            let cells: Vec<JsonCell<'_>> = plan
                .cells
                .iter()
                .map(|c| JsonCell {
                    id: &c.id,
                    target: &c.target,
                    options: &c.options,
                    features: &c.features,
                    settings: &c.settings,
                    profile: &c.profile,
                    aliases: planned.summary.aliases.get(&c.id).unwrap_or(&none),
                })
                .collect();
            let mut doc = serde_json::json!({ "cells": cells });
            if let Some(c) = planned.summary.coverage {
                doc["coverage"] = serde_json::json!({
                    "cover": planned.summary.cover.to_string(),
                    "strength": c.strength,
                    "axes": c.axes,
                    "covered": c.covered,
                    "impossible": c.impossible,
                    "undecided": c.undecided,
                    "full_product": (planned.summary.full_product < u128::MAX)
                        .then(|| planned.summary.full_product.to_string()),
                    "full_product_log2": planned.summary.full_product_bits,
                });
            }
            if let Some((shards, _)) = shards {
                doc["shards"] = serde_json::json!(shards);
            }
            serde_json::to_writer(&mut *out, &doc)?;
            writeln!(out)
        }
        Format::Github => {
            if let Some((shards, _)) = shards {
                return github_shards(shards, out);
            }
            let include: Vec<GithubEntry<'_>> = plan
                .cells
                .iter()
                .map(|c| GithubEntry {
                    cell: &c.id,
                    target: &c.target,
                })
                .collect();
            serde_json::to_writer(&mut *out, &serde_json::json!({ "include": include }))?;
            writeln!(out)
        }
        Format::Table => table(planned, shards, out),
    }
}

/// The plan for people; with shards, a SHARD column and each shard's
/// expected time.
fn table(
    planned: &Planned,
    shards: Option<(&[Shard], &ShardBasis)>,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let plan: &Plan = &planned.plan;
    let widest = |f: fn(&crate::model::Cell) -> usize, min: usize| {
        plan.cells.iter().map(f).max().unwrap_or(0).max(min)
    };
    let width = widest(|c| c.id.len(), 4);
    let tw = widest(|c| c.target.len(), 6);
    let shard_of: BTreeMap<&str, &str> = shards
        .iter()
        .flat_map(|(all, _)| all.iter())
        .flat_map(|s| s.cells.iter().map(|c| (c.as_str(), s.label.as_str())))
        .collect();
    // `256/256` is the widest shard.
    let col = |v: &str| {
        if shards.is_some() {
            format!("{v:7}  ")
        } else {
            String::new()
        }
    };
    writeln!(
        out,
        "{:width$}  {:tw$}  {}FEATURES",
        "CELL",
        "TARGET",
        col("SHARD")
    )?;
    for c in &plan.cells {
        let feats = if c.features.is_empty() {
            "-".to_owned()
        } else {
            c.features.join(",")
        };
        let shard = col(shard_of.get(c.id.as_str()).copied().unwrap_or("-"));
        writeln!(out, "{:width$}  {:tw$}  {shard}{feats}", c.id, c.target)?;
    }
    let covers = describe(&planned.summary)
        .map(|d| format!(" {d}"))
        .unwrap_or_default();
    writeln!(
        out,
        "{} cells from {}{covers}",
        plan.cells.len(),
        display_path(&plan.matrix.path)
    )?;
    if let Some(m) = merged_note(&planned.summary) {
        writeln!(out, "{m}")?;
    }
    if let Some((all, basis)) = shards {
        for s in all {
            writeln!(
                out,
                "shard {}: {} cells, expected {}",
                s.label,
                s.cells.len(),
                expected_text(s.expected_ms)
            )?;
        }
        writeln!(out, "({basis})")?;
    }
    Ok(())
}

/// `{"include":[{"shard":"1/4","cells":"a,b","expected":"2m 10s",
/// "expected_ms":130000},…]}`: a `strategy.matrix` with one job per shard
/// that has cells (fewer cells than shards leaves some empty). A job
/// passes `cells` to `check --shard-cells`, so every job runs the plan's
/// split.
fn github_shards(shards: &[Shard], out: &mut dyn Write) -> std::io::Result<()> {
    let include: Vec<serde_json::Value> = shards
        .iter()
        .filter(|s| !s.cells.is_empty())
        .map(|s| {
            let mut e = serde_json::json!({
                "shard": s.label,
                "cells": s.cells.join(","),
                "expected": expected_text(s.expected_ms),
            });
            if let Some(ms) = s.expected_ms {
                e["expected_ms"] = ms.into();
            }
            e
        })
        .collect();
    serde_json::to_writer(&mut *out, &serde_json::json!({ "include": include }))?;
    writeln!(out)
}

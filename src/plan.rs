//! Expanding a validated matrix into cells: the product of the axes, each
//! combination completed by the option rules (Kconfig-like: an option whose
//! `depends-on` is false is off; an option not on an axis takes its first
//! matching default), then `exclude` filters and `include` adds. Cell ids
//! are readable and stable: `<arch>-<label per axis>-<profile>`.
//!
//! Also the `plan` renderers (table, JSON, GitHub `strategy.matrix`). No
//! I/O beyond the writer it is given.
use std::collections::{BTreeMap, HashMap};
use std::io::Write;

use serde::Serialize;

use crate::model::{
    Cell, ConfigError, Matrix, Plan, Problem, Settings, Shard, ShardBasis, Value, display_path,
    expected_text,
};

/// How many cells to make.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// Refuse to expand more cells than this.
    pub(crate) max_cells: usize,
    /// Sample this many cells reproducibly (count, seed) instead of
    /// expanding all.
    pub(crate) random: Option<(usize, u64)>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_cells: 10_000,
            random: None,
        }
    }
}

/// Why expansion failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ExpandError {
    /// Duplicate ids and the like.
    #[error("{0}")]
    Problems(#[from] ConfigError),
    /// Too many cells.
    #[error(
        "{file}: the matrix expands to {cells} cells, more than --max-cells {max}; run a reproducible sample instead, e.g. `--random 50 --seed 1`, or raise --max-cells"
    )]
    TooManyCells {
        /// The matrix file.
        file: String,
        /// How many cells the axes make.
        cells: u128,
        /// The limit.
        max: usize,
    },
}

/// Expand the matrix into its plan of cells.
pub(crate) fn expand(matrix: Matrix, limits: Limits) -> Result<Plan, ExpandError> {
    let cells = expand_cells(&matrix, limits)?;
    Ok(Plan { matrix, cells })
}

fn expand_cells(spec: &Matrix, limits: Limits) -> Result<Vec<Cell>, ExpandError> {
    let Limits { max_cells, random } = limits;
    let problem = |line, col, message| Problem {
        file: spec.path.clone(),
        line,
        col,
        message,
        snippet: None,
    };
    let order = spec.rules.order().map_err(|c| ConfigError {
        problems: vec![problem(
            0,
            0,
            format!("rules form a cycle: {}", c.join(" -> ")),
        )],
    })?;
    let total: u128 = spec
        .axes
        .iter()
        .map(|(_, v)| v.len() as u128)
        .try_fold(1u128, u128::checked_mul)
        .unwrap_or(u128::MAX);

    let mut cells: Vec<(Cell, Option<(u64, u64)>)> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut problems = Vec::new();
    let mut add = |cell: Cell, at: Option<(u64, u64)>, explicit: bool| {
        if let Some(&i) = seen.get(&cell.id) {
            let (prev, prev_at) = &cells[i];
            if prev == &cell && !explicit {
                return false; // the same configuration reached twice
            }
            let (line, col) = at.unwrap_or((0, 0));
            let first = prev_at.map_or_else(
                || "first made by the axes".to_owned(),
                |(l, c)| format!("first at line {l}, column {c}"),
            );
            problems.push(problem(
                line,
                col,
                format!("duplicate cell id `{}` ({first})", cell.id),
            ));
            return false;
        }
        seen.insert(cell.id.clone(), cells.len());
        cells.push((cell, at));
        true
    };

    let excluded = |cell: &Cell| {
        spec.exclude.iter().any(|ex| {
            ex.values
                .iter()
                .all(|(k, v)| cell_value(cell, k).is_some_and(|x| x == *v))
        })
    };

    if let Some((n, seed)) = random {
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut tries = 0;
        let mut made = 0;
        while made < n && tries < n.saturating_mul(50).max(1000) {
            tries += 1;
            let pick: BTreeMap<String, Value> = spec
                .axes
                .iter()
                .map(|(k, vals)| (k.clone(), vals[rng.usize(..vals.len())].clone()))
                .collect();
            let cell = complete(spec, &order, &pick, None);
            if !excluded(&cell) && add(cell, None, false) {
                made += 1;
            }
        }
    } else {
        if total > max_cells as u128 {
            return Err(ExpandError::TooManyCells {
                file: spec.path.display().to_string(),
                cells: total,
                max: max_cells,
            });
        }
        let mut idx = vec![0usize; spec.axes.len()];
        'product: loop {
            let pick: BTreeMap<String, Value> = spec
                .axes
                .iter()
                .zip(&idx)
                .map(|((k, vals), &i)| (k.clone(), vals[i].clone()))
                .collect();
            let cell = complete(spec, &order, &pick, None);
            if !excluded(&cell) {
                add(cell, None, false);
            }
            // Odometer, last axis fastest.
            for a in (0..idx.len()).rev() {
                idx[a] += 1;
                if idx[a] < spec.axes[a].1.len() {
                    continue 'product;
                }
                idx[a] = 0;
            }
            break;
        }
    }

    for inc in &spec.include {
        let mut pick = inc.values.clone();
        for (k, vals) in &spec.axes {
            if (k == "profile" || k == "arch") && !pick.contains_key(k) {
                pick.insert(k.clone(), vals[0].clone());
            }
        }
        let cell = complete(spec, &order, &pick, inc.id.clone());
        add(cell, Some((inc.line, inc.col)), inc.id.is_some());
    }

    if !problems.is_empty() {
        return Err(ConfigError { problems }.into());
    }
    Ok(cells.into_iter().map(|(c, _)| c).collect())
}

/// An `arch` value as a cell id starts: a target triple by its first
/// component (`thumbv7em-none-eabihf` → `thumbv7em`) when no other target
/// of the matrix shares it; else in full.
fn short_arch(spec: &Matrix, arch: &str) -> String {
    let Some((first, _)) = arch.split_once('-') else {
        return arch.to_owned();
    };
    let clash = spec
        .targets
        .keys()
        .any(|k| k != arch && (k == first || k.split('-').next() == Some(first)));
    if clash {
        arch.to_owned()
    } else {
        first.to_owned()
    }
}

/// The cell the rules make from `pick` (values for `arch`, `profile` and
/// any options; the rules decide the rest, and an option whose
/// `depends-on` is false is off whatever was picked), as `include:` does.
/// `None` when the rules form a cycle (a validated matrix has none).
pub(crate) fn configure(
    spec: &Matrix,
    pick: &BTreeMap<String, Value>,
    id: Option<String>,
) -> Option<Cell> {
    let order = spec.rules.order().ok()?;
    Some(complete(spec, &order, pick, id))
}

fn cell_value(cell: &Cell, key: &str) -> Option<Value> {
    match key {
        "profile" => Some(Value::Str(cell.profile.clone())),
        _ => cell.options.get(key).cloned(),
    }
}

/// Apply the rules to the values picked on the axes.
fn complete(
    spec: &Matrix,
    order: &[usize],
    pick: &BTreeMap<String, Value>,
    id: Option<String>,
) -> Cell {
    let arch = match pick.get("arch") {
        Some(Value::Str(a)) => a.clone(),
        _ => String::new(),
    };
    let profile = match pick.get("profile") {
        Some(Value::Str(p)) => p.clone(),
        _ => "release".to_owned(),
    };
    let mut values: BTreeMap<String, Value> = BTreeMap::new();
    values.insert("arch".to_owned(), Value::Str(arch.clone()));
    values.insert("profile".to_owned(), Value::Str(profile.clone()));
    for &i in order {
        let rule = &spec.rules.options[i];
        let lookup = |n: &str| values.get(n).cloned();
        let off = || match &rule.choices {
            None => Value::Bool(false),
            Some(_) => Value::Str("off".to_owned()),
        };
        let enabled = rule.depends_on.as_ref().is_none_or(|d| d.holds(&lookup));
        let v = if !enabled {
            off()
        } else if let Some(v) = pick.get(&rule.name) {
            v.clone()
        } else {
            rule.defaults
                .iter()
                .find(|(c, _)| c.as_ref().is_none_or(|c| c.holds(&lookup)))
                .map_or_else(
                    || match &rule.choices {
                        Some(c) => Value::Str(c[0].clone()),
                        None => Value::Bool(false),
                    },
                    |(_, v)| v.clone(),
                )
        };
        values.insert(rule.name.clone(), v);
    }
    let mut features: Vec<String> = spec
        .rules
        .options
        .iter()
        .filter_map(|r| {
            let key = match values.get(&r.name)? {
                Value::Bool(true) => "true".to_owned(),
                Value::Bool(false) => return None,
                Value::Str(s) => s.clone(),
            };
            r.features.get(&key).cloned()
        })
        .collect();
    // Cells build with --no-default-features: the crate's defaults that no
    // option controls come back here, so `features` is exactly the build's.
    if spec.keep_defaults {
        let controlled = |f: &str| {
            spec.rules
                .options
                .iter()
                .any(|r| r.features.values().any(|v| v == f))
        };
        features.extend(
            spec.crate_defaults
                .iter()
                .filter(|f| !controlled(f) && !f.starts_with("dep:"))
                .cloned(),
        );
    }
    features.sort();
    features.dedup();
    let mut settings = Settings::default();
    for r in &spec.rules.options {
        let key = values.get(&r.name).map(ToString::to_string);
        if let Some(s) = key.and_then(|k| r.settings.get(&k)) {
            settings.extend(s);
        }
    }

    let id = id.unwrap_or_else(|| {
        let mut parts = vec![short_arch(spec, &arch)];
        for (k, _) in &spec.axes {
            if k == "arch" || k == "profile" {
                continue;
            }
            let rule = spec.rules.options.iter().find(|r| &r.name == k);
            parts.push(match (values.get(k), rule) {
                (Some(Value::Bool(b)), Some(r)) => match &r.labels {
                    Some(l) => l[usize::from(*b)].clone(),
                    None if *b => k.clone(),
                    None => format!("no-{k}"),
                },
                (Some(Value::Str(s)), _) => s.clone(),
                _ => k.clone(),
            });
        }
        parts.push(profile.clone());
        parts.join("-")
    });
    values.remove("profile");
    let target = spec
        .targets
        .get(&arch)
        .map(|t| t.triple.clone())
        .unwrap_or_default();
    Cell {
        id,
        arch,
        target,
        options: values,
        features,
        profile,
        settings,
    }
}

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
}

#[derive(Serialize)]
struct GithubEntry<'a> {
    cell: &'a str,
    target: &'a str,
}

/// Write the plan; with `shards` (the plan split over CI jobs, and what
/// balanced it), each shard's cells and expected time too.
pub(crate) fn render(
    plan: &Plan,
    format: Format,
    shards: Option<(&[Shard], &ShardBasis)>,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    match format {
        Format::Json => {
            let cells: Vec<JsonCell<'_>> = plan
                .cells
                .iter()
                .map(|c| JsonCell {
                    id: &c.id,
                    target: &c.target,
                    options: &c.options,
                    settings: &c.settings,
                    features: &c.features,
                    profile: &c.profile,
                })
                .collect();
            let mut doc = serde_json::json!({ "cells": cells });
            if let Some((shards, _)) = shards {
                doc["shards"] = serde_json::json!(shards);
            }
            serde_json::to_writer_pretty(&mut *out, &doc)?;
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
        Format::Table => table(plan, shards, out),
    }
}

/// The plan for people; with shards, a SHARD column and each shard's
/// expected time.
fn table(
    plan: &Plan,
    shards: Option<(&[Shard], &ShardBasis)>,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let widest =
        |f: fn(&Cell) -> usize, min: usize| plan.cells.iter().map(f).max().unwrap_or(0).max(min);
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
    writeln!(
        out,
        "{} cells from {}",
        plan.cells.len(),
        display_path(&plan.matrix.path)
    )?;
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

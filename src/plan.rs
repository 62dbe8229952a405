//! Expanding a validated matrix into cells: the product of the axes, each
//! combination completed by the option rules (Kconfig-like: an option whose
//! `depends-on` is false is off; an option not on an axis takes its first
//! matching default), then `exclude` filters and `include` adds. Cell ids
//! are readable and stable: `<arch>-<label per axis>-<profile>`.
//!
//! Also the `plan` renderers (table, JSON, GitHub `strategy.matrix`). No
//! I/O beyond the writer it is given.
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::Problem;
use crate::expr::Expr;
use crate::model::{Cell, Matrix, Target, Value};

/// One option's rules, from the matrix file.
#[derive(Clone, Debug)]
pub struct OptionRule {
    /// The option.
    pub name: String,
    /// The values of a choice; `None` for bool.
    pub choices: Option<Vec<String>>,
    /// Value (`true` for bool) to cargo feature.
    pub features: BTreeMap<String, String>,
    /// Id labels for false and true (bool only).
    pub labels: Option<[String; 2]>,
    /// The option is forced off when this is false.
    pub depends_on: Option<Expr>,
    /// Defaults, first match wins; `None` condition always matches.
    pub defaults: Vec<(Option<Expr>, Value)>,
}

/// All option rules.
#[derive(Clone, Debug, Default)]
pub struct Rules {
    /// In declaration order.
    pub options: Vec<OptionRule>,
}

impl Rules {
    /// An evaluation order in which every rule's inputs come first, or the
    /// names that form a cycle.
    pub fn order(&self) -> Result<Vec<usize>, Vec<String>> {
        let index: HashMap<&str, usize> = self
            .options
            .iter()
            .enumerate()
            .map(|(i, o)| (o.name.as_str(), i))
            .collect();
        let deps: Vec<Vec<usize>> = self
            .options
            .iter()
            .map(|o| {
                let mut names = BTreeSet::new();
                o.depends_on.iter().for_each(|e| e.idents(&mut names));
                o.defaults
                    .iter()
                    .filter_map(|(c, _)| c.as_ref())
                    .for_each(|e| e.idents(&mut names));
                names
                    .iter()
                    .filter_map(|n| index.get(n.as_str()).copied())
                    .collect()
            })
            .collect();
        // Iterative DFS with colours; a grey node reached again is a cycle.
        let n = self.options.len();
        let mut colour = vec![0u8; n];
        let mut order = Vec::with_capacity(n);
        for start in 0..n {
            if colour[start] != 0 {
                continue;
            }
            let mut stack = vec![(start, 0usize)];
            colour[start] = 1;
            while let Some(&mut (node, ref mut next)) = stack.last_mut() {
                if let Some(&dep) = deps[node].get(*next) {
                    *next += 1;
                    match colour[dep] {
                        0 => {
                            colour[dep] = 1;
                            stack.push((dep, 0));
                        }
                        1 => {
                            let pos = stack.iter().position(|&(x, _)| x == dep).unwrap_or(0);
                            let mut cycle: Vec<String> = stack[pos..]
                                .iter()
                                .map(|&(x, _)| self.options[x].name.clone())
                                .collect();
                            cycle.push(self.options[dep].name.clone());
                            return Err(cycle);
                        }
                        _ => {}
                    }
                } else {
                    colour[node] = 2;
                    order.push(node);
                    stack.pop();
                }
            }
        }
        Ok(order)
    }
}

/// Values written in an `include` or `exclude` entry.
#[derive(Clone, Debug)]
pub struct Assignment {
    /// Option (or `arch`, `profile`) to value.
    pub values: BTreeMap<String, Value>,
    /// An explicit cell id (include only).
    pub id: Option<String>,
    /// Where the entry is.
    pub line: u64,
    /// Where the entry is.
    pub col: u64,
}

/// Everything expansion needs.
pub struct Spec<'a> {
    /// The matrix file.
    pub file: PathBuf,
    /// Rules.
    pub rules: &'a Rules,
    /// Axes in file order (`arch` and `profile` always present).
    pub axes: &'a [(String, Vec<Value>)],
    /// Extra cells.
    pub include: &'a [Assignment],
    /// Filters.
    pub exclude: &'a [Assignment],
    /// Targets by arch.
    pub targets: &'a BTreeMap<String, Target>,
}

/// Why expansion failed.
#[derive(Debug)]
pub enum ExpandError {
    /// More cells than allowed.
    TooMany(u128),
    /// Duplicate ids and the like.
    Problems(Vec<Problem>),
}

/// Expand the matrix into cells.
pub fn expand(
    spec: &Spec<'_>,
    max_cells: usize,
    random: Option<(usize, u64)>,
) -> Result<Vec<Cell>, ExpandError> {
    let order = spec.rules.order().map_err(|c| {
        ExpandError::Problems(vec![Problem {
            file: spec.file.clone(),
            line: 0,
            col: 0,
            message: format!("rules form a cycle: {}", c.join(" -> ")),
            snippet: None,
        }])
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
            problems.push(Problem {
                file: spec.file.clone(),
                line,
                col,
                message: format!("duplicate cell id `{}` ({first})", cell.id),
                snippet: None,
            });
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
            return Err(ExpandError::TooMany(total));
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

    for inc in spec.include {
        let mut pick = inc.values.clone();
        for (k, vals) in spec.axes {
            if (k == "profile" || k == "arch") && !pick.contains_key(k) {
                pick.insert(k.clone(), vals[0].clone());
            }
        }
        let cell = complete(spec, &order, &pick, inc.id.clone());
        add(cell, Some((inc.line, inc.col)), inc.id.is_some());
    }

    if !problems.is_empty() {
        return Err(ExpandError::Problems(problems));
    }
    Ok(cells.into_iter().map(|(c, _)| c).collect())
}

fn cell_value(cell: &Cell, key: &str) -> Option<Value> {
    match key {
        "profile" => Some(Value::Str(cell.profile.clone())),
        _ => cell.options.get(key).cloned(),
    }
}

/// Apply the rules to the values picked on the axes.
fn complete(
    spec: &Spec<'_>,
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
    features.sort();
    features.dedup();

    let id = id.unwrap_or_else(|| {
        let mut parts = vec![arch.clone()];
        for (k, _) in spec.axes {
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
    }
}

/// `plan` output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PlanFormat {
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
    profile: &'a str,
}

#[derive(Serialize)]
struct GithubEntry<'a> {
    cell: &'a str,
    target: &'a str,
}

/// Write the plan.
pub fn render(
    m: &Matrix,
    format: PlanFormat,
    shards: Option<usize>,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    match format {
        PlanFormat::Json => {
            let cells: Vec<JsonCell<'_>> = m
                .cells
                .iter()
                .map(|c| JsonCell {
                    id: &c.id,
                    target: &c.target,
                    options: &c.options,
                    features: &c.features,
                    profile: &c.profile,
                })
                .collect();
            serde_json::to_writer_pretty(&mut *out, &serde_json::json!({ "cells": cells }))?;
            writeln!(out)
        }
        PlanFormat::Github => {
            if let Some(n) = shards {
                let include: Vec<serde_json::Value> = (1..=n.max(1))
                    .map(|k| serde_json::json!({ "shard": format!("{k}/{}", n.max(1)) }))
                    .collect();
                serde_json::to_writer(&mut *out, &serde_json::json!({ "include": include }))?;
                return writeln!(out);
            }
            let include: Vec<GithubEntry<'_>> = m
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
        PlanFormat::Table => {
            let width = m.cells.iter().map(|c| c.id.len()).max().unwrap_or(2).max(4);
            let tw = m
                .cells
                .iter()
                .map(|c| c.target.len())
                .max()
                .unwrap_or(6)
                .max(6);
            writeln!(out, "{:width$}  {:tw$}  FEATURES", "CELL", "TARGET")?;
            for c in &m.cells {
                let feats = if c.features.is_empty() {
                    "-".to_owned()
                } else {
                    c.features.join(",")
                };
                writeln!(out, "{:width$}  {:tw$}  {feats}", c.id, c.target)?;
            }
            writeln!(
                out,
                "{} cells from {}",
                m.cells.len(),
                display_path(&m.path)
            )
        }
    }
}

/// A path as the user would type it: relative to the current directory
/// when it is under it.
pub fn display_path(p: &Path) -> String {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| p.strip_prefix(&cwd).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| p.to_path_buf())
        .display()
        .to_string()
}

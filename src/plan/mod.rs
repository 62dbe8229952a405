//! Expanding a validated matrix into cells: the full product of the axes
//! (each combination completed by the option rules, Kconfig-like: an
//! option whose `depends-on` is false is off; an option not on an axis
//! takes its first matching default), or a covering plan (`cover:`,
//! `--cover`: every combination of T axis values the rules allow, or each
//! option value alone), or a reproducible sample (`--random`); then
//! `exclude` filters, `include` adds, and cells that build the same thing
//! are merged into one with aliases. Cell ids are readable and stable
//! (`ids`).
//!
//! Also the `plan` renderers (table, JSON, GitHub `strategy.matrix`). No
//! I/O beyond the writer it is given.
mod cover;
mod ids;
mod merge;
mod render;
mod space;

use std::collections::{BTreeMap, HashMap};

pub(crate) use cover::Coverage;
pub(crate) use render::{Format, describe, merged_note, render};

use crate::model::{Assignment, Cell, ConfigError, Cover, Matrix, Plan, Problem, Settings, Value};
use space::{Space, rule_value};

/// How many cells to make.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// Refuse to expand more cells than this.
    pub(crate) max_cells: usize,
    /// Sample this many cells reproducibly (count, seed) instead of
    /// expanding all.
    pub(crate) random: Option<(usize, u64)>,
    /// `--cover`: this covering plan (or the full product) instead of the
    /// matrix's `cover:`.
    pub(crate) cover: Option<Cover>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_cells: 10_000,
            random: None,
            cover: None,
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
        "{file}: the matrix expands to {cells} cells, more than --max-cells {max}; run a covering plan instead (`--cover 2`, or `cover: 2` in the file: every pair of option values in a few cells) or a reproducible sample (`--random 50 --seed 1`), or raise --max-cells"
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

/// What `plan` says about its cells besides listing them.
#[derive(Clone, Debug, Default)]
pub(crate) struct Summary {
    /// The covering plan made (the full product by default).
    pub(crate) cover: Cover,
    /// What a strength-T plan covers.
    pub(crate) coverage: Option<Coverage>,
    /// Cells the full product of the axes would have (`u128::MAX` past
    /// it).
    pub(crate) full_product: u128,
    /// Its base-2 logarithm (what `plan` says past `u128::MAX`).
    pub(crate) full_product_bits: f64,
    /// Kept cell id → the ids of the cells merged into it (equal builds).
    pub(crate) aliases: BTreeMap<String, Vec<String>>,
}

/// A plan and its [`Summary`].
#[derive(Clone, Debug)]
pub(crate) struct Planned {
    /// The cells.
    pub(crate) plan: Plan,
    /// What they cover, and which were merged.
    pub(crate) summary: Summary,
}

/// Expand the matrix into its plan of cells, with what they cover.
pub(crate) fn expand_planned(matrix: Matrix, limits: Limits) -> Result<Planned, ExpandError> {
    let (cells, mut summary) = expand_cells(&matrix, limits)?;
    let (cells, aliases) = merge::merge(&matrix, cells);
    summary.aliases = aliases;
    Ok(Planned {
        plan: Plan { matrix, cells },
        summary,
    })
}

/// The cells made so far, refusing duplicate ids.
struct Collector<'a> {
    spec: &'a Matrix,
    cells: Vec<(Cell, Option<(u64, u64)>)>,
    seen: HashMap<String, usize>,
    problems: Vec<Problem>,
}

impl<'a> Collector<'a> {
    fn new(spec: &'a Matrix) -> Self {
        Self {
            spec,
            cells: Vec::new(),
            seen: HashMap::new(),
            problems: Vec::new(),
        }
    }

    fn problem(&self, line: u64, col: u64, message: String) -> Problem {
        Problem {
            file: self.spec.path.clone(),
            line,
            col,
            message,
            snippet: None,
        }
    }

    /// Add a cell (made by the axes, or by the `include:` entry at `at`,
    /// `explicit` when it names its id); false when it is one already
    /// there or its id is taken.
    fn add(&mut self, cell: Cell, at: Option<(u64, u64)>, explicit: bool) -> bool {
        if let Some(&i) = self.seen.get(&cell.id) {
            let (prev, prev_at) = &self.cells[i];
            if prev == &cell && !explicit {
                return false; // the same configuration reached twice
            }
            let (line, col) = at.unwrap_or((0, 0));
            let first = prev_at.map_or_else(
                || "first made by the axes".to_owned(),
                |(l, c)| format!("first at line {l}, column {c}"),
            );
            let p = self.problem(
                line,
                col,
                format!("duplicate cell id `{}` ({first})", cell.id),
            );
            self.problems.push(p);
            return false;
        }
        self.seen.insert(cell.id.clone(), self.cells.len());
        self.cells.push((cell, at));
        true
    }

    /// An `exclude:` entry matches the cell's effective values.
    fn excluded(&self, cell: &Cell) -> bool {
        self.spec.exclude.iter().any(|ex| {
            ex.values
                .iter()
                .all(|(k, v)| cell_value(cell, k).is_some_and(|x| x == *v))
        })
    }
}

fn expand_cells(spec: &Matrix, limits: Limits) -> Result<(Vec<Cell>, Summary), ExpandError> {
    let mut col = Collector::new(spec);
    let order = spec.rules.order().map_err(|c| ConfigError {
        problems: vec![col.problem(0, 0, format!("rules form a cycle: {}", c.join(" -> ")))],
    })?;
    let full_product: u128 = spec
        .axes
        .iter()
        .map(|(_, v)| v.len() as u128)
        .try_fold(1u128, u128::checked_mul)
        .unwrap_or(u128::MAX);
    let cover = limits.cover.unwrap_or(spec.cover);
    let includes: Vec<(Cell, &Assignment)> = spec
        .include
        .iter()
        .map(|inc| {
            let mut pick = inc.values.clone();
            for (k, vals) in &spec.axes {
                if (k == "profile" || k == "arch") && !pick.contains_key(k) {
                    pick.insert(k.clone(), vals[0].clone());
                }
            }
            (complete(spec, &order, &pick, inc.id.clone()), inc)
        })
        .collect();
    let mut summary = Summary {
        full_product,
        full_product_bits: spec.axes.iter().map(|(_, v)| (v.len() as f64).log2()).sum(),
        ..Summary::default()
    };
    if let Some((n, seed)) = limits.random {
        sample(&mut col, &order, n, seed);
    } else if cover.is_full() {
        if full_product > limits.max_cells as u128 {
            return Err(ExpandError::TooManyCells {
                file: spec.path.display().to_string(),
                cells: full_product,
                max: limits.max_cells,
            });
        }
        product(&mut col, &order);
    } else {
        let made: Vec<Cell> = includes.iter().map(|(c, _)| c.clone()).collect();
        summary.cover = cover;
        summary.coverage = covering(&mut col, &order, cover, &made)?;
        if col.cells.len() > limits.max_cells {
            return Err(ExpandError::TooManyCells {
                file: spec.path.display().to_string(),
                cells: col.cells.len() as u128,
                max: limits.max_cells,
            });
        }
    }
    for (cell, inc) in includes {
        col.add(cell, Some((inc.line, inc.col)), inc.id.is_some());
    }
    if !col.problems.is_empty() {
        return Err(ConfigError {
            problems: col.problems,
        }
        .into());
    }
    Ok((col.cells.into_iter().map(|(c, _)| c).collect(), summary))
}

/// Every combination of axis values, last axis fastest.
fn product(col: &mut Collector<'_>, order: &[usize]) {
    let spec = col.spec;
    let mut idx = vec![0usize; spec.axes.len()];
    'product: loop {
        let pick: BTreeMap<String, Value> = spec
            .axes
            .iter()
            .zip(&idx)
            .map(|((k, vals), &i)| (k.clone(), vals[i].clone()))
            .collect();
        let cell = complete(spec, order, &pick, None);
        if !col.excluded(&cell) {
            col.add(cell, None, false);
        }
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

/// `n` distinct cells from axis values drawn with `seed`, completed by the
/// rules; excluded ones are drawn again.
fn sample(col: &mut Collector<'_>, order: &[usize], n: usize, seed: u64) {
    let spec = col.spec;
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
        let cell = complete(spec, order, &pick, None);
        if !col.excluded(&cell) && col.add(cell, None, false) {
            made += 1;
        }
    }
}

/// A covering plan's cells (`include` cells, `made`, count as covering
/// what they hold); what a strength-T plan covers.
fn covering(
    col: &mut Collector<'_>,
    order: &[usize],
    cover: Cover,
    made: &[Cell],
) -> Result<Option<Coverage>, ExpandError> {
    let spec = col.spec;
    let space = Space::new(spec, order);
    let as_row = |c: &Cell| -> Vec<Value> {
        (0..space.len())
            .map(|i| match space.name(i) {
                "profile" => Value::Str(c.profile.clone()),
                name => c.options.get(name).cloned().unwrap_or(Value::Bool(false)),
            })
            .collect()
    };
    let mut rows: Vec<Vec<Value>> = Vec::new();
    if cover.each {
        rows.extend(cover::each(&space));
    }
    let mut coverage = None;
    if let Some(t) = cover.strength {
        let seeded: Vec<Vec<Value>> = rows
            .iter()
            .cloned()
            .chain(made.iter().map(as_row))
            .collect();
        let (more, c) = cover::covering(&space, usize::from(t), &seeded).map_err(|n| {
            ConfigError {
                problems: vec![col.problem(
                    0,
                    0,
                    format!(
                        "cover: {t} asks for {} combinations of {t} axis values, more than a plan can track ({}): use a lower strength or fewer axes",
                        render::grouped(n.0),
                        render::grouped(cover::MAX_TUPLES)
                    ),
                )],
            }
        })?;
        rows.extend(more);
        coverage = Some(c);
    }
    for row in rows {
        let cell = complete(spec, order, &space.pick(&row), None);
        if !col.excluded(&cell) {
            col.add(cell, None, false);
        }
    }
    Ok(coverage)
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
        let v = rule_value(rule, pick.get(&rule.name), &lookup);
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
        // Options an `include:` entry sets that are not axes name
        // themselves in its id.
        let extra: Vec<&str> = pick
            .keys()
            .map(String::as_str)
            .filter(|k| *k != "arch" && *k != "profile")
            .filter(|k| !spec.axes.iter().any(|(a, _)| a == k))
            .collect();
        ids::cell_id(spec, &values, &arch, &profile, &extra)
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

#[cfg(test)]
mod tests;

//! The configurations a matrix allows, as a search space: the options in
//! rule order (`arch` and `profile` first), each one's value decided as
//! `plan` completes a cell (an option whose `depends-on` is false is off;
//! an axis option otherwise takes a value of its axis; any other option
//! its first matching default), and no configuration an `exclude` entry
//! matches. [`Space::solve`] finds a configuration with some axes fixed,
//! or shows there is none: depth-first search in rule order with
//! conflict-directed backjumping (Prosser 1993), so a dead end goes back
//! to the last choice that could have caused it instead of trying every
//! value of every option in between.
//!
//! Pure: no I/O. The search is bounded ([`BUDGET`] values tried per call);
//! past it the answer is [`Solved::Unknown`], never a guess.
use std::collections::{BTreeSet, HashMap};

use crate::model::{Matrix, OptionRule, Value};

/// Values tried per [`Space::solve`] call before it answers `Unknown`.
pub(super) const BUDGET: usize = 200_000;

/// A set of variable indices.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Bits(Vec<u64>);

impl Bits {
    fn new(n: usize) -> Self {
        Bits(vec![0; n.div_ceil(64)])
    }
    fn insert(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }
    fn remove(&mut self, i: usize) {
        self.0[i / 64] &= !(1 << (i % 64));
    }
    fn contains(&self, i: usize) -> bool {
        self.0[i / 64] & (1 << (i % 64)) != 0
    }
    fn union(&mut self, other: &Bits) {
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a |= b;
        }
    }
    fn clear(&mut self) {
        self.0.iter_mut().for_each(|w| *w = 0);
    }
}

/// One variable: `arch`, `profile` or an option.
#[derive(Debug)]
struct Var<'a> {
    name: &'a str,
    /// The option's rules (`None` for `arch` and `profile`).
    rule: Option<&'a OptionRule>,
    /// Its axis values, when it is on an axis.
    axis: Option<&'a [Value]>,
}

/// An axis as covering plans see it: the values it takes in the
/// configurations the rules allow (its axis values, and `off` when its
/// `depends-on` can turn it off).
#[derive(Clone, Debug)]
pub(super) struct Axis {
    /// The axis name.
    pub(super) name: String,
    /// Its variable in [`Space`] order.
    pub(super) var: usize,
    /// The values written on the axis.
    pub(super) written: Vec<Value>,
    /// Every value it can have in a cell, the written ones first.
    pub(super) values: Vec<Value>,
}

/// The answer of [`Space::solve`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Solved {
    /// A configuration: every variable's value, in [`Space`] order.
    Found(Vec<Value>),
    /// No configuration has the fixed values.
    Impossible,
    /// The search ran past [`BUDGET`].
    Unknown,
}

/// The order `solve` tries an unfixed axis's values in.
#[derive(Clone, Copy, Debug)]
pub(super) enum Prefer<'h> {
    /// The value the rules give the option when no axis sets it first
    /// (the option "at its default"), then the axis order.
    Default,
    /// The value in this earlier configuration first (a search near a
    /// known one), then the default, then the axis order.
    Near(&'h [Value]),
}

/// The configuration space of a matrix.
#[derive(Debug)]
pub(super) struct Space<'a> {
    vars: Vec<Var<'a>>,
    index: HashMap<&'a str, usize>,
    /// Every axis, in file order.
    pub(super) axes: Vec<Axis>,
    /// `exclude` entries as (variable, value) lists.
    excludes: Vec<Vec<(usize, Value)>>,
    /// Per variable: the entries whose last variable it is (decidable once
    /// it has a value).
    excludes_at: Vec<Vec<usize>>,
    /// Per variable: itself and every variable its rules read, transitively.
    cone: Vec<Bits>,
    /// Per exclude entry: the union of its variables' cones.
    exclude_cone: Vec<Bits>,
}

/// The value an option whose `depends-on` is false has.
pub(super) fn off(rule: &OptionRule) -> Value {
    match &rule.choices {
        None => Value::Bool(false),
        Some(_) => Value::Str("off".to_owned()),
    }
}

/// The value the rules give `rule` when nothing picks one: its first
/// matching default, else a choice's first value, else false.
pub(super) fn default_value(rule: &OptionRule, lookup: &dyn Fn(&str) -> Option<Value>) -> Value {
    rule.defaults
        .iter()
        .find(|(c, _)| c.as_ref().is_none_or(|c| c.holds(lookup)))
        .map_or_else(
            || match &rule.choices {
                Some(c) => Value::Str(c[0].clone()),
                None => Value::Bool(false),
            },
            |(_, v)| v.clone(),
        )
}

/// The value of `rule` in a cell: off when its `depends-on` is false, else
/// `picked` (an axis or `include:` value), else its default. `lookup`
/// gives the values of the names its rules read.
pub(super) fn rule_value(
    rule: &OptionRule,
    picked: Option<&Value>,
    lookup: &dyn Fn(&str) -> Option<Value>,
) -> Value {
    if !rule.depends_on.as_ref().is_none_or(|d| d.holds(lookup)) {
        return off(rule);
    }
    match picked {
        Some(v) => v.clone(),
        None => default_value(rule, lookup),
    }
}

/// The names an option's rules read.
fn rule_inputs(rule: &OptionRule) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    rule.depends_on.iter().for_each(|e| e.idents(&mut names));
    rule.defaults
        .iter()
        .filter_map(|(c, _)| c.as_ref())
        .for_each(|e| e.idents(&mut names));
    names
}

impl<'a> Space<'a> {
    /// The space of `spec`, its options in `order` (from
    /// [`crate::model::Rules::order`]).
    pub(super) fn new(spec: &'a Matrix, order: &[usize]) -> Self {
        let axis_of = |name: &str| {
            spec.axes
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_slice())
        };
        let mut vars: Vec<Var<'a>> = ["arch", "profile"]
            .into_iter()
            .map(|name| Var {
                name,
                rule: None,
                axis: axis_of(name),
            })
            .collect();
        vars.extend(order.iter().map(|&i| {
            let rule = &spec.rules.options[i];
            Var {
                name: rule.name.as_str(),
                rule: Some(rule),
                axis: axis_of(&rule.name),
            }
        }));
        let index: HashMap<&str, usize> =
            vars.iter().enumerate().map(|(i, v)| (v.name, i)).collect();
        let n = vars.len();
        let mut cone: Vec<Bits> = Vec::with_capacity(n);
        for (i, var) in vars.iter().enumerate() {
            let mut c = Bits::new(n);
            c.insert(i);
            for name in var.rule.map(rule_inputs).unwrap_or_default() {
                if let Some(&j) = index.get(name.as_str())
                    && j < i
                {
                    let cj = cone[j].clone();
                    c.union(&cj);
                }
            }
            cone.push(c);
        }
        let excludes: Vec<Vec<(usize, Value)>> = spec
            .exclude
            .iter()
            .map(|e| {
                e.values
                    .iter()
                    .filter_map(|(k, v)| index.get(k.as_str()).map(|&i| (i, v.clone())))
                    .collect()
            })
            .collect();
        let mut excludes_at = vec![Vec::new(); n];
        let mut exclude_cone = Vec::with_capacity(excludes.len());
        for (e, entry) in excludes.iter().enumerate() {
            let mut c = Bits::new(n);
            for (i, _) in entry {
                c.union(&cone[*i]);
            }
            exclude_cone.push(c);
            if let Some(last) = entry.iter().map(|(i, _)| *i).max() {
                excludes_at[last].push(e);
            }
        }
        let axes = spec
            .axes
            .iter()
            .filter_map(|(name, written)| {
                let var = *index.get(name.as_str())?;
                let mut values = written.clone();
                if let Some(r) = vars[var].rule.filter(|r| r.depends_on.is_some()) {
                    let o = off(r);
                    if !values.contains(&o) {
                        values.push(o);
                    }
                }
                Some(Axis {
                    name: name.clone(),
                    var,
                    written: written.clone(),
                    values,
                })
            })
            .collect();
        Space {
            vars,
            index,
            axes,
            excludes,
            excludes_at,
            cone,
            exclude_cone,
        }
    }

    /// How many variables (`arch`, `profile`, then every option).
    pub(super) fn len(&self) -> usize {
        self.vars.len()
    }

    /// The name of variable `i`.
    pub(super) fn name(&self, i: usize) -> &str {
        self.vars[i].name
    }

    /// The values of a configuration found by [`Space::solve`] that an
    /// axis sets: what `plan` completes into the same cell.
    pub(super) fn pick(&self, found: &[Value]) -> std::collections::BTreeMap<String, Value> {
        self.vars
            .iter()
            .zip(found)
            .filter(|(v, _)| v.axis.is_some())
            .map(|(v, x)| (v.name.to_owned(), x.clone()))
            .collect()
    }

    /// The values variable `i` may take given the earlier ones, in the
    /// order to try them; only `fixed` when given.
    fn candidates(
        &self,
        i: usize,
        values: &[Option<Value>],
        fixed: Option<&Value>,
        prefer: Prefer<'_>,
    ) -> Vec<Value> {
        let var = &self.vars[i];
        let lookup = |name: &str| {
            self.index
                .get(name)
                .and_then(|&j| values.get(j).cloned().flatten())
        };
        let keep = |v: &Value| fixed.is_none_or(|f| f == v);
        let Some(rule) = var.rule else {
            return var
                .axis
                .unwrap_or_default()
                .iter()
                .filter(|v| keep(v))
                .cloned()
                .collect();
        };
        let forced = match var.axis {
            Some(_) if rule.depends_on.as_ref().is_none_or(|d| d.holds(&lookup)) => None,
            _ => Some(rule_value(rule, None, &lookup)),
        };
        if let Some(v) = forced {
            return if keep(&v) { vec![v] } else { Vec::new() };
        }
        let written = var.axis.unwrap_or_default();
        if let Some(f) = fixed {
            return if written.contains(f) {
                vec![f.clone()]
            } else {
                Vec::new()
            };
        }
        let mut first: Vec<Value> = Vec::new();
        if let Prefer::Near(near) = prefer
            && let Some(v) = near.get(i)
        {
            first.push(v.clone());
        }
        first.push(default_value(rule, &lookup));
        let mut out: Vec<Value> = Vec::with_capacity(written.len());
        for v in first.iter().chain(written) {
            if written.contains(v) && !out.contains(v) {
                out.push(v.clone());
            }
        }
        out
    }

    /// The first exclude entry that `values` (assigned up to `i`) match,
    /// among those decidable at `i`.
    fn excluded_at(&self, i: usize, values: &[Option<Value>]) -> Option<usize> {
        self.excludes_at[i].iter().copied().find(|&e| {
            self.excludes[e]
                .iter()
                .all(|(j, v)| values[*j].as_ref() == Some(v))
        })
    }

    /// `witness` (a configuration) with variable `var` set to its `fixed`
    /// value and every later variable decided again — axes keep their
    /// value where they still may — when that satisfies `fixed` and no
    /// exclude entry: a quick answer before [`Space::solve`]'s search.
    pub(super) fn repair(
        &self,
        witness: &[Value],
        var: usize,
        fixed: &[Option<Value>],
    ) -> Option<Vec<Value>> {
        let mut values: Vec<Option<Value>> = witness.iter().cloned().map(Some).collect();
        for i in var..self.vars.len() {
            values[i] = None;
            let want = fixed[i].as_ref().or(witness.get(i).filter(|_| i != var));
            let cands = self.candidates(i, &values, fixed[i].as_ref(), Prefer::Default);
            let v = match want.and_then(|w| cands.iter().find(|c| *c == w)) {
                Some(v) => v.clone(),
                None if fixed[i].is_some() => return None,
                None => cands.into_iter().next()?,
            };
            values[i] = Some(v);
            if self.excluded_at(i, &values).is_some() {
                return None;
            }
        }
        Some(values.into_iter().flatten().collect())
    }

    /// A configuration in which each variable `fixed` gives a value has
    /// that value, trying values in the order `prefer` says; or that there
    /// is none; or `Unknown` past [`BUDGET`]. `fixed` is indexed by
    /// variable (length [`Space::len`]).
    pub(super) fn solve(&self, fixed: &[Option<Value>], prefer: Prefer<'_>) -> Solved {
        let n = self.vars.len();
        let mut values: Vec<Option<Value>> = vec![None; n];
        // Per level: the candidates left (reversed: pop takes the next),
        // whether it was a choice, and its conflict set.
        let mut left: Vec<Vec<Value>> = vec![Vec::new(); n];
        let mut choice = vec![false; n];
        let mut conflict: Vec<Bits> = vec![Bits::new(n); n];
        let mut tried = 0usize;
        let mut i = 0;
        let mut fresh = true;
        while i < n {
            if fresh {
                let mut c = self.candidates(i, &values, fixed[i].as_ref(), prefer);
                c.reverse();
                choice[i] = c.len() > 1;
                left[i] = c;
                conflict[i].clear();
            }
            let mut placed = false;
            while let Some(v) = left[i].pop() {
                tried += 1;
                if tried > BUDGET {
                    return Solved::Unknown;
                }
                values[i] = Some(v);
                if let Some(e) = self.excluded_at(i, &values) {
                    conflict[i].union(&self.exclude_cone[e]);
                } else {
                    placed = true;
                    break;
                }
            }
            if placed {
                i += 1;
                fresh = true;
                continue;
            }
            // A dead end: go back to the latest choice its cause involves.
            values[i] = None;
            let mut cause = conflict[i].clone();
            cause.union(&self.cone[i]);
            cause.remove(i);
            let Some(h) = (0..i).rev().find(|&h| cause.contains(h) && choice[h]) else {
                return Solved::Impossible;
            };
            cause.remove(h);
            conflict[h].union(&cause);
            for v in &mut values[h + 1..i] {
                *v = None;
            }
            i = h;
            fresh = false;
        }
        // Every level below `n` holds a value here.
        Solved::Found(values.into_iter().flatten().collect())
    }
}

//! Equal builds are one cell: two cells whose target, profile, settings
//! and feature sets closed under the crate's `[features]` (`b = ["a"]`,
//! `dep:x`, `x/f`) are equal build the same thing, so the plan keeps one
//! and lists the other ids as its aliases. Where an option reaches the
//! build some other way (the platform's C sees `-DCONFIG_*` of every
//! option in image and module mode with platform sources; a command build
//! sees every option) the options are part of what must be equal.
//!
//! Pure: no I/O.
use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::model::{Cell, Matrix, Mode, Value};

/// Every feature a build with `features` turns on, following `table` (the
/// crate's `[features]`): named features, `dep:x`, `x/f` (which also turns
/// on optional dependency `x` and its implicit feature) and `x?/f` (which
/// does not; written `x/f` when `x` is on anyway). The Cargo reference,
/// "Features".
pub(super) fn closure(
    table: &BTreeMap<String, Vec<String>>,
    features: &[String],
) -> BTreeSet<String> {
    let implicit = |dep: &str| {
        table
            .get(dep)
            .is_some_and(|v| v.len() == 1 && v[0] == format!("dep:{dep}"))
    };
    let mut out: BTreeSet<String> = BTreeSet::new();
    let mut work: Vec<String> = features.to_vec();
    while let Some(f) = work.pop() {
        if !out.insert(f.clone()) {
            continue;
        }
        if let Some(next) = table.get(&f) {
            work.extend(next.iter().cloned());
        } else if let Some((dep, _)) = f.split_once('/')
            && !dep.ends_with('?')
        {
            work.push(format!("dep:{dep}"));
            if implicit(dep) {
                work.push(dep.to_owned());
            }
        }
    }
    let weak: Vec<String> = out
        .iter()
        .filter(|f| {
            f.split_once("?/")
                .is_some_and(|(dep, _)| out.contains(&format!("dep:{dep}")))
        })
        .cloned()
        .collect();
    for w in weak {
        out.remove(&w);
        out.insert(w.replacen("?/", "/", 1));
    }
    out
}

/// What makes a cell's build: equal keys, equal builds.
fn build_key(spec: &Matrix, cell: &Cell, closed: &BTreeSet<String>) -> String {
    let options_reach_build = spec.build.is_some()
        || (spec.mode != Mode::Bin
            && spec
                .targets
                .get(&cell.arch)
                .is_some_and(|t| !t.sources.is_empty()));
    let options = options_reach_build.then_some(&cell.options);
    serde_json::json!([
        cell.target,
        cell.arch,
        cell.profile,
        cell.settings,
        closed,
        options
    ])
    .to_string()
}

/// How well a cell's option values say what it builds: bool options whose
/// feature is on exactly when they are true.
fn agreement(spec: &Matrix, cell: &Cell, closed: &BTreeSet<String>) -> usize {
    spec.rules
        .options
        .iter()
        .filter(|r| r.choices.is_none())
        .filter(|r| {
            r.features.get("true").is_some_and(|f| {
                closed.contains(f) == (cell.options.get(&r.name) == Some(&Value::Bool(true)))
            })
        })
        .count()
}

/// `cells` with equal builds merged: of each group, the cell whose option
/// values best say what it builds (the first of those), at the place of
/// the group's first cell; and each kept id's aliases.
pub(super) fn merge(spec: &Matrix, cells: Vec<Cell>) -> (Vec<Cell>, BTreeMap<String, Vec<String>>) {
    let mut groups: Vec<Vec<(Cell, usize)>> = Vec::new();
    let mut by_key: HashMap<String, usize> = HashMap::new();
    for cell in cells {
        let closed = closure(&spec.crate_features, &cell.features);
        let key = build_key(spec, &cell, &closed);
        let score = agreement(spec, &cell, &closed);
        if let Some(&g) = by_key.get(&key) {
            groups[g].push((cell, score));
        } else {
            by_key.insert(key, groups.len());
            groups.push(vec![(cell, score)]);
        }
    }
    let mut aliases = BTreeMap::new();
    let mut kept = Vec::with_capacity(groups.len());
    for mut group in groups {
        let best = group
            .iter()
            .enumerate()
            .max_by(|(i, a), (j, b)| a.1.cmp(&b.1).then(j.cmp(i)))
            .map_or(0, |(i, _)| i);
        let (cell, _) = group.remove(best);
        if !group.is_empty() {
            aliases.insert(
                cell.id.clone(),
                group.into_iter().map(|(c, _)| c.id).collect(),
            );
        }
        kept.push(cell);
    }
    (kept, aliases)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(entries: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
        entries
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.iter().map(|s| (*s).to_owned()).collect()))
            .collect()
    }

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn closure_follows_features_deps_and_dependency_features() {
        let t = table(&[
            ("a", &["b", "dep:x"]),
            ("b", &[]),
            ("c", &["y/std"]),
            ("y", &["dep:y"]),
            ("d", &["z?/std"]),
            ("z", &["dep:z"]),
        ]);
        let f = |v: &[&str]| closure(&t, &v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
        assert_eq!(f(&["a"]), set(&["a", "b", "dep:x"]));
        assert_eq!(f(&["a", "b"]), f(&["a"]));
        // `y/std` turns on optional `y` and its implicit feature.
        assert_eq!(f(&["c"]), set(&["c", "y/std", "dep:y", "y"]));
        assert_eq!(f(&["c"]), f(&["c", "y"]));
        // `z?/std` alone does not turn `z` on; with `z` on it is `z/std`.
        assert_eq!(f(&["d"]), set(&["d", "z?/std"]));
        assert_eq!(f(&["d", "z"]), set(&["d", "z", "dep:z", "z/std"]));
        assert_ne!(f(&["d"]), f(&["d", "z"]));
    }
}

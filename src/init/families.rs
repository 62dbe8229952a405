//! The feature model `init` writes: which features are bool options, which
//! form families of which at most one may be on (a `type: choice` option),
//! which need others (`depends-on`), and which sets may not be on together
//! (`exclude`).
//!
//! Families come from `compile_error!` guards in the crate's sources
//! ([`super::guards`]: features guarded pairwise), else from names: three
//! or more features that share a prefix and differ in a last `-` part
//! (`tick-hz-32_768`, `generic-queue-8`, `backend-rtt`). A name family is
//! a guess, and the file says so where it is written. Pure: no I/O.
use std::collections::{BTreeMap, BTreeSet};

use super::guards::Guards;
use crate::config::{Package, valid_name};

/// The option name for a bool feature: the feature, with characters an
/// option name cannot have as `-`.
pub(crate) fn option_name(feature: &str) -> String {
    let n: String = feature
        .chars()
        .map(|c| if valid_name(&c.to_string()) { c } else { '-' })
        .collect();
    n.trim_start_matches('-').to_owned()
}

/// Families with more members than this put a sample of them on the axis.
pub(crate) const AXIS_ALL: usize = 8;
/// Families of numbers with more members than this do.
pub(crate) const AXIS_NUMBERS: usize = 3;

/// A family: a choice option over its member features.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Family {
    /// The option name.
    pub(crate) name: String,
    /// Value name → feature, in member order.
    pub(crate) members: Vec<(String, String)>,
    /// Whether the crate builds with none of them (`none` is a value).
    pub(crate) none: bool,
    /// The value cells have when no axis sets one.
    pub(crate) default: String,
    /// The values on its axis.
    pub(crate) axis: Vec<String>,
    /// Why it is a family, for the file's comment.
    pub(crate) why: String,
}

/// What `init` writes about the features.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Model {
    /// Features that are bool options, sorted.
    pub(crate) bools: Vec<String>,
    /// The families.
    pub(crate) families: Vec<Family>,
    /// A bool option → the conditions it depends on, each with why
    /// (`"a"` because `b = ["a"]`; `"tick-hz == 1_000"`).
    pub(crate) depends: BTreeMap<String, Vec<(String, String)>>,
    /// Sets that may not be on together, as (option, value) lists, with
    /// where it is said.
    pub(crate) excludes: Vec<(Vec<(String, String)>, String)>,
    /// What `init` should say about how it found these (stderr).
    pub(crate) notes: Vec<String>,
    /// Features that turn on a `std` feature (their crate's or a
    /// dependency's), each with the packages whose `std` it is: they cannot
    /// build for a target without the standard library.
    pub(crate) needs_std: BTreeMap<String, BTreeSet<String>>,
}

impl Model {
    /// The option and value that turn `feature` on.
    pub(crate) fn setting(&self, feature: &str) -> Option<(String, String)> {
        if self.bools.iter().any(|b| b == feature) {
            return Some((option_name(feature), "true".to_owned()));
        }
        self.families.iter().find_map(|f| {
            f.members
                .iter()
                .find(|(_, feat)| feat == feature)
                .map(|(v, _)| (f.name.clone(), v.clone()))
        })
    }

    /// As a rule expression: `feature` is on.
    fn condition(&self, feature: &str) -> Option<String> {
        let (opt, v) = self.setting(feature)?;
        Some(if v == "true" {
            opt
        } else {
            format!("{opt} == {v}")
        })
    }
}

/// Pairwise conflicts among `features`, from the guards.
fn conflict_pairs(guards: &Guards, features: &BTreeSet<String>) -> BTreeSet<(String, String)> {
    guards
        .conflicts
        .iter()
        .filter(|(set, _)| set.len() == 2 && set.iter().all(|f| features.contains(f)))
        .map(|(set, _)| {
            let mut it = set.iter().cloned();
            let a = it.next().unwrap_or_default();
            (a, it.next().unwrap_or_default())
        })
        .collect()
}

/// Greedy cliques of the conflict graph (sorted, deterministic): groups of
/// two or more features every two of which conflict.
fn cliques(pairs: &BTreeSet<(String, String)>) -> Vec<Vec<String>> {
    let conflict = |a: &str, b: &str| {
        let key = if a < b { (a, b) } else { (b, a) };
        pairs.contains(&(key.0.to_owned(), key.1.to_owned()))
    };
    let nodes: BTreeSet<&String> = pairs.iter().flat_map(|(a, b)| [a, b]).collect();
    let mut used: BTreeSet<&String> = BTreeSet::new();
    let mut out = Vec::new();
    for &n in &nodes {
        if used.contains(n) {
            continue;
        }
        let mut clique = vec![n.clone()];
        for &m in &nodes {
            if m != n && !used.contains(m) && clique.iter().all(|c| conflict(c, m)) {
                clique.push(m.clone());
            }
        }
        if clique.len() >= 2 {
            used.extend(nodes.iter().copied().filter(|x| clique.contains(x)));
            out.push(clique);
        }
    }
    out
}

/// The longest prefix ending in `-` or `_` all names share (`""` if none).
fn common_prefix(names: &[String]) -> String {
    let first = names.first().map_or("", String::as_str);
    let mut end = 0;
    for (i, c) in first.char_indices() {
        if (c == '-' || c == '_') && names.iter().all(|n| n.get(..=i) == first.get(..=i)) {
            end = i + 1;
        }
    }
    first[..end].to_owned()
}

/// Sort key where every member has a number: by its value (`tick-hz-1_000`
/// before `tick-hz-32_768`).
fn numeric_key(v: &str) -> (u128, String) {
    let digits: String = v.chars().filter(char::is_ascii_digit).collect();
    (digits.parse().unwrap_or(u128::MAX), v.to_owned())
}

/// A family of `features` (`why` says how it was found), named after
/// their common prefix, with value names that are their suffixes where
/// those are usable.
fn family(
    pkg: &Package,
    taken: &BTreeSet<String>,
    mut features: Vec<String>,
    why: String,
    required: bool,
) -> Family {
    if features
        .iter()
        .all(|f| f.contains(|c: char| c.is_ascii_digit()))
    {
        features.sort_by_key(|f| numeric_key(f));
    } else {
        features.sort();
    }
    let prefix = common_prefix(&features);
    let suffixes: Vec<String> = features
        .iter()
        .map(|f| f[prefix.len()..].to_owned())
        .collect();
    let usable = !prefix.is_empty()
        && suffixes
            .iter()
            .all(|s| valid_name(s) && s != "none" && s != "off")
        && suffixes.iter().collect::<BTreeSet<_>>().len() == suffixes.len();
    let values = if usable { suffixes } else { features.clone() };
    let base = prefix.trim_end_matches(['-', '_']);
    let mut name = if base.is_empty() || !valid_name(base) {
        match features.as_slice() {
            [a, b] => format!("{}-or-{}", option_name(a), option_name(b)),
            _ => format!("{}-family", option_name(&features[0])),
        }
    } else {
        base.to_owned()
    };
    if matches!(name.as_str(), "arch" | "profile") {
        name.push_str("-family");
    }
    while taken.contains(&name) {
        name.push_str("-value");
    }
    let members: Vec<(String, String)> = values.into_iter().zip(features).collect();
    let crate_default = members
        .iter()
        .find(|(_, f)| pkg.defaults.contains(f))
        .map(|(v, _)| v.clone());
    let why = match &crate_default {
        Some(v) => format!("{why}; `{v}` is a default feature"),
        None => why,
    };
    let default = if required {
        crate_default.unwrap_or_else(|| members[0].0.clone())
    } else {
        "none".to_owned()
    };
    Family {
        name,
        members,
        none: !required,
        default,
        axis: Vec::new(),
        why,
    }
}

/// The values a family's axis lists: all of them (and `none`) up to
/// [`AXIS_ALL`] members, else `none`, the first and last, the crate's
/// default member and members other features turn on. A family of
/// numbers (sizes, rates, counts: every value has a digit) is sampled past
/// [`AXIS_NUMBERS`] members: its extremes are where a size overflows.
fn axis_values(f: &Family, pkg: &Package) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if f.none {
        out.push("none".to_owned());
    }
    let numbers = f
        .members
        .iter()
        .all(|(v, _)| v.contains(|c: char| c.is_ascii_digit()));
    let all = if numbers { AXIS_NUMBERS } else { AXIS_ALL };
    if f.members.len() <= all {
        out.extend(f.members.iter().map(|(v, _)| v.clone()));
        return out;
    }
    let implied = |feat: &str| {
        pkg.feature_map
            .iter()
            .any(|(k, v)| k != feat && v.iter().any(|x| x == feat))
    };
    let first = f.members.first().map(|(v, _)| v.clone());
    let last = f.members.last().map(|(v, _)| v.clone());
    let picked: BTreeSet<String> = f
        .members
        .iter()
        .filter(|(_, feat)| pkg.defaults.contains(feat) || implied(feat))
        .map(|(v, _)| v.clone())
        .chain(first)
        .chain(last)
        .collect();
    // In member order.
    out.extend(
        f.members
            .iter()
            .filter(|(v, _)| picked.contains(v))
            .map(|(v, _)| v.clone()),
    );
    out
}

/// Name families among `features`: each feature joins the longest prefix
/// ending in `-` that three or more of them share (`arch-` for
/// `arch-cortex-m`, `iface-max-addr-count-` for `iface-max-addr-count-8`);
/// a group is a family when none of its features turns on another or the
/// feature its prefix names (`proto-ipv6-hbh = ["proto-ipv6"]`: parts of
/// `proto-ipv6`, not values), and at most one is a default feature.
fn name_groups(pkg: &Package, features: &BTreeSet<String>) -> Vec<Vec<String>> {
    let prefixes = |f: &str| -> Vec<String> {
        f.char_indices()
            .filter(|&(i, c)| c == '-' && i > 0 && i + 1 < f.len())
            .map(|(i, _)| f[..=i].to_owned())
            .collect()
    };
    let mut count: BTreeMap<String, usize> = BTreeMap::new();
    for f in features {
        for p in prefixes(f) {
            *count.entry(p).or_default() += 1;
        }
    }
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for f in features {
        if let Some(p) = prefixes(f).into_iter().rev().find(|p| count[p] >= 3) {
            groups.entry(p).or_default().push(f.clone());
        }
    }
    groups
        .into_values()
        .filter(|g| g.len() >= 3)
        .filter(|g| {
            let base = common_prefix(g);
            let base = base.trim_end_matches('-');
            let turns_on_another = g.iter().any(|f| {
                pkg.feature_map
                    .get(f)
                    .is_some_and(|v| v.iter().any(|x| x != f && (g.contains(x) || x == base)))
            });
            let defaults = g.iter().filter(|f| pkg.defaults.contains(f)).count();
            !turns_on_another && defaults <= 1
        })
        .collect()
}

/// The feature model of `pkg` with the guards found in its sources (and
/// its dependencies'), and the family members other features have the
/// effect of through dependencies (`forwarded`, from [`super::deps`]).
pub(crate) fn model(
    pkg: &Package,
    guards: &Guards,
    forwarded: &BTreeMap<String, BTreeSet<String>>,
) -> Model {
    let all: BTreeSet<String> = pkg.features.iter().cloned().collect();
    let pairs = conflict_pairs(guards, &all);
    let mut model = Model::default();
    let mut in_family: BTreeSet<String> = BTreeSet::new();
    let mut taken: BTreeSet<String> = all.clone();
    for clique in cliques(&pairs) {
        let places: BTreeSet<&str> = guards
            .conflicts
            .iter()
            .filter(|(s, _)| s.len() == 2 && s.iter().all(|f| clique.contains(f)))
            .map(|(_, p)| p.as_str())
            .collect();
        let required = guards
            .required
            .iter()
            .any(|(s, _)| s.iter().all(|f| clique.contains(f)));
        let why = format!(
            "compile_error! when two are on ({})",
            places.into_iter().collect::<Vec<_>>().join(", ")
        );
        let f = family(pkg, &taken, clique.clone(), why, required);
        taken.insert(f.name.clone());
        in_family.extend(clique);
        model.families.push(f);
    }
    let rest: BTreeSet<String> = all.difference(&in_family).cloned().collect();
    for mut group in name_groups(pkg, &rest) {
        let prefix = common_prefix(&group);
        // The prefix's own feature, when it neither turns a member on nor
        // is turned on by one, is the family's plain value
        // (`defmt-timestamp-uptime` beside `defmt-timestamp-uptime-ms`).
        let base = prefix.trim_end_matches('-').to_owned();
        let linked = |a: &str, b: &str| {
            pkg.feature_map
                .get(a)
                .is_some_and(|v| v.iter().any(|x| x == b))
        };
        if rest.contains(&base)
            && !pkg.defaults.contains(&base)
            && !group.iter().any(|m| linked(m, &base) || linked(&base, m))
        {
            group.push(base.clone());
        }
        let pattern = if group.contains(&base) {
            format!("`{base}`, `{prefix}*`")
        } else {
            format!("`{prefix}*`")
        };
        let why = format!(
            "a name family ({} features {pattern}): assumed at most one on; if several may be, make them bool options",
            group.len()
        );
        let f = family(pkg, &taken, group.clone(), why, false);
        taken.insert(f.name.clone());
        in_family.extend(group);
        model.families.push(f);
    }
    for f in &mut model.families {
        f.axis = axis_values(f, pkg);
    }
    model.bools = all.difference(&in_family).cloned().collect();
    implications(pkg, guards, &mut model);
    forwarded_members(forwarded, &mut model);
    excludes(guards, &all, &mut model);
    model
}

/// A bool feature with the effect of a family member on the dependencies
/// (`mock-driver` turns on the dependency's `tick-hz-1_000_000`, as the
/// family's `tick-hz-1_000_000` does) builds only with that member or none
/// of the family: with another, the dependency gets two.
fn forwarded_members(forwarded: &BTreeMap<String, BTreeSet<String>>, model: &mut Model) {
    for b in model.bools.clone() {
        let Some(reached) = forwarded.get(&b) else {
            continue;
        };
        for fam in &model.families {
            let hits: Vec<&(String, String)> = fam
                .members
                .iter()
                .filter(|(_, f)| reached.contains(f))
                .collect();
            let [(value, feature)] = hits[..] else {
                continue; // none, or two members at once: nothing to choose
            };
            let already = model.depends.get(&b).is_some_and(|d| {
                d.iter()
                    .any(|(c, _)| c.starts_with(&format!("{} ==", fam.name)))
            });
            if already {
                continue;
            }
            let v = value;
            let cond = if fam.none {
                format!("({n} == none || {n} == {v})", n = fam.name)
            } else {
                format!("{} == {v}", fam.name)
            };
            model.depends.entry(b.clone()).or_default().push((
                cond,
                format!("through its dependencies it turns on what `{feature}` does"),
            ));
        }
    }
}

/// `depends-on` of bool options: the features they turn on
/// (`b = ["a"]`), and those a guard says they need. An implication that
/// would close a cycle is left out (those cells merge as equal builds).
fn implications(pkg: &Package, guards: &Guards, model: &mut Model) {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let reaches = |edges: &BTreeMap<String, BTreeSet<String>>, from: &str, to: &str| {
        let mut stack = vec![from.to_owned()];
        let mut seen = BTreeSet::new();
        while let Some(n) = stack.pop() {
            if n == to {
                return true;
            }
            if seen.insert(n.clone()) {
                stack.extend(edges.get(&n).into_iter().flatten().cloned());
            }
        }
        false
    };
    let mut depends: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for b in &model.bools {
        for target in pkg.feature_map.get(b).into_iter().flatten() {
            let Some(cond) = model.condition(target) else {
                continue;
            };
            let bool_target = model.bools.contains(target);
            if bool_target && reaches(&edges, target, b) {
                continue;
            }
            if bool_target {
                edges.entry(b.clone()).or_default().insert(target.clone());
            }
            depends
                .entry(b.clone())
                .or_default()
                .push((cond, format!("it turns on `{target}`")));
        }
    }
    for (f, needed, place) in &guards.needs {
        if !model.bools.contains(f) {
            continue;
        }
        let conds: Vec<String> = needed.iter().filter_map(|n| model.condition(n)).collect();
        if conds.len() != needed.len() || needed.iter().any(|n| reaches(&edges, n, f)) {
            continue;
        }
        edges
            .entry(f.clone())
            .or_default()
            .extend(needed.iter().cloned());
        let cond = if conds.len() == 1 {
            conds[0].clone()
        } else {
            format!("({})", conds.join(" || "))
        };
        depends
            .entry(f.clone())
            .or_default()
            .push((cond, format!("compile_error! without it ({place})")));
    }
    model.depends = depends;
}

/// `exclude` entries: guarded sets not already one family's members, and
/// sets of which one must be on (all off is the excluded cell) unless
/// they are a family without `none`.
fn excludes(guards: &Guards, all: &BTreeSet<String>, model: &mut Model) {
    let mut seen = BTreeSet::new();
    for (set, place) in &guards.required {
        if !set.iter().all(|f| all.contains(f)) {
            continue;
        }
        let in_family = model
            .families
            .iter()
            .any(|f| !f.none && set.iter().all(|x| f.members.iter().any(|(_, m)| m == x)));
        let settings: Option<Vec<(String, String)>> = set
            .iter()
            .map(|f| {
                model
                    .bools
                    .contains(f)
                    .then(|| (option_name(f), "false".to_owned()))
            })
            .collect();
        if let Some(settings) = settings.filter(|_| !in_family)
            && seen.insert(settings.clone())
        {
            model.excludes.push((settings, place.clone()));
        }
    }
    for (set, place) in &guards.conflicts {
        if !set.iter().all(|f| all.contains(f)) {
            continue;
        }
        let settings: Option<Vec<(String, String)>> =
            set.iter().map(|f| model.setting(f)).collect();
        let Some(settings) = settings else { continue };
        let options: BTreeSet<&String> = settings.iter().map(|(o, _)| o).collect();
        if options.len() != settings.len() || !seen.insert(settings.clone()) {
            continue; // one family's members: the choice already says it
        }
        model.excludes.push((settings, place.clone()));
    }
}

#[cfg(test)]
mod tests;

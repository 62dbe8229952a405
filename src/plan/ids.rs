//! Cell ids: readable, unique and stable across runs and shards.
//!
//! The short form is one word per axis option between the arch and the
//! profile (`arm-smp-nommu-release`; an `include:` cell adds a word per
//! option it sets that is not an axis). Where that passes [`SHORT_MAX`]
//! characters, the long form names the arch, the options whose value
//! differs from the one the rules give them by default (bools by name or
//! `no-name`, choices by value), the profile and a short hash of every
//! option value: `thumbv7em-defmt-log-tick-hz-32_768-3-more-dev-5c1f09ab`.
//! Pure: no I/O.
use std::collections::BTreeMap;
use std::fmt::Write as _;

use sha2::{Digest, Sha256};

use super::space::rule_value;
use crate::model::{Matrix, OptionRule, Value};

/// Ids up to this long keep the short form.
pub(super) const SHORT_MAX: usize = 60;
/// The long form stays within this many characters (with the usual arch
/// and profile names).
const LONG_MAX: usize = 72;

/// An `arch` value as a cell id starts: a target triple by its first
/// component (`thumbv7em-none-eabihf` → `thumbv7em`) when no other target
/// of the matrix shares it; else in full.
pub(super) fn short_arch(spec: &Matrix, arch: &str) -> String {
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

/// The short-form word for an option's value: a bool's label, or its
/// name / `no-name`; a choice's value.
fn word(name: &str, rule: Option<&OptionRule>, value: Option<&Value>) -> String {
    match (value, rule) {
        (Some(Value::Bool(b)), Some(r)) => match &r.labels {
            Some(l) => l[usize::from(*b)].clone(),
            None if *b => name.to_owned(),
            None => format!("no-{name}"),
        },
        (Some(Value::Str(s)), _) => s.clone(),
        _ => name.to_owned(),
    }
}

/// The long-form word: as [`word`], but a choice value that starts with a
/// digit keeps its option's name (`tick-hz-32_768`, not `32_768`).
fn long_word(name: &str, rule: Option<&OptionRule>, value: &Value) -> String {
    match value {
        Value::Str(s) if s.starts_with(|c: char| c.is_ascii_digit()) => format!("{name}-{s}"),
        _ => word(name, rule, Some(value)),
    }
}

/// The id of the cell with these effective `values` (every option and
/// `arch`), `profile`, and `extra`: options an `include:` entry sets that
/// are not axes.
pub(super) fn cell_id(
    spec: &Matrix,
    values: &BTreeMap<String, Value>,
    arch: &str,
    profile: &str,
    extra: &[&str],
) -> String {
    let rule = |k: &str| spec.rules.options.iter().find(|r| r.name == k);
    let mut parts = vec![short_arch(spec, arch)];
    let axis_names = spec
        .axes
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| *k != "arch" && *k != "profile");
    for k in axis_names.chain(extra.iter().copied()) {
        parts.push(word(k, rule(k), values.get(k)));
    }
    parts.push(profile.to_owned());
    let short = parts.join("-");
    if short.len() <= SHORT_MAX {
        return short;
    }
    long_id(spec, values, arch, profile)
}

/// The long form: see the module documentation.
fn long_id(spec: &Matrix, values: &BTreeMap<String, Value>, arch: &str, profile: &str) -> String {
    let lookup = |n: &str| values.get(n).cloned();
    let axis_first = spec
        .axes
        .iter()
        .filter_map(|(k, _)| spec.rules.options.iter().find(|r| &r.name == k))
        .chain(
            spec.rules
                .options
                .iter()
                .filter(|r| !spec.axes.iter().any(|(k, _)| *k == r.name)),
        );
    let words: Vec<String> = axis_first
        .filter_map(|r| {
            let v = values.get(&r.name)?;
            (rule_value(r, None, &lookup) != *v).then(|| long_word(&r.name, Some(r), v))
        })
        .collect();
    let mut digest = Sha256::new();
    digest.update(serde_json::to_string(values).unwrap_or_default());
    digest.update(b"\0");
    digest.update(profile);
    let hash = digest
        .finalize()
        .iter()
        .take(4)
        .fold(String::new(), |mut h, b| {
            let _ = write!(h, "{b:02x}");
            h
        });
    let tail = format!("-{profile}-{hash}");
    let mut out = short_arch(spec, arch);
    for (i, w) in words.iter().enumerate() {
        let left = words.len() - i - 1;
        let more = if left > 0 {
            format!("-{left}-more").len()
        } else {
            0
        };
        if out.len() + 1 + w.len() + more + tail.len() > LONG_MAX {
            let _ = write!(out, "-{}-more", words.len() - i);
            break;
        }
        out.push('-');
        out.push_str(w);
    }
    out.push_str(&tail);
    out
}

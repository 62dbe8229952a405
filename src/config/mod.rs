//! Loading matrix files and target files in two phases: parse the YAML
//! into `Raw*` types (serde, kebab-case, unknown keys are errors, with
//! depth and alias budgets), then `validate` every field and collect every
//! problem with <file:line:col> before anything runs.
//!
//! This module reads files and asks `cargo metadata` where a crate is given
//! by package name; it never builds, links or prints.
mod diag;
mod matrix;
mod names;
mod package;
mod parse;
mod raw;
mod settings;
mod size;
mod target;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use serde_saphyr::Spanned;

use crate::model::closest;
use crate::model::{ConfigError, Cover, Matrix, Mode, Policy, Problem, Rules, Target, Value};
use diag::{Pos, Validator, at, pos, whole};
pub(crate) use names::{project_root, valid_name};
pub(crate) use package::{Package, member, package_at};
use parse::parse_file;
pub(crate) use parse::parse_text_only;
use raw::{RawConfig, RawCover};
pub(crate) use target::bundled_target;

/// Options for loading a matrix.
#[derive(Clone, Debug, Default)]
pub(crate) struct LoadOptions {
    /// The directory paths may not escape (default: the repository that
    /// holds the matrix file, or its directory).
    pub(crate) root: Option<PathBuf>,
}

/// Load and validate a matrix file and its targets; `plan` expands it.
pub(crate) fn load(path: &Path, opts: &LoadOptions) -> Result<Matrix, ConfigError> {
    let fail = |p: Problem| ConfigError { problems: vec![p] };
    let shown = path.to_path_buf();
    let path = &std::path::absolute(path)
        .map_err(|e| fail(whole(&shown, format!("cannot resolve: {e}"))))?;
    let (raw, _text): (RawConfig, String) = parse_file(path).map_err(fail)?;
    let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let root = opts.root.clone().unwrap_or_else(|| project_root(&dir));
    let mut v = Validator {
        file: path.to_owned(),
        problems: Vec::new(),
    };

    let mode = match raw
        .mode
        .as_ref()
        .map(|m| (m.value.as_str(), pos(&m.referenced)))
    {
        None | Some(("image", _)) => Mode::Image,
        Some(("module", _)) => Mode::Module,
        Some(("bin", _)) => Mode::Bin,
        Some((other, loc)) => {
            v.push(at(
                path,
                loc,
                format!("mode `{other}`: expected `image`, `module` or `bin`"),
            ));
            Mode::Image
        }
    };
    let bin = raw.bin.as_ref().and_then(|b| {
        let loc = pos(&b.referenced);
        if mode != Mode::Bin {
            v.push(at(path, loc, "`bin` needs `mode: bin`".to_owned()));
            None
        } else if valid_name(&b.value) {
            Some(b.value.clone())
        } else {
            v.push(at(
                path,
                loc,
                format!("`{}` is not a cargo binary target name", b.value),
            ));
            None
        }
    });

    // The crate, or a build that is not cargo's (whose source tree
    // stands in for the crate: its name, and what the cache key hashes).
    let build = raw
        .build
        .as_ref()
        .and_then(|b| v.command_build(b, &dir, &root));
    let krate = match (&raw.krate, &build) {
        (Some(k), None) => v.resolve_crate(k, &dir, &root),
        (None, Some(b)) => Package {
            name: b
                .source
                .file_name()
                .map_or_else(|| "source".to_owned(), |n| n.to_string_lossy().into_owned()),
            manifest: b.source.clone(),
            ..Package::default()
        },
        (Some(k), Some(_)) => {
            v.push(at(
                path,
                pos(&k.referenced),
                "`crate` and `build` both say how to build: keep one".to_owned(),
            ));
            Package::default()
        }
        (None, None) => {
            if raw.build.is_none() {
                v.push(whole(
                    path,
                    "no `crate:` (a path or cargo package) and no `build:` (a command build)",
                ));
            }
            Package::default()
        }
    };

    // Options.
    let mut rules = Rules::default();
    let mut seen: HashMap<String, Pos> = HashMap::new();
    for (name, opt) in &raw.options {
        if let Some(first) = seen.get(&name.value) {
            v.push(at(
                path,
                pos(&name.referenced),
                format!(
                    "option `{}` declared twice (first at line {})",
                    name.value, first.line
                ),
            ));
            continue;
        }
        seen.insert(name.value.clone(), pos(&name.referenced));
        if matches!(name.value.as_str(), "arch" | "profile") || !valid_name(&name.value) {
            v.push(at(
                path,
                pos(&name.referenced),
                format!("`{}` cannot name an option (use letters, digits, `-`, `_`; `arch` and `profile` are reserved)", name.value),
            ));
            continue;
        }
        let rule = v.option(&name.value, &opt.value);
        rules.options.push(rule);
    }

    // Rules refer only to known names, and do not form cycles.
    let decls = &rules.options;
    let known: BTreeSet<String> = decls
        .iter()
        .map(|d| d.name.clone())
        .chain(["arch".to_owned(), "profile".to_owned()])
        .collect();
    v.check_rule_names(&raw, &known);
    v.check_env_conflicts(&raw);
    if let Err(cycle) = rules.order() {
        let loc = raw
            .options
            .iter()
            .find(|(n, _)| n.value == cycle[0])
            .map(|(n, _)| pos(&n.referenced));
        let msg = format!("rules form a cycle: {}", cycle.join(" -> "));
        match loc {
            Some(l) => v.push(at(path, l, msg)),
            None => v.push(whole(path, msg)),
        }
    }

    if let Some(b) = &raw.build {
        v.check_templates(b, &known);
    }

    // Targets.
    let arch_axis: Vec<&Spanned<String>> = raw
        .axes
        .iter()
        .find(|(k, _)| k.value == "arch")
        .map(|(_, vals)| vals.iter().collect())
        .unwrap_or_default();
    let target_refs: Vec<&Spanned<String>> = match &raw.targets {
        Some(t) => t.iter().collect(),
        None => arch_axis.clone(),
    };
    if target_refs.is_empty() {
        v.push(whole(
            path,
            "no targets: add `targets: [arm, x86]` or an `arch` axis",
        ));
    }
    let mut targets: BTreeMap<String, Target> = BTreeMap::new();
    for t in target_refs {
        if let Some(target) = v.target(&t.value, pos(&t.referenced), &dir, &root) {
            if let Some(prev) = targets.get(&target.name) {
                if prev.source != target.source {
                    v.push(at(
                        path,
                        pos(&t.referenced),
                        format!(
                            "two target files are named `{}`: {} and {}",
                            target.name, prev.source, target.source
                        ),
                    ));
                }
                continue;
            }
            targets.insert(target.name.clone(), target);
        }
    }

    if mode == Mode::Bin
        && let Some((k, _)) = raw.memory.first()
    {
        // The firmware's own memory.x decides its layout: a `memory:` the
        // link never sees would be a setting the cells do not have.
        v.push(at(
            path,
            pos(&k.referenced),
            "memory: applies to image mode's generic targets; in mode: bin the firmware's memory.x decides the layout".to_owned(),
        ));
    }
    v.memory(&raw.memory, &mut targets);

    // Axes.
    let mut axes: Vec<(String, Vec<Value>)> = Vec::new();
    for (key, vals) in &raw.axes {
        if vals.is_empty() {
            v.push(at(
                path,
                pos(&key.referenced),
                format!("axis `{}` has no values", key.value),
            ));
            continue;
        }
        let mut out = Vec::new();
        for val in vals {
            if let Some(x) = v.axis_value(&key.value, val, decls, &targets) {
                out.push(x);
            }
        }
        if !known.contains(&key.value) {
            let cands: Vec<&str> = known.iter().map(String::as_str).collect();
            let hint = closest(&key.value, &cands)
                .map(|c| format!("; did you mean `{c}`?"))
                .unwrap_or_default();
            v.push(at(
                path,
                pos(&key.referenced),
                format!("axis `{}` is not a declared option{hint}", key.value),
            ));
            continue;
        }
        axes.push((key.value.clone(), out));
    }
    if !axes.iter().any(|(k, _)| k == "arch") {
        axes.insert(
            0,
            (
                "arch".to_owned(),
                targets.keys().map(|k| Value::Str(k.clone())).collect(),
            ),
        );
    }
    if !axes.iter().any(|(k, _)| k == "profile") {
        axes.push(("profile".to_owned(), vec![Value::Str("release".to_owned())]));
    }

    // Rule literals are values their option can take.
    let mut domains: BTreeMap<String, Vec<String>> = BTreeMap::new();
    domains.insert("arch".to_owned(), targets.keys().cloned().collect());
    let mut profiles = vec!["dev".to_owned(), "release".to_owned()];
    for (k, vals) in &axes {
        if k == "profile" {
            profiles.extend(vals.iter().map(ToString::to_string));
        }
    }
    profiles.sort();
    profiles.dedup();
    domains.insert("profile".to_owned(), profiles);
    for d in decls {
        let values = match &d.choices {
            None => vec!["true".to_owned(), "false".to_owned()],
            Some(c) => c.iter().cloned().chain(["off".to_owned()]).collect(),
        };
        domains.insert(d.name.clone(), values);
    }
    if !targets.is_empty() {
        v.check_rule_literals(&raw, &domains);
    }

    let include = v.assignments(&raw.include, decls, &targets, "include");
    let exclude = v.assignments(&raw.exclude, decls, &targets, "exclude");

    let policy = Policy {
        forbidden: v.globs(&raw.policy.forbidden),
        allow_undefined: v.globs(&raw.policy.allow_undefined),
        size: v.size_policy(raw.policy.size.as_ref()),
    };
    // Roots: symbols, demangled paths (`my_crate::init`) or globs over
    // either, matched against each cell's functions.
    for r in &raw.policy.roots {
        if r.value.trim().is_empty()
            || r.value.starts_with('-')
            || r.value.contains(char::is_control)
        {
            v.push(at(
                path,
                pos(&r.referenced),
                format!("`{}` is not a symbol, path or pattern", r.value),
            ));
        }
    }
    let roots = v.globs(&raw.policy.roots);
    let cover = raw.cover.as_ref().map(|c| v.cover(c)).unwrap_or_default();

    if !v.problems.is_empty() {
        return Err(ConfigError {
            problems: v.problems,
        });
    }
    Ok(Matrix {
        path: path.to_owned(),
        root,
        crate_features: krate.feature_map,
        crate_defaults: krate.defaults,
        keep_defaults: raw.default_features.is_none_or(|d| d),
        manifest: krate.manifest,
        package: krate.name,
        mode,
        bin,
        build,
        axes,
        rules,
        include,
        exclude,
        cover,
        targets,
        policy,
        roots,
    })
}

impl Validator {
    /// `cover:`: `1`-`3`, `each`, `full`, or a list like `[each, 2]`.
    fn cover(&mut self, raw: &Spanned<RawCover>) -> Cover {
        let words: Vec<String> = match &raw.value {
            RawCover::Number(n) => vec![n.to_string()],
            RawCover::Word(w) => vec![w.clone()],
            RawCover::List(l) => l.iter().map(raw::RawCoverItem::text).collect(),
        };
        let refs: Vec<&str> = words.iter().map(String::as_str).collect();
        match Cover::parse(&refs) {
            Ok(c) => c,
            Err(e) => {
                let file = self.file.clone();
                self.push(at(&file, pos(&raw.referenced), format!("cover: {e}")));
                Cover::default()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::names::{contained, valid_feature, valid_triple};
    use super::parse::first_key_line;
    use super::*;

    #[test]
    fn closest_suggests_typos_only() {
        assert_eq!(
            closest("depend-on", &["depends-on", "default"]),
            Some("depends-on")
        );
        assert_eq!(closest("zzzz", &["depends-on", "default"]), None);
    }

    #[test]
    fn contained_refuses_escapes_and_flags() {
        let root = Path::new("/proj");
        assert!(contained(Path::new("/proj/configs"), "../fixtures/k", root).is_ok());
        assert!(contained(Path::new("/proj/configs"), "../../etc", root).is_err());
        assert!(contained(Path::new("/proj"), "-rf", root).is_err());
        assert!(contained(Path::new("/proj"), "/etc/passwd", root).is_err());
    }

    #[test]
    fn names_and_features() {
        assert!(valid_feature("percpu-km"));
        assert!(!valid_feature("--config=x"));
        assert!(!valid_triple("armv7a none"));
        assert!(!valid_triple("arm;rm"));
        assert!(valid_triple("armv7a-none-eabi"));
    }

    #[test]
    fn duplicate_key_names_the_first_place() {
        let text = "crate: .\noptions:\n  smp: {}\n  mmu: {}\n  smp: {}\n";
        assert_eq!(first_key_line(text, "smp", 5, 3), Some(3));
    }
}

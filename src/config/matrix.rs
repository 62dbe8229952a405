//! Validating a matrix file as a whole: [`RawConfig::validate`] composes
//! each part's own validation (the crate or `build:`, the options and
//! their rules, the targets, the axes, include/exclude entries, the
//! policy, `cover:`) in the order problems are reported. The parts live
//! beside their raw types: `build`, `option`, `rules`, `settings`,
//! `size`, `target`.
use std::collections::{BTreeMap, BTreeSet, HashMap};

use indexmap::IndexMap;
use serde_saphyr::Spanned;

use super::diag::{Pos, Span, Validator};
use super::names::{contained, did_you_mean, valid_name};
use super::package::{Package, find_package, read_manifest};
use super::raw::{RawConfig, RawCover, RawCoverItem, RawPolicy};
use super::rules::domains;
use crate::model::{
    Assignment, CommandBuild, Cover, Matrix, Mode, OptionRule, Policy, Rules, Target, Value,
};

/// An `include:` or `exclude:` entry as written: option (or `arch`,
/// `profile`, an include's `id`) to value.
type RawAssignment = Spanned<IndexMap<Spanned<String>, Spanned<String>>>;

impl RawConfig {
    /// The matrix this file describes, its paths resolved from `v`'s
    /// directory; every problem recorded in `v`. The matrix is only to be
    /// used when there are none.
    pub(super) fn validate(&self, v: &mut Validator) -> Matrix {
        let mode = self.mode(v);
        let bin = self.bin(v, mode);
        // The crate, or a build that is not cargo's.
        let build = self
            .build
            .as_ref()
            .and_then(|b| b.value.validate(v, b.pos()));
        let krate = self.package(v, build.as_ref());
        let (rules, known) = self.rules(v);
        let decls = &rules.options;
        let mut targets = self.targets(v);
        if mode == Mode::Bin
            && let Some((k, _)) = self.memory.first()
        {
            // The firmware's own memory.x decides its layout: a `memory:`
            // the link never sees would be a setting the cells do not have.
            v.error(k, "memory: applies to image mode's generic targets; in mode: bin the firmware's memory.x decides the layout");
        }
        v.memory(&self.memory, &mut targets);
        let axes = self.axes(v, decls, &targets, &known);
        // Rule literals are values their option can take.
        if !targets.is_empty() {
            self.check_rule_literals(v, &domains(&targets, &axes, decls));
        }
        let include = v.assignments(&self.include, decls, &targets, "include");
        let exclude = v.assignments(&self.exclude, decls, &targets, "exclude");
        let (policy, roots) = self.policy.validate(v);
        let cover = self
            .cover
            .as_ref()
            .map(|c| c.value.validate(v, c.pos()))
            .unwrap_or_default();
        Matrix {
            path: v.file.clone(),
            root: v.root.clone(),
            crate_features: krate.feature_map,
            crate_defaults: krate.defaults,
            keep_defaults: self.default_features.is_none_or(|d| d),
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
        }
    }

    /// `mode:` `image` (the default), `module` or `bin`.
    fn mode(&self, v: &mut Validator) -> Mode {
        match self.mode.as_ref().map(|m| (m.value.as_str(), m)) {
            None | Some(("image", _)) => Mode::Image,
            Some(("module", _)) => Mode::Module,
            Some(("bin", _)) => Mode::Bin,
            Some((other, at)) => {
                v.error(
                    at,
                    format!("mode `{other}`: expected `image`, `module` or `bin`"),
                );
                Mode::Image
            }
        }
    }

    /// `bin:` the binary target `mode: bin` links.
    fn bin(&self, v: &mut Validator, mode: Mode) -> Option<String> {
        let b = self.bin.as_ref()?;
        if mode != Mode::Bin {
            v.error(b, "`bin` needs `mode: bin`");
            None
        } else if valid_name(&b.value) {
            Some(b.value.clone())
        } else {
            v.error(
                b,
                format!("`{}` is not a cargo binary target name", b.value),
            );
            None
        }
    }

    /// The package `crate:` names; or for a command `build` its source
    /// tree, which stands in for the crate (its name, and what the cache
    /// key hashes).
    fn package(&self, v: &mut Validator, build: Option<&CommandBuild>) -> Package {
        match (&self.krate, build) {
            (Some(k), None) => v.resolve_crate(k),
            (None, Some(b)) => Package {
                name: b
                    .source
                    .file_name()
                    .map_or_else(|| "source".to_owned(), |n| n.to_string_lossy().into_owned()),
                manifest: b.source.clone(),
                ..Package::default()
            },
            (Some(k), Some(_)) => {
                v.error(k, "`crate` and `build` both say how to build: keep one");
                Package::default()
            }
            (None, None) => {
                if self.build.is_none() {
                    v.error(
                        Pos::FILE,
                        "no `crate:` (a path or cargo package) and no `build:` (a command build)",
                    );
                }
                Package::default()
            }
        }
    }

    /// The options and their rules, which refer only to known names (the
    /// options, `arch`, `profile`: returned too) and form no cycle; no
    /// two options set one environment variable; a command build's
    /// variables are known.
    fn rules(&self, v: &mut Validator) -> (Rules, BTreeSet<String>) {
        let mut rules = Rules::default();
        let mut seen: HashMap<&str, Pos> = HashMap::new();
        for (name, opt) in &self.options {
            if let Some(first) = seen.get(name.value.as_str()) {
                let line = first.line;
                v.error(
                    name,
                    format!(
                        "option `{}` declared twice (first at line {line})",
                        name.value
                    ),
                );
                continue;
            }
            seen.insert(&name.value, name.pos());
            if matches!(name.value.as_str(), "arch" | "profile") || !valid_name(&name.value) {
                v.error(
                    name,
                    format!("`{}` cannot name an option (use letters, digits, `-`, `_`; `arch` and `profile` are reserved)", name.value),
                );
                continue;
            }
            rules.options.push(opt.value.validate(v, &name.value));
        }
        let known: BTreeSet<String> = rules
            .options
            .iter()
            .map(|d| d.name.clone())
            .chain(["arch".to_owned(), "profile".to_owned()])
            .collect();
        self.check_rule_names(v, &known);
        v.check_env_conflicts(self);
        if let Err(cycle) = rules.order() {
            let at = self
                .options
                .keys()
                .find(|n| n.value == cycle[0])
                .map_or(Pos::FILE, Span::pos);
            v.error(at, format!("rules form a cycle: {}", cycle.join(" -> ")));
        }
        if let Some(b) = &self.build {
            b.value.check_templates(v, b.pos(), &known);
        }
        (rules, known)
    }

    /// `targets:` (else the `arch` axis's values), each validated, by
    /// name; two files of one name are a problem.
    fn targets(&self, v: &mut Validator) -> BTreeMap<String, Target> {
        let arch_axis: Vec<&Spanned<String>> = self
            .axes
            .iter()
            .find(|(k, _)| k.value == "arch")
            .map(|(_, vals)| vals.iter().collect())
            .unwrap_or_default();
        let target_refs: Vec<&Spanned<String>> = match &self.targets {
            Some(t) => t.iter().collect(),
            None => arch_axis,
        };
        if target_refs.is_empty() {
            v.error(
                Pos::FILE,
                "no targets: add `targets: [arm, x86]` or an `arch` axis",
            );
        }
        let mut targets: BTreeMap<String, Target> = BTreeMap::new();
        for t in target_refs {
            let Some(target) = v.target(&t.value, t.pos()) else {
                continue;
            };
            if let Some(prev) = targets.get(&target.name) {
                if prev.source != target.source {
                    v.error(
                        t,
                        format!(
                            "two target files are named `{}`: {} and {}",
                            target.name, prev.source, target.source
                        ),
                    );
                }
                continue;
            }
            targets.insert(target.name.clone(), target);
        }
        targets
    }

    /// `axes:`, each a declared option (or `arch`, `profile`) with values
    /// it can take; an `arch` axis of every target and a `profile` axis
    /// of `release` when not written.
    fn axes(
        &self,
        v: &mut Validator,
        decls: &[OptionRule],
        targets: &BTreeMap<String, Target>,
        known: &BTreeSet<String>,
    ) -> Vec<(String, Vec<Value>)> {
        let mut axes: Vec<(String, Vec<Value>)> = Vec::new();
        for (key, vals) in &self.axes {
            if vals.is_empty() {
                v.error(key, format!("axis `{}` has no values", key.value));
                continue;
            }
            let mut out = Vec::new();
            for val in vals {
                if let Some(x) = v.axis_value(&key.value, val, decls, targets) {
                    out.push(x);
                }
            }
            if !known.contains(&key.value) {
                let cands: Vec<&str> = known.iter().map(String::as_str).collect();
                let hint = did_you_mean(&key.value, &cands);
                v.error(
                    key,
                    format!("axis `{}` is not a declared option{hint}", key.value),
                );
                continue;
            }
            axes.push((key.value.clone(), out));
        }
        if !axes.iter().any(|(k, _)| k == "arch") {
            let arch = targets.keys().map(|k| Value::Str(k.clone())).collect();
            axes.insert(0, ("arch".to_owned(), arch));
        }
        if !axes.iter().any(|(k, _)| k == "profile") {
            axes.push(("profile".to_owned(), vec![Value::Str("release".to_owned())]));
        }
        axes
    }
}

impl RawPolicy {
    /// The policy, and the roots: symbols, demangled paths
    /// (`my_crate::init`) or globs over either, matched against each
    /// cell's functions.
    fn validate(&self, v: &mut Validator) -> (Policy, Vec<glob::Pattern>) {
        let policy = Policy {
            forbidden: v.globs(&self.forbidden),
            allow_undefined: v.globs(&self.allow_undefined),
            size: self
                .size
                .as_ref()
                .map(|s| s.validate(v))
                .unwrap_or_default(),
        };
        for r in &self.roots {
            if r.value.trim().is_empty()
                || r.value.starts_with('-')
                || r.value.contains(char::is_control)
            {
                v.error(r, format!("`{}` is not a symbol, path or pattern", r.value));
            }
        }
        (policy, v.globs(&self.roots))
    }
}

impl RawCover {
    /// `cover:` (written at `at`): `1`-`3`, `each`, `full`, or a list like
    /// `[each, 2]`.
    fn validate(&self, v: &mut Validator, at: Pos) -> Cover {
        let words: Vec<String> = match self {
            RawCover::Number(n) => vec![n.to_string()],
            RawCover::Word(w) => vec![w.clone()],
            RawCover::List(l) => l.iter().map(RawCoverItem::text).collect(),
        };
        let refs: Vec<&str> = words.iter().map(String::as_str).collect();
        Cover::parse(&refs).unwrap_or_else(|e| {
            v.error(at, format!("cover: {e}"));
            Cover::default()
        })
    }
}

impl Validator {
    /// The package `crate:` names: a path to its directory, or a package
    /// name in the workspace. Where it cannot be read the problem is
    /// reported and the fields are empty (the manifest kept when known).
    fn resolve_crate(&mut self, krate: &Spanned<String>) -> Package {
        let value = krate.value.trim();
        if value.starts_with('-') {
            self.error(
                krate,
                format!("crate: `{value}` starts with `-` (it would read as a flag)"),
            );
            return Package::default();
        }
        let dir = &self.dir;
        let as_path = value.contains('/')
            || value == "."
            || value == ".."
            || dir.join(value).join("Cargo.toml").is_file();
        // Err: the message, and the manifest when the path led to one.
        let found = if as_path {
            match contained(dir, value, &self.root) {
                Ok(p) => {
                    let manifest = p.join("Cargo.toml");
                    read_manifest(&manifest)
                        .map_err(|e| (format!("crate `{value}`: {e}"), Some(manifest)))
                }
                Err(e) => Err((format!("crate: {e}"), None)),
            }
        } else {
            find_package(dir, value).map_err(|e| (format!("crate `{value}`: {e}"), None))
        };
        found.unwrap_or_else(|(message, manifest)| {
            self.error(krate, message);
            Package {
                manifest: manifest.unwrap_or_default(),
                ..Package::default()
            }
        })
    }

    /// A value on axis `axis` (or in an include/exclude entry): a target
    /// for `arch`, a profile name, else a value of the declared option.
    fn axis_value(
        &mut self,
        axis: &str,
        val: &Spanned<String>,
        decls: &[OptionRule],
        targets: &BTreeMap<String, Target>,
    ) -> Option<Value> {
        match axis {
            "arch" => {
                if targets.contains_key(&val.value) {
                    return Some(Value::Str(val.value.clone()));
                }
                let names: Vec<&str> = targets.keys().map(String::as_str).collect();
                self.error(
                    val,
                    format!(
                        "arch `{}` has no target file (targets: {})",
                        val.value,
                        names.join(", ")
                    ),
                );
                None
            }
            "profile" => {
                if valid_name(&val.value) {
                    return Some(Value::Str(val.value.clone()));
                }
                self.error(val, format!("`{}` is not a cargo profile name", val.value));
                None
            }
            _ => {
                let decl = decls.iter().find(|d| d.name == axis)?;
                self.decl_value(decl, val)
            }
        }
    }

    /// A value of option `decl`: `true`/`false`, or one of its choices.
    fn decl_value(&mut self, decl: &OptionRule, val: &Spanned<String>) -> Option<Value> {
        match &decl.choices {
            None => match val.value.as_str() {
                "true" => Some(Value::Bool(true)),
                "false" => Some(Value::Bool(false)),
                other => {
                    self.error(
                        val,
                        format!(
                            "option `{}` is bool: `{other}` is not true or false",
                            decl.name
                        ),
                    );
                    None
                }
            },
            Some(c) if c.contains(&val.value) => Some(Value::Str(val.value.clone())),
            Some(c) => {
                self.error(
                    val,
                    format!(
                        "option `{}`: `{}` is not one of {}",
                        decl.name,
                        val.value,
                        c.join(", ")
                    ),
                );
                None
            }
        }
    }

    /// `include:` or `exclude:` (`what`) entries: each key a known option
    /// (or `arch`, `profile`; an include's `id`) with a value it can take;
    /// an include needs `arch`.
    fn assignments(
        &mut self,
        list: &[RawAssignment],
        decls: &[OptionRule],
        targets: &BTreeMap<String, Target>,
        what: &str,
    ) -> Vec<Assignment> {
        let mut out = Vec::new();
        for entry in list {
            let mut values = BTreeMap::new();
            let mut id = None;
            for (k, val) in &entry.value {
                let key = k.value.as_str();
                if key == "id" && what == "include" {
                    if valid_name(&val.value) {
                        id = Some(val.value.clone());
                    } else {
                        self.error(val, format!("cell id `{}` is not valid", val.value));
                    }
                    continue;
                }
                if key != "arch" && key != "profile" && !decls.iter().any(|d| d.name == key) {
                    let cands: Vec<&str> = decls
                        .iter()
                        .map(|d| d.name.as_str())
                        .chain(["arch", "profile"])
                        .collect();
                    let hint = did_you_mean(key, &cands);
                    self.error(k, format!("{what}: unknown option `{key}`{hint}"));
                    continue;
                }
                if let Some(v) = self.axis_value(key, val, decls, targets) {
                    values.insert(key.to_owned(), v);
                }
            }
            if what == "include" && !values.contains_key("arch") {
                self.error(entry, "include: an entry needs `arch`");
            }
            out.push(Assignment {
                values,
                id,
                line: entry.referenced.line(),
                col: entry.referenced.column(),
            });
        }
        out
    }

    /// Symbol patterns (`policy.forbidden`, `allow-undefined`, `roots`).
    fn globs(&mut self, list: &[Spanned<String>]) -> Vec<glob::Pattern> {
        list.iter()
            .filter_map(|g| match glob::Pattern::new(&g.value) {
                Ok(p) => Some(p),
                Err(e) => {
                    self.error(g, format!("bad symbol pattern `{}`: {e}", g.value));
                    None
                }
            })
            .collect()
    }
}

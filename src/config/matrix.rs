//! Validating a matrix file: the crate, options and their rules, axes,
//! include/exclude entries and the policy. Targets are in `target`.
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use indexmap::IndexMap;
use serde_saphyr::Spanned;

use super::diag::{Validator, at, pos};
use super::names::{contained, valid_feature, valid_name};
use super::package::{Package, find_package, read_manifest};
use super::raw::{RawBuild, RawConfig, RawOption};
use crate::model::Expr;
use crate::model::closest;
use crate::model::{Assignment, CommandBuild, OptionRule, Target, Value};

impl Validator {
    /// The package `crate:` names: a path to its directory, or a package
    /// name in the workspace. Where it cannot be read the problem is
    /// reported and the fields are empty (the manifest kept when known).
    pub(super) fn resolve_crate(
        &mut self,
        krate: &Spanned<String>,
        dir: &Path,
        root: &Path,
    ) -> Package {
        let value = krate.value.trim();
        if value.starts_with('-') {
            self.push(at(
                &self.file,
                pos(&krate.referenced),
                format!("crate: `{value}` starts with `-` (it would read as a flag)"),
            ));
            return Package::default();
        }
        let as_path = value.contains('/')
            || value == "."
            || value == ".."
            || dir.join(value).join("Cargo.toml").is_file();
        // Err: the message, and the manifest when the path led to one.
        let found = if as_path {
            match contained(dir, value, root) {
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
            self.push(at(&self.file, pos(&krate.referenced), message));
            Package {
                manifest: manifest.unwrap_or_default(),
                ..Package::default()
            }
        })
    }

    /// `build:`: the source tree inside the project, commands that are
    /// not empty.
    pub(super) fn command_build(
        &mut self,
        raw: &Spanned<RawBuild>,
        dir: &Path,
        root: &Path,
    ) -> Option<CommandBuild> {
        let file = self.file.clone();
        let b = &raw.value;
        // A tree a setup step unpacks may not exist yet: the cells say so.
        let source = match (&b.source, &b.package) {
            (Some(src), None) => match contained(dir, &src.value, root) {
                Ok(p) if p.is_dir() || !p.exists() => Some(p),
                Ok(p) => {
                    self.push(at(
                        &file,
                        pos(&src.referenced),
                        format!("build.source: {} is not a directory", p.display()),
                    ));
                    None
                }
                Err(e) => {
                    self.push(at(
                        &file,
                        pos(&src.referenced),
                        format!("build.source: {e}"),
                    ));
                    None
                }
            },
            (None, Some(pkg)) if valid_package(&pkg.value) => {
                Some(crate::workdir::WorkDir::at(root, &file).unpacked(&pkg.value))
            }
            (None, Some(pkg)) => {
                self.push(at(
                    &file,
                    pos(&pkg.referenced),
                    format!(
                        "build.package: `{}` is not a Debian package name",
                        pkg.value
                    ),
                ));
                None
            }
            (Some(src), Some(_)) => {
                self.push(at(
                    &file,
                    pos(&src.referenced),
                    "build: `source` (a tree) and `package` (one `setup` unpacks) both say where the source is: keep one".to_owned(),
                ));
                None
            }
            (None, None) => {
                self.push(at(
                    &file,
                    pos(&raw.referenced),
                    "build: no `source` (the tree's path) and no `package` (a Debian source package `setup` unpacks)".to_owned(),
                ));
                None
            }
        };
        let mut patches = Vec::new();
        for p in &b.patches {
            if b.package.is_none() {
                self.push(at(
                    &file,
                    pos(&p.referenced),
                    "build.patches apply to a `package` setup unpacks, not to a `source` tree"
                        .to_owned(),
                ));
                break;
            }
            match contained(dir, &p.value, root) {
                Ok(path) if path.is_file() => patches.push(path),
                Ok(path) => self.push(at(
                    &file,
                    pos(&p.referenced),
                    format!("build.patches: {} is not a file", path.display()),
                )),
                Err(e) => self.push(at(&file, pos(&p.referenced), format!("build.patches: {e}"))),
            }
        }
        for p in &b.packages {
            if !valid_package(&p.value) {
                self.push(at(
                    &file,
                    pos(&p.referenced),
                    format!("build.packages: `{}` is not a Debian package name", p.value),
                ));
            }
        }
        let words = |v: &[Spanned<String>]| v.iter().map(|w| w.value.clone()).collect::<Vec<_>>();
        if b.command.is_empty() {
            self.push(at(
                &file,
                pos(&raw.referenced),
                "build.command is empty".to_owned(),
            ));
        }
        if b.config.iter().any(Vec::is_empty) {
            self.push(at(
                &file,
                pos(&raw.referenced),
                "build.config has an empty command".to_owned(),
            ));
        }
        Some(CommandBuild {
            source: source?,
            unpack: b.package.as_ref().map(|p| crate::model::SourcePackage {
                package: p.value.clone(),
                patches,
            }),
            packages: b.packages.iter().map(|p| p.value.clone()).collect(),
            config: b.config.iter().map(|c| words(c)).collect(),
            config_file: b
                .config_file
                .as_ref()
                .map_or_else(|| "{{out}}/.config".to_owned(), |c| c.value.clone()),
            command: words(&b.command),
            elf: b.elf.value.clone(),
            ccache: b.ccache.as_ref().is_none_or(|c| c.value),
        })
    }

    /// Every `{{var}}` in `build:` is one linkmatrix fills: `source`,
    /// `out`, `fragment`, `arch`, `triple`, `profile`, `jobs` or an option.
    pub(super) fn check_templates(&mut self, raw: &Spanned<RawBuild>, options: &BTreeSet<String>) {
        let b = &raw.value;
        let file = self.file.clone();
        let fixed = [
            "source", "out", "fragment", "arch", "triple", "profile", "jobs",
        ];
        for o in options {
            if fixed.contains(&o.as_str()) && o != "arch" && o != "profile" {
                self.push(at(
                    &file,
                    pos(&raw.referenced),
                    format!("option `{o}` would hide the build variable `{{{{{o}}}}}`: rename it"),
                ));
            }
        }
        let all = b
            .config
            .iter()
            .flatten()
            .chain(&b.command)
            .chain([&b.elf])
            .chain(&b.config_file);
        for w in all {
            let mut unknown = Vec::new();
            CommandBuild::fill(&w.value, |var| {
                if !fixed.contains(&var) && !options.contains(var) {
                    unknown.push(var.to_owned());
                }
                None
            });
            for var in unknown {
                self.push(at(
                    &file,
                    pos(&w.referenced),
                    format!("`{{{{{var}}}}}`: not a variable (source, out, fragment, arch, triple, profile, jobs, or an option)"),
                ));
            }
        }
    }

    pub(super) fn option(&mut self, name: &str, raw: &RawOption) -> OptionRule {
        let file = self.file.clone();
        let kind = raw.kind.as_ref().map_or("bool", |k| k.value.as_str());
        let kind_at = || {
            raw.kind
                .as_ref()
                .map(|k| pos(&k.referenced))
                .unwrap_or_default()
        };
        let choices = match kind {
            "bool" => {
                if !raw.values.is_empty() {
                    self.push(at(
                        &file,
                        pos(&raw.values[0].referenced),
                        format!("option `{name}`: `values` is for `type: choice`"),
                    ));
                }
                None
            }
            "choice" => {
                if raw.values.is_empty() {
                    self.push(at(
                        &file,
                        kind_at(),
                        format!("option `{name}`: a choice needs `values`"),
                    ));
                }
                for val in &raw.values {
                    if !valid_name(&val.value) {
                        self.push(at(
                            &file,
                            pos(&val.referenced),
                            format!("option `{name}`: `{}` is not a valid value", val.value),
                        ));
                    }
                }
                Some(
                    raw.values
                        .iter()
                        .map(|v| v.value.clone())
                        .collect::<Vec<_>>(),
                )
            }
            other => {
                self.push(at(
                    &file,
                    kind_at(),
                    format!("option `{name}`: type `{other}`: expected `bool` or `choice`"),
                ));
                None
            }
        };
        let mut features: BTreeMap<String, String> = BTreeMap::new();
        if let Some(f) = &raw.feature {
            if choices.is_some() {
                self.push(at(
                    &file,
                    pos(&f.referenced),
                    format!("option `{name}`: a choice maps values to features with `features:`"),
                ));
            }
            self.check_feature(f);
            features.insert("true".to_owned(), f.value.clone());
        }
        for (val, feat) in &raw.features {
            if !choices.as_ref().is_some_and(|c| c.contains(&val.value)) {
                self.push(at(
                    &file,
                    pos(&val.referenced),
                    format!("option `{name}`: `{}` is not one of its values", val.value),
                ));
            }
            self.check_feature(feat);
            features.insert(val.value.clone(), feat.value.clone());
        }
        for l in &raw.labels {
            if !valid_name(&l.value) {
                self.push(at(
                    &file,
                    pos(&l.referenced),
                    format!("option `{name}`: label `{}` cannot be part of a cell id (letters, digits, `-`, `_`, `.`)", l.value),
                ));
            }
        }
        let labels = match (&choices, raw.labels.as_slice()) {
            (_, []) => None,
            (None, [off, on]) => Some([off.value.clone(), on.value.clone()]),
            (_, [first, ..]) => {
                self.push(at(
                    &file,
                    pos(&first.referenced),
                    format!("option `{name}`: `labels` takes two names, for false and true"),
                ));
                None
            }
        };
        let depends_on = raw
            .depends_on
            .as_ref()
            .and_then(|d| self.expr(name, "depends-on", d));
        let mut defaults = Vec::new();
        for d in &raw.defaults {
            if let Some(cond) = self.expr(name, "defaults.if", &d.cond) {
                let value = self.literal_value(name, choices.as_ref(), &d.value);
                defaults.push((Some(cond), value));
            }
        }
        if let Some(d) = &raw.default {
            match &choices {
                Some(_) => {
                    let value = self.literal_value(name, choices.as_ref(), d);
                    defaults.push((None, value));
                }
                None => {
                    if let Some(e) = self.expr(name, "default", d) {
                        defaults.push((Some(e), Value::Bool(true)));
                        defaults.push((None, Value::Bool(false)));
                    }
                }
            }
        }
        let settings = self.settings(name, choices.as_ref(), &raw.when);
        let kconfig = raw.kconfig.as_ref().and_then(|k| {
            let sym = k.value.strip_prefix("CONFIG_").unwrap_or(&k.value);
            let ok = !sym.is_empty()
                && sym
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
            if choices.is_some() || !ok {
                self.push(at(
                    &file,
                    pos(&k.referenced),
                    format!("option `{name}`: kconfig `{}`: a bool option's Kconfig symbol (A-Z, 0-9, _)", k.value),
                ));
                return None;
            }
            Some(sym.to_owned())
        });
        OptionRule {
            name: name.to_owned(),
            choices,
            features,
            labels,
            depends_on,
            defaults,
            settings,
            kconfig,
        }
    }

    pub(super) fn literal_value(
        &mut self,
        name: &str,
        choices: Option<&Vec<String>>,
        v: &Spanned<String>,
    ) -> Value {
        match choices {
            Some(c) => {
                if !c.contains(&v.value) {
                    self.push(at(
                        &self.file.clone(),
                        pos(&v.referenced),
                        format!(
                            "option `{name}`: `{}` is not one of {}",
                            v.value,
                            c.join(", ")
                        ),
                    ));
                }
                Value::Str(v.value.clone())
            }
            None => match v.value.as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                other => {
                    self.push(at(
                        &self.file.clone(),
                        pos(&v.referenced),
                        format!("option `{name}`: `{other}` is not true or false"),
                    ));
                    Value::Bool(false)
                }
            },
        }
    }

    pub(super) fn check_feature(&mut self, f: &Spanned<String>) {
        if !valid_feature(&f.value) {
            self.push(at(
                &self.file.clone(),
                pos(&f.referenced),
                format!("`{}` is not a cargo feature name (letters, digits, `-`, `_`, `+`, `/`; not a flag)", f.value),
            ));
        }
    }

    pub(super) fn expr(&mut self, option: &str, what: &str, src: &Spanned<String>) -> Option<Expr> {
        match Expr::parse(&src.value) {
            Ok(e) => Some(e),
            Err(e) => {
                // Point into the expression (past its opening quote).
                let mut loc = pos(&src.referenced);
                loc.col += e.offset as u64 + 1;
                self.push(at(
                    &self.file.clone(),
                    loc,
                    format!(
                        "option `{option}`, {what}: {} in `{}`",
                        e.message, src.value
                    ),
                ));
                None
            }
        }
    }

    pub(super) fn check_rule_names(&mut self, raw: &RawConfig, known: &BTreeSet<String>) {
        let cands: Vec<&str> = known.iter().map(String::as_str).collect();
        for (name, what, src) in rule_sources(raw) {
            let Ok(e) = Expr::parse(&src.value) else {
                continue;
            };
            for ident in bare_idents(&e) {
                if known.contains(&ident) || matches!(ident.as_str(), "true" | "false") {
                    continue;
                }
                let hint = closest(&ident, &cands)
                    .map(|c| format!("; did you mean `{c}`?"))
                    .unwrap_or_default();
                self.push(at(
                    &self.file.clone(),
                    pos(&src.referenced),
                    format!(
                        "option `{name}`, {what}: unknown option `{ident}` in `{}`{hint}",
                        src.value
                    ),
                ));
            }
        }
    }

    /// Every `name == literal` (or `!=`) in a rule compares with a value
    /// `name` can take: a typo (`arch == amr`, `fast == ture`) would make
    /// the rule silently never (or always) hold.
    pub(super) fn check_rule_literals(
        &mut self,
        raw: &RawConfig,
        domains: &BTreeMap<String, Vec<String>>,
    ) {
        for (name, what, src) in rule_sources(raw) {
            let Ok(e) = Expr::parse(&src.value) else {
                continue;
            };
            let mut pairs = Vec::new();
            comparisons(&e, &mut pairs);
            for (option, literal) in pairs {
                let Some(domain) = domains.get(&option) else {
                    continue;
                };
                let bool_word = matches!(literal.as_str(), "y" | "yes" | "n" | "no")
                    && domain.iter().any(|d| d == "true");
                if bool_word || domain.contains(&literal) || domains.contains_key(&literal) {
                    continue;
                }
                let cands: Vec<&str> = domain.iter().map(String::as_str).collect();
                let hint = closest(&literal, &cands)
                    .map(|c| format!("; did you mean `{c}`?"))
                    .unwrap_or_default();
                self.push(at(
                    &self.file.clone(),
                    pos(&src.referenced),
                    format!(
                        "option `{name}`, {what}: `{literal}` is not a value of `{option}` in `{}` (values: {}){hint}",
                        src.value,
                        domain.join(", ")
                    ),
                ));
            }
        }
    }

    pub(super) fn axis_value(
        &mut self,
        axis: &str,
        val: &Spanned<String>,
        decls: &[OptionRule],
        targets: &BTreeMap<String, Target>,
    ) -> Option<Value> {
        let file = self.file.clone();
        match axis {
            "arch" => {
                if targets.contains_key(&val.value) {
                    Some(Value::Str(val.value.clone()))
                } else {
                    let names: Vec<&str> = targets.keys().map(String::as_str).collect();
                    self.push(at(
                        &file,
                        pos(&val.referenced),
                        format!(
                            "arch `{}` has no target file (targets: {})",
                            val.value,
                            names.join(", ")
                        ),
                    ));
                    None
                }
            }
            "profile" => {
                if valid_name(&val.value) {
                    Some(Value::Str(val.value.clone()))
                } else {
                    self.push(at(
                        &file,
                        pos(&val.referenced),
                        format!("`{}` is not a cargo profile name", val.value),
                    ));
                    None
                }
            }
            _ => {
                let decl = decls.iter().find(|d| d.name == axis)?;
                self.decl_value(decl, val)
            }
        }
    }

    pub(super) fn decl_value(&mut self, decl: &OptionRule, val: &Spanned<String>) -> Option<Value> {
        let file = self.file.clone();
        match &decl.choices {
            None => match val.value.as_str() {
                "true" => Some(Value::Bool(true)),
                "false" => Some(Value::Bool(false)),
                other => {
                    self.push(at(
                        &file,
                        pos(&val.referenced),
                        format!(
                            "option `{}` is bool: `{other}` is not true or false",
                            decl.name
                        ),
                    ));
                    None
                }
            },
            Some(c) if c.contains(&val.value) => Some(Value::Str(val.value.clone())),
            Some(c) => {
                self.push(at(
                    &file,
                    pos(&val.referenced),
                    format!(
                        "option `{}`: `{}` is not one of {}",
                        decl.name,
                        val.value,
                        c.join(", ")
                    ),
                ));
                None
            }
        }
    }

    #[allow(clippy::type_complexity)]
    pub(super) fn assignments(
        &mut self,
        list: &[Spanned<IndexMap<Spanned<String>, Spanned<String>>>],
        decls: &[OptionRule],
        targets: &BTreeMap<String, Target>,
        what: &str,
    ) -> Vec<Assignment> {
        let file = self.file.clone();
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
                        self.push(at(
                            &file,
                            pos(&val.referenced),
                            format!("cell id `{}` is not valid", val.value),
                        ));
                    }
                    continue;
                }
                if key != "arch" && key != "profile" && !decls.iter().any(|d| d.name == key) {
                    let cands: Vec<&str> = decls
                        .iter()
                        .map(|d| d.name.as_str())
                        .chain(["arch", "profile"])
                        .collect();
                    let hint = closest(key, &cands)
                        .map(|c| format!("; did you mean `{c}`?"))
                        .unwrap_or_default();
                    self.push(at(
                        &file,
                        pos(&k.referenced),
                        format!("{what}: unknown option `{key}`{hint}"),
                    ));
                    continue;
                }
                if let Some(v) = self.axis_value(key, val, decls, targets) {
                    values.insert(key.to_owned(), v);
                }
            }
            if what == "include" && !values.contains_key("arch") {
                self.push(at(
                    &file,
                    pos(&entry.referenced),
                    "include: an entry needs `arch`",
                ));
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

    pub(super) fn globs(&mut self, list: &[Spanned<String>]) -> Vec<glob::Pattern> {
        let file = self.file.clone();
        list.iter()
            .filter_map(|g| match glob::Pattern::new(&g.value) {
                Ok(p) => Some(p),
                Err(e) => {
                    self.push(at(
                        &file,
                        pos(&g.referenced),
                        format!("bad symbol pattern `{}`: {e}", g.value),
                    ));
                    None
                }
            })
            .collect()
    }
}

/// Every rule expression of every option: (option, which rule, source).
fn rule_sources(raw: &RawConfig) -> Vec<(&str, &'static str, &Spanned<String>)> {
    let mut out = Vec::new();
    for (name, opt) in &raw.options {
        let o = &opt.value;
        let bool_default = o.kind.as_ref().is_none_or(|k| k.value == "bool");
        if let Some(d) = &o.depends_on {
            out.push((name.value.as_str(), "depends-on", d));
        }
        for d in &o.defaults {
            out.push((name.value.as_str(), "defaults.if", &d.cond));
        }
        for d in o.default.iter().filter(|_| bool_default) {
            out.push((name.value.as_str(), "default", d));
        }
    }
    out
}

/// The `(name, literal)` pairs of every `==`/`!=` whose sides are a name
/// and a bare word.
fn comparisons(e: &Expr, out: &mut Vec<(String, String)>) {
    match e {
        Expr::Ident(_) => {}
        Expr::Not(x) => comparisons(x, out),
        Expr::And(a, b) | Expr::Or(a, b) => {
            comparisons(a, out);
            comparisons(b, out);
        }
        Expr::Eq(a, b, _) => {
            if let (Expr::Ident(x), Expr::Ident(y)) = (a.as_ref(), b.as_ref()) {
                out.push((x.clone(), y.clone()));
                out.push((y.clone(), x.clone()));
            }
        }
    }
}

/// Identifiers used as names (not as `==` operands).
fn bare_idents(e: &Expr) -> Vec<String> {
    let mut out = Vec::new();
    pub(super) fn walk(e: &Expr, out: &mut Vec<String>) {
        match e {
            Expr::Ident(n) => out.push(n.clone()),
            Expr::Not(x) => walk(x, out),
            Expr::And(a, b) | Expr::Or(a, b) => {
                walk(a, out);
                walk(b, out);
            }
            Expr::Eq(a, b, _) => {
                // The left side names an option; the right may be a literal.
                if let Expr::Ident(n) = a.as_ref() {
                    out.push(n.clone());
                } else {
                    walk(a, out);
                }
                if !matches!(b.as_ref(), Expr::Ident(_)) {
                    walk(b, out);
                }
            }
        }
    }
    walk(e, &mut out);
    out
}

/// A Debian package name: lower-case letters, digits, `+-.`, from two
/// characters, starting with a letter or digit.
fn valid_package(name: &str) -> bool {
    name.len() >= 2
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c))
}

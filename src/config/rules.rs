//! Checks over every option's rules together (`depends-on`, `default`,
//! `defaults.if`): they name only declared options (or `arch`,
//! `profile`), and every `name == literal` compares with a value `name`
//! can take. Each rule is parsed on its own in `option`.
use std::collections::{BTreeMap, BTreeSet};

use serde_saphyr::Spanned;

use super::diag::Validator;
use super::names::did_you_mean;
use super::raw::RawConfig;
use crate::model::{Expr, OptionRule, Target, Value};

impl RawConfig {
    /// Every name a rule uses is in `known`; else a problem with the
    /// closest known name.
    pub(super) fn check_rule_names(&self, v: &mut Validator, known: &BTreeSet<String>) {
        let cands: Vec<&str> = known.iter().map(String::as_str).collect();
        for (name, what, src) in self.rule_sources() {
            let Ok(e) = Expr::parse(&src.value) else {
                continue;
            };
            for ident in bare_idents(&e) {
                if known.contains(&ident) || matches!(ident.as_str(), "true" | "false") {
                    continue;
                }
                let hint = did_you_mean(&ident, &cands);
                v.error(
                    src,
                    format!(
                        "option `{name}`, {what}: unknown option `{ident}` in `{}`{hint}",
                        src.value
                    ),
                );
            }
        }
    }

    /// Every `name == literal` (or `!=`) in a rule compares with a value
    /// `name` can take (`domains`: each name's values): a typo (`arch ==
    /// amr`, `fast == ture`) would make the rule silently never (or
    /// always) hold.
    pub(super) fn check_rule_literals(
        &self,
        v: &mut Validator,
        domains: &BTreeMap<String, Vec<String>>,
    ) {
        for (name, what, src) in self.rule_sources() {
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
                let hint = did_you_mean(&literal, &cands);
                v.error(
                    src,
                    format!(
                        "option `{name}`, {what}: `{literal}` is not a value of `{option}` in `{}` (values: {}){hint}",
                        src.value,
                        domain.join(", ")
                    ),
                );
            }
        }
    }

    /// Every rule expression of every option: (option, which rule, source).
    fn rule_sources(&self) -> Vec<(&str, &'static str, &Spanned<String>)> {
        let mut out = Vec::new();
        for (name, opt) in &self.options {
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
}

/// The values each name of a rule can take: `arch` its targets, `profile`
/// `dev`, `release` and the profile axis's, a bool option `true`/`false`,
/// a choice its values and `off`.
pub(super) fn domains(
    targets: &BTreeMap<String, Target>,
    axes: &[(String, Vec<Value>)],
    decls: &[OptionRule],
) -> BTreeMap<String, Vec<String>> {
    let mut domains: BTreeMap<String, Vec<String>> = BTreeMap::new();
    domains.insert("arch".to_owned(), targets.keys().cloned().collect());
    let mut profiles = vec!["dev".to_owned(), "release".to_owned()];
    for (k, vals) in axes {
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
    domains
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
    fn walk(e: &Expr, out: &mut Vec<String>) {
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
    let mut out = Vec::new();
    walk(e, &mut out);
    out
}

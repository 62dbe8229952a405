//! Validating one option of a matrix file (`options: {name: {...}}`): its
//! type and values, the cargo features it turns on, its labels in cell
//! ids, its rules (`depends-on`, `default`, `defaults`), what each value
//! sets (`when:`, in `settings`) and its Kconfig symbol. Rules are parsed
//! here; whether they name known options is `rules`' check.
use std::collections::BTreeMap;

use serde_saphyr::Spanned;

use super::diag::{Pos, Span, Validator, pos};
use super::names::{valid_feature, valid_name};
use super::raw::RawOption;
use crate::model::{Expr, OptionRule, Value};

/// An option's defaults: (condition, value), the first that holds wins;
/// `None` always holds.
type Defaults = Vec<(Option<Expr>, Value)>;

impl RawOption {
    /// The option `name` as a rule of the matrix; every problem recorded
    /// in `v`, at the value it is about.
    pub(super) fn validate(&self, v: &mut Validator, name: &str) -> OptionRule {
        let choices = self.choices(v, name);
        let features = self.features(v, name, choices.as_ref());
        let labels = self.labels(v, name, choices.as_ref());
        let (depends_on, defaults) = self.rules(v, name, choices.as_ref());
        let settings = v.settings(name, choices.as_ref(), &self.when);
        let kconfig = self.kconfig(v, name, choices.is_some());
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

    /// `type:` and `values:`: `None` for a bool, the values of a choice.
    fn choices(&self, v: &mut Validator, name: &str) -> Option<Vec<String>> {
        let kind = self.kind.as_ref().map_or("bool", |k| k.value.as_str());
        let kind_at = self.kind.as_ref().map_or(Pos::FILE, Span::pos);
        match kind {
            "bool" => {
                if let Some(first) = self.values.first() {
                    v.error(
                        first,
                        format!("option `{name}`: `values` is for `type: choice`"),
                    );
                }
                None
            }
            "choice" => {
                if self.values.is_empty() {
                    v.error(kind_at, format!("option `{name}`: a choice needs `values`"));
                }
                for val in &self.values {
                    if !valid_name(&val.value) {
                        v.error(
                            val,
                            format!("option `{name}`: `{}` is not a valid value", val.value),
                        );
                    }
                }
                Some(self.values.iter().map(|v| v.value.clone()).collect())
            }
            other => {
                v.error(
                    kind_at,
                    format!("option `{name}`: type `{other}`: expected `bool` or `choice`"),
                );
                None
            }
        }
    }

    /// `feature:` (a bool's) and `features:` (a choice's values'), as
    /// value (`true` for a bool) to cargo feature.
    fn features(
        &self,
        v: &mut Validator,
        name: &str,
        choices: Option<&Vec<String>>,
    ) -> BTreeMap<String, String> {
        let mut features = BTreeMap::new();
        if let Some(f) = &self.feature {
            if choices.is_some() {
                v.error(
                    f,
                    format!("option `{name}`: a choice maps values to features with `features:`"),
                );
            }
            v.check_feature(f);
            features.insert("true".to_owned(), f.value.clone());
        }
        for (val, feat) in &self.features {
            if !choices.is_some_and(|c| c.contains(&val.value)) {
                v.error(
                    val,
                    format!("option `{name}`: `{}` is not one of its values", val.value),
                );
            }
            v.check_feature(feat);
            features.insert(val.value.clone(), feat.value.clone());
        }
        features
    }

    /// `labels:` a bool's two names in cell ids, for false and true.
    fn labels(
        &self,
        v: &mut Validator,
        name: &str,
        choices: Option<&Vec<String>>,
    ) -> Option<[String; 2]> {
        for l in &self.labels {
            if !valid_name(&l.value) {
                v.error(
                    l,
                    format!("option `{name}`: label `{}` cannot be part of a cell id (letters, digits, `-`, `_`, `.`)", l.value),
                );
            }
        }
        match (choices, self.labels.as_slice()) {
            (_, []) => None,
            (None, [off, on]) => Some([off.value.clone(), on.value.clone()]),
            (_, [first, ..]) => {
                v.error(
                    first,
                    format!("option `{name}`: `labels` takes two names, for false and true"),
                );
                None
            }
        }
    }

    /// `depends-on:`, then `defaults:` and `default:` in the order they
    /// are tried. A bool's `default:` is a condition (true when it holds,
    /// else false); a choice's is a value.
    fn rules(
        &self,
        v: &mut Validator,
        name: &str,
        choices: Option<&Vec<String>>,
    ) -> (Option<Expr>, Defaults) {
        let depends_on = self
            .depends_on
            .as_ref()
            .and_then(|d| v.expr(name, "depends-on", d));
        let mut defaults = Vec::new();
        for d in &self.defaults {
            if let Some(cond) = v.expr(name, "defaults.if", &d.cond) {
                let value = v.literal_value(name, choices, &d.value);
                defaults.push((Some(cond), value));
            }
        }
        if let Some(d) = &self.default {
            if choices.is_some() {
                let value = v.literal_value(name, choices, d);
                defaults.push((None, value));
            } else if let Some(e) = v.expr(name, "default", d) {
                defaults.push((Some(e), Value::Bool(true)));
                defaults.push((None, Value::Bool(false)));
            }
        }
        (depends_on, defaults)
    }

    /// `kconfig:` a bool option's Kconfig symbol, without `CONFIG_`.
    fn kconfig(&self, v: &mut Validator, name: &str, is_choice: bool) -> Option<String> {
        let k = self.kconfig.as_ref()?;
        let sym = k.value.strip_prefix("CONFIG_").unwrap_or(&k.value);
        let ok = !sym.is_empty()
            && sym
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
        if is_choice || !ok {
            v.error(
                k,
                format!(
                    "option `{name}`: kconfig `{}`: a bool option's Kconfig symbol (A-Z, 0-9, _)",
                    k.value
                ),
            );
            return None;
        }
        Some(sym.to_owned())
    }
}

impl Validator {
    /// A value of option `name` written in a rule or `when:` key: one of
    /// its `choices`, or for a bool `true`/`false`.
    pub(super) fn literal_value(
        &mut self,
        name: &str,
        choices: Option<&Vec<String>>,
        v: &Spanned<String>,
    ) -> Value {
        match choices {
            Some(c) => {
                if !c.contains(&v.value) {
                    self.error(
                        v,
                        format!(
                            "option `{name}`: `{}` is not one of {}",
                            v.value,
                            c.join(", ")
                        ),
                    );
                }
                Value::Str(v.value.clone())
            }
            None => match v.value.as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                other => {
                    self.error(
                        v,
                        format!("option `{name}`: `{other}` is not true or false"),
                    );
                    Value::Bool(false)
                }
            },
        }
    }

    /// A cargo feature name.
    pub(super) fn check_feature(&mut self, f: &Spanned<String>) {
        if !valid_feature(&f.value) {
            self.error(
                f,
                format!("`{}` is not a cargo feature name (letters, digits, `-`, `_`, `+`, `/`; not a flag)", f.value),
            );
        }
    }

    /// Rule `what` of `option`, parsed; a syntax error points into the
    /// expression.
    pub(super) fn expr(&mut self, option: &str, what: &str, src: &Spanned<String>) -> Option<Expr> {
        match Expr::parse(&src.value) {
            Ok(e) => Some(e),
            Err(e) => {
                // Point into the expression (past its opening quote).
                let mut at = pos(&src.referenced);
                at.col += e.offset as u64 + 1;
                self.error(
                    at,
                    format!(
                        "option `{option}`, {what}: {} in `{}`",
                        e.message, src.value
                    ),
                );
                None
            }
        }
    }
}

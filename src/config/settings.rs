//! `when:` on an option: what each value sets besides a cargo feature —
//! environment variables, rustc flags, `--cfg`s and cargo arguments.
//! Everything linkmatrix itself sets on the build is refused here, with
//! the place in the file.
use std::collections::{BTreeMap, HashMap};

use serde_saphyr::Spanned;

use super::diag::Validator;
use super::raw::{RawConfig, RawSettings};
use crate::model::{Settings, Value};

/// Environment linkmatrix sets on every build, or that would replace what
/// it sets; with what to write instead.
const RESERVED_ENV: &[(&str, &str)] = &[
    ("RUSTC", "linkmatrix picks the compiler per target"),
    (
        "CARGO_TARGET_DIR",
        "every cell has its own target directory",
    ),
    ("CARGO_BUILD_TARGET", "the cell's target is the `arch` axis"),
    ("CARGO_ENCODED_RUSTFLAGS", "use `rustflags:`"),
    ("RUSTFLAGS", "use `rustflags:`"),
];

/// Cargo arguments linkmatrix sets on every build.
const RESERVED_ARGS: &[&str] = &[
    "--target",
    "--features",
    "-F",
    "--all-features",
    "--no-default-features",
    "--manifest-path",
    "--package",
    "-p",
    "--profile",
    "--release",
    "--message-format",
    "--color",
    "--lib",
    "--crate-type",
    "--target-dir",
];

fn valid_env_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
        && c.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `name` or `name="value"`, as `--cfg` takes it.
fn valid_cfg(s: &str) -> bool {
    let (name, value) = match s.split_once('=') {
        Some((n, v)) => (n.trim_end(), Some(v.trim_start())),
        None => (s, None),
    };
    let ident = {
        let mut c = name.chars();
        c.next()
            .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
            && c.all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    ident
        && value.is_none_or(|v| {
            v.len() >= 2
                && v.starts_with('"')
                && v.ends_with('"')
                && !v[1..v.len() - 1].contains(['"', '\\'])
        })
}

impl Validator {
    /// The settings of each of an option's values (`when:`).
    pub(super) fn settings(
        &mut self,
        option: &str,
        choices: Option<&Vec<String>>,
        when: &indexmap::IndexMap<Spanned<String>, Spanned<RawSettings>>,
    ) -> BTreeMap<String, Settings> {
        let mut out = BTreeMap::new();
        for (value, raw) in when {
            let key = match self.literal_value(option, choices, value) {
                Value::Bool(b) => b.to_string(),
                Value::Str(s) => s,
            };
            let s = raw.value.validate(self, option, &key);
            out.insert(key, s);
        }
        out
    }

    /// Two options that set the same environment variable would make the
    /// cell's build depend on which wins: an error.
    pub(super) fn check_env_conflicts(&mut self, raw: &RawConfig) {
        let mut first: HashMap<&str, &str> = HashMap::new();
        for (name, opt) in &raw.options {
            let mut mine: Vec<&Spanned<String>> = opt
                .value
                .when
                .values()
                .flat_map(|w| w.value.env.keys())
                .collect();
            mine.sort_by(|a, b| a.value.cmp(&b.value));
            mine.dedup_by(|a, b| a.value == b.value);
            for k in mine {
                match first.get(k.value.as_str()) {
                    Some(other) => {
                        let msg = format!(
                            "option `{}`: env `{}` is also set by option `{other}`; one option owns a variable",
                            name.value, k.value
                        );
                        self.error(k, msg);
                    }
                    None => {
                        first.insert(&k.value, &name.value);
                    }
                }
            }
        }
    }
}

impl RawSettings {
    /// What `option` set to `value` sets; nothing linkmatrix sets itself.
    fn validate(&self, v: &mut Validator, option: &str, value: &str) -> Settings {
        let mut problem = |at: &Spanned<String>, msg: String| {
            v.error(at, format!("option `{option}`, when {value}: {msg}"));
        };
        let mut s = Settings::default();
        for (k, val) in &self.env {
            let name = k.value.as_str();
            if !valid_env_name(name) {
                problem(
                    k,
                    format!("env `{name}` is not a variable name (letters, digits, `_`)"),
                );
            } else if let Some((_, why)) = RESERVED_ENV.iter().find(|(r, _)| *r == name) {
                problem(k, format!("env `{name}` is set by linkmatrix ({why})"));
            } else if val.value.contains('\0') {
                problem(val, format!("env `{name}`: a NUL byte"));
            }
            s.env.insert(name.to_owned(), val.value.clone());
        }
        for f in &self.rustflags {
            if f.value.is_empty() || f.value.contains(['\x1f', '\0']) {
                problem(
                    f,
                    format!("rustflags: `{}` is not a flag", f.value.escape_debug()),
                );
            } else if f.value == "--sysroot" || f.value.starts_with("--sysroot=") {
                problem(
                    f,
                    "rustflags: linkmatrix sets `--sysroot` per target".to_owned(),
                );
            }
            s.rustflags.push(f.value.clone());
        }
        for c in &self.cfg {
            if !valid_cfg(&c.value) {
                problem(
                    c,
                    format!("cfg `{}`: expected `name` or `name=\"value\"`", c.value),
                );
            }
            s.rustflags.push("--cfg".to_owned());
            s.rustflags.push(c.value.clone());
        }
        for (i, a) in self.cargo_args.iter().enumerate() {
            let flag = a.value.split_once('=').map_or(a.value.as_str(), |(f, _)| f);
            if i == 0 && !a.value.starts_with('-') {
                problem(
                    a,
                    format!(
                        "cargo-args: `{}` is not a flag (the first argument starts with `-`)",
                        a.value
                    ),
                );
            } else if a.value.contains('\0') {
                problem(a, "cargo-args: a NUL byte".to_owned());
            } else if RESERVED_ARGS.contains(&flag) {
                problem(
                    a,
                    format!("cargo-args: `{flag}` is set by linkmatrix for every cell"),
                );
            }
            s.cargo_args.push(a.value.clone());
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cfg_syntax() {
        assert!(valid_cfg("loom"));
        assert!(valid_cfg("getrandom_backend=\"custom\""));
        assert!(valid_cfg("getrandom_backend = \"custom\""));
        assert!(!valid_cfg("getrandom_backend=custom"));
        assert!(!valid_cfg("1x"));
        assert!(!valid_cfg("a=\"b\"c\""));
        assert!(!valid_cfg(""));
    }
}

//! `when:` on an option: what each value sets besides a cargo feature —
//! environment variables, rustc flags, `--cfg`s and cargo arguments.
//! Everything linkmatrix itself sets on the build is refused here, with
//! the place in the file.
use std::collections::{BTreeMap, HashMap};

use serde_saphyr::Spanned;

use super::diag::{Pos, Validator, at, pos};
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
    /// The settings of each of an option's values.
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
            let s = self.one(option, &key, &raw.value);
            out.insert(key, s);
        }
        out
    }

    fn one(&mut self, option: &str, value: &str, raw: &RawSettings) -> Settings {
        let file = self.file.clone();
        let problem = |v: &mut Self, p: Pos, msg: String| {
            v.push(at(
                &file,
                p,
                format!("option `{option}`, when {value}: {msg}"),
            ));
        };
        let mut s = Settings::default();
        for (k, v) in &raw.env {
            let name = k.value.as_str();
            if !valid_env_name(name) {
                problem(
                    self,
                    pos(&k.referenced),
                    format!("env `{name}` is not a variable name (letters, digits, `_`)"),
                );
            } else if let Some((_, why)) = RESERVED_ENV.iter().find(|(r, _)| *r == name) {
                problem(
                    self,
                    pos(&k.referenced),
                    format!("env `{name}` is set by linkmatrix ({why})"),
                );
            } else if v.value.contains('\0') {
                problem(
                    self,
                    pos(&v.referenced),
                    format!("env `{name}`: a NUL byte"),
                );
            }
            s.env.insert(name.to_owned(), v.value.clone());
        }
        for f in &raw.rustflags {
            if f.value.is_empty() || f.value.contains(['\x1f', '\0']) {
                problem(
                    self,
                    pos(&f.referenced),
                    format!("rustflags: `{}` is not a flag", f.value.escape_debug()),
                );
            } else if f.value == "--sysroot" || f.value.starts_with("--sysroot=") {
                problem(
                    self,
                    pos(&f.referenced),
                    "rustflags: linkmatrix sets `--sysroot` per target".to_owned(),
                );
            }
            s.rustflags.push(f.value.clone());
        }
        for c in &raw.cfg {
            if !valid_cfg(&c.value) {
                problem(
                    self,
                    pos(&c.referenced),
                    format!("cfg `{}`: expected `name` or `name=\"value\"`", c.value),
                );
            }
            s.rustflags.push("--cfg".to_owned());
            s.rustflags.push(c.value.clone());
        }
        for (i, a) in raw.cargo_args.iter().enumerate() {
            let flag = a.value.split_once('=').map_or(a.value.as_str(), |(f, _)| f);
            if i == 0 && !a.value.starts_with('-') {
                problem(
                    self,
                    pos(&a.referenced),
                    format!(
                        "cargo-args: `{}` is not a flag (the first argument starts with `-`)",
                        a.value
                    ),
                );
            } else if a.value.contains('\0') {
                problem(
                    self,
                    pos(&a.referenced),
                    "cargo-args: a NUL byte".to_owned(),
                );
            } else if RESERVED_ARGS.contains(&flag) {
                problem(
                    self,
                    pos(&a.referenced),
                    format!("cargo-args: `{flag}` is set by linkmatrix for every cell"),
                );
            }
            s.cargo_args.push(a.value.clone());
        }
        s
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
                        self.push(at(&self.file.clone(), pos(&k.referenced), msg));
                    }
                    None => {
                        first.insert(&k.value, &name.value);
                    }
                }
            }
        }
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

//! Loading matrix files and target files in two phases: parse the YAML
//! into `Raw*` types (serde, kebab-case, unknown keys are errors, with
//! depth and alias budgets), then `validate` every field and collect every
//! problem with <file:line:col> before anything runs.
//!
//! This module reads files and asks `cargo metadata` where a crate is given
//! by package name; it never builds, links or prints.
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::{Component, Path, PathBuf};

use indexmap::IndexMap;
use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::bundle;
use crate::expr::Expr;
use crate::model::{Exports, Matrix, Mode, OptionDecl, Policy, Target, Value};
use crate::plan::{self, Rules};

/// Matrix and target files larger than this are refused.
const MAX_FILE_BYTES: u64 = 1 << 20;

/// One problem at a place in a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The file.
    pub file: PathBuf,
    /// 1-based line, 0 when the problem is about the whole file.
    pub line: u64,
    /// 1-based column.
    pub col: u64,
    /// What is wrong, and how to fix it when we know.
    pub message: String,
    /// A few lines of context, already formatted.
    pub snippet: Option<String>,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = crate::plan::display_path(&self.file);
        if self.line == 0 {
            write!(f, "{file}: {}", self.message)?;
        } else {
            write!(f, "{file}:{}:{}: {}", self.line, self.col, self.message)?;
        }
        if let Some(s) = &self.snippet {
            write!(f, "\n{s}")?;
        }
        Ok(())
    }
}

/// Every problem found in a matrix and its target files.
#[derive(Debug, thiserror::Error)]
pub struct ConfigError {
    /// The problems, in file order.
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        if n > 1 {
            write!(f, "\n{n} problems")?;
        }
        Ok(())
    }
}

/// A 1-based line and column.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Pos {
    line: u64,
    col: u64,
}

fn pos(l: &serde_saphyr::Location) -> Pos {
    Pos {
        line: l.line(),
        col: l.column(),
    }
}

fn at(file: &Path, loc: Pos, message: impl Into<String>) -> Problem {
    Problem {
        file: file.to_owned(),
        line: loc.line,
        col: loc.col,
        message: message.into(),
        snippet: None,
    }
}

fn whole(file: &Path, message: impl Into<String>) -> Problem {
    Problem {
        file: file.to_owned(),
        line: 0,
        col: 0,
        message: message.into(),
        snippet: None,
    }
}

// ---------------------------------------------------------------- raw types

/// A matrix file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawConfig {
    #[serde(rename = "crate")]
    krate: Spanned<String>,
    #[serde(default)]
    mode: Option<Spanned<String>>,
    #[serde(default)]
    targets: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    options: IndexMap<Spanned<String>, Spanned<RawOption>>,
    #[serde(default)]
    axes: IndexMap<Spanned<String>, Vec<Spanned<String>>>,
    #[serde(default)]
    include: Vec<Spanned<IndexMap<Spanned<String>, Spanned<String>>>>,
    #[serde(default)]
    exclude: Vec<Spanned<IndexMap<Spanned<String>, Spanned<String>>>>,
    #[serde(default)]
    policy: RawPolicy,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawOption {
    #[serde(default, rename = "type")]
    kind: Option<Spanned<String>>,
    #[serde(default)]
    values: Vec<Spanned<String>>,
    #[serde(default)]
    feature: Option<Spanned<String>>,
    #[serde(default)]
    features: IndexMap<Spanned<String>, Spanned<String>>,
    #[serde(default)]
    depends_on: Option<Spanned<String>>,
    #[serde(default)]
    default: Option<Spanned<String>>,
    #[serde(default)]
    defaults: Vec<RawDefault>,
    #[serde(default)]
    labels: Vec<Spanned<String>>,
    /// Documentation for people reading the file.
    #[serde(default)]
    #[allow(dead_code)]
    help: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawDefault {
    #[serde(rename = "if")]
    cond: Spanned<String>,
    value: Spanned<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawPolicy {
    #[serde(default)]
    forbidden: Vec<Spanned<String>>,
    #[serde(default)]
    allow_undefined: Vec<Spanned<String>>,
    #[serde(default)]
    roots: Vec<Spanned<String>>,
}

/// A target file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawTarget {
    #[serde(default)]
    name: Option<Spanned<String>>,
    triple: Spanned<String>,
    /// Documentation for people reading the file.
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
    cc: RawCc,
    linker: RawLinker,
    #[serde(default)]
    platform: RawPlatform,
    #[serde(default)]
    toolchain: RawToolchain,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawCc {
    compiler: Vec<Spanned<String>>,
    #[serde(default)]
    target: Option<Spanned<String>>,
    #[serde(default)]
    flags: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawLinker {
    program: Vec<Spanned<String>>,
    #[serde(default)]
    flags: Vec<Spanned<String>>,
    #[serde(default)]
    script: Option<Spanned<String>>,
    #[serde(default)]
    vars: BTreeMap<String, String>,
    #[serde(default)]
    entry: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawPlatform {
    #[serde(default)]
    sources: Vec<Spanned<String>>,
    #[serde(default)]
    include: Vec<Spanned<String>>,
    #[serde(default)]
    exports: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawToolchain {
    #[serde(default)]
    apt: Vec<String>,
}

// ---------------------------------------------------------------- parsing

/// Read a YAML file and parse it with budgets; every failure names the file.
fn parse_file<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<(T, String), Problem> {
    let meta = std::fs::metadata(path).map_err(|e| whole(path, format!("cannot read: {e}")))?;
    if !meta.is_file() {
        return Err(whole(path, "not a regular file"));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(whole(
            path,
            format!(
                "{} bytes: larger than the {MAX_FILE_BYTES}-byte limit for matrix and target files",
                meta.len()
            ),
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| whole(path, format!("cannot read: {e}")))?;
    let text = parse_text(path, &bytes)?;
    let value = parse_str(path, &text)?;
    Ok((value, text))
}

fn parse_text(path: &Path, bytes: &[u8]) -> Result<String, Problem> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(whole(path, "the file is empty"));
    }
    if bytes.contains(&0) {
        return Err(whole(path, "binary file (contains NUL bytes), not YAML"));
    }
    String::from_utf8(bytes.to_vec()).map_err(|e| {
        let off = e.utf8_error().valid_up_to();
        let line = bytes[..off].iter().filter(|&&b| b == b'\n').count() + 1;
        whole(
            path,
            format!("not UTF-8: invalid byte at offset {off} (line {line})"),
        )
    })
}

/// The YAML budgets: tight enough that an alias bomb or 10,000-deep nesting
/// fails in milliseconds and a few MB, loose enough for any real matrix.
fn yaml_options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = 64;
    budget.flow_nesting_limit = 64;
    budget.max_aliases = 1_000;
    budget.max_anchors = 1_000;
    budget.max_events = 1_000_000;
    budget.max_nodes = 250_000;
    budget.max_total_scalar_bytes = 4 << 20;
    budget.max_documents = 1;
    let mut opts = serde_saphyr::Options::default();
    opts.budget = Some(budget);
    opts.alias_limits.max_total_replayed_events = 100_000;
    opts.alias_limits.max_replay_stack_depth = 16;
    opts.duplicate_keys = serde_saphyr::options::DuplicateKeyPolicy::Error;
    opts
}

/// Parse YAML text; the error names <file:line:col>, with a suggestion for a
/// misspelled key and the first place of a duplicate key.
pub fn parse_str<T: for<'de> Deserialize<'de>>(path: &Path, text: &str) -> Result<T, Problem> {
    // First the shape alone, so that depth and alias budgets trip before any
    // type error can stop the parse early; then the real types.
    serde_saphyr::from_str_with_options::<serde::de::IgnoredAny>(text, yaml_options())
        .and_then(|_| serde_saphyr::from_str_with_options(text, yaml_options()))
        .map_err(|e| {
            let full = e.to_string();
            let mut lines = full.lines();
            let first = lines.next().unwrap_or_default();
            // "error: line 5 column 5: message"
            let message = first
                .split_once(": ")
                .map_or(first, |(_, rest)| {
                    rest.split_once(": ").map_or(rest, |(_, m)| m)
                })
                .to_owned();
            let file = crate::plan::display_path(path);
            // A few lines of context, each cut to a readable width.
            let snippet: Vec<String> = lines
                .take(8)
                .map(|l| {
                    let l = l.replace("<input>", &file);
                    match l.char_indices().nth(160) {
                        Some((i, _)) => format!("{}…", &l[..i]),
                        None => l,
                    }
                })
                .collect();
            let (line, col) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
            let mut message = explain_yaml_error(&message, text, line, col);
            if line == 0 && message.is_empty() {
                first.clone_into(&mut message);
            }
            Problem {
                file: path.to_owned(),
                line,
                col,
                message,
                snippet: (!snippet.is_empty()).then(|| snippet.join("\n")),
            }
        })
}

fn explain_yaml_error(message: &str, text: &str, line: u64, col: u64) -> String {
    // serde: "unknown field `depend-on`, expected one of `a`, `b`"
    if let Some(rest) = message.strip_prefix("unknown field `")
        && let Some((field, expected)) = rest.split_once('`')
    {
        let candidates: Vec<&str> = expected
            .split(|c: char| c == ',' || c.is_whitespace() || c == '`')
            .filter(|w| !w.is_empty() && *w != "expected" && *w != "one" && *w != "of")
            .collect();
        if let Some(best) = closest(field, &candidates) {
            return format!("{message}; did you mean `{best}`?");
        }
    }
    if let Some(key) = message.strip_prefix("duplicate mapping key: ") {
        let key = key.split(',').next().unwrap_or(key).trim();
        if let Some(first) = first_key_line(text, key, line, col) {
            return format!("duplicate key `{key}` (first defined at line {first}, column {col})");
        }
        return format!("duplicate key `{key}`");
    }
    message.to_owned()
}

/// The closest candidate by edit distance, if it is close enough to be a typo.
pub fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min()
        .map(|(_, c)| c)
}

/// Where a duplicate block-mapping key first appeared: the nearest earlier
/// line with the same indentation and key, inside the same parent.
fn first_key_line(text: &str, key: &str, line: u64, col: u64) -> Option<u64> {
    let lines: Vec<&str> = text.lines().collect();
    let indent = usize::try_from(col.checked_sub(1)?).ok()?;
    let upto = usize::try_from(line.checked_sub(1)?).ok()?;
    for i in (0..upto.min(lines.len())).rev() {
        let l = lines[i];
        let trimmed = l.trim_start();
        let this = l.len() - trimmed.len();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let body = trimmed.strip_prefix("- ").unwrap_or(trimmed);
        if this == indent || (this + 2 == indent && trimmed.starts_with("- ")) {
            let k = body
                .split(':')
                .next()
                .unwrap_or("")
                .trim()
                .trim_matches(['"', '\'']);
            if k == key {
                return Some(i as u64 + 1);
            }
        } else if this < indent {
            return None;
        }
    }
    None
}

/// Parse a matrix or target file's text, and every rule expression in it,
/// without touching the file system: the pure part of loading (what the
/// config fuzz target drives). Returns how many expressions parsed.
pub fn parse_text_only(path: &Path, bytes: &[u8]) -> Result<usize, Problem> {
    let text = parse_text(path, bytes)?;
    if text.contains("triple:") {
        let _: RawTarget = parse_str(path, &text)?;
        return Ok(0);
    }
    let raw: RawConfig = parse_str(path, &text)?;
    let mut n = 0;
    for (_, opt) in &raw.options {
        let o = &opt.value;
        let exprs = o
            .depends_on
            .iter()
            .chain(o.default.iter())
            .chain(o.defaults.iter().map(|d| &d.cond));
        for e in exprs {
            if Expr::parse(&e.value).is_ok() {
                n += 1;
            }
        }
    }
    Ok(n)
}

// ---------------------------------------------------------------- validation

/// Options for loading a matrix.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// Refuse to expand more cells than this.
    pub max_cells: usize,
    /// Sample this many cells reproducibly instead of expanding all.
    pub random: Option<(usize, u64)>,
    /// The directory paths may not escape (default: the repository that
    /// holds the matrix file, or its directory).
    pub root: Option<PathBuf>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            max_cells: 10_000,
            random: None,
            root: None,
        }
    }
}

/// Why a matrix could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Problems in the files.
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// Too many cells.
    #[error(
        "{file}: the matrix expands to {cells} cells, more than --max-cells {max}; run a reproducible sample instead, e.g. `--random 50 --seed 1`, or raise --max-cells"
    )]
    TooManyCells {
        /// The matrix file.
        file: String,
        /// How many cells the axes make.
        cells: u128,
        /// The limit.
        max: usize,
    },
}

/// Load, validate and expand a matrix file.
pub fn load(path: &Path, opts: &LoadOptions) -> Result<Matrix, LoadError> {
    let fail = |p: Problem| LoadError::Config(ConfigError { problems: vec![p] });
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
        Some((other, loc)) => {
            v.push(at(
                path,
                loc,
                format!("mode `{other}`: expected `image` or `module`"),
            ));
            Mode::Image
        }
    };

    let (manifest, package) = v.resolve_crate(&raw.krate, &dir, &root);

    // Options.
    let mut decls: Vec<OptionDecl> = Vec::new();
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
        let (decl, rule) = v.option(&name.value, &opt.value);
        decls.push(decl);
        rules.options.push(rule);
    }

    // Rules refer only to known names, and do not form cycles.
    let known: BTreeSet<String> = decls
        .iter()
        .map(|d| d.name.clone())
        .chain(["arch".to_owned(), "profile".to_owned()])
        .collect();
    v.check_rule_names(&raw, &known);
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
        if let Some(target) = v.target(t, &dir, &root) {
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
            if let Some(x) = v.axis_value(&key.value, val, &decls, &targets) {
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

    let include = v.assignments(&raw.include, &decls, &targets, "include");
    let exclude = v.assignments(&raw.exclude, &decls, &targets, "exclude");

    let policy = Policy {
        forbidden: v.globs(&raw.policy.forbidden),
        allow_undefined: v.globs(&raw.policy.allow_undefined),
    };
    let roots: Vec<String> = raw.policy.roots.iter().map(|r| r.value.clone()).collect();
    for r in &raw.policy.roots {
        if !valid_symbol(&r.value) {
            v.push(at(
                path,
                pos(&r.referenced),
                format!("`{}` is not a symbol name", r.value),
            ));
        }
    }

    if !v.problems.is_empty() {
        return Err(ConfigError {
            problems: v.problems,
        }
        .into());
    }

    let spec = plan::Spec {
        file: path.to_owned(),
        rules: &rules,
        axes: &axes,
        include: &include,
        exclude: &exclude,
        targets: &targets,
    };
    let cells = plan::expand(&spec, opts.max_cells, opts.random).map_err(|e| match e {
        plan::ExpandError::TooMany(cells) => LoadError::TooManyCells {
            file: path.display().to_string(),
            cells,
            max: opts.max_cells,
        },
        plan::ExpandError::Problems(problems) => ConfigError { problems }.into(),
    })?;

    Ok(Matrix {
        path: path.to_owned(),
        root,
        manifest,
        package,
        mode,
        axes: axes.iter().map(|(k, _)| k.clone()).collect(),
        options: decls,
        cells,
        targets,
        policy,
        roots,
    })
}

/// The repository that holds `dir` (nearest ancestor with `.git`), else `dir`.
pub fn project_root(dir: &Path) -> PathBuf {
    let abs = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    abs.ancestors()
        .find(|a| a.join(".git").exists())
        .map_or(abs.clone(), Path::to_path_buf)
}

/// Names of options, axes, cells: letters, digits, `-`, `_`, `.`.
pub fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('-')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// A cargo feature: letters, digits, `-`, `_`, `+`, `/`, not starting with `-`.
pub fn valid_feature(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '+' | '/'))
}

/// A target triple: letters, digits, `-`, `_`, `.`.
pub fn valid_triple(s: &str) -> bool {
    valid_name(s) && s.contains('-')
}

fn valid_symbol(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('-')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '$'))
}

/// Resolve `rel` against `base`, refusing absolute paths, paths that start
/// with `-`, and paths that leave `root`.
fn contained(base: &Path, rel: &str, root: &Path) -> Result<PathBuf, String> {
    if rel.is_empty() {
        return Err("empty path".to_owned());
    }
    if rel.starts_with('-') {
        return Err(format!(
            "path `{rel}` starts with `-` (it would read as a flag)"
        ));
    }
    let p = Path::new(rel);
    if p.is_absolute() {
        return Err(format!(
            "path `{rel}` is absolute; write it relative to the file"
        ));
    }
    let mut out = std::path::absolute(base).map_err(|e| e.to_string())?;
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(n) => out.push(n),
            _ => {}
        }
    }
    let root = std::path::absolute(root).map_err(|e| e.to_string())?;
    if !out.starts_with(&root) {
        return Err(format!(
            "path `{rel}` leaves the project ({})",
            root.display()
        ));
    }
    Ok(out)
}

struct Validator {
    file: PathBuf,
    problems: Vec<Problem>,
}

impl Validator {
    fn push(&mut self, p: Problem) {
        self.problems.push(p);
    }

    fn resolve_crate(
        &mut self,
        krate: &Spanned<String>,
        dir: &Path,
        root: &Path,
    ) -> (PathBuf, String) {
        let value = krate.value.trim();
        if value.starts_with('-') {
            self.push(at(
                &self.file,
                pos(&krate.referenced),
                format!("crate: `{value}` starts with `-` (it would read as a flag)"),
            ));
            return (PathBuf::new(), String::new());
        }
        let as_path = value.contains('/')
            || value == "."
            || value == ".."
            || dir.join(value).join("Cargo.toml").is_file();
        if as_path {
            let resolved = match contained(dir, value, root) {
                Ok(p) => p,
                Err(e) => {
                    self.push(at(
                        &self.file,
                        pos(&krate.referenced),
                        format!("crate: {e}"),
                    ));
                    return (PathBuf::new(), String::new());
                }
            };
            let manifest = resolved.join("Cargo.toml");
            match package_name(&manifest) {
                Ok(name) => (manifest, name),
                Err(e) => {
                    self.push(at(
                        &self.file,
                        pos(&krate.referenced),
                        format!("crate `{value}`: {e}"),
                    ));
                    (manifest, String::new())
                }
            }
        } else {
            match find_package(dir, value) {
                Ok(manifest) => (manifest, value.to_owned()),
                Err(e) => {
                    self.push(at(
                        &self.file,
                        pos(&krate.referenced),
                        format!("crate `{value}`: {e}"),
                    ));
                    (PathBuf::new(), String::new())
                }
            }
        }
    }

    fn option(&mut self, name: &str, raw: &RawOption) -> (OptionDecl, plan::OptionRule) {
        let file = self.file.clone();
        let kind = raw.kind.as_ref().map_or("bool", |k| k.value.as_str());
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
                    let loc = raw
                        .kind
                        .as_ref()
                        .map(|k| pos(&k.referenced))
                        .unwrap_or_default();
                    self.push(at(
                        &file,
                        loc,
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
                let loc = raw
                    .kind
                    .as_ref()
                    .map(|k| pos(&k.referenced))
                    .unwrap_or_default();
                self.push(at(
                    &file,
                    loc,
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
        (
            OptionDecl {
                name: name.to_owned(),
                choices: choices.clone(),
                features: features.clone(),
            },
            plan::OptionRule {
                name: name.to_owned(),
                choices,
                features,
                labels,
                depends_on,
                defaults,
            },
        )
    }

    fn literal_value(
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

    fn check_feature(&mut self, f: &Spanned<String>) {
        if !valid_feature(&f.value) {
            self.push(at(
                &self.file.clone(),
                pos(&f.referenced),
                format!("`{}` is not a cargo feature name (letters, digits, `-`, `_`, `+`, `/`; not a flag)", f.value),
            ));
        }
    }

    fn expr(&mut self, option: &str, what: &str, src: &Spanned<String>) -> Option<Expr> {
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

    fn check_rule_names(&mut self, raw: &RawConfig, known: &BTreeSet<String>) {
        let cands: Vec<&str> = known.iter().map(String::as_str).collect();
        for (name, opt) in &raw.options {
            let exprs = opt
                .value
                .depends_on
                .iter()
                .map(|d| ("depends-on", d))
                .chain(opt.value.defaults.iter().map(|d| ("defaults.if", &d.cond)))
                .chain(
                    opt.value
                        .default
                        .iter()
                        .filter(|_| opt.value.kind.as_ref().is_none_or(|k| k.value == "bool"))
                        .map(|d| ("default", d)),
                );
            for (what, src) in exprs {
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
                            "option `{}`, {what}: unknown option `{ident}` in `{}`{hint}",
                            name.value, src.value
                        ),
                    ));
                }
            }
        }
    }

    fn target(&mut self, t: &Spanned<String>, dir: &Path, root: &Path) -> Option<Target> {
        let file = self.file.clone();
        let path = match find_target(&t.value, dir, root) {
            Ok(p) => p,
            Err(e) => {
                self.push(at(&file, pos(&t.referenced), e));
                return None;
            }
        };
        let (raw, text): (RawTarget, String) = match parse_file(&path) {
            Ok(x) => x,
            Err(p) => {
                self.push(p);
                return None;
            }
        };
        let tdir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        // Paths in a target file stay inside its own project: the matrix's,
        // the bundle's, or the repository that holds it.
        let troot = match bundle::root() {
            _ if path.starts_with(root) => root.to_path_buf(),
            Ok(b) if path.starts_with(&b) => b,
            _ => project_root(&tdir),
        };
        let name = raw.name.as_ref().map_or_else(
            || {
                path.file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default()
            },
            |n| n.value.clone(),
        );
        let mut tv = Validator {
            file: path.clone(),
            problems: Vec::new(),
        };
        if !valid_name(&name) {
            let loc = raw
                .name
                .as_ref()
                .map(|n| pos(&n.referenced))
                .unwrap_or_default();
            tv.push(at(&path, loc, format!("target name `{name}` is not valid")));
        }
        if !valid_triple(&raw.triple.value) {
            tv.push(at(
                &path,
                pos(&raw.triple.referenced),
                format!(
                    "`{}` is not a target triple (letters, digits, `-`, `_`, `.`)",
                    raw.triple.value
                ),
            ));
        }
        let words = |tv: &mut Validator,
                     list: &[Spanned<String>],
                     what: &str,
                     flags: bool|
         -> Vec<String> {
            list.iter()
                .filter_map(|w| {
                    let ok = if flags {
                        !w.value.is_empty() && !w.value.contains('\0')
                    } else {
                        valid_program(&w.value)
                    };
                    if ok {
                        Some(w.value.clone())
                    } else {
                        tv.push(at(
                            &path,
                            pos(&w.referenced),
                            format!("{what} `{}` is not valid", w.value),
                        ));
                        None
                    }
                })
                .collect()
        };
        let cc = words(&mut tv, &raw.cc.compiler, "C compiler", false);
        let cflags = words(&mut tv, &raw.cc.flags, "C flag", true);
        let linker = words(&mut tv, &raw.linker.program, "linker", false);
        let ldflags = words(&mut tv, &raw.linker.flags, "linker flag", true);
        let paths = |tv: &mut Validator, list: &[Spanned<String>]| -> Vec<PathBuf> {
            list.iter()
                .filter_map(|s| match contained(&tdir, &s.value, &troot) {
                    Ok(p) if p.exists() => Some(p),
                    Ok(p) => {
                        tv.push(at(
                            &path,
                            pos(&s.referenced),
                            format!("`{}` does not exist ({})", s.value, p.display()),
                        ));
                        None
                    }
                    Err(e) => {
                        tv.push(at(&path, pos(&s.referenced), e));
                        None
                    }
                })
                .collect()
        };
        let sources = paths(&mut tv, &raw.platform.sources);
        let include = paths(&mut tv, &raw.platform.include);
        let script = raw
            .linker
            .script
            .as_ref()
            .and_then(|s| paths(&mut tv, std::slice::from_ref(s)).pop());
        let cc_target = raw
            .cc
            .target
            .as_ref()
            .map_or_else(|| raw.triple.value.clone(), |t| t.value.clone());
        if !valid_triple(&cc_target) {
            let loc = raw
                .cc
                .target
                .as_ref()
                .map(|t| pos(&t.referenced))
                .unwrap_or_default();
            tv.push(at(
                &path,
                loc,
                format!("`{cc_target}` is not a target triple"),
            ));
        }
        let exports = match raw
            .platform
            .exports
            .as_ref()
            .map(|e| (e.value.as_str(), e.referenced))
        {
            None | Some(("all", _)) => Exports::All,
            Some((s, loc)) => match s.strip_prefix("section:") {
                Some(sec) if !sec.is_empty() => Exports::Section(sec.to_owned()),
                _ => {
                    tv.push(at(
                        &path,
                        pos(&loc),
                        format!("exports `{s}`: expected `all` or `section:<name>`"),
                    ));
                    Exports::All
                }
            },
        };
        let entry = raw
            .linker
            .entry
            .as_ref()
            .map_or_else(|| "_start".to_owned(), |e| e.value.clone());
        if !valid_symbol(&entry) {
            let loc = raw
                .linker
                .entry
                .as_ref()
                .map(|e| pos(&e.referenced))
                .unwrap_or_default();
            tv.push(at(
                &path,
                loc,
                format!("entry `{entry}` is not a symbol name"),
            ));
        }
        if cc.is_empty() && tv.problems.is_empty() {
            tv.push(whole(&path, "cc.compiler lists no compiler"));
        }
        if linker.is_empty() && tv.problems.is_empty() {
            tv.push(whole(&path, "linker.program lists no linker"));
        }
        if !tv.problems.is_empty() {
            self.problems.append(&mut tv.problems);
            return None;
        }
        Some(Target {
            name,
            source: path.display().to_string(),
            digest_input: text,
            triple: raw.triple.value.clone(),
            cc,
            cc_target,
            cflags,
            linker,
            ldflags,
            script,
            script_vars: raw.linker.vars.clone(),
            entry,
            sources,
            include,
            exports,
            apt: raw.toolchain.apt.clone(),
        })
    }

    fn axis_value(
        &mut self,
        axis: &str,
        val: &Spanned<String>,
        decls: &[OptionDecl],
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

    fn decl_value(&mut self, decl: &OptionDecl, val: &Spanned<String>) -> Option<Value> {
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
    fn assignments(
        &mut self,
        list: &[Spanned<IndexMap<Spanned<String>, Spanned<String>>>],
        decls: &[OptionDecl],
        targets: &BTreeMap<String, Target>,
        what: &str,
    ) -> Vec<plan::Assignment> {
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
            out.push(plan::Assignment {
                values,
                id,
                line: entry.referenced.line(),
                col: entry.referenced.column(),
            });
        }
        out
    }

    fn globs(&mut self, list: &[Spanned<String>]) -> Vec<glob::Pattern> {
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

/// Identifiers used as names (not as `==` operands).
fn bare_idents(e: &Expr) -> Vec<String> {
    let mut out = Vec::new();
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
    walk(e, &mut out);
    out
}

fn valid_program(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('-')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | '+'))
}

/// Where a target name or path leads: `<matrix dir>/targets/<name>.yaml`,
/// `<project>/targets/<name>.yaml`, then the bundled targets.
fn find_target(value: &str, dir: &Path, root: &Path) -> Result<PathBuf, String> {
    if value.contains('/') || value.ends_with(".yaml") || value.ends_with(".yml") {
        let p = contained(dir, value, root)?;
        return if p.is_file() {
            Ok(p)
        } else {
            Err(format!(
                "target file `{value}` does not exist ({})",
                p.display()
            ))
        };
    }
    if !valid_name(value) {
        return Err(format!("`{value}` is not a target name"));
    }
    let file = format!("{value}.yaml");
    for d in [dir.join("targets"), root.join("targets")] {
        if d.join(&file).is_file() {
            return Ok(d.join(file));
        }
    }
    let bundled = bundle::root().map_err(|e| format!("target `{value}`: {e:#}"))?;
    let p = bundled.join("targets").join(&file);
    if p.is_file() {
        return Ok(p);
    }
    let known = bundle::target_names(&bundled);
    let cands: Vec<&str> = known.iter().map(String::as_str).collect();
    let hint = closest(value, &cands)
        .map(|c| format!("; did you mean `{c}`?"))
        .unwrap_or_default();
    Err(format!(
        "no target file `{file}` in {}/targets, {}/targets or the bundled targets ({}){hint}",
        dir.display(),
        root.display(),
        known.join(", ")
    ))
}

fn package_name(manifest: &Path) -> Result<String, String> {
    #[derive(Deserialize)]
    struct Manifest {
        package: Option<Package>,
    }
    #[derive(Deserialize)]
    struct Package {
        name: String,
    }
    let text = std::fs::read_to_string(manifest)
        .map_err(|e| format!("cannot read {}: {e}", manifest.display()))?;
    let m: Manifest = toml::from_str(&text).map_err(|e| format!("{}: {e}", manifest.display()))?;
    m.package
        .map(|p| p.name)
        .ok_or_else(|| format!("{} has no [package]", manifest.display()))
}

fn find_package(dir: &Path, name: &str) -> Result<PathBuf, String> {
    let meta = cargo_metadata::MetadataCommand::new()
        .current_dir(dir)
        .no_deps()
        .exec()
        .map_err(|e| {
            format!(
                "not a path, and `cargo metadata` in {} failed: {e}",
                dir.display()
            )
        })?;
    meta.packages
        .iter()
        .find(|p| p.name.as_str() == name)
        .map(|p| p.manifest_path.clone().into_std_path_buf())
        .ok_or_else(|| {
            let names: Vec<&str> = meta.packages.iter().map(|p| p.name.as_str()).collect();
            format!(
                "no package of that name in the workspace (packages: {})",
                names.join(", ")
            )
        })
}

#[cfg(test)]
mod tests {
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

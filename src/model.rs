//! Every data type shared between pipeline stages, defined once: the
//! validated [`Matrix`], its [`Cell`]s, what running a cell produced
//! ([`CellOutcome`], [`Finding`]) and the [`Report`] (JSON schema
//! `linkmatrix/report/v1`, DESIGN.md).
//!
//! This module holds data only: no I/O, no process, no terminal.
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The report schema identifier.
pub const REPORT_SCHEMA: &str = "linkmatrix/report/v1";

/// A value an option (or `arch`, `profile`) takes in one cell.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    /// A bool option.
    Bool(bool),
    /// A choice option, `arch` or `profile`.
    Str(String),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::Str(s) => f.write_str(s),
        }
    }
}

/// How a cell is linked and checked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Startup + platform + crate linked into one executable image.
    #[default]
    Image,
    /// The crate as a relocatable module, checked against the exports of the
    /// linked platform image (as modpost checks a `.ko`).
    Module,
}

/// One configuration of the matrix.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cell {
    /// Stable, readable id, e.g. `arm-smp-nommu-release`.
    pub id: String,
    /// Name of the target file (the `arch` value).
    pub arch: String,
    /// The Rust target triple.
    pub target: String,
    /// Every option's effective value after rules, `arch` first.
    pub options: BTreeMap<String, Value>,
    /// Cargo features the options turn on, sorted.
    pub features: Vec<String>,
    /// Cargo profile name (`dev`, `release`, or a custom one).
    pub profile: String,
}

/// A cell's final status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Built, linked, no finding.
    Pass,
    /// Findings.
    Fail,
    /// The tool could not build or inspect the cell (missing toolchain,
    /// timeout, unreadable output, interrupted).
    Error,
    /// Not run (filtered out, another shard).
    Skipped,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Error => "error",
            Status::Skipped => "skipped",
        })
    }
}

/// What a finding is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    /// Image mode: nothing defines the symbol.
    UndefinedSymbol,
    /// Module mode: the platform image defines it but does not export it.
    UnexportedSymbol,
    /// A policy rule forbids the symbol.
    ForbiddenSymbol,
    /// The crate or the platform did not compile.
    BuildError,
    /// The linker refused for another reason.
    LinkError,
    /// Undefined in the cell's debug build only: the optimizer removed the
    /// reference in this build, and a change may bring it back (seed 001).
    /// A warning unless `--deny latent`.
    LatentUndefined,
}

impl FindingKind {
    /// The kebab-case name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::UndefinedSymbol => "undefined-symbol",
            FindingKind::UnexportedSymbol => "unexported-symbol",
            FindingKind::ForbiddenSymbol => "forbidden-symbol",
            FindingKind::BuildError => "build-error",
            FindingKind::LinkError => "link-error",
            FindingKind::LatentUndefined => "latent-undefined",
        }
    }
}

impl fmt::Display for FindingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One place that references a symbol.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Reference {
    /// The referencing function, demangled.
    pub function: String,
    /// The object (or `archive(member)`) that defines the function.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    /// Source file of the reference, relative to the project when inside it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Source line of the reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
}

impl Reference {
    /// ` at file:line`, ` at file`, or nothing: where, for people.
    pub fn at(&self) -> String {
        match (&self.file, self.line) {
            (Some(file), Some(l)) => format!(" at {file}:{l}"),
            (Some(file), None) => format!(" at {file}"),
            _ => String::new(),
        }
    }

    /// ` [object]`, or nothing.
    pub fn in_object(&self) -> String {
        self.object
            .as_deref()
            .map(|o| format!(" [{o}]"))
            .unwrap_or_default()
    }
}

/// One problem in one cell.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// What kind of problem.
    pub kind: FindingKind,
    /// The symbol, for symbol findings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symbol: Option<String>,
    /// Where it is referenced.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub referenced_by: Vec<Reference>,
    /// A path from a root (entry point, exported function) to the symbol.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chain: Vec<String>,
    /// The compiler's or linker's own words, for build and link errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Known and accepted by the baseline.
    #[serde(default)]
    pub baseline: bool,
}

impl Finding {
    /// A warning: reported, but the cell still passes.
    pub fn is_warning(&self) -> bool {
        self.kind == FindingKind::LatentUndefined
    }

    /// A finding about a symbol.
    pub fn symbol(kind: FindingKind, symbol: impl Into<String>) -> Self {
        Self {
            kind,
            symbol: Some(symbol.into()),
            referenced_by: Vec::new(),
            chain: Vec::new(),
            message: None,
            baseline: false,
        }
    }

    /// A build or link error carrying the tool's message.
    pub fn message(kind: FindingKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            symbol: None,
            referenced_by: Vec::new(),
            chain: Vec::new(),
            message: Some(message.into()),
            baseline: false,
        }
    }
}

/// What running one cell produced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CellOutcome {
    /// The cell's id.
    pub id: String,
    /// Rust target triple.
    pub target: String,
    /// Effective option values.
    pub options: BTreeMap<String, Value>,
    /// Cargo features.
    pub features: Vec<String>,
    /// Cargo profile.
    pub profile: String,
    /// Final status.
    pub status: Status,
    /// Wall time spent on the cell (0 when served from the cache).
    pub duration_ms: u64,
    /// The command that runs this cell alone.
    pub reproduce: String,
    /// Findings, sorted.
    pub findings: Vec<Finding>,
    /// Why the tool could not finish the cell (status `error`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Served from the cache.
    #[serde(default)]
    pub cached: bool,
}

/// Counts per status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Cells in the report.
    pub cells: usize,
    /// Cells that passed.
    pub pass: usize,
    /// Cells with findings.
    pub fail: usize,
    /// Cells the tool could not finish.
    pub error: usize,
    /// Cells not run.
    pub skipped: usize,
}

/// The whole result of a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// Always [`REPORT_SCHEMA`].
    pub schema: String,
    /// linkmatrix's version.
    pub tool_version: String,
    /// The matrix file, as given.
    pub config: String,
    /// One outcome per cell, in plan order.
    pub cells: Vec<CellOutcome>,
    /// Counts.
    pub summary: Summary,
}

impl Report {
    /// A report over `cells`, with the summary computed.
    pub fn new(config: String, cells: Vec<CellOutcome>) -> Self {
        let mut summary = Summary {
            cells: cells.len(),
            ..Summary::default()
        };
        for c in &cells {
            match c.status {
                Status::Pass => summary.pass += 1,
                Status::Fail => summary.fail += 1,
                Status::Error => summary.error += 1,
                Status::Skipped => summary.skipped += 1,
            }
        }
        Self {
            schema: REPORT_SCHEMA.to_owned(),
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
            config,
            cells,
            summary,
        }
    }
}

/// A validated matrix file with its resolved targets.
#[derive(Clone, Debug)]
pub struct Matrix {
    /// The matrix file.
    pub path: PathBuf,
    /// The project root paths are shown relative to (the crate's workspace
    /// root, or the matrix file's directory).
    pub root: PathBuf,
    /// The crate's manifest.
    pub manifest: PathBuf,
    /// The cargo package name.
    pub package: String,
    /// Image or module.
    pub mode: Mode,
    /// Option declarations, in file order.
    pub options: Vec<OptionDecl>,
    /// The names on axes (`arch`, `profile` and options), in file order.
    pub axes: Vec<String>,
    /// Cells after axes, rules, include and exclude.
    pub cells: Vec<Cell>,
    /// The targets the cells use, by `arch` name.
    pub targets: BTreeMap<String, Target>,
    /// Symbol policy.
    pub policy: Policy,
    /// Extra root symbols to follow references from.
    pub roots: Vec<String>,
}

/// One declared option.
#[derive(Clone, Debug)]
pub struct OptionDecl {
    /// Its name.
    pub name: String,
    /// `None` for bool; the allowed values for a choice.
    pub choices: Option<Vec<String>>,
    /// Value (`true` for a bool) to the cargo feature it turns on.
    pub features: BTreeMap<String, String>,
}

impl OptionDecl {
    /// The cargo feature `value` turns on, if any.
    pub fn feature(&self, value: &Value) -> Option<&String> {
        match value {
            Value::Bool(true) => self.features.get("true"),
            Value::Bool(false) => None,
            Value::Str(s) => self.features.get(s),
        }
    }
}

/// Symbols that must never appear, and symbols that may stay undefined.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    /// Glob patterns of symbols that must not be referenced.
    pub forbidden: Vec<glob::Pattern>,
    /// Glob patterns of symbols allowed to stay undefined.
    pub allow_undefined: Vec<glob::Pattern>,
}

/// A validated target file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The `arch` name.
    pub name: String,
    /// The file it came from (a path, or `bundled:targets/x.yaml`).
    pub source: String,
    /// Its bytes, for the cache key.
    pub digest_input: String,
    /// Rust target triple.
    pub triple: String,
    /// C compiler candidates, first found wins.
    pub cc: Vec<String>,
    /// `--target=` for the C compiler.
    pub cc_target: String,
    /// C flags.
    pub cflags: Vec<String>,
    /// Linker candidates, first found wins.
    pub linker: Vec<String>,
    /// Linker flags.
    pub ldflags: Vec<String>,
    /// The linker script template, resolved.
    pub script: Option<PathBuf>,
    /// Values substituted into the script template.
    pub script_vars: BTreeMap<String, String>,
    /// Entry symbol.
    pub entry: String,
    /// Platform sources, resolved.
    pub sources: Vec<PathBuf>,
    /// Include directories, resolved.
    pub include: Vec<PathBuf>,
    /// How the platform exports symbols to modules.
    pub exports: Exports,
    /// Debian packages that provide the C compiler and linker.
    pub apt: Vec<String>,
}

/// How a platform image says which symbols modules may use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Exports {
    /// Every global defined symbol.
    All,
    /// NUL-separated names in this section.
    Section(String),
}

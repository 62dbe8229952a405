//! What running cells produced: each cell's [`CellOutcome`] with its
//! [`Finding`]s, the [`Report`] (JSON schema `linkmatrix/report/v1`), and
//! the [`Baseline`] of accepted findings.
use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::{
    Definition, MissingInput, RegionOverflow, RelocationOverflow, ScriptLine, Value,
    escape_controls,
};

/// The report schema identifier.
pub(crate) const REPORT_SCHEMA: &str = "linkmatrix/report/v1";

/// A cell's final status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Status {
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

impl Status {
    /// A finished cell's status from its findings: `Fail` when any is more
    /// than a warning, else `Pass`.
    pub(crate) fn of(findings: &[Finding]) -> Self {
        if findings.iter().any(|f| !f.is_warning()) {
            Status::Fail
        } else {
            Status::Pass
        }
    }
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
pub(crate) enum FindingKind {
    /// Image mode: nothing defines the symbol.
    UndefinedSymbol,
    /// Module mode: the platform image defines it but does not export it.
    UnexportedSymbol,
    /// A policy rule forbids the symbol.
    ForbiddenSymbol,
    /// More than one object defines the symbol.
    DuplicateSymbol,
    /// The image does not fit in a memory region of the linker script.
    RegionOverflow,
    /// A relocation's value does not fit its field (a branch or address
    /// too far from its target).
    RelocationOverflow,
    /// An `ASSERT` in a linker script failed.
    LinkerScriptAssertion,
    /// The linker could not find an input: a library, a linker script, an
    /// object.
    MissingInput,
    /// The crate or the platform did not compile.
    BuildError,
    /// The linker refused for another reason.
    LinkError,
    /// Undefined in the cell's debug build only: the optimizer removed the
    /// reference in this build, and a change may bring it back (seed 001).
    /// A warning unless `--deny latent`.
    LatentUndefined,
    /// Flash or RAM over the budget `policy.size.max` sets.
    SizeBudget,
    /// Flash or RAM grew more against the baseline than
    /// `policy.size.max-growth` allows.
    SizeGrowth,
}

impl FindingKind {
    /// Every kind, in report order: SARIF rules, docs and the JSON schema
    /// list them from here.
    pub(crate) const ALL: [FindingKind; 13] = [
        FindingKind::UndefinedSymbol,
        FindingKind::UnexportedSymbol,
        FindingKind::ForbiddenSymbol,
        FindingKind::DuplicateSymbol,
        FindingKind::RegionOverflow,
        FindingKind::RelocationOverflow,
        FindingKind::LinkerScriptAssertion,
        FindingKind::MissingInput,
        FindingKind::BuildError,
        FindingKind::LinkError,
        FindingKind::LatentUndefined,
        FindingKind::SizeBudget,
        FindingKind::SizeGrowth,
    ];

    /// One sentence for people (SARIF rule text, docs).
    pub(crate) fn description(self) -> &'static str {
        match self {
            FindingKind::UndefinedSymbol => {
                "A symbol is referenced that nothing in the image defines."
            }
            FindingKind::UnexportedSymbol => {
                "A module references a symbol the platform defines but does not export."
            }
            FindingKind::ForbiddenSymbol => "A symbol the policy forbids is reachable.",
            FindingKind::DuplicateSymbol => "More than one object defines the same symbol.",
            FindingKind::RegionOverflow => {
                "The image does not fit in a memory region of the linker script."
            }
            FindingKind::RelocationOverflow => {
                "A relocation's value does not fit its field: a branch or address too far from its target."
            }
            FindingKind::LinkerScriptAssertion => "An ASSERT in the linker script failed.",
            FindingKind::MissingInput => {
                "The linker could not find an input: a library, a linker script or an object."
            }
            FindingKind::BuildError => "The crate or the platform did not compile.",
            FindingKind::LinkError => {
                "The linker refused the image for a reason no other kind describes."
            }
            FindingKind::LatentUndefined => {
                "Undefined only in the debug build: optimization removed the reference, and a change may bring it back."
            }
            FindingKind::SizeBudget => "The image's flash or RAM is over the size budget.",
            FindingKind::SizeGrowth => {
                "The image's flash or RAM grew more against the baseline than the policy allows."
            }
        }
    }

    /// Its index in [`FindingKind::ALL`] (the SARIF rule index). A new
    /// kind fails to compile here until it is given its place in `ALL`.
    pub(crate) fn index(self) -> usize {
        match self {
            FindingKind::UndefinedSymbol => 0,
            FindingKind::UnexportedSymbol => 1,
            FindingKind::ForbiddenSymbol => 2,
            FindingKind::DuplicateSymbol => 3,
            FindingKind::RegionOverflow => 4,
            FindingKind::RelocationOverflow => 5,
            FindingKind::LinkerScriptAssertion => 6,
            FindingKind::MissingInput => 7,
            FindingKind::BuildError => 8,
            FindingKind::LinkError => 9,
            FindingKind::LatentUndefined => 10,
            FindingKind::SizeBudget => 11,
            FindingKind::SizeGrowth => 12,
        }
    }

    /// The kebab-case name used in reports.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            FindingKind::UndefinedSymbol => "undefined-symbol",
            FindingKind::UnexportedSymbol => "unexported-symbol",
            FindingKind::ForbiddenSymbol => "forbidden-symbol",
            FindingKind::DuplicateSymbol => "duplicate-symbol",
            FindingKind::RegionOverflow => "region-overflow",
            FindingKind::RelocationOverflow => "relocation-overflow",
            FindingKind::LinkerScriptAssertion => "linker-script-assertion",
            FindingKind::MissingInput => "missing-input",
            FindingKind::BuildError => "build-error",
            FindingKind::LinkError => "link-error",
            FindingKind::LatentUndefined => "latent-undefined",
            FindingKind::SizeBudget => "size-budget",
            FindingKind::SizeGrowth => "size-growth",
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
pub(crate) struct Reference {
    /// The referencing function, demangled.
    pub(crate) function: String,
    /// The object (or `archive(member)`) that defines the function.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) object: Option<String>,
    /// Source file of the reference, relative to the project when inside it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) file: Option<String>,
    /// Source line of the reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) line: Option<u32>,
}

impl Reference {
    /// ` at file:line`, ` at file`, or nothing: where, for people.
    pub(crate) fn at(&self) -> String {
        match (&self.file, self.line) {
            (Some(file), Some(l)) => format!(" at {file}:{l}"),
            (Some(file), None) => format!(" at {file}"),
            _ => String::new(),
        }
    }

    /// ` [object]`, or nothing.
    pub(crate) fn in_object(&self) -> String {
        self.object
            .as_deref()
            .map(|o| format!(" [{o}]"))
            .unwrap_or_default()
    }
}

/// One problem in one cell.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Finding {
    /// What kind of problem.
    pub(crate) kind: FindingKind,
    /// The symbol, for symbol findings (a relocation overflow's target),
    /// exactly as the linker or the object names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) symbol: Option<String>,
    /// The symbol in readable form, when that differs from `symbol` (a
    /// C++, Rust or MSVC-decorated name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) demangled: Option<String>,
    /// Where it is referenced.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) referenced_by: Vec<Reference>,
    /// `duplicate-symbol`: every definition the linker names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) definitions: Vec<Definition>,
    /// `region-overflow`: the region, how much over, which sections.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) region: Option<RegionOverflow>,
    /// `relocation-overflow`: the relocation type and its target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) relocation: Option<RelocationOverflow>,
    /// `missing-input`: what the linker could not find, and the flag or
    /// statement that asked for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) input: Option<MissingInput>,
    /// The linker-script line of a `linker-script-assertion`, or the one
    /// that asked for a `missing-input`, when the linker gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) script: Option<ScriptLine>,
    /// A path from a root (entry point, exported function) to the symbol.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) chain: Vec<String>,
    /// The compiler's or linker's own words, for build and link errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) message: Option<String>,
    /// Where to annotate it: the first source line inside the project on
    /// the way from the reference back to the root (the user's call into a
    /// dependency, when the reference itself is in the dependency), relative
    /// to the project root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) at: Option<Location>,
    /// The numbers of a size finding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) size: Option<super::SizeExcess>,
    /// Known and accepted by the baseline.
    #[serde(default)]
    pub(crate) baseline: bool,
}

/// A source line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Location {
    /// File, relative to the project root.
    pub(crate) file: String,
    /// Line, from 1.
    pub(crate) line: u32,
}

impl Finding {
    /// A warning: reported, but the cell still passes.
    pub(crate) fn is_warning(&self) -> bool {
        self.kind == FindingKind::LatentUndefined
    }

    /// A finding of `kind` with nothing filled in.
    pub(crate) fn new(kind: FindingKind) -> Self {
        Self {
            kind,
            symbol: None,
            demangled: None,
            referenced_by: Vec::new(),
            definitions: Vec::new(),
            region: None,
            relocation: None,
            input: None,
            script: None,
            chain: Vec::new(),
            message: None,
            at: None,
            size: None,
            baseline: false,
        }
    }

    /// A finding about a symbol.
    pub(crate) fn symbol(kind: FindingKind, symbol: impl Into<String>) -> Self {
        Self {
            symbol: Some(symbol.into()),
            ..Self::new(kind)
        }
    }

    /// A build or link error carrying the tool's message.
    pub(crate) fn message(kind: FindingKind, message: impl Into<String>) -> Self {
        Self {
            message: Some(message.into()),
            ..Self::new(kind)
        }
    }

    /// What the finding is about, as its identity: the symbol (exact), a
    /// size finding's measure, the region's name, the missing input's name,
    /// an assertion's first line; empty for build and link errors. Baseline signatures and `diff`
    /// compare findings by (kind, key).
    pub(crate) fn key(&self) -> String {
        if let Some(s) = &self.symbol {
            return s.clone();
        }
        // A size finding is about a measure (flash, RAM).
        if let Some(x) = &self.size {
            return x.measure.as_str().to_owned();
        }
        if let Some(r) = &self.region {
            return r.name.clone();
        }
        if let Some(i) = &self.input {
            return i.name.clone();
        }
        if let Some(r) = &self.relocation
            && let Some(sec) = &r.target_section
        {
            return sec.clone();
        }
        if self.kind == FindingKind::LinkerScriptAssertion {
            return self.first_line().to_owned();
        }
        String::new()
    }

    /// The first non-empty line of the message, or nothing.
    pub(crate) fn first_line(&self) -> &str {
        self.message
            .as_deref()
            .and_then(|m| m.lines().map(str::trim).find(|l| !l.is_empty()))
            .unwrap_or_default()
    }

    /// What the finding is about, for people, control characters escaped:
    /// the symbol demangled, `FLASH by 2312 bytes (.text)`, `library
    /// -lsensorfw`, an assertion's first line, a size finding's measure
    /// and numbers (`flash 70,000 B > 65,536 B`); `None` for build and link
    /// errors (their message says it).
    pub(crate) fn subject(&self) -> Option<String> {
        if let Some(x) = &self.size {
            let g = super::grouped;
            return Some(match (x.limit, x.baseline) {
                (Some(l), Some(b)) => format!(
                    "{} {} B (was {} B, at most {} B)",
                    x.measure,
                    g(x.bytes),
                    g(b),
                    g(l)
                ),
                (Some(l), None) => format!("{} {} B > {} B", x.measure, g(x.bytes), g(l)),
                (None, _) => format!(
                    "{} {} B (no {} region known)",
                    x.measure,
                    g(x.bytes),
                    x.measure
                ),
            });
        }
        let name = self.symbol.as_ref().map(|s| {
            let shown = self
                .demangled
                .clone()
                .or_else(|| {
                    rustc_demangle::try_demangle(s)
                        .ok()
                        .map(|d| format!("{d:#}"))
                })
                .unwrap_or_else(|| s.clone());
            escape_controls(&shown).into_owned()
        });
        match self.kind {
            FindingKind::RegionOverflow => self
                .region
                .as_ref()
                .map(|r| format!("{} {}", escape_controls(&r.name), r.describe())),
            FindingKind::RelocationOverflow => {
                let target = name.or_else(|| {
                    let sec = self.relocation.as_ref()?.target_section.as_ref()?;
                    Some(format!("section {}", escape_controls(sec)))
                });
                match (target, &self.relocation) {
                    (Some(t), Some(r)) if !r.r_type.is_empty() => {
                        Some(format!("{t} ({})", r.r_type))
                    }
                    (t, _) => t,
                }
            }
            FindingKind::MissingInput => self.input.as_ref().map(MissingInput::describe),
            FindingKind::LinkerScriptAssertion => {
                Some(escape_controls(self.first_line()).into_owned())
            }
            _ => name,
        }
    }
}

/// What running one cell produced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CellOutcome {
    /// The cell's id.
    pub(crate) id: String,
    /// Rust target triple.
    pub(crate) target: String,
    /// Effective option values.
    pub(crate) options: BTreeMap<String, Value>,
    /// Cargo features.
    pub(crate) features: Vec<String>,
    /// What the options' values set besides features (`env`, `rustflags`,
    /// `cargo_args`; absent when empty).
    #[serde(default, flatten)]
    pub(crate) settings: crate::model::Settings,
    /// Cargo profile.
    pub(crate) profile: String,
    /// Final status.
    pub(crate) status: Status,
    /// Wall time spent on the cell (0 when served from the cache).
    pub(crate) duration_ms: u64,
    /// Served from the cache: the wall time of the run that computed the
    /// outcome, what running the cell again takes (shards are balanced by
    /// it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) cached_duration_ms: Option<u64>,
    /// The command that runs this cell alone.
    pub(crate) reproduce: String,
    /// Findings, sorted.
    pub(crate) findings: Vec<Finding>,
    /// Why the tool could not finish the cell (status `error`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
    /// What kind of reason `error` is (status `error`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) error_kind: Option<ErrorKind>,
    /// Served from the cache.
    #[serde(default)]
    pub(crate) cached: bool,
    /// The linked image's footprint (a cell whose image linked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) size: Option<ImageSize>,
}

/// A cell's image size: [`super::Size`] (the name the cell runners use).
pub(crate) type ImageSize = super::Size;

/// Why the tool could not finish a cell, as a kind a program can branch
/// on (`error_kind` in the JSON report, kebab-case); the cell's `error`
/// says it for people.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum ErrorKind {
    /// Ctrl-C stopped it, or it never started because of one.
    Interrupted,
    /// It ran past `--timeout`.
    Timeout,
    /// A toolchain, program or source tree it needs is missing (the
    /// message gives the fix).
    MissingTool,
    /// A file or directory could not be created, read or locked.
    Io,
    /// The toolchain could not be readied (a sysroot build, the C
    /// compiler's flags).
    Toolchain,
    /// The build tool failed for a reason other than the code.
    Build,
    /// The cell cannot be built as configured (nothing to follow, an
    /// option the build system dropped, which binary).
    Configuration,
    /// The linker could not run or was killed.
    Link,
    /// The built files could not be read or analysed.
    Inspection,
    /// A bug in linkmatrix (a panic, a target the plan does not have).
    Internal,
}

/// Counts per status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Summary {
    /// Cells in the report.
    pub(crate) cells: usize,
    /// Cells that passed.
    pub(crate) pass: usize,
    /// Cells with findings.
    pub(crate) fail: usize,
    /// Cells the tool could not finish.
    pub(crate) error: usize,
    /// Cells not run.
    pub(crate) skipped: usize,
}

/// The whole result of a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Report {
    /// Always [`REPORT_SCHEMA`].
    pub(crate) schema: String,
    /// linkmatrix's version.
    pub(crate) tool_version: String,
    /// The matrix file, as given.
    pub(crate) config: String,
    /// The project root (absolute) that findings' `at` and relative
    /// `file`s are relative to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) root: Option<String>,
    /// One outcome per cell, in plan order.
    pub(crate) cells: Vec<CellOutcome>,
    /// The matrix's `policy.size`, which the gate (`check`, `merge`)
    /// decides size findings by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) size_policy: Option<super::SizePolicy>,
    /// Counts.
    pub(crate) summary: Summary,
    /// The shard this report ran (`check --shard`), or every shard's
    /// (merged), by K.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) shards: Vec<crate::model::ShardRun>,
}

impl Report {
    /// A report over `cells`, with the summary computed.
    pub(crate) fn new(config: String, cells: Vec<CellOutcome>) -> Self {
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
            root: None,
            config,
            cells,
            size_policy: None,
            summary,
            shards: Vec::new(),
        }
    }
}

/// The baseline file schema.
pub(crate) const BASELINE_SCHEMA: &str = "linkmatrix/baseline/v1";

/// A baseline file: findings a team has accepted.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Baseline {
    /// Always [`BASELINE_SCHEMA`].
    pub(crate) schema: String,
    /// Accepted findings.
    pub(crate) findings: Vec<BaselineEntry>,
    /// Each cell's flash and RAM when the baseline was written.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) sizes: BTreeMap<String, super::Totals>,
}

/// One accepted finding.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) struct BaselineEntry {
    /// The stable signature.
    pub(crate) signature: String,
    /// Its cell.
    pub(crate) cell: String,
    /// Its kind.
    pub(crate) kind: String,
    /// Its symbol.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) symbol: Option<String>,
    /// The first referencing function.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) function: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Baselines and `diff` tell findings apart by (kind, key): two
    /// regions, two missing inputs, two assertions are two findings; a
    /// symbol finding's key is its symbol, as its signature always was.
    #[test]
    fn each_kind_is_keyed_by_what_it_is_about() {
        let region = |name: &str| {
            let mut f = Finding::new(FindingKind::RegionOverflow);
            f.region = Some(RegionOverflow {
                name: name.to_owned(),
                ..RegionOverflow::default()
            });
            f
        };
        assert_eq!(region("FLASH").key(), "FLASH");
        assert_ne!(region("FLASH").key(), region("RAM").key());
        assert_eq!(
            Finding::symbol(FindingKind::DuplicateSymbol, "x").key(),
            "x"
        );
        let a = Finding::message(FindingKind::LinkerScriptAssertion, "\nERROR(x): one\nmore");
        assert_eq!(a.key(), "ERROR(x): one");
        assert_eq!(a.subject().as_deref(), Some("ERROR(x): one"));
        assert_eq!(Finding::message(FindingKind::LinkError, "ld: x").key(), "");
    }

    #[test]
    fn all_lists_every_kind_at_its_index() {
        for (i, k) in FindingKind::ALL.iter().enumerate() {
            assert_eq!(k.index(), i, "{k}");
            assert!(!k.description().is_empty());
        }
    }
}

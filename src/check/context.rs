//! What one cell's run shares across the modes: the [`CellCtx`] built once
//! per cell (matrix, cell, work directory, deadline, logger, the build
//! directory's turn), what a runner found ([`Found`]), and [`finish`], the
//! one place a runner's `Result<Found, CellError>` becomes the cell's
//! [`CellOutcome`] (and what `why` and `diff` read later is written).
//!
//! It must not decide findings (`findings` does) nor know a mode.
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::error::CellError;
use super::findings::{self, Rules};
use crate::build::BuildFailure;
use crate::model::{
    Cell, CellOutcome, Finding, ImageSize, Inspected, Matrix, ObjectCrates, Status, Target,
};
use crate::process::Cmd;
use crate::workdir::WorkDir;

/// The cargo target directory a cell builds in, shared with the cells of
/// its arch, profile and settings, and the lock they take turns with.
#[derive(Clone, Copy)]
pub(super) struct SharedBuild<'a> {
    /// The directory.
    pub(super) dir: &'a Path,
    /// Its turn.
    pub(super) lock: &'a Mutex<()>,
}

/// One cell's run: built once, read by every step of every mode.
pub(super) struct CellCtx<'a> {
    /// The matrix.
    pub(super) m: &'a Matrix,
    /// The cell.
    pub(super) cell: &'a Cell,
    /// The matrix's work directory.
    pub(super) work: &'a WorkDir,
    /// The cargo build directory this cell takes turns in.
    pub(super) shared: SharedBuild<'a>,
    /// Where each command is shown (`-v`).
    pub(super) log: &'a dyn Fn(&Cmd),
    /// When the cell started.
    pub(super) start: Instant,
    /// Its time limit (`--timeout`), from `start`.
    pub(super) timeout: Duration,
}

impl<'a> CellCtx<'a> {
    /// What is left of the cell's time limit (at least 1 ms: a command
    /// given it stops at once).
    pub(super) fn remaining(&self) -> Duration {
        self.timeout
            .saturating_sub(self.start.elapsed())
            .max(Duration::from_millis(1))
    }

    /// The finding rules of the matrix.
    pub(super) fn rules(&self) -> Rules<'a> {
        Rules::of(self.m)
    }

    /// The cell's target file.
    pub(super) fn target(&self) -> Result<&'a Target, CellError> {
        self.m
            .targets
            .get(&self.cell.arch)
            .ok_or_else(|| CellError::Internal(format!("no target `{}`", self.cell.arch)))
    }

    /// The cell's own work directory (`cells/<id>`), created.
    pub(super) fn cell_dir(&self) -> Result<PathBuf, CellError> {
        let dir = self.work.cell(&self.cell.id);
        std::fs::create_dir_all(&dir).map_err(|e| CellError::io("creating", &dir, e))?;
        Ok(dir)
    }

    /// Run `step` holding the shared build directory: its build, and the
    /// copy of what it built out of it, before the next cell's build
    /// rewrites it.
    pub(super) fn in_turn<T>(&self, step: impl FnOnce(&Path) -> T) -> T {
        let _own = self
            .shared
            .lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        step(self.shared.dir)
    }
}

/// What a runner found: the findings, and for later the linked image, the
/// roots chains start from, and the image's size.
#[derive(Debug, Default)]
pub(super) struct Found {
    /// The findings.
    pub(super) findings: Vec<Finding>,
    /// The linked (or permissively linked) image `why` and `diff` read.
    pub(super) image: Option<PathBuf>,
    /// The roots the image was followed from.
    pub(super) roots: Vec<String>,
    /// The linked image's size.
    pub(super) size: Option<ImageSize>,
    /// What the link's inputs say of crates, for measuring the image
    /// again (`diff`): only what the measured file can ask about.
    pub(super) objects: ObjectCrates,
}

impl Found {
    /// Findings without an image (a failed build).
    pub(super) fn findings(findings: Vec<Finding>) -> Self {
        Self {
            findings,
            ..Self::default()
        }
    }
}

/// A build step's failure: the code's (a compile error: findings) or the
/// tool's (an error).
pub(super) fn build_failed(ctx: &CellCtx<'_>, f: BuildFailure) -> Result<Found, CellError> {
    if f.is_code() {
        Ok(Found::findings(findings::build_findings(&ctx.rules(), f)))
    } else {
        Err(f.into())
    }
}

/// `cell`'s outcome with `status` and nothing else (the reproduce command
/// is the report's to add).
pub(super) fn blank(cell: &Cell, status: Status) -> CellOutcome {
    CellOutcome {
        id: cell.id.clone(),
        target: cell.target.clone(),
        options: cell.options.clone(),
        features: cell.features.clone(),
        settings: cell.settings.clone(),
        profile: cell.profile.clone(),
        status,
        duration_ms: 0,
        cached_duration_ms: None,
        reproduce: String::new(),
        findings: Vec::new(),
        error: None,
        error_kind: None,
        cached: false,
        size: None,
    }
}

/// `cell` ended with an error.
pub(super) fn errored(cell: &Cell, e: &CellError) -> CellOutcome {
    CellOutcome {
        error: Some(e.to_string()),
        error_kind: Some(e.kind()),
        ..blank(cell, Status::Error)
    }
}

/// The boundary: a runner's result as the cell's outcome. What `why` and
/// `diff` read is written here, from this run only (an error leaves no
/// image: never the last run's).
pub(super) fn finish(ctx: &CellCtx<'_>, res: Result<Found, CellError>) -> CellOutcome {
    let took = ctx.start.elapsed();
    let (mut o, inspected) = match res {
        Ok(found) => {
            let mut o = blank(ctx.cell, Status::of(&found.findings));
            o.findings = found.findings;
            o.size = found.size;
            let inspected = Inspected {
                image: found.image,
                roots: found.roots,
                objects: found.objects,
            };
            (o, inspected)
        }
        Err(e) => {
            let none = Inspected {
                image: None,
                roots: Vec::new(),
                objects: ObjectCrates::default(),
            };
            (errored(ctx.cell, &e), none)
        }
    };
    ctx.work.write_inspected(&ctx.cell.id, &inspected);
    o.duration_ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX);
    o
}

/// The footprint of an image's bytes (`None` when they are not ELF),
/// with the memory regions of the linker script at `script` when it
/// exists, listing as many symbols as `policy.size.symbols` says.
pub(super) fn measure(
    m: &Matrix,
    data: &[u8],
    script: Option<&Path>,
    objects: &ObjectCrates,
) -> Option<ImageSize> {
    measuring(|| {
        let regions = script
            .and_then(|s| std::fs::read_to_string(s).ok())
            .map(|text| crate::inspect::memory::regions(&text))
            .unwrap_or_default();
        let top = m.policy.size.symbols.unwrap_or(crate::inspect::DEFAULT_TOP);
        crate::inspect::footprint(data, &regions, top, objects).ok()
    })
}

/// Run `f`, counting its time as footprint's (`LINKMATRIX_STATS`).
pub(super) fn measuring<T>(f: impl FnOnce() -> T) -> T {
    let start = std::time::Instant::now();
    let out = f();
    let took = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
    MEASURING.fetch_add(took, std::sync::atomic::Ordering::Relaxed);
    out
}

/// Nanoseconds all cells of this process spent measuring footprints
/// (`LINKMATRIX_STATS`: what footprint adds to a run).
static MEASURING: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The time spent measuring footprints so far, summed over the cells.
pub(crate) fn footprint_time() -> std::time::Duration {
    std::time::Duration::from_nanos(MEASURING.load(std::sync::atomic::Ordering::Relaxed))
}

/// Every global function and data object `data` defines (what
/// `policy.roots` can name); an error when it is not an object file.
pub(super) fn global_symbols(data: &[u8]) -> object::Result<BTreeSet<String>> {
    use object::{Object, ObjectSymbol};
    let f = object::File::parse(data)?;
    Ok(f.symbols()
        .filter(|s| {
            s.is_global()
                && !s.is_undefined()
                && matches!(
                    s.kind(),
                    object::SymbolKind::Text | object::SymbolKind::Data
                )
        })
        .filter_map(|s| s.name().ok().filter(|n| !n.is_empty()).map(str::to_owned))
        .collect())
}

/// The global functions and data `policy.roots` names: by symbol, or by
/// demangled path (hash dropped), either one as a glob. A plain symbol no
/// input defines is kept (the link then says it is undefined).
pub(super) fn policy_roots(m: &Matrix, globals: &BTreeSet<String>) -> Vec<String> {
    let mut out = Vec::new();
    if m.roots.is_empty() {
        return out;
    }
    // Each name demangled once, whatever the number of patterns.
    let names: Vec<(&String, Option<String>)> = globals
        .iter()
        .map(|n| (n, crate::inspect::demangle(n)))
        .collect();
    for p in &m.roots {
        let mut hit = false;
        for (name, demangled) in &names {
            if p.matches(name) || demangled.as_deref().is_some_and(|d| p.matches(d)) {
                out.push((*name).clone());
                hit = true;
            }
        }
        let literal = !p.as_str().contains(['*', '?', '[', ':']);
        if !hit && literal {
            out.push(p.as_str().to_owned());
        }
    }
    out
}

/// Test hook, in debug builds only: `LINKMATRIX_TEST_PANIC=<at>:<name>`
/// (`prepare:ARCH`, `cell:ID`) panics there, to show a panic becomes an
/// `error` cell. Release builds never read it.
pub(super) fn test_panic(at: &str, name: &str) {
    #[cfg(debug_assertions)]
    assert!(
        std::env::var("LINKMATRIX_TEST_PANIC").map_or(true, |v| v != format!("{at}:{name}")),
        "test panic ({at} {name})"
    );
    let _ = (at, name);
}

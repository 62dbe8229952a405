//! Running the cells that need running: each target that has work is
//! prepared once, then worker threads take the cells (one of each shared
//! build directory in turn), each in a [`CellCtx`] with its mode's runner,
//! and send events to the reporter. A cell that panics, or whose target's
//! preparation panicked, is an `error` cell naming the panic (cargo's job
//! queue reports a job that panicked the same way); the others go on.
//!
//! It must not print (the reporter does) nor make the report.
use std::collections::{BTreeMap, BTreeSet};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError, mpsc};
use std::time::Instant;

use super::CheckOptions;
use super::context::{CellCtx, SharedBuild, errored, finish, test_panic};
use super::error::{CellError, panic_message};
use super::prepare::{Prepared, prepare};
use super::progress::{Event, report_events};
use super::{bin, command, image};
use crate::cache::{self, CacheEntry};
use crate::model::{Cell, CellOutcome, Inspected, Matrix, Mode, Status, Target};
use crate::process::Cmd;
use crate::toolchain::Toolchains;
use crate::workdir::WorkDir;

/// What every worker reads: the run's settings and what was looked up
/// before the cells start.
pub(super) struct Schedule<'a> {
    /// The matrix.
    pub(super) m: &'a Matrix,
    /// Its work directory.
    pub(super) work: &'a WorkDir,
    /// What `check` was asked to do.
    pub(super) opts: &'a CheckOptions,
    /// The toolchains found.
    pub(super) chains: &'a Toolchains,
    /// Each cell's cache key.
    pub(super) keys: &'a BTreeMap<String, String>,
    /// The cells the cache serves.
    pub(super) cached: &'a BTreeMap<&'a str, CellOutcome>,
    /// Build scripts or proc macros: one build directory for every triple.
    pub(super) host_units: bool,
}

/// Run `cells` (cached ones are served), showing progress; their
/// outcomes by id.
pub(super) fn run_cells(s: &Schedule<'_>, cells: &[&Cell]) -> BTreeMap<String, CellOutcome> {
    let (tx, rx) = mpsc::channel::<Event>();
    let total = cells.len();
    let reporter = {
        let opts = s.opts.clone();
        std::thread::spawn(move || report_events(&rx, total, &opts))
    };
    let prepared = prepare_targets(s, cells, &tx);
    // Cells sharing a build directory take turns in it; the order takes
    // one cell of each directory in turn, so the workers build in
    // different directories at once and the cores stay busy. A crate with
    // build scripts or proc macros builds them once for every triple.
    let dirs: Vec<PathBuf> = cells
        .iter()
        .map(|c| s.work.build_dir(c, s.host_units))
        .collect();
    let locks: BTreeMap<&PathBuf, Mutex<()>> = dirs.iter().map(|d| (d, Mutex::new(()))).collect();
    let queue = Queue {
        s,
        cells,
        dirs: &dirs,
        locks: &locks,
        prepared: &prepared,
        order: interleave(&dirs),
        next: AtomicUsize::new(0),
        results: Mutex::new(BTreeMap::new()),
    };
    std::thread::scope(|scope| {
        for _ in 0..s.opts.jobs.max(1).min(total.max(1)) {
            let tx = tx.clone();
            let queue = &queue;
            scope.spawn(move || queue.work(&tx));
        }
    });
    drop(tx);
    let _ = reporter.join();
    queue
        .results
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner)
}

/// Prepare, each on its own thread, the targets of the cells the cache
/// does not serve; a preparation that panicked is its target's error.
fn prepare_targets(
    s: &Schedule<'_>,
    cells: &[&Cell],
    tx: &mpsc::Sender<Event>,
) -> BTreeMap<String, Result<Prepared, CellError>> {
    let need: BTreeSet<&str> = cells
        .iter()
        .filter(|c| s.m.build.is_none() && !s.cached.contains_key(c.id.as_str()))
        .map(|c| c.arch.as_str())
        .collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = need
            .iter()
            .filter_map(|a| s.m.targets.get(*a))
            .map(|t: &Target| {
                let tx = tx.clone();
                (
                    t.name.clone(),
                    scope.spawn(move || prepare(t, s.chains, s.opts, &tx)),
                )
            })
            .collect();
        handles
            .into_iter()
            .map(|(name, h)| {
                let prepared = h.join().unwrap_or_else(|p| {
                    Err(CellError::Internal(format!(
                        "preparing target `{name}` panicked: {}",
                        panic_message(p.as_ref())
                    )))
                });
                (name, prepared)
            })
            .collect()
    })
}

/// The cells in the order workers take them, and their results.
struct Queue<'a> {
    s: &'a Schedule<'a>,
    cells: &'a [&'a Cell],
    dirs: &'a [PathBuf],
    locks: &'a BTreeMap<&'a PathBuf, Mutex<()>>,
    prepared: &'a BTreeMap<String, Result<Prepared, CellError>>,
    order: Vec<usize>,
    next: AtomicUsize,
    results: Mutex<BTreeMap<String, CellOutcome>>,
}

impl Queue<'_> {
    /// A worker: take cells until none is left.
    fn work(&self, tx: &mpsc::Sender<Event>) {
        loop {
            let i = self.next.fetch_add(1, Ordering::SeqCst);
            let Some(&j) = self.order.get(i) else { break };
            let cell = self.cells[j];
            let _ = tx.send(Event::Start(cell.id.clone()));
            let outcome = match self.s.cached.get(cell.id.as_str()) {
                Some(o) => o.clone(),
                None => self.run(cell, &self.dirs[j], tx),
            };
            self.results
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(cell.id.clone(), outcome.clone());
            let _ = tx.send(Event::Done(Box::new(outcome)));
        }
    }

    /// Run `cell` in build directory `dir` under the panic guard, and
    /// cache a finished outcome.
    fn run(&self, cell: &Cell, dir: &PathBuf, tx: &mpsc::Sender<Event>) -> CellOutcome {
        let s = self.s;
        let verbose = s.opts.verbose;
        let log = |c: &Cmd| {
            if verbose {
                let _ = tx.send(Event::Log(format!("[{}] {c}", cell.id)));
            }
        };
        let ctx = CellCtx {
            m: s.m,
            cell,
            work: s.work,
            shared: SharedBuild {
                dir,
                lock: &self.locks[dir],
            },
            log: &log,
            start: Instant::now(),
            timeout: s.opts.timeout,
        };
        let o = catch_unwind(AssertUnwindSafe(|| finish(&ctx, self.mode(&ctx))))
            .unwrap_or_else(|p| panicked(&ctx, p.as_ref()));
        if matches!(o.status, Status::Pass | Status::Fail) {
            cache::write_entry(
                &s.work.cache_entry(&cell.id),
                &CacheEntry {
                    key: s.keys[cell.id.as_str()].clone(),
                    outcome: o.clone(),
                    env: cache::declared_env(dir),
                },
            );
        }
        o
    }

    /// The cell's mode's runner.
    fn mode(&self, ctx: &CellCtx<'_>) -> Result<super::context::Found, CellError> {
        test_panic("cell", &ctx.cell.id);
        if let Some(b) = &ctx.m.build {
            return command::run(ctx, b);
        }
        let p = match self.prepared.get(&ctx.cell.arch) {
            Some(Ok(p)) => p,
            // A preparation that panicked is a bug; say which cell it cost.
            Some(Err(CellError::Internal(e))) => {
                return Err(CellError::Internal(format!("cell `{}`: {e}", ctx.cell.id)));
            }
            Some(Err(e)) => return Err(e.clone()),
            None => {
                return Err(CellError::Internal(format!(
                    "no target file for arch `{}`",
                    ctx.cell.arch
                )));
            }
        };
        match ctx.m.mode {
            Mode::Image | Mode::Module => image::run(ctx, p),
            Mode::Bin => bin::run(ctx, p),
        }
    }
}

/// The outcome of a cell whose run panicked: an error naming the cell and
/// the panic, and no image for `why` (not the last run's).
fn panicked(ctx: &CellCtx<'_>, payload: &(dyn std::any::Any + Send)) -> CellOutcome {
    let e = CellError::Internal(format!(
        "linkmatrix panicked while running cell `{}`: {} (a bug: please report it)",
        ctx.cell.id,
        panic_message(payload)
    ));
    ctx.work.write_inspected(
        &ctx.cell.id,
        &Inspected {
            image: None,
            roots: Vec::new(),
            objects: crate::model::ObjectCrates::default(),
        },
    );
    errored(ctx.cell, &e)
}

/// Indices of the cells, whose groups are `group`, taking one of each
/// group in turn (groups in order of first appearance, cells in plan order
/// within a group).
pub(super) fn interleave<K: PartialEq>(group: &[K]) -> Vec<usize> {
    let mut groups: Vec<(&K, std::collections::VecDeque<usize>)> = Vec::new();
    for (i, k) in group.iter().enumerate() {
        match groups.iter_mut().find(|(g, _)| *g == k) {
            Some((_, q)) => q.push_back(i),
            None => groups.push((k, std::collections::VecDeque::from([i]))),
        }
    }
    let mut out = Vec::with_capacity(group.len());
    while out.len() < group.len() {
        for (_, q) in &mut groups {
            if let Some(i) = q.pop_front() {
                out.push(i);
            }
        }
    }
    out
}

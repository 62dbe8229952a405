//! `check`, the main job: for every cell, build, link, inspect, turn what
//! was found into findings, and keep the outcome. Cells run in parallel on
//! worker threads that send events to one reporter thread, which alone
//! owns the terminal. A cell whose inputs did not change is served from the
//! cache without running anything. Every cell ends with an outcome; a
//! failing cell never stops the others.
mod bin;
mod cell;
mod command;
mod findings;
mod progress;
mod shard;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::Result;

use crate::cache::{self, CacheEntry};
use crate::model::{Cell, CellOutcome, Plan, Report, Status, Target};
use crate::toolchain::{self, Toolchains};
use crate::workdir::WorkDir;
pub(crate) use cell::reproduce;
use cell::{Prepared, SharedBuild, outcome, prepare, run_cell};
use findings::add_latent;
use progress::{Event, report_events};
pub(crate) use shard::assign_shards;

/// What `check` was asked to do.
#[derive(Clone, Debug)]
pub(crate) struct CheckOptions {
    /// Parallel cells.
    pub(crate) jobs: usize,
    /// Cell id globs; empty means all.
    pub(crate) cells: Vec<glob::Pattern>,
    /// Ignore the cache.
    pub(crate) no_cache: bool,
    /// Do not install missing toolchains.
    pub(crate) no_provision: bool,
    /// Per-cell time limit.
    pub(crate) timeout: Duration,
    /// The matrix file as the user wrote it (for reproduce commands).
    pub(crate) config_arg: String,
    /// The matrix is `./linkmatrix.yaml`, found without `--config`.
    pub(crate) default_config: bool,
    /// `--manifest-path` as the user wrote it (for reproduce commands).
    pub(crate) manifest_arg: Option<String>,
    /// Print commands.
    pub(crate) verbose: bool,
    /// Print only the summary.
    pub(crate) quiet: bool,
    /// Run only shard K of N (1-based).
    pub(crate) shard: Option<(usize, usize)>,
    /// Cell durations (ms) to balance shards by, from an earlier report;
    /// `None`: from this work directory's cache.
    pub(crate) timings: Option<BTreeMap<String, u64>>,
    /// Also build each optimized cell's debug twin and report symbols
    /// undefined only there (`latent-undefined`).
    pub(crate) latent: bool,
    /// Latent references fail the cell instead of warning.
    pub(crate) deny_latent: bool,
}

/// Run the matrix. The report lists every selected cell.
pub(crate) fn run(plan: &Plan, opts: &CheckOptions, err: &mut dyn Write) -> Result<Report> {
    let m = &plan.matrix;
    // Environment rustflags are refused and the user's rustc wrapper
    // found, before anything runs.
    crate::wrapper::check_environment(
        m.manifest.parent().unwrap_or(std::path::Path::new(".")),
        m.build.is_some(),
    )?;
    let all: Vec<&Cell> = plan
        .cells
        .iter()
        .filter(|c| opts.cells.is_empty() || opts.cells.iter().any(|p| p.matches(&c.id)))
        .collect();
    let cells = all.clone();
    let work = WorkDir::of(m);

    // One run per work directory at a time; a second one says it waits.
    let _lock = cache::lock(&work.lock_file(), || {
        let _ = writeln!(
            err,
            "waiting for lock {} (another linkmatrix is running this matrix)",
            work.lock_file().display()
        );
    })?;

    // Toolchains: probe once; provision what is missing unless told not
    // to. What cargo metadata says of the crate is asked meanwhile.
    let (probed, facts) = std::thread::scope(|s| {
        let facts = s.spawn(|| match &m.build {
            // The source tree is what the build reads.
            Some(b) => cache::CrateFacts {
                inputs: vec![b.source.clone()],
                host_units: false,
            },
            None => cache::crate_facts(&m.manifest),
        });
        let probed = Toolchains::probe();
        (probed, facts.join().unwrap_or_default())
    });
    let mut chains = probed;
    let used: BTreeSet<&str> = cells.iter().map(|c| c.arch.as_str()).collect();
    let targets: Vec<&Target> = used.iter().filter_map(|a| m.targets.get(*a)).collect();
    if m.build.is_none()
        && !opts.no_provision
        && targets.iter().any(|t| !chains.for_target(t).ready())
    {
        let cmds = toolchain::setup_plan(&targets, &chains);
        if !cmds.is_empty() {
            writeln!(
                err,
                "provisioning missing toolchains (--no-provision to skip):"
            )?;
            if let Err(e) = toolchain::setup(&cmds, err) {
                writeln!(err, "provisioning failed: {e:#}")?;
            }
            chains = Toolchains::probe();
        }
    }

    // Shards: the cells this run leaves to others are `skipped`.
    let mut skipped: BTreeSet<&str> = BTreeSet::new();
    if let Some((k, n)) = opts.shard {
        let ids: Vec<&str> = cells.iter().map(|c| c.id.as_str()).collect();
        let durations: BTreeMap<&str, u64> = ids
            .iter()
            .filter_map(|id| {
                let ms = if let Some(t) = &opts.timings {
                    t.get(*id).copied()?
                } else {
                    let e: CacheEntry = cache::read_entry(&work.cache_entry(id))?;
                    e.outcome.duration_ms
                };
                (ms > 0).then_some((*id, ms))
            })
            .collect();
        for (id, s) in ids.iter().zip(assign_shards(&ids, &durations, n)) {
            if s != k - 1 {
                skipped.insert(id);
            }
        }
    }
    let cells: Vec<&Cell> = cells
        .into_iter()
        .filter(|c| !skipped.contains(c.id.as_str()))
        .collect();
    // Latent references: each optimized cell's debug twin runs beside it.
    let twins: Vec<Cell> = if opts.latent {
        cells
            .iter()
            .filter(|c| !matches!(c.profile.as_str(), "dev" | "debug"))
            .map(|c| Cell {
                id: format!("{}{TWIN}", c.id),
                profile: "dev".to_owned(),
                ..(*c).clone()
            })
            .collect()
    } else {
        Vec::new()
    };
    let cells: Vec<&Cell> = cells.into_iter().chain(twins.iter()).collect();

    // Cache keys need only file contents and toolchain identities.
    let keys = cache::cell_keys(m, &cells, &facts.inputs, &|t| chains.identity(t));
    let cached: BTreeMap<&str, CellOutcome> = if opts.no_cache {
        BTreeMap::new()
    } else {
        cells
            .iter()
            .filter_map(|c| {
                let e: CacheEntry = cache::read_entry(&work.cache_entry(&c.id))?;
                (e.holds(&keys[c.id.as_str()]) && e.outcome.id == c.id).then(|| {
                    let mut o = e.outcome;
                    o.cached = true;
                    o.duration_ms = 0;
                    o.reproduce = reproduce(opts, &c.id);
                    (c.id.as_str(), o)
                })
            })
            .collect()
    };

    // The reporter owns the terminal from here on. Each target that has
    // work is prepared once (its sysroot built, shared), then workers run
    // the cells.
    let need: BTreeSet<&str> = cells
        .iter()
        .filter(|c| m.build.is_none() && !cached.contains_key(c.id.as_str()))
        .map(|c| c.arch.as_str())
        .collect();
    let (tx, rx) = mpsc::channel::<Event>();
    let total = cells.len();
    let reporter = {
        let opts = opts.clone();
        std::thread::spawn(move || report_events(&rx, total, &opts))
    };
    let prepared: BTreeMap<String, Result<Prepared, String>> = std::thread::scope(|s| {
        let handles: Vec<_> = need
            .iter()
            .filter_map(|a| m.targets.get(*a))
            .map(|t: &Target| {
                let (chains, tx) = (&chains, tx.clone());
                s.spawn(move || (t.name.clone(), prepare(t, chains, opts, &tx)))
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    // Cells sharing a build directory take turns in it; the order takes
    // one cell of each directory in turn, so the workers build in
    // different directories at once and the cores stay busy. A crate with
    // build scripts or proc macros builds them once for every triple.
    let dirs: Vec<std::path::PathBuf> = cells
        .iter()
        .map(|c| work.build_dir(c, facts.host_units))
        .collect();
    let locks: BTreeMap<&std::path::PathBuf, Mutex<()>> =
        dirs.iter().map(|d| (d, Mutex::new(()))).collect();
    let order = interleave(&dirs);
    let next = AtomicUsize::new(0);
    let results: Mutex<BTreeMap<String, CellOutcome>> = Mutex::new(BTreeMap::new());
    std::thread::scope(|s| {
        for _ in 0..opts.jobs.max(1).min(total.max(1)) {
            let tx = tx.clone();
            s.spawn(|| {
                let tx = tx;
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(&j) = order.get(i) else { break };
                    let (cell, dir) = (cells[j], &dirs[j]);
                    let _ = tx.send(Event::Start(cell.id.clone()));
                    let outcome = if let Some(o) = cached.get(cell.id.as_str()) {
                        o.clone()
                    } else {
                        let build = SharedBuild {
                            dir,
                            lock: &locks[dir],
                        };
                        let o = match &m.build {
                            Some(b) => {
                                let log = |c: &crate::process::Cmd| {
                                    if opts.verbose {
                                        let _ = tx.send(Event::Log(format!("[{}] {c}", cell.id)));
                                    }
                                };
                                command::run_cell(m, b, cell, &work, opts, &log)
                            }
                            None => run_cell(
                                m,
                                cell,
                                prepared.get(&cell.arch),
                                &work,
                                opts,
                                &tx,
                                &build,
                            ),
                        };
                        if matches!(o.status, Status::Pass | Status::Fail) {
                            cache::write_entry(
                                &work.cache_entry(&cell.id),
                                &CacheEntry {
                                    key: keys[cell.id.as_str()].clone(),
                                    outcome: o.clone(),
                                    env: cache::declared_env(dir),
                                },
                            );
                        }
                        o
                    };
                    if let Ok(mut r) = results.lock() {
                        r.insert(cell.id.clone(), outcome.clone());
                    }
                    let _ = tx.send(Event::Done(Box::new(outcome)));
                }
            });
        }
    });
    drop(tx);
    let _ = reporter.join();
    let mut results = results.into_inner().unwrap_or_default();
    for twin in &twins {
        let Some(t) = results.remove(&twin.id) else {
            continue;
        };
        let id = twin.id.trim_end_matches(TWIN);
        if let Some(o) = results.get_mut(id) {
            add_latent(o, &t, opts.deny_latent);
        }
    }
    let outcomes: Vec<CellOutcome> = all
        .iter()
        .map(|c| {
            if skipped.contains(c.id.as_str()) {
                return outcome(c, opts, Status::Skipped, Vec::new(), None, Duration::ZERO);
            }
            results.remove(&c.id).unwrap_or_else(|| {
                outcome(
                    c,
                    opts,
                    Status::Error,
                    Vec::new(),
                    Some("interrupted before it started".to_owned()),
                    Duration::ZERO,
                )
            })
        })
        .collect();
    let mut report = Report::new(opts.config_arg.clone(), outcomes);
    report.root = Some(m.root.display().to_string());
    Ok(report)
}

/// Suffix of a cell's debug twin (internal; never in a report).
pub(crate) const TWIN: &str = "~dev";

/// Indices of the cells, whose groups are `group`, taking one of each
/// group in turn (groups in order of first appearance, cells in plan order
/// within a group).
fn interleave<K: PartialEq>(group: &[K]) -> Vec<usize> {
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

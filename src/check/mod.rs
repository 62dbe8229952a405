//! `check`, the main job: for every cell, build, link, inspect, turn what
//! was found into findings, and keep the outcome. [`run`] goes in phases:
//! select the cells (filter, shard, debug twins), provision toolchains,
//! look up the cache, schedule the rest (`schedule`: workers send events to
//! one reporter thread, which alone owns the terminal), merge the twins'
//! latent references, and make the report (with each cell's reproduce
//! command). Every cell ends with an outcome; a failing or panicking cell
//! never stops the others.
//!
//! One cell: `context` (its [`context::CellCtx`] and the boundary that
//! makes its outcome), a runner per mode (`image` for image and module,
//! `bin`, `command`), `findings` (the one place findings are decided),
//! `error` (why a cell could not finish).
mod bin;
mod command;
mod context;
mod error;
mod findings;
mod image;
mod places;
mod prepare;
mod progress;
mod schedule;
mod shard;

pub(crate) use context::footprint_time;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::time::Duration;

use anyhow::Result;

use crate::cache::{self, CacheEntry};
use crate::model::{Cell, CellOutcome, Matrix, Plan, Report, Status, Target};
use crate::toolchain::{self, Toolchains};
use crate::workdir::WorkDir;
use context::blank;
use error::{CellError, panic_message};
use findings::add_latent;
pub(crate) use shard::{durations as shard_durations, plan_shards, report_timings};

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
    /// Cell durations (ms) to balance shards by, from an earlier report
    /// (its path, and the durations); `None`: from this work directory's
    /// cache.
    pub(crate) timings: Option<(String, BTreeMap<String, u64>)>,
    /// The cells of this shard as the plan assigned them (`--shard-cells`).
    pub(crate) shard_cells: Option<Vec<String>>,
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
    let work = WorkDir::of(m);
    // One run per work directory at a time; a second one says it waits.
    let _lock = cache::lock(&work.lock_file(), || {
        let _ = writeln!(
            err,
            "waiting for lock {} (another linkmatrix is running this matrix)",
            work.lock_file().display()
        );
    })?;
    let all = select(plan, opts)?;
    let (chains, facts) = provision(m, &all, opts, err)?;
    let (skipped, this_shard) = shard::select(&all, opts, &work, err)?;
    let kept: Vec<&Cell> = all
        .iter()
        .copied()
        .filter(|c| !skipped.contains(c.id.as_str()))
        .collect();
    let twins = if opts.latent {
        debug_twins(&kept)
    } else {
        Vec::new()
    };
    let cells: Vec<&Cell> = kept.into_iter().chain(twins.iter()).collect();
    // Cache keys need only file contents and toolchain identities.
    let build = build_tools(m);
    let keys = cache::cell_keys(m, &cells, &facts.facts.inputs, &build, &|t| {
        chains.identity(t)
    });
    let cached = if opts.no_cache || facts.unknown {
        BTreeMap::new()
    } else {
        look_up_cache(&work, &cells, &keys)
    };
    let schedule = schedule::Schedule {
        m,
        work: &work,
        opts,
        chains: &chains,
        keys: &keys,
        cached: &cached,
        host_units: facts.facts.host_units,
    };
    let mut results = schedule::run_cells(&schedule, &cells);
    merge_twins(&mut results, &twins, opts.deny_latent);
    let mut report = report(m, opts, &all, &skipped, results);
    shard::record(&mut report, this_shard);
    Ok(report)
}

/// The cells `--cell` selects, in plan order.
///
/// # Errors
/// A `--cell` id or pattern that selects no cell of the plan, naming it
/// and the closest id: a mistyped id must never make a run of zero cells
/// that passes (a CI gate would go green on it).
fn select<'p>(plan: &'p Plan, opts: &CheckOptions) -> Result<Vec<&'p Cell>> {
    if let Some(p) = opts
        .cells
        .iter()
        .find(|p| !plan.cells.iter().any(|c| p.matches(&c.id)))
    {
        let ids: Vec<&str> = plan.cells.iter().map(|c| c.id.as_str()).collect();
        let hint = crate::model::closest(p.as_str(), &ids)
            .map(|c| format!("; did you mean `{c}`?"))
            .unwrap_or_default();
        anyhow::bail!(
            "--cell `{}` selects no cell of {} ({} cells; `linkmatrix plan` lists them){hint}",
            p.as_str(),
            plan.matrix.path.display(),
            ids.len()
        );
    }
    Ok(plan
        .cells
        .iter()
        .filter(|c| opts.cells.is_empty() || opts.cells.iter().any(|p| p.matches(&c.id)))
        .collect())
}

/// Each optimized cell's debug twin, run beside it for latent references.
fn debug_twins(cells: &[&Cell]) -> Vec<Cell> {
    cells
        .iter()
        .filter(|c| !matches!(c.profile.as_str(), "dev" | "debug"))
        .map(|c| Cell {
            id: format!("{}{TWIN}", c.id),
            profile: "dev".to_owned(),
            ..(*c).clone()
        })
        .collect()
}

/// What cargo metadata says of the crate, and whether it could be asked.
struct Facts {
    facts: cache::CrateFacts,
    /// Asking panicked: the cache inputs are unknown, so the cache is not
    /// read (a stale pass must not be served).
    unknown: bool,
}

/// The toolchains, probed once and provisioned where missing (unless
/// `--no-provision`); meanwhile what cargo metadata says of the crate.
fn provision(
    m: &Matrix,
    cells: &[&Cell],
    opts: &CheckOptions,
    err: &mut dyn Write,
) -> Result<(Toolchains, Facts)> {
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
        (probed, facts.join())
    });
    let facts = match facts {
        Ok(facts) => Facts {
            facts,
            unknown: false,
        },
        Err(p) => {
            writeln!(
                err,
                "reading the crate's metadata panicked ({}): the cache is not used this run",
                panic_message(p.as_ref())
            )?;
            Facts {
                facts: cache::CrateFacts::default(),
                unknown: true,
            }
        }
    };
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
    Ok((chains, facts))
}

/// What runs `m`'s builds besides the toolchains, for the cache keys: the
/// user's rustc wrapper (cargo builds), or a command build's patches and
/// programs.
fn build_tools(m: &Matrix) -> cache::BuildTools {
    let dir = m.manifest.parent().unwrap_or(std::path::Path::new("."));
    cache::BuildTools {
        rustc_wrapper: m
            .build
            .is_none()
            .then(|| crate::wrapper::chain_identity(dir)),
        unpack: m
            .build
            .as_ref()
            .and_then(|b| b.unpack.as_ref())
            .map(crate::source::stamp),
        command_tools: m.build.as_ref().map(crate::source::tools_identity),
    }
}

/// The cells the cache serves: an entry whose key holds, marked cached.
fn look_up_cache<'c>(
    work: &WorkDir,
    cells: &[&'c Cell],
    keys: &BTreeMap<String, String>,
) -> BTreeMap<&'c str, CellOutcome> {
    cells
        .iter()
        .filter_map(|c| {
            let e: CacheEntry = cache::read_entry(&work.cache_entry(&c.id))?;
            (e.holds(&keys[c.id.as_str()]) && e.outcome.id == c.id).then(|| {
                let mut o = e.outcome;
                o.cached = true;
                o.cached_duration_ms = Some(o.duration_ms);
                o.duration_ms = 0;
                (c.id.as_str(), o)
            })
        })
        .collect()
}

/// Each twin's undefined symbols the cell lacks become its latent
/// findings; the twins leave `results`.
fn merge_twins(results: &mut BTreeMap<String, CellOutcome>, twins: &[Cell], deny: bool) {
    for twin in twins {
        let Some(t) = results.remove(&twin.id) else {
            continue;
        };
        let id = twin.id.trim_end_matches(TWIN);
        if let Some(o) = results.get_mut(id) {
            add_latent(o, &t, deny);
        }
    }
}

/// The report: every selected cell in plan order (skipped ones, and ones
/// an interrupt kept from starting, too), each with its reproduce command.
fn report(
    m: &Matrix,
    opts: &CheckOptions,
    all: &[&Cell],
    skipped: &BTreeSet<&str>,
    mut results: BTreeMap<String, CellOutcome>,
) -> Report {
    let outcomes: Vec<CellOutcome> = all
        .iter()
        .map(|c| {
            let mut o = if skipped.contains(c.id.as_str()) {
                blank(c, Status::Skipped)
            } else {
                results.remove(&c.id).unwrap_or_else(|| {
                    context::errored(
                        c,
                        &CellError::Interrupted("interrupted before it started".to_owned()),
                    )
                })
            };
            o.reproduce = reproduce(opts, &c.id);
            o
        })
        .collect();
    let mut report = Report::new(opts.config_arg.clone(), outcomes);
    report.root = Some(m.root.display().to_string());
    report
}

/// The command that runs cell `id` alone, as the user would type it.
pub(crate) fn reproduce(opts: &CheckOptions, id: &str) -> String {
    let mut cmd = String::from("linkmatrix check");
    // `./linkmatrix.yaml` needs no --config.
    if !opts.default_config {
        cmd.push_str(" --config ");
        cmd.push_str(&crate::process::quote_word(&opts.config_arg));
    }
    if let Some(m) = &opts.manifest_arg {
        cmd.push_str(" --manifest-path ");
        cmd.push_str(&crate::process::quote_word(m));
    }
    cmd.push_str(" --cell ");
    cmd.push_str(&crate::process::quote_word(id));
    cmd
}

/// Suffix of a cell's debug twin (internal; never in a report).
pub(crate) const TWIN: &str = "~dev";

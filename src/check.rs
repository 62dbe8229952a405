//! `check`, the main job: for every cell, build, link, inspect, turn what
//! was found into findings, and keep the outcome. Cells run in parallel on
//! worker threads that send events to one reporter thread, which alone
//! owns the terminal. A cell whose inputs did not change is served from the
//! cache without running anything. Every cell ends with an outcome; a
//! failing cell never stops the others.
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::build::{self, BuildFailure, RustSetup};
use crate::cache::{self, Key};
use crate::inspect::{self, Unit};
use crate::link::{LinkInputs, LinkResult};
use crate::model::{
    Cell, CellOutcome, Exports, Finding, FindingKind, Matrix, Mode, Reference, Report, Status,
    Target,
};
use crate::process::Cmd;
use crate::toolchain::{self, StdProvider, Tool, Toolchains};

/// What `check` was asked to do.
#[derive(Clone, Debug)]
pub struct CheckOptions {
    /// Parallel cells.
    pub jobs: usize,
    /// Cell id globs; empty means all.
    pub cells: Vec<glob::Pattern>,
    /// Ignore the cache.
    pub no_cache: bool,
    /// Do not install missing toolchains.
    pub no_provision: bool,
    /// Per-cell time limit.
    pub timeout: Duration,
    /// The matrix file as the user wrote it (for reproduce commands).
    pub config_arg: String,
    /// No matrix was named and none is here: the bundled default is used.
    pub bundled_config: bool,
    /// Print commands.
    pub verbose: bool,
    /// Print only the summary.
    pub quiet: bool,
    /// Run only shard K of N (1-based).
    pub shard: Option<(usize, usize)>,
    /// Cell durations (ms) to balance shards by, from an earlier report;
    /// `None`: from this work directory's cache.
    pub timings: Option<BTreeMap<String, u64>>,
    /// Also build each optimized cell's debug twin and report symbols
    /// undefined only there (`latent-undefined`).
    pub latent: bool,
    /// Latent references fail the cell instead of warning.
    pub deny_latent: bool,
}

/// Parse `K/N` (1 <= K <= N).
pub fn parse_shard(s: &str) -> Result<(usize, usize)> {
    let (k, n) = s
        .split_once('/')
        .with_context(|| format!("--shard {s}: expected K/N, e.g. 1/4"))?;
    let (k, n): (usize, usize) = (
        k.trim()
            .parse()
            .with_context(|| format!("--shard {s}: K is not a number"))?,
        n.trim()
            .parse()
            .with_context(|| format!("--shard {s}: N is not a number"))?,
    );
    if n == 0 || k == 0 || k > n {
        anyhow::bail!("--shard {s}: need 1 <= K <= N");
    }
    Ok((k, n))
}

/// Which shard (0-based) runs each cell: longest first onto the least
/// loaded shard when earlier durations are known, else round robin.
/// Deterministic for the same cells and durations.
pub fn assign_shards(ids: &[&str], durations: &BTreeMap<&str, u64>, n: usize) -> Vec<usize> {
    if durations.is_empty() {
        return (0..ids.len()).map(|i| i % n).collect();
    }
    let avg = durations.values().sum::<u64>() / durations.len() as u64;
    let mut order: Vec<usize> = (0..ids.len()).collect();
    order.sort_by_key(|&i| {
        (
            std::cmp::Reverse(durations.get(ids[i]).copied().unwrap_or(avg)),
            i,
        )
    });
    let mut load = vec![0u64; n];
    let mut out = vec![0; ids.len()];
    for i in order {
        let s = (0..n).min_by_key(|&s| (load[s], s)).unwrap_or(0);
        load[s] += durations.get(ids[i]).copied().unwrap_or(avg).max(1);
        out[i] = s;
    }
    out
}

/// A target ready to build: toolchain, sysroot, C compiler, linker.
#[derive(Clone, Debug)]
struct Prepared {
    setup: RustSetup,
    cc: Tool,
    linker: Tool,
}

enum Event {
    Start(String),
    Log(String),
    Done(Box<CellOutcome>),
}

#[derive(Serialize, Deserialize)]
struct CacheEntry {
    key: String,
    outcome: CellOutcome,
}

/// Run the matrix. The report lists every selected cell.
pub fn run(m: &Matrix, opts: &CheckOptions, err: &mut dyn Write) -> Result<Report> {
    let all: Vec<&Cell> = m
        .cells
        .iter()
        .filter(|c| opts.cells.is_empty() || opts.cells.iter().any(|p| p.matches(&c.id)))
        .collect();
    let cells = all.clone();
    let work = work_dir(m);

    // One run per work directory at a time; a second one says it waits.
    let _lock = cache::lock(&work.join(".lock"), || {
        let _ = writeln!(
            err,
            "waiting for lock {} (another linkmatrix is running this matrix)",
            work.join(".lock").display()
        );
    })?;

    // Toolchains: probe once; provision what is missing unless told not to.
    let mut chains = Toolchains::probe();
    let used: BTreeSet<&str> = cells.iter().map(|c| c.arch.as_str()).collect();
    let targets: Vec<&Target> = used.iter().filter_map(|a| m.targets.get(*a)).collect();
    if !opts.no_provision && targets.iter().any(|t| !chains.for_target(t).ready()) {
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
                    let e: CacheEntry =
                        cache::read_entry(&work.join("cache").join(format!("{id}.json")))?;
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
    let shared = shared_key(m, &crate_inputs(&m.manifest));
    let arches: BTreeSet<&str> = cells.iter().map(|c| c.arch.as_str()).collect();
    let target_keys: BTreeMap<&str, String> = arches
        .into_iter()
        .filter_map(|a| m.targets.get(a).map(|t| (a, target_key(t, &chains))))
        .collect();
    let keys: BTreeMap<&str, String> = cells
        .iter()
        .map(|c| {
            let key = Key::new()
                .str("shared", &shared)
                .str(
                    "target",
                    target_keys.get(c.arch.as_str()).map_or("", String::as_str),
                )
                .str("cell", &serde_json::to_string(c).unwrap_or_default())
                .finish();
            (c.id.as_str(), key)
        })
        .collect();
    let cached: BTreeMap<&str, CellOutcome> = if opts.no_cache {
        BTreeMap::new()
    } else {
        cells
            .iter()
            .filter_map(|c| {
                let e: CacheEntry =
                    cache::read_entry(&work.join("cache").join(format!("{}.json", c.id)))?;
                (e.key == keys[c.id.as_str()] && e.outcome.id == c.id).then(|| {
                    let mut o = e.outcome;
                    o.cached = true;
                    o.duration_ms = 0;
                    o.reproduce = reproduce(opts, &c.id);
                    (c.id.as_str(), o)
                })
            })
            .collect()
    };

    // Prepare each target that has work: build its sysroot once, shared.
    let need: BTreeSet<&str> = cells
        .iter()
        .filter(|c| !cached.contains_key(c.id.as_str()))
        .map(|c| c.arch.as_str())
        .collect();
    let prepared: BTreeMap<String, Result<Prepared, String>> = std::thread::scope(|s| {
        let handles: Vec<_> = need
            .iter()
            .filter_map(|a| m.targets.get(*a))
            .map(|t| {
                let chains = &chains;
                s.spawn(move || (t.name.clone(), prepare(t, chains, opts)))
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });

    // Workers and the reporter.
    let (tx, rx) = mpsc::channel::<Event>();
    let next = AtomicUsize::new(0);
    let results: Mutex<BTreeMap<String, CellOutcome>> = Mutex::new(BTreeMap::new());
    let total = cells.len();
    std::thread::scope(|s| {
        let reporter = s.spawn(move || report_events(&rx, total, opts));
        for _ in 0..opts.jobs.max(1).min(total.max(1)) {
            let tx = tx.clone();
            s.spawn(|| {
                let tx = tx;
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(cell) = cells.get(i) else { break };
                    let _ = tx.send(Event::Start(cell.id.clone()));
                    let outcome = if let Some(o) = cached.get(cell.id.as_str()) {
                        o.clone()
                    } else {
                        let o = run_cell(m, cell, prepared.get(&cell.arch), &work, opts, &tx);
                        if matches!(o.status, Status::Pass | Status::Fail) {
                            cache::write_entry(
                                &work.join("cache").join(format!("{}.json", cell.id)),
                                &CacheEntry {
                                    key: keys[cell.id.as_str()].clone(),
                                    outcome: o.clone(),
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
        drop(tx);
        let _ = reporter.join();
    });
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
    Ok(Report::new(opts.config_arg.clone(), outcomes))
}

/// Suffix of a cell's debug twin (internal; never in a report).
const TWIN: &str = "~dev";

/// Symbols undefined in the debug twin but not in the cell: latent.
fn add_latent(o: &mut CellOutcome, twin: &CellOutcome, deny: bool) {
    if !matches!(o.status, Status::Pass | Status::Fail) {
        return;
    }
    let have: BTreeSet<&str> = o
        .findings
        .iter()
        .filter_map(|f| f.symbol.as_deref())
        .collect();
    let latent: Vec<Finding> = twin
        .findings
        .iter()
        .filter(|f| matches!(f.kind, FindingKind::UndefinedSymbol | FindingKind::UnexportedSymbol))
        .filter(|f| f.symbol.as_deref().is_some_and(|s| !have.contains(s)))
        .map(|f| {
            let mut l = f.clone();
            l.kind = FindingKind::LatentUndefined;
            l.message = Some(
                "undefined in this cell's debug (dev profile) build but not in this one: the optimizer removed the reference, and a change that keeps the code path will bring it back"
                    .to_owned(),
            );
            l
        })
        .collect();
    if deny && !latent.is_empty() {
        o.status = Status::Fail;
    }
    o.findings.extend(latent);
}

fn reproduce(opts: &CheckOptions, id: &str) -> String {
    // The bundled default needs no --config (and its path is not the user's).
    if opts.bundled_config {
        format!("linkmatrix check --cell {id}")
    } else {
        format!("linkmatrix check --config {} --cell {id}", opts.config_arg)
    }
}

fn outcome(
    cell: &Cell,
    opts: &CheckOptions,
    status: Status,
    findings: Vec<Finding>,
    error: Option<String>,
    took: Duration,
) -> CellOutcome {
    CellOutcome {
        id: cell.id.clone(),
        target: cell.target.clone(),
        options: cell.options.clone(),
        features: cell.features.clone(),
        profile: cell.profile.clone(),
        status,
        duration_ms: u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
        reproduce: reproduce(opts, &cell.id),
        findings,
        error,
        cached: false,
    }
}

fn prepare(t: &Target, chains: &Toolchains, opts: &CheckOptions) -> Result<Prepared, String> {
    let tools = chains.for_target(t);
    let fixes = tools.fixes();
    if !fixes.is_empty() {
        return Err(format!(
            "missing toolchain for {} ({}); fix: {}",
            t.name,
            t.triple,
            fixes.join("; ")
        ));
    }
    let (Ok(cc), Ok(linker)) = (tools.cc, tools.linker) else {
        return Err(format!("missing C compiler or linker for {}", t.name));
    };
    let setup = match tools.std {
        StdProvider::Prebuilt(rust) => RustSetup {
            rust,
            sysroot: None,
        },
        StdProvider::BuildStd { rust, src } => {
            let sysroot =
                toolchain::ensure_sysroot(&rust, &src, &t.triple, Some(opts.timeout), &|lock| {
                    eprintln!(
                        "waiting for lock {} (another linkmatrix is building core for {})",
                        lock.display(),
                        t.triple
                    );
                })
                .map_err(|e| format!("{e:#}"))?;
            RustSetup {
                rust,
                sysroot: Some(sysroot),
            }
        }
        StdProvider::Missing { fix } => {
            return Err(format!("no Rust std for {}; fix: {fix}", t.triple));
        }
    };
    Ok(Prepared { setup, cc, linker })
}

/// Local packages the crate depends on (path dependencies and itself), by
/// directory, plus the lock file: what the cache key hashes. One `cargo
/// metadata` per run; if it fails, the crate's own directory.
fn crate_inputs(manifest: &Path) -> Vec<PathBuf> {
    let dir = manifest.parent().unwrap_or(Path::new(".")).to_path_buf();
    let Ok(meta) = cargo_metadata::MetadataCommand::new()
        .manifest_path(manifest)
        .other_options(vec!["--offline".to_owned()])
        .exec()
    else {
        return vec![dir];
    };
    let mut out = vec![meta.workspace_root.join("Cargo.lock").into_std_path_buf()];
    let Some(resolve) = &meta.resolve else {
        out.push(dir);
        return out;
    };
    let root = meta
        .packages
        .iter()
        .find(|p| p.manifest_path.as_std_path() == manifest)
        .map(|p| p.id.clone());
    let mut stack: Vec<cargo_metadata::PackageId> = root.into_iter().collect();
    let mut seen = BTreeSet::new();
    while let Some(id) = stack.pop() {
        if !seen.insert(id.clone()) {
            continue;
        }
        if let Some(p) = meta.packages.iter().find(|p| p.id == id)
            && p.source.is_none()
            && let Some(d) = p.manifest_path.parent()
        {
            out.push(d.as_std_path().to_path_buf());
        }
        if let Some(node) = resolve.nodes.iter().find(|n| n.id == id) {
            stack.extend(node.dependencies.iter().cloned());
        }
    }
    out
}

fn tool_identity(path: &Path) -> String {
    let meta = std::fs::metadata(path);
    let (len, mtime) = meta.map_or((0, 0), |m| {
        let t = m
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs());
        (m.len(), t)
    });
    format!("{}:{len}:{mtime}", path.display())
}

/// What every cell's key shares: linkmatrix itself, the matrix settings
/// and the crate's inputs (digested once per run, not once per cell).
fn shared_key(m: &Matrix, inputs: &[PathBuf]) -> String {
    let mut k = Key::new();
    let exe = std::env::current_exe()
        .map(|p| tool_identity(&p))
        .unwrap_or_default();
    k.str("tool", env!("CARGO_PKG_VERSION"))
        .str("exe", &exe)
        .str("mode", &format!("{:?}", m.mode))
        .str("roots", &m.roots.join(","))
        .str(
            "policy",
            &format!(
                "{:?}|{:?}",
                m.policy
                    .forbidden
                    .iter()
                    .map(glob::Pattern::as_str)
                    .collect::<Vec<_>>(),
                m.policy
                    .allow_undefined
                    .iter()
                    .map(glob::Pattern::as_str)
                    .collect::<Vec<_>>()
            ),
        );
    for p in inputs {
        if p.is_dir() {
            k.tree(p);
        } else {
            k.file(p);
        }
    }
    k.finish()
}

/// A target's part of the key: its file, platform sources, include files,
/// linker script and toolchain identities (digested once per target).
fn target_key(t: &Target, chains: &Toolchains) -> String {
    let mut k = Key::new();
    k.str("target", &t.digest_input);
    for s in &t.sources {
        k.file(s);
    }
    for i in &t.include {
        k.tree(i);
    }
    if let Some(s) = &t.script {
        k.file(s);
    }
    let tools = chains.for_target(t);
    match &tools.std {
        StdProvider::Prebuilt(r) => k.str("std", &format!("prebuilt {}", r.version)),
        StdProvider::BuildStd { rust, src } => k.str(
            "std",
            &format!("build-std {} {}", rust.version, src.display()),
        ),
        StdProvider::Missing { .. } => k.str("std", "missing"),
    };
    if let Ok(cc) = &tools.cc {
        k.str("cc", &tool_identity(&cc.path));
    }
    if let Ok(l) = &tools.linker {
        k.str("linker", &tool_identity(&l.path));
    }
    k.finish()
}

fn run_cell(
    m: &Matrix,
    cell: &Cell,
    prepared: Option<&Result<Prepared, String>>,
    work: &Path,
    opts: &CheckOptions,
    tx: &mpsc::Sender<Event>,
) -> CellOutcome {
    let start = Instant::now();
    let fail = |status, findings, error: Option<String>| {
        outcome(cell, opts, status, findings, error, start.elapsed())
    };
    let p = match prepared {
        Some(Ok(p)) => p,
        Some(Err(e)) => return fail(Status::Error, Vec::new(), Some(e.clone())),
        None => {
            return fail(
                Status::Error,
                Vec::new(),
                Some(format!("no target file for arch `{}`", cell.arch)),
            );
        }
    };
    let Some(target) = m.targets.get(&cell.arch) else {
        return fail(
            Status::Error,
            Vec::new(),
            Some(format!("no target `{}`", cell.arch)),
        );
    };
    let remaining = || {
        Some(
            opts.timeout
                .saturating_sub(start.elapsed())
                .max(Duration::from_millis(1)),
        )
    };
    let log = |c: &Cmd| {
        if opts.verbose {
            let _ = tx.send(Event::Log(format!("[{}] {c}", cell.id)));
        }
    };
    let dir = work.join("cells").join(&cell.id);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        return fail(
            Status::Error,
            Vec::new(),
            Some(format!("creating {}: {e}", dir.display())),
        );
    }
    let from_build = |f: BuildFailure| {
        if f.is_code {
            fail(
                Status::Fail,
                vec![Finding::message(FindingKind::BuildError, f.message)],
                None,
            )
        } else {
            fail(Status::Error, Vec::new(), Some(f.message))
        }
    };

    let built = match build::build_crate(
        &p.setup,
        &m.manifest,
        &m.package,
        cell,
        &dir.join("target"),
        remaining(),
        &log,
    ) {
        Ok(a) => a,
        Err(f) => return from_build(f),
    };
    let objs = match build::build_platform(
        target,
        &p.cc,
        cell,
        &dir.join("platform"),
        remaining(),
        &log,
    ) {
        Ok(o) => o,
        Err(f) => return from_build(f),
    };
    let staticlib = built.staticlib;
    let (mut roots, origins) = match input_symbols(&objs, &staticlib, &built.crate_name) {
        Ok(r) => r,
        Err(e) => return fail(Status::Error, Vec::new(), Some(format!("{e:#}"))),
    };
    roots.extend(m.roots.iter().cloned());
    if roots.is_empty() {
        // Without a root nothing of the crate is linked: a pass would lie.
        return fail(
            Status::Error,
            Vec::new(),
            Some(format!(
                "`{}` exports no #[no_mangle] function and policy.roots is empty: there is nothing to follow references from",
                m.package
            )),
        );
    }
    let inputs = LinkInputs {
        linker: &p.linker,
        target,
        platform: &objs,
        staticlib: &staticlib,
        roots: &roots,
        dir: &dir,
        timeout: remaining(),
    };
    let findings = match m.mode {
        Mode::Image => image_findings(m, &inputs, &roots, &origins, &log),
        Mode::Module => module_findings(m, target, &inputs, &roots, &origins, &log),
    };
    match findings {
        Ok((f, image)) => {
            // What `why` and `diff` need later, without rebuilding.
            let roots = match m.mode {
                Mode::Image => [vec![target.entry.clone()], roots].concat(),
                Mode::Module => roots,
            };
            cache::write_entry(&dir.join(INSPECT_FILE), &Inspected { image, roots });
            let status = if f.iter().any(|x| !x.is_warning()) {
                Status::Fail
            } else {
                Status::Pass
            };
            fail(status, f, None)
        }
        Err(e) => fail(Status::Error, Vec::new(), Some(e)),
    }
}

/// Per cell: the image that was inspected and the roots followed.
pub const INSPECT_FILE: &str = "inspect.json";

/// What a cell's inspection used, for the triage verbs.
#[derive(Debug, Serialize, Deserialize)]
pub struct Inspected {
    /// The linked (or permissively linked) image.
    pub image: Option<PathBuf>,
    /// The roots.
    pub roots: Vec<String>,
}

/// The work directory of a matrix.
pub fn work_dir(m: &Matrix) -> PathBuf {
    m.root.join("target").join("linkmatrix").join(
        m.path
            .file_stem()
            .map_or_else(|| "matrix".to_owned(), |s| s.to_string_lossy().into_owned()),
    )
}

/// Read the link inputs once: the crate's exported (`#[no_mangle]`)
/// functions, which are the roots, and for every function symbol the input
/// object (archive member, platform object) it comes from.
fn input_symbols(
    platform: &[PathBuf],
    staticlib: &Path,
    crate_name: &str,
) -> Result<(Vec<String>, HashMap<String, String>)> {
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    for p in platform.iter().map(PathBuf::as_path).chain([staticlib]) {
        let name = p
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        files.push((name, inspect::read_file(p)?));
    }
    let mut parts = Vec::new();
    for (name, data) in &files {
        parts.extend(inspect::units(name, data)?);
    }
    let units: Vec<Unit<'_>> = parts
        .iter()
        .map(|(n, d)| Unit { name: n, data: d })
        .collect();
    let origins = inspect::origins(&units);
    let lib = files.last().map_or("", |(n, _)| n.as_str());
    let prefix = format!("{lib}({crate_name}-");
    let mut roots = BTreeSet::new();
    for u in units.iter().filter(|u| u.name.starts_with(&prefix)) {
        let f =
            object::File::parse(u.data).with_context(|| format!("{}: not an object", u.name))?;
        use object::{Object, ObjectSymbol};
        for s in f.symbols() {
            if s.is_global()
                && !s.is_undefined()
                && s.kind() == object::SymbolKind::Text
                && let Ok(n) = s.name()
                && !n.starts_with("_ZN")
                && !n.starts_with("_R")
                && !n.is_empty()
            {
                roots.insert(n.to_owned());
            }
        }
    }
    Ok((roots.into_iter().collect(), origins))
}

/// Analyse a linked image, naming for each function where it came from.
fn analyze_file(
    path: &Path,
    roots: &[String],
    origins: &HashMap<String, String>,
) -> Result<inspect::Analysis, String> {
    let err = |e: anyhow::Error| format!("{e:#}");
    let data = inspect::read_file(path).map_err(err)?;
    let name = path.display().to_string();
    inspect::analyze_with_origins(
        &[Unit {
            name: &name,
            data: &data,
        }],
        roots,
        origins,
    )
    .map_err(err)
}

fn relativize(m: &Matrix, r: &Reference) -> Reference {
    let mut r = r.clone();
    if let Some(f) = &r.file
        && let Ok(rel) = Path::new(f).strip_prefix(&m.root)
    {
        r.file = Some(rel.display().to_string());
    }
    if let Some(o) = &r.object {
        // `…/libkalloc.a(kalloc-hash.kalloc.cgu.o)` → `libkalloc.a(…)`
        if let Some((path, member)) = o.split_once('(') {
            let file = Path::new(path)
                .file_name()
                .map_or_else(|| path.to_owned(), |f| f.to_string_lossy().into_owned());
            r.object = Some(format!("{file}({member}"));
        } else if let Some(file) = Path::new(o).file_name() {
            r.object = Some(file.to_string_lossy().into_owned());
        }
    }
    r
}

/// The block of the linker's output about `symbol`.
fn linker_block(diag: &str, symbol: &str) -> Option<String> {
    let lines: Vec<&str> = diag.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.contains("undefined") && l.contains(symbol))?;
    let end = lines[start + 1..]
        .iter()
        .position(|l| !l.starts_with(">>>") && !l.starts_with(' '))
        .map_or(lines.len(), |i| start + 1 + i);
    Some(lines[start..end.min(start + 12)].join("\n"))
}

fn symbol_finding(
    m: &Matrix,
    kind: FindingKind,
    u: &inspect::Undefined,
    diag: Option<&str>,
) -> Finding {
    let mut f = Finding::symbol(kind, u.symbol.clone());
    f.referenced_by = u.referenced_by.iter().map(|r| relativize(m, r)).collect();
    f.chain.clone_from(&u.chain);
    f.message = diag.and_then(|d| linker_block(d, &u.symbol));
    f
}

fn policy_findings(m: &Matrix, a: &inspect::Analysis, out: &mut Vec<Finding>) {
    for r in a.reached(&m.policy.forbidden) {
        let mut f = Finding::symbol(FindingKind::ForbiddenSymbol, r.symbol);
        f.chain = r.chain;
        out.push(f);
    }
    for u in &a.undefined {
        if m.policy.forbidden.iter().any(|p| p.matches(&u.symbol)) {
            out.push(symbol_finding(m, FindingKind::ForbiddenSymbol, u, None));
        }
    }
}

fn allowed(m: &Matrix, symbol: &str) -> bool {
    m.policy.allow_undefined.iter().any(|p| p.matches(symbol))
}

fn tool_error(e: crate::link::LinkToolError) -> String {
    e.message
}

fn image_findings(
    m: &Matrix,
    inputs: &LinkInputs<'_>,
    roots: &[String],
    origins: &HashMap<String, String>,
    log: &dyn Fn(&Cmd),
) -> Result<(Vec<Finding>, Option<PathBuf>), String> {
    let (real, image) = inputs.image(log).map_err(tool_error)?;
    let mut out = Vec::new();
    let mut all_roots = vec![inputs.target.entry.clone()];
    all_roots.extend(roots.iter().cloned());
    if let Some(img) = &image {
        let a = analyze_file(img, &all_roots, origins)?;
        for u in &a.undefined {
            if u.weak || allowed(m, &u.symbol) {
                continue;
            }
            out.push(symbol_finding(
                m,
                FindingKind::UndefinedSymbol,
                u,
                Some(&real.diagnostics),
            ));
        }
        policy_findings(m, &a, &mut out);
    }
    // A failed link is a link error unless undefined symbols explain it
    // (reported above, or allowed by the policy).
    let other_errors = real.diagnostics.lines().any(|l| {
        l.contains("error:")
            && !l.contains("undefined symbol")
            && !l.contains("undefined reference")
    });
    if !real.success && (image.is_none() || other_errors || !real.diagnostics.contains("undefined"))
    {
        out.push(link_error(&real));
    }
    Ok((out, image))
}

fn link_error(r: &LinkResult) -> Finding {
    Finding::message(
        FindingKind::LinkError,
        format!("{}\n{}", r.command, build::trim_diagnostics(&r.diagnostics)),
    )
}

fn module_findings(
    m: &Matrix,
    t: &Target,
    inputs: &LinkInputs<'_>,
    roots: &[String],
    origins: &HashMap<String, String>,
    log: &dyn Fn(&Cmd),
) -> Result<(Vec<Finding>, Option<PathBuf>), String> {
    let (platform, module, insp) = inputs.module(log).map_err(tool_error)?;
    let mut out = Vec::new();
    let Some(plat) = platform.output.as_ref().filter(|_| platform.success) else {
        out.push(link_error(&platform));
        return Ok((out, None));
    };
    if !module.success {
        out.push(link_error(&module));
        return Ok((out, None));
    }
    let pdata = inspect::read_file(plat).map_err(|e| format!("{e:#}"))?;
    let pname = plat.display().to_string();
    let section = match &t.exports {
        Exports::All => None,
        Exports::Section(s) => Some(s.as_str()),
    };
    let exported = inspect::exports(&pdata, &pname, section).map_err(|e| format!("{e:#}"))?;
    let defined = inspect::analyze(
        &[Unit {
            name: &pname,
            data: &pdata,
        }],
        &[],
    )
    .map_err(|e| format!("{e:#}"))?
    .defined;
    let Some(insp) = insp else {
        return Err("the module could not be linked for inspection".to_owned());
    };
    let a = analyze_file(&insp, roots, origins)?;
    for u in &a.undefined {
        if u.weak || allowed(m, &u.symbol) || exported.contains(&u.symbol) {
            continue;
        }
        let kind = if defined.contains(&u.symbol) {
            FindingKind::UnexportedSymbol
        } else {
            FindingKind::UndefinedSymbol
        };
        let mut f = symbol_finding(m, kind, u, None);
        f.message = Some(format!(
            "ERROR: modpost: \"{}\" [{}] {}",
            u.symbol,
            m.package,
            if kind == FindingKind::UnexportedSymbol {
                "undefined! (the platform defines it but does not export it)"
            } else {
                "undefined!"
            }
        ));
        out.push(f);
    }
    policy_findings(m, &a, &mut out);
    Ok((out, Some(insp)))
}

fn report_events(rx: &mpsc::Receiver<Event>, total: usize, opts: &CheckOptions) {
    let tty = std::io::stderr().is_terminal() && !opts.quiet;
    let multi = indicatif::MultiProgress::with_draw_target(if tty {
        indicatif::ProgressDrawTarget::stderr()
    } else {
        indicatif::ProgressDrawTarget::hidden()
    });
    let style = indicatif::ProgressStyle::with_template("{spinner} {msg} {elapsed}")
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner());
    let mut bars: BTreeMap<String, indicatif::ProgressBar> = BTreeMap::new();
    let mut done = 0;
    let mut err = anstream::stderr();
    for ev in rx {
        match ev {
            Event::Start(id) => {
                if tty {
                    let b = multi.add(indicatif::ProgressBar::new_spinner());
                    b.set_style(style.clone());
                    b.set_message(id.clone());
                    b.enable_steady_tick(Duration::from_millis(120));
                    bars.insert(id, b);
                }
            }
            Event::Log(line) => {
                let _ = multi.suspend(|| writeln!(err, "{line}"));
            }
            Event::Done(o) => {
                done += 1;
                if let Some(b) = bars.remove(&o.id) {
                    b.finish_and_clear();
                }
                if opts.quiet {
                    continue;
                }
                let status = crate::report::styled_status(o.status);
                let cached = if o.cached { " (cached)" } else { "" };
                let secs = o.duration_ms as f64 / 1000.0;
                let _ = multi.suspend(|| {
                    writeln!(
                        err,
                        "[{done}/{total}] {:<28} {status} {secs:.1}s{cached}",
                        o.id
                    )
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_balanced_by_duration_and_deterministic() {
        let ids = ["a", "b", "c", "d", "e"];
        let d: BTreeMap<&str, u64> = [("a", 100), ("b", 10), ("c", 60), ("d", 50), ("e", 5)].into();
        let s = assign_shards(&ids, &d, 2);
        assert_eq!(s, assign_shards(&ids, &d, 2));
        let load = |k| {
            ids.iter()
                .zip(&s)
                .filter(|(_, x)| **x == k)
                .map(|(i, _)| d[*i])
                .sum::<u64>()
        };
        assert!(load(0).abs_diff(load(1)) <= 15, "{s:?}");
        // No durations: round robin.
        assert_eq!(assign_shards(&ids, &BTreeMap::new(), 2), [0, 1, 0, 1, 0]);
    }

    #[test]
    fn shard_syntax() {
        assert_eq!(parse_shard("2/4").unwrap(), (2, 4));
        assert!(parse_shard("0/4").is_err());
        assert!(parse_shard("5/4").is_err());
        assert!(parse_shard("x").is_err());
    }
}

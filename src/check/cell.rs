//! One cell: build the crate and the platform, read the link inputs, link,
//! and hand the results to `findings`. Every failure is an outcome.
use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::CheckOptions;
use super::findings::{image_findings, module_findings};
use super::progress::Event;
use crate::build::{self, BuildFailure, RustSetup};
use crate::inspect::{self, Unit};
use crate::link::LinkInputs;
use crate::model::{
    Cell, CellOutcome, Finding, FindingKind, Inspected, Matrix, Mode, Reference, Status, Target,
};
use crate::process::Cmd;
use crate::toolchain::{self, StdProvider, Tool, Toolchains};
use crate::workdir::WorkDir;

/// How long the cc crate may take to tell how to compile C for a triple.
const CC_DETECTION_LIMIT: Duration = Duration::from_secs(30);

/// The cc crate's compile flags for a triple, asked once.
type CcArgs = std::sync::OnceLock<Result<Vec<String>, String>>;

/// A target ready to build: toolchain, sysroot, C compiler, linker.
#[derive(Clone, Debug)]
pub(super) struct Prepared {
    setup: RustSetup,
    /// The C compiler, and the `cc` crate's flags for the triple, asked
    /// by the first cell that compiles C (off the path to the first
    /// build) and shared.
    cc: Option<(Tool, CcArgs)>,
    linker: Tool,
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

pub(super) fn outcome(
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
        settings: cell.settings.clone(),
        profile: cell.profile.clone(),
        status,
        duration_ms: u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
        reproduce: reproduce(opts, &cell.id),
        findings,
        error,
        cached: false,
        size: None,
    }
}

pub(super) fn prepare(
    t: &Target,
    chains: &Toolchains,
    opts: &CheckOptions,
    tx: &mpsc::Sender<Event>,
) -> Result<Prepared, String> {
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
            linker: None,
        },
        StdProvider::BuildStd { rust, src } => {
            let sysroot = {
                // First use of a triple with a toolchain: say so, it takes
                // a while (once; every later run and cell shares it).
                let began = std::cell::Cell::new(None);
                let sysroot = toolchain::ensure_sysroot(
                    &rust,
                    &src,
                    &t.triple,
                    Some(opts.timeout),
                    &|lock| {
                        let _ = tx.send(Event::Log(format!(
                            "waiting for lock {} (another linkmatrix is building core for {})",
                            lock.display(),
                            t.triple
                        )));
                    },
                    &|| {
                        began.set(Some(Instant::now()));
                        if !opts.quiet {
                            let _ = tx.send(Event::Log(format!(
                                "building core+alloc for {} with {} (first use of this target with this toolchain; once)",
                                t.triple, rust.version.lines().next().unwrap_or_default()
                            )));
                        }
                    },
                )
                .map_err(|e| format!("{e:#}"))?;
                if let Some(b) = began.get()
                    && !opts.quiet
                {
                    let _ = tx.send(Event::Log(format!(
                        "built core+alloc for {} in {:.0} s",
                        t.triple,
                        b.elapsed().as_secs_f64()
                    )));
                }
                sysroot
            };
            RustSetup {
                rust,
                sysroot: Some(sysroot),
                // A built sysroot has no `rust-lld` beside it: bare-metal
                // targets, whose default linker that is, get the one
                // linkmatrix found (hosted targets keep their C driver).
                linker: t.triple.contains("-none").then(|| linker.path.clone()),
            }
        }
        StdProvider::Missing { fix } => {
            return Err(format!("no Rust std for {}; fix: {fix}", t.triple));
        }
    };
    let cc = cc
        .filter(|_| !t.sources.is_empty())
        .map(|cc| (cc, std::sync::OnceLock::new()));
    Ok(Prepared { setup, cc, linker })
}

/// The cargo target directory a cell builds in, shared with the cells of
/// its arch, profile and settings, and the lock they take turns with.
pub(super) struct SharedBuild<'a> {
    pub(super) dir: &'a std::path::Path,
    pub(super) lock: &'a std::sync::Mutex<()>,
}

pub(super) fn run_cell(
    m: &Matrix,
    cell: &Cell,
    prepared: Option<&Result<Prepared, String>>,
    work: &WorkDir,
    opts: &CheckOptions,
    tx: &mpsc::Sender<Event>,
    shared: &SharedBuild<'_>,
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
    let dir = work.cell(&cell.id);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        return fail(
            Status::Error,
            Vec::new(),
            Some(format!("creating {}: {e}", dir.display())),
        );
    }
    let from_build = |f: BuildFailure| {
        if f.is_code {
            fail(Status::Fail, build_findings(m, f), None)
        } else {
            fail(Status::Error, Vec::new(), Some(f.message))
        }
    };

    if m.mode == Mode::Bin {
        let found = super::bin::run(m, cell, &p.setup, &dir, shared, remaining(), &log);
        return match found {
            Err(f) => from_build(f),
            Ok(res) => {
                // No image this time: none for `why` either (not the last
                // run's).
                let none = Inspected {
                    image: None,
                    roots: Vec::new(),
                };
                work.write_inspected(&cell.id, res.inspected.as_ref().unwrap_or(&none));
                match res.findings {
                    Err(e) => fail(Status::Error, Vec::new(), Some(e)),
                    Ok(found) => {
                        let mut o = fail(Status::of(&found), found, None);
                        o.size = res.size;
                        o
                    }
                }
            }
        };
    }
    // The shared directory is one cell's at a time: its build, then the
    // copy of its staticlib out of it, before the next cell's build
    // rewrites that file.
    let built = {
        let _own = shared
            .lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match build::build_crate(
            &p.setup,
            &m.manifest,
            &m.package,
            cell,
            shared.dir,
            remaining(),
            &log,
        )
        .and_then(|b| b.copied_to(&dir))
        {
            Ok(a) => a,
            Err(f) => return from_build(f),
        }
    };
    // The compile line for the triple from the cc crate, once per target.
    let cc = match &p.cc {
        Some((tool, args)) => {
            let args = args.get_or_init(|| {
                // cc runs the compiler itself, beyond our process module:
                // a compiler that leaves a child holding cc's pipe would
                // hold it to the cell's timeout. Detection takes well
                // under a second; this bounds it.
                let limit = remaining().map(|r| r.min(CC_DETECTION_LIMIT));
                toolchain::cc_args(tool, &target.triple, limit).map_err(|e| format!("{e:#}"))
            });
            match args {
                Ok(a) => Some((tool.clone(), a.clone())),
                Err(e) => return fail(Status::Error, Vec::new(), Some(e.clone())),
            }
        }
        None => None,
    };
    let objs = match build::build_platform(
        target,
        cc.as_ref(),
        cell,
        &dir.join("platform"),
        remaining(),
        &log,
    ) {
        Ok(o) => o,
        Err(f) => return from_build(f),
    };
    let staticlib = built.staticlib;
    let InputSymbols {
        mut roots,
        origins,
        globals,
    } = match input_symbols(&objs, &staticlib, &built.crate_name) {
        Ok(r) => r,
        Err(e) => return fail(Status::Error, Vec::new(), Some(format!("{e:#}"))),
    };
    roots.extend(policy_roots(m, &globals));
    roots.sort();
    roots.dedup();
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
        scripts: &built.link,
    };
    let findings = match m.mode {
        Mode::Image => image_findings(m, &inputs, &roots, &origins, &log),
        Mode::Module => module_findings(m, target, &inputs, &roots, &origins, &log),
        Mode::Bin => unreachable!("bin cells return above"),
    };
    match findings {
        Ok((f, image)) => {
            // What `why` and `diff` need later, without rebuilding.
            let roots = match m.mode {
                Mode::Image if !target.entry.is_empty() => {
                    [vec![target.entry.clone()], roots].concat()
                }
                Mode::Image | Mode::Module | Mode::Bin => roots,
            };
            work.write_inspected(&cell.id, &Inspected { image, roots });
            fail(Status::of(&f), f, None)
        }
        Err(e) => fail(Status::Error, Vec::new(), Some(e)),
    }
}

/// What the link inputs define.
struct InputSymbols {
    /// The crate's `#[no_mangle]` functions.
    roots: Vec<String>,
    /// Function → the object (or `archive(member)`) defining it.
    origins: HashMap<String, String>,
    /// Every global function and data object.
    globals: BTreeSet<String>,
}

/// Read the link inputs once: the crate's exported (`#[no_mangle]`)
/// functions, which are the roots, and for every function symbol the input
/// object (archive member, platform object) it comes from.
fn input_symbols(platform: &[PathBuf], staticlib: &Path, crate_name: &str) -> Result<InputSymbols> {
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
    use object::{Object, ObjectSymbol};
    // Every global function and data object: what `policy.roots` can name.
    let mut globals = BTreeSet::new();
    for u in &units {
        let Ok(f) = object::File::parse(u.data) else {
            continue;
        };
        for s in f.symbols() {
            if s.is_global()
                && !s.is_undefined()
                && matches!(
                    s.kind(),
                    object::SymbolKind::Text | object::SymbolKind::Data
                )
                && let Ok(n) = s.name()
                && !n.is_empty()
            {
                globals.insert(n.to_owned());
            }
        }
    }
    let mut roots = BTreeSet::new();
    for u in units.iter().filter(|u| u.name.starts_with(&prefix)) {
        let f =
            object::File::parse(u.data).with_context(|| format!("{}: not an object", u.name))?;
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
    Ok(InputSymbols {
        roots: roots.into_iter().collect(),
        origins,
        globals,
    })
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
    let names: Vec<(&String, Option<String>)> =
        globals.iter().map(|n| (n, inspect::demangle(n))).collect();
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

/// A failed build's findings: one per rustc error, at rustc's primary
/// span (so SARIF and GitHub annotations land on the line), capped; else
/// one with the build's output.
pub(super) fn build_findings(m: &Matrix, f: BuildFailure) -> Vec<Finding> {
    if f.errors.is_empty() {
        return vec![Finding::message(FindingKind::BuildError, f.message)];
    }
    let more = f.errors.len().saturating_sub(build::MAX_COMPILER_ERRORS);
    let mut out: Vec<Finding> = f
        .errors
        .into_iter()
        .take(build::MAX_COMPILER_ERRORS)
        .map(|e| {
            let mut finding = Finding::message(FindingKind::BuildError, e.rendered);
            if let (Some(file), Some(line)) = (&e.file, e.line) {
                finding.at = super::findings::in_project(m, &[(file.clone(), line)]);
            }
            finding.referenced_by = vec![super::findings::relativize(
                m,
                &Reference {
                    function: e.krate,
                    object: None,
                    file: e.file,
                    line: e.line,
                },
            )];
            finding
        })
        .collect();
    if more > 0
        && let Some(last) = out.last_mut()
        && let Some(msg) = last.message.as_mut()
    {
        let _ = write!(
            msg,
            "
… and {more} more errors (run the reproduce command)"
        );
    }
    out
}

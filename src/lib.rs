//! linkmatrix: build a crate across a matrix of configurations, link every
//! cell with a real linker, inspect the ELF, and report undefined and
//! unexported symbol references.
//!
//! Pipeline (one module per stage): [`config`] → [`plan`] → [`build`] →
//! [`link`] → [`inspect`] → [`report`], driven by [`check`]; shared types in
//! [`model`]; every subprocess through [`process`]; toolchains in
//! [`toolchain`]. `main.rs` only calls [`main_with_args`].
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod build;
pub mod bundle;
pub mod cache;
pub mod check;
pub mod cli;
pub mod config;
pub mod explain;
pub mod expr;
pub mod fuzzing;
pub mod init;
pub mod inspect;
pub mod link;
pub mod model;
pub mod plan;
pub mod process;
pub mod report;
pub mod toolchain;
pub mod triage;

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{CommandFactory, Parser};

use crate::cli::{CheckFormat, Cli, ColorWhen, Command, MatrixArgs};
use crate::config::{LoadError, LoadOptions};
use crate::model::{Matrix, Target};

/// The bundled default matrix, under the bundle root.
const BUNDLED_DEFAULT: &str = "configs/default.yaml";

/// Exit code: the tool could not do its job.
pub const EXIT_TOOL: u8 = 2;
/// Exit code: interrupted.
pub const EXIT_INTERRUPTED: u8 = 130;

/// Parse `args` (accepting the `linkmatrix` word cargo passes to
/// `cargo-linkmatrix`), run, and map the result to an exit code.
pub fn main_with_args(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let mut args: Vec<OsString> = args.into_iter().collect();
    if args.get(1).is_some_and(|a| a == "linkmatrix") {
        args.remove(1);
    }
    let cli = match Cli::try_parse_from(&args) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_TOOL } else { 0 });
        }
    };
    match cli.color {
        ColorWhen::Always => anstream::ColorChoice::Always.write_global(),
        ColorWhen::Never => anstream::ColorChoice::Never.write_global(),
        ColorWhen::Auto => {}
    }
    match run(&cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            // `linkmatrix plan | head`: the reader left; that is not an error.
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            let _ = writeln!(anstream::stderr(), "error: {e:#}");
            ExitCode::from(EXIT_TOOL)
        }
    }
}

/// The matrix file to use: `--config`, else ./linkmatrix.yaml, else the
/// bundled default. Returns (path, root override for bundled files, the
/// text to show in reproduce commands).
fn config_path(cli: &Cli) -> Result<(PathBuf, Option<PathBuf>, String)> {
    if let Some(c) = &cli.config {
        return Ok((c.clone(), None, c.display().to_string()));
    }
    let local = Path::new("linkmatrix.yaml");
    if local.is_file() {
        return Ok((local.to_path_buf(), None, "linkmatrix.yaml".to_owned()));
    }
    let root = bundle::root()?;
    Ok((
        root.join(BUNDLED_DEFAULT),
        Some(root),
        BUNDLED_DEFAULT.to_owned(),
    ))
}

fn load(cli: &Cli, m: &MatrixArgs) -> Result<Result<Matrix, LoadError>> {
    let (path, root, _) = config_path(cli)?;
    let random = match (m.random, m.seed) {
        (Some(n), Some(s)) => Some((n, s)),
        (Some(_), None) => bail!("--random needs --seed"),
        _ => None,
    };
    let opts = LoadOptions {
        max_cells: m.max_cells,
        random,
        root,
    };
    let mut matrix = config::load(&path, &opts);
    if let (Ok(mx), Some(mp)) = (&mut matrix, &cli.manifest_path) {
        let mp = std::path::absolute(mp).with_context(|| format!("{}", mp.display()))?;
        let name = package_of(&mp)?;
        mx.manifest = mp;
        mx.package = name;
    }
    Ok(matrix)
}

fn package_of(manifest: &Path) -> Result<String> {
    let meta = cargo_metadata::MetadataCommand::new()
        .manifest_path(manifest)
        .no_deps()
        .exec()
        .with_context(|| format!("reading {}", manifest.display()))?;
    meta.root_package()
        .map(|p| p.name.to_string())
        .context("--manifest-path: not a package manifest")
}

fn config_error(e: &LoadError) -> u8 {
    let _ = writeln!(anstream::stderr(), "error: {e}");
    EXIT_TOOL
}

/// Targets for doctor/setup: named ones, else the matrix's, else bundled.
fn targets_for(cli: &Cli, names: &[String]) -> Result<Vec<Target>> {
    let matrix = load(
        cli,
        &MatrixArgs {
            max_cells: usize::MAX,
            random: None,
            seed: None,
        },
    )?;
    match matrix {
        Ok(m) if names.is_empty() => Ok(m.targets.into_values().collect()),
        Ok(m) => {
            let mut out = Vec::new();
            for n in names {
                match m.targets.get(n) {
                    Some(t) => out.push(t.clone()),
                    None => out.push(bundled_target(n)?),
                }
            }
            Ok(out)
        }
        Err(e) => {
            if names.is_empty() {
                return Err(anyhow::anyhow!("{e}"));
            }
            names.iter().map(|n| bundled_target(n)).collect()
        }
    }
}

fn bundled_target(name: &str) -> Result<Target> {
    // A one-line matrix naming the target validates it like any other.
    let root = bundle::root()?;
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("probe.yaml");
    let krate = root.join("fixtures/kalloc");
    std::fs::write(
        &file,
        format!("crate: {}\ntargets: [{name}]\n", krate.display()),
    )?;
    let m = config::load(
        &file,
        &LoadOptions {
            root: Some(PathBuf::from("/")),
            ..LoadOptions::default()
        },
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    m.targets.into_values().next().context("no such target")
}

/// What `check` and `merge` do with a finished report, resolved (report
/// kinds parsed, baseline read) before any work starts.
struct Gate {
    specs: Vec<report::ReportSpec>,
    baseline: Option<report::baseline::Baseline>,
    format: CheckFormat,
}

impl Gate {
    fn from_args(g: &cli::GateArgs) -> Result<Self> {
        Ok(Self {
            specs: g.report.iter().map(|s| s.parse()).collect::<Result<_>>()?,
            baseline: g
                .baseline
                .as_deref()
                .map(report::baseline::load)
                .transpose()?,
            format: g.format,
        })
    }

    /// Apply the baseline, write the report files, print (GitHub commands
    /// too under GitHub Actions, and the step summary), return the exit code.
    fn finish(
        &self,
        mut report: model::Report,
        deny_warnings: bool,
        out: &mut dyn Write,
    ) -> Result<u8> {
        let (specs, format) = (&self.specs, self.format);
        let fixed = self
            .baseline
            .as_ref()
            .map(|b| report::baseline::apply(&mut report, b, deny_warnings))
            .unwrap_or_default();
        report::write_reports(&report, specs)?;
        let github = std::env::var_os("GITHUB_ACTIONS").is_some_and(|v| v == "true");
        match format {
            CheckFormat::Json => out.write_all(&report::to_json(&report)?)?,
            CheckFormat::Human => {
                if github {
                    out.write_all(report::formats::github(&report).as_bytes())?;
                }
                report::print_human(&report, out)?;
            }
        }
        if let Some(summary) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|s| !s.is_empty()) {
            use std::io::Write as _;
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&summary)
                .with_context(|| {
                    format!("GITHUB_STEP_SUMMARY {}", PathBuf::from(&summary).display())
                })?;
            f.write_all(report::formats::markdown(&report).as_bytes())?;
        }
        if !fixed.is_empty() {
            let mut err = anstream::stderr();
            writeln!(err, "fixed since the baseline (remove them from it):")?;
            for e in &fixed {
                writeln!(err, "  {}", e.signature)?;
            }
        }
        Ok(report::exit_code(&report))
    }
}

/// The matrix and quiet check options the triage verbs run cells with.
fn triage_setup(cli: &Cli) -> Result<Option<(Matrix, check::CheckOptions)>> {
    let m = match load(
        cli,
        &MatrixArgs {
            max_cells: 10_000,
            random: None,
            seed: None,
        },
    )? {
        Ok(m) => m,
        Err(e) => {
            config_error(&e);
            return Ok(None);
        }
    };
    let (_, bundled_root, shown) = config_path(cli)?;
    let _ = ctrlc::set_handler(process::interrupt);
    let opts = check::CheckOptions {
        jobs: std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
        cells: Vec::new(),
        no_cache: false,
        no_provision: false,
        timeout: Duration::from_secs(900),
        config_arg: shown,
        bundled_config: bundled_root.is_some(),
        verbose: cli.verbose,
        quiet: true,
        shard: None,
        timings: None,
        latent: false,
        deny_latent: false,
    };
    Ok(Some((m, opts)))
}

/// Run a parsed command line; the exit code.
pub fn run(cli: &Cli) -> Result<u8> {
    let mut out = anstream::stdout();
    match &cli.command {
        Command::Plan(args) => {
            let m = match load(cli, &args.matrix)? {
                Ok(m) => m,
                Err(e) => return Ok(config_error(&e)),
            };
            plan::render(&m, args.format, args.shards, &mut out)?;
            Ok(0)
        }
        Command::Check(args) => {
            let m = match load(cli, &args.matrix)? {
                Ok(m) => m,
                Err(e) => return Ok(config_error(&e)),
            };
            let gate = Gate::from_args(&args.gate)?;
            let cells = args
                .cell
                .iter()
                .map(|g| glob::Pattern::new(g).with_context(|| format!("--cell {g}")))
                .collect::<Result<Vec<_>>>()?;
            let (_, bundled_root, shown) = config_path(cli)?;
            let jobs = args.jobs.unwrap_or_else(|| {
                std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
            });
            let opts = check::CheckOptions {
                jobs,
                cells,
                no_cache: args.no_cache,
                no_provision: args.no_provision,
                timeout: Duration::from_secs(args.timeout.max(1)),
                config_arg: shown,
                bundled_config: bundled_root.is_some(),
                verbose: cli.verbose,
                quiet: cli.quiet,
                shard: args.shard.as_deref().map(check::parse_shard).transpose()?,
                timings: args
                    .timings
                    .as_deref()
                    .map(|p| {
                        report::load(p)
                            .map(|r| r.cells.into_iter().map(|c| (c.id, c.duration_ms)).collect())
                    })
                    .transpose()?,
                latent: args.latent || !args.deny.is_empty(),
                deny_latent: args.deny.iter().any(|d| d == "latent"),
            };
            let _ = ctrlc::set_handler(process::interrupt);
            let started = std::time::Instant::now();
            let report = check::run(&m, &opts, &mut anstream::stderr())?;
            if std::env::var_os("LINKMATRIX_STATS").is_some() {
                let (n, children) = process::child_stats();
                eprintln!(
                    "stats: wall_ms={} children={n} children_ms={}",
                    started.elapsed().as_millis(),
                    children.as_millis()
                );
            }
            if process::interrupted() {
                let mut err = anstream::stderr();
                writeln!(err, "interrupted: no report written")?;
                for c in report.cells.iter().filter(|c| {
                    c.error
                        .as_deref()
                        .is_some_and(|e| e.contains("interrupted"))
                }) {
                    writeln!(err, "  {} interrupted", c.id)?;
                }
                return Ok(EXIT_INTERRUPTED);
            }
            if let Some(path) = &args.write_baseline {
                let b = report::baseline::from_report(&report);
                cache::write_atomic(path, &serde_json::to_vec_pretty(&b)?)?;
            }
            gate.finish(report, opts.deny_latent, &mut out)
        }
        Command::Merge(args) => {
            let gate = Gate::from_args(&args.gate)?;
            let parts = args
                .reports
                .iter()
                .map(|p| report::load(p))
                .collect::<Result<Vec<_>>>()?;
            let merged = report::merge(&parts)?;
            gate.finish(merged, false, &mut out)
        }
        Command::Init(args) => {
            let manifest = cli
                .manifest_path
                .clone()
                .unwrap_or_else(|| PathBuf::from("Cargo.toml"));
            let manifest = std::path::absolute(&manifest)?;
            let dest = manifest
                .parent()
                .unwrap_or(Path::new("."))
                .join("linkmatrix.yaml");
            if dest.exists() && !args.force {
                bail!("{} exists; --force overwrites it", dest.display());
            }
            let text = init::render(&manifest, &args.targets, &args.mode)?;
            cache::write_atomic(&dest, text.as_bytes())?;
            writeln!(out, "wrote {}", plan::display_path(&dest))?;
            Ok(0)
        }
        Command::Doctor(args) => {
            let targets = targets_for(cli, &args.targets)?;
            let refs: Vec<&Target> = targets.iter().collect();
            let chains = toolchain::Toolchains::probe();
            let ok = toolchain::doctor(&refs, &chains, &mut out)?;
            Ok(u8::from(!ok))
        }
        Command::Setup(args) => {
            let targets = targets_for(cli, &args.targets)?;
            let refs: Vec<&Target> = targets.iter().collect();
            let chains = toolchain::Toolchains::probe();
            let cmds = toolchain::setup_plan(&refs, &chains);
            if cmds.is_empty() {
                writeln!(out, "nothing to install: every target is buildable")?;
                return Ok(0);
            }
            if args.dry_run {
                for c in &cmds {
                    writeln!(out, "{c}")?;
                }
                return Ok(0);
            }
            toolchain::setup(&cmds, &mut out)?;
            let chains = toolchain::Toolchains::probe();
            let ok = toolchain::doctor(&refs, &chains, &mut out)?;
            Ok(if ok { 0 } else { EXIT_TOOL })
        }
        Command::Inspect(args) => {
            let reports = inspect::inspect_files(&args.files, args.symbols_only)?;
            match args.format {
                CheckFormat::Json => {
                    serde_json::to_writer_pretty(&mut out, &reports)?;
                    writeln!(out)?;
                }
                CheckFormat::Human => inspect::print_human(&reports, &mut out)?,
            }
            Ok(0)
        }
        Command::Why { symbol, cell } => {
            let Some((m, opts)) = triage_setup(cli)? else {
                return Ok(EXIT_TOOL);
            };
            triage::why(&m, symbol, cell, &opts, &mut out)
        }
        Command::Diff { a, b } => {
            let Some((m, opts)) = triage_setup(cli)? else {
                return Ok(EXIT_TOOL);
            };
            triage::diff(&m, a, b, &opts, &mut out)
        }
        Command::Minimize { id } => {
            let Some((m, opts)) = triage_setup(cli)? else {
                return Ok(EXIT_TOOL);
            };
            triage::minimize(&m, id, &opts, &mut out)
        }
        Command::Explain(args) => {
            let explained = match args.log.as_deref().filter(|p| *p != Path::new("-")) {
                Some(p) => {
                    let f = std::fs::File::open(p)
                        .with_context(|| format!("{}: cannot read", p.display()))?;
                    explain::explain(&mut std::io::BufReader::with_capacity(1 << 16, f))
                        .with_context(|| format!("{}: read failed", p.display()))?
                }
                None => explain::explain(&mut std::io::stdin().lock())
                    .context("reading standard input")?,
            };
            match args.format {
                CheckFormat::Json => {
                    let v = serde_json::json!({
                        "schema": "linkmatrix/explain/v1",
                        "lines": explained.lines,
                        "findings": explained.findings,
                    });
                    serde_json::to_writer_pretty(&mut out, &v)?;
                    writeln!(out)?;
                }
                CheckFormat::Human => explain::print_human(&explained, &mut out)?,
            }
            Ok(u8::from(!explained.findings.is_empty()))
        }
        Command::Completions { shell } => {
            clap_complete::generate(*shell, &mut Cli::command(), "linkmatrix", &mut out);
            Ok(0)
        }
        Command::Sysroot {
            cargo,
            rustc,
            src,
            triple,
            dir,
        } => {
            toolchain::build_sysroot(cargo, rustc, src, triple, dir)?;
            Ok(0)
        }
    }
}

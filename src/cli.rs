//! The command line: clap types only. `args` resolves them into the
//! options each stage takes; `commands` does the work.
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Build a crate across a matrix of configurations, link every cell with a
/// real linker, and report undefined and unexported symbols before they
/// ship.
#[derive(Debug, Parser)]
#[command(
    name = "linkmatrix",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// The matrix file (default: ./linkmatrix.yaml; `linkmatrix init` writes
    /// one). `bundled:NAME` is one of the bundle's, from anywhere:
    /// `bundled:linkmatrix.yaml` (the kalloc demo),
    /// `bundled:configs/percpu-2021.yaml`.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Build this crate instead of the one the matrix names (init: the crate
    /// to describe).
    #[arg(long, global = true, value_name = "PATH")]
    pub manifest_path: Option<PathBuf>,
    /// Print only errors and the final summary.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Print every command as it runs.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// Colour: auto (a terminal, and `NO_COLOR` unset), always, never.
    #[arg(long, global = true, value_enum, default_value_t = ColorWhen::Auto)]
    pub color: ColorWhen,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// When to colour output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    /// When writing to a terminal and `NO_COLOR` is unset.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Expand the matrix into cells.
    Plan(PlanArgs),
    /// Build, link and inspect every cell (the main job).
    Check(CheckArgs),
    /// Write a starting linkmatrix.yaml for the crate in this directory.
    Init(InitArgs),
    /// Show, per target, how its std, C compiler and linker will be had.
    Doctor(DoctorArgs),
    /// Install what the targets are missing (says what it runs).
    Setup(SetupArgs),
    /// List the undefined symbols of ELF files, objects and archives, with
    /// the functions that reference them.
    Inspect(InspectArgs),
    /// Parse a linker or modpost log (a file, or - for stdin) into findings.
    Explain(ExplainArgs),
    /// Every chain from a root to SYMBOL, in each cell where it is reachable.
    Why {
        /// The symbol (mangled or demangled).
        symbol: String,
        /// Only this cell, or the cells a glob matches (default: every cell).
        #[arg(long, value_name = "ID|GLOB")]
        cell: Option<String>,
    },
    /// What differs between two cells: options, undefined and defined
    /// symbols, and when each symbol is undefined over the matrix.
    Diff {
        /// One cell.
        a: String,
        /// The other.
        b: String,
    },
    /// Flash and RAM of every cell, and what each option costs on each
    /// arch (the difference between cells that differ in it alone).
    Footprint(FootprintArgs),
    /// From a failing cell, the smallest set of option changes (from a
    /// passing cell) that still fails.
    Minimize {
        /// The failing cell.
        id: String,
    },
    /// Combine shard reports (JSON) into one, and gate on it.
    Merge(MergeArgs),
    /// Print shell completions.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Internal: the cc crate's C flags for a triple (run by linkmatrix
    /// itself).
    #[command(name = "__cc-args", hide = true)]
    CcArgs {
        /// Rust target triple
        triple: String,
        /// C compiler
        compiler: PathBuf,
    },
    /// Internal: build a sysroot (run by linkmatrix itself).
    #[command(name = "__sysroot", hide = true)]
    Sysroot {
        /// cargo
        cargo: PathBuf,
        /// rustc
        rustc: PathBuf,
        /// library source
        src: PathBuf,
        /// triple
        triple: String,
        /// output
        dir: PathBuf,
    },
}

/// How the matrix is expanded.
#[derive(Debug, Args, Clone)]
pub struct MatrixArgs {
    /// Refuse to expand more cells than this.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub max_cells: usize,
    /// Sample N valid cells instead of every cell (randconfig).
    #[arg(long, value_name = "N", requires = "seed")]
    pub random: Option<usize>,
    /// Seed for --random: the same seed gives the same cells.
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
    /// A covering plan instead of the matrix's `cover:`: 1, 2 or 3 (every
    /// combination of that many option values the rules allow, in a few
    /// cells), `each` (each option value alone), `each,2` (both), or `full`
    /// (every combination of the axes).
    #[arg(long, value_name = "T", conflicts_with = "random")]
    pub cover: Option<String>,
}

/// `plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = PlanFormat::Table)]
    pub format: PlanFormat,
    /// Split the cells over N shards (CI jobs), balanced by the cell times
    /// of the last run (--timings, else the cache), by count without them;
    /// say each shard's cells and expected time. With --format github: one
    /// matrix entry per shard (`shard`, `cells`, `expected`).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=256))]
    pub shards: Option<u64>,
    /// Balance the shards by the cell times of this earlier JSON report (a
    /// merged report), instead of the cache's.
    #[arg(long, value_name = "REPORT", requires = "shards")]
    pub timings: Option<PathBuf>,
    /// Matrix expansion.
    #[command(flatten)]
    pub matrix: MatrixArgs,
}

/// `plan` output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    /// A table for people.
    Table,
    /// `{"cells":[...]}`.
    Json,
    /// `{"include":[...]}` for `strategy.matrix`.
    Github,
}

/// `check` output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    /// A summary table and each finding, for people.
    Human,
    /// The JSON report on stdout.
    Json,
}

/// `check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Cells run at once (default: the number of cores).
    #[arg(short, long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Only cells whose id matches this glob (repeatable).
    #[arg(long, value_name = "GLOB")]
    pub cell: Vec<String>,
    /// Output, reports and baseline.
    #[command(flatten)]
    pub gate: GateArgs,
    /// Record this run's findings as the baseline.
    #[arg(long, value_name = "FILE")]
    pub write_baseline: Option<PathBuf>,
    /// Run only shard K of N (1-based); the other cells are `skipped`.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// Balance shards by the cell durations of this earlier JSON report
    /// (instead of this machine's cache): every shard job then splits the
    /// same way whatever its cache holds.
    #[arg(long, value_name = "REPORT", requires = "shard")]
    pub timings: Option<PathBuf>,
    /// The cells of this shard, as `plan --format github --shards N` gave
    /// them (its entry's `cells`, comma-separated ids): every shard job
    /// runs exactly the plan's split, whatever cache it restored.
    #[arg(
        long,
        value_name = "IDS",
        requires = "shard",
        conflicts_with_all = ["timings", "cell"]
    )]
    pub shard_cells: Option<String>,
    /// Also build each optimized cell in debug and report symbols undefined
    /// only there as `latent-undefined` warnings.
    #[arg(long)]
    pub latent: bool,
    /// Make warnings fail: `--deny latent` (implies --latent).
    #[arg(long, value_name = "WHAT", value_parser = ["latent"])]
    pub deny: Vec<String>,
    /// Rebuild every cell even if its inputs did not change.
    #[arg(long)]
    pub no_cache: bool,
    /// Do not install missing toolchains; a cell that lacks one is `error`.
    #[arg(long)]
    pub no_provision: bool,
    /// Per-cell timeout in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 900)]
    pub timeout: u64,
    /// Matrix expansion.
    #[command(flatten)]
    pub matrix: MatrixArgs,
}

/// `explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The log; `-` or nothing reads standard input.
    pub log: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = CheckFormat::Human)]
    pub format: CheckFormat,
}

/// `footprint`.
#[derive(Debug, Args)]
pub struct FootprintArgs {
    /// A JSON report of `check` (`--report json=FILE`) to read instead of
    /// running the cells (from the cache when nothing changed).
    #[arg(value_name = "REPORT")]
    pub report: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = CheckFormat::Human)]
    pub format: CheckFormat,
}

/// `merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Shard reports written with `check --report json=…`.
    #[arg(required = true)]
    pub reports: Vec<PathBuf>,
    /// Output, reports and baseline.
    #[command(flatten)]
    pub gate: GateArgs,
}

/// What `check` and `merge` do with a finished report.
#[derive(Debug, Args)]
pub struct GateArgs {
    /// Output on stdout.
    #[arg(long, value_enum, default_value_t = CheckFormat::Human)]
    pub format: CheckFormat,
    /// Also write a report: KIND=PATH, KIND is json, junit, sarif, github,
    /// markdown or html (repeatable).
    #[arg(long, value_name = "KIND=PATH")]
    pub report: Vec<String>,
    /// Known findings: they pass (marked `baseline: true`); new ones fail.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
}

/// `init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Targets to build for (bundled triples, or names of target files);
    /// repeatable. Default: `build.target` of the crate's
    /// `.cargo/config.toml`, else armv7a-none-eabi and x86_64-unknown-none.
    #[arg(long = "target", value_name = "NAME")]
    pub targets: Vec<String>,
    /// image, module or bin. Default: bin for a binary crate that depends
    /// on a firmware runtime (cortex-m-rt, riscv-rt), else image.
    #[arg(long)]
    pub mode: Option<String>,
    /// Overwrite an existing linkmatrix.yaml.
    #[arg(long)]
    pub force: bool,
    /// The workspace member to describe (needed at a virtual workspace root).
    #[arg(long, short = 'p', value_name = "NAME")]
    pub package: Option<String>,
}

/// `doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Only these targets (default: the matrix's, else every bundled one).
    #[arg(long = "target", value_name = "NAME")]
    pub targets: Vec<String>,
}

/// `setup`.
#[derive(Debug, Args)]
pub struct SetupArgs {
    /// Only these targets (default: the matrix's, else every bundled one).
    #[arg(long = "target", value_name = "NAME")]
    pub targets: Vec<String>,
    /// Print what would run, run nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// ELF executables, shared objects, relocatable objects, archives.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Only the undefined symbols, like `nm -u` (resolved across archive
    /// members): no relocations, no referencing functions, no DWARF.
    #[arg(long)]
    pub symbols_only: bool,
    /// The footprint instead: flash and RAM by region, section, crate and
    /// symbol (ELF executables and objects).
    #[arg(long, conflicts_with = "symbols_only")]
    pub size: bool,
    /// With --size: the linker script (or memory.x) whose MEMORY regions
    /// the image was linked into.
    #[arg(long, value_name = "FILE", requires = "size")]
    pub memory: Option<PathBuf>,
    /// With --size: how many of the largest symbols to list.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub top: usize,
    /// Output format.
    #[arg(long, value_enum, default_value_t = CheckFormat::Human)]
    pub format: CheckFormat,
}

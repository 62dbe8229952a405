//! Argument resolution: from clap's types ([`crate::cli`]) to the options
//! each stage takes, in one step, with every argument check in one place
//! (ripgrep's low-level → high-level arguments). Commands never read clap
//! types beyond what this module hands them.
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::check::CheckOptions;
use crate::cli::{CheckArgs, Cli, MatrixArgs, PlanFormat};
use crate::config::{self, LoadOptions};
use crate::model::{ConfigError, Cover, Plan};
use crate::plan::{self, ExpandError, Limits, Planned};
use crate::report::{self, Format, ReportSpec};

/// Which matrix file a command uses.
#[derive(Clone, Debug)]
pub(crate) struct MatrixSource {
    /// The file.
    pub(crate) path: PathBuf,
    /// It is `./linkmatrix.yaml`, found without `--config`.
    pub(crate) implicit: bool,
    /// The file as reproduce commands show it.
    pub(crate) shown: String,
}

/// The matrix file to use: `--config`, else `./linkmatrix.yaml`. There is
/// no fallback: a user's crate is never replaced by a demo matrix.
pub(crate) fn matrix_source(cli: &Cli) -> Result<MatrixSource> {
    if let Some(c) = &cli.config {
        return Ok(MatrixSource {
            path: bundled_matrix(c)?.unwrap_or_else(|| c.clone()),
            implicit: false,
            shown: c.display().to_string(),
        });
    }
    let local = Path::new("linkmatrix.yaml");
    if local.is_file() {
        return Ok(MatrixSource {
            path: local.to_path_buf(),
            implicit: true,
            shown: "linkmatrix.yaml".to_owned(),
        });
    }
    let here = std::env::current_dir().map_or_else(|_| ".".to_owned(), |d| d.display().to_string());
    bail!(
        "no linkmatrix.yaml in {here}: run `linkmatrix init` to write one for the crate here, or pass --config FILE"
    )
}

/// `--config bundled:NAME`: a matrix of the bundle (`bundled:linkmatrix.yaml`,
/// the kalloc demo; `bundled:configs/percpu-2021.yaml`), so an installed
/// linkmatrix shows what it does from any directory. `None` for any
/// other path, and for a file of that very name in the current directory.
fn bundled_matrix(c: &Path) -> Result<Option<PathBuf>> {
    let Some(name) = c.to_str().and_then(|s| s.strip_prefix("bundled:")) else {
        return Ok(None);
    };
    if c.exists() {
        return Ok(None);
    }
    let root = crate::bundle::root()?;
    let path = root.join(name);
    let inside = Path::new(name)
        .components()
        .all(|p| matches!(p, std::path::Component::Normal(_)));
    if inside && path.is_file() {
        return Ok(Some(path));
    }
    let mut known = vec!["bundled:linkmatrix.yaml".to_owned()];
    known.extend(
        std::fs::read_dir(root.join("configs"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let n = e.file_name().into_string().ok()?;
                n.ends_with(".yaml").then(|| format!("bundled:configs/{n}"))
            }),
    );
    known.sort();
    bail!(
        "--config {}: no such bundled matrix (bundled: {})",
        c.display(),
        known.join(", ")
    )
}

/// Why a matrix could not be planned: problems in the user's files (shown
/// as they are, exit 2), not a failure of the tool.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PlanError {
    /// Problems in the matrix or target files.
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// Expansion failed.
    #[error("{0}")]
    Expand(#[from] ExpandError),
}

/// The expansion limits `--max-cells`, `--random`, `--seed`, `--cover`
/// ask for.
pub(crate) fn limits(m: &MatrixArgs) -> Result<Limits> {
    let random = match (m.random, m.seed) {
        (Some(n), Some(s)) => Some((n, s)),
        (Some(_), None) => bail!("--random needs --seed"),
        _ => None,
    };
    let cover = m
        .cover
        .as_deref()
        .map(|c| {
            let words: Vec<&str> = c.split(',').collect();
            Cover::parse(&words).map_err(|e| anyhow::anyhow!("--cover {c}: {e}"))
        })
        .transpose()?;
    Ok(Limits {
        max_cells: m.max_cells,
        random,
        cover,
    })
}

/// Load the matrix (with `--manifest-path` applied) and expand it.
pub(crate) fn load_plan(
    cli: &Cli,
    source: &MatrixSource,
    limits: Limits,
) -> Result<Result<Plan, PlanError>> {
    Ok(load_planned(cli, source, limits)?.map(|p| p.plan))
}

/// Load the matrix (with `--manifest-path` applied) and expand it, with
/// what the plan covers and which cells it merged.
pub(crate) fn load_planned(
    cli: &Cli,
    source: &MatrixSource,
    limits: Limits,
) -> Result<Result<Planned, PlanError>> {
    let opts = LoadOptions::default();
    let mut matrix = match config::load(&source.path, &opts) {
        Ok(m) => m,
        Err(e) => return Ok(Err(e.into())),
    };
    if let Some(mp) = &cli.manifest_path {
        let mp = std::path::absolute(mp).with_context(|| format!("{}", mp.display()))?;
        let p = config::package_at(&mp).map_err(|e| anyhow::anyhow!("--manifest-path: {e}"))?;
        (matrix.package, matrix.crate_defaults) = (p.name, p.defaults);
        matrix.crate_features = p.feature_map;
        matrix.manifest = mp;
    }
    Ok(plan::expand_planned(matrix, limits).map_err(PlanError::from))
}

/// `--cell` patterns with the ids of merged cells (aliases) also selecting
/// the cell they were merged into: a baseline's or reproduce command's id
/// keeps working when its cell builds the same as another. A pattern that
/// selects only aliases is replaced by the cells they were merged into; one
/// that selects nothing at all is kept, for `check` to refuse by name.
pub(crate) fn with_aliases(patterns: &[glob::Pattern], planned: &Planned) -> Vec<glob::Pattern> {
    let mut out: Vec<glob::Pattern> = Vec::new();
    for p in patterns {
        let kept: Vec<&String> = planned
            .summary
            .aliases
            .iter()
            .filter(|(_, aliases)| aliases.iter().any(|a| p.matches(a)))
            .map(|(kept, _)| kept)
            .collect();
        if kept.is_empty() || planned.plan.cells.iter().any(|c| p.matches(&c.id)) {
            out.push(p.clone());
        }
        for k in kept {
            if !out.iter().chain(patterns).any(|q| q.matches(k)) {
                out.push(glob::Pattern::new(&glob::Pattern::escape(k)).unwrap_or_default());
            }
        }
    }
    out
}

/// `plan --format`.
pub(crate) fn plan_format(f: PlanFormat) -> plan::Format {
    match f {
        PlanFormat::Table => plan::Format::Table,
        PlanFormat::Json => plan::Format::Json,
        PlanFormat::Github => plan::Format::Github,
    }
}

/// `--report KIND=PATH`.
pub(crate) fn report_spec(s: &str) -> Result<ReportSpec> {
    let Some((kind, path)) = s.split_once('=') else {
        bail!("--report {s}: expected KIND=PATH, e.g. json=report.json");
    };
    let Some(format) = Format::by_name(kind) else {
        bail!("--report {kind}=…: unknown kind ({})", Format::names());
    };
    if path.is_empty() || path.starts_with('-') {
        bail!("--report {s}: bad path");
    }
    Ok(ReportSpec {
        format,
        path: PathBuf::from(path),
    })
}

/// Parse `K/N` (1 <= K <= N).
pub(crate) fn shard(s: &str) -> Result<(usize, usize)> {
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
        bail!("--shard {s}: need 1 <= K <= N");
    }
    Ok((k, n))
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

/// The options `check` runs with: the command line over the defaults the
/// triage verbs use.
pub(crate) fn check_options(
    cli: &Cli,
    args: &CheckArgs,
    source: &MatrixSource,
) -> Result<CheckOptions> {
    Ok(CheckOptions {
        jobs: args.jobs.unwrap_or_else(cores),
        cells: args
            .cell
            .iter()
            .map(|g| glob::Pattern::new(g).with_context(|| format!("--cell {g}")))
            .collect::<Result<Vec<_>>>()?,
        no_cache: args.no_cache,
        no_provision: args.no_provision,
        timeout: Duration::from_secs(args.timeout.max(1)),
        quiet: cli.quiet,
        shard: args.shard.as_deref().map(shard).transpose()?,
        timings: args.timings.as_deref().map(timings).transpose()?,
        shard_cells: args.shard_cells.as_deref().map(|s| {
            s.split([',', ' ', '\n'])
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect()
        }),
        latent: args.latent || !args.deny.is_empty(),
        deny_latent: args.deny.iter().any(|d| d == "latent"),
        ..triage_options(cli, source)
    })
}

/// `--timings REPORT`: each cell's duration in an earlier report (a
/// cached cell's from the run that computed it), with the path as given.
pub(crate) fn timings(path: &Path) -> Result<(String, std::collections::BTreeMap<String, u64>)> {
    let r = report::load(path)?;
    Ok((path.display().to_string(), crate::check::report_timings(&r)))
}

/// The quiet options the triage verbs run cells with.
pub(crate) fn triage_options(cli: &Cli, source: &MatrixSource) -> CheckOptions {
    CheckOptions {
        jobs: cores(),
        cells: Vec::new(),
        no_cache: false,
        no_provision: false,
        timeout: Duration::from_secs(900),
        config_arg: source.shown.clone(),
        default_config: source.implicit,
        manifest_arg: cli.manifest_path.as_ref().map(|p| p.display().to_string()),
        verbose: cli.verbose,
        quiet: true,
        shard: None,
        timings: None,
        shard_cells: None,
        latent: false,
        deny_latent: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_syntax() {
        assert_eq!(shard("2/4").unwrap(), (2, 4));
        assert!(shard("0/4").is_err());
        assert!(shard("5/4").is_err());
        assert!(shard("x").is_err());
    }

    #[test]
    fn report_kinds() {
        assert_eq!(report_spec("md=r.md").unwrap().format.name, "markdown");
        assert!(report_spec("pdf=r.pdf").is_err());
        assert!(report_spec("json=-x").is_err());
    }
}

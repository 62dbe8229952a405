//! `plan`, `check` and `merge`: the matrix and the gate on its report.
use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};

use super::{EXIT_INTERRUPTED, user_error};
use crate::args;
use crate::cli::{CheckArgs, CheckFormat, Cli, GateArgs, MergeArgs, PlanArgs};
use crate::model::{Baseline, ErrorKind, Report};
use crate::report::{self, ReportSpec, baseline};
use crate::{cache, check as stage, plan as planner, process};

/// `plan`.
pub(super) fn plan(cli: &Cli, args: &PlanArgs, out: &mut dyn Write) -> Result<u8> {
    let source = args::matrix_source(cli)?;
    let p = match args::load_planned(cli, &source, args::limits(&args.matrix)?)? {
        Ok(p) => p,
        Err(e) => return Ok(user_error(&e)),
    };
    let shards = match args.shards {
        None => None,
        Some(n) => {
            let ids: Vec<&str> = p.plan.cells.iter().map(|c| c.id.as_str()).collect();
            let timings = args.timings.as_deref().map(args::timings).transpose()?;
            let work = crate::workdir::WorkDir::of(&p.plan.matrix);
            let (durations, basis) = stage::shard_durations(&ids, timings.as_ref(), &work);
            let n = usize::try_from(n).unwrap_or(1);
            Some((stage::plan_shards(&ids, &durations, n), basis))
        }
    };
    let shards = shards.as_ref().map(|(s, b)| (s.as_slice(), b));
    planner::render(&p, args::plan_format(args.format), shards, out)?;
    Ok(0)
}

/// `check`.
pub(super) fn check(cli: &Cli, args: &CheckArgs, out: &mut dyn Write) -> Result<u8> {
    let source = args::matrix_source(cli)?;
    let planned = match args::load_planned(cli, &source, args::limits(&args.matrix)?)? {
        Ok(p) => p,
        Err(e) => return Ok(user_error(&e)),
    };
    let gate = Gate::from_args(&args.gate)?;
    let mut opts = args::check_options(cli, args, &source)?;
    opts.cells = args::with_aliases(&opts.cells, &planned);
    if !cli.quiet {
        say_plan(&planned, &mut anstream::stderr())?;
    }
    let p = planned.plan;
    let _ = ctrlc::set_handler(process::interrupt);
    let started = std::time::Instant::now();
    let mut err = anstream::stderr();
    let mut report = stage::run(&p, &opts, &mut err)?;
    let size = &p.matrix.policy.size;
    report.size_policy = (!size.is_empty()).then(|| size.clone());
    if std::env::var_os("LINKMATRIX_STATS").is_some() {
        let (n, children) = process::child_stats();
        writeln!(
            err,
            "stats: wall_ms={} children={n} children_ms={} children_cpu_ms={}",
            started.elapsed().as_millis(),
            children.as_millis(),
            process::children_cpu().as_millis()
        )?;
    }
    if process::interrupted() {
        writeln!(err, "interrupted: no report written")?;
        for c in report
            .cells
            .iter()
            .filter(|c| c.error_kind == Some(ErrorKind::Interrupted))
        {
            writeln!(err, "  {} interrupted", c.id)?;
        }
        return Ok(EXIT_INTERRUPTED);
    }
    if let Some(path) = &args.write_baseline {
        // Size findings are decided first, so that they are recorded too.
        gate.decide_sizes(&mut report);
        let b = baseline::from_report(&report);
        cache::write_atomic(path, &serde_json::to_vec_pretty(&b)?)?;
    }
    gate.finish(report, opts.deny_latent, out)
}

/// Before a covering or merged plan runs: what its cells cover.
fn say_plan(planned: &planner::Planned, err: &mut dyn Write) -> Result<()> {
    let covers = planner::describe(&planned.summary);
    let merged = planner::merged_note(&planned.summary);
    if covers.is_some() || merged.is_some() {
        let n = planned.plan.cells.len();
        writeln!(
            err,
            "plan: {n} cells{}",
            covers.map(|c| format!(" {c}")).unwrap_or_default()
        )?;
    }
    if let Some(m) = merged {
        writeln!(err, "plan: {m}")?;
    }
    Ok(())
}

/// `merge`.
pub(super) fn merge(args: &MergeArgs, out: &mut dyn Write) -> Result<u8> {
    let gate = Gate::from_args(&args.gate)?;
    let parts = args
        .reports
        .iter()
        .map(|p| report::load(p))
        .collect::<Result<Vec<_>>>()?;
    let merged = report::merge(&parts)?;
    gate.finish(merged, false, out)
}

/// What `check` and `merge` do with a finished report, resolved (report
/// kinds parsed, baseline read) before any work starts.
struct Gate {
    specs: Vec<ReportSpec>,
    baseline: Option<Baseline>,
    format: CheckFormat,
}

impl Gate {
    fn from_args(g: &GateArgs) -> Result<Self> {
        Ok(Self {
            specs: g
                .report
                .iter()
                .map(|s| args::report_spec(s))
                .collect::<Result<_>>()?,
            baseline: g.baseline.as_deref().map(baseline::load).transpose()?,
            format: g.format,
        })
    }

    /// Decide the size findings: `policy.size` (as the report carries it)
    /// against each cell's size and the baseline's figures, which the
    /// cells' sizes then show beside their own.
    fn decide_sizes(&self, report: &mut Report) {
        let policy = report.size_policy.clone().unwrap_or_default();
        let empty = std::collections::BTreeMap::new();
        let before = self.baseline.as_ref().map_or(&empty, |b| &b.sizes);
        crate::footprint::gate::apply(report, &policy, before);
    }

    /// Decide the size findings, apply the baseline, write the report
    /// files, print (GitHub commands too under GitHub Actions, and the step
    /// summary), return the exit code.
    fn finish(&self, mut report: Report, deny_warnings: bool, out: &mut dyn Write) -> Result<u8> {
        self.decide_sizes(&mut report);
        let fixed = self
            .baseline
            .as_ref()
            .map(|b| baseline::apply(&mut report, b, deny_warnings))
            .unwrap_or_default();
        report::write_reports(&report, &self.specs)?;
        let github = std::env::var_os("GITHUB_ACTIONS").is_some_and(|v| v == "true");
        match self.format {
            CheckFormat::Json => out.write_all(&report::to_json(&report)?)?,
            CheckFormat::Human => {
                if github {
                    out.write_all(report::formats::github(&report).as_bytes())?;
                }
                report::print_human(&report, out)?;
            }
        }
        if let Some(summary) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|s| !s.is_empty()) {
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

//! Rendering a [`Report`]: the human summary (a table of cells and status,
//! then each finding with its chain and reproduce command), JSON, and the
//! formats of [`formats`] and [`html`]; writing report files atomically
//! (`--report KIND=PATH`); merging shard reports. Printers write to
//! `&mut dyn Write`; only `write_reports` touches the file system.
pub mod baseline;
pub mod formats;
pub mod html;

use std::io::Write;
use std::path::PathBuf;

use anstyle::{AnsiColor, Style};
use anyhow::{Result, bail};

use crate::model::{Finding, Report, Status};

/// A report file to write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportSpec {
    /// The format.
    pub kind: ReportKind,
    /// Where.
    pub path: PathBuf,
}

/// Report file formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportKind {
    /// `linkmatrix/report/v1`.
    Json,
    /// JUnit XML.
    Junit,
    /// SARIF 2.1.0.
    Sarif,
    /// GitHub workflow commands.
    Github,
    /// Markdown.
    Markdown,
    /// A self-contained HTML page.
    Html,
}

/// The kinds, as written on the command line.
pub const KINDS: &str = "json, junit, sarif, github, markdown, html";

impl std::str::FromStr for ReportSpec {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self> {
        let Some((kind, path)) = s.split_once('=') else {
            bail!("--report {s}: expected KIND=PATH, e.g. json=report.json");
        };
        let kind = match kind {
            "json" => ReportKind::Json,
            "junit" => ReportKind::Junit,
            "sarif" => ReportKind::Sarif,
            "github" => ReportKind::Github,
            "markdown" | "md" => ReportKind::Markdown,
            "html" => ReportKind::Html,
            other => bail!("--report {other}=…: unknown kind ({KINDS})"),
        };
        if path.is_empty() || path.starts_with('-') {
            bail!("--report {s}: bad path");
        }
        Ok(Self {
            kind,
            path: PathBuf::from(path),
        })
    }
}

/// The status word, coloured (anstream strips colour where it must).
pub fn styled_status(s: Status) -> String {
    let style = match s {
        Status::Pass => Style::new().fg_color(Some(AnsiColor::Green.into())),
        Status::Fail => Style::new().fg_color(Some(AnsiColor::Red.into())).bold(),
        Status::Error => Style::new()
            .fg_color(Some(AnsiColor::Magenta.into()))
            .bold(),
        Status::Skipped => Style::new().fg_color(Some(AnsiColor::Yellow.into())),
    };
    format!("{style}{:<5}{style:#}", s.to_string())
}

/// The JSON report.
pub fn to_json(r: &Report) -> Result<Vec<u8>> {
    let mut v = serde_json::to_vec_pretty(r)?;
    v.push(b'\n');
    Ok(v)
}

/// Render one format.
pub fn render(r: &Report, kind: ReportKind) -> Result<Vec<u8>> {
    Ok(match kind {
        ReportKind::Json => to_json(r)?,
        ReportKind::Junit => formats::junit(r).into_bytes(),
        ReportKind::Sarif => {
            let mut v = serde_json::to_vec_pretty(&formats::sarif(r))?;
            v.push(b'\n');
            v
        }
        ReportKind::Github => formats::github(r).into_bytes(),
        ReportKind::Markdown => formats::markdown(r).into_bytes(),
        ReportKind::Html => html::render(r).into_bytes(),
    })
}

/// Write every report file, all or none: each is rendered and staged in a
/// temp file beside its path first; only when every one is staged are they
/// renamed into place. A failure leaves the old reports and no temp file.
pub fn write_reports(r: &Report, specs: &[ReportSpec]) -> Result<()> {
    let staged: Vec<crate::cache::Staged> = specs
        .iter()
        .map(|s| crate::cache::stage(&s.path, &render(r, s.kind)?))
        .collect::<Result<_>>()?;
    for s in staged {
        s.commit()?;
    }
    Ok(())
}

/// Read a JSON report (for `merge`).
pub fn load(path: &std::path::Path) -> Result<Report> {
    let bytes =
        std::fs::read(path).map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", path.display()))?;
    let r: Report = serde_json::from_slice(&bytes)
        .map_err(|e| anyhow::anyhow!("{}: not a linkmatrix report: {e}", path.display()))?;
    if r.schema != crate::model::REPORT_SCHEMA {
        bail!(
            "{}: schema `{}`, expected `{}`",
            path.display(),
            r.schema,
            crate::model::REPORT_SCHEMA
        );
    }
    Ok(r)
}

/// Merge shard reports: for each cell the outcome of the shard that ran it
/// (not `skipped`), in the order of the first report.
pub fn merge(reports: &[Report]) -> Result<Report> {
    let Some(first) = reports.first() else {
        bail!("merge: no reports");
    };
    for r in reports {
        if r.config != first.config {
            bail!(
                "merge: reports of different matrices ({} and {})",
                first.config,
                r.config
            );
        }
    }
    let mut order: Vec<String> = Vec::new();
    let mut chosen: std::collections::BTreeMap<String, crate::model::CellOutcome> =
        std::collections::BTreeMap::new();
    for r in reports {
        for c in &r.cells {
            if !chosen.contains_key(&c.id) {
                order.push(c.id.clone());
            }
            match chosen.get(&c.id) {
                Some(prev) if prev.status != Status::Skipped && c.status != Status::Skipped => {
                    bail!("merge: cell {} was run by two shards", c.id);
                }
                Some(prev) if prev.status != Status::Skipped => {}
                _ => {
                    chosen.insert(c.id.clone(), c.clone());
                }
            }
        }
    }
    let cells = order.iter().filter_map(|id| chosen.remove(id)).collect();
    Ok(Report::new(first.config.clone(), cells))
}

fn finding_line(f: &Finding) -> String {
    match formats::symbol_name(f) {
        Some(s) => format!("{}: {s}", f.kind),
        None => f.kind.to_string(),
    }
}

/// The summary for people.
pub fn print_human(r: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    let w = r.cells.iter().map(|c| c.id.len()).max().unwrap_or(4).max(4);
    writeln!(out, "{:w$}  STATUS  TIME     FINDINGS", "CELL")?;
    for c in &r.cells {
        let time = if c.cached {
            "cached".to_owned()
        } else {
            format!("{:.1}s", c.duration_ms as f64 / 1000.0)
        };
        let what = if let Some(e) = &c.error {
            e.lines().next().unwrap_or_default().to_owned()
        } else {
            c.findings
                .iter()
                .map(finding_line)
                .collect::<Vec<_>>()
                .join("; ")
        };
        writeln!(
            out,
            "{:w$}  {}   {time:<7}  {what}",
            c.id,
            styled_status(c.status)
        )?;
    }
    for c in r
        .cells
        .iter()
        .filter(|c| !c.findings.is_empty() || c.error.is_some())
    {
        writeln!(out)?;
        let bold = Style::new().bold();
        writeln!(
            out,
            "{bold}{}{bold:#} ({}, features: {})",
            c.id,
            c.target,
            if c.features.is_empty() {
                "-".to_owned()
            } else {
                c.features.join(",")
            }
        )?;
        if let Some(e) = &c.error {
            writeln!(out, "  error: {e}")?;
        }
        for f in &c.findings {
            let base = if f.baseline { " (baseline)" } else { "" };
            writeln!(out, "  {}{base}", finding_line(f))?;
            for rf in &f.referenced_by {
                writeln!(out, "    referenced by {}{}", rf.function, rf.at())?;
                if let Some(o) = &rf.object {
                    writeln!(out, "      in {o}")?;
                }
            }
            if !f.chain.is_empty() {
                writeln!(out, "    chain: {}", f.chain.join(" -> "))?;
            }
            if let Some(msg) = &f.message {
                for l in msg.lines().take(16) {
                    writeln!(out, "    | {l}")?;
                }
            }
        }
        writeln!(out, "  reproduce: {}", c.reproduce)?;
    }
    let s = &r.summary;
    writeln!(out)?;
    writeln!(
        out,
        "{} cells: {} pass, {} fail, {} error, {} skipped",
        s.cells, s.pass, s.fail, s.error, s.skipped
    )
}

/// The exit code a report calls for: 2 if the tool could not finish a
/// cell, else 1 for any failing cell (not accepted by a baseline), else 0.
pub fn exit_code(r: &Report) -> u8 {
    if r.cells.iter().any(|c| c.status == Status::Error) {
        2
    } else {
        u8::from(r.cells.iter().any(|c| c.status == Status::Fail))
    }
}

//! Rendering a [`Report`]: the human summary (a table of cells and status,
//! then each finding with its chain and reproduce command) and JSON, and
//! writing report files atomically (`--report KIND=PATH`). Printers write
//! to `&mut dyn Write`; only `write_reports` touches the file system.
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
}

impl std::str::FromStr for ReportSpec {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self> {
        let Some((kind, path)) = s.split_once('=') else {
            bail!("--report {s}: expected KIND=PATH, e.g. json=report.json");
        };
        let kind = match kind {
            "json" => ReportKind::Json,
            other => bail!("--report {other}=…: unknown kind (json)"),
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

/// Write every report file; each is written whole or not at all.
pub fn write_reports(r: &Report, specs: &[ReportSpec]) -> Result<()> {
    for s in specs {
        let bytes = match s.kind {
            ReportKind::Json => to_json(r)?,
        };
        crate::cache::write_atomic(&s.path, &bytes)?;
    }
    Ok(())
}

fn finding_line(f: &Finding) -> String {
    match &f.symbol {
        Some(s) => format!(
            "{}: {}",
            f.kind,
            crate::inspect::demangle(s).unwrap_or_else(|| s.clone())
        ),
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
                let at = match (&rf.file, rf.line) {
                    (Some(file), Some(l)) => format!(" at {file}:{l}"),
                    (Some(file), None) => format!(" at {file}"),
                    _ => String::new(),
                };
                writeln!(out, "    referenced by {}{at}", rf.function)?;
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

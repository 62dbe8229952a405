//! Rendering a [`Report`]: the human summary (a table of cells and status,
//! then each finding with its chain and reproduce command), JSON, and the
//! formats of [`formats`] and [`html`]; writing report files atomically
//! (`--report KIND=PATH`); merging shard reports. Printers write to
//! `&mut dyn Write`; only `write_reports` touches the file system.
pub(crate) mod baseline;
pub(crate) mod formats;
pub(crate) mod grouped;
pub(crate) mod html;
pub(crate) mod sizes;

use std::io::Write;
use std::path::PathBuf;

use anstyle::{AnsiColor, Style};
use anyhow::{Result, bail};

use crate::model::{CellOutcome, Finding, Report, Status};

/// A report file format: its names on the command line and its renderer.
pub(crate) struct Format {
    /// The name in `--report NAME=PATH`.
    pub(crate) name: &'static str,
    /// Other accepted names.
    pub(crate) aliases: &'static [&'static str],
    /// Report to file bytes.
    pub(crate) render: fn(&Report) -> Result<Vec<u8>>,
}

impl std::fmt::Debug for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

/// Every report file format. A new format is a file with its renderer and
/// one line here.
pub(crate) const FORMATS: &[Format] = &[
    Format {
        name: "json",
        aliases: &[],
        render: to_json,
    },
    Format {
        name: "junit",
        aliases: &[],
        render: |r| Ok(formats::junit(r).into_bytes()),
    },
    Format {
        name: "sarif",
        aliases: &[],
        render: |r| {
            let mut v = serde_json::to_vec_pretty(&formats::sarif(r))?;
            v.push(b'\n');
            Ok(v)
        },
    },
    Format {
        name: "github",
        aliases: &[],
        render: |r| Ok(formats::github(r).into_bytes()),
    },
    Format {
        name: "markdown",
        aliases: &["md"],
        render: |r| Ok(formats::markdown(r).into_bytes()),
    },
    Format {
        name: "html",
        aliases: &[],
        render: |r| Ok(html::render(r).into_bytes()),
    },
];

impl Format {
    /// The format a command-line name means.
    pub(crate) fn by_name(name: &str) -> Option<&'static Format> {
        FORMATS
            .iter()
            .find(|f| f.name == name || f.aliases.contains(&name))
    }

    /// Every name, for messages: `json, junit, …`.
    pub(crate) fn names() -> String {
        FORMATS
            .iter()
            .map(|f| f.name)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A report file to write.
#[derive(Debug)]
pub(crate) struct ReportSpec {
    /// The format.
    pub(crate) format: &'static Format,
    /// Where.
    pub(crate) path: PathBuf,
}

/// The status word, coloured (anstream strips colour where it must).
pub(crate) fn styled_status(s: Status) -> String {
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
pub(crate) fn to_json(r: &Report) -> Result<Vec<u8>> {
    let mut v = serde_json::to_vec_pretty(r)?;
    v.push(b'\n');
    Ok(v)
}

/// Write every report file, all or none: each is rendered and staged in a
/// temp file beside its path first; only when every one is staged are they
/// renamed into place. A failure leaves the old reports and no temp file.
pub(crate) fn write_reports(r: &Report, specs: &[ReportSpec]) -> Result<()> {
    let staged: Vec<crate::cache::Staged> = specs
        .iter()
        .map(|s| crate::cache::stage(&s.path, &(s.format.render)(r)?))
        .collect::<Result<_>>()?;
    for s in staged {
        s.commit()?;
    }
    Ok(())
}

/// Read a JSON report (for `merge`).
pub(crate) fn load(path: &std::path::Path) -> Result<Report> {
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
pub(crate) fn merge(reports: &[Report]) -> Result<Report> {
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
    let cells: Vec<crate::model::CellOutcome> =
        order.iter().filter_map(|id| chosen.remove(id)).collect();
    let shards = merged_shards(reports, &cells)?;
    let mut merged = Report::new(first.config.clone(), cells);
    merged.root.clone_from(&first.root);
    merged.shards = shards;
    Ok(merged)
}

/// Every shard report's [`ShardRun`](crate::model::ShardRun), by K. When
/// every report is a shard's, of one split, every cell must have been run
/// by one of them: a cell no shard ran (a shard's report missing, or
/// shards that split the matrix differently) would pass the gate
/// unchecked.
fn merged_shards(
    reports: &[Report],
    cells: &[crate::model::CellOutcome],
) -> Result<Vec<crate::model::ShardRun>> {
    let mut runs: Vec<crate::model::ShardRun> = reports
        .iter()
        .flat_map(|r| r.shards.iter().cloned())
        .collect();
    let of_n = |s: &str| s.split_once('/').map(|(_, n)| n.to_owned());
    if let (Some(a), Some(b)) = (
        runs.first(),
        runs.iter().find(|r| of_n(&r.shard) != of_n(&runs[0].shard)),
    ) {
        bail!(
            "merge: shard reports of different splits ({} and {})",
            a.shard,
            b.shard
        );
    }
    let key = |s: &str| s.split_once('/').and_then(|(k, _)| k.parse::<usize>().ok());
    runs.sort_by_key(|r| key(&r.shard));
    if let Some(w) = runs.windows(2).find(|w| w[0].shard == w[1].shard) {
        bail!("merge: two reports of shard {}", w[0].shard);
    }
    if reports.iter().all(|r| !r.shards.is_empty()) {
        let unrun: Vec<&str> = cells
            .iter()
            .filter(|c| c.status == Status::Skipped)
            .map(|c| c.id.as_str())
            .collect();
        if !unrun.is_empty() {
            bail!(
                "merge: no shard ran {} (a shard's report is missing, or the shards split the matrix differently: give each job the plan's --shard-cells)",
                unrun.join(", ")
            );
        }
    }
    Ok(runs)
}

/// `kind: what it is about` (names escaped).
fn finding_line(f: &Finding) -> String {
    match f.subject() {
        Some(s) => format!("{}: {s}", f.kind),
        None => f.kind.to_string(),
    }
}

/// The summary for people: a line per cell, or for a large report (see
/// [`grouped::at_scale`]) the cells grouped by status and findings, each
/// shown by the option values where it differs from most cells; then the
/// details of each failing cell (of each group's first cell).
pub(crate) fn print_human(r: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    if grouped::at_scale(r) {
        print_grouped(r, out)?;
    } else {
        let w = r.cells.iter().map(|c| c.id.len()).max().unwrap_or(4).max(4);
        let sizes = SizeColumns::of(r);
        let head = sizes.columns("FLASH", "RAM");
        writeln!(out, "{:w$}  STATUS  TIME     {head}FINDINGS", "CELL")?;
        for (c, (flash, ram)) in r.cells.iter().zip(&sizes.figures) {
            let what = found(c);
            let (id, status, time) = (&c.id, styled_status(c.status), time(c));
            let size = sizes.columns(flash, ram);
            writeln!(out, "{id:w$}  {status}   {time:<7}  {size}{what}")?;
        }
        for c in r
            .cells
            .iter()
            .filter(|c| !c.findings.is_empty() || c.error.is_some())
        {
            writeln!(out)?;
            print_details(c, out)?;
        }
    }
    let s = &r.summary;
    writeln!(out)?;
    for [shard, cells, expected, took] in shard_rows(r) {
        writeln!(
            out,
            "shard {shard}: {cells} cells, expected {expected}, took {took} (cell times summed)"
        )?;
    }
    writeln!(
        out,
        "{} cells: {} pass, {} fail, {} error, {} skipped",
        s.cells, s.pass, s.fail, s.error, s.skipped
    )
}

/// Each shard's run for people: shard, cells, expected time, time taken.
pub(crate) fn shard_rows(r: &Report) -> impl Iterator<Item = [String; 4]> + '_ {
    r.shards.iter().map(|sh| {
        [
            sh.shard.clone(),
            sh.cells.to_string(),
            crate::model::expected_text(sh.expected_ms),
            crate::model::human_ms(sh.duration_ms),
        ]
    })
}

/// What a cell found, in one line: its error's first line, or its
/// findings (`undefined-symbol: x; …`).
fn found(c: &CellOutcome) -> String {
    match &c.error {
        Some(e) => e.lines().next().unwrap_or_default().to_owned(),
        None => c
            .findings
            .iter()
            .map(finding_line)
            .collect::<Vec<_>>()
            .join("; "),
    }
}

/// The flash and RAM columns of the summary (with the change against the
/// baseline), when any cell has a size.
struct SizeColumns {
    /// Each cell's flash and RAM, as shown.
    figures: Vec<(String, String)>,
    flash_width: usize,
    ram_width: usize,
}

impl SizeColumns {
    fn of(r: &Report) -> Self {
        let figures: Vec<(String, String)> = r
            .cells
            .iter()
            .map(|c| sizes::figures(c.size.as_ref()))
            .collect();
        let flash_width = figures.iter().map(|f| f.0.len()).max().unwrap_or(0);
        let ram_width = figures.iter().map(|f| f.1.len()).max().unwrap_or(0);
        Self {
            figures,
            flash_width,
            ram_width,
        }
    }

    /// `flash  ram  `, right-aligned; nothing when no cell has a size.
    fn columns(&self, flash: &str, ram: &str) -> String {
        if self.flash_width == 0 {
            return String::new();
        }
        let (fw, rw) = (self.flash_width.max(5), self.ram_width.max(3));
        format!("{flash:>fw$}  {ram:>rw$}  ")
    }
}

/// How long a cell took, or `cached`.
fn time(c: &CellOutcome) -> String {
    if c.cached {
        "cached".to_owned()
    } else {
        format!("{:.1}s", c.duration_ms as f64 / 1000.0)
    }
}

/// Passing cells listed one per line up to this many; past it, counted.
const LISTED_PASSING: usize = 24;

fn print_grouped(r: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    let v = grouped::Variation::of(r);
    let groups = grouped::groups(r);
    writeln!(
        out,
        "cells by status and findings, each by the values where it differs from most cells ({})",
        v.common_words().join(" ")
    )?;
    let w = r
        .cells
        .iter()
        .map(|c| v.label(c).len())
        .max()
        .unwrap_or(0)
        .min(72);
    for g in &groups {
        let n = g.cells.len();
        let cells = if n == 1 { "cell" } else { "cells" };
        let what = g.cells.first().map(|c| found(c)).unwrap_or_default();
        let line = format!("{} {n} {cells}  {what}", styled_status(g.status));
        writeln!(out, "{}", line.trim_end())?;
        if g.status == Status::Pass && n > LISTED_PASSING {
            writeln!(out, "  (listed in the JSON and HTML reports)")?;
            continue;
        }
        for c in &g.cells {
            let (flash, ram) = sizes::figures(c.size.as_ref());
            let size = if c.size.is_some() {
                format!("  flash {flash}, ram {ram}")
            } else {
                String::new()
            };
            writeln!(out, "  {:w$}  {}{size}", v.label(c), time(c))?;
        }
    }
    for g in groups.iter().filter(|g| g.status != Status::Pass) {
        let Some(first) = g.cells.first() else {
            continue;
        };
        if first.findings.is_empty() && first.error.is_none() {
            continue;
        }
        writeln!(out)?;
        print_details(first, out)?;
        if g.cells.len() > 1 {
            writeln!(
                out,
                "  the same in {} more cells of this group (above)",
                g.cells.len() - 1
            )?;
        }
    }
    Ok(())
}

/// A failing cell in full: target, features, settings, error, each
/// finding with its references and chain, and the reproduce command.
fn print_details(c: &CellOutcome, out: &mut dyn Write) -> std::io::Result<()> {
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
    let s = &c.settings;
    let env: Vec<String> = s.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    for (what, items) in [
        ("env", env),
        ("rustflags", s.rustflags.clone()),
        ("cargo args", s.cargo_args.clone()),
    ] {
        if !items.is_empty() {
            writeln!(out, "  {what}: {}", items.join(" "))?;
        }
    }
    if let Some(e) = &c.error {
        writeln!(out, "  error: {e}")?;
    }
    for f in &c.findings {
        let base = if f.baseline { " (baseline)" } else { "" };
        writeln!(out, "  {}{base}", finding_line(f))?;
        for rf in &f.referenced_by {
            writeln!(out, "    {}", formats::where_line(f, rf))?;
            if let Some(o) = &rf.object {
                writeln!(out, "      in {}", crate::model::escape_controls(o))?;
            }
        }
        for l in f.detail_lines() {
            writeln!(out, "    {l}")?;
        }
        if let Some(at) = &f.at {
            let same = f.referenced_by.first().is_some_and(|r| {
                r.file.as_deref() == Some(at.file.as_str()) && r.line == Some(at.line)
            });
            if !same {
                writeln!(out, "    from {}:{} (in this project)", at.file, at.line)?;
            }
        }
        if !f.chain.is_empty() {
            writeln!(out, "    chain: {}", formats::chain_line(f, " -> "))?;
        }
        if let Some(msg) = &f.message {
            for l in msg.lines().take(16) {
                writeln!(out, "    | {l}")?;
            }
        }
    }
    writeln!(out, "  reproduce: {}", c.reproduce)
}

/// The exit code a report calls for: 2 if the tool could not finish a
/// cell, else 1 for any failing cell (not accepted by a baseline), else 0.
pub(crate) fn exit_code(r: &Report) -> u8 {
    if r.cells.iter().any(|c| c.status == Status::Error) {
        2
    } else {
        u8::from(r.cells.iter().any(|c| c.status == Status::Fail))
    }
}

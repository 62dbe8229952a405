//! `init`, `inspect` and `explain`: the commands that read or write one
//! file rather than run the matrix.
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::cli::{CheckFormat, Cli, ExplainArgs, InitArgs, InspectArgs};
use crate::model::display_path;
use crate::{cache, explain as parser, init as writer, inspect as reader};

/// `init`: write a matrix for the crate.
pub(super) fn init(cli: &Cli, args: &InitArgs, out: &mut dyn Write) -> Result<u8> {
    let manifest = cli
        .manifest_path
        .clone()
        .unwrap_or_else(|| PathBuf::from("Cargo.toml"));
    let manifest = std::path::absolute(&manifest)?;
    let pkg = match &args.package {
        Some(name) => crate::config::member(&manifest, name),
        None => crate::config::package_at(&manifest).map_err(|e| {
            if e.contains("virtual workspace") {
                format!("{e}; pass --package NAME")
            } else {
                e
            }
        }),
    }
    .map_err(|e| anyhow::anyhow!("init: {e}"))?;
    let dir = manifest.parent().unwrap_or(Path::new(".")).to_path_buf();
    let dest = dir.join("linkmatrix.yaml");
    if dest.exists() && !args.force {
        bail!("{} exists; --force overwrites it", dest.display());
    }
    // The crate as the matrix names it: `.`, a path under this directory,
    // else the package name (found in the workspace when the matrix loads).
    let pkg_dir = pkg.manifest.parent().unwrap_or(Path::new("."));
    let krate = match pkg_dir.strip_prefix(&dir) {
        Ok(rel) if rel.as_os_str().is_empty() => ".".to_owned(),
        Ok(rel) => rel.display().to_string(),
        Err(_) => pkg.name.clone(),
    };
    // A binary on a firmware runtime is firmware that cargo links.
    let mode = args.mode.clone().unwrap_or_else(|| {
        if !pkg.bins.is_empty() && pkg.runtime.is_some() {
            "bin".to_owned()
        } else {
            "image".to_owned()
        }
    });
    let (targets, why) = if args.targets.is_empty() {
        default_targets(&dir, pkg.runtime.as_deref().filter(|_| mode == "bin"))
    } else {
        (args.targets.clone(), None)
    };
    // A target must be one `check` will find: the crate's own
    // targets/<name>.yaml, or a bundled one.
    for t in &targets {
        let own = dir.join("targets").join(format!("{t}.yaml"));
        if !own.is_file()
            && let Err(e) = crate::config::bundled_target(t)
        {
            bail!("init --target {t}: {e}");
        }
    }
    let model = writer::analyze(&pkg);
    let written: Vec<writer::Target> = targets
        .iter()
        .map(|t| writer::Target {
            name: t.clone(),
            has_std: has_std(&dir, t),
        })
        .collect();
    let text = writer::render(&pkg, &model, &krate, &written, &mode, why.as_deref())?;
    cache::write_atomic(&dest, text.as_bytes())?;
    writeln!(out, "wrote {}", display_path(&dest))?;
    say_plan(&dest, &model, &written, &mut anstream::stderr())?;
    Ok(0)
}

/// Whether target `name`, as the matrix in `dir` finds it, has a standard
/// library: not when its triple is bare metal (`*-none*`: `thumbv7em-none-eabihf`,
/// `x86_64-unknown-none`), judged by the name when the file does not load.
fn has_std(dir: &Path, name: &str) -> bool {
    crate::config::target_in(name, Some(dir))
        .map_or_else(|_| !name.contains("-none"), |t| !t.triple.contains("-none"))
}

/// What the written matrix holds, on stderr: its families, implied
/// features and the features left off targets without `std`, and for a covering plan how many cells it chose and what they
/// cover. The file is loaded and planned as `plan` would: a matrix `init`
/// writes that does not run as written is an error here, not later.
fn say_plan(
    dest: &Path,
    model: &writer::Model,
    targets: &[writer::Target],
    err: &mut dyn Write,
) -> Result<()> {
    for n in &model.notes {
        writeln!(err, "init: {n}")?;
    }
    if let Some(line) = writer::std_excluded(model, targets) {
        writeln!(err, "init: {line}")?;
    }
    for f in &model.families {
        writeln!(
            err,
            "init: `{}`: {} features of which at most one is on ({})",
            f.name,
            f.members.len(),
            f.why
        )?;
    }
    if !model.depends.is_empty() {
        let names: Vec<&str> = model.depends.keys().map(String::as_str).collect();
        writeln!(
            err,
            "init: `depends-on` for features that turn on or need others: {}",
            names.join(", ")
        )?;
    }
    let matrix = crate::config::load(dest, &crate::config::LoadOptions::default())
        .map_err(|e| anyhow::anyhow!("init wrote a matrix that does not load (a bug):\n{e}"))?;
    let planned = crate::plan::expand_planned(matrix, crate::plan::Limits::default())
        .map_err(|e| anyhow::anyhow!("init wrote a matrix that does not plan (a bug): {e}"))?;
    if let Some(covers) = crate::plan::describe(&planned.summary) {
        writeln!(
            err,
            "init: `cover: {}`: {} cells {covers}",
            planned.summary.cover,
            planned.plan.cells.len()
        )?;
    }
    Ok(())
}

/// The targets `init` writes when none are named: `build.target` of the
/// nearest `.cargo/config.toml` (or `config`) from the crate's directory
/// up, when bundled; else, for firmware on `runtime`, that runtime's
/// usual triples; else two generic bare-metal triples, one 32-bit ARM
/// and one x86-64. With the reason, for a comment in the file.
fn default_targets(dir: &Path, runtime: Option<&str>) -> (Vec<String>, Option<String>) {
    for d in dir.ancestors() {
        for name in ["config.toml", "config"] {
            let f = d.join(".cargo").join(name);
            let Some(table) = std::fs::read_to_string(&f)
                .ok()
                .and_then(|t| t.parse::<toml::Table>().ok())
            else {
                continue;
            };
            let Some(target) = table.get("build").and_then(|b| b.get("target")) else {
                continue;
            };
            let named: Vec<String> = match target {
                toml::Value::String(s) => vec![s.clone()],
                toml::Value::Array(a) => a
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect(),
                _ => Vec::new(),
            };
            let known: Vec<String> = named
                .into_iter()
                .filter(|t| crate::config::bundled_target(t).is_ok())
                .collect();
            if !known.is_empty() {
                return (known, Some(format!("build.target of {}", display_path(&f))));
            }
        }
    }
    let usual: &[&str] = match runtime {
        Some("cortex-m-rt") => &["thumbv6m-none-eabi", "thumbv7em-none-eabihf"],
        Some("riscv-rt" | "esp-riscv-rt") => &["riscv32imac-unknown-none-elf"],
        Some("cortex-r-rt") => &["armv7r-none-eabihf"],
        Some("cortex-a-rt") => &["armv7a-none-eabi"],
        _ => &[],
    };
    if let Some(rt) = runtime
        && !usual.is_empty()
    {
        return (
            usual.iter().map(|t| (*t).to_owned()).collect(),
            Some(format!(
                "triples {rt} supports; `init --target NAME` picks others"
            )),
        );
    }
    (
        vec![
            "armv7a-none-eabi".to_owned(),
            "x86_64-unknown-none".to_owned(),
        ],
        Some("generic bare-metal triples; `init --target NAME` picks others".to_owned()),
    )
}

/// `inspect FILE…`.
pub(super) fn inspect(args: &InspectArgs, out: &mut dyn Write) -> Result<u8> {
    if args.size {
        return sizes(args, out);
    }
    let reports = reader::inspect_files(&args.files, args.symbols_only);
    match args.format {
        CheckFormat::Json => {
            // Buffered: serde_json writes piece by piece, and each write
            // to the terminal stream takes its lock and scans for colour.
            let mut buf = std::io::BufWriter::with_capacity(1 << 16, &mut *out);
            serde_json::to_writer_pretty(&mut buf, &reports)?;
            writeln!(buf)?;
            buf.flush()?;
        }
        CheckFormat::Human => reader::print_human(&reports, out)?,
    }
    // Every file is reported; one that could not be read is said on
    // stderr (and in the JSON) and makes the run fail.
    let mut failed = 0;
    for r in &reports {
        for w in &r.warnings {
            let _ = writeln!(anstream::stderr(), "warning: {w}");
        }
        if let Some(e) = &r.error {
            failed = super::user_error(e);
        }
    }
    Ok(failed)
}

/// `inspect --size [--memory SCRIPT] [--input ARCHIVE]... FILES`.
fn sizes(args: &InspectArgs, out: &mut dyn Write) -> Result<u8> {
    let regions = match &args.memory {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("{}: cannot read", p.display()))?;
            let r = reader::memory::regions(&text);
            if r.is_empty() {
                bail!(
                    "{}: no MEMORY region in it that linkmatrix can read",
                    p.display()
                );
            }
            r
        }
        None => Vec::new(),
    };
    let mut archives = Vec::new();
    for p in &args.inputs {
        archives.push(reader::read_file(p)?);
    }
    let objects = crate::model::ObjectCrates::of_archives(archives.iter().map(Vec::as_slice));
    let reports = reader::size_files(&args.files, &regions, args.top, &objects);
    match args.format {
        CheckFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, &reports)?;
            writeln!(out)?;
        }
        CheckFormat::Human => {
            for (i, r) in reports.iter().enumerate() {
                if let Some(size) = &r.size {
                    if i > 0 {
                        writeln!(out)?;
                    }
                    writeln!(out, "{}:", r.file)?;
                    crate::footprint::print_size(size, out)?;
                }
            }
        }
    }
    let mut failed = 0;
    for e in reports.iter().filter_map(|r| r.error.as_ref()) {
        failed = super::user_error(e);
    }
    Ok(failed)
}

/// `explain [LOG|-]`.
pub(super) fn explain(args: &ExplainArgs, out: &mut dyn Write) -> Result<u8> {
    let explained = match args.log.as_deref().filter(|p| *p != Path::new("-")) {
        Some(p) => {
            let f =
                std::fs::File::open(p).with_context(|| format!("{}: cannot read", p.display()))?;
            parser::explain(&mut std::io::BufReader::with_capacity(1 << 16, f))
                .with_context(|| format!("{}: read failed", p.display()))?
        }
        None => parser::explain(&mut std::io::stdin().lock()).context("reading standard input")?,
    };
    match args.format {
        CheckFormat::Json => {
            let v = serde_json::json!({
                "schema": "linkmatrix/explain/v1",
                "lines": explained.lines,
                "failed": explained.failed,
                "findings": explained.findings,
            });
            serde_json::to_writer_pretty(&mut *out, &v)?;
            writeln!(out)?;
        }
        CheckFormat::Human => parser::print_human(&explained, out)?,
    }
    // A log that shows a failed link is exit 1, whether or not its
    // failure could be named (then it is a `link-error`).
    Ok(u8::from(explained.failed))
}

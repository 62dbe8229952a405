//! `doctor` and `setup`: toolchains per target, and installing what is
//! missing.
use std::io::Write;

use anyhow::Result;

use super::EXIT_TOOL;
use crate::args;
use crate::cli::Cli;
use crate::config;
use crate::model::Target;
use crate::plan::Limits;
use crate::toolchain::{self, Toolchains};

/// Targets for doctor/setup: named ones (the matrix's, else bundled, also
/// where there is no matrix), else the matrix's.
fn targets_for(cli: &Cli, names: &[String]) -> Result<Vec<Target>> {
    let source = match args::matrix_source(cli) {
        Ok(s) => s,
        Err(_) if !names.is_empty() => return names.iter().map(|n| bundled(n)).collect(),
        Err(e) => return Err(e),
    };
    let limits = Limits {
        max_cells: usize::MAX,
        ..Limits::default()
    };
    match args::load_plan(cli, &source, limits)? {
        Ok(p) if names.is_empty() => Ok(p.matrix.targets.into_values().collect()),
        Ok(p) => names
            .iter()
            .map(|n| match p.matrix.targets.get(n) {
                Some(t) => Ok(t.clone()),
                None => bundled(n),
            })
            .collect(),
        Err(e) if names.is_empty() => Err(anyhow::anyhow!("{e}")),
        Err(_) => names.iter().map(|n| bundled(n)).collect(),
    }
}

fn bundled(name: &str) -> Result<Target> {
    config::bundled_target(name).map_err(|e| anyhow::anyhow!("{e}"))
}

/// The matrix's command build, when it has one (its cells need no Rust
/// toolchain: the source tree and packages instead).
fn command_build(cli: &Cli, names: &[String]) -> Option<crate::model::CommandBuild> {
    if !names.is_empty() {
        return None;
    }
    let source = args::matrix_source(cli).ok()?;
    let limits = Limits {
        max_cells: usize::MAX,
        ..Limits::default()
    };
    args::load_plan(cli, &source, limits)
        .ok()?
        .ok()?
        .matrix
        .build
}

/// `doctor [TARGET…]`.
pub(super) fn doctor(cli: &Cli, names: &[String], out: &mut dyn Write) -> Result<u8> {
    if let Some(b) = command_build(cli, names) {
        return Ok(u8::from(!crate::source::doctor(&b, out)?));
    }
    let targets = targets_for(cli, names)?;
    let refs: Vec<&Target> = targets.iter().collect();
    let chains = Toolchains::probe();
    let ok = toolchain::doctor(&refs, &chains, out)?;
    Ok(u8::from(!ok))
}

/// `setup [TARGET…] [--dry-run]`.
pub(super) fn setup(cli: &Cli, names: &[String], dry_run: bool, out: &mut dyn Write) -> Result<u8> {
    if let Some(b) = command_build(cli, names) {
        let ok = crate::source::setup(&b, dry_run, out)?;
        return Ok(if ok { 0 } else { EXIT_TOOL });
    }
    let targets = targets_for(cli, names)?;
    let refs: Vec<&Target> = targets.iter().collect();
    let chains = Toolchains::probe();
    let cmds = toolchain::setup_plan(&refs, &chains);
    if cmds.is_empty() {
        // Nothing to install; still not buildable if a target names a
        // program no package provides: say which, and where.
        let stuck: Vec<(String, Vec<String>)> = refs
            .iter()
            .map(|t| (t.name.clone(), chains.for_target(t).fixes()))
            .filter(|(_, f)| !f.is_empty())
            .collect();
        if stuck.is_empty() {
            writeln!(out, "nothing to install: every target is buildable")?;
            return Ok(0);
        }
        for (name, fixes) in stuck {
            for f in fixes {
                writeln!(out, "{name}: cannot install: {f}")?;
            }
        }
        return Ok(EXIT_TOOL);
    }
    if dry_run {
        for c in &cmds {
            writeln!(out, "{c}")?;
        }
        return Ok(0);
    }
    toolchain::setup(&cmds, out)?;
    let chains = Toolchains::probe();
    let ok = toolchain::doctor(&refs, &chains, out)?;
    Ok(if ok { 0 } else { EXIT_TOOL })
}

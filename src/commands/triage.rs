//! `why`, `diff`, `minimize` and `footprint`: the triage verbs, on the
//! matrix's cells.
use std::io::Write;

use anyhow::Result;

use super::{EXIT_TOOL, user_error};
use crate::args;
use crate::check::CheckOptions;
use crate::cli::{Cli, FootprintArgs};
use crate::model::Plan;
use crate::plan::Limits;
use crate::{process, triage as verbs};

/// The plan and quiet check options the triage verbs run cells with;
/// `None` when the matrix has problems (already printed).
fn setup(cli: &Cli) -> Result<Option<(Plan, CheckOptions)>> {
    let source = args::matrix_source(cli)?;
    let p = match args::load_plan(cli, &source, Limits::default())? {
        Ok(p) => p,
        Err(e) => {
            user_error(&e);
            return Ok(None);
        }
    };
    let opts = args::triage_options(cli, &source);
    let _ = ctrlc::set_handler(process::interrupt);
    Ok(Some((p, opts)))
}

/// `why SYMBOL [--cell ID|GLOB]`.
pub(super) fn why(cli: &Cli, symbol: &str, cell: Option<&str>, out: &mut dyn Write) -> Result<u8> {
    let Some((p, opts)) = setup(cli)? else {
        return Ok(EXIT_TOOL);
    };
    verbs::why(&p, symbol, cell, &opts, out)
}

/// `diff A B`.
pub(super) fn diff(cli: &Cli, a: &str, b: &str, out: &mut dyn Write) -> Result<u8> {
    let Some((p, opts)) = setup(cli)? else {
        return Ok(EXIT_TOOL);
    };
    verbs::diff(&p, a, b, &opts, out)
}

/// `minimize ID`.
pub(super) fn minimize(cli: &Cli, id: &str, out: &mut dyn Write) -> Result<u8> {
    let Some((p, opts)) = setup(cli)? else {
        return Ok(EXIT_TOOL);
    };
    verbs::minimize(&p, id, &opts, out)
}

/// `footprint [REPORT]`.
pub(super) fn footprint(cli: &Cli, args: &FootprintArgs, out: &mut dyn Write) -> Result<u8> {
    let Some((p, opts)) = setup(cli)? else {
        return Ok(EXIT_TOOL);
    };
    let json = args.format == crate::cli::CheckFormat::Json;
    crate::footprint::run::footprint(&p, args.report.as_deref(), &opts, json, out)
}

//! One function per subcommand. Each takes the parsed command line, has
//! `args` resolve what it needs into a stage's options, runs the stages and
//! returns the exit code. Nothing here parses or validates arguments.
mod check;
mod files;
mod toolchain;
mod triage;

use std::io::Write;

use anyhow::Result;
use clap::CommandFactory;

use crate::cli::{Cli, Command};

pub(crate) use crate::model::{EXIT_INTERRUPTED, EXIT_TOOL};

/// Run a parsed command line; the exit code.
pub(crate) fn run(cli: &Cli) -> Result<u8> {
    let mut out = anstream::stdout();
    match &cli.command {
        Command::Plan(args) => check::plan(cli, args, &mut out),
        Command::Check(args) => check::check(cli, args, &mut out),
        Command::Merge(args) => check::merge(args, &mut out),
        Command::Init(args) => files::init(cli, args, &mut out),
        Command::Doctor(args) => toolchain::doctor(cli, &args.targets, &mut out),
        Command::Setup(args) => toolchain::setup(cli, &args.targets, args.dry_run, &mut out),
        Command::Inspect(args) => files::inspect(args, &mut out),
        Command::Explain(args) => files::explain(args, &mut out),
        Command::Why { symbol, cell } => triage::why(cli, symbol, cell.as_deref(), &mut out),
        Command::Diff { a, b } => triage::diff(cli, a, b, &mut out),
        Command::Minimize { id } => triage::minimize(cli, id, &mut out),
        Command::Footprint(args) => triage::footprint(cli, args, &mut out),
        Command::Completions { shell } => {
            clap_complete::generate(*shell, &mut Cli::command(), "linkmatrix", &mut out);
            Ok(0)
        }
        Command::CcArgs { triple, compiler } => {
            crate::toolchain::print_cc_args(triple, compiler, &mut out)?;
            Ok(0)
        }
        Command::Sysroot {
            cargo,
            rustc,
            src,
            triple,
            dir,
        } => {
            crate::toolchain::build_sysroot(cargo, rustc, src, triple, dir)?;
            Ok(0)
        }
    }
}

/// Print a problem in the user's files; exit 2.
fn user_error(e: &dyn std::fmt::Display) -> u8 {
    let _ = writeln!(anstream::stderr(), "error: {e}");
    EXIT_TOOL
}

//! linkmatrix: build a crate across a matrix of configurations, link every
//! cell with a real linker, inspect the ELF, and report undefined and
//! unexported symbol references.
//!
//! The pipeline, one module (or folder) per stage:
//!
//! ```text
//! config ─► plan ─► check: build ─► link ─► inspect ─► findings ─► report
//! ```
//!
//! Shared types live in `model`; every subprocess goes through `process`;
//! toolchains are found and provisioned by `toolchain`. `cli` holds the
//! clap types, `args` resolves them into each stage's options, `commands`
//! has one function per subcommand. `main.rs` only calls [`main_with_args`].
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod cli;
pub mod fuzzing;

mod args;
mod build;
mod bundle;
mod cache;
mod check;
mod commands;
mod config;
mod explain;
mod footprint;
mod init;
mod inspect;
mod link;
mod model;
mod plan;
mod process;
mod relink;
mod report;
mod source;
mod toolchain;
mod triage;
mod workdir;
mod wrapper;

use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, ColorWhen};
use crate::commands::EXIT_TOOL;

/// Parse `args` (accepting the `linkmatrix` word cargo passes to
/// `cargo-linkmatrix`), run, and map the result to an exit code.
pub fn main_with_args(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let mut args: Vec<OsString> = args.into_iter().collect();
    if relink::is_linker(&args) {
        return relink::run_as_linker(&args);
    }
    if wrapper::is_wrapper(&args) {
        return wrapper::run(&args);
    }
    if args.get(1).is_some_and(|a| a == "linkmatrix") {
        args.remove(1);
    }
    let cli = match Cli::try_parse_from(&args) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_TOOL } else { 0 });
        }
    };
    match cli.color {
        ColorWhen::Always => anstream::ColorChoice::Always.write_global(),
        ColorWhen::Never => anstream::ColorChoice::Never.write_global(),
        ColorWhen::Auto => {}
    }
    match commands::run(&cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            // `linkmatrix plan | head`: the reader left; that is not an error.
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            let _ = writeln!(anstream::stderr(), "error: {e:#}");
            ExitCode::from(EXIT_TOOL)
        }
    }
}

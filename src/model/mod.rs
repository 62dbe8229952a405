//! Every data type shared between pipeline stages, defined once: the
//! validated [`Matrix`] and its [`Plan`] of [`Cell`]s, what running a cell
//! produced ([`CellOutcome`], [`Finding`] and the details of each kind of
//! link failure) and the [`Report`], the inspection of an image
//! ([`Analysis`]), [`Problem`]s in the user's files, how a plan is split
//! over CI jobs ([`Shard`]), and the exit codes every part of the program
//! returns.
//!
//! This module holds data and small pure helpers only: no I/O, no process,
//! no terminal.
mod analysis;
mod diag;
mod expr;
mod failure;
mod matrix;
mod outcome;
mod shard;
mod size;

pub(crate) use analysis::*;
pub(crate) use diag::*;
pub(crate) use expr::Expr;
pub(crate) use failure::*;
pub(crate) use matrix::*;
pub(crate) use outcome::*;
pub(crate) use shard::*;
pub(crate) use size::*;

/// Exit code: the tool could not do its job (ripgrep's 2).
pub(crate) const EXIT_TOOL: u8 = 2;
/// Exit code: interrupted (128 + SIGINT, as a shell reports it).
pub(crate) const EXIT_INTERRUPTED: u8 = 130;

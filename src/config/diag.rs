//! Places in a file and the problems found there: every check in `config`
//! reports through a [`Validator`], which collects them all.
use std::path::{Path, PathBuf};

use crate::model::Problem;

/// A 1-based line and column.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Pos {
    pub(super) line: u64,
    pub(super) col: u64,
}

pub(super) fn pos(l: &serde_saphyr::Location) -> Pos {
    Pos {
        line: l.line(),
        col: l.column(),
    }
}

pub(super) fn at(file: &Path, loc: Pos, message: impl Into<String>) -> Problem {
    Problem {
        file: file.to_owned(),
        line: loc.line,
        col: loc.col,
        message: message.into(),
        snippet: None,
    }
}

pub(super) fn whole(file: &Path, message: impl Into<String>) -> Problem {
    Problem {
        file: file.to_owned(),
        line: 0,
        col: 0,
        message: message.into(),
        snippet: None,
    }
}

/// Collects every problem in one file instead of stopping at the first.
pub(super) struct Validator {
    pub(super) file: PathBuf,
    pub(super) problems: Vec<Problem>,
}

impl Validator {
    pub(super) fn push(&mut self, p: Problem) {
        self.problems.push(p);
    }
}

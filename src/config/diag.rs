//! Places in a file and the problems found there: every check in `config`
//! reports through a [`Validator`], which collects them all, each at the
//! span of the value it is about (`v.error(&spanned, message)`).
use std::path::{Path, PathBuf};

use serde_saphyr::Spanned;

use crate::model::Problem;

/// A 1-based line and column; `0:0` ([`Pos::FILE`]) is the whole file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Pos {
    pub(super) line: u64,
    pub(super) col: u64,
}

impl Pos {
    /// No place in particular: a problem about the whole file.
    pub(super) const FILE: Pos = Pos { line: 0, col: 0 };
}

pub(super) fn pos(l: &serde_saphyr::Location) -> Pos {
    Pos {
        line: l.line(),
        col: l.column(),
    }
}

/// Where a problem is: a value as written (its span), or a place.
pub(super) trait Span {
    /// The line and column.
    fn pos(&self) -> Pos;
}

impl<T> Span for Spanned<T> {
    fn pos(&self) -> Pos {
        pos(&self.referenced)
    }
}

impl Span for Pos {
    fn pos(&self) -> Pos {
        *self
    }
}

impl<S: Span + ?Sized> Span for &S {
    fn pos(&self) -> Pos {
        (**self).pos()
    }
}

/// A problem about the whole file.
pub(super) fn whole(file: &Path, message: impl Into<String>) -> Problem {
    Problem {
        file: file.to_owned(),
        line: 0,
        col: 0,
        message: message.into(),
        snippet: None,
    }
}

/// Collects every problem in one file instead of stopping at the first
/// (cargo-deny's validation context): the file, where paths written in
/// it are resolved, and what they may not escape.
pub(super) struct Validator {
    /// The file being validated.
    pub(super) file: PathBuf,
    /// Its directory: relative paths in it start here.
    pub(super) dir: PathBuf,
    /// The project it belongs to: no path in it leads outside.
    pub(super) root: PathBuf,
    /// What was found, in the order it was found.
    pub(super) problems: Vec<Problem>,
}

impl Validator {
    /// A validator for `file`, whose paths stay inside `root`.
    pub(super) fn new(file: &Path, root: &Path) -> Self {
        Self {
            file: file.to_owned(),
            dir: file.parent().unwrap_or(Path::new(".")).to_path_buf(),
            root: root.to_owned(),
            problems: Vec::new(),
        }
    }

    /// Record a problem at `at`: a value's span, or a place.
    pub(super) fn error(&mut self, at: impl Span, message: impl Into<String>) {
        let p = at.pos();
        self.problems.push(Problem {
            file: self.file.clone(),
            line: p.line,
            col: p.col,
            message: message.into(),
            snippet: None,
        });
    }

    /// Record a problem made elsewhere (a parse error, another file's).
    pub(super) fn push(&mut self, p: Problem) {
        self.problems.push(p);
    }
}

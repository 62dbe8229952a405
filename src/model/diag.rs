//! Problems found in the user's files, each at a place: what `config` and
//! `plan` report instead of stopping at the first.
use std::fmt;
use std::path::{Path, PathBuf};

/// One problem at a place in a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Problem {
    /// The file.
    pub(crate) file: PathBuf,
    /// 1-based line, 0 when the problem is about the whole file.
    pub(crate) line: u64,
    /// 1-based column.
    pub(crate) col: u64,
    /// What is wrong, and how to fix it when we know.
    pub(crate) message: String,
    /// A few lines of context, already formatted.
    pub(crate) snippet: Option<String>,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = display_path(&self.file);
        if self.line == 0 {
            write!(f, "{file}: {}", self.message)?;
        } else {
            write!(f, "{file}:{}:{}: {}", self.line, self.col, self.message)?;
        }
        if let Some(s) = &self.snippet {
            write!(f, "\n{s}")?;
        }
        Ok(())
    }
}

/// Every problem found in a matrix and its target files.
#[derive(Debug, thiserror::Error)]
pub(crate) struct ConfigError {
    /// The problems, in file order.
    pub(crate) problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        if n > 1 {
            write!(f, "\n{n} problems")?;
        }
        Ok(())
    }
}

/// A path as the user would type it: relative to the current directory
/// when it is under it.
pub(crate) fn display_path(p: &Path) -> String {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| p.strip_prefix(&cwd).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| p.to_path_buf())
        .display()
        .to_string()
}

/// The closest candidate by edit distance, if it is close enough to be a typo.
pub(crate) fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min()
        .map(|(_, c)| c)
}

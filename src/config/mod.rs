//! Loading matrix files and target files in two phases: parse the YAML
//! into `Raw*` types (`raw`; serde, kebab-case, unknown keys are errors,
//! with depth and alias budgets in `parse`), then validate every field and
//! collect every problem with <file:line:col> before anything runs. Each
//! raw type validates itself (`RawConfig::validate` in `matrix` composes
//! `RawBuild`'s, `RawOption`'s, `RawTarget`'s, …) into a
//! [`diag::Validator`], whose one `error(at, message)` records a problem
//! at a value's span (cargo-deny's `validate(self, &mut ctx)`).
//!
//! This module reads files and asks `cargo metadata` where a crate is given
//! by package name; it never builds, links or prints.
mod build;
mod diag;
mod matrix;
mod names;
mod option;
mod package;
mod parse;
mod raw;
mod rules;
mod settings;
mod size;
mod target;

use std::path::{Path, PathBuf};

use crate::model::{ConfigError, Matrix, Problem};
use diag::{Validator, whole};
pub(crate) use names::{project_root, valid_name};
pub(crate) use package::{Package, member, package_at};
use parse::parse_file;
pub(crate) use parse::parse_text_only;
use raw::RawConfig;
pub(crate) use target::{bundled_target, target_in};

/// Options for loading a matrix.
#[derive(Clone, Debug, Default)]
pub(crate) struct LoadOptions {
    /// The directory paths may not escape (default: the repository that
    /// holds the matrix file, or its directory).
    pub(crate) root: Option<PathBuf>,
}

/// Load and validate a matrix file and its targets; `plan` expands it.
/// Every problem is reported, each at its file:line:col.
pub(crate) fn load(path: &Path, opts: &LoadOptions) -> Result<Matrix, ConfigError> {
    let fail = |p: Problem| ConfigError { problems: vec![p] };
    let shown = path.to_path_buf();
    let path = &std::path::absolute(path)
        .map_err(|e| fail(whole(&shown, format!("cannot resolve: {e}"))))?;
    let (raw, _text): (RawConfig, String) = parse_file(path).map_err(fail)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let root = opts.root.clone().unwrap_or_else(|| project_root(dir));
    let mut v = Validator::new(path, &root);
    let matrix = raw.validate(&mut v);
    if v.problems.is_empty() {
        Ok(matrix)
    } else {
        Err(ConfigError {
            problems: v.problems,
        })
    }
}

#[cfg(test)]
mod tests;

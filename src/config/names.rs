//! What a name, feature, triple, symbol or path in a matrix may be, the
//! project boundary paths may not leave, and the hint for a misspelled
//! name.
use std::path::{Component, Path, PathBuf};

/// The boundary paths in a matrix may not leave, and the directory report
/// paths are relative to: the repository that holds `dir` (nearest
/// ancestor with `.git`), else the cargo workspace that holds it (nearest
/// ancestor whose `Cargo.toml` has `[workspace]`, e.g. an unpacked
/// tarball), else `dir`.
pub(crate) fn project_root(dir: &Path) -> PathBuf {
    let abs = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    abs.ancestors()
        .find(|a| a.join(".git").exists())
        .or_else(|| abs.ancestors().find(|a| is_workspace_root(a)))
        .map_or(abs.clone(), Path::to_path_buf)
}

fn is_workspace_root(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("Cargo.toml"))
        .ok()
        .and_then(|t| t.parse::<toml::Table>().ok())
        .is_some_and(|t| t.contains_key("workspace"))
}

/// Names of options, axes, cells: letters, digits, `-`, `_`, `.`.
pub(crate) fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('-')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// A cargo feature: letters, digits, `-`, `_`, `+`, `/`, not starting with `-`.
pub(crate) fn valid_feature(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '+' | '/'))
}

/// A target triple: letters, digits, `-`, `_`, `.`.
pub(crate) fn valid_triple(s: &str) -> bool {
    valid_name(s) && s.contains('-')
}

pub(super) fn valid_symbol(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('-')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '$'))
}

/// Resolve `rel` against `base`, refusing absolute paths, paths that start
/// with `-`, and paths that leave `root`.
pub(super) fn contained(base: &Path, rel: &str, root: &Path) -> Result<PathBuf, String> {
    if rel.is_empty() {
        return Err("empty path".to_owned());
    }
    if rel.starts_with('-') {
        return Err(format!(
            "path `{rel}` starts with `-` (it would read as a flag)"
        ));
    }
    let p = Path::new(rel);
    if p.is_absolute() {
        return Err(format!(
            "path `{rel}` is absolute; write it relative to the file"
        ));
    }
    let mut out = std::path::absolute(base).map_err(|e| e.to_string())?;
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(n) => out.push(n),
            _ => {}
        }
    }
    let root = std::path::absolute(root).map_err(|e| e.to_string())?;
    if !out.starts_with(&root) {
        return Err(format!(
            "path `{rel}` leaves the project ({})",
            root.display()
        ));
    }
    Ok(out)
}

/// `; did you mean `{c}`?` for the candidate closest to `word`, if one is
/// close enough to be a typo; else nothing.
pub(super) fn did_you_mean(word: &str, candidates: &[&str]) -> String {
    crate::model::closest(word, candidates)
        .map(|c| format!("; did you mean `{c}`?"))
        .unwrap_or_default()
}

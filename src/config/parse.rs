//! Reading a matrix or target file and parsing its YAML with budgets (depth,
//! aliases, events, bytes), so hostile input fails fast with a place.
use std::path::Path;

use serde::Deserialize;

use super::diag::whole;
use super::raw::{RawConfig, RawTarget};
use crate::model::Expr;
use crate::model::Problem;
use crate::model::closest;

/// Matrix and target files larger than this are refused.
const MAX_FILE_BYTES: u64 = 1 << 20;

/// Read a YAML file and parse it with budgets; every failure names the file.
pub(super) fn parse_file<T: for<'de> Deserialize<'de>>(
    path: &Path,
) -> Result<(T, String), Problem> {
    let meta = std::fs::metadata(path).map_err(|e| whole(path, format!("cannot read: {e}")))?;
    if !meta.is_file() {
        return Err(whole(path, "not a regular file"));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(whole(
            path,
            format!(
                "{} bytes: larger than the {MAX_FILE_BYTES}-byte limit for matrix and target files",
                meta.len()
            ),
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| whole(path, format!("cannot read: {e}")))?;
    let text = parse_text(path, &bytes)?;
    let value = parse_str(path, &text)?;
    Ok((value, text))
}

fn parse_text(path: &Path, bytes: &[u8]) -> Result<String, Problem> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(whole(path, "the file is empty"));
    }
    if bytes.contains(&0) {
        return Err(whole(path, "binary file (contains NUL bytes), not YAML"));
    }
    String::from_utf8(bytes.to_vec()).map_err(|e| {
        let off = e.utf8_error().valid_up_to();
        let line = bytes[..off].iter().filter(|&&b| b == b'\n').count() + 1;
        whole(
            path,
            format!("not UTF-8: invalid byte at offset {off} (line {line})"),
        )
    })
}

/// The YAML budgets: tight enough that an alias bomb or 10,000-deep nesting
/// fails in milliseconds and a few MB, loose enough for any real matrix.
fn yaml_options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = 64;
    budget.flow_nesting_limit = 64;
    budget.max_aliases = 1_000;
    budget.max_anchors = 1_000;
    budget.max_events = 1_000_000;
    budget.max_nodes = 250_000;
    budget.max_total_scalar_bytes = 4 << 20;
    budget.max_documents = 1;
    let mut opts = serde_saphyr::Options::default();
    opts.budget = Some(budget);
    opts.alias_limits.max_total_replayed_events = 100_000;
    opts.alias_limits.max_replay_stack_depth = 16;
    opts.duplicate_keys = serde_saphyr::options::DuplicateKeyPolicy::Error;
    opts
}

/// Parse YAML text; the error names <file:line:col>, with a suggestion for a
/// misspelled key and the first place of a duplicate key.
pub(crate) fn parse_str<T: for<'de> Deserialize<'de>>(
    path: &Path,
    text: &str,
) -> Result<T, Problem> {
    // First the shape alone, so that depth and alias budgets trip before any
    // type error can stop the parse early; then the real types.
    serde_saphyr::from_str_with_options::<serde::de::IgnoredAny>(text, yaml_options())
        .and_then(|_| serde_saphyr::from_str_with_options(text, yaml_options()))
        .map_err(|e| {
            let full = e.to_string();
            let mut lines = full.lines();
            let first = lines.next().unwrap_or_default();
            // "error: line 5 column 5: message"
            let message = first
                .split_once(": ")
                .map_or(first, |(_, rest)| {
                    rest.split_once(": ").map_or(rest, |(_, m)| m)
                })
                .to_owned();
            let file = crate::model::display_path(path);
            // A few lines of context, each cut to a readable width.
            let snippet: Vec<String> = lines
                .take(8)
                .map(|l| {
                    let l = l.replace("<input>", &file);
                    match l.char_indices().nth(160) {
                        Some((i, _)) => format!("{}…", &l[..i]),
                        None => l,
                    }
                })
                .collect();
            let (line, col) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
            let mut message = explain_yaml_error(&message, text, line, col);
            if line == 0 && message.is_empty() {
                first.clone_into(&mut message);
            }
            Problem {
                file: path.to_owned(),
                line,
                col,
                message,
                snippet: (!snippet.is_empty()).then(|| snippet.join("\n")),
            }
        })
}

fn explain_yaml_error(message: &str, text: &str, line: u64, col: u64) -> String {
    // serde: "unknown field `depend-on`, expected one of `a`, `b`"
    if let Some(rest) = message.strip_prefix("unknown field `")
        && let Some((field, expected)) = rest.split_once('`')
    {
        let candidates: Vec<&str> = expected
            .split(|c: char| c == ',' || c.is_whitespace() || c == '`')
            .filter(|w| !w.is_empty() && *w != "expected" && *w != "one" && *w != "of")
            .collect();
        if let Some(best) = closest(field, &candidates) {
            return format!("{message}; did you mean `{best}`?");
        }
    }
    if let Some(key) = message.strip_prefix("duplicate mapping key: ") {
        let key = key.split(',').next().unwrap_or(key).trim();
        if let Some(first) = first_key_line(text, key, line, col) {
            return format!("duplicate key `{key}` (first defined at line {first}, column {col})");
        }
        return format!("duplicate key `{key}`");
    }
    message.to_owned()
}

/// Where a duplicate block-mapping key first appeared: the nearest earlier
/// line with the same indentation and key, inside the same parent.
pub(super) fn first_key_line(text: &str, key: &str, line: u64, col: u64) -> Option<u64> {
    let lines: Vec<&str> = text.lines().collect();
    let indent = usize::try_from(col.checked_sub(1)?).ok()?;
    let upto = usize::try_from(line.checked_sub(1)?).ok()?;
    for i in (0..upto.min(lines.len())).rev() {
        let l = lines[i];
        let trimmed = l.trim_start();
        let this = l.len() - trimmed.len();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let body = trimmed.strip_prefix("- ").unwrap_or(trimmed);
        if this == indent || (this + 2 == indent && trimmed.starts_with("- ")) {
            let k = body
                .split(':')
                .next()
                .unwrap_or("")
                .trim()
                .trim_matches(['"', '\'']);
            if k == key {
                return Some(i as u64 + 1);
            }
        } else if this < indent {
            return None;
        }
    }
    None
}

/// Parse a matrix or target file's text, and every rule expression in it,
/// without touching the file system: the pure part of loading (what the
/// config fuzz target drives). Returns how many expressions parsed.
pub(crate) fn parse_text_only(path: &Path, bytes: &[u8]) -> Result<usize, Problem> {
    let text = parse_text(path, bytes)?;
    if text.contains("triple:") {
        let _: RawTarget = parse_str(path, &text)?;
        return Ok(0);
    }
    let raw: RawConfig = parse_str(path, &text)?;
    let mut n = 0;
    for (_, opt) in &raw.options {
        let o = &opt.value;
        let exprs = o
            .depends_on
            .iter()
            .chain(o.default.iter())
            .chain(o.defaults.iter().map(|d| &d.cond));
        for e in exprs {
            if Expr::parse(&e.value).is_ok() {
                n += 1;
            }
        }
    }
    Ok(n)
}

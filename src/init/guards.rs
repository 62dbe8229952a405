//! `compile_error!` guards over cargo features in a crate's own sources:
//! `#[cfg(all(feature = "a", feature = "b"))] compile_error!(…)` says `a`
//! and `b` may not be on together; `#[cfg(any(all(…), all(…)))]` says it
//! of several sets; `#[cfg(not(any(feature = "a", feature = "b")))]` says
//! one of them must be on; `#[cfg(all(feature = "a", not(feature =
//! "b")))]` says `a` needs `b`. Predicates over anything but features
//! (`target_arch`, `test`) are left alone.
//!
//! Reads the files it is given (bounded in number and size); never runs
//! anything.
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Source files read at most, and bytes per file.
const MAX_FILES: usize = 2_000;
const MAX_BYTES: u64 = 2 << 20;
/// A predicate whose disjunctive form passes this many terms is skipped.
const MAX_TERMS: usize = 512;

/// What the guards say.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Guards {
    /// Sets of features that may not all be on, with where it is said
    /// (`src/lib.rs:12`).
    pub(crate) conflicts: Vec<(BTreeSet<String>, String)>,
    /// Sets of features of which one must be on, with where.
    pub(crate) required: Vec<(BTreeSet<String>, String)>,
    /// A feature, the features of which it needs one, and where.
    pub(crate) needs: Vec<(String, BTreeSet<String>, String)>,
}

/// A `cfg` predicate.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Pred {
    Feature(String),
    /// Anything that is not a feature: unknown in this analysis.
    Other,
    All(Vec<Pred>),
    Any(Vec<Pred>),
    Not(Box<Pred>),
}

/// One conjunction: features on, features off, and whether it also needs
/// something that is not a feature.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Term {
    on: BTreeSet<String>,
    off: BTreeSet<String>,
    other: bool,
}

/// The predicate as an or of ands (`None` when too large).
fn dnf(p: &Pred, negated: bool) -> Option<Vec<Term>> {
    let and = |parts: &[Pred], neg: bool| -> Option<Vec<Term>> {
        let mut acc = vec![Term::default()];
        for q in parts {
            let terms = dnf(q, neg)?;
            let mut next = Vec::new();
            for a in &acc {
                for b in &terms {
                    next.push(Term {
                        on: a.on.union(&b.on).cloned().collect(),
                        off: a.off.union(&b.off).cloned().collect(),
                        other: a.other || b.other,
                    });
                }
            }
            if next.len() > MAX_TERMS {
                return None;
            }
            acc = next;
        }
        Some(acc)
    };
    let or = |parts: &[Pred], neg: bool| -> Option<Vec<Term>> {
        let mut out = Vec::new();
        for q in parts {
            out.extend(dnf(q, neg)?);
            if out.len() > MAX_TERMS {
                return None;
            }
        }
        Some(out)
    };
    match (p, negated) {
        (Pred::Feature(f), false) => Some(vec![Term {
            on: BTreeSet::from([f.clone()]),
            ..Term::default()
        }]),
        (Pred::Feature(f), true) => Some(vec![Term {
            off: BTreeSet::from([f.clone()]),
            ..Term::default()
        }]),
        (Pred::Other, _) => Some(vec![Term {
            other: true,
            ..Term::default()
        }]),
        (Pred::Not(q), n) => dnf(q, !n),
        (Pred::All(v), false) | (Pred::Any(v), true) => and(v, negated),
        (Pred::Any(v), false) | (Pred::All(v), true) => or(v, negated),
    }
}

/// Tokens of a `cfg(...)` predicate.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Tok {
    Ident(String),
    Str(String),
    Open,
    Close,
    Comma,
    Eq,
}

/// The tokens from `text` up to the `)` that closes the `cfg(`, and the
/// byte length read; `None` when it is not a predicate.
fn lex(text: &str) -> Option<(Vec<Tok>, usize)> {
    let b = text.as_bytes();
    let (mut i, mut depth, mut out) = (0, 1usize, Vec::new());
    while i < b.len() {
        let c = b[i];
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'(' => {
                depth += 1;
                out.push(Tok::Open);
                i += 1;
            }
            b')' => {
                depth -= 1;
                i += 1;
                if depth == 0 {
                    return Some((out, i));
                }
                out.push(Tok::Close);
            }
            b',' => {
                out.push(Tok::Comma);
                i += 1;
            }
            b'=' => {
                out.push(Tok::Eq);
                i += 1;
            }
            b'"' => {
                let end = text[i + 1..].find('"')? + i + 1;
                out.push(Tok::Str(text[i + 1..end].to_owned()));
                i = end + 1;
            }
            c if c.is_ascii_alphanumeric() || c == b'_' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                out.push(Tok::Ident(text[start..i].to_owned()));
            }
            _ => return None,
        }
    }
    None
}

fn parse(toks: &[Tok], at: &mut usize, depth: usize) -> Option<Pred> {
    if depth > 32 {
        return None;
    }
    let Tok::Ident(name) = toks.get(*at)? else {
        return None;
    };
    *at += 1;
    match toks.get(*at) {
        Some(Tok::Eq) => {
            let Some(Tok::Str(v)) = toks.get(*at + 1) else {
                return None;
            };
            *at += 2;
            Some(if name == "feature" {
                Pred::Feature(v.clone())
            } else {
                Pred::Other
            })
        }
        Some(Tok::Open) => {
            *at += 1;
            let mut args = Vec::new();
            while toks.get(*at) != Some(&Tok::Close) {
                args.push(parse(toks, at, depth + 1)?);
                if toks.get(*at) == Some(&Tok::Comma) {
                    *at += 1;
                }
            }
            *at += 1;
            match name.as_str() {
                "all" => Some(Pred::All(args)),
                "any" => Some(Pred::Any(args)),
                "not" if args.len() == 1 => Some(Pred::Not(Box::new(args.remove(0)))),
                _ => None,
            }
        }
        _ => Some(Pred::Other),
    }
}

/// `text` from `i` on, past whitespace, comments and other attributes.
fn skip_trivia(text: &str, mut i: usize) -> usize {
    loop {
        let rest = &text[i..];
        let trimmed = rest.trim_start();
        i += rest.len() - trimmed.len();
        if trimmed.starts_with("//") {
            i += trimmed.find('\n').unwrap_or(trimmed.len());
        } else if trimmed.starts_with("/*") {
            i += trimmed.find("*/").map_or(trimmed.len(), |e| e + 2);
        } else if trimmed.starts_with("#[") && !trimmed.starts_with("#[cfg(") {
            i += trimmed.find(']').map_or(trimmed.len(), |e| e + 1);
        } else {
            return i;
        }
    }
}

/// The guards in one file's text; `file` names it in the places.
fn scan_text(text: &str, file: &str, out: &mut Guards) {
    let mut from = 0;
    while let Some(pos) = text[from..].find("#[cfg(") {
        let start = from + pos;
        from = start + 6;
        let Some((toks, len)) = lex(&text[from..]) else {
            continue;
        };
        let close = from + len;
        let Some(bracket) = text[close..].trim_start().strip_prefix(']') else {
            continue;
        };
        let after = skip_trivia(text, text.len() - bracket.len());
        let next = &text[after..];
        let guarded = [
            "compile_error!",
            "core::compile_error!",
            "std::compile_error!",
        ]
        .iter()
        .any(|m| next.starts_with(m));
        if !guarded {
            continue;
        }
        let mut at = 0;
        let Some(pred) = parse(&toks, &mut at, 0).filter(|_| at == toks.len()) else {
            continue;
        };
        let line = text[..start].matches('\n').count() + 1;
        let place = format!("{file}:{line}");
        for t in dnf(&pred, false).unwrap_or_default() {
            if t.other {
                continue;
            }
            match (t.on.len(), t.off.is_empty()) {
                (n, true) if n >= 2 => out.conflicts.push((t.on, place.clone())),
                (0, false) => out.required.push((t.off, place.clone())),
                (1, false) => {
                    let f = t.on.into_iter().next().unwrap_or_default();
                    out.needs.push((f, t.off, place.clone()));
                }
                _ => {}
            }
        }
    }
}

/// Every `.rs` file under the directories of `roots` (target source
/// files), bounded.
fn source_files(roots: &[PathBuf]) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = roots
        .iter()
        .filter_map(|r| r.parent().map(Path::to_path_buf))
        .collect();
    dirs.sort();
    dirs.dedup();
    let mut out = BTreeSet::new();
    let mut stack = dirs;
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() && e.file_name() != "target" {
                stack.push(p);
            } else if ft.is_file() && p.extension().is_some_and(|x| x == "rs") {
                out.insert(p);
            }
            if out.len() >= MAX_FILES {
                return out.into_iter().collect();
            }
        }
    }
    out.into_iter().collect()
}

/// The guards in the sources under `roots` (a package's target source
/// files), places relative to `base`.
pub(crate) fn scan(roots: &[PathBuf], base: &Path) -> Guards {
    let mut out = Guards::default();
    for f in source_files(roots) {
        if std::fs::metadata(&f).map_or(true, |m| m.len() > MAX_BYTES) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        let shown = f.strip_prefix(base).unwrap_or(&f).display().to_string();
        scan_text(&text, &shown, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn guards_in_their_usual_forms() {
        let text = r#"
#[cfg(all(feature = "a", feature = "b"))]
compile_error!("a and b");

#[cfg(any(all(feature = "x", feature = "y"), all(feature = "x", feature = "z"),
          all(feature = "y", feature = "z")))]
// one of them
core::compile_error!("pick one of x, y, z");

#[cfg(not(any(feature = "x", feature = "y", feature = "z")))]
compile_error!("need one");

#[cfg(all(feature = "net", not(feature = "alloc")))]
compile_error!("net needs alloc");

#[cfg(all(feature = "a", target_arch = "arm"))]
compile_error!("not on arm");

#[cfg(all(feature = "p", feature = "q"))]
fn not_a_guard() {}
"#;
        let mut g = Guards::default();
        scan_text(text, "src/lib.rs", &mut g);
        let conflicts: Vec<BTreeSet<String>> = g.conflicts.iter().map(|c| c.0.clone()).collect();
        assert_eq!(
            conflicts,
            [
                set(&["a", "b"]),
                set(&["x", "y"]),
                set(&["x", "z"]),
                set(&["y", "z"])
            ]
        );
        assert_eq!(g.conflicts[0].1, "src/lib.rs:2");
        assert_eq!(
            g.required,
            [(set(&["x", "y", "z"]), "src/lib.rs:10".to_owned())]
        );
        assert_eq!(
            g.needs,
            [(
                "net".to_owned(),
                set(&["alloc"]),
                "src/lib.rs:13".to_owned()
            )]
        );
    }
}

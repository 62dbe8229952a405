//! MSVC link.exe: `main.obj : error LNK2019: unresolved external symbol
//! "readable" (decorated) referenced in function "readable" (decorated)`,
//! LNK2001, LNK2005 (`… already defined in b.obj`), LNK1104/LNK1181
//! (`cannot open file 'x.lib'`) and the summaries LNK1120/LNK1169; any
//! other `error LNK…` is a link error. MSBuild's `1>` prefix is taken off
//! before a line gets here, and its ` [project.vcxproj]` suffix here.
//!
//! A name keeps its decorated form as the symbol and the log's readable
//! form, without quotes, access, return type or calling convention, as its
//! demangled form (`Meter::Read(void)const`): the log always carries it
//! for a decorated name, so no MSVC demangler is needed.
use super::collect::Collector;
use super::loc::{Site, quoted};
use super::{Family, Line, demangle_any, gnu};
use crate::model::{FindingKind, MissingInput};

#[derive(Default)]
pub(super) struct Msvc;

/// `"public: int __cdecl Meter::Read(void)const "` → `Meter::Read(void)const`;
/// data (`int g_count`) → its name.
fn readable(s: &str) -> String {
    let mut s = s.trim();
    for p in ["public: ", "private: ", "protected: "] {
        s = s.strip_prefix(p).unwrap_or(s);
    }
    for p in ["static ", "virtual "] {
        s = s.strip_prefix(p).unwrap_or(s);
    }
    // A function's name follows its calling convention; the return type
    // is before it.
    for cc in [
        "__cdecl ",
        "__stdcall ",
        "__fastcall ",
        "__thiscall ",
        "__vectorcall ",
        "__clrcall ",
    ] {
        if let Some(p) = s.find(cc)
            && (p == 0 || s.as_bytes()[p - 1] == b' ')
        {
            return s[p + cc.len()..].trim().to_owned();
        }
    }
    // Data: the last word outside template brackets.
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '<' | '(' => depth += 1,
            '>' | ')' => depth -= 1,
            ' ' if depth == 0 => start = i + 1,
            _ => {}
        }
    }
    s[start..].trim().to_owned()
}

/// `"readable" (decorated)` → (decorated, readable); a plain name → itself.
fn name(s: &str) -> (String, Option<String>) {
    let s = s.trim();
    if s.starts_with('"')
        && let Some((shown, after)) = quoted(s)
    {
        let decorated = after
            .trim()
            .strip_prefix('(')
            .and_then(|d| d.strip_suffix(')'))
            .map(str::trim);
        let shown = readable(shown);
        return match decorated {
            Some(d) => (d.to_owned(), Some(shown)),
            None => (shown, None),
        };
    }
    (s.to_owned(), None)
}

impl Family for Msvc {
    fn take(&mut self, line: &Line<'_>, out: &mut Collector) -> bool {
        let mut t = line.text;
        if t.ends_with("proj]")
            && let Some(p) = t.rfind(" [")
        {
            t = &t[..p];
        }
        let Some((who, msg)) = t.split_once(" : ") else {
            return false;
        };
        let msg = msg.trim_start();
        let (warning, msg) = if let Some(m) = msg.strip_prefix("warning ") {
            (true, m)
        } else if let Some(m) = msg
            .strip_prefix("fatal error ")
            .or_else(|| msg.strip_prefix("error "))
        {
            (false, m)
        } else {
            return false;
        };
        let Some((code, text)) = msg.split_once(": ").filter(|(c, _)| c.starts_with("LNK")) else {
            return false;
        };
        if warning {
            return true;
        }
        let text = text.trim();
        match code {
            "LNK2019" | "LNK2001" => {
                let Some(rest) = text.strip_prefix("unresolved external symbol ") else {
                    out.message(FindingKind::LinkError, t);
                    return true;
                };
                let (sym, func) = match rest.split_once(" referenced in function ") {
                    Some((s, f)) => (s, Some(f)),
                    None => (rest, None),
                };
                let (symbol, shown) = name(sym);
                let i = out.symbol(FindingKind::UndefinedSymbol, &symbol, shown.as_deref(), t);
                let function = func.map(|f| match name(f) {
                    (_, Some(shown)) => shown,
                    (plain, None) => demangle_any(&plain),
                });
                out.reference(
                    i,
                    Site {
                        function,
                        object: Some(who.trim().to_owned()),
                        ..Site::default()
                    },
                );
            }
            "LNK2005" => {
                let Some((sym, other)) = text.split_once(" already defined in ") else {
                    out.message(FindingKind::LinkError, t);
                    return true;
                };
                let (symbol, shown) = name(sym);
                let i = out.symbol(FindingKind::DuplicateSymbol, &symbol, shown.as_deref(), t);
                for o in [who.trim(), other.trim().trim_end_matches(';')] {
                    let site = Site {
                        object: Some(o.to_owned()),
                        ..Site::default()
                    };
                    out.definition(i, site);
                }
            }
            "LNK1104" | "LNK1181" => {
                let file = quoted(text).map_or(text, |(q, _)| q);
                let input = MissingInput {
                    kind: gnu::input_kind(&file.to_ascii_lowercase()),
                    name: file.to_owned(),
                    flag: None,
                    statement: None,
                };
                out.missing(input, None, t);
            }
            "LNK1120" | "LNK1169" => out.failed(t),
            _ => {
                out.message(FindingKind::LinkError, t);
            }
        }
        true
    }
}

//! Apple ld64 (and ld-prime): `Undefined symbols for architecture X:` with
//! `"_sym", referenced from:` and `_func in obj.o` lines; `duplicate symbol
//! '_x' in:` with one object per line; `library not found for -lX`,
//! `library 'X' not found`, `file not found: X`; and its summaries
//! (`symbol(s) not found`, `N duplicate symbols`). Mach-O puts one `_`
//! before every name: it is taken off.
use super::collect::Collector;
use super::loc::Site;
use super::{Family, Line, demangle_any, gnu};
use crate::model::{FindingKind, InputKind, MissingInput};

#[derive(Default)]
enum Block {
    #[default]
    None,
    /// Inside `Undefined symbols`: the symbol whose references follow.
    Undefined(Option<usize>),
    /// Inside `duplicate symbol … in:`: its objects follow.
    Duplicate(Option<usize>),
}

#[derive(Default)]
pub(super) struct Ld64 {
    block: Block,
}

/// The C-level name of a Mach-O symbol: `_main` → `main`,
/// `__ZN1a1bEv` → `_ZN1a1bEv`; a name the linker demangled stays.
fn unprefixed(s: &str) -> &str {
    let s = s.trim().trim_matches('"').trim_matches('\'');
    s.strip_prefix('_').unwrap_or(s)
}

impl Family for Ld64 {
    fn more(&mut self, line: &Line<'_>, out: &mut Collector) -> bool {
        let t = line.text;
        match self.block {
            Block::Undefined(current) => {
                if let Some(sym) = t.strip_suffix(", referenced from:") {
                    let sym = unprefixed(sym);
                    self.block =
                        Block::Undefined(out.symbol(FindingKind::UndefinedSymbol, sym, None, t));
                    return true;
                }
                if t.starts_with("(maybe you meant") {
                    return true;
                }
                if line.indented
                    && !t.starts_with("ld:")
                    && let Some((func, obj)) = t.rsplit_once(" in ")
                {
                    let site = Site {
                        function: Some(demangle_any(unprefixed(func))),
                        object: Some(obj.trim().to_owned()),
                        ..Site::default()
                    };
                    out.reference(current, site);
                    return true;
                }
                false
            }
            Block::Duplicate(i) => {
                if line.indented && !t.starts_with("ld:") && !t.contains(' ') {
                    let site = Site {
                        object: Some(t.to_owned()),
                        ..Site::default()
                    };
                    out.definition(i, site);
                    return true;
                }
                false
            }
            Block::None => false,
        }
    }

    fn take(&mut self, line: &Line<'_>, out: &mut Collector) -> bool {
        let t = line.text;
        let rest = t.strip_prefix("ld: ").unwrap_or(t);
        if rest.starts_with("Undefined symbols for architecture") || rest == "Undefined symbols:" {
            self.block = Block::Undefined(None);
            return true;
        }
        if let Some(sym) = rest
            .strip_prefix("duplicate symbol ")
            .and_then(|r| r.strip_suffix(" in:"))
        {
            let i = out.symbol(FindingKind::DuplicateSymbol, unprefixed(sym), None, t);
            self.block = Block::Duplicate(i);
            return true;
        }
        if t.starts_with("ld: ")
            && (rest.starts_with("symbol(s) not found")
                || (rest.contains("duplicate symbol")
                    && rest
                        .split(' ')
                        .next()
                        .is_some_and(|n| n.parse::<u64>().is_ok())))
        {
            out.failed(t);
            return true;
        }
        let input = if let Some(flag) = rest.strip_prefix("library not found for ") {
            gnu::library_flag(flag.trim())
        } else if let Some(name) = rest
            .strip_prefix("library '")
            .and_then(|r| r.strip_suffix("' not found"))
        {
            Some(MissingInput {
                kind: InputKind::Library,
                name: name.to_owned(),
                flag: Some(format!("-l{name}")),
                statement: None,
            })
        } else {
            rest.strip_prefix("file not found: ")
                .map(|name| MissingInput {
                    kind: gnu::input_kind(name.trim()),
                    name: name.trim().to_owned(),
                    flag: None,
                    statement: None,
                })
        };
        match input.filter(|_| t.starts_with("ld: ")) {
            Some(input) => {
                out.missing(input, None, t);
                true
            }
            None => false,
        }
    }

    fn close(&mut self, _out: &mut Collector) {
        self.block = Block::None;
    }
}

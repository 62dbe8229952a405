//! mold's own one-line forms (its 2.x undefined-symbol blocks are lld's
//! and read there): 1.x `mold: undefined symbol: OBJ: SYM`, `mold: error:
//! duplicate symbol: A: B: SYM`, `mold: fatal: library not found: NAME`.
use super::collect::Collector;
use super::loc::{Severity, basename, is_object, lld_source};
use super::{Family, Line};
use crate::model::{FindingKind, InputKind, MissingInput};

#[derive(Default)]
pub(super) struct Mold;

/// Is `tool` mold?
fn is_mold(tool: Option<&str>) -> bool {
    tool.map(basename)
        .is_some_and(|t| t == "mold" || t == "ld.mold")
}

/// mold 1.x's `undefined symbol: OBJ: SYM`: (object, symbol).
fn mold1(rest: &str) -> Option<(&str, &str)> {
    let (object, symbol) = rest.strip_prefix("undefined symbol: ")?.split_once(": ")?;
    is_object(object).then_some((object.trim(), symbol.trim()))
}

/// A line in mold 1.x's undefined-symbol form (lld's reader leaves it).
pub(super) fn is_mold1(tool: Option<&str>, rest: &str) -> bool {
    is_mold(tool) && mold1(rest).is_some()
}

impl Family for Mold {
    fn take(&mut self, line: &Line<'_>, out: &mut Collector) -> bool {
        let sp = line.split;
        if !is_mold(sp.tool) || matches!(sp.severity, Severity::Warning | Severity::Note) {
            return false;
        }
        let rest = sp.rest;
        if let Some((object, symbol)) = mold1(rest) {
            let i = out.symbol(FindingKind::UndefinedSymbol, symbol, None, line.text);
            out.reference(i, lld_source(object));
            return true;
        }
        if let Some(x) = rest.strip_prefix("duplicate symbol: ") {
            // `A: B: SYM`; the symbol (a C++ name) may hold `: ` itself
            // only after the two objects.
            let mut parts = x.splitn(3, ": ");
            let (Some(a), Some(b), Some(symbol)) = (parts.next(), parts.next(), parts.next())
            else {
                return false;
            };
            let i = out.symbol(FindingKind::DuplicateSymbol, symbol.trim(), None, line.text);
            for o in [a, b] {
                out.definition(i, lld_source(o));
            }
            return true;
        }
        if let Some(name) = rest.strip_prefix("library not found: ") {
            let name = name.trim();
            out.missing(
                MissingInput {
                    kind: InputKind::Library,
                    name: name.to_owned(),
                    flag: Some(format!("-l{name}")),
                    statement: None,
                },
                None,
                line.text,
            );
            return true;
        }
        false
    }
}

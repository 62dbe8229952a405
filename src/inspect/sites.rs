//! Where a defined function is in the source, from DWARF: the lines of its
//! own code, then the first line of each function it calls (through its
//! relocations). A function a macro wrote (`critical_section::set_impl!`)
//! has its lines in the macro's crate; what it calls is where the project
//! wrote it. For `check`'s duplicate-symbol findings.
//!
//! Pure over bytes: no file, no process.
use object::{Object, ObjectSection, ObjectSymbol, RelocationTarget, SymbolKind};

use super::dwarf::{dwarf, lines_in, locate};

/// Lines kept per function.
const MAX_SITES: usize = 64;

/// The source lines of the function `symbol` defines in `data` (an
/// object or a linked image with its relocations): its own, in address
/// order, then the entry line of each function it calls. Empty when the
/// file has no DWARF or does not define it.
pub(crate) fn definition_sites(data: &[u8], symbol: &str) -> Vec<(String, u32)> {
    let Ok(f) = object::File::parse(data) else {
        return Vec::new();
    };
    let Some(s) = f
        .symbols()
        .find(|s| !s.is_undefined() && s.kind() == SymbolKind::Text && s.name() == Ok(symbol))
    else {
        return Vec::new();
    };
    let (Some(sec), Some(d)) = (s.section_index(), dwarf(&f)) else {
        return Vec::new();
    };
    // Thumb code's symbols carry the mode in bit 0.
    let start = s.address() & !1;
    let end = start + s.size().max(1);
    let mut out = lines_in(&d, sec, start, end);
    let Ok(section) = f.section_by_index(sec) else {
        return out;
    };
    for (off, rel) in section.relocations() {
        if off < start || off >= end || out.len() >= MAX_SITES {
            continue;
        }
        let RelocationTarget::Symbol(ti) = rel.target() else {
            continue;
        };
        let Ok(t) = f.symbol_by_index(ti) else {
            continue;
        };
        let (Some(tsec), Ok(name)) = (t.section_index(), t.name()) else {
            continue;
        };
        if t.kind() != SymbolKind::Text || name == symbol {
            continue;
        }
        let at = locate(&d, tsec, t.address() & !1, name);
        if let (Some(file), Some(line)) = (at.file, at.line)
            && !out.contains(&(file.clone(), line))
        {
            out.push((file, line));
        }
    }
    out
}

//! The size change between two images, for `diff A B`: flash and RAM, then
//! by region, section and crate (each that changed), and the symbols that
//! changed most (by demangled name, so a crate's hashes changing with its
//! features do not make every symbol new; the compiler's anonymous
//! constants, `.Lanon.…` and `anon.….llvm.…`, whose names are hashes too,
//! counted together per crate). Changes are from A to B (B's figure minus
//! A's).
//!
//! Pure: two sizes in, lines out.
use std::collections::BTreeMap;
use std::io::Write;

use crate::model::{Size, grouped, signed};

/// How many changed symbols are listed.
const SYMBOLS_SHOWN: usize = 15;

fn delta(a: u64, b: u64) -> i64 {
    i64::try_from(i128::from(b) - i128::from(a)).unwrap_or(i64::MAX)
}

/// Flash and RAM (or one figure and 0).
type Pair = (u64, u64);

/// A name with its figures in A and in B.
type Change = (String, Pair, Pair);

/// Each name's figures in A and in B (0 where absent), those that differ,
/// the largest change first.
fn changed(
    a: impl Iterator<Item = (String, Pair)>,
    b: impl Iterator<Item = (String, Pair)>,
) -> Vec<Change> {
    let mut all: BTreeMap<String, (Pair, Pair)> = BTreeMap::new();
    for (n, v) in a {
        let e = all.entry(n).or_default();
        e.0 = (e.0.0 + v.0, e.0.1 + v.1);
    }
    for (n, v) in b {
        let e = all.entry(n).or_default();
        e.1 = (e.1.0 + v.0, e.1.1 + v.1);
    }
    let mut out: Vec<Change> = all
        .into_iter()
        .filter(|(_, (x, y))| x != y)
        .map(|(n, (x, y))| (n, x, y))
        .collect();
    let size = |(_, x, y): &Change| delta(x.0, y.0).unsigned_abs() + delta(x.1, y.1).unsigned_abs();
    out.sort_by(|p, q| size(q).cmp(&size(p)).then_with(|| p.0.cmp(&q.0)));
    out
}

/// A symbol's name for comparing images: its demangled name, or for the
/// compiler's anonymous constants (named by hashes) their crate's bucket.
fn symbol_key(s: &crate::model::SymbolSize) -> String {
    let anonymous = s.name.starts_with(".Lanon.")
        || s.name.starts_with(".L__unnamed_")
        || (s.name.starts_with("anon.") && s.name.contains(".llvm."));
    if anonymous {
        format!("[anonymous constants of {}]", s.krate)
    } else {
        s.name.clone()
    }
}

fn from_to(a: u64, b: u64) -> String {
    format!("{} -> {} ({})", grouped(a), grouped(b), signed(delta(a, b)))
}

/// The size change from `a` to `b`, as `diff` prints it.
pub(crate) fn print(a: &Size, b: &Size, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "  flash {}, ram {}",
        from_to(a.flash, b.flash),
        from_to(a.ram, b.ram)
    )?;
    let regions = changed(
        a.regions.iter().map(|r| (r.name.clone(), (r.used, 0))),
        b.regions.iter().map(|r| (r.name.clone(), (r.used, 0))),
    );
    for (name, x, y) in regions {
        writeln!(out, "  region {name}: {}", from_to(x.0, y.0))?;
    }
    let sections = changed(
        a.sections.iter().map(|s| (s.name.clone(), (s.bytes, 0))),
        b.sections.iter().map(|s| (s.name.clone(), (s.bytes, 0))),
    );
    for (name, x, y) in sections {
        writeln!(out, "  section {name}: {}", from_to(x.0, y.0))?;
    }
    let crates = changed(
        a.crates.iter().map(|c| (c.name.clone(), (c.flash, c.ram))),
        b.crates.iter().map(|c| (c.name.clone(), (c.flash, c.ram))),
    );
    for (name, x, y) in crates {
        writeln!(
            out,
            "  crate {name}: flash {}, ram {}",
            signed(delta(x.0, y.0)),
            signed(delta(x.1, y.1))
        )?;
    }
    let symbols = changed(
        a.symbols.iter().map(|s| (symbol_key(s), (s.bytes, 0))),
        b.symbols.iter().map(|s| (symbol_key(s), (s.bytes, 0))),
    );
    if !symbols.is_empty() {
        writeln!(out, "  symbols that changed most:")?;
    }
    for (name, x, y) in symbols.iter().take(SYMBOLS_SHOWN) {
        let note = match (x.0, y.0) {
            (0, _) => " (new)",
            (_, 0) => " (gone)",
            _ => "",
        };
        writeln!(out, "    {:>9}  {name}{note}", signed(delta(x.0, y.0)))?;
    }
    if symbols.len() > SYMBOLS_SHOWN {
        writeln!(out, "    … ({} symbols changed)", symbols.len())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CrateSize, SectionSize, SymbolSize};

    fn size(text: u64, bss: u64, syms: &[(&str, u64)]) -> Size {
        let section = |name: &str, bytes, ram| SectionSize {
            name: name.to_owned(),
            bytes,
            flash: if ram == 0 { bytes } else { 0 },
            ram,
            region: None,
            load_region: None,
        };
        Size {
            flash: text,
            ram: bss,
            sections: vec![section(".text", text, 0), section(".bss", bss, bss)],
            crates: vec![CrateSize {
                name: "kalloc".to_owned(),
                flash: text,
                ram: bss,
            }],
            symbols: syms
                .iter()
                .map(|(n, b)| SymbolSize {
                    name: (*n).to_owned(),
                    section: ".text".to_owned(),
                    bytes: *b,
                    krate: "kalloc".to_owned(),
                })
                .collect(),
            ..Size::default()
        }
    }

    #[test]
    fn a_diff_shows_what_changed_from_a_to_b_largest_first() {
        let a = size(
            1000,
            64,
            &[
                ("kalloc::f", 100),
                ("kalloc::gone", 40),
                ("kalloc::same", 8),
                (".Lanon.1a2b.3", 16),
            ],
        );
        let b = size(
            1200,
            64,
            &[
                ("kalloc::f", 150),
                ("kalloc::new", 190),
                ("kalloc::same", 8),
                (".Lanon.9f8e.3", 16),
                ("anon.9f8e.0.llvm.77", 8),
            ],
        );
        let mut out = Vec::new();
        print(&a, &b, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "  flash 1,000 -> 1,200 (+200), ram 64 -> 64 (0)\n\
             \x20 section .text: 1,000 -> 1,200 (+200)\n\
             \x20 crate kalloc: flash +200, ram 0\n\
             \x20 symbols that changed most:\n\
             \x20        +190  kalloc::new (new)\n\
             \x20         +50  kalloc::f\n\
             \x20         -40  kalloc::gone (gone)\n\
             \x20          +8  [anonymous constants of kalloc]\n"
        );
    }
}

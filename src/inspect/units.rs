//! Compile units of a file's DWARF, by address: which unit holds a
//! function, a label or a static, with its language and, for Rust, its
//! crate (from the unit's name, `src/lib.rs/@/kalloc.1a2b3c-cgu.0`).
//!
//! An address maps to a unit through the exact start of a function, label
//! or static the unit describes (`DW_AT_low_pc`, a `DW_OP_addr`
//! location), else through the unit's address ranges. Debug info of code
//! the linker removed stays behind at a tombstone address (0 after
//! `--gc-sections`), so in a linked image a range starting at 0 is
//! ignored, and an address two units both claim exactly belongs to
//! neither.
//!
//! Reads bytes only; no process, no output.
use std::collections::HashMap;

use object::{Object, ObjectKind, SectionIndex};

use super::dwarf::{self, Layout, Loaded};

/// A compile unit's source language, as far as sizes care.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Lang {
    Rust,
    C,
    Cpp,
    Asm,
    Other,
}

/// One compile unit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct CompileUnit {
    pub(super) lang: Lang,
    /// A Rust unit's crate (`kalloc`).
    pub(super) krate: Option<String>,
}

/// Every compile unit of a file, by address.
#[derive(Debug, Default)]
pub(super) struct Units {
    all: Vec<CompileUnit>,
    /// Start address → unit; `None` when two units claim it.
    exact: HashMap<u64, Option<usize>>,
    /// `(begin, end, unit)`, sorted.
    ranges: Vec<(u64, u64, usize)>,
    /// A relocatable object's section placement (addresses in its DWARF
    /// are laid out; its symbols are section offsets).
    layout: Option<Layout>,
}

impl Units {
    /// The units of `f`'s DWARF (none when it has no DWARF).
    pub(super) fn of(f: &object::File<'_>) -> Self {
        let mut out = Units::default();
        let linked = f.kind() != ObjectKind::Relocatable;
        match dwarf::load(f) {
            None => {}
            Some(Loaded::InPlace(d)) => out.walk(&d, linked),
            Some(Loaded::Decompressed(d)) => out.walk(&d, linked),
            Some(Loaded::Relocated(d, layout)) => {
                out.walk(&d, linked);
                out.layout = Some(layout);
            }
            Some(Loaded::RelocatedDecompressed(d, layout)) => {
                out.walk(&d, linked);
                out.layout = Some(layout);
            }
        }
        out.ranges.sort_unstable();
        out
    }

    /// The unit holding `value` (a symbol's value: an address, or in a
    /// relocatable object an offset in `section`).
    pub(super) fn at(&self, section: Option<SectionIndex>, value: u64) -> Option<&CompileUnit> {
        let addr = match &self.layout {
            Some(l) => l.base(section).wrapping_add(value),
            None => value,
        };
        if let Some(hit) = self.exact.get(&addr) {
            return hit.map(|i| &self.all[i]);
        }
        // The last range starting at or before `addr`, then back while
        // ranges could still reach it (ranges of units may nest).
        let end = self.ranges.partition_point(|r| r.0 <= addr);
        self.ranges[..end]
            .iter()
            .rev()
            .take(64)
            .find(|r| addr < r.1)
            .map(|r| &self.all[r.2])
    }

    fn claim(&mut self, addr: u64, unit: usize) {
        self.exact
            .entry(addr)
            .and_modify(|u| {
                if *u != Some(unit) {
                    *u = None;
                }
            })
            .or_insert(Some(unit));
    }

    fn walk<R: gimli::Reader>(&mut self, d: &gimli::Dwarf<R>, linked: bool) {
        let mut headers = d.units();
        while let Ok(Some(h)) = headers.next() {
            let Ok(unit) = d.unit(h) else { continue };
            let id = self.all.len();
            let _ = self.unit_entries(d, &unit, id, linked);
            if self.all.len() == id {
                continue;
            }
            if let Ok(mut rs) = d.unit_ranges(&unit) {
                while let Ok(Some(r)) = rs.next() {
                    if r.end > r.begin && (r.begin != 0 || !linked) {
                        self.ranges.push((r.begin, r.end, id));
                    }
                }
            }
        }
    }

    /// The unit's root (its language and name), then the start address of
    /// every function, label and static it describes. Only the attributes
    /// needed are read; every other entry is skipped over.
    fn unit_entries<R: gimli::Reader>(
        &mut self,
        d: &gimli::Dwarf<R>,
        unit: &gimli::Unit<R>,
        id: usize,
        linked: bool,
    ) -> gimli::Result<()> {
        use gimli::constants as c;
        let mut raw = unit.entries_raw(None)?;
        while !raw.is_empty() {
            let Some(abbrev) = raw.read_abbreviation()? else {
                continue;
            };
            let tag = abbrev.tag();
            if !matches!(
                tag,
                c::DW_TAG_compile_unit
                    | c::DW_TAG_subprogram
                    | c::DW_TAG_variable
                    | c::DW_TAG_label
            ) {
                raw.skip_attributes(abbrev.attributes())?;
                continue;
            }
            let (mut lang, mut name, mut start) = (None, None, None);
            for spec in abbrev.attributes() {
                let attr = raw.read_attribute(*spec)?;
                match attr.name() {
                    c::DW_AT_language => lang = Some(attr.value()),
                    c::DW_AT_name => name = Some(attr.value()),
                    c::DW_AT_low_pc => start = address(d, unit, &attr.value()),
                    c::DW_AT_location => start = static_address(d, unit, &attr.value()),
                    _ => {}
                }
            }
            if tag == c::DW_TAG_compile_unit {
                let name = name
                    .and_then(|v| d.attr_string(unit, v).ok())
                    .and_then(|s| s.to_string_lossy().ok().map(std::borrow::Cow::into_owned));
                self.all.push(CompileUnit {
                    lang: language(lang.as_ref()),
                    krate: name.as_deref().and_then(rust_crate),
                });
            } else if let Some(a) = start.filter(|a| *a != 0 || !linked)
                && self.all.len() > id
            {
                self.claim(a, id);
            }
        }
        Ok(())
    }
}

fn address<R: gimli::Reader>(
    d: &gimli::Dwarf<R>,
    unit: &gimli::Unit<R>,
    v: &gimli::AttributeValue<R>,
) -> Option<u64> {
    match *v {
        gimli::AttributeValue::Addr(a) => Some(a),
        gimli::AttributeValue::DebugAddrIndex(i) => d.address(unit, i).ok(),
        _ => None,
    }
}

/// A static's address: a location that is one `DW_OP_addr` (or
/// `DW_OP_addrx`).
fn static_address<R: gimli::Reader>(
    d: &gimli::Dwarf<R>,
    unit: &gimli::Unit<R>,
    v: &gimli::AttributeValue<R>,
) -> Option<u64> {
    let gimli::AttributeValue::Exprloc(e) = v else {
        return None;
    };
    let e = e.clone();
    match e.operations(unit.encoding()).next().ok()?? {
        gimli::Operation::Address { address } => Some(address),
        gimli::Operation::AddressIndex { index } => d.address(unit, index).ok(),
        _ => None,
    }
}

fn language<R: gimli::Reader>(v: Option<&gimli::AttributeValue<R>>) -> Lang {
    use gimli::constants as c;
    let Some(&gimli::AttributeValue::Language(l)) = v else {
        return Lang::Other;
    };
    match l {
        c::DW_LANG_Rust => Lang::Rust,
        c::DW_LANG_C | c::DW_LANG_C89 | c::DW_LANG_C99 | c::DW_LANG_C11 | c::DW_LANG_C17 => Lang::C,
        c::DW_LANG_C_plus_plus
        | c::DW_LANG_C_plus_plus_03
        | c::DW_LANG_C_plus_plus_11
        | c::DW_LANG_C_plus_plus_14
        | c::DW_LANG_C_plus_plus_17
        | c::DW_LANG_C_plus_plus_20 => Lang::Cpp,
        c::DW_LANG_Mips_Assembler => Lang::Asm,
        _ => Lang::Other,
    }
}

/// The crate of a Rust unit named `…/src/lib.rs/@/kalloc.1a2b3c-cgu.0`.
fn rust_crate(name: &str) -> Option<String> {
    let (_, cgu) = name.rsplit_once("/@/")?;
    let krate = cgu.split('.').next()?;
    (!krate.is_empty()).then(|| krate.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_unit_names_give_their_crate() {
        assert_eq!(
            rust_crate("src/lib.rs/@/kalloc.8f2c1a9e3b-cgu.0").as_deref(),
            Some("kalloc")
        );
        assert_eq!(
            rust_crate("/usr/lib/rustlib/src/rust/library/core/src/lib.rs/@/core.abc-cgu.07")
                .as_deref(),
            Some("core")
        );
        assert_eq!(rust_crate("platform.c"), None);
    }
}

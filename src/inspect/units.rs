//! Compile units of a file's DWARF, by address: which unit holds a
//! function, a label or a static, with its language and, for Rust, its
//! codegen unit (the unit's name, `src/lib.rs/@/kalloc.1a2b3c-cgu.0`,
//! says the crate; an incremental build's `src/lib.rs/@/ewnx…` names a
//! hash, whose crate only the link's inputs know, see
//! [`super::objects`]); and for a Rust function or static, the crate
//! whose namespace its entry is in (`img_get` in namespace `imgdemo`: the
//! item's own path, for `#[no_mangle]` items too).
//!
//! An address maps to a unit through the exact start of a function, label
//! or static the unit describes (`DW_AT_low_pc`, a `DW_OP_addr`
//! location), else through the unit's address ranges. Debug info of code
//! the linker removed stays behind at a tombstone address (0 after
//! `--gc-sections`), so in a linked image a range starting at 0 is
//! ignored. Addresses of sections that are not loaded (defmt's `.defmt`
//! strings start at 0 too) can share a number with code or data: an
//! address several units claim goes to the one whose entry has the
//! symbol's name (its linkage name, else its name), else to none.
//!
//! Reads bytes only; no process, no output.
use std::collections::HashMap;

use object::{Object, ObjectKind, SectionIndex};

use super::dwarf::{self, Layout, Loaded};
use crate::model::{ObjectCrates, named_unit_crate};

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
    /// A Rust unit's codegen unit name (`kalloc.1a2b3c-cgu.0`, or a hash
    /// in an incremental build).
    pub(super) unit: Option<String>,
}

impl CompileUnit {
    /// The unit's crate: what its name says, else what the link's inputs
    /// say of a unit so named.
    pub(super) fn krate<'a>(&'a self, objects: &'a ObjectCrates) -> Option<&'a str> {
        let unit = self.unit.as_deref()?;
        named_unit_crate(unit).or_else(|| objects.unit(unit))
    }
}

/// Where an address is: its unit, and the crate whose namespace the
/// entry starting there is in, when an entry starts there.
#[derive(Clone, Copy, Debug)]
pub(super) struct Place<'a> {
    pub(super) unit: &'a CompileUnit,
    pub(super) item_crate: Option<&'a str>,
}

/// A unit's entry that starts at an address.
#[derive(Clone, Copy, Debug)]
struct Claim {
    unit: usize,
    /// Its name's hash (0 without one).
    name: u64,
    /// Its top namespace, an index into `Units::namespaces`.
    namespace: Option<usize>,
}

/// Every compile unit of a file, by address.
#[derive(Debug, Default)]
pub(super) struct Units {
    all: Vec<CompileUnit>,
    /// Start address → the entries of units that describe something there.
    exact: HashMap<u64, Vec<Claim>>,
    /// The top-level namespace names seen (crates), each once.
    namespaces: Vec<String>,
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
    /// relocatable object an offset in `section`), where the symbol `name`
    /// (when there is one) is.
    pub(super) fn at(
        &self,
        section: Option<SectionIndex>,
        value: u64,
        name: Option<&str>,
    ) -> Option<Place<'_>> {
        let addr = match &self.layout {
            Some(l) => l.base(section).wrapping_add(value),
            None => value,
        };
        if let Some(claims) = self.exact.get(&addr) {
            let place = |c: &Claim| Place {
                unit: &self.all[c.unit],
                item_crate: c.namespace.map(|i| self.namespaces[i].as_str()),
            };
            // One entry there (most symbols): no name to compare.
            if let [only] = claims.as_slice() {
                return Some(place(only));
            }
            let wanted = name.map(|name| {
                let plain = crate::inspect::demangle(name)
                    .and_then(|d| d.rsplit("::").next().map(str::to_owned));
                [
                    Some(name_hash(name.as_bytes())),
                    plain.map(|p| name_hash(p.as_bytes())),
                ]
            });
            let named = |c: &&Claim| wanted.as_ref().is_some_and(|w| w.contains(&Some(c.name)));
            let first = claims.first()?.unit;
            let claim = if claims.iter().all(|c| c.unit == first) {
                // One unit: the entry named so, else its first entry there.
                claims.iter().find(named).unwrap_or(&claims[0])
            } else {
                // Several units: the one whose entry is this symbol.
                let mut mine = claims.iter().filter(named);
                let c = mine.next()?;
                if !mine.all(|o| o.unit == c.unit) {
                    return None;
                }
                c
            };
            return Some(place(claim));
        }
        // The last range starting at or before `addr`, then back while
        // ranges could still reach it (ranges of units may nest).
        let end = self.ranges.partition_point(|r| r.0 <= addr);
        self.ranges[..end]
            .iter()
            .rev()
            .take(64)
            .find(|r| addr < r.1)
            .map(|r| Place {
                unit: &self.all[r.2],
                item_crate: None,
            })
    }

    fn claim(&mut self, addr: u64, claim: Claim) {
        self.exact.entry(addr).or_default().push(claim);
    }

    /// The index of namespace `name` in `namespaces`.
    fn namespace(&mut self, name: &str) -> usize {
        if let Some(i) = self.namespaces.iter().rposition(|n| n == name) {
            return i;
        }
        self.namespaces.push(name.to_owned());
        self.namespaces.len() - 1
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
            if !removed(d, &unit)
                && let Ok(mut rs) = d.unit_ranges(&unit)
            {
                while let Ok(Some(r)) = rs.next() {
                    if r.end > r.begin && (r.begin != 0 || !linked) {
                        self.ranges.push((r.begin, r.end, id));
                    }
                }
            }
        }
    }

    /// The unit's root (its language and name), then the start address of
    /// every function, label and static it describes, with the namespace
    /// directly under the root that holds it (a Rust item's crate). Only
    /// the attributes needed are read; every other entry is skipped over.
    fn unit_entries<R: gimli::Reader>(
        &mut self,
        d: &gimli::Dwarf<R>,
        unit: &gimli::Unit<R>,
        id: usize,
        linked: bool,
    ) -> gimli::Result<()> {
        use gimli::constants as c;
        let mut raw = unit.entries_raw(None)?;
        // The namespace directly under the root, while in it.
        let mut top: Option<usize> = None;
        while !raw.is_empty() {
            let depth = raw.next_depth();
            let Some(abbrev) = raw.read_abbreviation()? else {
                continue;
            };
            let tag = abbrev.tag();
            if depth == 1 {
                top = None;
            }
            let namespace = depth == 1 && tag == c::DW_TAG_namespace;
            if !namespace
                && !matches!(
                    tag,
                    c::DW_TAG_compile_unit
                        | c::DW_TAG_subprogram
                        | c::DW_TAG_variable
                        | c::DW_TAG_label
                )
            {
                raw.skip_attributes(abbrev.attributes())?;
                continue;
            }
            let (mut lang, mut name, mut linkage, mut start) = (None, None, None, None);
            for spec in abbrev.attributes() {
                let attr = raw.read_attribute(*spec)?;
                match attr.name() {
                    c::DW_AT_language => lang = Some(attr.value()),
                    c::DW_AT_name => name = Some(attr.value()),
                    c::DW_AT_linkage_name | c::DW_AT_MIPS_linkage_name => {
                        linkage = Some(attr.value());
                    }
                    c::DW_AT_low_pc => start = address(d, unit, &attr.value()),
                    c::DW_AT_location => start = static_address(d, unit, &attr.value()),
                    _ => {}
                }
            }
            let text = |v: Option<gimli::AttributeValue<R>>| {
                v.and_then(|v| d.attr_string(unit, v).ok())
                    .and_then(|s| s.to_string_lossy().ok().map(std::borrow::Cow::into_owned))
            };
            if namespace {
                top = text(name).map(|n| self.namespace(&n));
            } else if tag == c::DW_TAG_compile_unit {
                self.all.push(CompileUnit {
                    lang: language(lang.as_ref()),
                    unit: text(name).as_deref().and_then(codegen_unit),
                });
            } else if let Some(a) = start.filter(|a| *a != 0 || !linked)
                && self.all.len() > id
            {
                let hash = linkage
                    .or(name)
                    .and_then(|v| d.attr_string(unit, v).ok())
                    .and_then(|s| s.to_slice().ok().map(|b| name_hash(&b)))
                    .unwrap_or(0);
                self.claim(
                    a,
                    Claim {
                        unit: id,
                        name: hash,
                        namespace: top,
                    },
                );
            }
        }
        Ok(())
    }
}

/// Whether a unit's code was removed by the linker with its start at the
/// tombstone (all ones, lld's `-zdead-reloc-in-nonalloc`) and a length
/// in `DW_AT_high_pc`: the end would overflow (gimli's `unit_ranges` adds
/// them unchecked), and there is nothing to find in it.
fn removed<R: gimli::Reader>(d: &gimli::Dwarf<R>, unit: &gimli::Unit<R>) -> bool {
    let mut cursor = unit.entries();
    if cursor.next_dfs().is_err() {
        return true;
    }
    let Some(root) = cursor.current() else {
        return true;
    };
    let (mut low, mut size) = (None, None);
    for attr in root.attrs() {
        match attr.name() {
            gimli::constants::DW_AT_low_pc => {
                low = d.attr_address(unit, attr.value()).ok().flatten();
            }
            gimli::constants::DW_AT_high_pc => {
                if let gimli::AttributeValue::Udata(v) = attr.value() {
                    size = Some(v);
                }
            }
            _ => {}
        }
    }
    matches!((low, size), (Some(l), Some(n)) if l.checked_add(n).is_none())
}

/// A name's hash, to compare a symbol with the entries at its address
/// without keeping every entry's name.
fn name_hash(name: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    name.hash(&mut h);
    h.finish().max(1)
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

/// The codegen unit of a Rust unit named
/// `…/src/lib.rs/@/kalloc.1a2b3c-cgu.0` (or `…/@/ewnx…`, a hash).
fn codegen_unit(name: &str) -> Option<String> {
    let (_, cgu) = name.rsplit_once("/@/")?;
    (!cgu.is_empty()).then(|| cgu.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_unit_names_give_their_crate_when_they_say_it() {
        let unit = |name: &str| CompileUnit {
            lang: Lang::Rust,
            unit: codegen_unit(name),
        };
        let none = ObjectCrates::default();
        let k = unit("src/lib.rs/@/kalloc.8f2c1a9e3b-cgu.0");
        assert_eq!(k.krate(&none), Some("kalloc"));
        let core = unit("/usr/lib/rustlib/src/rust/library/core/src/lib.rs/@/core.abc-cgu.07");
        assert_eq!(core.krate(&none), Some("core"));
        assert_eq!(codegen_unit("platform.c"), None);
        // An incremental unit's name is a hash: never a crate by itself,
        // the link's inputs say whose it is.
        let hashed = unit("src/lib.rs/@/0lsptsz8qhsszhsy6aippuqx5");
        assert_eq!(hashed.krate(&none), None);
        let mut inputs = ObjectCrates::default();
        inputs
            .units
            .insert("0lsptsz8qhsszhsy6aippuqx5".to_owned(), "imgdemo".to_owned());
        assert_eq!(hashed.krate(&inputs), Some("imgdemo"));
    }
}

//! What a linked image takes ([`Size`]: flash and RAM by region, section,
//! crate and symbol), the memory regions of a linker script's `MEMORY`
//! ([`Region`]), and the size policy a matrix sets ([`SizePolicy`]:
//! budgets and growth), and what a link's inputs say of crates
//! ([`ObjectCrates`], read by `inspect::objects`). Data and small pure
//! helpers only; reading ELF files is `inspect::size`, deciding findings
//! is `footprint`.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A linked image's (or a module's own) footprint, in bytes.
///
/// `text`/`data`/`bss` count as Berkeley `size` does (allocated sections
/// that are neither writable nor NOBITS are text, writable ones with
/// contents data, NOBITS ones bss). `flash` is what the image stores:
/// every allocated section with contents that a loadable segment carries
/// (code, read-only data, and the initial values of `.data`, at its load
/// address). `ram` is what it occupies at run time: the sections whose run
/// address lies in a RAM region of the linker script's `MEMORY`, and where
/// no region is known, the writable and NOBITS sections (`.data`, `.bss`,
/// `.uninit`). So `.data` counts in both, as it does on a device; an image
/// that runs from RAM (a kernel's `RAM (rwx)` region) counts its code in
/// both too.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Size {
    /// Code and read-only data (Berkeley).
    pub(crate) text: u64,
    /// Initialized writable data (Berkeley).
    pub(crate) data: u64,
    /// Zero-initialized data (Berkeley).
    pub(crate) bss: u64,
    /// Bytes the image stores (see the type's documentation).
    #[serde(default)]
    pub(crate) flash: u64,
    /// Bytes the image occupies in RAM at run time.
    #[serde(default)]
    pub(crate) ram: u64,
    /// The linker script's memory regions with the bytes placed in each
    /// (run and load addresses both count, as `--print-memory-usage`
    /// does); empty when no script was known.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) regions: Vec<Region>,
    /// Every allocated section with a size, in address order.
    #[serde(default)]
    pub(crate) sections: Vec<SectionSize>,
    /// Bytes per crate (or `[C]`, `[asm]`, `[linker]`, `[unknown]`
    /// bucket), largest flash first; they sum to `flash` and `ram`.
    #[serde(default)]
    pub(crate) crates: Vec<CrateSize>,
    /// The largest symbols, largest first (how many: `--size-symbols`).
    #[serde(default)]
    pub(crate) symbols: Vec<SymbolSize>,
    /// The baseline's figures for this cell, when `--baseline` has them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) before: Option<Totals>,
}

impl Size {
    /// Flash and RAM alone.
    pub(crate) fn totals(&self) -> Totals {
        Totals {
            flash: self.flash,
            ram: self.ram,
        }
    }

    /// The total length of the regions of `kind`; `None` when there are
    /// none (no linker script, or none of that kind).
    pub(crate) fn capacity(&self, kind: RegionKind) -> Option<u64> {
        let mut it = self.regions.iter().filter(|r| r.kind == kind).peekable();
        it.peek()?;
        Some(it.map(|r| r.length).fold(0, u64::saturating_add))
    }
}

/// Flash and RAM bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Totals {
    /// Bytes the image stores.
    pub(crate) flash: u64,
    /// Bytes it occupies in RAM.
    pub(crate) ram: u64,
}

impl Totals {
    /// The figure for one measure.
    pub(crate) fn get(self, m: Measure) -> u64 {
        match m {
            Measure::Flash => self.flash,
            Measure::Ram => self.ram,
        }
    }
}

/// Flash or RAM.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Measure {
    /// Bytes stored.
    Flash,
    /// Bytes of RAM.
    Ram,
}

impl Measure {
    /// Both, in report order.
    pub(crate) const BOTH: [Measure; 2] = [Measure::Flash, Measure::Ram];

    /// `flash` or `ram`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Measure::Flash => "flash",
            Measure::Ram => "ram",
        }
    }

    /// The kind of region a share (`90%`) of this measure is of.
    pub(crate) fn region_kind(self) -> RegionKind {
        match self {
            Measure::Flash => RegionKind::Flash,
            Measure::Ram => RegionKind::Ram,
        }
    }
}

impl std::fmt::Display for Measure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a memory region is, from its attributes or, without them, its
/// name (see `inspect::memory`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum RegionKind {
    /// Non-volatile, read-only at run time (`FLASH`, `ROM`, `(rx)`).
    Flash,
    /// Writable memory (`RAM`, `(rwx)`, `CCMRAM`, `DTCM`).
    Ram,
    /// Neither attributes nor name say.
    Unknown,
}

/// One region of a linker script's `MEMORY` command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Region {
    /// Its name (`FLASH`).
    pub(crate) name: String,
    /// Its start address.
    pub(crate) origin: u64,
    /// Its length in bytes.
    pub(crate) length: u64,
    /// Flash, RAM or unknown.
    pub(crate) kind: RegionKind,
    /// Bytes placed in it by the image (0 in a parsed script).
    #[serde(default)]
    pub(crate) used: u64,
}

impl Region {
    /// A region of a linker script, nothing placed in it yet.
    pub(crate) fn new(name: &str, origin: u64, length: u64, kind: RegionKind) -> Self {
        Self {
            name: name.to_owned(),
            origin,
            length,
            kind,
            used: 0,
        }
    }

    /// Whether `addr` lies inside the region.
    pub(crate) fn contains(&self, addr: u64) -> bool {
        addr >= self.origin && addr - self.origin < self.length
    }
}

/// One allocated section.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SectionSize {
    /// Its name (`.text`).
    pub(crate) name: String,
    /// Its size (`size -A`).
    pub(crate) bytes: u64,
    /// Of those, the bytes counted in flash.
    pub(crate) flash: u64,
    /// Of those, the bytes counted in RAM.
    pub(crate) ram: u64,
    /// The region its run address lies in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) region: Option<String>,
    /// The region its load address lies in, when another (`.data`'s
    /// initial values in `FLASH`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) load_region: Option<String>,
}

/// The bytes one crate (or bucket) accounts for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CrateSize {
    /// A crate name as paths spell it (`cortex_m_rt`), or a bucket:
    /// `[C]`, `[C++]`, `[asm]`, `[linker]`, `[unknown]`.
    pub(crate) name: String,
    /// Bytes counted in flash.
    pub(crate) flash: u64,
    /// Bytes counted in RAM.
    pub(crate) ram: u64,
}

/// One symbol.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SymbolSize {
    /// The name, demangled without its hash.
    pub(crate) name: String,
    /// The section it is in.
    pub(crate) section: String,
    /// Its size.
    pub(crate) bytes: u64,
    /// The crate (or bucket) it is counted in.
    #[serde(rename = "crate")]
    pub(crate) krate: String,
}

/// A size limit: bytes, or a share of the cell's regions of that kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Limit {
    /// At most this many bytes.
    Bytes(u64),
    /// At most this share, in hundredths of a percent (`90%` is 9000),
    /// of the total length of the cell's regions of the measure's kind.
    Share(u32),
}

/// How much a cell may grow against the baseline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Growth {
    /// At most this many bytes more.
    Bytes(u64),
    /// At most this share of the baseline's figure, in hundredths of a
    /// percent (`2%` is 200).
    Percent(u32),
}

/// `policy.size` of a matrix: budgets and growth, per measure.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SizePolicy {
    /// `max.flash`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) max_flash: Option<Limit>,
    /// `max.ram`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) max_ram: Option<Limit>,
    /// `max-growth` (or `max-growth.flash`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) growth_flash: Option<Growth>,
    /// `max-growth` (or `max-growth.ram`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) growth_ram: Option<Growth>,
    /// How many of the largest symbols a cell's size lists (`symbols`;
    /// `inspect::DEFAULT_TOP` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) symbols: Option<usize>,
}

impl SizePolicy {
    /// Whether it sets anything.
    pub(crate) fn is_empty(&self) -> bool {
        *self == SizePolicy::default()
    }

    /// The budget for one measure.
    pub(crate) fn max(&self, m: Measure) -> Option<Limit> {
        match m {
            Measure::Flash => self.max_flash,
            Measure::Ram => self.max_ram,
        }
    }

    /// The growth allowed for one measure.
    pub(crate) fn growth(&self, m: Measure) -> Option<Growth> {
        match m {
            Measure::Flash => self.growth_flash,
            Measure::Ram => self.growth_ram,
        }
    }
}

/// The numbers of a `size-budget` or `size-growth` finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SizeExcess {
    /// Flash or RAM.
    pub(crate) measure: Measure,
    /// The cell's figure.
    pub(crate) bytes: u64,
    /// The most it may be (for growth: the baseline's figure plus the
    /// growth allowed); absent when a share's regions are unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) limit: Option<u64>,
    /// The baseline's figure (growth only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) baseline: Option<u64>,
}

/// `1234567` as `1,234,567`.
pub(crate) fn grouped(n: u64) -> String {
    grouped_wide(u128::from(n))
}

/// [`grouped`] for counts past u64 (a matrix's full product).
pub(crate) fn grouped_wide(n: u128) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A signed byte change: `+1,234`, `-56`, `0`.
pub(crate) fn signed(n: i64) -> String {
    match n.cmp(&0) {
        std::cmp::Ordering::Greater => format!("+{}", grouped(n.unsigned_abs())),
        std::cmp::Ordering::Less => format!("-{}", grouped(n.unsigned_abs())),
        std::cmp::Ordering::Equal => "0".to_owned(),
    }
}

/// Crates of codegen units and of unmangled global symbols, read from a
/// link's input archives. Empty when the inputs are not known (`inspect
/// --size` of a lone image): attribution then goes by the image alone.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ObjectCrates {
    /// Codegen unit name (`ewnxypx64zgwdvvxv2cqak6xr`, `kalloc.1a2b-cgu.0`)
    /// → crate.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) units: BTreeMap<String, String>,
    /// An unmangled global symbol (`img_get`) → the crate whose object
    /// defines it (a name two crates define is left out).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) symbols: BTreeMap<String, String>,
    /// The crate of every hashed codegen unit no input archive holds: a
    /// binary's (its own objects are in no rlib; every dependency's are).
    #[serde(skip)]
    pub(crate) own: Option<String>,
}

impl ObjectCrates {
    /// The crate of the codegen unit named `unit`.
    pub(crate) fn unit(&self, unit: &str) -> Option<&str> {
        self.units
            .get(unit)
            .map(String::as_str)
            .or_else(|| self.own.as_deref().filter(|_| hashed_unit(unit)))
    }

    /// The crate whose object defines the global `symbol`.
    pub(crate) fn symbol(&self, symbol: &str) -> Option<&str> {
        self.symbols.get(symbol).map(String::as_str)
    }
}

/// A codegen unit name that is a hash: what rustc names units with
/// incremental compilation (base 36 of a 128-bit hash: 20 to 25 digits
/// and lowercase letters).
pub(crate) fn hashed_unit(name: &str) -> bool {
    (20..=26).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase())
}

/// The crate a codegen unit's own name says (`kalloc.1a2b3c-cgu.0` →
/// `kalloc`, as rustc names units without incremental compilation);
/// `None` for a hashed unit name (`ewnxypx64zgwdvvxv2cqak6xr`), which
/// says nothing of its crate.
pub(crate) fn named_unit_crate(unit: &str) -> Option<&str> {
    let (krate, rest) = unit.split_once('.')?;
    let ident = !krate.is_empty()
        && krate.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !krate.starts_with(|c: char| c.is_ascii_digit());
    let (_, n) = rest.rsplit_once("-cgu.")?;
    (ident && !n.is_empty() && n.chars().all(|c| c.is_ascii_digit())).then_some(krate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped_by_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(1_234_567), "1,234,567");
        assert_eq!(signed(-1234), "-1,234");
        assert_eq!(signed(12), "+12");
    }

    #[test]
    fn capacity_sums_the_regions_of_a_kind() {
        let r = |name: &str, length, kind| Region::new(name, 0, length, kind);
        let s = Size {
            regions: vec![
                r("FLASH", 1024, RegionKind::Flash),
                r("RAM", 256, RegionKind::Ram),
                r("CCM", 64, RegionKind::Ram),
            ],
            ..Size::default()
        };
        assert_eq!(s.capacity(RegionKind::Ram), Some(320));
        assert_eq!(s.capacity(RegionKind::Flash), Some(1024));
        assert_eq!(Size::default().capacity(RegionKind::Flash), None);
    }
}

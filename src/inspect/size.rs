//! A linked image's footprint as a pure function over its bytes: flash
//! and RAM (see [`crate::model::Size`] for what each counts), by memory
//! region (the linker script's `MEMORY`, when the caller knows it), by
//! allocated section (the bytes `size -A` prints), by crate (the rules of
//! [`super::crates`]) and by symbol.
//!
//! A section's load address comes from the loadable segment (`PT_LOAD`)
//! that carries its bytes (`p_paddr` + its offset in the segment), its run
//! address from the section header; in a relocatable object (a module's
//! own sections) there are neither, so regions do not apply. Every byte
//! of every allocated section is counted for exactly one crate or bucket:
//! symbols (aliases at the same place counted once, overlaps once) and,
//! between them, the gaps.
//!
//! No process, no file system, no output.
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use anyhow::{Context, Result, bail};
use object::{
    Architecture, BinaryFormat, Object, ObjectKind, ObjectSection, ObjectSegment, ObjectSymbol,
    SectionIndex, SymbolKind,
};

use super::crates;
use super::units::Units;
use crate::model::ObjectCrates;
use crate::model::{CrateSize, Region, RegionKind, SectionSize, Size, SymbolSize};

/// How many symbols a footprint lists unless told otherwise.
pub(crate) const DEFAULT_TOP: usize = 20;

/// The footprint of the ELF file `data`: `regions` are the linker
/// script's (empty when unknown), `top` how many symbols to list,
/// `objects` what the link's inputs say of crates (empty when unknown).
///
/// Errors: `data` is not an ELF file.
pub(crate) fn footprint(
    data: &[u8],
    regions: &[Region],
    top: usize,
    objects: &ObjectCrates,
) -> Result<Size> {
    let f = object::File::parse(data).context("not an object file")?;
    if f.format() != BinaryFormat::Elf {
        bail!("{:?} object: linkmatrix reads ELF only", f.format());
    }
    let linked = f.kind() != ObjectKind::Relocatable;
    let mut size = Size {
        regions: if linked {
            regions
                .iter()
                .map(|r| Region {
                    used: 0,
                    ..r.clone()
                })
                .collect()
        } else {
            Vec::new()
        },
        ..Size::default()
    };
    let secs = sections(&f, &mut size);
    let (mut defined, markers) = symbols_by_section(&f);
    let origins = Origins {
        units: Units::of(&f),
        markers,
        objects,
    };
    let mut by_crate: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut symbols: Vec<SymbolSize> = Vec::new();
    for s in &secs {
        let syms = defined.remove(&s.index).unwrap_or_default();
        attribute(s, syms, &origins, &mut by_crate, &mut symbols);
    }
    size.crates = by_crate
        .into_iter()
        .map(|(name, (flash, ram))| CrateSize { name, flash, ram })
        .collect();
    size.crates.sort_by(|a, b| {
        (b.flash, b.ram)
            .cmp(&(a.flash, a.ram))
            .then_with(|| a.name.cmp(&b.name))
    });
    symbols.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.name.cmp(&b.name)));
    symbols.truncate(top);
    size.symbols = symbols;
    Ok(size)
}

/// One allocated section, as the attribution needs it.
struct Section {
    index: SectionIndex,
    name: String,
    /// Its run address (0 in a relocatable object).
    addr: u64,
    bytes: u64,
    flash: bool,
    ram: bool,
}

/// A loadable segment's addresses.
#[derive(Clone, Copy)]
struct Load {
    paddr: u64,
    offset: u64,
    filesz: u64,
}

fn loads(f: &object::File<'_>) -> Vec<Load> {
    fn of<Elf: object::read::elf::FileHeader<Endian = object::Endianness>>(
        e: &object::read::elf::ElfFile<'_, Elf>,
    ) -> Vec<Load> {
        use object::read::elf::ProgramHeader as _;
        e.segments()
            .map(|s| {
                let h = s.elf_program_header();
                let (offset, filesz) = s.file_range();
                Load {
                    paddr: h.p_paddr(e.endian()).into(),
                    offset,
                    filesz,
                }
            })
            .collect()
    }
    match f {
        object::File::Elf32(e) => of(e),
        object::File::Elf64(e) => of(e),
        _ => Vec::new(),
    }
}

/// Every allocated section with a size: what it counts for, its regions,
/// and the Berkeley figures, into `size`.
fn sections(f: &object::File<'_>, size: &mut Size) -> Vec<Section> {
    let loads = loads(f);
    let mut out = Vec::new();
    for s in f.sections() {
        let object::SectionFlags::Elf { sh_flags, sh_type } = s.flags() else {
            continue;
        };
        if !sh_flags.contains(object::elf::SHF_ALLOC) || s.size() == 0 {
            continue;
        }
        let bytes = s.size();
        let nobits = sh_type == object::elf::SHT_NOBITS || s.file_range().is_none();
        let writable = sh_flags.contains(object::elf::SHF_WRITE);
        if nobits {
            size.bss += bytes;
        } else if writable {
            size.data += bytes;
        } else {
            size.text += bytes;
        }
        // Where its bytes are loaded from: the segment whose file range
        // holds them.
        let lma = s.file_range().filter(|_| !nobits).and_then(|(off, _)| {
            loads
                .iter()
                .find(|l| off >= l.offset && off - l.offset < l.filesz)
                .map(|l| l.paddr.wrapping_add(off - l.offset))
        });
        let flash = !nobits && (loads.is_empty() || lma.is_some());
        let addr = s.address();
        let run = size.regions.iter().position(|r| r.contains(addr));
        let load = lma
            .and_then(|a| size.regions.iter().position(|r| r.contains(a)))
            .filter(|l| Some(*l) != run);
        let ram = match run.map(|i| size.regions[i].kind) {
            Some(RegionKind::Ram) => true,
            Some(RegionKind::Flash) => false,
            Some(RegionKind::Unknown) | None => writable || nobits,
        };
        if let Some(i) = run {
            size.regions[i].used += bytes;
        }
        if let Some(i) = load.filter(|_| flash) {
            size.regions[i].used += bytes;
        }
        let name = s.name().unwrap_or("?").to_owned();
        size.flash += if flash { bytes } else { 0 };
        size.ram += if ram { bytes } else { 0 };
        size.sections.push(SectionSize {
            name: name.clone(),
            bytes,
            flash: if flash { bytes } else { 0 },
            ram: if ram { bytes } else { 0 },
            region: run.map(|i| size.regions[i].name.clone()),
            load_region: load.filter(|_| flash).map(|i| size.regions[i].name.clone()),
        });
        out.push(Section {
            index: s.index(),
            name,
            addr,
            bytes,
            flash,
            ram,
        });
    }
    out
}

/// A defined symbol with a size: its offset in its section.
struct Sym {
    name: String,
    offset: u64,
    /// Its value as DWARF addresses it (Thumb bit cleared).
    value: u64,
    bytes: u64,
    global: bool,
    /// The object file the symbol table names before a local symbol (or
    /// before a mapping symbol at a global one's address).
    file: Option<Rc<str>>,
}

/// Where bytes came from: the compile units, and the object file named
/// before each local mapping symbol (`$t`, `$a`, `$d`, `$x`: ARM, AArch64
/// and RISC-V assemblers put one where each run of code or data starts).
struct Origins<'a> {
    units: Units,
    markers: Markers,
    /// What the link's inputs say.
    objects: &'a ObjectCrates,
}

/// A mapping symbol's place (section, address) → its object file.
type Markers = HashMap<(SectionIndex, u64), Rc<str>>;

impl Origins<'_> {
    /// The object file a mapping symbol at this place says.
    fn file(&self, section: SectionIndex, value: u64) -> Option<&str> {
        self.markers.get(&(section, value)).map(|f| &**f)
    }
}

/// Defined, sized function, data and TLS symbols, by section; and the
/// object file of each mapping symbol. A global symbol (which the symbol
/// table lists after every file's locals) takes the file of a mapping
/// symbol at its address.
fn symbols_by_section(f: &object::File<'_>) -> (HashMap<SectionIndex, Vec<Sym>>, Markers) {
    let thumb = f.architecture() == Architecture::Arm;
    let mut out: HashMap<SectionIndex, Vec<Sym>> = HashMap::new();
    let mut markers: Markers = HashMap::new();
    let mut file: Option<Rc<str>> = None;
    for sym in f.symbols() {
        if sym.kind() == SymbolKind::File {
            file = sym.name().ok().map(Rc::from);
            continue;
        }
        let Some(index) = sym.section_index() else {
            continue;
        };
        if !sym.is_global()
            && let (Ok(name), Some(file)) = (sym.name(), &file)
            && is_mapping_symbol(name)
        {
            markers
                .entry((index, sym.address()))
                .or_insert_with(|| file.clone());
            continue;
        }
        if !matches!(
            sym.kind(),
            SymbolKind::Text | SymbolKind::Data | SymbolKind::Tls | SymbolKind::Unknown
        ) || sym.size() == 0
            || sym.is_undefined()
        {
            continue;
        }
        let Ok(name) = sym.name() else { continue };
        let Ok(section) = f.section_by_index(index) else {
            continue;
        };
        let mut value = sym.address();
        if thumb && sym.kind() == SymbolKind::Text {
            value &= !1;
        }
        let Some(offset) = value.checked_sub(section.address()) else {
            continue;
        };
        out.entry(index).or_default().push(Sym {
            name: name.to_owned(),
            offset,
            value,
            bytes: sym.size(),
            global: sym.is_global(),
            file: if sym.is_global() { None } else { file.clone() },
        });
    }
    for (index, syms) in &mut out {
        for s in syms.iter_mut().filter(|s| s.file.is_none()) {
            s.file = markers.get(&(*index, s.value)).cloned();
        }
    }
    (out, markers)
}

/// `$t`, `$a`, `$d`, `$x` and their numbered forms (`$t.1`).
fn is_mapping_symbol(name: &str) -> bool {
    let mut c = name.chars();
    c.next() == Some('$')
        && matches!(c.next(), Some('a' | 't' | 'd' | 'x'))
        && c.next().is_none_or(|n| n == '.')
}

/// Count every byte of `s` for a crate or bucket: each symbol's bytes not
/// already counted (aliases and overlaps once), and the gaps between.
fn attribute(
    s: &Section,
    mut syms: Vec<Sym>,
    origins: &Origins<'_>,
    by_crate: &mut BTreeMap<String, (u64, u64)>,
    listed: &mut Vec<SymbolSize>,
) {
    let units = &origins.units;
    let gap = |at: u64| {
        let cu = units.at(Some(s.index), s.addr + at, None).map(|p| p.unit);
        let file = origins.file(s.index, s.addr + at);
        crates::of_gap(&s.name, cu, file, origins.objects)
    };
    // At each place the largest first, globals before local aliases.
    syms.sort_by(|a, b| {
        (a.offset, std::cmp::Reverse(a.bytes), !a.global, &a.name).cmp(&(
            b.offset,
            std::cmp::Reverse(b.bytes),
            !b.global,
            &b.name,
        ))
    });
    syms.dedup_by(|later, first| later.offset == first.offset && later.bytes == first.bytes);
    let mut add = |krate: String, n: u64| {
        if n == 0 {
            return;
        }
        let e = by_crate.entry(krate).or_default();
        e.0 += if s.flash { n } else { 0 };
        e.1 += if s.ram { n } else { 0 };
    };
    let mut covered = 0u64;
    for sym in syms {
        if sym.offset >= s.bytes {
            continue;
        }
        let end = sym.offset.saturating_add(sym.bytes).min(s.bytes);
        if sym.offset > covered {
            add(gap(covered), sym.offset - covered);
        }
        let place = units.at(Some(s.index), sym.value, Some(&sym.name));
        let krate = crates::of_symbol(&sym.name, place, sym.file.as_deref(), origins.objects);
        add(krate.clone(), end.saturating_sub(covered.max(sym.offset)));
        covered = covered.max(end);
        listed.push(SymbolSize {
            name: super::pretty(&sym.name),
            section: s.name.clone(),
            bytes: end - sym.offset,
            krate,
        });
    }
    if covered < s.bytes {
        add(gap(covered), s.bytes - covered);
    }
}

#[cfg(test)]
#[path = "size_tests.rs"]
mod tests;

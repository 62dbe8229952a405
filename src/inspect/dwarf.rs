//! Source locations from DWARF: file, line and the inlined frames at an
//! address of a relocatable object or a linked image.
use std::borrow::Cow;

use object::{Object, ObjectKind, ObjectSection};

type Borrowed<'a> = gimli::EndianSlice<'a, gimli::RunTimeEndian>;
type Owned = gimli::EndianRcSlice<gimli::RunTimeEndian>;

/// A file's DWARF: read in place, or, when its debug sections are
/// compressed (`--compress-debug-sections=zlib|zstd`, `SHF_COMPRESSED`),
/// from their decompressed copies; a relocatable object's with its
/// relocations applied, its sections laid out one after another.
pub(super) enum Dwarf<'a> {
    InPlace(addr2line::Context<Borrowed<'a>>),
    Decompressed(addr2line::Context<Owned>),
    Relocated(addr2line::Context<Relocated>, Layout),
}

type Relocated = gimli::RelocateReader<Owned, Relocs>;

/// Where a relocatable object's sections are placed for DWARF lookups:
/// every allocated section starts at 0 in the file, so a function in
/// `.init.text` and one in `.text` would share addresses; laid out one
/// after another (as a link would), each address names one place.
#[derive(Debug, Default)]
pub(super) struct Layout(std::collections::HashMap<object::SectionIndex, u64>);

impl Layout {
    fn of(f: &object::File<'_>) -> Self {
        let mut at = 0u64;
        let mut bases = std::collections::HashMap::new();
        for s in f.sections() {
            if !matches!(
                s.kind(),
                object::SectionKind::Text
                    | object::SectionKind::Data
                    | object::SectionKind::ReadOnlyData
                    | object::SectionKind::ReadOnlyDataWithRel
                    | object::SectionKind::ReadOnlyString
                    | object::SectionKind::UninitializedData
                    | object::SectionKind::Tls
                    | object::SectionKind::UninitializedTls
            ) {
                continue;
            }
            let align = s.align().max(1);
            at = at.div_ceil(align) * align;
            bases.insert(s.index(), at);
            at = at.saturating_add(s.size().max(1));
        }
        Self(bases)
    }

    pub(super) fn base(&self, section: Option<object::SectionIndex>) -> u64 {
        section.and_then(|i| self.0.get(&i)).copied().unwrap_or(0)
    }
}

/// A debug section's relocations: at each offset, what to add (and
/// whether the value read there is the addend, as in ARM's `REL`).
#[derive(Clone, Debug, Default)]
pub(super) struct Relocs(std::rc::Rc<std::collections::HashMap<u64, (bool, u64)>>);

impl Relocs {
    fn of(f: &object::File<'_>, s: &object::Section<'_, '_>, layout: &Layout) -> Self {
        use object::{ObjectSymbol, RelocationKind, RelocationTarget};
        let mut map = std::collections::HashMap::new();
        for (off, r) in s.relocations() {
            if r.kind() != RelocationKind::Absolute {
                continue;
            }
            // A debug section's offsets stay offsets; code and data get
            // their section's place in the layout.
            let base = match r.target() {
                RelocationTarget::Symbol(i) => f.symbol_by_index(i).ok().map(|sym| {
                    let sec = sym.section_index();
                    let debug = sec
                        .and_then(|i| f.section_by_index(i).ok())
                        .is_some_and(|s| s.kind() == object::SectionKind::Debug);
                    if debug {
                        sym.address()
                    } else {
                        layout.base(sec).wrapping_add(sym.address())
                    }
                }),
                RelocationTarget::Section(i) => Some(layout.base(Some(i))),
                _ => None,
            };
            if let Some(base) = base {
                map.insert(
                    off,
                    (
                        r.has_implicit_addend(),
                        base.wrapping_add(r.addend().cast_unsigned()),
                    ),
                );
            }
        }
        Self(std::rc::Rc::new(map))
    }

    fn apply(&self, offset: usize, value: u64) -> u64 {
        match self.0.get(&(offset as u64)) {
            Some((true, add)) => value.wrapping_add(*add),
            Some((false, add)) => *add,
            None => value,
        }
    }
}

impl gimli::read::Relocate for Relocs {
    fn relocate_address(&self, offset: usize, value: u64) -> gimli::Result<u64> {
        Ok(self.apply(offset, value))
    }

    fn relocate_offset(&self, offset: usize, value: usize) -> gimli::Result<usize> {
        <usize as gimli::ReaderOffset>::from_u64(self.apply(offset, value as u64))
    }
}

fn compressed(s: &object::Section<'_, '_>) -> bool {
    s.compressed_file_range()
        .is_ok_and(|r| r.format != object::CompressionFormat::None)
}

/// A file's DWARF sections, loaded as [`Dwarf`] describes (before the
/// line and function tables are built).
pub(super) enum Loaded<'a> {
    InPlace(Box<gimli::Dwarf<Borrowed<'a>>>),
    Decompressed(Box<gimli::Dwarf<Owned>>),
    Relocated(Box<gimli::Dwarf<Relocated>>, Layout),
}

/// The DWARF sections of `f`, or `None` when it has none (or they do not
/// parse).
pub(super) fn load<'a>(f: &object::File<'a>) -> Option<Loaded<'a>> {
    f.section_by_name(".debug_info")?;
    let endian = if f.is_little_endian() {
        gimli::RunTimeEndian::Little
    } else {
        gimli::RunTimeEndian::Big
    };
    let owned = |s: Option<object::Section<'_, '_>>| {
        let data: std::rc::Rc<[u8]> = s
            .and_then(|s| s.uncompressed_data().ok())
            .map_or_else(|| std::rc::Rc::from(&[][..]), |d| std::rc::Rc::from(&*d));
        gimli::EndianRcSlice::new(data, endian)
    };
    if f.kind() == ObjectKind::Relocatable {
        let layout = Layout::of(f);
        let load = |id: gimli::SectionId| -> Result<Relocated, gimli::Error> {
            let s = f.section_by_name(id.name());
            let relocs = s
                .as_ref()
                .map(|s| Relocs::of(f, s, &layout))
                .unwrap_or_default();
            Ok(gimli::RelocateReader::new(owned(s), relocs))
        };
        let d = gimli::Dwarf::load(load).ok()?;
        return Some(Loaded::Relocated(Box::new(d), layout));
    }
    let any_compressed = f
        .sections()
        .any(|s| s.name().is_ok_and(|n| n.starts_with(".debug_")) && compressed(&s));
    if any_compressed {
        let load = |id: gimli::SectionId| -> Result<Owned, gimli::Error> {
            Ok(owned(f.section_by_name(id.name())))
        };
        return gimli::Dwarf::load(load)
            .ok()
            .map(|d| Loaded::Decompressed(Box::new(d)));
    }
    let load = |id: gimli::SectionId| -> Result<Borrowed<'a>, gimli::Error> {
        let data = f
            .section_by_name(id.name())
            .and_then(|s| s.data().ok())
            .unwrap_or(&[]);
        Ok(gimli::EndianSlice::new(data, endian))
    };
    gimli::Dwarf::load(load)
        .ok()
        .map(|d| Loaded::InPlace(Box::new(d)))
}

pub(super) fn dwarf<'a>(f: &object::File<'a>) -> Option<Dwarf<'a>> {
    match load(f)? {
        Loaded::InPlace(d) => addr2line::Context::from_dwarf(*d).ok().map(Dwarf::InPlace),
        Loaded::Decompressed(d) => addr2line::Context::from_dwarf(*d)
            .ok()
            .map(Dwarf::Decompressed),
        Loaded::Relocated(d, layout) => addr2line::Context::from_dwarf(*d)
            .ok()
            .map(|c| Dwarf::Relocated(c, layout)),
    }
}

/// What DWARF says about one address.
#[derive(Debug, Default)]
pub(super) struct Located {
    /// The innermost known file and line.
    pub(super) file: Option<String>,
    pub(super) line: Option<u32>,
    /// Inlined callees, outermost first (the function itself first).
    pub(super) inlined: Vec<String>,
    /// Every frame's file:line, innermost first: the code, then each
    /// inlined call's call site out to the function's own line.
    pub(super) sites: Vec<(String, u32)>,
}

/// Source location and inlined callees at `addr` of `section` (a
/// relocatable object's: the offset in it), in the function whose
/// symbol is `symbol`. Nothing when the DWARF at that address describes
/// another function: debug info of code the linker removed can claim live
/// addresses (at 0 after `--gc-sections`), and no location is better than
/// a wrong one.
pub(super) fn locate(
    d: &Dwarf<'_>,
    section: object::SectionIndex,
    addr: u64,
    symbol: &str,
) -> Located {
    match d {
        Dwarf::InPlace(ctx) => locate_in(ctx, addr, symbol),
        Dwarf::Decompressed(ctx) => locate_in(ctx, addr, symbol),
        Dwarf::Relocated(ctx, layout) => {
            locate_in(ctx, layout.base(Some(section)).wrapping_add(addr), symbol)
        }
    }
}

fn locate_in<R: gimli::Reader>(ctx: &addr2line::Context<R>, addr: u64, symbol: &str) -> Located {
    let Ok(mut frames) = ctx.find_frames(addr).skip_all_loads() else {
        return Located::default();
    };
    let mut out = Located::default();
    let mut outermost: Option<String> = None;
    while let Ok(Some(frame)) = frames.next() {
        // Innermost first; a compiler-made location (line 0) says nothing,
        // so the call site in the next frame out is used instead.
        if let Some(loc) = frame.location.as_ref()
            && let (Some(file), Some(line)) = (loc.file, loc.line.filter(|n| *n > 0))
        {
            if out.line.is_none() {
                out.file = Some(file.to_owned());
                out.line = Some(line);
            }
            out.sites.push((file.to_owned(), line));
        }
        if let Some(func) = &frame.function {
            out.inlined
                .push(func.demangle().map(Cow::into_owned).unwrap_or_default());
            outermost = func.raw_name().ok().map(Cow::into_owned);
        }
    }
    if outermost.is_none_or(|o| !same_function(&o, symbol)) {
        return Located::default();
    }
    out.inlined.reverse(); // outermost first
    out
}

/// Whether a DWARF subprogram's name (its linkage name, else its plain
/// name) is the symbol's.
fn same_function(dwarf_name: &str, symbol: &str) -> bool {
    if dwarf_name == symbol {
        return true;
    }
    // Without a linkage name DWARF has the plain name (`new`), the symbol
    // the mangled path: compare the last path segment, hash dropped.
    let plain = |s: &str| {
        let d = rustc_demangle::demangle(s);
        let full = format!("{d:#}");
        full.rsplit("::").next().unwrap_or_default().to_owned()
    };
    !dwarf_name.contains("::") && plain(symbol) == dwarf_name
}

/// The source lines of the code between `start` and `end` of `section`
/// (a relocatable object's: offsets in it), in address order, each once.
pub(super) fn lines_in(
    d: &Dwarf<'_>,
    section: object::SectionIndex,
    start: u64,
    end: u64,
) -> Vec<(String, u32)> {
    match d {
        Dwarf::InPlace(ctx) => rows(ctx, start, end),
        Dwarf::Decompressed(ctx) => rows(ctx, start, end),
        Dwarf::Relocated(ctx, layout) => {
            let base = layout.base(Some(section));
            rows(ctx, base.wrapping_add(start), base.wrapping_add(end))
        }
    }
}

fn rows<R: gimli::Reader>(ctx: &addr2line::Context<R>, lo: u64, hi: u64) -> Vec<(String, u32)> {
    let Ok(iter) = ctx.find_location_range(lo, hi) else {
        return Vec::new();
    };
    let mut out: Vec<(String, u32)> = Vec::new();
    for (_, _, loc) in iter {
        if let (Some(file), Some(line)) = (loc.file, loc.line.filter(|n| *n > 0)) {
            let site = (file.to_owned(), line);
            if !out.contains(&site) {
                out.push(site);
            }
        }
    }
    out
}

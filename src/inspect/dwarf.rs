//! Source locations from DWARF: file, line and the inlined frames at an
//! address of a relocatable object or a linked image.
use std::borrow::Cow;

use object::{Object, ObjectKind, ObjectSection};

type Borrowed<'a> = gimli::EndianSlice<'a, gimli::RunTimeEndian>;
type Owned = gimli::EndianRcSlice<gimli::RunTimeEndian>;

/// A file's DWARF: its line and function tables (`addr2line`), and for a
/// relocatable object where its sections are laid out.
pub(super) struct Dwarf<'a> {
    ctx: Ctx<'a>,
    /// Empty for a linked file: its addresses are addresses.
    layout: Layout,
}

/// The tables, over the sections as [`Loaded`] has them.
enum Ctx<'a> {
    InPlace(addr2line::Context<Borrowed<'a>>),
    Decompressed(addr2line::Context<Owned>),
    Relocated(addr2line::Context<gimli::RelocateReader<Borrowed<'a>, Relocs>>),
    RelocatedDecompressed(addr2line::Context<gimli::RelocateReader<Owned, Relocs>>),
}

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

/// A debug section's relocations, sorted by offset: at each offset, what
/// to add (and whether the value read there is the addend, as in ARM's
/// `REL`). Looked up by binary search: an object's debug sections carry
/// tens of thousands of relocations each, and a hash map of them cost
/// more than the DWARF lookups themselves.
#[derive(Clone, Debug, Default)]
pub(super) struct Relocs(std::rc::Rc<Vec<(u64, bool, u64)>>);

/// Per symbol index, the value a relocation against the symbol starts
/// from (`None`: not yet asked; `Some(None)`: no value), shared by the
/// debug sections of one file.
type SymbolBases = Vec<Option<Option<u64>>>;

impl Relocs {
    fn of(
        f: &object::File<'_>,
        s: &object::Section<'_, '_>,
        layout: &Layout,
        bases: &mut SymbolBases,
    ) -> Self {
        use object::{RelocationKind, RelocationTarget};
        let mut all = Vec::with_capacity(count_hint(f, s));
        for (off, r) in s.relocations() {
            if r.kind() != RelocationKind::Absolute {
                continue;
            }
            let base = match r.target() {
                // An index past the symbol table (a damaged file) has no
                // value, and never sizes the cache.
                RelocationTarget::Symbol(i) => match bases.get_mut(i.0) {
                    Some(b) => *b.get_or_insert_with(|| symbol_base(f, i, layout)),
                    None => None,
                },
                RelocationTarget::Section(i) => Some(layout.base(Some(i))),
                _ => None,
            };
            if let Some(base) = base {
                all.push((
                    off,
                    r.has_implicit_addend(),
                    base.wrapping_add(r.addend().cast_unsigned()),
                ));
            }
        }
        // Stable: of two relocations at one offset the last one counts.
        if !all.is_sorted_by_key(|e| e.0) {
            all.sort_by_key(|e| e.0);
        }
        Self(std::rc::Rc::new(all))
    }

    fn apply(&self, offset: usize, value: u64) -> u64 {
        let offset = offset as u64;
        let at = self.0.partition_point(|e| e.0 <= offset);
        match at.checked_sub(1).map(|i| self.0[i]) {
            Some((o, true, add)) if o == offset => value.wrapping_add(add),
            Some((o, false, add)) if o == offset => add,
            _ => value,
        }
    }
}

/// About how many relocations ELF has for section `s` (its `.rela`/`.rel`
/// section's size over the entry size), never more than could fit in it:
/// a capacity, so that tens of thousands are not copied while growing.
fn count_hint(f: &object::File<'_>, s: &object::Section<'_, '_>) -> usize {
    let Ok(name) = s.name() else { return 0 };
    let (rela, rel) = if f.is_64() { (24, 16) } else { (12, 8) };
    // The bytes the file holds, never a header's claimed size: a damaged
    // header must not size an allocation.
    let held = |r: object::Section<'_, '_>| r.data().map_or(0, <[u8]>::len);
    let n = f
        .section_by_name(&format!(".rela{name}"))
        .map(|r| held(r) / rela)
        .or_else(|| {
            f.section_by_name(&format!(".rel{name}"))
                .map(|r| held(r) / rel)
        })
        .unwrap_or(0);
    n.min(s.data().map_or(0, <[u8]>::len) / 4)
}

/// The value a relocation against symbol `i` starts from: a debug
/// section's offsets stay offsets; code and data get their section's
/// place in the layout.
fn symbol_base(f: &object::File<'_>, i: object::SymbolIndex, layout: &Layout) -> Option<u64> {
    use object::ObjectSymbol;
    f.symbol_by_index(i).ok().map(|sym| {
        let sec = sym.section_index();
        let debug = sec
            .and_then(|i| f.section_by_index(i).ok())
            .is_some_and(|s| s.kind() == object::SectionKind::Debug);
        if debug {
            sym.address()
        } else {
            layout.base(sec).wrapping_add(sym.address())
        }
    })
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

/// A file's DWARF sections (before the line and function tables are
/// built): read in place, or, when its debug sections are compressed
/// (`--compress-debug-sections=zlib|zstd`, `SHF_COMPRESSED`), from their
/// decompressed copies; a relocatable object's with its relocations
/// applied, its sections laid out one after another.
pub(super) enum Loaded<'a> {
    InPlace(Box<gimli::Dwarf<Borrowed<'a>>>),
    Decompressed(Box<gimli::Dwarf<Owned>>),
    Relocated(
        Box<gimli::Dwarf<gimli::RelocateReader<Borrowed<'a>, Relocs>>>,
        Layout,
    ),
    RelocatedDecompressed(
        Box<gimli::Dwarf<gimli::RelocateReader<Owned, Relocs>>>,
        Layout,
    ),
}

/// The sections `addr2line` reads (those its `Context::from_sections`
/// takes); the others (location lists, macros, type units, name index)
/// are left empty for file:line, which saves reading and relocating them.
fn for_lines(id: gimli::SectionId) -> bool {
    use gimli::SectionId as S;
    matches!(
        id,
        S::DebugAbbrev
            | S::DebugAddr
            | S::DebugAranges
            | S::DebugInfo
            | S::DebugLine
            | S::DebugLineStr
            | S::DebugRanges
            | S::DebugRngLists
            | S::DebugStr
            | S::DebugStrOffsets
    )
}

/// The DWARF sections of `f`, or `None` when it has none (or they do not
/// parse).
pub(super) fn load<'a>(f: &object::File<'a>) -> Option<Loaded<'a>> {
    load_some(f, |_| true)
}

/// Like [`load`], with the sections `wanted` does not take left empty.
fn load_some<'a>(f: &object::File<'a>, wanted: fn(gimli::SectionId) -> bool) -> Option<Loaded<'a>> {
    f.section_by_name(".debug_info")?;
    let endian = if f.is_little_endian() {
        gimli::RunTimeEndian::Little
    } else {
        gimli::RunTimeEndian::Big
    };
    let section = |id: gimli::SectionId| {
        if wanted(id) {
            f.section_by_name(id.name())
        } else {
            None
        }
    };
    let owned = |s: Option<&object::Section<'_, '_>>| {
        let data: std::rc::Rc<[u8]> = s
            .and_then(|s| s.uncompressed_data().ok())
            .map_or_else(|| std::rc::Rc::from(&[][..]), |d| std::rc::Rc::from(&*d));
        gimli::EndianRcSlice::new(data, endian)
    };
    let borrowed = |s: Option<&object::Section<'a, '_>>| {
        gimli::EndianSlice::new(s.and_then(|s| s.data().ok()).unwrap_or(&[]), endian)
    };
    let any_compressed = f
        .sections()
        .any(|s| s.name().is_ok_and(|n| n.starts_with(".debug_")) && compressed(&s));
    if f.kind() == ObjectKind::Relocatable {
        let layout = Layout::of(f);
        // One slot per entry of the symbol table (the file's own count,
        // never a relocation's say).
        let mut bases: SymbolBases = vec![None; f.symbols().count() + 1];
        let mut relocs = |s: Option<&object::Section<'_, '_>>| {
            s.map(|s| Relocs::of(f, s, &layout, &mut bases))
                .unwrap_or_default()
        };
        if any_compressed {
            let d = gimli::Dwarf::load(|id| -> Result<_, gimli::Error> {
                let s = section(id);
                Ok(gimli::RelocateReader::new(
                    owned(s.as_ref()),
                    relocs(s.as_ref()),
                ))
            })
            .ok()?;
            return Some(Loaded::RelocatedDecompressed(Box::new(d), layout));
        }
        let d = gimli::Dwarf::load(|id| -> Result<_, gimli::Error> {
            let s = section(id);
            Ok(gimli::RelocateReader::new(
                borrowed(s.as_ref()),
                relocs(s.as_ref()),
            ))
        })
        .ok()?;
        return Some(Loaded::Relocated(Box::new(d), layout));
    }
    if any_compressed {
        return gimli::Dwarf::load(|id| -> Result<_, gimli::Error> {
            Ok(owned(section(id).as_ref()))
        })
        .ok()
        .map(|d| Loaded::Decompressed(Box::new(d)));
    }
    gimli::Dwarf::load(|id| -> Result<_, gimli::Error> { Ok(borrowed(section(id).as_ref())) })
        .ok()
        .map(|d| Loaded::InPlace(Box::new(d)))
}

/// `f`'s line and function tables, or `None` when it has no DWARF (or it
/// does not parse).
pub(super) fn dwarf<'a>(f: &object::File<'a>) -> Option<Dwarf<'a>> {
    let (ctx, layout) = match load_some(f, for_lines)? {
        Loaded::InPlace(d) => (
            Ctx::InPlace(addr2line::Context::from_dwarf(*d).ok()?),
            Layout::default(),
        ),
        Loaded::Decompressed(d) => (
            Ctx::Decompressed(addr2line::Context::from_dwarf(*d).ok()?),
            Layout::default(),
        ),
        Loaded::Relocated(d, layout) => (
            Ctx::Relocated(addr2line::Context::from_dwarf(*d).ok()?),
            layout,
        ),
        Loaded::RelocatedDecompressed(d, layout) => (
            Ctx::RelocatedDecompressed(addr2line::Context::from_dwarf(*d).ok()?),
            layout,
        ),
    };
    Some(Dwarf { ctx, layout })
}

/// Runs `$body` with `$c` bound to the tables of `$d`, whatever reader
/// they read with.
macro_rules! with_ctx {
    ($d:expr, $c:ident => $body:expr) => {
        match &$d.ctx {
            Ctx::InPlace($c) => $body,
            Ctx::Decompressed($c) => $body,
            Ctx::Relocated($c) => $body,
            Ctx::RelocatedDecompressed($c) => $body,
        }
    };
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
    let addr = d.layout.base(Some(section)).wrapping_add(addr);
    with_ctx!(d, ctx => locate_in(ctx, addr, symbol))
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
    let base = d.layout.base(Some(section));
    with_ctx!(d, ctx => rows(ctx, base.wrapping_add(start), base.wrapping_add(end)))
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

//! Source locations from DWARF: file, line and the inlined frames at an
//! address of a relocatable object or a linked image.
use std::borrow::Cow;

use object::{Object, ObjectKind, ObjectSection};

type Borrowed<'a> = gimli::EndianSlice<'a, gimli::RunTimeEndian>;
type Owned = gimli::EndianRcSlice<gimli::RunTimeEndian>;

/// A file's DWARF: read in place, or, when its debug sections are
/// compressed (`--compress-debug-sections=zlib|zstd`, `SHF_COMPRESSED`),
/// from their decompressed copies.
pub(super) enum Dwarf<'a> {
    InPlace(addr2line::Context<Borrowed<'a>>),
    Decompressed(addr2line::Context<Owned>),
}

fn compressed(s: &object::Section<'_, '_>) -> bool {
    s.compressed_file_range()
        .is_ok_and(|r| r.format != object::CompressionFormat::None)
}

pub(super) fn dwarf<'a>(f: &object::File<'a>) -> Option<Dwarf<'a>> {
    if f.kind() == ObjectKind::Relocatable || f.section_by_name(".debug_info").is_none() {
        return None;
    }
    let endian = if f.is_little_endian() {
        gimli::RunTimeEndian::Little
    } else {
        gimli::RunTimeEndian::Big
    };
    let any_compressed = f
        .sections()
        .any(|s| s.name().is_ok_and(|n| n.starts_with(".debug_")) && compressed(&s));
    if any_compressed {
        let load = |id: gimli::SectionId| -> Result<Owned, gimli::Error> {
            let data: std::rc::Rc<[u8]> = f
                .section_by_name(id.name())
                .and_then(|s| s.uncompressed_data().ok())
                .map_or_else(|| std::rc::Rc::from(&[][..]), |d| std::rc::Rc::from(&*d));
            Ok(gimli::EndianRcSlice::new(data, endian))
        };
        let d = gimli::Dwarf::load(load).ok()?;
        return addr2line::Context::from_dwarf(d)
            .ok()
            .map(Dwarf::Decompressed);
    }
    let load = |id: gimli::SectionId| -> Result<Borrowed<'a>, gimli::Error> {
        let data = f
            .section_by_name(id.name())
            .and_then(|s| s.data().ok())
            .unwrap_or(&[]);
        Ok(gimli::EndianSlice::new(data, endian))
    };
    let d = gimli::Dwarf::load(load).ok()?;
    addr2line::Context::from_dwarf(d).ok().map(Dwarf::InPlace)
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

/// Source location and inlined callees at `addr`, in the function whose
/// symbol is `symbol`. Nothing when the DWARF at that address describes
/// another function: debug info of code the linker removed can claim live
/// addresses (at 0 after `--gc-sections`), and no location is better than
/// a wrong one.
pub(super) fn locate(d: &Dwarf<'_>, addr: u64, symbol: &str) -> Located {
    match d {
        Dwarf::InPlace(ctx) => locate_in(ctx, addr, symbol),
        Dwarf::Decompressed(ctx) => locate_in(ctx, addr, symbol),
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

//! ELF inspection as pure functions over bytes: which symbols a set of
//! objects leaves undefined, which functions reference each one (from
//! relocations), where (DWARF, inlined frames resolved), and a chain of
//! references from a root to it (breadth-first over the relocation call
//! graph). Works on linked images (with `--emit-relocs`), shared objects,
//! relocatable objects and archive members; an archive's members resolve
//! against each other, so only what no member defines is undefined.
//!
//! No process, no terminal: printers take `&mut dyn Write`.
use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, bail};
use object::read::archive::ArchiveFile;
use object::{BinaryFormat, Object, ObjectSection, ObjectSymbol, SymbolKind};
use serde::Serialize;

use crate::model::Undefined;

mod chains;
mod crates;
mod dwarf;
mod graph;
pub(crate) mod memory;
mod objects;
mod sites;
mod size;
mod units;

pub(crate) use graph::{analyze, analyze_with_origins, undefined_only};
pub(crate) use sites::definition_sites;
pub(crate) use size::{DEFAULT_TOP, footprint};

/// Refuse inputs larger than this (an archive member claiming more is bad).
pub(crate) const MAX_INPUT: u64 = 4 << 30;

/// One object to analyse: a name for reports and its bytes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Unit<'a> {
    /// `file.o` or `lib.a(member.o)`.
    pub(crate) name: &'a str,
    /// The ELF bytes.
    pub(crate) data: &'a [u8],
}

/// Demangle a Rust (legacy or v0) name without its hash; `None` if it is
/// not mangled.
pub(crate) fn demangle(name: &str) -> Option<String> {
    rustc_demangle::try_demangle(name)
        .ok()
        .map(|d| format!("{d:#}"))
}

pub(crate) fn pretty(name: &str) -> String {
    demangle(name).unwrap_or_else(|| name.to_owned())
}

/// The metadata of a regular file; anything else (a FIFO would block the
/// open forever, a device reads without end, a directory) is an error
/// naming the file, before it is opened.
fn regular_file(path: &Path) -> Result<std::fs::Metadata> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("{}: cannot read", path.display()))?;
    if !meta.is_file() {
        let ft = meta.file_type();
        use std::os::unix::fs::FileTypeExt as _;
        let what = if ft.is_dir() {
            "a directory"
        } else if ft.is_fifo() {
            "a FIFO"
        } else if ft.is_socket() {
            "a socket"
        } else if ft.is_char_device() || ft.is_block_device() {
            "a device"
        } else {
            "not a regular file"
        };
        bail!(
            "{}: {what}; only regular files are inspected",
            path.display()
        );
    }
    Ok(meta)
}

/// Read a file for inspection (size-capped).
pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>> {
    let meta = regular_file(path)?;
    if meta.len() > MAX_INPUT {
        bail!(
            "{}: {} bytes is larger than the {MAX_INPUT}-byte limit",
            path.display(),
            meta.len()
        );
    }
    std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))
}

/// Split a file into units: itself, or an archive's ELF members (names
/// only; thin-archive members naming outside files are never opened).
pub(crate) fn units<'a>(name: &'a str, data: &'a [u8]) -> Result<Parts<'a>> {
    units_and_skipped(name, data).map(|(u, _)| u)
}

/// Why an archive member that is not an ELF object was not inspected, or
/// `None` for members that carry no code (symbol tables, Rust metadata).
fn skipped_member(name: &str, bytes: &[u8]) -> Option<String> {
    let quiet = [
        "/",
        "//",
        "/SYM64/",
        "__.SYMDEF",
        "__.SYMDEF SORTED",
        "lib.rmeta",
    ];
    if quiet.contains(&name) || name.ends_with(".rmeta") {
        return None;
    }
    let what = if bytes.starts_with(b"BC\xc0\xde") || bytes.starts_with(&[0xde, 0xc0, 0x17, 0x0b]) {
        "LLVM bitcode: not inspected; build without LTO for this check".to_owned()
    } else {
        match object::FileKind::parse(bytes) {
            Ok(k) => format!("{k:?} object: linkmatrix reads ELF only"),
            Err(_) => "not an object file".to_owned(),
        }
    };
    Some(what)
}

/// A file's units: (label, bytes) of each ELF object in it.
type Parts<'a> = Vec<(String, &'a [u8])>;

/// [`units`], and a warning for each member that could hold code but was
/// not inspected (LLVM bitcode, COFF, Mach-O …).
pub(crate) fn units_and_skipped<'a>(
    name: &'a str,
    data: &'a [u8],
) -> Result<(Parts<'a>, Vec<String>)> {
    let mut skipped = Vec::new();
    if data.starts_with(b"!<arch>\n") || data.starts_with(b"!<thin>\n") {
        if data.starts_with(b"!<arch>\n") {
            check_member_sizes(name, data)?;
        }
        let ar = ArchiveFile::parse(data).with_context(|| format!("{name}: bad archive"))?;
        if ar.is_thin() {
            bail!(
                "{name}: thin archive: its members are outside files, which linkmatrix never follows"
            );
        }
        let mut out = Vec::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        for m in ar.members() {
            let m = m.with_context(|| format!("{name}: bad archive member"))?;
            let mname = String::from_utf8_lossy(m.name()).into_owned();
            let bytes = m.data(data).with_context(|| {
                format!("{name}({mname}): member data lies outside the archive")
            })?;
            if !bytes.starts_with(b"\x7fELF") {
                if let Some(why) = skipped_member(&mname, bytes) {
                    skipped.push(format!("{name}({mname}): {why}"));
                }
                continue;
            }
            let n = seen.entry(mname.clone()).or_insert(0);
            *n += 1;
            let label = if *n > 1 {
                format!("{name}({mname}#{n})")
            } else {
                format!("{name}({mname})")
            };
            out.push((label, bytes));
        }
        Ok((out, skipped))
    } else {
        Ok((vec![(name.to_owned(), data)], skipped))
    }
}

/// Walk an archive's member headers and check each size stays inside the
/// file. `object` silently ends its member list at a symbol table (`/`,
/// `/SYM64/`, `__.SYMDEF`) whose size field is too large, which would
/// turn an archive with undefined symbols into a clean one: an archive
/// whose members cannot all be read is an error, never a smaller answer.
fn check_member_sizes(name: &str, data: &[u8]) -> Result<()> {
    let mut at = 8usize;
    while at < data.len() {
        // A trailing newline pads an odd-sized last member.
        if data.len() - at == 1 && data[at] == b'\n' {
            break;
        }
        let Some(h) = data.get(at..at + 60) else {
            bail!("{name}: archive member header at offset {at} is cut short");
        };
        if &h[58..60] != b"`\n" {
            bail!("{name}: archive member header at offset {at} is damaged");
        }
        let size: u64 = std::str::from_utf8(&h[48..58])
            .ok()
            .map(str::trim)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("{name}: archive member at offset {at} has no valid size"))?;
        let end = u64::try_from(at + 60)
            .ok()
            .and_then(|s| s.checked_add(size))
            .filter(|&e| e <= data.len() as u64)
            .with_context(|| {
                let member = String::from_utf8_lossy(&h[..16]).trim_end().to_owned();
                format!(
                    "{name}: archive member `{member}` at offset {at} claims {size} bytes, past the end of the file ({} bytes)",
                    data.len()
                )
            })?;
        at = usize::try_from(end).unwrap_or(usize::MAX);
        at += at % 2;
    }
    Ok(())
}

pub(super) fn parse<'a>(u: &Unit<'a>) -> Result<object::File<'a>> {
    if let Some(why) = skipped_member("", u.data).filter(|w| w.starts_with("LLVM")) {
        bail!("{}: {why}", u.name);
    }
    let f = object::File::parse(u.data)
        .with_context(|| format!("{}: not a valid object file", u.name))?;
    if f.format() != BinaryFormat::Elf {
        bail!(
            "{}: {:?} object, linkmatrix reads ELF only",
            u.name,
            f.format()
        );
    }
    Ok(f)
}

/// The symbols a platform image exports: names in `section` (NUL-separated),
/// or every global defined symbol when `section` is `None`.
pub(crate) fn exports(data: &[u8], name: &str, section: Option<&str>) -> Result<BTreeSet<String>> {
    let f = parse(&Unit { name, data })?;
    match section {
        Some(sec) => {
            let Some(s) = f.section_by_name(sec) else {
                return Ok(BTreeSet::new());
            };
            let bytes = s
                .data()
                .with_context(|| format!("{name}: section {sec} lies outside the file"))?;
            Ok(bytes
                .split(|&b| b == 0)
                .filter(|w| !w.is_empty())
                .map(|w| String::from_utf8_lossy(w).into_owned())
                .collect())
        }
        None => Ok(f
            .symbols()
            .filter(|s| s.is_global() && !s.is_undefined())
            .filter_map(|s| s.name().ok().map(str::to_owned))
            .collect()),
    }
}

/// A file's bytes: memory-mapped when large, read otherwise.
pub(crate) enum Input {
    /// A read-only private mapping.
    Mapped(memmap2::Mmap),
    /// Read into memory.
    Owned(Vec<u8>),
}

impl std::ops::Deref for Input {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Input::Mapped(m) => m,
            Input::Owned(v) => v,
        }
    }
}

/// Files at least this large are mapped rather than read (reading a
/// 150 MB shared object costs more than analysing it).
const MAP_THRESHOLD: u64 = 4 << 20;

/// Open a file for `inspect`: large files are memory-mapped.
///
/// A mapped file that another process truncates while we read it raises
/// SIGBUS: the run dies, but it cannot report anything wrong, which is the
/// bargain README's "Robustness" section states for the 5-50x speed of a mapping. `check`
/// reads its own small outputs instead ([`read_file`]).
#[allow(unsafe_code)]
pub(crate) fn map_file(path: &Path) -> Result<Input> {
    regular_file(path)?;
    let file =
        std::fs::File::open(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let len = file
        .metadata()
        .with_context(|| format!("{}: cannot read", path.display()))?
        .len();
    if len > MAX_INPUT {
        bail!(
            "{}: {len} bytes is larger than the {MAX_INPUT}-byte limit",
            path.display()
        );
    }
    if len < MAP_THRESHOLD {
        return read_file(path).map(Input::Owned);
    }
    // SAFETY: the mapping is read-only and private; see the doc comment for
    // what a concurrent truncation does.
    let map = unsafe { memmap2::Mmap::map(&file) }
        .with_context(|| format!("{}: cannot map", path.display()))?;
    Ok(Input::Mapped(map))
}

/// `inspect`'s report for one file.
#[derive(Debug, Serialize)]
pub(crate) struct FileReport {
    /// The file.
    pub(crate) file: String,
    /// Its undefined symbols.
    pub(crate) undefined: Vec<Undefined>,
    /// Members not inspected (LLVM bitcode, other formats): the answer
    /// does not cover them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) warnings: Vec<String>,
    /// Why it could not be inspected (then `undefined` is empty).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
}

/// Inspect files for the `inspect` command.
/// With `symbols_only`, only the symbol tables are read (what `nm -u`
/// does, resolved across archive members), not relocations or DWARF.
/// Each file is reported on its own: one that cannot be read or parsed
/// gets its `error`, and the others are still listed.
pub(crate) fn inspect_files(paths: &[std::path::PathBuf], symbols_only: bool) -> Vec<FileReport> {
    let one = |p: &Path| -> Result<(Vec<Undefined>, Vec<String>)> {
        let data = map_file(p)?;
        let name = p.display().to_string();
        let (parts, skipped) = units_and_skipped(&name, &data)?;
        if parts.is_empty() && !skipped.is_empty() {
            bail!(
                "{name}: nothing in it could be inspected ({} skipped: {})",
                skipped.len(),
                skipped[0]
            );
        }
        let us: Vec<Unit<'_>> = parts
            .iter()
            .map(|(n, d)| Unit { name: n, data: d })
            .collect();
        let undefined = if symbols_only {
            undefined_only(&us)?
        } else {
            analyze(&us, &[])?.undefined
        };
        Ok((undefined, skipped))
    };
    paths
        .iter()
        .map(|p| {
            let file = p.display().to_string();
            match one(p) {
                Ok((undefined, warnings)) => FileReport {
                    file,
                    undefined,
                    warnings,
                    error: None,
                },
                Err(e) => FileReport {
                    file,
                    undefined: Vec::new(),
                    warnings: Vec::new(),
                    error: Some(format!("{e:#}")),
                },
            }
        })
        .collect()
}

/// `inspect --size`'s report for one file.
#[derive(Debug, Serialize)]
pub(crate) struct SizeReport {
    /// The file.
    pub(crate) file: String,
    /// Its footprint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) size: Option<crate::model::Size>,
    /// Why it could not be measured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
}

/// The footprint of each file (one that cannot be read gets its
/// `error`), with `regions` from the linker script and the `top` largest
/// symbols.
pub(crate) fn size_files(
    paths: &[std::path::PathBuf],
    regions: &[crate::model::Region],
    top: usize,
    objects: &crate::model::ObjectCrates,
) -> Vec<SizeReport> {
    paths
        .iter()
        .map(|p| {
            let file = p.display().to_string();
            let size = map_file(p).and_then(|d| {
                footprint(&d, regions, top, objects)
                    .with_context(|| format!("{file}: cannot measure"))
            });
            match size {
                Ok(s) => SizeReport {
                    file,
                    size: Some(s),
                    error: None,
                },
                Err(e) => SizeReport {
                    file,
                    size: None,
                    error: Some(format!("{e:#}")),
                },
            }
        })
        .collect()
}

/// Print `inspect` results for people.
pub(crate) fn print_human(reports: &[FileReport], out: &mut dyn Write) -> std::io::Result<()> {
    for r in reports {
        if r.error.is_some() {
            continue; // said on stderr
        }
        writeln!(out, "{}: {} undefined", r.file, r.undefined.len())?;
        for u in &r.undefined {
            let weak = match (u.weak, u.dynamic) {
                (true, true) => " (weak, dynamic)",
                (true, false) => " (weak)",
                (false, true) => " (dynamic)",
                (false, false) => "",
            };
            writeln!(
                out,
                "  U {}{weak}",
                u.demangled.as_deref().unwrap_or(&u.symbol)
            )?;
            for rf in &u.referenced_by {
                writeln!(out, "      <- {}{}{}", rf.function, rf.at(), rf.in_object())?;
            }
        }
    }
    Ok(())
}

/// Which unit defines each function symbol, for `analyze_with_origins`.
pub(crate) fn origins(units: &[Unit<'_>]) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for u in units {
        let Ok(f) = parse(u) else { continue };
        for s in f.symbols() {
            if s.is_undefined() || s.kind() != SymbolKind::Text {
                continue;
            }
            if let Ok(n) = s.name() {
                out.entry(n.to_owned()).or_insert_with(|| u.name.to_owned());
            }
        }
    }
    out
}

/// What a dynamically linked image imports from the shared libraries it
/// needs (its `DT_NEEDED`): the undefined names of its dynamic symbol
/// table, as `nm -D -u` lists them, without version (`exit`, not
/// `exit@GLIBC_2.2.5`). `None` for an image that needs no shared library
/// (static, `-nostdlib`, firmware): every undefined symbol there is
/// unresolved.
pub(crate) fn dynamic_imports(data: &[u8]) -> Option<BTreeSet<String>> {
    if !needs_libraries(data) {
        return None;
    }
    let f = object::File::parse(data).ok()?;
    Some(
        f.dynamic_symbols()
            .filter(ObjectSymbol::is_undefined)
            .filter_map(|s| s.name().ok().filter(|n| !n.is_empty()).map(str::to_owned))
            .collect(),
    )
}

/// `name` without a symbol version (`exit@GLIBC_2.2.5`, `f@@V1` → `exit`,
/// `f`), as a static symbol table may spell an import.
pub(crate) fn unversioned(name: &str) -> &str {
    name.split_once('@').map_or(name, |(n, _)| n)
}

/// Whether an ELF image's dynamic section names a shared library it needs.
fn needs_libraries(data: &[u8]) -> bool {
    use object::read::elf::{Dyn, FileHeader};
    fn any<E: FileHeader<Endian = object::Endianness>>(data: &[u8]) -> Option<bool> {
        let h = E::parse(data).ok()?;
        let endian = h.endian().ok()?;
        let sections = h.sections(endian, data).ok()?;
        let (dyns, _) = sections.dynamic(endian, data).ok()??;
        Some(dyns.iter().any(|d| d.tag(endian) == object::elf::DT_NEEDED))
    }
    match object::FileKind::parse(data) {
        Ok(object::FileKind::Elf32) => any::<object::elf::FileHeader32<object::Endianness>>(data),
        Ok(object::FileKind::Elf64) => any::<object::elf::FileHeader64<object::Endianness>>(data),
        _ => None,
    }
    .unwrap_or(false)
}

/// The function symbol at an image's entry point (`Reset` for
/// cortex-m-rt), the Thumb bit ignored.
pub(crate) fn entry_symbol(data: &[u8]) -> Option<String> {
    let f = object::File::parse(data).ok()?;
    let entry = f.entry() & !1;
    if entry == 0 && f.entry() == 0 {
        return None;
    }
    f.symbols()
        .filter(|s| s.kind() == SymbolKind::Text && (s.address() & !1) == entry)
        .filter_map(|s| s.name().ok().filter(|n| !n.is_empty()).map(str::to_owned))
        // A global name before a local alias.
        .min_by_key(|n| n.starts_with('$'))
}

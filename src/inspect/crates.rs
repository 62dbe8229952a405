//! Which crate (or bucket) a symbol's bytes count for. The rules, in order:
//!
//! 1. A symbol in a C, C++ or assembly compile unit (DWARF
//!    `DW_AT_language`) is `[C]`, `[C++]` or `[asm]`.
//! 2. A Rust symbol (legacy or v0 mangling, demangled) belongs to the
//!    crate its path starts with: `kalloc::zs::Pool::malloc` → `kalloc`.
//!    A trait method `<T as Trait>::f` belongs to the crate of `T` when
//!    `Trait` is the standard library's, to the crate of `Trait` when `T`
//!    is the standard library's (or a primitive, a slice, a tuple…), and
//!    when both are other crates (the orphan rule lets either hold the
//!    impl) to the one of the two that the compile unit holding the code
//!    is, else — a guess — `T`'s. A path with no crate (`<[T]>::sort`)
//!    falls to rule 3. Generic code counts for the crate that defines it
//!    (`<alloc::vec::Vec<T>>::push` is `alloc`), not the one that
//!    instantiated it, as cargo-bloat counts.
//!    Paths under `__rustc::` (the compiler's own names for the panic
//!    handler, the allocator shims) name no crate and fall to rule 3.
//! 3. An unmangled symbol (`#[no_mangle]`, `extern "C"`, a constant such as
//!    `.Lanon.…` or `anon.….llvm.…`) belongs, in order: to the crate whose
//!    namespace its DWARF entry is in (`img_get` under `imgdemo`); to the
//!    crate whose object in the link's inputs defines it (a global, read
//!    from the archive members rustc names `<crate>-<hash>.<unit>.rcgu.o`,
//!    see [`super::objects`]); to its Rust compile unit's crate; and a
//!    local symbol with no compile unit — or a global one at the address
//!    of a local mapping symbol (`$t`, `$a`, `$d`, `$x`, which ARM, AArch64
//!    and RISC-V objects put where code or data starts: a `global_asm!`
//!    function has no debug info but has one) — to the object file the
//!    symbol table names before it (`STT_FILE`): `platform.c` is `[C]`,
//!    `start.S` is `[asm]`. A codegen unit's crate is what its name says
//!    (`kalloc.1a2b3c-cgu.0` is `kalloc`); an incremental build names units
//!    by a hash (`ewnxypx64zgwdvvxv2cqak6xr`), whose crate only the link's
//!    inputs say — a hash is never taken for a crate.
//! 4. Otherwise (a global symbol with no debug info that no input
//!    archive of the link defines, or `inspect --size` of a lone image):
//!    linker-made veneers and thunks are `[linker]`; anything else is
//!    `[unknown]` — an unmangled name alone does not say whether it was C,
//!    assembly or Rust.
//!
//! Bytes no symbol covers count by where they are: in a compile unit's
//! address range, for its crate or language; at a mapping symbol, for its
//! object file's crate or language; in a section the linker
//! assembles (unwind index and tables, GOT, PLT, dynamic linking) as
//! `[linker]`; else as `[section NAME]` (constants and string literals
//! that carry no symbol, padding).
use super::units::{CompileUnit, Lang, Place};
use crate::model::{ObjectCrates, named_unit_crate};

/// The bucket of bytes the linker made.
pub(super) const LINKER: &str = "[linker]";
/// The bucket of bytes nothing attributes.
pub(super) const UNKNOWN: &str = "[unknown]";

/// The standard library's crates.
const STD: &[&str] = &[
    "core",
    "alloc",
    "std",
    "compiler_builtins",
    "panic_abort",
    "panic_unwind",
    "unwind",
    "std_detect",
    "proc_macro",
];

/// The crate or bucket a symbol counts for (rules 1-4 of the module):
/// `place` is where DWARF puts it, `file` the `STT_FILE` name a local
/// symbol follows, `objects` what the link's inputs say.
pub(super) fn of_symbol(
    mangled: &str,
    place: Option<Place<'_>>,
    file: Option<&str>,
    objects: &ObjectCrates,
) -> String {
    let cu = place.map(|p| p.unit);
    if let Some(b) = cu.and_then(language_bucket) {
        return b.to_owned();
    }
    let cu_crate = cu.and_then(|u| u.krate(objects));
    if let Ok(d) = rustc_demangle::try_demangle(mangled) {
        let path = format!("{d:#}");
        if let Some(k) = of_path(&path, cu_crate) {
            return k;
        }
    }
    if let Some(k) = place.and_then(|p| p.item_crate).filter(|k| *k != "__rustc") {
        return k.to_owned();
    }
    if let Some(k) = objects.symbol(mangled).or(cu_crate) {
        return k.to_owned();
    }
    if let Some(k) = file.and_then(|f| of_file(f, objects)) {
        return k;
    }
    if linker_made(mangled) {
        return LINKER.to_owned();
    }
    UNKNOWN.to_owned()
}

/// The bucket for bytes no symbol covers in `section`, inside `cu`'s
/// range when one holds them, else where a mapping symbol says `file`
/// starts.
pub(super) fn of_gap(
    section: &str,
    cu: Option<&CompileUnit>,
    file: Option<&str>,
    objects: &ObjectCrates,
) -> String {
    if let Some(u) = cu {
        if let Some(b) = language_bucket(u) {
            return b.to_owned();
        }
        if let Some(k) = u.krate(objects) {
            return k.to_owned();
        }
    }
    if let Some(k) = file.and_then(|f| of_file(f, objects)) {
        return k;
    }
    if linker_section(section) {
        LINKER.to_owned()
    } else {
        format!("[section {section}]")
    }
}

fn language_bucket(u: &CompileUnit) -> Option<&'static str> {
    match u.lang {
        Lang::C => Some("[C]"),
        Lang::Cpp => Some("[C++]"),
        Lang::Asm => Some("[asm]"),
        Lang::Rust | Lang::Other => None,
    }
}

/// The crate or bucket of an object file named in the symbol table: a
/// Rust codegen unit (`kalloc.1a2b3c-cgu.0`, or a hashed one the link's
/// inputs name) or a C, C++ or assembly source.
fn of_file(name: &str, objects: &ObjectCrates) -> Option<String> {
    if let Some(k) = named_unit_crate(name).or_else(|| objects.unit(name)) {
        return Some(k.to_owned());
    }
    let ext = name.rsplit_once('.')?.1;
    match ext {
        "c" => Some("[C]".to_owned()),
        "cc" | "cpp" | "cxx" | "C" => Some("[C++]".to_owned()),
        "s" | "S" | "asm" => Some("[asm]".to_owned()),
        _ => None,
    }
}

/// Sections whose contents the linker assembles rather than copies from
/// one object.
pub(super) fn linker_section(name: &str) -> bool {
    const PREFIXES: &[&str] = &[
        ".ARM.exidx",
        ".ARM.extab",
        ".eh_frame",
        ".gcc_except_table",
        ".got",
        ".plt",
        ".dynamic",
        ".dynsym",
        ".dynstr",
        ".hash",
        ".gnu.hash",
        ".gnu.version",
        ".rel.dyn",
        ".rela.dyn",
        ".rel.plt",
        ".rela.plt",
        ".interp",
        ".note",
        ".relr.dyn",
    ];
    PREFIXES.iter().any(|p| name.starts_with(p))
}

/// Range-extension veneers and thunks lld and GNU ld insert.
fn linker_made(name: &str) -> bool {
    name.contains("Thunk_") || name.ends_with("_veneer") || name.starts_with("__veneer")
}

/// The crate a demangled path belongs to, or `None` when it names none.
pub(super) fn of_path(path: &str, cu_crate: Option<&str>) -> Option<String> {
    let path = path.trim();
    if !path.starts_with('<') {
        return leading_crate(path).map(str::to_owned);
    }
    let close = matching_close(path)?;
    let inner = &path[1..close];
    let (ty, tr) = match split_top(inner, " as ") {
        Some((ty, tr)) => (ty, Some(tr)),
        None => (inner, None),
    };
    let ty_crate = type_crate(ty);
    let trait_crate = tr.and_then(|t| of_path(t, cu_crate));
    let is_std = |k: &str| STD.contains(&k);
    match (ty_crate, trait_crate) {
        (Some(t), Some(r)) if t == r => Some(t),
        (Some(t), Some(r)) if is_std(&r) => Some(t),
        (Some(t), Some(r)) if is_std(&t) => Some(r),
        (Some(t), Some(r)) => match cu_crate {
            Some(k) if k == r => Some(r),
            _ => Some(t),
        },
        (Some(t), None) => Some(t),
        (None, Some(r)) => Some(r),
        (None, None) => None,
    }
}

/// The crate of a type written in a path: a path's first segment;
/// through references, pointers and `dyn`; none for primitives, slices,
/// arrays, tuples and function pointers.
fn type_crate(ty: &str) -> Option<String> {
    let mut t = ty.trim();
    loop {
        let before = t;
        for p in ["&mut ", "&", "*const ", "*mut ", "dyn ", "impl "] {
            if let Some(rest) = t.strip_prefix(p) {
                t = rest.trim_start();
            }
        }
        if t == before {
            break;
        }
    }
    if t.starts_with(['[', '(']) || t.starts_with("fn(") || t.starts_with("unsafe ") {
        return None;
    }
    of_path(t, None)
}

/// `kalloc` of `kalloc::zs::Pool<T>::f`; none for a single segment (a
/// type parameter or a primitive).
fn leading_crate(path: &str) -> Option<&str> {
    let end = path.find(['<', ' ', '(']).unwrap_or(path.len());
    let head = &path[..end];
    let (first, _) = head.split_once("::")?;
    let ident = !first.is_empty()
        && first != "__rustc"
        && first
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '$')
        && !first.starts_with(|c: char| c.is_ascii_digit());
    ident.then_some(first)
}

/// The index of the `>` closing the `<` at 0 (`->` is not a bracket).
fn matching_close(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut depth = 0usize;
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'<' => depth += 1,
            b'>' if i > 0 && b[i - 1] == b'-' => {}
            b'>' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// `s` split at the first `sep` outside every bracket.
fn split_top<'a>(s: &'a str, sep: &str) -> Option<(&'a str, &'a str)> {
    let b = s.as_bytes();
    let mut depth = 0i32;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'<' | b'(' | b'[' => depth += 1,
            b'>' if i > 0 && b[i - 1] == b'-' => {}
            b'>' | b')' | b']' => depth -= 1,
            _ if depth == 0 && s[i..].starts_with(sep) => {
                return Some((&s[..i], &s[i + sep.len()..]));
            }
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(p: &str) -> Option<String> {
        of_path(p, None)
    }

    #[test]
    fn plain_paths_belong_to_their_first_segment() {
        assert_eq!(path("kalloc::zs::Pool::malloc").as_deref(), Some("kalloc"));
        assert_eq!(
            path("core::ptr::drop_in_place::<kalloc::Pool>").as_deref(),
            Some("core")
        );
        assert_eq!(path("kalloc::f::{closure#0}").as_deref(), Some("kalloc"));
        assert_eq!(path("main"), None);
    }

    #[test]
    fn trait_impls_follow_the_orphan_rule() {
        // A std trait for a crate's type: the crate's code.
        assert_eq!(
            path("<kalloc::zs::Pool as core::fmt::Debug>::fmt").as_deref(),
            Some("kalloc")
        );
        // A crate's trait for a std type or a primitive: the crate's.
        assert_eq!(
            path("<u32 as kalloc::Backend>::populate").as_deref(),
            Some("kalloc")
        );
        assert_eq!(
            path("<&mut [u8] as defmt::Format>::format").as_deref(),
            Some("defmt")
        );
        assert_eq!(
            path("<core::slice::iter::Iter<T> as core::iter::traits::iterator::Iterator>::next")
                .as_deref(),
            Some("core")
        );
        // Two other crates: the compile unit decides, else the type's.
        let p = "<euclid::Rect as resvg::RectExt>::x";
        assert_eq!(of_path(p, Some("resvg")).as_deref(), Some("resvg"));
        assert_eq!(of_path(p, None).as_deref(), Some("euclid"));
        // Inherent impls and generics.
        assert_eq!(
            path("<alloc::vec::Vec<kalloc::Obj>>::push").as_deref(),
            Some("alloc")
        );
        assert_eq!(
            path("<kalloc::percpu::vm::Vm as kalloc::percpu::Backend<P>>::populate").as_deref(),
            Some("kalloc")
        );
        assert_eq!(path("<[T]>::sort_unstable"), None);
        assert_eq!(
            path("<fn() -> u8 as core::ops::FnOnce<()>>::call_once").as_deref(),
            Some("core")
        );
    }

    fn at(unit: &CompileUnit) -> Place<'_> {
        Place {
            unit,
            item_crate: None,
        }
    }

    #[test]
    fn symbols_without_debug_info() {
        let none = ObjectCrates::default();
        let k = |s| of_symbol(s, None, None, &none);
        // Legacy and v0 manglings of the same kind of path.
        assert_eq!(k("_ZN6kalloc2zs4Pool6malloc17h0123456789abcdefE"), "kalloc");
        assert_eq!(k("_RNvNtCs1234_6kalloc2zs6malloc"), "kalloc");
        assert_eq!(k("memcpy"), UNKNOWN);
        assert_eq!(k("__ARMv7ABSLongThunk_foo"), LINKER);
        let rust = CompileUnit {
            lang: Lang::Rust,
            unit: Some("cortex_m_rt.1f2e-cgu.0".to_owned()),
        };
        assert_eq!(
            of_symbol("Reset", Some(at(&rust)), None, &none),
            "cortex_m_rt"
        );
        // The compiler's own names fall to the unit's crate.
        assert_eq!(
            of_symbol(
                "_RNvCsfgHYwM92fyn_7___rustc17rust_begin_unwind",
                Some(at(&rust)),
                None,
                &none
            ),
            "cortex_m_rt"
        );
        // Local constants: the object file the symbol table names.
        let anon = ".Lanon.292698ef31bbf2757c08b2c3927b4aab.13";
        assert_eq!(
            of_symbol(anon, None, Some("kalloc.aa61cfe76c8aace-cgu.0"), &none),
            "kalloc"
        );
        assert_eq!(of_symbol("page_used", None, Some("mm.c"), &none), "[C]");
        assert_eq!(of_symbol("reset", None, Some("start.S"), &none), "[asm]");
        let c = CompileUnit {
            lang: Lang::C,
            unit: None,
        };
        assert_eq!(of_symbol("platform_init", Some(at(&c)), None, &none), "[C]");
    }

    #[test]
    fn a_hashed_codegen_unit_is_never_a_crate() {
        let none = ObjectCrates::default();
        // An incremental build's unit and file names are hashes.
        let hashed = CompileUnit {
            lang: Lang::Rust,
            unit: Some("0lsptsz8qhsszhsy6aippuqx5".to_owned()),
        };
        let anon = "anon.3f2a.0";
        let file = Some("0lsptsz8qhsszhsy6aippuqx5");
        assert_eq!(of_symbol(anon, Some(at(&hashed)), file, &none), UNKNOWN);
        assert_eq!(
            of_gap(".text", Some(&hashed), file, &none),
            "[section .text]"
        );
        // The item's namespace says an unmangled function's crate.
        let img_get = Place {
            unit: &hashed,
            item_crate: Some("imgdemo"),
        };
        assert_eq!(of_symbol("img_get", Some(img_get), None, &none), "imgdemo");
        // The link's inputs say the unit's crate and a global's.
        let mut inputs = ObjectCrates::default();
        inputs
            .units
            .insert("0lsptsz8qhsszhsy6aippuqx5".to_owned(), "imgdemo".to_owned());
        inputs
            .symbols
            .insert("img_get".to_owned(), "imgdemo".to_owned());
        assert_eq!(of_symbol(anon, Some(at(&hashed)), file, &inputs), "imgdemo");
        assert_eq!(of_symbol(anon, None, file, &inputs), "imgdemo");
        assert_eq!(of_gap(".text", Some(&hashed), None, &inputs), "imgdemo");
        assert_eq!(of_symbol("img_get", None, None, &inputs), "imgdemo");
    }

    #[test]
    fn gaps_count_by_unit_then_section() {
        let none = ObjectCrates::default();
        assert_eq!(of_gap(".ARM.exidx", None, None, &none), LINKER);
        assert_eq!(of_gap(".rodata", None, None, &none), "[section .rodata]");
        assert_eq!(of_gap(".text", None, Some("start.S"), &none), "[asm]");
        let asm = CompileUnit {
            lang: Lang::Asm,
            unit: None,
        };
        assert_eq!(of_gap(".text", Some(&asm), None, &none), "[asm]");
    }
}

//! Which crate the objects of a link's inputs belong to, from the names
//! rustc gives them: an archive member (of a staticlib or an rlib) named
//! `<crate>-<hash>.<codegen unit>[.<work product>].rcgu.o` is crate
//! `<crate>`'s. What footprint attribution needs of it, and cannot read
//! from a linked image:
//!
//! - the crate of a codegen unit whose name does not say it: with
//!   incremental compilation (cargo's `dev` profile, for path packages)
//!   rustc names units by a hash (`ewnxypx64zgwdvvxv2cqak6xr`), and that
//!   hash is all the image's DWARF unit name (`src/lib.rs/@/ewnx…`) and
//!   symbol-table file name carry;
//! - the crate of a global symbol with no mangled path (`#[no_mangle]`,
//!   `extern "C"`) and no debug info: a linked image lists its globals
//!   after every file's locals, so only the input object that defined it
//!   says whose it is.
//!
//! The record is [`ObjectCrates`] (in `model`: a cell keeps it); this
//! module reads it from archives and trims it to what an image asks.
//!
//! Members not made by rustc (a `cc` build's `foo.o`, compiler-builtins'
//! C objects) say nothing here. Reads bytes only; no process, no file
//! system, no output.
use std::collections::{BTreeSet, HashMap};

use crate::model::{ObjectCrates, hashed_unit};
use object::read::archive::ArchiveFile;
use object::{Object, ObjectSymbol};

impl ObjectCrates {
    /// Read the members of every archive in `archives` (a staticlib, the
    /// rlibs of a link); a file that is not an archive adds nothing.
    pub(crate) fn of_archives<'a>(archives: impl IntoIterator<Item = &'a [u8]>) -> Self {
        let mut out = Self::default();
        let mut ambiguous: BTreeSet<String> = BTreeSet::new();
        for data in archives {
            let Ok(a) = ArchiveFile::parse(data) else {
                continue;
            };
            // Each member's crate, by the offset of its header.
            let mut crates: HashMap<u64, Option<String>> = HashMap::new();
            for member in a.members().flatten() {
                let name = std::str::from_utf8(member.name()).unwrap_or_default();
                if let Some((krate, unit)) = member_crate(name) {
                    out.units.insert(unit.to_owned(), krate.to_owned());
                }
            }
            // The archive's symbol index names each global's member
            // without parsing every object.
            let mut define = |sym: &str, krate: &str| {
                if sym.is_empty() || mangled(sym) {
                    return;
                }
                match out.symbols.get(sym) {
                    Some(k) if k != krate => {
                        ambiguous.insert(sym.to_owned());
                    }
                    Some(_) => {}
                    None => {
                        out.symbols.insert(sym.to_owned(), krate.to_owned());
                    }
                }
            };
            if let Ok(Some(index)) = a.symbols() {
                for s in index.flatten() {
                    let krate = crates.entry(s.offset().0).or_insert_with(|| {
                        let m = a.member(s.offset()).ok()?;
                        let name = std::str::from_utf8(m.name()).ok()?;
                        member_crate(name).map(|(k, _)| k.to_owned())
                    });
                    if let (Some(k), Ok(sym)) = (krate, std::str::from_utf8(s.name())) {
                        define(sym, k);
                    }
                }
                continue;
            }
            // No index: each member's own symbol table.
            for member in a.members().flatten() {
                let name = std::str::from_utf8(member.name()).unwrap_or_default();
                let Some((krate, _)) = member_crate(name) else {
                    continue;
                };
                let Ok(obj) = member.data(data).and_then(object::File::parse) else {
                    continue;
                };
                for s in obj.symbols().filter(|s| s.is_global() && !s.is_undefined()) {
                    if let Ok(sym) = s.name() {
                        define(sym, krate);
                    }
                }
            }
        }
        for s in &ambiguous {
            out.symbols.remove(s);
        }
        out
    }

    /// Keep what the ELF image `image` can ask about: the globals it
    /// defines, the hashed units (a cell's record stays small), those its
    /// symbol table names that are the binary's own written out.
    /// Unchanged when `image` is not an object file.
    pub(crate) fn keep_for(&mut self, image: &[u8]) {
        let Ok(f) = object::File::parse(image) else {
            return;
        };
        let (mut names, mut files): (BTreeSet<&str>, BTreeSet<&str>) = Default::default();
        for s in f.symbols() {
            if let Ok(n) = s.name() {
                if s.kind() == object::SymbolKind::File {
                    files.insert(n);
                } else {
                    names.insert(n);
                }
            }
        }
        self.symbols.retain(|s, _| names.contains(s.as_str()));
        // A unit whose name says its crate needs no entry; the binary's
        // own units are written out (`own` is not kept).
        self.units.retain(|u, _| !u.contains("-cgu."));
        if let Some(own) = self.own.take() {
            for n in files.iter().filter(|n| hashed_unit(n)) {
                self.units
                    .entry((*n).to_owned())
                    .or_insert_with(|| own.clone());
            }
        }
    }
}

/// A mangled name, by its shape alone (an rlib's index holds thousands:
/// demangling each would cost more than the rest): legacy `_ZN…E`, v0
/// `_R` and a path tag or version digit. Its path says its crate without
/// help; a C name of that shape (`_RTC_init`) is left to the other rules.
fn mangled(sym: &str) -> bool {
    let sym = sym
        .strip_prefix('_')
        .filter(|_| sym.starts_with("__"))
        .unwrap_or(sym);
    (sym.starts_with("_ZN") && sym.ends_with('E'))
        || sym
            .strip_prefix("_R")
            .and_then(|r| r.chars().next())
            .is_some_and(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// `(crate, codegen unit)` of an archive member rustc wrote:
/// `kalloc-0123456789abcdef.kalloc.1a2b3c-cgu.0.rcgu.o` →
/// `(kalloc, kalloc.1a2b3c-cgu.0)`;
/// `app-0123456789abcdef.ewnxypx64zgwdvvxv2cqak6xr.177x63z.rcgu.o` →
/// `(app, ewnxypx64zgwdvvxv2cqak6xr)` (incremental: a hashed unit, then
/// the work product's id). `None` for any other name.
pub(crate) fn member_crate(name: &str) -> Option<(&str, &str)> {
    // An archive's long names may end in `/` (GNU).
    let name = name.trim_end_matches('/');
    let rest = name.strip_suffix(".rcgu.o")?;
    let (head, unit) = rest.split_once('.')?;
    let (krate, hash) = head.split_once('-')?;
    let ident = !krate.is_empty()
        && krate.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !krate.starts_with(|c: char| c.is_ascii_digit());
    if !ident || hash.is_empty() || !hash.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let unit = if unit.contains("-cgu.") {
        unit
    } else {
        unit.split('.').next()?
    };
    (!unit.is_empty()).then_some((krate, unit))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::named_unit_crate;

    #[test]
    fn rustcs_member_names_give_the_crate_and_the_unit() {
        assert_eq!(
            member_crate("kalloc-0123456789abcdef.kalloc.1a2b3c-cgu.0.rcgu.o"),
            Some(("kalloc", "kalloc.1a2b3c-cgu.0"))
        );
        assert_eq!(
            member_crate("imgdemo-39a2c9328f5433a6.ewnxypx64zgwdvvxv2cqak6xr.177x63z.rcgu.o"),
            Some(("imgdemo", "ewnxypx64zgwdvvxv2cqak6xr"))
        );
        assert_eq!(member_crate("45c91108d938afe8-absvdi2.o"), None);
        assert_eq!(member_crate("lib.rmeta"), None);
        assert_eq!(member_crate("platform.o"), None);
    }

    #[test]
    fn mangled_names_are_told_by_their_shape() {
        assert!(mangled("_ZN6kalloc2zs4Pool6malloc17h0123456789abcdefE"));
        assert!(mangled("_RNvNtCs1234_6kalloc2zs6malloc"));
        assert!(mangled("__ZN6kalloc1f17h0123456789abcdefE"));
        assert!(!mangled("img_get"));
        assert!(!mangled("_Reset"));
        assert!(!mangled("__aeabi_memcpy"));
    }

    #[test]
    fn only_a_unit_named_for_its_crate_says_the_crate() {
        assert_eq!(named_unit_crate("kalloc.1a2b3c-cgu.0"), Some("kalloc"));
        assert_eq!(named_unit_crate("core.abc-cgu.07"), Some("core"));
        // Incremental units are hashes: no crate, whatever they look like.
        assert_eq!(named_unit_crate("0lsptsz8qhsszhsy6aippuqx5"), None);
        assert_eq!(named_unit_crate("ewnxypx64zgwdvvxv2cqak6xr"), None);
        assert_eq!(named_unit_crate("platform.c"), None);
    }
}

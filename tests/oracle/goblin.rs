//! The independent second reader, shared by the integration tests and the
//! `differential` fuzz target: the undefined symbols of an ELF file or
//! archive per goblin (not the `object` crate linkmatrix reads with).
use std::collections::BTreeSet;

/// Undefined symbols per goblin, an ELF reader independent of `object`:
/// a file's `.symtab` entries in no section (the dynamic table when it has
/// no `.symtab`: a stripped executable or shared object, as `nm -D -u`), and for an
/// archive those of every member minus what any member defines globally.
/// `None` when goblin cannot read it.
pub fn goblin_undefined(bytes: &[u8]) -> Option<BTreeSet<String>> {
    use goblin::elf::{Elf, section_header::SHN_UNDEF, sym};
    let of_elf = |e: &Elf<'_>, undef: &mut BTreeSet<String>, defined: &mut BTreeSet<String>| {
        // By what the file has: `.symtab` when present, else the dynamic
        // table (a stripped executable or shared object).
        let dynamic = e.header.e_type != goblin::elf::header::ET_REL
            && e.syms.is_empty()
            && !e.dynsyms.is_empty();
        let (syms, strtab) = if dynamic {
            (&e.dynsyms, &e.dynstrtab)
        } else {
            (&e.syms, &e.strtab)
        };
        for s in syms {
            let Some(name) = strtab.get_at(s.st_name).filter(|n| !n.is_empty()) else {
                continue;
            };
            if s.st_type() == sym::STT_FILE || s.st_type() == sym::STT_SECTION {
                continue;
            }
            if s.st_shndx == SHN_UNDEF as usize {
                undef.insert(name.to_owned());
            } else if s.st_bind() != sym::STB_LOCAL {
                defined.insert(name.to_owned());
            }
        }
    };
    let (mut undef, mut defined) = (BTreeSet::new(), BTreeSet::new());
    if bytes.starts_with(b"!<arch>\n") {
        let ar = goblin::archive::Archive::parse(bytes).ok()?;
        for m in ar.members() {
            let data = ar.extract(m, bytes).ok()?;
            if let Ok(e) = Elf::parse(data) {
                of_elf(&e, &mut undef, &mut defined);
            }
        }
    } else {
        of_elf(&Elf::parse(bytes).ok()?, &mut undef, &mut defined);
    }
    Some(undef.difference(&defined).cloned().collect())
}

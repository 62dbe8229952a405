//! Footprints of ELF files written with `object::write`: a firmware-shaped
//! executable (vector table and code in FLASH, `.data` loaded from FLASH
//! into RAM, `.bss` and `.uninit` in RAM) with symbols of two crates, and
//! a relocatable module.
use object::elf;
use object::write::elf::{FileHeader, ProgramHeader, SectionHeader, Sym, Writer};
use object::{Endianness, SectionKind};

use super::*;

/// A section of the test image.
struct Sec {
    name: &'static str,
    addr: u64,
    size: u64,
    nobits: bool,
    write: bool,
}

/// A loadable segment: its load address and the sections it carries.
struct Seg {
    paddr: u64,
    sections: std::ops::Range<usize>,
}

/// A symbol: name, section (index into the sections), value, size,
/// function or data.
struct S(&'static str, usize, u64, u64, bool);

/// An ARM (32-bit, little-endian) executable with these sections,
/// segments and global symbols.
fn exec(secs: &[Sec], loads: &[Seg], syms: &[S]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut w = Writer::new(Endianness::Little, false, &mut out);
    w.reserve_file_header();
    w.reserve_program_headers(loads.len() as u32);
    let offsets: Vec<u64> = secs
        .iter()
        .map(|s| {
            if s.nobits {
                w.reserved_len()
            } else {
                w.reserve(s.size, 4)
            }
        })
        .collect();
    w.reserve_null_section_index();
    let names: Vec<_> = secs
        .iter()
        .map(|s| {
            let id = w.add_section_name(s.name.as_bytes());
            (id, w.reserve_section_index())
        })
        .collect();
    w.reserve_null_symbol_index();
    let sym_names: Vec<_> = syms
        .iter()
        .map(|s| {
            let id = w.add_string(s.0.as_bytes());
            w.reserve_symbol_index(Some(names[s.1].1));
            id
        })
        .collect();
    w.reserve_symtab_section_index();
    w.reserve_symtab();
    w.reserve_strtab_section_index();
    w.reserve_strtab().unwrap();
    w.reserve_shstrtab_section_index();
    w.reserve_shstrtab().unwrap();
    w.reserve_section_headers();

    w.write_file_header(&FileHeader {
        os_abi: elf::ELFOSABI_NONE,
        abi_version: 0,
        e_type: elf::ET_EXEC,
        e_machine: elf::EM_ARM,
        e_entry: 0,
        e_flags: elf::FileFlags::default(),
    })
    .unwrap();
    w.write_align_program_headers();
    for g in loads {
        let first = &secs[g.sections.start];
        let stored: Vec<usize> = g.sections.clone().filter(|&i| !secs[i].nobits).collect();
        let filesz = stored.last().map_or(0, |&l| {
            offsets[l] + secs[l].size - offsets[g.sections.start]
        });
        let last = &secs[g.sections.end - 1];
        w.write_program_header(&ProgramHeader {
            p_type: elf::PT_LOAD,
            p_flags: elf::PF_R,
            p_offset: offsets[g.sections.start],
            p_vaddr: first.addr,
            p_paddr: g.paddr,
            p_filesz: filesz,
            p_memsz: last.addr + last.size - first.addr,
            p_align: 4,
        });
    }
    for (s, off) in secs.iter().zip(&offsets) {
        if !s.nobits {
            w.pad_until(*off);
            w.write(&vec![0; s.size as usize]);
        }
    }
    w.write_null_symbol();
    for (s, id) in syms.iter().zip(&sym_names) {
        let kind = if s.4 { elf::STT_FUNC } else { elf::STT_OBJECT };
        w.write_symbol(&Sym {
            section: Some(names[s.1].1.0),
            st_name: w.string_offset(Some(*id)),
            st_info: elf::SymbolInfo::new(elf::STB_GLOBAL, kind),
            st_other: elf::SymbolOther::default(),
            st_shndx: elf::SymbolSection::default(),
            st_value: s.2,
            st_size: s.3,
        });
    }
    w.write_strtab();
    w.write_shstrtab();
    w.write_null_section_header();
    for (s, ((id, _), off)) in secs.iter().zip(names.iter().zip(&offsets)) {
        let mut flags = elf::SHF_ALLOC;
        if s.write {
            flags |= elf::SHF_WRITE;
        }
        w.write_section_header(&SectionHeader {
            sh_name: w.section_name_offset(Some(*id)),
            sh_type: if s.nobits {
                elf::SHT_NOBITS
            } else {
                elf::SHT_PROGBITS
            },
            sh_flags: flags,
            sh_addr: s.addr,
            sh_offset: *off,
            sh_size: s.size,
            sh_link: 0,
            sh_info: 0,
            sh_addralign: 4,
            sh_entsize: 0,
        });
    }
    w.write_symtab_section_header(1);
    w.write_strtab_section_header();
    w.write_shstrtab_section_header();
    out
}

const FLASH: u64 = 0x0800_0000;
const RAM: u64 = 0x2000_0000;

fn sec(name: &'static str, addr: u64, size: u64, nobits: bool, write: bool) -> Sec {
    Sec {
        name,
        addr,
        size,
        nobits,
        write,
    }
}

/// Vector table, code of crates `alpha` and `beta` (legacy and v0
/// mangling) and an unmangled alias pair, read-only data, `.data` loaded
/// from FLASH, `.bss` and `.uninit`.
fn firmware() -> Vec<u8> {
    let secs = [
        sec(".vector_table", FLASH, 8, false, false),
        sec(".text", FLASH + 8, 40, false, false),
        sec(".rodata", FLASH + 48, 16, false, false),
        sec(".data", RAM, 8, false, true),
        sec(".bss", RAM + 8, 64, true, true),
        sec(".uninit", RAM + 72, 32, true, true),
    ];
    let loads = [
        Seg {
            paddr: FLASH,
            sections: 0..3,
        },
        Seg {
            paddr: FLASH + 64,
            sections: 3..4,
        },
        Seg {
            paddr: RAM + 8,
            sections: 4..6,
        },
    ];
    let syms = [
        // Thumb functions carry bit 0.
        S(
            "_ZN5alpha4init17h0123456789abcdefE",
            1,
            FLASH + 8 + 1,
            12,
            true,
        ),
        S("_RNvNtCs1234_4beta3net4poll", 1, FLASH + 20 + 1, 16, true),
        // Aliases: counted once.
        S("memcpy", 1, FLASH + 36 + 1, 8, true),
        S("__aeabi_memcpy", 1, FLASH + 36 + 1, 8, true),
        S(
            "_ZN4beta5TABLE17h0123456789abcdefE",
            2,
            FLASH + 48,
            10,
            false,
        ),
        S("_ZN4beta5STATE17h0123456789abcdefE", 3, RAM, 8, false),
        S("_ZN5alpha4HEAP17h0123456789abcdefE", 4, RAM + 8, 48, false),
    ];
    exec(&secs, &loads, &syms)
}

fn region(name: &str, origin: u64, length: u64, kind: RegionKind) -> Region {
    Region::new(name, origin, length, kind)
}

fn krate(s: &Size, name: &str) -> (u64, u64) {
    s.crates
        .iter()
        .find(|c| c.name == name)
        .map_or((0, 0), |c| (c.flash, c.ram))
}

#[test]
fn data_counts_in_flash_and_ram_and_regions_take_load_addresses() {
    let regions = [
        region("FLASH", FLASH, 256 << 10, RegionKind::Flash),
        region("RAM", RAM, 64 << 10, RegionKind::Ram),
    ];
    let s = footprint(&firmware(), &regions, 10, &ObjectCrates::default()).unwrap();
    // Flash: vector table, code, read-only data and .data's initial values.
    assert_eq!(s.flash, 8 + 40 + 16 + 8);
    // RAM: .data, .bss, .uninit.
    assert_eq!(s.ram, 8 + 64 + 32);
    assert_eq!((s.text, s.data, s.bss), (64, 8, 96));
    let data = s.sections.iter().find(|x| x.name == ".data").unwrap();
    assert_eq!(data.region.as_deref(), Some("RAM"));
    assert_eq!(data.load_region.as_deref(), Some("FLASH"));
    assert_eq!((data.flash, data.ram), (8, 8));
    let used: Vec<(&str, u64)> = s
        .regions
        .iter()
        .map(|r| (r.name.as_str(), r.used))
        .collect();
    assert_eq!(used, [("FLASH", 72), ("RAM", 104)]);
}

#[test]
fn every_byte_counts_for_one_crate_or_bucket() {
    let s = footprint(&firmware(), &[], 10, &ObjectCrates::default()).unwrap();
    assert_eq!(krate(&s, "alpha"), (12, 48));
    assert_eq!(krate(&s, "beta"), (16 + 10 + 8, 8));
    // memcpy without debug info: its name alone does not say whose it is.
    assert_eq!(krate(&s, "[unknown]"), (8, 0));
    // Bytes no symbol covers, by section.
    assert_eq!(krate(&s, "[section .vector_table]"), (8, 0));
    assert_eq!(krate(&s, "[section .text]"), (4, 0));
    assert_eq!(krate(&s, "[section .rodata]"), (6, 0));
    assert_eq!(krate(&s, "[section .bss]"), (0, 16));
    assert_eq!(krate(&s, "[section .uninit]"), (0, 32));
    assert_eq!(s.crates.iter().map(|c| c.flash).sum::<u64>(), s.flash);
    assert_eq!(s.crates.iter().map(|c| c.ram).sum::<u64>(), s.ram);
}

#[test]
fn symbols_are_listed_largest_first_demangled_once_per_place() {
    let s = footprint(&firmware(), &[], 3, &ObjectCrates::default()).unwrap();
    let top: Vec<(&str, &str, u64, &str)> = s
        .symbols
        .iter()
        .map(|x| {
            (
                x.name.as_str(),
                x.section.as_str(),
                x.bytes,
                x.krate.as_str(),
            )
        })
        .collect();
    assert_eq!(
        top,
        [
            ("alpha::HEAP", ".bss", 48, "alpha"),
            ("beta::net::poll", ".text", 16, "beta"),
            ("alpha::init", ".text", 12, "alpha"),
        ]
    );
    let all = footprint(&firmware(), &[], 100, &ObjectCrates::default()).unwrap();
    assert_eq!(
        all.symbols
            .iter()
            .filter(|x| x.name.contains("memcpy"))
            .count(),
        1
    );
}

#[test]
fn an_image_running_from_ram_counts_its_code_in_ram_too() {
    // A kernel's template: one `RAM (rwx)` region holds everything.
    let regions = [region("RAM", 0, u64::MAX, RegionKind::Ram)];
    let s = footprint(&firmware(), &regions, 0, &ObjectCrates::default()).unwrap();
    assert_eq!(s.flash, 72);
    assert_eq!(s.ram, 8 + 40 + 16 + 8 + 64 + 32);
    // Without regions, only writable and NOBITS sections are RAM.
    assert_eq!(
        footprint(&firmware(), &[], 0, &ObjectCrates::default())
            .unwrap()
            .ram,
        104
    );
}

#[test]
fn a_modules_own_sections_are_counted_without_regions() {
    use object::write::{Object as W, Symbol, SymbolSection};
    let mut o = W::new(
        BinaryFormat::Elf,
        object::Architecture::X86_64,
        object::Endianness::Little,
    );
    let text = o.add_section(Vec::new(), b".text".to_vec(), SectionKind::Text);
    let at = o.append_section_data(text, &[0x90; 24], 16);
    let bss = o.add_section(Vec::new(), b".bss".to_vec(), SectionKind::UninitializedData);
    o.append_section_bss(bss, 40, 8);
    let dbg = o.add_section(Vec::new(), b".comment".to_vec(), SectionKind::Other);
    o.append_section_data(dbg, &[0; 100], 1);
    o.add_symbol(Symbol {
        name: b"_ZN6module4init17h0123456789abcdefE".to_vec(),
        value: at,
        size: 24,
        kind: SymbolKind::Text,
        scope: object::SymbolScope::Dynamic,
        weak: false,
        section: SymbolSection::Section(text),
        flags: object::SymbolFlags::None,
    });
    let bytes = o.write().unwrap();
    let regions = [region("RAM", 0, 1 << 20, RegionKind::Ram)];
    let s = footprint(&bytes, &regions, 5, &ObjectCrates::default()).unwrap();
    assert!(s.regions.is_empty());
    assert_eq!((s.flash, s.ram), (24, 40));
    assert_eq!(krate(&s, "module"), (24, 0));
    assert_eq!(krate(&s, "[section .bss]"), (0, 40));
}

#[test]
fn a_file_that_is_not_elf_is_an_error() {
    assert!(footprint(b"not an object", &[], 5, &ObjectCrates::default()).is_err());
}

//! Unit tests of the families' forms that fixtures/logs does not hold:
//! one small log per form, as each linker words it.
use super::*;
use crate::model::InputKind;

fn one(log: &str) -> Explained {
    explain(&mut std::io::Cursor::new(log.as_bytes().to_vec())).unwrap()
}

fn kinds(e: &Explained) -> Vec<FindingKind> {
    e.findings.iter().map(|f| f.kind).collect()
}

#[test]
fn wrappers_come_off() {
    assert_eq!(strip_ansi("a\x1b[0;31merror: \x1b[0mb"), "aerror: b");
    assert_eq!(unwrap_line(">> ld: x"), " ld: x");
    assert_eq!(unwrap_line(">>> referenced by a"), ">>> referenced by a");
    assert_eq!(unwrap_line("  = note: rust-lld: x"), "rust-lld: x");
    assert_eq!(unwrap_line("1>main.obj : error"), "main.obj : error");
}

#[test]
fn a_long_line_is_capped_not_kept() {
    let mut log = vec![b'x'; 3 * MAX_LINE];
    log.extend_from_slice(b"\nld.lld: error: undefined symbol: foo\n");
    let e = explain(&mut std::io::Cursor::new(log)).unwrap();
    assert_eq!(e.findings.len(), 1);
    assert_eq!(e.lines, 2);
}

#[test]
fn a_failure_nothing_names_is_a_link_error() {
    let e = one("make: x\ncollect2: error: ld returned 1 exit status\n");
    assert!(e.failed);
    assert_eq!(kinds(&e), [FindingKind::LinkError]);
    let e = one(
        "ld.lld: error: section .text file range overlaps with .data\n>>> .text range is [0x0, 0x10]\n",
    );
    assert_eq!(kinds(&e), [FindingKind::LinkError]);
    assert!(
        e.findings[0]
            .message
            .as_deref()
            .unwrap()
            .contains(">>> .text range")
    );
    let e = one(
        "/usr/bin/ld: final link failed: bad value\ncollect2: error: ld returned 1 exit status\n",
    );
    assert_eq!(kinds(&e), [FindingKind::LinkError]);
    assert!(e.findings[0].first_line().contains("final link failed"));
    let e = one(
        "make[1]: Entering directory\nall good\n/usr/bin/ld: skipping incompatible /x/libc.so\n",
    );
    assert!(!e.failed && e.findings.is_empty());
}

#[test]
fn warnings_are_not_findings() {
    let e = one(
        "ld.lld: warning: undefined symbol: weak_x\n>>> referenced by a.c:1\nmain.c:3: warning: undefined reference to `y'\n/usr/bin/ld: warning: creating DT_TEXTREL in a PIE\n",
    );
    assert!(e.findings.is_empty(), "{:?}", e.findings);
}

#[test]
fn gnu_older_and_gold_duplicates_pair_their_definitions() {
    let e = one(
        "/usr/bin/ld: b.o:(.bss+0x0): multiple definition of `x'\n/usr/bin/ld: a.o:(.bss+0x0): first defined here\n",
    );
    let objects: Vec<_> = e.findings[0]
        .definitions
        .iter()
        .map(|d| d.object.clone().unwrap())
        .collect();
    assert_eq!(objects, ["b.o", "a.o"]);
    let e = one(
        "/usr/bin/ld.gold: error: b.o: multiple definition of 'test()'\n/usr/bin/ld.gold: a.o: previous definition here\n",
    );
    assert_eq!(e.findings[0].symbol.as_deref(), Some("test()"));
    assert_eq!(e.findings[0].definitions.len(), 2);
}

#[test]
fn mold_and_lld_link_duplicates() {
    let e = one(
        "mold: error: duplicate symbol: /x/libgcc.a(_udivsi3.o): src/libgitcore.a(udivsi3.o): __udivsi3\n",
    );
    let f = &e.findings[0];
    assert_eq!(
        (f.kind, f.symbol.as_deref()),
        (FindingKind::DuplicateSymbol, Some("__udivsi3"))
    );
    assert_eq!(
        f.definitions[1].object.as_deref(),
        Some("src/libgitcore.a(udivsi3.o)")
    );
    let e = one("lld-link: error: duplicate symbol: int x in a.obj and in b.obj\n");
    assert_eq!(e.findings[0].symbol.as_deref(), Some("int x"));
    assert_eq!(e.findings[0].definitions.len(), 2);
}

#[test]
fn mold_relocation_out_of_range_names_the_function_of_its_section() {
    let e = one(
        "mold: error: /t/raygpu-61.rcgu.o:(.text._ZN6raygpu3gpu3newE): relocation R_X86_64_PC32 against .rodata..L__unnamed_13 out of range: -2149102178 is not in [-2147483648, 2147483648)\n",
    );
    let f = &e.findings[0];
    assert_eq!(f.kind, FindingKind::RelocationOverflow);
    assert_eq!(f.symbol.as_deref(), Some(".rodata..L__unnamed_13"));
    assert_eq!(f.relocation.as_ref().unwrap().r_type, "R_X86_64_PC32");
    assert_eq!(f.referenced_by[0].function, "raygpu::gpu::new");
}

#[test]
fn lld_relocation_against_a_section() {
    let e = one(
        "ld.lld: error: libp.a(p.c.o):(function pl_key: .text+0xf4f): relocation R_X86_64_32 out of range: 18446744071562692895 is not in [0, 4294967295]; references section '.rodata.str1.1'\n>>> referenced by p.c\n",
    );
    let f = &e.findings[0];
    assert_eq!(f.symbol, None);
    assert_eq!(
        f.relocation.as_ref().unwrap().target_section.as_deref(),
        Some(".rodata.str1.1")
    );
    assert_eq!(f.referenced_by[0].function, "pl_key");
    assert_eq!(f.referenced_by[0].file.as_deref(), Some("p.c"));
    assert_eq!(f.subject().unwrap(), "section .rodata.str1.1 (R_X86_64_32)");
}

#[test]
fn msvc_duplicates_and_missing_libraries() {
    let e = one(
        "1>b.obj : error LNK2005: \"int g_count\" (?g_count@@3HA) already defined in a.obj [C:\\p\\app.vcxproj]\n1>app.exe : fatal error LNK1169: one or more multiply defined symbols found\nLINK : fatal error LNK1104: cannot open file 'sensorfw.lib'\n",
    );
    assert_eq!(
        kinds(&e),
        [FindingKind::DuplicateSymbol, FindingKind::MissingInput]
    );
    assert_eq!(e.findings[0].demangled.as_deref(), Some("g_count"));
    assert_eq!(
        e.findings[0].definitions[1].object.as_deref(),
        Some("a.obj")
    );
    let input = e.findings[1].input.as_ref().unwrap();
    assert_eq!(
        (input.kind, input.name.as_str()),
        (InputKind::Library, "sensorfw.lib")
    );
}

#[test]
fn missing_inputs_in_each_linkers_words() {
    for (log, kind, name) in [
        (
            "ld.lld: error: unable to find library -lfoo\n",
            InputKind::Library,
            "foo",
        ),
        (
            "mold: fatal: library not found: foo\n",
            InputKind::Library,
            "foo",
        ),
        (
            "ld: library not found for -lfoo\nclang: error: linker command failed with exit code 1\n",
            InputKind::Library,
            "foo",
        ),
        (
            "/usr/bin/ld: cannot open linker script file memory.x: No such file or directory\n",
            InputKind::LinkerScript,
            "memory.x",
        ),
        (
            "ld.lld: error: cannot open start.o: No such file or directory\n",
            InputKind::Object,
            "start.o",
        ),
        (
            "ld.gold: error: cannot find -lfoo\n",
            InputKind::Library,
            "foo",
        ),
    ] {
        let e = one(log);
        assert_eq!(kinds(&e), [FindingKind::MissingInput], "{log}");
        let i = e.findings[0].input.as_ref().unwrap();
        assert_eq!((i.kind, i.name.as_str()), (kind, name), "{log}");
    }
}

#[test]
fn region_forms() {
    let e = one(
        "ld: address 0x20010000 of fw.elf section `.bss' is not within region `RAM'\nld: region `RAM' overflowed by 16 bytes\n",
    );
    assert_eq!(kinds(&e), [FindingKind::RegionOverflow]);
    let r = e.findings[0].region.as_ref().unwrap();
    assert_eq!(
        (r.name.as_str(), r.overflow_bytes, r.output.as_deref()),
        ("RAM", Some(16), Some("fw.elf"))
    );
}

#[test]
fn script_assertions_that_start_on_the_next_line_and_from_gnu_ld() {
    // cortex-m-rt's message begins with a newline.
    let e = one(
        "rust-lld: error: \nERROR(cortex-m-rt): The interrupt vectors are missing.\nPossible solutions:\n\nerror: could not compile `fw`\n",
    );
    assert_eq!(kinds(&e), [FindingKind::LinkerScriptAssertion]);
    assert_eq!(
        e.findings[0].first_line(),
        "ERROR(cortex-m-rt): The interrupt vectors are missing."
    );
    assert!(
        e.findings[0]
            .message
            .as_deref()
            .unwrap()
            .ends_with("Possible solutions:")
    );
    let e = one(
        "arm-none-eabi-ld: ERROR(riscv-rt): .text is not 4-byte aligned\ncollect2: error: ld returned 1 exit status\n",
    );
    assert_eq!(kinds(&e), [FindingKind::LinkerScriptAssertion]);
}

#[test]
fn a_gnu_name_wrapped_onto_the_next_line_is_joined_and_a_cut_one_is_no_symbol() {
    let e = one(
        "ld: a.o: in function `f':\nlib.rs:(.text+0x5): undefined reference to `\nerror(no-panic): reachable'\n",
    );
    assert_eq!(kinds(&e), [FindingKind::UndefinedSymbol]);
    assert_eq!(
        e.findings[0].symbol.as_deref(),
        Some("\nerror(no-panic): reachable")
    );
    assert_eq!(e.findings[0].referenced_by[0].function, "f");
    let e = one("main.c:(.text+0x5): undefined reference to `ring_fl");
    assert_eq!(kinds(&e), [FindingKind::LinkError]);
}

#[test]
fn lld_names_that_begin_and_end_with_newlines() {
    let e = one(
        "ld.lld: error: undefined symbol: \n\nERROR[no-panic]: detected panic in function `f`\n\n>>> referenced by lib.rs:3\n>>>               x.o:(f)\n",
    );
    assert_eq!(e.findings.len(), 1);
    assert_eq!(
        e.findings[0].symbol.as_deref(),
        Some("\n\nERROR[no-panic]: detected panic in function `f`\n")
    );
    assert_eq!(e.findings[0].referenced_by[0].function, "f");
}

#[test]
fn ld64_prime_and_crates_of_rust_objects() {
    let e = one(
        "ld: Undefined symbols:\n  _x, referenced from:\n      _main in main.o\nclang: error: linker command failed with exit code 1\n",
    );
    assert_eq!(e.findings[0].symbol.as_deref(), Some("x"));
    assert_eq!(e.findings[0].referenced_by[0].function, "main");
    let e = one(
        "rust-lld: error: duplicate symbol: _critical_section_1_0_acquire\n>>> defined at lib.rs:13\n>>>            cs-0123456789abcdef.cs.a1-cgu.0.rcgu.o:(_critical_section_1_0_acquire) in archive /t/libcritical_section-0123456789abcdef.rlib\n>>> defined at main.rs:9\n>>>            fw-fedcba9876543210.fw.b2-cgu.0.rcgu.o:(_critical_section_1_0_acquire)\n",
    );
    let crates: Vec<_> = e.findings[0]
        .definitions
        .iter()
        .map(|d| d.krate.clone().unwrap_or_default())
        .collect();
    assert_eq!(crates, ["critical_section", "fw"]);
}

#[test]
fn gold_relocation_overflow_and_an_assertion_lld_repeats() {
    let e = one(
        "/tmp/lx/b.c:3: error: relocation overflow: reference to 'far_away' defined in far.o\n",
    );
    assert_eq!(kinds(&e), [FindingKind::RelocationOverflow]);
    let f = &e.findings[0];
    assert_eq!(f.symbol.as_deref(), Some("far_away"));
    assert_eq!(
        f.relocation.as_ref().unwrap().target_object.as_deref(),
        Some("far.o")
    );
    assert_eq!(f.referenced_by[0].line, Some(3));
    let e = one(
        "ld.lld: error: \nERROR(myrt): missing.\nLink a device crate.\n\nld.lld: error: \nERROR(myrt): missing.\nLink a device crate.\n",
    );
    assert_eq!(kinds(&e), [FindingKind::LinkerScriptAssertion]);
    assert_eq!(
        e.findings[0].message.as_deref(),
        Some("ERROR(myrt): missing.\nLink a device crate.")
    );
}

/// rustc 1.95 linking no-panic's symbol through GNU ld: the name holds
/// backticks of its own and ends with a newline.
#[test]
fn a_gnu_name_with_backticks_of_its_own_runs_to_the_last_quote() {
    let e = one(
        "  = note: /usr/bin/ld.bfd: np.np.de9c-cgu.0.rcgu.o: in function `np::f':\n          np.de9c-cgu.0:(.text._ZN2np1f17hd1ed7f724219a081E+0xd): undefined reference to `\n          \n          ERROR[no-panic]: detected panic in function `f`\n          '\n          collect2: error: ld returned 1 exit status\n",
    );
    assert_eq!(kinds(&e), [FindingKind::UndefinedSymbol]);
    assert_eq!(
        e.findings[0].symbol.as_deref(),
        Some("\n\nERROR[no-panic]: detected panic in function `f`\n")
    );
    assert_eq!(e.findings[0].referenced_by[0].function, "np::f");
    assert_eq!(e.findings[0].referenced_by[0].file, None, "a codegen unit");
}

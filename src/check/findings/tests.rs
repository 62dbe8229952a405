//! The finding rules over ELF objects made with `object::write`: which
//! undefined symbols are findings in each mode, what the policy forbids
//! and allows, and when a failed link is a `link-error` of its own.
use std::collections::BTreeSet;
use std::path::Path;

use object::write::{Object as W, Relocation, Symbol, SymbolId, SymbolSection};
use object::{RelocationEncoding, RelocationFlags, RelocationKind, SymbolFlags, SymbolKind};

use super::*;
use crate::inspect::{self, Unit};

/// A relocatable x86-64 object: each `(function, callees)` is a global
/// function calling its callees (defined here, else undefined; a name
/// starting `weak_` is referenced weakly).
fn object(funcs: &[(&str, &[&str])]) -> Vec<u8> {
    let mut o = W::new(
        object::BinaryFormat::Elf,
        object::Architecture::X86_64,
        object::Endianness::Little,
    );
    let text = o.add_section(Vec::new(), b".text".to_vec(), object::SectionKind::Text);
    let mut ids: Vec<(String, SymbolId)> = Vec::new();
    for (name, callees) in funcs {
        let size = 5 * callees.len().max(1) as u64;
        let at = o.append_section_data(text, &vec![0x90; size as usize], 16);
        let id = o.add_symbol(Symbol {
            name: name.as_bytes().to_vec(),
            value: at,
            size,
            kind: SymbolKind::Text,
            scope: object::SymbolScope::Dynamic,
            weak: false,
            section: SymbolSection::Section(text),
            flags: SymbolFlags::None,
        });
        ids.push(((*name).to_owned(), id));
    }
    let mut at = 0;
    for (_, callees) in funcs {
        let start = at;
        for (i, callee) in callees.iter().enumerate() {
            let known = ids.iter().find(|(n, _)| n == callee).map(|(_, id)| *id);
            let sym = known.unwrap_or_else(|| {
                let id = o.add_symbol(Symbol {
                    name: callee.as_bytes().to_vec(),
                    value: 0,
                    size: 0,
                    kind: SymbolKind::Text,
                    scope: object::SymbolScope::Dynamic,
                    weak: callee.starts_with("weak_"),
                    section: SymbolSection::Undefined,
                    flags: SymbolFlags::None,
                });
                ids.push(((*callee).to_owned(), id));
                id
            });
            o.add_relocation(
                text,
                Relocation {
                    offset: start + 5 * i as u64 + 1,
                    symbol: sym,
                    addend: -4,
                    flags: RelocationFlags::Generic {
                        kind: RelocationKind::Relative,
                        encoding: RelocationEncoding::Generic,
                        size: 32,
                    },
                },
            )
            .unwrap();
        }
        at = (start + 5 * callees.len().max(1) as u64).next_multiple_of(16);
    }
    o.write().unwrap()
}

fn analysis(data: &[u8], roots: &[&str]) -> Analysis {
    let roots: Vec<String> = roots.iter().map(|r| (*r).to_owned()).collect();
    inspect::analyze(&[Unit { name: "t.o", data }], &roots).unwrap()
}

fn policy(forbidden: &[&str], allow: &[&str]) -> Policy {
    let pats = |v: &[&str]| v.iter().map(|p| glob::Pattern::new(p).unwrap()).collect();
    Policy {
        forbidden: pats(forbidden),
        allow_undefined: pats(allow),
        size: crate::model::SizePolicy::default(),
    }
}

fn rules(p: &Policy) -> Rules<'_> {
    Rules {
        policy: p,
        root: Path::new("/project"),
        package: "kalloc",
    }
}

fn kinds(found: &[Finding]) -> Vec<(FindingKind, Option<&str>)> {
    found
        .iter()
        .map(|f| (f.kind, f.symbol.as_deref()))
        .collect()
}

fn image(a: &Analysis) -> Evidence<'_> {
    Evidence {
        analysis: Some(a),
        undefined: UndefinedRule::All,
        diagnostics: None,
        link_failure: None,
        imports: None,
        places: None,
    }
}

#[test]
fn an_undefined_symbol_is_a_finding_unless_weak_or_allowed() {
    let data = object(&[("entry", &["helper", "weak_hook", "flush_tlb", "ok_extern"])]);
    let a = analysis(&data, &["entry"]);
    let p = policy(&[], &["ok_*"]);
    let found = decide(&rules(&p), image(&a));
    assert_eq!(
        kinds(&found),
        [
            (FindingKind::UndefinedSymbol, Some("flush_tlb")),
            (FindingKind::UndefinedSymbol, Some("helper")),
        ]
    );
    assert_eq!(found[0].chain, ["entry", "flush_tlb"]);
    assert_eq!(found[0].referenced_by[0].function, "entry");
}

#[test]
fn a_forbidden_symbol_is_a_finding_reached_or_undefined() {
    let data = object(&[("entry", &["middle", "abort"]), ("middle", &["panic_fmt"])]);
    let a = analysis(&data, &["entry"]);
    let p = policy(&["panic_*", "abort"], &["abort", "panic_fmt"]);
    let found = decide(&rules(&p), image(&a));
    // Allowed to stay undefined, still forbidden: both are findings.
    assert_eq!(
        kinds(&found),
        [
            (FindingKind::ForbiddenSymbol, Some("abort")),
            (FindingKind::ForbiddenSymbol, Some("panic_fmt")),
        ]
    );
}

#[test]
fn a_module_reports_what_the_platform_does_not_export() {
    let data = object(&[("init", &["printk", "flush_local", "kmalloc"])]);
    let a = analysis(&data, &["init"]);
    let exported: BTreeSet<String> = ["printk".to_owned()].into();
    let defined: BTreeSet<String> = ["printk".to_owned(), "flush_local".to_owned()].into();
    let p = policy(&[], &[]);
    let found = decide(
        &rules(&p),
        Evidence {
            analysis: Some(&a),
            undefined: UndefinedRule::Module {
                exported: &exported,
                defined: &defined,
            },
            diagnostics: None,
            link_failure: None,
            imports: None,
            places: None,
        },
    );
    assert_eq!(
        kinds(&found),
        [
            (FindingKind::UnexportedSymbol, Some("flush_local")),
            (FindingKind::UndefinedSymbol, Some("kmalloc")),
        ]
    );
    assert_eq!(
        found[0].message.as_deref(),
        Some(
            "ERROR: modpost: \"flush_local\" [kalloc] undefined! (the platform defines it but does not export it)"
        )
    );
}

#[test]
fn a_command_builds_undefined_symbols_are_not_findings() {
    let data = object(&[("start_kernel", &["__provided_by_script"])]);
    let a = analysis(&data, &["start_kernel"]);
    let p = policy(&[], &[]);
    let mut ev = image(&a);
    ev.undefined = UndefinedRule::Ignored;
    assert!(decide(&rules(&p), ev).is_empty());
}

const LLD: &str = "ld.lld: error: undefined symbol: helper\n>>> referenced by lib.rs:3\n>>>               t.o:(entry)";

fn failed<'a>(
    a: Option<&'a Analysis>,
    diagnostics: &'static str,
    despite_policy: bool,
) -> Evidence<'a> {
    Evidence {
        analysis: a,
        undefined: UndefinedRule::All,
        diagnostics: Some(diagnostics),
        link_failure: Some(LinkFailure {
            finding: link_error("ld.lld -o img", diagnostics),
            diagnostics,
            despite_policy,
        }),
        imports: None,
        places: None,
    }
}

#[test]
fn a_failed_link_its_undefined_symbols_explain_is_no_link_error() {
    let data = object(&[("entry", &["helper"])]);
    let a = analysis(&data, &["entry"]);
    let p = policy(&[], &[]);
    let found = decide(&rules(&p), failed(Some(&a), LLD, false));
    assert_eq!(
        kinds(&found),
        [(FindingKind::UndefinedSymbol, Some("helper"))]
    );
    // The finding quotes the linker's block about its symbol.
    assert_eq!(found[0].message.as_deref(), Some(LLD));
}

/// An error of a form no recognizer names is a `link-error` with the
/// linker's words; without an image, the symbols the linker named are the
/// findings (attributed as the linker says), and a failure it names
/// nothing of is a `link-error`.
#[test]
fn a_failed_link_with_another_error_or_no_image_is_a_link_error() {
    let data = object(&[("entry", &["helper"])]);
    let a = analysis(&data, &["entry"]);
    let p = policy(&[], &[]);
    let other =
        "ld.lld: error: undefined symbol: helper\nld.lld: error: the moon is in the wrong phase";
    let found = decide(&rules(&p), failed(Some(&a), other, false));
    assert_eq!(
        kinds(&found),
        [
            (FindingKind::UndefinedSymbol, Some("helper")),
            (FindingKind::LinkError, None)
        ]
    );
    let found = decide(&rules(&p), failed(None, LLD, false));
    assert_eq!(
        kinds(&found),
        [(FindingKind::UndefinedSymbol, Some("helper"))]
    );
    assert_eq!(found[0].referenced_by[0].function, "entry");
    let nothing = "ld.lld: error: the moon is in the wrong phase";
    let found = decide(&rules(&p), failed(None, nothing, false));
    assert_eq!(kinds(&found), [(FindingKind::LinkError, None)]);
    assert!(
        found[0]
            .message
            .as_deref()
            .unwrap()
            .starts_with("ld.lld -o img\n")
    );
}

/// Each kind the linker names beyond undefined symbols is one finding of
/// that kind, no `link-error` beside it: a duplicate symbol with both
/// definitions (objects by file name, files relative to the project,
/// `at` the one inside it), a region overflow with its length and fill
/// from what the runner read, a missing linker script with who asked.
#[test]
fn the_linkers_other_kinds_are_findings_of_their_own() {
    let data = object(&[("entry", &[])]);
    let a = analysis(&data, &[]);
    let p = policy(&[], &[]);
    let dup = "ld.lld: error: duplicate symbol: _cs_acquire\n>>> defined at lib.rs:300 (/reg/critical-section-1.2.0/src/lib.rs:300)\n>>>            /project/target/deps/fw-0123456789abcdef.fw.0a1b2c-cgu.0.rcgu.o:(_cs_acquire)\n>>> defined at cs.rs:9 (/project/src/cs.rs:9)\n>>>            cortex_m-0123456789abcdef.cortex_m.5ba7-cgu.0.rcgu.o:(.text._cs_acquire+0x1) in archive /project/target/deps/libcortex_m-0123456789abcdef.rlib";
    let found = decide(&rules(&p), failed(Some(&a), dup, true));
    assert_eq!(
        kinds(&found),
        [(FindingKind::DuplicateSymbol, Some("_cs_acquire"))]
    );
    let d = &found[0].definitions;
    assert_eq!(d.len(), 2, "{found:#?}");
    assert_eq!(
        d[1].object.as_deref(),
        Some(
            "libcortex_m-0123456789abcdef.rlib(cortex_m-0123456789abcdef.cortex_m.5ba7-cgu.0.rcgu.o)"
        )
    );
    assert_eq!(d[1].krate.as_deref(), Some("cortex_m"));
    assert_eq!(d[1].file.as_deref(), Some("src/cs.rs"));
    let at = found[0].at.as_ref().unwrap();
    assert_eq!((at.file.as_str(), at.line), ("src/cs.rs", 9));

    let region = "rust-lld: error: section '.text' will not fit in region 'FLASH': overflowed by 904 bytes\nrust-lld: error: section '.rodata' will not fit in region 'FLASH': overflowed by 1288 bytes";
    let mut places = Places::default();
    places.lengths.insert("FLASH".to_owned(), 48 * 1024);
    places.fills.insert(
        "FLASH".to_owned(),
        crate::model::RegionFill {
            used: 50_440,
            ..Default::default()
        },
    );
    let mut ev = failed(None, region, true);
    ev.places = Some(&places);
    let found = decide(&rules(&p), ev);
    assert_eq!(kinds(&found), [(FindingKind::RegionOverflow, None)]);
    let r = found[0].region.as_ref().unwrap();
    assert_eq!(
        (r.name.as_str(), r.overflow_bytes, r.size),
        ("FLASH", Some(1288), Some(48 * 1024))
    );
    assert_eq!(r.fill.as_ref().map(|f| f.used), Some(50_440));

    let script = "rust-lld: error: /project/target/build/cortex-m-rt-1/out/link.x:261: cannot find linker script device.x\n>>> INCLUDE device.x\n>>>         ^";
    let found = decide(&rules(&p), failed(None, script, true));
    assert_eq!(kinds(&found), [(FindingKind::MissingInput, None)]);
    assert_eq!(found[0].input.as_ref().unwrap().name, "device.x");
    assert_eq!(found[0].script.as_ref().unwrap().line, Some(261));
}

#[test]
fn a_binary_that_did_not_link_fails_even_when_the_policy_allows_its_symbols() {
    let data = object(&[("entry", &["helper"])]);
    let a = analysis(&data, &["entry"]);
    let p = policy(&[], &["helper"]);
    // An image cell: the policy accepts the undefined symbol.
    assert!(decide(&rules(&p), failed(Some(&a), LLD, false)).is_empty());
    // A binary: no binary exists, whatever the policy says.
    let found = decide(&rules(&p), failed(Some(&a), LLD, true));
    assert_eq!(kinds(&found), [(FindingKind::LinkError, None)]);
}

#[test]
fn a_failed_command_build_without_symbols_is_one_build_error() {
    let p = policy(&[], &["allowed_sym"]);
    let log = "mm/x.c:3: error: expected ';'\nmake: *** [x.o] Error 1\n";
    let found = locate_in_tree(
        linker_log_findings(&rules(&p), log),
        Path::new("/src"),
        Path::new("/out"),
        log,
    );
    assert_eq!(kinds(&found), [(FindingKind::BuildError, None)]);
    let log = "ld.lld: error: undefined symbol: allowed_sym\n>>> referenced by x.c:3\n>>>               mm/x.o:(f)\nld.lld: error: undefined symbol: flush\n>>> referenced by x.c:9\n>>>               mm/x.o:(g)\n";
    let found = linker_log_findings(&rules(&p), log);
    assert_eq!(
        kinds(&found),
        [(FindingKind::UndefinedSymbol, Some("flush"))]
    );
}

/// A dynamically linked image's imports from its shared libraries are
/// resolved at load time, not undefined; one the failed link named is
/// (a permissive link imports what it could not resolve too); a static
/// image (no imports) keeps every undefined symbol.
#[test]
fn a_dynamic_images_imports_are_not_undefined_unless_the_linker_named_them() {
    let data = object(&[("main", &["write", "rust_eh_personality"])]);
    let a = analysis(&data, &["main"]);
    let p = policy(&[], &[]);
    let imports: BTreeSet<String> = ["write", "rust_eh_personality"].map(str::to_owned).into();
    let mut ev = image(&a);
    ev.imports = Some(&imports);
    assert!(decide(&rules(&p), ev).is_empty());
    let diag = "rust-lld: error: undefined symbol: rust_eh_personality\n>>> referenced by core.o:(DW.ref.rust_eh_personality)";
    let mut ev = failed(Some(&a), diag, true);
    ev.imports = Some(&imports);
    assert_eq!(
        kinds(&decide(&rules(&p), ev)),
        [(FindingKind::UndefinedSymbol, Some("rust_eh_personality"))]
    );
    assert_eq!(
        kinds(&decide(&rules(&p), image(&a))),
        [
            (FindingKind::UndefinedSymbol, Some("rust_eh_personality")),
            (FindingKind::UndefinedSymbol, Some("write"))
        ]
    );
}

/// panic-never's symbol starts with a newline: lld wraps it onto the next
/// line. One linker error is one finding (no `link-error` for the wrapped
/// line), quoting the linker's block.
#[test]
fn a_name_the_linker_wrapped_is_one_finding() {
    let name = "\nerror(panic-never): your program contains at least one panicking branch";
    let data = object(&[("main", &[name])]);
    let a = analysis(&data, &["main"]);
    let p = policy(&[], &[]);
    let diag = "rust-lld: error: undefined symbol:\nerror(panic-never): your program contains at least one panicking branch\n>>> referenced by lib.rs:54 (src/lib.rs:54)\n>>> panic_never.o:(rust_begin_unwind)";
    let found = decide(&rules(&p), failed(Some(&a), diag, true));
    assert_eq!(kinds(&found), [(FindingKind::UndefinedSymbol, Some(name))]);
    assert_eq!(found[0].message.as_deref(), Some(diag));
}

//! Entry points shared by the cargo-fuzz targets (`fuzz/`) and the test
//! that replays their corpus (`fuzz_corpus_replays_without_panics` in
//! `tests/integration/robustness.rs`): each
//! feeds untrusted bytes to one reader. They return nothing; an error is a
//! fine outcome, a panic is a bug.
use std::path::Path;

/// The ELF/archive inspector.
pub fn inspect(data: &[u8]) {
    if let Ok(parts) = crate::inspect::units("fuzz.a", data) {
        let units: Vec<crate::inspect::Unit<'_>> = parts
            .iter()
            .map(|(n, d)| crate::inspect::Unit { name: n, data: d })
            .collect();
        if let Ok(a) = crate::inspect::analyze(&units, &[]) {
            let _ = a.chains_to("x", 4);
        }
    }
    let _ = crate::inspect::exports(data, "fuzz.elf", Some("__ksymtab_strings"));
}

/// The undefined symbols `inspect --symbols-only` lists, or `None` when
/// the input is not one linkmatrix reads: for the differential target.
pub fn undefined_symbols(data: &[u8]) -> Option<Vec<String>> {
    let parts = crate::inspect::units("fuzz.a", data).ok()?;
    let units: Vec<crate::inspect::Unit<'_>> = parts
        .iter()
        .map(|(n, d)| crate::inspect::Unit { name: n, data: d })
        .collect();
    let undefined = crate::inspect::undefined_only(&units).ok()?;
    Some(undefined.into_iter().map(|u| u.symbol).collect())
}

/// The linker-log parser.
pub fn explain(data: &[u8]) {
    let _ = crate::explain::explain(&mut std::io::Cursor::new(data));
}

/// The matrix and target file parser, and rule expressions.
pub fn config(data: &[u8]) {
    let _ = crate::config::parse_text_only(Path::new("fuzz.yaml"), data);
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = crate::model::Expr::parse(s);
    }
}

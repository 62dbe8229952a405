//! linkmatrix's undefined symbols against goblin's, on any bytes both
//! read: a disagreement is a bug in one of them.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../../tests/oracle/goblin.rs"]
mod oracle;

fuzz_target!(|data: &[u8]| {
    let (Some(ours), Some(theirs)) = (
        linkmatrix::fuzzing::undefined_symbols(data),
        oracle::goblin_undefined(data),
    ) else {
        return;
    };
    let ours: std::collections::BTreeSet<String> = ours.into_iter().collect();
    assert_eq!(ours, theirs);
});

//! The linker-log parser on arbitrary bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    linkmatrix::fuzzing::explain(data);
});

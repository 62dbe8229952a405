//! The ELF/archive inspector on arbitrary bytes: split into units (archive
//! members), analyse them together. Errors are fine; panics are not.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    linkmatrix::fuzzing::inspect(data);
});

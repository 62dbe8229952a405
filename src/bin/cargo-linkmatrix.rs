//! `cargo linkmatrix …`: cargo runs `cargo-linkmatrix linkmatrix …`; the
//! library drops the extra word.
use std::process::ExitCode;

fn main() -> ExitCode {
    linkmatrix::main_with_args(std::env::args_os())
}

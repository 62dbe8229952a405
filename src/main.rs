//! The `linkmatrix` binary: parse the command line, run, map the outcome to
//! an exit code. All logic lives in the library.
use std::process::ExitCode;

fn main() -> ExitCode {
    linkmatrix::main_with_args(std::env::args_os())
}

#!/usr/bin/env bash
# The test command (README "Run the tests"). On a fresh machine it installs
# what the tests need -- through linkmatrix's own `setup`, which says what
# it runs -- then runs formatting, lints and every test.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

cargo build --release --locked
# ARM and x86 toolchains: a Rust std for each target, clang, lld.
./target/release/linkmatrix setup
./target/release/linkmatrix doctor

cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked

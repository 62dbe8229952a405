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
# Headless Chromium renders the HTML report in the tests.
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "+ apt-get update && apt-get install -y chromium"
    DEBIAN_FRONTEND=noninteractive apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium
  else
    echo "chromium is missing: install Debian's chromium (the HTML report test needs it)" >&2
    exit 1
  fi
fi

cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked

#!/usr/bin/env bash
# Seed 001 on the real Linux source (configs/linux-percpu-2021.yaml): too
# heavy for every test run on 2 cores, so scripts/test.sh runs it only
# with LINKMATRIX_KERNEL=1. `setup` installs the packages the matrix names
# and unpacks + patches the source package once; extra arguments go to
# `linkmatrix check` (e.g. --cell '*-llvm-*').
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -q
./target/release/linkmatrix setup --config configs/linux-percpu-2021.yaml
exec ./target/release/linkmatrix check --config configs/linux-percpu-2021.yaml "$@"

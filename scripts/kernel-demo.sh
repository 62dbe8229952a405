#!/usr/bin/env bash
# Seed 001 on the real Linux source (configs/linux-percpu-2021.yaml): too
# heavy for every test run on 2 cores, so scripts/test.sh runs it only
# with LINKMATRIX_KERNEL=1. Extra arguments go to `linkmatrix check`
# (e.g. --cell '*-llvm-*').
set -euo pipefail
cd "$(dirname "$0")/.."
sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
if [ ! -f /usr/src/linux-source-6.1.tar.xz ] || ! command -v make >/dev/null; then
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq linux-source-6.1 bc bison flex libssl-dev libelf-dev make \
    gcc-arm-linux-gnueabihf >/dev/null
fi
mkdir -p target
if [ ! -d target/linux-source-6.1 ]; then
  tar xf /usr/src/linux-source-6.1.tar.xz -C target
  patch -s -d target/linux-source-6.1 -p1 < fixtures/linux/percpu-2021.patch
fi
cargo build --release --locked -q
exec ./target/release/linkmatrix check --config configs/linux-percpu-2021.yaml "$@"

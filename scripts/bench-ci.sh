#!/usr/bin/env bash
# A CI-shaped sequence of `linkmatrix check` runs with sccache as the rustc
# wrapper, for the kalloc fixture (linkmatrix.yaml, 8 cells) and for a
# crate with crates.io dependencies and a proc macro (defmt -> defmt-macros
# -> syn; 2 bare triples x a logging option = 4 cells). Not a test: run it
# by hand (needs Debian's sccache), copy the table into README "Measured".
#
#   cold        : empty caches -- no core sysroots, no compiler cache, no
#                 target/linkmatrix (what a first CI run has)
#   no change   : every cache restored, nothing changed
#   one line    : every cache restored, one source line changed in the crate
#   moved shard : sysroots and compiler cache restored, target/linkmatrix
#                 not (a shard whose cells another shard ran last time, or
#                 an evicted cache), one line changed
#   ... no sccache: the same without the compiler cache
#
# Each row: wall seconds, cells run (not from linkmatrix's cache), and the
# Rust compilations sccache served (hits) and compiled (misses).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/realbench.sh
source scripts/realbench.sh
cargo build --release --locked -q
bin=$PWD/target/release/linkmatrix
scratch=$(mktemp -d /tmp/linkmatrix-bench-ci-XXXX)
export LINKMATRIX_CACHE_DIR=$scratch/linkmatrix-cache
export SCCACHE_DIR=$scratch/sccache SCCACHE_SERVER_PORT=$((20000 + $$ % 20000)) SCCACHE_IDLE_TIMEOUT=600
trap 'sccache --stop-server >/dev/null 2>&1 || true; rm -rf "$scratch"' EXIT

now() { date +%s.%N; }
stat() { sccache --show-stats --stats-format json | python3 -c "import json,sys; s=json.load(sys.stdin)['stats']; print(s['cache_hits']['counts'].get('Rust',0), s['cache_misses']['counts'].get('Rust',0))"; }
# run <label> <dir> <wrapper|-> : one check, one table row
run() {
  local label=$1 dir=$2 wrapper=$3 report=$scratch/report.json
  sccache --zero-stats >/dev/null 2>&1 || true
  local s; s=$(now)
  if [ "$wrapper" = - ]; then
    (cd "$dir" && env -u RUSTC_WRAPPER "$bin" check -q --report "json=$report" >/dev/null 2>&1 || true)
  else
    (cd "$dir" && RUSTC_WRAPPER=$wrapper "$bin" check -q --report "json=$report" >/dev/null 2>&1 || true)
  fi
  local wall; wall=$(python3 -c "print(f'{$(now) - $s:.1f}')")
  local ran; ran=$(python3 -c "import json; r=json.load(open('$report')); print(sum(1 for c in r['cells'] if not c['cached']), len(r['cells']))")
  local hm="- -"; [ "$wrapper" = - ] || hm=$(stat)
  read -r hits misses <<<"$hm"
  read -r n total <<<"$ran"
  echo "| $label | $wall | $n of $total | $hits | $misses |"
}
edit() { echo "// edit $(now)" >> "$1"; }

kalloc=$scratch/kalloc
mkdir -p "$kalloc/.git"
for sub in targets templates configs fixtures/platform fixtures/kalloc; do
  mkdir -p "$kalloc/$(dirname "$sub")"; cp -r "$sub" "$kalloc/$sub"
done
cp linkmatrix.yaml "$kalloc/"
cp Cargo.lock "$kalloc/fixtures/kalloc/Cargo.lock"

real=$scratch/real
make_realbench "$real"
(cd "$real" && cargo fetch -q)   # the registry download is not what is measured

echo "linkmatrix check with RUSTC_WRAPPER=sccache, $(nproc) cores, $(date +%F)"
for crate in kalloc real; do
  dir=${!crate}
  src=$dir/src/lib.rs; [ "$crate" = kalloc ] && src=$dir/fixtures/kalloc/src/lib.rs
  rm -rf "$LINKMATRIX_CACHE_DIR" "$SCCACHE_DIR"
  echo
  echo "$crate"
  echo "| run | wall s | cells run | sccache hits | misses |"
  echo "|---|---|---|---|---|"
  run "cold: empty caches (core sysroots built)" "$dir" sccache
  run "no change, caches restored" "$dir" sccache
  edit "$src"; run "one line changed, caches restored" "$dir" sccache
  edit "$src"; rm -rf "$dir/target/linkmatrix"; run "one line changed, target/linkmatrix not restored (moved shard)" "$dir" sccache
  edit "$src"; rm -rf "$dir/target/linkmatrix"; run "the same without sccache" "$dir" -
done

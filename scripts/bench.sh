#!/usr/bin/env bash
# Benchmark of `linkmatrix check` on the default matrix (8 cells), printed
# as ratios. Not a test: run it by hand, copy the table into README.
#
#   cold  : no cell cache and no cargo target dirs (the per-target core
#           sysroot is already built -- it is built once per toolchain)
#   warm  : nothing changed since the last run (every cell from the cache)
#   jobs 1: cold, one cell at a time;  jobs N: cold, default parallelism
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -q
bin=./target/release/linkmatrix
work=target/linkmatrix/default
runs=${RUNS:-3}

now() { date +%s.%N; }
# time_run <label> <setup-fn> <args...>: median wall seconds over $runs runs
median() { python3 -c 'import sys; v=sorted(map(float,sys.argv[1:])); print(v[len(v)//2])' "$@"; }
timed() {
  local setup=$1; shift
  local t=()
  for _ in $(seq "$runs"); do
    $setup
    local s; s=$(now)
    "$bin" check --no-provision -q "$@" >/dev/null
    t+=("$(python3 -c "print($(now) - $s)")")
  done
  median "${t[@]}"
}
cold_setup() { rm -rf "$work"; }
warm_setup() { :; }

"$bin" check --no-provision -q >/dev/null   # sysroots built, cache filled
cold=$(timed cold_setup)
"$bin" check --no-provision -q >/dev/null
warm=$(timed warm_setup)
jobs1=$(timed cold_setup --jobs 1)
jobsn=$(timed cold_setup)

python3 - "$cold" "$warm" "$jobs1" "$jobsn" "$(nproc)" <<'PY'
import sys
cold, warm, j1, jn, cores = map(float, sys.argv[1:])
print(f"linkmatrix check, default matrix (8 cells), {int(cores)} cores, median of runs")
print(f"| measure | seconds | ratio |")
print(f"|---|---|---|")
print(f"| cold run (default --jobs) | {cold:.2f} | 1.00 |")
print(f"| warm run (all cached) | {warm:.2f} | {warm/cold:.3f}x cold |")
print(f"| cold, --jobs 1 | {j1:.2f} | |")
print(f"| cold, --jobs {int(cores)} | {jn:.2f} | {j1/jn:.2f}x faster than --jobs 1 |")
PY

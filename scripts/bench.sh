#!/usr/bin/env bash
# Benchmark of `linkmatrix check` on the repository's matrix, linkmatrix.yaml (8 cells), printed
# as ratios. Not a test: run it by hand, copy the table into README.
#
#   cold  : no cell cache and no cargo target dirs (the per-target core
#           sysroot is already built -- it is built once per toolchain)
#   warm  : nothing changed since the last run (every cell from the cache)
#   jobs 1: cold, one cell at a time;  jobs N: cold, default parallelism
#   overhead: --jobs 1 wall time against the summed wall time of the
#             commands it ran;  shell loop: the same commands run by bash
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/realbench.sh
source scripts/realbench.sh
cargo build --release --locked -q
bin=./target/release/linkmatrix
work=target/linkmatrix/linkmatrix
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

# Overhead: with --jobs 1, linkmatrix's wall time against the sum of the
# wall times of the commands it ran (compilers, linkers, probes).
rm -rf "$work"
stats=$(LINKMATRIX_STATS=1 "$bin" check --no-provision -q --jobs 1 2>&1 >/dev/null | grep '^stats:')
wall_ms=$(echo "$stats" | sed 's/.*wall_ms=\([0-9]*\).*/\1/')
child_ms=$(echo "$stats" | sed 's/.*children_ms=\([0-9]*\).*/\1/')

# A plain serial shell loop running the same commands (cargo, clang, the
# linker), plus `nm -u` per image: what people write by hand.
cmds=$(mktemp)
rm -rf "$work"
"$bin" check --no-provision -v --jobs 1 2>&1 >/dev/null | sed -n 's/^\[[^]]*\] + //p' > "$cmds"
rm -rf "$work/build"
find "$work/cells" -mindepth 1 -maxdepth 1 -type d -exec sh -c 'rm -rf "$1"/platform/*.o "$1"/*.elf "$1"/*.a' _ {} \;
s=$(now)
while IFS= read -r line; do bash -c "$line" >/dev/null 2>&1 || true; done < "$cmds"
for img in "$work"/cells/*/image.elf; do nm -u "$img" >/dev/null 2>&1 || true; done
loop=$(python3 -c "print($(now) - $s)")
rm -f "$cmds"

python3 - "$cold" "$warm" "$jobs1" "$jobsn" "$(nproc)" "$wall_ms" "$child_ms" "$loop" <<'PY'
import sys
cold, warm, j1, jn, cores, wall_ms, child_ms, loop = map(float, sys.argv[1:])
print(f"linkmatrix check, linkmatrix.yaml (8 cells), {int(cores)} cores, median of runs")
print(f"| measure | seconds | ratio |")
print(f"|---|---|---|")
print(f"| cold run (default --jobs) | {cold:.2f} | 1.00 |")
print(f"| warm run (all cached) | {warm:.2f} | {warm/cold:.3f}x cold |")
print(f"| cold, --jobs 1 | {j1:.2f} | |")
print(f"| cold, --jobs {int(cores)} | {jn:.2f} | {j1/jn:.2f}x faster than --jobs 1 |")
print(f"| cold --jobs 1: linkmatrix wall vs its commands' summed wall | {wall_ms/1000:.2f} vs {child_ms/1000:.2f} | {wall_ms/child_ms:.3f}x (overhead) |")
print(f"| serial shell loop of the same commands + nm -u | {loop:.2f} | linkmatrix --jobs {int(cores)} is {loop/jn:.2f}x faster |")
PY

# A real crate: crates.io dependencies with a proc macro (defmt ->
# defmt-macros -> syn), 2 bare triples x a logging option = 4 cells. Cold
# linkmatrix (its shared build directories) against the same cargo builds
# run serially in ONE shared target directory, then the links.
real=$(mktemp -d /tmp/linkmatrix-bench-real-XXXX)
make_realbench "$real"
rbin=$PWD/$bin
(cd "$real" && "$rbin" check --no-provision -q >/dev/null 2>&1 || true)   # crates fetched, sysroots built
rtimes=(); for _ in $(seq "$runs"); do
  rm -rf "$real/target"
  s=$(now); (cd "$real" && "$rbin" check --no-provision -q >/dev/null 2>&1 || true)
  rtimes+=("$(python3 -c "print($(now) - $s)")")
done
rcold=$(median "${rtimes[@]}")
# How busy the cores were in a cold run: the CPU time of every command
# linkmatrix ran (and theirs) over wall time x cores.
rm -rf "$real/target"
rstats=$(cd "$real" && LINKMATRIX_STATS=1 "$rbin" check --no-provision -q 2>&1 >/dev/null | grep '^stats:' || true)
rwall=$(echo "$rstats" | sed 's/.*wall_ms=\([0-9]*\).*/\1/')
rcpu=$(echo "$rstats" | sed 's/.*children_cpu_ms=\([0-9]*\).*/\1/')
rm -rf "$real/target"
rcmds=$(mktemp)
(cd "$real" && "$rbin" check --no-provision -v --jobs 1 2>&1 >/dev/null | sed -n 's/^\[[^]]*\] + //p' > "$rcmds") || true
shared="$real/target/one-shared-dir"
sed -i "s#CARGO_TARGET_DIR=[^ ]*#CARGO_TARGET_DIR=$shared#" "$rcmds"
ltimes=(); for _ in $(seq "$runs"); do
  rm -rf "$real/target/linkmatrix/realbench/build" "$shared"
  s=$(now)
  (cd "$real" && while IFS= read -r line; do bash -c "$line" >/dev/null 2>&1 || true; done < "$rcmds")
  ltimes+=("$(python3 -c "print($(now) - $s)")")
done
rloop=$(median "${ltimes[@]}")
rm -rf "$real" "$rcmds"
python3 -c "print(f'| real crate (defmt + proc macro), 4 cells, cold | {$rcold:.2f} vs serial one-dir loop {$rloop:.2f} | {$rcold/$rloop:.2f}x the loop; cores busy {$rcpu/($rwall*$(nproc)):.0%} |')"
#!/usr/bin/env bash
# Benchmark of linkmatrix's readers against the binutils tools, printed as
# ratios (median of $RUNS runs; lower is faster). Not a test: run by hand.
#   inspect --symbols-only vs `nm -D -u` on a large shared object (librustc_driver)
#   inspect --symbols-only vs `nm -u`, and inspect (references attributed
#   from relocations) vs `objdump -r`, on a large static archive (libpython)
#   explain throughput on a generated log of $LOG_MB MB, and its peak RSS
#   inspect (with attribution) vs `nm -u` on generated worst cases: 80,000
#   functions calling one undefined symbol, one function calling 80,000
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -q
bin=$PWD/target/release/linkmatrix
runs=${RUNS:-5}
log_mb=${LOG_MB:-1024}

so=$(ls ~/.rustup/toolchains/*/lib/librustc_driver-*.so 2>/dev/null | head -1 || true)
ar=$(find / -name 'libpython3*.a' -size +20M 2>/dev/null | head -1 || true)

median() { python3 -c 'import sys; v=sorted(map(float,sys.argv[1:])); print(v[len(v)//2])' "$@"; }
t() { # seconds of one run of the command, output discarded
  local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s.%N)
  python3 -c "print($e - $s)"
}
med() { local v=(); for _ in $(seq "$runs"); do v+=("$(t "$@")"); done; median "${v[@]}"; }

echo "| measure | input | linkmatrix s | reference s | ratio |"
echo "|---|---|---|---|---|"
if [ -n "$so" ]; then
  a=$(med "$bin" inspect --symbols-only --format json "$so"); b=$(med nm -D -u "$so")
  python3 -c "print(f'| inspect --symbols-only vs nm -D -u | $(basename "$so") ($(du -m "$so" | cut -f1) MB) | {$a:.3f} | {$b:.3f} | {$a/$b:.2f}x |')"
fi
if [ -n "$ar" ]; then
  s=$(med "$bin" inspect --symbols-only --format json "$ar"); b=$(med nm -u "$ar")
  a=$(med "$bin" inspect --format json "$ar"); c=$(med objdump -r "$ar")
  python3 -c "print(f'| inspect --symbols-only vs nm -u | $(basename "$ar") ($(du -m "$ar" | cut -f1) MB) | {$s:.3f} | {$b:.3f} | {$s/$b:.2f}x |')"
  python3 -c "print(f'| inspect (with attribution) vs objdump -r | $(basename "$ar") | {$a:.3f} | {$c:.3f} | {$a/$c:.2f}x |')"
fi
gen=$(mktemp -d /tmp/linkmatrix-bench-XXXX)
python3 - "$gen" <<'PY'
import sys
d = sys.argv[1]
with open(f"{d}/callers.c", "w") as f:
    f.write("extern void target(void);\n")
    f.writelines(f"void caller_{i}(void) {{ target(); }}\n" for i in range(80000))
with open(f"{d}/callees.c", "w") as f:
    f.writelines(f"extern void callee_{i}(void);\n" for i in range(80000))
    f.write("void one(void) {\n"); f.writelines(f"  callee_{i}();\n" for i in range(80000)); f.write("}\n")
PY
for c in callers callees; do
  clang -c -O0 --target=x86_64-unknown-linux-gnu "$gen/$c.c" -o "$gen/$c.o"
  a=$(med "$bin" inspect --format json "$gen/$c.o"); b=$(med nm -u "$gen/$c.o")
  python3 -c "print(f'| inspect (with attribution) vs nm -u | 80,000 {\"callers of one symbol\" if \"$c\" == \"callers\" else \"callees of one function\"} | {$a:.3f} | {$b:.3f} | {$a/$b:.2f}x |')"
done
rm -rf "$gen"
log=$(mktemp /tmp/linkmatrix-bench-XXXX.log)
python3 - "$log" "$log_mb" <<'PY'
import sys
path, mb = sys.argv[1], int(sys.argv[2])
block = open("fixtures/logs/bfd.log").read() + open("fixtures/logs/lld.log").read() + \
    "make[3]: Entering directory '/src/linux/drivers/staging/zsmalloc'\n" * 200
with open(path, "w") as f:
    n = 0
    while n < mb << 20:
        f.write(block); n += len(block)
PY
s=$(date +%s.%N); /usr/bin/time -f "%M" -o /tmp/linkmatrix-bench.rss "$bin" explain "$log" >/dev/null || true; e=$(date +%s.%N)
python3 -c "
import os
secs = $e - $s; mb = os.path.getsize('$log') / 2**20
print(f'| explain throughput | {mb:.0f} MB log | {secs:.2f} | | {mb/secs:.0f} MB/s, peak RSS {int(open(\"/tmp/linkmatrix-bench.rss\").read().split()[-1])//1024} MB |')"
rm -f "$log" /tmp/linkmatrix-bench.rss

#!/usr/bin/env bash
# Covering plans on crates.io crates with many features, printed as a
# Markdown table for README ("Measured"). Not a test: run it by hand.
#
# For each crate: `linkmatrix init` in a copy of its published source (the
# families, implications and axes it finds), then the cells of `plan
# --cover 1|2|3|each`, the full product of the axes, the seconds `plan
# --cover 3` takes, and cargo-hack's `--feature-powerset --depth T` command
# count on the same crate (when cargo-hack is installed: `cargo install
# cargo-hack`).
#
#   CRATES="embassy-time@0.4.0 smoltcp@0.12.0 embassy-executor@0.7.0"
#   TARGET=thumbv7em-none-eabihf
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -q
bin=$PWD/target/release/linkmatrix
crates=${CRATES:-embassy-time@0.4.0 smoltcp@0.12.0 embassy-executor@0.7.0}
target=${TARGET:-thumbv7em-none-eabihf}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The published sources: one project that depends on each, fetched.
mkdir -p "$work/fetch/src"
: > "$work/fetch/src/lib.rs"
{
  printf '[package]\nname = "fetch"\nversion = "0.0.0"\nedition = "2021"\n\n[dependencies]\n'
  for c in $crates; do printf '%s = { version = "=%s", default-features = false }\n' "${c%@*}" "${c#*@}"; done
} > "$work/fetch/Cargo.toml"
(cd "$work/fetch" && cargo fetch -q)
manifest() {
  (cd "$work/fetch" && cargo metadata --format-version 1 -q) | python3 -c '
import json, sys
name, version = sys.argv[1], sys.argv[2]
for p in json.load(sys.stdin)["packages"]:
    if p["name"] == name and p["version"] == version:
        print(p["manifest_path"])' "$1" "$2"
}
cells() { "$bin" plan --cover "$1" --format json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["cells"]))'; }

echo "| crate | features | families | axes | full product | T=1 | T=2 | T=3 | each | cargo-hack depth 1 / 2 / 3 | plan T=3 s |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for c in $crates; do
  name=${c%@*} version=${c#*@}
  src=$(dirname "$(manifest "$name" "$version")")
  dir=$work/$name
  cp -r "$src" "$dir"
  mkdir -p "$dir/.git"
  cd "$dir"
  features=$(cargo metadata --no-deps --format-version 1 -q | python3 -c 'import json,sys; print(len([f for f in json.load(sys.stdin)["packages"][0]["features"] if f != "default"]))')
  families=$("$bin" init --target "$target" 2>&1 >/dev/null | grep -c 'features of which at most one' || true)
  json=$("$bin" plan --cover 2 --format json)
  axes=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["coverage"]["axes"])' "$json")
  full=$(python3 -c 'import json,sys; print("{:,}".format(int(json.loads(sys.argv[1])["coverage"]["full_product"])))' "$json")
  t1=$(cells 1) t2=$(cells 2) each=$(cells each)
  s=$(date +%s.%N)
  t3=$(cells 3)
  secs=$(python3 -c "print(f'{$(date +%s.%N) - $s:.2f}')")
  hack="-"
  if cargo hack --version >/dev/null 2>&1; then
    hack=""
    for d in 1 2 3; do
      n=$(cargo hack --feature-powerset --depth "$d" --print-command-list check 2>/dev/null | wc -l)
      hack="$hack${hack:+ / }$(python3 -c "print(f'{$n:,}')")"
    done
  fi
  echo "| $name $version | $features | $families | $axes | $full | $t1 | $t2 | $t3 | $each | $hack | $secs |"
  cd - >/dev/null
done

# CHECK=1: the time `check` takes on the plan `init` writes for a firmware
# crate that uses embassy-time and forwards every one of its features (a
# library without a `#[no_mangle]` root or a panic handler cannot be
# linked alone), cold (no cell cache, no cargo target directory; the
# target's core sysroot already built).
if [ "${CHECK:-0}" = 1 ]; then
  et=$(dirname "$(manifest embassy-time 0.4.0)")
  fw=$work/et-firmware
  mkdir -p "$fw/src" "$fw/.git"
  {
    printf '[package]\nname = "et-firmware"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\nembassy-time = { path = "%s" }\n\n[features]\n' "$et"
    (cd "$et" && cargo metadata --no-deps --format-version 1 -q) | python3 -c '
import json, sys
for f in sorted(json.load(sys.stdin)["packages"][0]["features"]):
    if f != "default":
        print(f"{f} = [\"embassy-time/{f}\"]")'
  } > "$fw/Cargo.toml"
  printf '#![no_std]\n\n#[no_mangle]\npub extern "C" fn now_ticks() -> u64 {\n    embassy_time::Instant::now().as_ticks()\n}\n\n#[panic_handler]\nfn panic(_: &core::panic::PanicInfo<'"'"'_>) -> ! {\n    loop {}\n}\n' > "$fw/src/lib.rs"
  cd "$fw"
  "$bin" init --target "$target" 2>&1 | tail -1
  s=$(date +%s.%N)
  "$bin" check --no-cache --format json > report.json || true
  secs=$(python3 -c "print(f'{$(date +%s.%N) - $s:.0f}')")
  python3 - "$secs" <<'PY'
import json, sys
from collections import Counter
r = json.load(open("report.json"))
cells = Counter()
for c in r["cells"]:
    what = set()
    for f in c["findings"]:
        detail = f.get("symbol") or f.get("message", "").splitlines()[0][:70]
        what.add(f"{f['kind']} {detail}")
    cells[(c["status"], " + ".join(sorted(what)))] += 1
print(f"check: {len(r['cells'])} cells in {sys.argv[1]} s: {r['summary']}")
for (status, what), n in sorted(cells.items()):
    print(f"  {n} {status}: {what}")
PY
  cd - >/dev/null
fi

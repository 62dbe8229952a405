#!/usr/bin/env bash
# What footprint adds to `check`, and what each option costs, on the
# repository's matrix (configs/percpu-2021.yaml) and on a real firmware
# crate (cortex-m-rt + defmt + defmt-rtt, panic-probe, heapless; 2 triples
# x 4 options = 32 cells), written to a temporary directory. Not a test:
# run it by hand, copy the figures into README ("Footprint").
#
#   cold:   no cell cache and no cargo target dirs (sysroots built)
#   warm:   every cell from the cache
#   footprint_ms: time every cell spent measuring its image (summed over
#                 cells, so with several jobs it can exceed its share of
#                 the wall time); size_gate_us: deciding size findings
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -q
bin=$PWD/target/release/linkmatrix
runs=${RUNS:-3}

median() { python3 -c 'import sys; v=sorted(map(float,sys.argv[1:])); print(v[len(v)//2])' "$@"; }
# stats <dir> <setup> <args...>: the stats line of a run, the median
# wall over $runs runs.
stats() {
  local dir=$1 setup=$2; shift 2
  local walls=() fps=() gates=()
  for _ in $(seq "$runs"); do
    (cd "$dir" && $setup)
    local line
    line=$(cd "$dir" && LINKMATRIX_STATS=1 "$bin" check --no-provision -q "$@" 2>&1 >/dev/null | grep '^stats:' || true)
    walls+=("$(echo "$line" | sed 's/.*wall_ms=\([0-9]*\).*/\1/')")
    fps+=("$(echo "$line" | sed 's/.*footprint_ms=\([0-9]*\).*/\1/')")
    gates+=("$(echo "$line" | sed 's/.*size_gate_us=\([0-9]*\).*/\1/')")
  done
  echo "$(median "${walls[@]}") $(median "${fps[@]}") $(median "${gates[@]}")"
}
row() {
  python3 -c "
import sys
name, kind, wall, fp, gate = sys.argv[1], sys.argv[2], *map(float, sys.argv[3:])
print(f'| {name} | {kind} | {wall/1000:.2f} | {fp:.0f} | {gate/1000:.2f} | {(fp + gate/1000)/wall:.1%} |')
" "$@"
}

echo "| matrix | run | wall s | footprint ms (summed over cells) | size gate ms | share of wall |"
echo "|---|---|---|---|---|---|"
"$bin" check --no-provision -q --config configs/percpu-2021.yaml >/dev/null 2>&1 || true
cold() { rm -rf target/linkmatrix/percpu-2021; }
warm() { :; }
read -r w f g < <(stats . cold --config configs/percpu-2021.yaml)
row "configs/percpu-2021.yaml (8 cells)" cold "$w" "$f" "$g"
read -r w f g < <(stats . warm --config configs/percpu-2021.yaml)
row "configs/percpu-2021.yaml (8 cells)" "all cached" "$w" "$f" "$g"

fw=$(mktemp -d /tmp/linkmatrix-bench-fw-XXXX)
mkdir -p "$fw/src" "$fw/.cargo"
cat > "$fw/Cargo.toml" <<'TOML'
[package]
name = "sensor-fw"
version = "0.1.0"
edition = "2021"

[dependencies]
cortex-m = { version = "0.7", features = ["critical-section-single-core"] }
cortex-m-rt = "0.7"
defmt = "1"
defmt-rtt = "1"
panic-probe = { version = "1", features = ["print-defmt"], optional = true }
panic-halt = { version = "1", optional = true }
heapless = { version = "0.8", optional = true }

[features]
default = ["panic-halt"]
probe = ["dep:panic-probe"]
fmt = []
queue = ["dep:heapless"]

[profile.release]
debug = 2
opt-level = "s"
TOML
cat > "$fw/build.rs" <<'RS'
use std::{env, fs, path::PathBuf};
fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap());
    fs::write(out.join("memory.x"), include_bytes!("memory.x")).unwrap();
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");
}
RS
cat > "$fw/memory.x" <<'X'
/* nRF52840: 1 MiB of flash, 256 KiB of RAM */
MEMORY
{
  FLASH : ORIGIN = 0x00000000, LENGTH = 1024K
  RAM : ORIGIN = 0x20000000, LENGTH = 256K
}
X
cat > "$fw/.cargo/config.toml" <<'TOML'
[target.'cfg(all(target_arch = "arm", target_os = "none"))']
rustflags = ["-C", "link-arg=-Tlink.x", "-C", "link-arg=-Tdefmt.x"]

[build]
target = "thumbv7em-none-eabihf"
TOML
cat > "$fw/src/main.rs" <<'RS'
#![no_std]
#![no_main]

use defmt_rtt as _;
#[cfg(feature = "probe")]
use panic_probe as _;
#[cfg(all(feature = "panic-halt", not(feature = "probe")))]
use panic_halt as _;

use cortex_m_rt::entry;

/// A sample from a (pretend) sensor.
#[derive(Clone, Copy, defmt::Format)]
struct Sample {
    id: u16,
    milli_celsius: i32,
}

fn read(n: u32) -> Sample {
    Sample {
        id: (n % 64) as u16,
        milli_celsius: 21_000 + (n as i32 % 500) - 250,
    }
}

#[cfg(feature = "fmt")]
fn report(s: &Sample) {
    // core::fmt into a buffer, then out through defmt.
    use core::fmt::Write;
    let mut line = Line { buf: [0; 64], len: 0 };
    let _ = write!(line, "sensor {} at {:.3} C", s.id, s.milli_celsius as f32 / 1000.0);
    defmt::info!("{=str}", line.as_str());
}

#[cfg(not(feature = "fmt"))]
fn report(s: &Sample) {
    defmt::info!("sensor {} at {} mC", s.id, s.milli_celsius);
}

#[cfg(feature = "fmt")]
struct Line {
    buf: [u8; 64],
    len: usize,
}

#[cfg(feature = "fmt")]
impl Line {
    fn as_str(&self) -> &str {
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

#[cfg(feature = "fmt")]
impl core::fmt::Write for Line {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let n = s.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

#[entry]
fn main() -> ! {
    #[cfg(feature = "queue")]
    let mut recent: heapless::Deque<Sample, 128> = heapless::Deque::new();
    let mut n: u32 = 0;
    loop {
        let s = read(n);
        #[cfg(feature = "queue")]
        {
            if recent.is_full() {
                let _ = recent.pop_front();
            }
            let _ = recent.push_back(s);
            defmt::trace!("queued {}", recent.len());
        }
        report(&s);
        defmt::debug!("sample {}", s);
        if n == u32::MAX {
            panic!("sample counter wrapped");
        }
        n = n.wrapping_add(1);
        cortex_m::asm::delay(1000);
    }
}
RS
cat > "$fw/linkmatrix.yaml" <<'YAML'
# A cortex-m-rt + defmt sensor firmware: what each option costs.
crate: .
mode: bin
targets: [thumbv6m-none-eabi, thumbv7em-none-eabihf]
options:
  probe: {feature: probe}          # panic-probe (the panic printed through defmt) instead of panic-halt
  fmt: {feature: fmt}              # core::fmt float formatting instead of defmt's
  queue: {feature: queue}          # a heapless queue of the last 128 samples
  log:
    type: choice
    values: [info, trace]
    when:
      info: {env: {DEFMT_LOG: info}}
      trace: {env: {DEFMT_LOG: trace}}
axes:
  probe: [false, true]
  fmt: [false, true]
  queue: [false, true]
  log: [info, trace]
  profile: [release]
YAML
(cd "$fw" && "$bin" check --no-provision -q >/dev/null 2>&1 || true)   # crates fetched
fwcold() { rm -rf target; }
read -r w f g < <(stats "$fw" fwcold)
row "firmware (32 cells)" cold "$w" "$f" "$g"
read -r w f g < <(stats "$fw" warm)
row "firmware (32 cells)" "all cached" "$w" "$f" "$g"
echo
(cd "$fw" && "$bin" footprint)
rm -rf "$fw"

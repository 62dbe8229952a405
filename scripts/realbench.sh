# Sourced by the bench scripts: make_realbench DIR writes a crate with
# crates.io dependencies and a proc macro (defmt -> defmt-macros -> syn),
# and its matrix: 2 bare triples x a logging option = 4 cells.
make_realbench() {
  local real=$1
  mkdir -p "$real/src"
  cat > "$real/Cargo.toml" <<'TOML'
[package]
name = "realbench"
version = "0.1.0"
edition = "2021"
[dependencies]
defmt = "1"
[features]
log = []
TOML
  cat > "$real/src/lib.rs" <<'RS'
#![no_std]
#[no_mangle]
pub extern "C" fn poll(x: u32) -> u32 {
    #[cfg(feature = "log")]
    defmt::error!("poll {}", x);
    x + 1
}
#[cfg(target_os = "none")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! { loop {} }
RS
  printf 'crate: .\ntargets: [armv7a-none-eabi, x86_64-unknown-none]\noptions:\n  log: {feature: log}\naxes:\n  log: [false, true]\n' > "$real/linkmatrix.yaml"
}

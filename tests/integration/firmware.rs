//! `mode: bin` on real firmware from crates.io: cortex-m-rt binaries that
//! cargo links with the crate's own `.cargo/config.toml` rustflags
//! (`-Tlink.x`, `-Tdefmt.x`) and the `memory.x` a build script provides.
//! Each cell's verdict is the real link's; the undefined references are
//! attributed in a permissive relink of the same binary.
use std::path::Path;

use serde_json::Value;

use crate::check::{cell, check_json, failing, undefined_symbols};
use crate::util::{linkmatrix, stderr, write};

/// A cortex-m-rt firmware skeleton for thumbv6m: `memory.x` through a
/// build script, the linker scripts through `.cargo/config.toml` only.
fn firmware(dir: &Path, cargo_toml: &str, main_rs: &str, scripts: &str, matrix: Option<&str>) {
    write(dir, "Cargo.toml", cargo_toml);
    write(
        dir,
        "build.rs",
        "use std::{env, fs, path::PathBuf};\nfn main() {\n    let out = PathBuf::from(env::var_os(\"OUT_DIR\").unwrap());\n    fs::write(out.join(\"memory.x\"), include_bytes!(\"memory.x\")).unwrap();\n    println!(\"cargo:rustc-link-search={}\", out.display());\n    println!(\"cargo:rerun-if-changed=memory.x\");\n}\n",
    );
    write(
        dir,
        "memory.x",
        "MEMORY\n{\n  FLASH : ORIGIN = 0x08000000, LENGTH = 64K\n  RAM : ORIGIN = 0x20000000, LENGTH = 16K\n}\n",
    );
    write(
        dir,
        ".cargo/config.toml",
        &format!(
            "[target.thumbv6m-none-eabi]\nrustflags = [{scripts}]\n\n[build]\ntarget = \"thumbv6m-none-eabi\"\n"
        ),
    );
    write(dir, "src/main.rs", main_rs);
    if let Some(m) = matrix {
        write(dir, "linkmatrix.yaml", m);
    }
}

fn passes_with_size(r: &Value, id: &str) {
    let c = cell(r, id);
    assert_eq!(c["status"], "pass", "{c:#}");
    assert!(c["size"]["text"].as_u64().unwrap() > 0, "{c:#}");
}

/// A cortex-m-rt firmware whose `shared` feature calls
/// `critical_section::with` and whose `single-core` feature turns on
/// cortex-m's implementation.
const CS_CARGO: &str = "[package]\nname = \"fw\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\ncortex-m = \"0.7\"\ncortex-m-rt = \"0.7\"\ncritical-section = \"1\"\n\n[features]\nshared = []\nsingle-core = [\"cortex-m/critical-section-single-core\"]\n";
const CS_MAIN: &str = "#![no_std]\n#![no_main]\n\nuse core::cell::Cell;\nuse critical_section::Mutex;\n\nstatic COUNTER: Mutex<Cell<u32>> = Mutex::new(Cell::new(0));\n\n#[cfg(feature = \"shared\")]\nfn bump() -> u32 {\n    critical_section::with(|cs| {\n        let c = COUNTER.borrow(cs);\n        c.set(c.get() + 1);\n        c.get()\n    })\n}\n\n#[cortex_m_rt::entry]\nfn main() -> ! {\n    loop {\n        #[cfg(feature = \"shared\")]\n        let _ = bump();\n        cortex_m::asm::nop();\n    }\n}\n\n#[panic_handler]\nfn panic(_: &core::panic::PanicInfo<'_>) -> ! {\n    loop {}\n}\n";

/// `init` writes the matrix (firmware: `mode: bin`, `build.target`). A
/// feature pulls in code that needs a critical-section implementation,
/// another provides one (cortex-m's single-core): exactly the cell with
/// the first and not the second fails, with acquire and release, each
/// attributed in critical-section's source, chained from cortex-m-rt's
/// `Reset` (so `link.x` from the crate's own rustflags was used), and
/// placed in the project at the line that calls `critical_section::with`.
#[test]
fn cortex_m_rt_firmware_without_a_critical_section_implementation() {
    let d = tempfile::tempdir().unwrap();
    firmware(
        d.path(),
        CS_CARGO,
        CS_MAIN,
        "\"-C\", \"link-arg=-Tlink.x\"",
        None,
    );
    // `init` sees a cortex-m-rt binary: firmware, for build.target.
    let o = linkmatrix(d.path()).arg("init").output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let written = std::fs::read_to_string(d.path().join("linkmatrix.yaml")).unwrap();
    assert!(written.contains("\nmode: bin\n"), "{written}");
    assert!(
        written.contains("\ntargets: [thumbv6m-none-eabi]\n"),
        "{written}"
    );
    let (code, r, err) = check_json(d.path(), &[]);
    assert_eq!(code, 1, "{err}\n{r:#}");
    let bad = "thumbv6m-shared-no-single-core-release";
    // `init` writes both profiles: the missing implementation fails each.
    assert_eq!(
        failing(&r),
        ["thumbv6m-shared-no-single-core-dev", bad],
        "{r:#}"
    );
    let c = cell(&r, bad);
    assert_eq!(
        undefined_symbols(c),
        [
            "_critical_section_1_0_acquire",
            "_critical_section_1_0_release"
        ],
        "{c:#}"
    );
    for f in c["findings"].as_array().unwrap() {
        let by = &f["referenced_by"][0];
        let file = by["file"].as_str().unwrap_or_default();
        assert!(
            file.contains("critical-section-1.") && file.ends_with("src/lib.rs"),
            "{f:#}"
        );
        assert!(by["line"].as_u64().is_some(), "{f:#}");
        let chain = crate::util::strs(&f["chain"]);
        assert_eq!(chain[..2], ["Reset", "main"], "{f:#}");
        assert!(chain.contains(&"fw::bump"), "{f:#}");
        assert_eq!(f["at"]["file"], "src/main.rs", "{f:#}");
        assert_eq!(f["at"]["line"], 11, "{f:#}");
        // The real linker's words come along.
        assert!(
            f["message"]
                .as_str()
                .unwrap()
                .contains("undefined symbol: _critical_section_1_0_"),
            "{f:#}"
        );
    }
    assert!(c.get("size").is_none(), "{c:#}");
    for id in [
        "thumbv6m-no-shared-no-single-core-release",
        "thumbv6m-no-shared-single-core-release",
        "thumbv6m-shared-single-core-release",
    ] {
        passes_with_size(&r, id);
    }
    // The implementation adds its code and the counter's RAM.
    let with = &cell(&r, "thumbv6m-shared-single-core-release")["size"];
    assert!(with["bss"].as_u64().unwrap() > 0, "{with:#}");
}

/// defmt logs through a global logger the firmware must provide: without
/// one (`-Tdefmt.x` from the crate's rustflags, found though linkmatrix
/// runs elsewhere) the link fails with
/// `_defmt_acquire`/`_defmt_release`/`_defmt_write`, reached from the
/// `defmt::error!` in `main`; with defmt-rtt it links.
#[test]
fn defmt_firmware_without_a_global_logger() {
    let d = tempfile::tempdir().unwrap();
    firmware(
        d.path(),
        "[package]\nname = \"logfw\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\ncortex-m = { version = \"0.7\", features = [\"critical-section-single-core\"] }\ncortex-m-rt = \"0.7\"\ndefmt = \"1\"\ndefmt-rtt = { version = \"1\", optional = true }\n\n[features]\nrtt = [\"dep:defmt-rtt\"]\n",
        "#![no_std]\n#![no_main]\n\n#[cfg(feature = \"rtt\")]\nuse defmt_rtt as _;\nuse cortex_m as _;\n\n#[cortex_m_rt::entry]\nfn main() -> ! {\n    let mut n: u32 = 0;\n    loop {\n        n = n.wrapping_add(1);\n        defmt::error!(\"tick {}\", n);\n    }\n}\n\n#[panic_handler]\nfn panic(_: &core::panic::PanicInfo<'_>) -> ! {\n    loop {}\n}\n",
        "\"-C\", \"link-arg=-Tlink.x\", \"-C\", \"link-arg=-Tdefmt.x\"",
        Some(
            "crate: .\nmode: bin\ntargets: [thumbv6m-none-eabi]\noptions:\n  rtt: {feature: rtt}\naxes:\n  rtt: [false, true]\n",
        ),
    );
    // Run from another directory, as CI does from a repository's root:
    // cargo finds `.cargo/config.toml` from where it runs, and once did
    // not see the firmware's (no link.x: every cell "passed").
    let elsewhere = tempfile::tempdir().unwrap();
    let matrix = d.path().join("linkmatrix.yaml");
    let (code, r, err) = check_json(elsewhere.path(), &["--config", matrix.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}\n{r:#}");
    let bad = "thumbv6m-no-rtt-release";
    assert_eq!(failing(&r), [bad], "{r:#}");
    let c = cell(&r, bad);
    assert_eq!(
        undefined_symbols(c),
        ["_defmt_acquire", "_defmt_release", "_defmt_write"],
        "{c:#}"
    );
    for f in c["findings"].as_array().unwrap() {
        assert_eq!(f["at"]["file"], "src/main.rs", "{f:#}");
        assert_eq!(f["at"]["line"], 13, "{f:#}");
        assert_eq!(f["chain"][0], "Reset", "{f:#}");
    }
    passes_with_size(&r, "thumbv6m-rtt-release");
}

/// The crate links through a C compiler driver (`linker = "clang"`, as
/// with `arm-none-eabi-gcc`): linkmatrix's link arguments reach the linker
/// as `-Wl,…` (the chain from `Reset` needs `--emit-relocs`), and the
/// driver's own "ld.lld command failed" line is not taken for another
/// error: exactly the two undefined symbols, no `link-error`.
#[test]
fn firmware_linked_through_a_c_compiler_driver() {
    let d = tempfile::tempdir().unwrap();
    firmware(
        d.path(),
        CS_CARGO,
        CS_MAIN,
        "\"-C\", \"link-arg=--target=thumbv6m-none-eabi\", \"-C\", \"link-arg=-nostdlib\", \"-C\", \"link-arg=-fuse-ld=lld\", \"-C\", \"link-arg=-Tlink.x\"",
        Some(
            "crate: .\nmode: bin\ntargets: [thumbv6m-none-eabi]\noptions:\n  shared: {feature: shared}\n  single-core: {feature: single-core}\naxes:\n  shared: [true]\n  single-core: [false, true]\n",
        ),
    );
    let config = d.path().join(".cargo/config.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    write(
        d.path(),
        ".cargo/config.toml",
        &text.replace(
            "[target.thumbv6m-none-eabi]\n",
            "[target.thumbv6m-none-eabi]\nlinker = \"clang\"\n",
        ),
    );
    let (code, r, err) = check_json(d.path(), &[]);
    assert_eq!(code, 1, "{err}\n{r:#}");
    let bad = failing(&r);
    assert_eq!(bad.len(), 1, "{r:#}");
    let c = cell(&r, &bad[0]);
    assert_eq!(c["features"], serde_json::json!(["shared"]), "{c:#}");
    let kinds: Vec<&str> = c["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["undefined-symbol", "undefined-symbol"], "{c:#}");
    assert_eq!(c["findings"][0]["chain"][0], "Reset", "{c:#}");
}

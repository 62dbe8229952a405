//! Link failures of real firmware by kind: `fixtures/firmware-kinds`, a
//! cortex-m-rt binary from crates.io crates (its Cargo.lock pinned) whose
//! features each break its link one way. Each test copies it, writes the
//! smallest matrix that shows its kind, and checks what `check` (and
//! `diff`) say: one finding per linker error, named and attributed.
use std::path::Path;

use serde_json::Value;

use crate::check::{cell, check_json, failing};
use crate::util::{copy_tree, linkmatrix, repo, stdout, write};

/// The firmware in a fresh directory with `matrix` as its linkmatrix.yaml.
fn firmware(matrix: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    copy_tree(&repo().join("fixtures/firmware-kinds"), d.path());
    write(d.path(), "linkmatrix.yaml", matrix);
    d
}

fn kinds(c: &Value) -> Vec<&str> {
    c["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect()
}

fn human(dir: &Path, args: &[&str]) -> String {
    let o = linkmatrix(dir)
        .args(["check", "--no-provision"])
        .args(args)
        .output()
        .unwrap();
    stdout(&o)
}

/// panic-never names its link-time error with a symbol that starts with a
/// newline, and lld wraps it onto the next line. In the dev profile (an
/// overflow check is a panicking branch) that is one `undefined-symbol`
/// finding — no `link-error` for the wrapped line — whose name is exact
/// in JSON and escaped (`\n`) in the table, the details and the chain;
/// release has no panicking branch and links.
#[test]
fn panic_never_in_the_dev_profile_is_one_finding_shown_escaped() {
    let d = firmware(
        "crate: .\nmode: bin\ntargets: [thumbv6m-none-eabi]\noptions:\n  never: {feature: never}\naxes:\n  never: [true]\n  profile: [dev, release]\n",
    );
    let (code, r, err) = check_json(d.path(), &[]);
    assert_eq!(code, 1, "{err}\n{r:#}");
    let bad = "thumbv6m-never-dev";
    assert_eq!(failing(&r), [bad], "{r:#}");
    let c = cell(&r, bad);
    assert_eq!(kinds(c), ["undefined-symbol"], "{c:#}");
    let name = "\nerror(panic-never): your program contains at least one panicking branch";
    let f = &c["findings"][0];
    assert_eq!(f["symbol"], name, "{f:#}");
    assert_eq!(f["chain"][0], "Reset", "{f:#}");
    assert_eq!(f["at"]["file"], "src/main.rs", "{f:#}");
    let text = human(d.path(), &[]);
    let escaped = "undefined-symbol: \\nerror(panic-never): your program contains";
    let table = text
        .lines()
        .find(|l| l.starts_with(bad))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(table.contains(escaped), "{text}");
    let chain = text
        .lines()
        .find(|l| l.trim_start().starts_with("chain: Reset"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        chain.ends_with(
            "-> \\nerror(panic-never): your program contains at least one panicking branch"
        ),
        "{text}"
    );
    // No line of the report starts with the name's second half.
    assert!(
        !text.lines().any(|l| l.starts_with("error(panic-never)")),
        "{text}"
    );
}

/// Formatting floats fills the firmware's 48K FLASH in the dev profile
/// only: that cell is one `region-overflow` (region, sections, bytes
/// over, the region's length from `memory.x`, and what fills it measured
/// in the image relinked with FLASH large enough: core's float formatting
/// and the crate's own code), the summary line names it, and `diff`
/// against the release cell says when it happens and what grew.
#[test]
fn a_flash_overflow_in_one_profile_and_feature_is_measured_and_diffed() {
    let d = firmware(
        "crate: .\nmode: bin\ntargets: [thumbv6m-none-eabi]\noptions:\n  fmt: {feature: fmt}\naxes:\n  fmt: [false, true]\n  profile: [dev, release]\n",
    );
    let (code, r, err) = check_json(d.path(), &[]);
    assert_eq!(code, 1, "{err}\n{r:#}");
    let bad = "thumbv6m-fmt-dev";
    assert_eq!(failing(&r), [bad], "{r:#}");
    let c = cell(&r, bad);
    assert_eq!(kinds(c), ["region-overflow"], "{c:#}");
    let region = &c["findings"][0]["region"];
    assert_eq!(region["name"], "FLASH", "{region:#}");
    assert_eq!(region["size"], 48 * 1024, "{region:#}");
    let over = region["overflow_bytes"].as_u64().unwrap();
    assert!(over > 0, "{region:#}");
    let sections: Vec<&str> = region["sections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert!(sections.contains(&".text"), "{region:#}");
    let fill = &region["fill"];
    // The relinked image holds what the region should have: its length
    // and the overflow, to alignment.
    let used = fill["used"].as_u64().unwrap();
    assert!(
        used + 64 >= 48 * 1024 + over && used <= 48 * 1024 + over,
        "{region:#}"
    );
    let crates: Vec<&str> = fill["crates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    assert_eq!(crates[0], "core", "{fill:#}");
    assert!(crates.contains(&"fw"), "{fill:#}");
    let symbols: Vec<&str> = fill["symbols"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    assert!(symbols.iter().any(|s| s.contains("flt2dec")), "{fill:#}");
    let text = human(d.path(), &[]);
    let row = text.lines().find(|l| l.starts_with(bad)).unwrap();
    assert!(row.contains("region-overflow: FLASH by"), "{text}");
    assert!(text.contains("what fills FLASH:"), "{text}");
    let o = linkmatrix(d.path())
        .args(["diff", bad, "thumbv6m-fmt-release"])
        .output()
        .unwrap();
    let diff = stdout(&o);
    assert!(
        diff.contains("region FLASH overflows exactly when `fmt=true` and `profile=dev`"),
        "{diff}"
    );
    let grew = diff
        .lines()
        .find(|l| l.trim_start().starts_with("grew:"))
        .unwrap_or_else(|| panic!("{diff}"));
    assert!(grew.contains("core +"), "{diff}");
}

/// Three ways a cortex-m-rt firmware is misconfigured, each its own kind
/// with what it is about, no `link-error` beside it: cortex-m's
/// single-core critical section and the crate's own `set_impl!` define
/// acquire and release twice (both definitions: crate, object and
/// file:line; `at` the crate's own impl); the `device` feature without a
/// device crate includes a `device.x` nobody provides (the script line
/// that asked); an empty `device.x` trips cortex-m-rt's assertion (its
/// message, once, though lld prints it three times).
#[test]
fn cortex_m_rt_misconfigurations_are_each_their_own_kind() {
    let d = firmware(
        "crate: .\nmode: bin\ntargets: [thumbv6m-none-eabi]\noptions:\n  dup: {feature: dup}\n  device: {feature: device}\n  vectors: {feature: vectors}\naxes:\n  dup: [false]\n  profile: [dev]\ninclude:\n  - {arch: thumbv6m-none-eabi, dup: true, profile: dev, id: dup}\n  - {arch: thumbv6m-none-eabi, device: true, profile: dev, id: device}\n  - {arch: thumbv6m-none-eabi, vectors: true, profile: dev, id: vectors}\n",
    );
    let (code, r, err) = check_json(d.path(), &[]);
    assert_eq!(code, 1, "{err}\n{r:#}");
    assert_eq!(failing(&r), ["dup", "device", "vectors"], "{r:#}");

    let c = cell(&r, "dup");
    assert_eq!(kinds(c), ["duplicate-symbol", "duplicate-symbol"], "{c:#}");
    for (f, sym) in c["findings"].as_array().unwrap().iter().zip([
        "_critical_section_1_0_acquire",
        "_critical_section_1_0_release",
    ]) {
        assert_eq!(f["symbol"], sym, "{f:#}");
        let defs = f["definitions"].as_array().unwrap();
        let krates: Vec<&str> = defs.iter().map(|x| x["crate"].as_str().unwrap()).collect();
        assert_eq!(krates, ["fw", "cortex_m"], "{f:#}");
        assert!(
            defs[1]["object"]
                .as_str()
                .unwrap()
                .starts_with("libcortex_m-"),
            "{f:#}"
        );
        for x in defs {
            let file = x["file"].as_str().unwrap();
            assert!(file.contains("critical-section-1."), "{f:#}");
            assert!(x["line"].as_u64().is_some(), "{f:#}");
        }
        assert_eq!(f["at"]["file"], "src/main.rs", "{f:#}");
    }

    let c = cell(&r, "device");
    assert_eq!(kinds(c), ["missing-input"], "{c:#}");
    let f = &c["findings"][0];
    assert_eq!(f["input"]["kind"], "linker-script", "{f:#}");
    assert_eq!(f["input"]["name"], "device.x", "{f:#}");
    assert!(
        f["script"]["file"].as_str().unwrap().ends_with("/link.x"),
        "{f:#}"
    );
    assert!(f["script"]["line"].as_u64().is_some(), "{f:#}");

    let c = cell(&r, "vectors");
    assert_eq!(kinds(c), ["linker-script-assertion"], "{c:#}");
    let m = c["findings"][0]["message"].as_str().unwrap();
    assert!(
        m.starts_with("ERROR(cortex-m-rt): The interrupt vectors are missing."),
        "{m}"
    );
    assert_eq!(m.matches("interrupt vectors are missing").count(), 1, "{m}");

    let text = human(d.path(), &[]);
    for row in [
        "duplicate-symbol: _critical_section_1_0_acquire",
        "missing-input: linker script device.x",
        "linker-script-assertion: ERROR(cortex-m-rt): The interrupt vectors are missing.",
    ] {
        assert!(text.contains(row), "{text}");
    }
}

/// `fixtures/farcall`: with `far`, the platform's assembly calls a
/// function its linker script places 8 GiB away — beyond a 32-bit
/// relative call. One `relocation-overflow`: the target, the relocation
/// type, the referencing function and its line in the project (the
/// assembly's), the target's object; without `far` the cell links.
#[test]
fn a_call_placed_out_of_range_is_a_relocation_overflow() {
    let d = tempfile::tempdir().unwrap();
    copy_tree(&repo().join("fixtures/farcall"), d.path());
    std::fs::create_dir(d.path().join(".git")).unwrap();
    write(
        d.path(),
        "linkmatrix.yaml",
        "crate: .\ntargets: [far]\noptions:\n  far: {feature: far}\naxes:\n  far: [false, true]\n  profile: [release]\n",
    );
    let (code, r, err) = check_json(d.path(), &[]);
    assert_eq!(code, 1, "{err}\n{r:#}");
    assert_eq!(failing(&r), ["far-far-release"], "{r:#}");
    let c = cell(&r, "far-far-release");
    assert_eq!(kinds(c), ["relocation-overflow"], "{c:#}");
    let f = &c["findings"][0];
    assert_eq!(f["symbol"], "far_entry", "{f:#}");
    assert_eq!(f["relocation"]["type"], "R_X86_64_PLT32", "{f:#}");
    assert_eq!(f["relocation"]["target_object"], "01-far.c.o", "{f:#}");
    let by = &f["referenced_by"][0];
    assert_eq!(by["function"], "boot_enter", "{f:#}");
    assert_eq!(by["file"], "platform/boot.S", "{f:#}");
    assert_eq!(f["at"]["file"], "platform/boot.S", "{f:#}");
    assert_eq!(f["at"]["line"], by["line"], "{f:#}");
}

//! Hosted targets by name: `x86_64-unknown-linux-gnu` (its prebuilt std is
//! on every machine that builds linkmatrix: rustup's or Debian's) in
//! `init` and `targets:`, in image and bin mode. The image is dynamically
//! linked by `cc`: what libc and the other shared libraries provide is
//! imported, not undefined; linkmatrix's own link arguments reach the
//! linker through the driver (`-Wl,`), and one the linker refuses is the
//! tool's `error`, never the crate's `fail`.
use std::path::Path;

use crate::check::{cell, check_json, failing, undefined_symbols};
use crate::util::{linkmatrix, stderr, write};

const HOST: &str = "x86_64-unknown-linux-gnu";

/// A library with a `fast` feature that calls a function nothing defines;
/// without it, `hlib_go` reads an environment variable through std (libc's
/// `getenv`, imported at load time).
fn hosted_lib(dir: &Path) {
    write(
        dir,
        "Cargo.toml",
        "[package]\nname = \"hlib\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[features]\nfast = []\n",
    );
    write(
        dir,
        "src/lib.rs",
        "#[cfg(feature = \"fast\")]\nextern \"C\" {\n    fn fast_path(x: u32) -> u32;\n}\n\n#[no_mangle]\npub extern \"C\" fn hlib_go(x: u32) -> u32 {\n    #[cfg(feature = \"fast\")]\n    return unsafe { fast_path(x) };\n    #[allow(unreachable_code)]\n    std::env::var(\"HLIB\").map_or(x, |v| v.len() as u32)\n}\n",
    );
}

/// `init --target x86_64-unknown-linux-gnu` is accepted and `check` links
/// each cell against this machine's C library: the cell without `fast`
/// passes (std's libc calls are imports), the one with it fails on exactly
/// `fast_path`, attributed to `hlib_go` in the project.
#[test]
fn a_hosted_triple_works_by_name_in_image_mode() {
    let d = tempfile::tempdir().unwrap();
    hosted_lib(d.path());
    let o = linkmatrix(d.path())
        .args(["init", "--target", HOST])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let written = std::fs::read_to_string(d.path().join("linkmatrix.yaml")).unwrap();
    assert!(
        written.contains(&format!("\ntargets: [{HOST}]\n")),
        "{written}"
    );
    let (code, r, err) = check_json(d.path(), &[]);
    assert_eq!(code, 1, "{err}\n{r:#}");
    // init writes both profiles; the missing `fast_path` breaks each.
    assert_eq!(
        failing(&r),
        ["x86_64-fast-dev", "x86_64-fast-release"],
        "{r:#}"
    );
    for id in ["x86_64-fast-dev", "x86_64-fast-release"] {
        let c = cell(&r, id);
        assert_eq!(undefined_symbols(c), ["fast_path"], "{c:#}");
        assert_eq!(c["findings"].as_array().unwrap().len(), 1, "{c:#}");
        let f = &c["findings"][0];
        assert_eq!(f["referenced_by"][0]["function"], "hlib_go", "{f:#}");
        assert_eq!(f["at"]["file"], "src/lib.rs", "{f:#}");
    }
}

/// A target file of the user's that calls `cc` a plain linker
/// (`flavor: ld`) makes linkmatrix pass `--emit-relocs` to `cc` raw: the
/// driver refuses it, and that is the tool's error (kind `link`, naming
/// the option), not a finding against the crate.
#[test]
fn a_link_option_of_linkmatrixs_the_linker_refuses_is_an_error_not_a_fail() {
    let d = tempfile::tempdir().unwrap();
    hosted_lib(d.path());
    write(
        d.path(),
        "targets/mislabelled.yaml",
        &format!(
            "triple: {HOST}\ncc:\n  compiler: [cc]\nlinker:\n  program: [cc]\n  flavor: ld\n  flags: [-nostartfiles]\n  native-libs: true\n"
        ),
    );
    write(
        d.path(),
        "linkmatrix.yaml",
        "crate: .\ntargets: [mislabelled]\naxes:\n  profile: [release]\n",
    );
    let (code, r, err) = check_json(d.path(), &[]);
    assert_eq!(code, 2, "{err}\n{r:#}");
    let c = &r["cells"][0];
    assert_eq!(c["status"], "error", "{c:#}");
    assert_eq!(c["error_kind"], "link", "{c:#}");
    let e = c["error"].as_str().unwrap();
    assert!(
        e.contains("refused an option linkmatrix added") && e.contains("--emit-relocs"),
        "{e}"
    );
    assert!(c["findings"].as_array().unwrap().is_empty(), "{c:#}");
}

/// A `no_std` binary on `libc` whose profiles both say `panic = "abort"`:
/// in dev, overflow checks reach core's panic code, which the prebuilt
/// core (built to unwind) links to `rust_eh_personality`, and nothing
/// defines it; release has no such branch and links. cargo links it with
/// `cc`, so linkmatrix's `--emit-relocs` must go as `-Wl,` (raw, the
/// driver refuses it and no cell would pass). `write` and `abort` come
/// from libc: imports, not findings.
#[test]
fn a_no_std_libc_binary_fails_only_in_dev_on_rust_eh_personality() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "Cargo.toml",
        "[package]\nname = \"nostdbin\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\nlibc = { version = \"0.2\", default-features = false }\n\n[profile.dev]\npanic = \"abort\"\n\n[profile.release]\npanic = \"abort\"\n",
    );
    write(
        d.path(),
        "src/main.rs",
        "#![no_std]\n#![no_main]\n\n#[no_mangle]\npub extern \"C\" fn main(argc: libc::c_int, _argv: *const *const u8) -> libc::c_int {\n    let y = (argc * 7 + 1) as u8;\n    unsafe { libc::write(1, (&y as *const u8).cast(), 1) };\n    0\n}\n\n#[panic_handler]\nfn panic(_: &core::panic::PanicInfo<'_>) -> ! {\n    unsafe { libc::abort() }\n}\n",
    );
    let o = linkmatrix(d.path())
        .args(["init", "--mode", "bin", "--target", HOST])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let m = d.path().join("linkmatrix.yaml");
    let text = std::fs::read_to_string(&m).unwrap();
    std::fs::write(
        &m,
        text.replace("profile: [release]", "profile: [dev, release]"),
    )
    .unwrap();
    let (code, r, err) = check_json(d.path(), &[]);
    assert_eq!(code, 1, "{err}\n{r:#}");
    assert_eq!(failing(&r), ["x86_64-dev"], "{r:#}");
    let c = cell(&r, "x86_64-dev");
    let kinds: Vec<&str> = c["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["undefined-symbol"], "{c:#}");
    assert_eq!(undefined_symbols(c), ["rust_eh_personality"], "{c:#}");
    assert!(
        cell(&r, "x86_64-release")["size"]["text"].as_u64().unwrap() > 0,
        "{r:#}"
    );
}

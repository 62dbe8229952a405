//! `check` with the real toolchain: the default matrix passes, the two
//! historical matrices fail exactly where the kernel did, the cache serves
//! unchanged cells and rebuilds only what a change touches, and a crate
//! outside this repository works with the bundled targets.
use std::path::Path;

use serde_json::Value;

use crate::util::{linkmatrix, project_copy, repo, stderr, write};

pub(crate) fn check_json(cwd: &Path, args: &[&str]) -> (i32, Value, String) {
    let o = linkmatrix(cwd)
        .args(["check", "--no-provision", "--format", "json"])
        .args(args)
        .output()
        .unwrap();
    let err = stderr(&o);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {err}"));
    (o.status.code().unwrap_or(-1), v, err)
}

pub(crate) fn cell<'a>(r: &'a Value, id: &str) -> &'a Value {
    r["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no cell {id}"))
}

pub(crate) fn failing(r: &Value) -> Vec<String> {
    r["cells"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] != "pass")
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn default_matrix_passes_every_cell() {
    let (code, r, err) = check_json(&repo(), &[]);
    assert_eq!(code, 0, "{err}\n{r:#}");
    assert_eq!(r["schema"], "linkmatrix/report/v1");
    assert_eq!(r["summary"]["cells"], 8);
    assert_eq!(r["summary"]["pass"], 8, "{r:#}");
}

#[test]
fn percpu_2021_fails_only_on_arm_smp_nommu_with_the_flush() {
    let (code, r, err) = check_json(&repo(), &["--config", "configs/percpu-2021.yaml"]);
    assert_eq!(code, 1, "{err}\n{r:#}");
    assert_eq!(failing(&r), ["arm-smp-nommu-release"]);
    let c = cell(&r, "arm-smp-nommu-release");
    assert_eq!(c["status"], "fail");
    let f = &c["findings"][0];
    assert_eq!(c["findings"].as_array().unwrap().len(), 1, "{c:#}");
    assert_eq!(f["kind"], "undefined-symbol");
    assert_eq!(f["symbol"], "flush_tlb_kernel_range");
    let refs = f["referenced_by"].as_array().unwrap();
    let r0 = refs
        .iter()
        .find(|x| {
            x["function"]
                .as_str()
                .unwrap()
                .contains("pcpu_post_unmap_tlb_flush")
        })
        .unwrap_or_else(|| panic!("no pcpu_post_unmap_tlb_flush in {refs:?}"));
    assert!(
        r0["file"].as_str().unwrap().starts_with("fixtures/kalloc/"),
        "{r0}"
    );
    assert!(r0["line"].as_u64().unwrap() > 0, "{r0}");
    assert!(
        r0["object"].as_str().unwrap().starts_with("libkalloc.a("),
        "{r0}"
    );
    let chain = crate::util::strs(&f["chain"]);
    assert_eq!(chain.last(), Some(&"flush_tlb_kernel_range"));
    assert!(
        chain[0].starts_with("kalloc_"),
        "chain starts at an exported root: {chain:?}"
    );
    assert!(
        chain
            .iter()
            .any(|x| x.contains("pcpu_post_unmap_tlb_flush"))
    );
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("undefined symbol: flush_tlb_kernel_range"),
        "the linker's own words are kept"
    );
    assert_eq!(
        c["reproduce"],
        "linkmatrix check --config configs/percpu-2021.yaml --cell arm-smp-nommu-release"
    );
}

#[test]
fn zsmalloc_2013_module_references_an_unexported_flush_on_arm_up() {
    let (code, r, err) = check_json(&repo(), &["--config", "configs/zsmalloc-2013.yaml"]);
    assert_eq!(code, 1, "{err}\n{r:#}");
    assert_eq!(failing(&r), ["arm-up-mmu-release"]);
    let c = cell(&r, "arm-up-mmu-release");
    let kinds: Vec<&str> = c["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["unexported-symbol"], "{c:#}");
    assert_eq!(c["findings"][0]["symbol"], "local_flush_tlb_kernel_range");
    assert!(
        c["findings"][0]["chain"][0]
            .as_str()
            .unwrap()
            .starts_with("kalloc_")
    );
}

#[test]
fn report_file_is_written_and_matches_stdout() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("r.json");
    let arg = format!("json={}", path.display());
    let (code, r, err) = check_json(
        &repo(),
        &[
            "--config",
            "configs/percpu-2021.yaml",
            "--cell",
            "arm-smp-*",
            "--report",
            &arg,
        ],
    );
    assert_eq!(code, 1, "{err}");
    let file: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(file, r);
    assert_eq!(r["summary"]["cells"], 2);
}

fn cached_ids(r: &Value) -> Vec<String> {
    let mut v: Vec<String> = r["cells"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["cached"] == true)
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn unchanged_cells_come_from_the_cache_and_a_platform_edit_rebuilds_only_its_arch() {
    let d = project_copy();
    let cfg = ["--config", "linkmatrix.yaml"];
    let (code, r1, err) = check_json(d.path(), &cfg);
    assert_eq!(code, 0, "{err}\n{r1:#}");
    assert!(cached_ids(&r1).is_empty());
    let (_, r2, _) = check_json(d.path(), &cfg);
    assert_eq!(
        cached_ids(&r2).len(),
        8,
        "second run: every cell from the cache"
    );
    assert_eq!(r2["summary"], r1["summary"]);
    // Touch an ARM platform file: ARM cells rebuild, x86 cells do not.
    let plat = d.path().join("fixtures/platform/arm/platform.c");
    let mut text = std::fs::read_to_string(&plat).unwrap();
    text.push_str("\n/* edited by a test */\n");
    std::fs::write(&plat, text).unwrap();
    let (code, r3, err) = check_json(d.path(), &cfg);
    assert_eq!(code, 0, "{err}");
    let cached = cached_ids(&r3);
    assert_eq!(
        cached,
        [
            "x86-smp-mmu-release",
            "x86-smp-nommu-release",
            "x86-up-mmu-release",
            "x86-up-nommu-release"
        ]
    );
    // --no-cache rebuilds everything.
    let (_, r4, _) = check_json(
        d.path(),
        &[
            "--config",
            "linkmatrix.yaml",
            "--no-cache",
            "--cell",
            "x86-up-*",
        ],
    );
    assert!(cached_ids(&r4).is_empty());
}

const EXT_LIB: &str = r#"#![no_std]
//! A small no_std crate outside linkmatrix's repository.
use bitflags::bitflags;

bitflags! {
    /// Request flags.
    pub struct Flags: u32 {
        const FAST = 1;
        const WIDE = 2;
    }
}

extern "C" {
    fn platform_alloc_page() -> *mut u8;
    fn board_led_on(mask: u32);
    #[cfg(feature = "telemetry")]
    fn telemetry_send(v: u32) -> i32;
}

#[no_mangle]
pub extern "C" fn ext_request(bits: u32) -> usize {
    let f = Flags::from_bits_truncate(bits);
    if f.contains(Flags::WIDE) {
        unsafe { board_led_on(bits) };
    }
    unsafe { platform_alloc_page() as usize }
}

#[cfg(feature = "telemetry")]
#[no_mangle]
pub extern "C" fn ext_report(v: u32) -> i32 {
    unsafe { telemetry_send(v) }
}

#[cfg(target_os = "none")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {}
}
"#;

#[test]
fn a_crate_outside_the_repository_with_init_and_bundled_targets() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "Cargo.toml",
        "[package]\nname = \"ext-driver\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\nbitflags = \"2\"\n\n[features]\ntelemetry = []\n",
    );
    write(d.path(), "src/lib.rs", EXT_LIB);
    let o = linkmatrix(d.path())
        .env("LINKMATRIX_BUNDLE", "embedded")
        .args(["init", "--target", "arm", "--target", "x86"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let cfg = std::fs::read_to_string(d.path().join("linkmatrix.yaml")).unwrap();
    assert!(cfg.contains("telemetry: [false, true]"), "{cfg}");
    // Edit it as a user would: the board provides `board_led_on` at run time.
    let cfg = cfg.replace("allow-undefined: []", "allow-undefined: [board_led_*]");
    std::fs::write(d.path().join("linkmatrix.yaml"), cfg).unwrap();
    let o = linkmatrix(d.path())
        .env("LINKMATRIX_BUNDLE", "embedded")
        .args(["check", "--no-provision", "--format", "json"])
        .output()
        .unwrap();
    let err = stderr(&o);
    let r: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {err}"));
    assert_eq!(o.status.code(), Some(1), "{err}\n{r:#}");
    let mut bad = failing(&r);
    bad.sort();
    // `init` writes both profiles: the bug is in each.
    let want = [
        "arm-telemetry-dev",
        "arm-telemetry-release",
        "x86-telemetry-dev",
        "x86-telemetry-release",
    ];
    assert_eq!(bad, want, "{r:#}");
    for id in want {
        let c = cell(&r, id);
        let syms: Vec<&str> = c["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["symbol"].as_str().unwrap())
            .collect();
        assert_eq!(syms, ["telemetry_send"], "{c:#}");
        assert_eq!(
            c["findings"][0]["referenced_by"][0]["function"],
            "ext_report"
        );
        assert_eq!(c["findings"][0]["referenced_by"][0]["file"], "src/lib.rs");
    }
    assert_eq!(cell(&r, "arm-no-telemetry-release")["status"], "pass");
}

#[test]
fn a_missing_toolchain_is_an_error_cell_with_the_fix() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "targets/ghost.yaml",
        "triple: armv7a-none-eabi\ncc: {compiler: [no-such-cc-xyz]}\nlinker: {program: [ld.lld]}\nplatform: {sources: [plat.c]}\ntoolchain: {apt: [clang-99]}\n",
    );
    write(d.path(), "targets/plat.c", "int plat(void) { return 1; }\n");
    write(
        d.path(),
        "Cargo.toml",
        "[package]\nname = \"g\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    );
    write(
        d.path(),
        "src/lib.rs",
        "#![no_std]\n#[no_mangle]\npub extern \"C\" fn g_entry() -> u32 { 1 }\n#[panic_handler]\nfn p(_: &core::panic::PanicInfo<'_>) -> ! { loop {} }\n",
    );
    write(
        d.path(),
        "linkmatrix.yaml",
        "crate: .\ntargets: [ghost, arm]\n",
    );
    let (code, r, err) = check_json(d.path(), &[]);
    assert_eq!(code, 2, "{err}\n{r:#}");
    let g = cell(&r, "ghost-release");
    assert_eq!(g["status"], "error");
    let e = g["error"].as_str().unwrap();
    assert!(
        e.contains("no-such-cc-xyz") && e.contains("apt-get install -y clang-99"),
        "{e}"
    );
    assert_eq!(
        cell(&r, "arm-release")["status"],
        "pass",
        "the other cell still runs"
    );
}

#[test]
fn seed001_success_stub_hides_the_reference_in_release_only() {
    let (code, r, err) = check_json(&repo(), &["--config", "configs/seed001-stub-ok.yaml"]);
    assert_eq!(code, 1, "{err}\n{r:#}");
    assert_eq!(cell(&r, "arm-smp-nommu-release")["status"], "pass", "{r:#}");
    let dev = cell(&r, "arm-smp-nommu-dev");
    assert_eq!(dev["status"], "fail");
    assert_eq!(dev["findings"][0]["symbol"], "flush_tlb_kernel_range");
}

#[test]
fn a_crate_with_nothing_to_follow_is_an_error_not_a_pass() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "Cargo.toml",
        "[package]\nname = \"quiet-lib\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[lib]\nname = \"renamed\"\n",
    );
    write(
        d.path(),
        "src/lib.rs",
        "#![no_std]\npub fn not_exported() {}\n#[cfg(target_os = \"none\")]\n#[panic_handler]\nfn p(_: &core::panic::PanicInfo<'_>) -> ! { loop {} }\n",
    );
    write(d.path(), "linkmatrix.yaml", "crate: .\ntargets: [arm]\n");
    let (code, r, err) = check_json(d.path(), &[]);
    assert_eq!(code, 2, "{err}");
    let e = r["cells"][0]["error"].as_str().unwrap();
    assert!(e.contains("nothing to follow"), "{e}");
    // With a root given by the policy, the renamed lib is built and checked.
    write(
        d.path(),
        "linkmatrix.yaml",
        "crate: .\ntargets: [arm]\npolicy:\n  roots: [platform_init]\n",
    );
    let (code, r, err) = check_json(d.path(), &[]);
    assert_eq!(code, 0, "{err}\n{r:#}");
}

const DEFAULTS_LIB: &str = r#"#![no_std]
extern "C" {
    #[cfg(feature = "a")]
    fn a_hook() -> u32;
    #[cfg(feature = "b")]
    fn b_hook() -> u32;
}

#[no_mangle]
pub extern "C" fn entry() -> u32 {
    let mut n = 1;
    #[cfg(feature = "a")]
    {
        n += unsafe { a_hook() };
    }
    #[cfg(feature = "b")]
    {
        n += unsafe { b_hook() };
    }
    n
}

#[cfg(target_os = "none")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {}
}
"#;

pub(crate) fn undefined_symbols(c: &Value) -> Vec<String> {
    let mut v: Vec<String> = c["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "undefined-symbol")
        .map(|f| f["symbol"].as_str().unwrap().to_owned())
        .collect();
    v.sort();
    v
}

/// A crate with `default = ["a", "b"]`: the `a=false` cells once built with
/// `a` on (no --no-default-features), so the cell id said one thing and the
/// build did another. Now a cell builds with exactly its features: `a`
/// follows its option, `b` (no option controls it) stays a default unless
/// the matrix says `default-features: false`; `init` writes the key.
#[test]
fn default_features_follow_the_options_and_the_cell_features() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "Cargo.toml",
        "[package]\nname = \"defaults\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[features]\ndefault = [\"a\", \"b\"]\na = []\nb = []\n",
    );
    write(d.path(), "src/lib.rs", DEFAULTS_LIB);
    let o = linkmatrix(d.path())
        .args(["init", "--target", "x86"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let init = std::fs::read_to_string(d.path().join("linkmatrix.yaml")).unwrap();
    assert!(init.contains("default-features: true"), "{init}");
    assert!(init.contains("a default feature"), "{init}");

    // Only `a` is an option; `b` is a default no option controls.
    let matrix =
        "crate: .\ntargets: [x86]\noptions:\n  a: {feature: a}\naxes:\n  a: [false, true]\n";
    write(d.path(), "linkmatrix.yaml", matrix);
    let o = linkmatrix(d.path())
        .args(["check", "--no-provision", "--format", "json", "-v"])
        .output()
        .unwrap();
    let err = stderr(&o);
    let r: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {err}"));
    assert!(err.contains("--no-default-features"), "{err}");
    let off = cell(&r, "x86-no-a-release");
    assert_eq!(off["features"], serde_json::json!(["b"]), "{off:#}");
    assert_eq!(undefined_symbols(off), ["b_hook"], "{off:#}");
    let on = cell(&r, "x86-a-release");
    assert_eq!(on["features"], serde_json::json!(["a", "b"]), "{on:#}");
    assert_eq!(undefined_symbols(on), ["a_hook", "b_hook"], "{on:#}");

    // default-features: false leaves `b` off too.
    write(
        d.path(),
        "linkmatrix.yaml",
        &format!("default-features: false\n{matrix}"),
    );
    let (_, r, err) = check_json(d.path(), &[]);
    let off = cell(&r, "x86-no-a-release");
    assert_eq!(off["features"], serde_json::json!([]), "{err}\n{off:#}");
    assert_eq!(off["status"], "pass", "{off:#}");
    assert_eq!(undefined_symbols(cell(&r, "x86-a-release")), ["a_hook"]);
}

const MEMBER_LIB: &str = r#"#![no_std]
extern "C" {
    fn NAME_hook();
}

#[no_mangle]
pub extern "C" fn NAME_entry() {
    unsafe { NAME_hook() }
}

#[cfg(target_os = "none")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {}
}
"#;

/// A virtual workspace (no git): `--manifest-path member/Cargo.toml` once
/// failed with "not a package manifest" for every member, and `init` at
/// the root with "no package in this manifest". Now the member whose
/// manifest it is gets built, `init` names the members and takes
/// `--package`, and paths are relative to the workspace root.
#[test]
fn workspace_members_are_checked_by_manifest_path_and_init_offers_them() {
    let d = tempfile::tempdir().unwrap();
    let ws = d.path();
    write(
        ws,
        "Cargo.toml",
        "[workspace]\nmembers = [\"crates/first\", \"crates/second\"]\nresolver = \"2\"\n",
    );
    for name in ["first", "second"] {
        write(
            ws,
            &format!("crates/{name}/Cargo.toml"),
            &format!("[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n"),
        );
        write(
            ws,
            &format!("crates/{name}/src/lib.rs"),
            &MEMBER_LIB.replace("NAME", name),
        );
    }

    // At the virtual root, init says which members there are.
    let o = linkmatrix(ws)
        .args(["init", "--target", "x86"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("virtual workspace"), "{err}");
    assert!(
        err.contains("first (crates/first)") && err.contains("second (crates/second)"),
        "{err}"
    );
    assert!(err.contains("--package"), "{err}");

    let o = linkmatrix(ws)
        .args(["init", "--target", "x86", "--package", "first"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let init = std::fs::read_to_string(ws.join("linkmatrix.yaml")).unwrap();
    assert!(init.contains("crate: crates/first"), "{init}");

    let (_, r, err) = check_json(ws, &[]);
    let c = &r["cells"][0];
    assert_eq!(undefined_symbols(c), ["first_hook"], "{err}\n{c:#}");
    let at = &c["findings"][0]["referenced_by"][0];
    assert_eq!(at["file"], "crates/first/src/lib.rs", "{c:#}");

    // --manifest-path names a member: that member is built, and the
    // reproduce command says so.
    let (_, r, err) = check_json(ws, &["--manifest-path", "crates/second/Cargo.toml"]);
    let c = &r["cells"][0];
    assert_eq!(undefined_symbols(c), ["second_hook"], "{err}\n{c:#}");
    let reproduce = c["reproduce"].as_str().unwrap();
    assert!(
        reproduce.contains("--manifest-path crates/second/Cargo.toml"),
        "{reproduce}"
    );

    // The root manifest is not a package.
    let o = linkmatrix(ws)
        .args(["plan", "--manifest-path", "Cargo.toml"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("virtual workspace"), "{}", stderr(&o));
}

const ENV_LIB: &str = r#"#![no_std]
mod linked;

#[cfg(backend_ext)]
extern "C" {
    fn ext_backend_init() -> u32;
}

#[no_mangle]
pub extern "C" fn entry() -> u32 {
    #[cfg(backend_ext)]
    let n = unsafe { ext_backend_init() };
    #[cfg(not(backend_ext))]
    let n = 1;
    n + linked::extra()
}

#[cfg(target_os = "none")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {}
}
"#;

const ENV_BUILD: &str = r#"fn main() {
    println!("cargo:rerun-if-env-changed=DEMO_BACKEND");
    println!("cargo::rustc-check-cfg=cfg(backend_ext)");
    if std::env::var("DEMO_BACKEND").as_deref() == Ok("ext") {
        println!("cargo:rustc-cfg=backend_ext");
    }
}
"#;

const SETTINGS_LIB: &str = r#"#![no_std]
extern "C" {
    fn ext_backend_init() -> u32;
    fn custom_rng_fill() -> u32;
    fn assert_hook() -> u32;
    fn extra_hook() -> u32;
}

#[no_mangle]
pub extern "C" fn entry() -> u32 {
    let mut n = 1;
    if cfg!(backend_ext) {
        n += unsafe { ext_backend_init() };
    }
    if cfg!(rng_backend = "custom") {
        n += unsafe { custom_rng_fill() };
    }
    if cfg!(debug_assertions) {
        n += unsafe { assert_hook() };
    }
    if cfg!(extra) {
        n += unsafe { extra_hook() };
    }
    n
}

#[cfg(target_os = "none")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {}
}
"#;

const SETTINGS_BUILD: &str = r#"fn main() {
    println!("cargo:rerun-if-env-changed=DEMO_BACKEND");
    println!("cargo:rerun-if-env-changed=DEMO_EXTRA");
    println!("cargo::rustc-check-cfg=cfg(backend_ext)");
    println!("cargo::rustc-check-cfg=cfg(extra)");
    println!("cargo::rustc-check-cfg=cfg(rng_backend, values(\"custom\"))");
    if std::env::var("DEMO_BACKEND").as_deref() == Ok("ext") {
        println!("cargo:rustc-cfg=backend_ext");
    }
    if std::env::var("DEMO_EXTRA").as_deref() == Ok("on") {
        println!("cargo:rustc-cfg=extra");
    }
}
"#;

/// Options set more than features: per value, the build's environment (a
/// build script reads it), `--cfg`s, rustc flags and cargo arguments. Each
/// cell's build gets exactly its values' settings; `-v` shows them on the
/// cargo command, the report lists them, and a changed setting is a
/// cache miss.
#[test]
fn option_values_set_env_cfg_rustflags_and_cargo_args() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "Cargo.toml",
        "[package]\nname = \"settings\"\nversion = \"0.1.0\"\nedition = \"2021\"\nbuild = \"build.rs\"\n",
    );
    write(d.path(), "build.rs", SETTINGS_BUILD);
    write(d.path(), "src/lib.rs", SETTINGS_LIB);
    let matrix = |extra: &str| {
        format!(
            r#"crate: .
targets: [x86]
options:
  backend:
    type: choice
    values: [builtin, ext]
    when:
      ext: {{env: {{DEMO_BACKEND: {extra}}}}}
  rng:
    when:
      true:
        cfg: ['rng_backend="custom"']
        rustflags: [-Cdebug-assertions=on]
        cargo-args: [--config, 'env.DEMO_EXTRA="on"']
axes:
  backend: [builtin, ext]
  rng: [false, true]
"#
        )
    };
    write(d.path(), "linkmatrix.yaml", &matrix("ext"));
    let o = linkmatrix(d.path())
        .args(["check", "--no-provision", "--format", "json", "-v"])
        .env_remove("DEMO_BACKEND")
        .env_remove("DEMO_EXTRA")
        .output()
        .unwrap();
    let err = stderr(&o);
    let r: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {err}"));
    assert_eq!(
        undefined_symbols(cell(&r, "x86-builtin-no-rng-release")),
        Vec::<String>::new(),
        "{err}"
    );
    assert_eq!(
        undefined_symbols(cell(&r, "x86-ext-no-rng-release")),
        ["ext_backend_init"],
        "{err}"
    );
    assert_eq!(
        undefined_symbols(cell(&r, "x86-builtin-rng-release")),
        ["assert_hook", "custom_rng_fill", "extra_hook"],
        "{err}"
    );
    let both = cell(&r, "x86-ext-rng-release");
    assert_eq!(
        undefined_symbols(both),
        [
            "assert_hook",
            "custom_rng_fill",
            "ext_backend_init",
            "extra_hook"
        ],
        "{err}"
    );
    // The report says what each cell was built with.
    assert_eq!(
        both["env"],
        serde_json::json!({"DEMO_BACKEND": "ext"}),
        "{both:#}"
    );
    assert_eq!(
        both["rustflags"],
        serde_json::json!(["-Cdebug-assertions=on", "--cfg", "rng_backend=\"custom\""]),
        "{both:#}"
    );
    assert_eq!(
        both["cargo_args"],
        serde_json::json!(["--config", "env.DEMO_EXTRA=\"on\""])
    );
    // -v shows the variable on the command that builds the cell.
    assert!(
        err.lines()
            .any(|l| l.contains("DEMO_BACKEND=ext") && l.contains("cargo")),
        "{err}"
    );

    // A setting changes: that cell misses the cache and gets the new answer.
    write(d.path(), "linkmatrix.yaml", &matrix("builtin"));
    let (_, r, err) = check_json(d.path(), &[]);
    let c = cell(&r, "x86-ext-no-rng-release");
    assert_eq!(c["cached"], false, "{err}");
    assert_eq!(undefined_symbols(c), Vec::<String>::new(), "{c:#}");
}

const ORIGIN0_LIB: &str = r#"#![no_std]
extern "C" {
    fn board_write(p: *const u8, n: usize);
    fn board_tick() -> u32;
}

#[no_mangle]
pub extern "C" fn app_main() -> u32 {
    let s = b"hello";
    unsafe { board_write(s.as_ptr(), s.len()) };
    unsafe { board_tick() + helper::checksum(s) }
}

#[cfg(target_os = "none")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {}
}
"#;

const ORIGIN0_HELPER: &str = r#"#![no_std]
extern "C" {
    fn board_crc(h: u32) -> u32;
}

#[inline(never)]
pub fn checksum(v: &[u8]) -> u32 {
    let h = v.iter().fold(7u32, |h, b| h.rotate_left(5) ^ u32::from(*b));
    unsafe { board_crc(h) }
}

/// Never called either: core's float formatting, removed with it.
pub fn render(out: &mut dyn core::fmt::Write, x: f64, y: u128) -> core::fmt::Result {
    write!(out, "{x} {y} {x:e}")
}

/// Never called: removed by --gc-sections, but large, in the same object
/// as `checksum`, and its debug info stays.
pub fn big(x: u32) -> u32 {
    match x {
ARMS
        _ => 0,
    }
}
"#;

/// `ORIGIN0_HELPER` with 300 match arms that cannot become a table: a
/// function of several KiB.
fn origin0_helper() -> String {
    let arms: Vec<String> = (0..300u32)
        .map(|n| {
            format!(
                "        {n} => core::hint::black_box(x.wrapping_mul({})).rotate_left({}) ^ core::hint::black_box({}u32),",
                n * 7 + 3,
                n % 31,
                n * 13 + 1
            )
        })
        .collect();
    ORIGIN0_HELPER.replace("ARMS", &arms.join("\n"))
}

/// An image linked at address 0 (every Cortex-M flash image): the debug
/// info of functions `--gc-sections` removed also says address 0, and
/// file:line and chains once named them (`app_main` "at
/// core/src/fmt/num.rs:563", chain `app_main -> core::unicode::… ->
/// board_tick`). Now the link tombstones them, and a location whose
/// function is not the symbol at that address is dropped, never shown.
#[test]
fn file_and_line_at_origin_zero_name_the_live_code() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "Cargo.toml",
        "[package]\nname = \"origin0\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\nhelper = { path = \"helper\" }\n\n[profile.release]\ncodegen-units = 1\n",
    );
    write(d.path(), "src/lib.rs", ORIGIN0_LIB);
    write(
        d.path(),
        "helper/Cargo.toml",
        "[package]\nname = \"helper\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    );
    write(d.path(), "helper/src/lib.rs", &origin0_helper());
    write(
        d.path(),
        "targets/flash.yaml",
        "triple: armv7a-none-eabi\ncc: {compiler: [clang]}\nlinker:\n  program: [rust-lld, ld.lld]\n  flags: [--gc-sections]\n  script: flash.ld\n  entry: app_main\n",
    );
    write(
        d.path(),
        "targets/flash.ld",
        "ENTRY(app_main)\nMEMORY { FLASH (rx) : ORIGIN = 0, LENGTH = 1M }\nSECTIONS { .text : { *(.text .text.*) } > FLASH .rodata : { *(.rodata .rodata.*) } > FLASH }\n",
    );
    write(d.path(), "linkmatrix.yaml", "crate: .\ntargets: [flash]\n");
    let (code, r, err) = check_json(d.path(), &[]);
    assert_eq!(code, 1, "{err}\n{r:#}");
    let c = &r["cells"][0];
    let finding = |sym: &str| {
        c["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["symbol"] == sym)
            .unwrap_or_else(|| panic!("no {sym}: {c:#}"))
            .clone()
    };
    let at = |f: &Value| {
        let r = &f["referenced_by"][0];
        format!(
            "{} {}:{}",
            r["function"].as_str().unwrap(),
            r["file"].as_str().unwrap_or("-"),
            r["line"]
        )
    };
    assert_eq!(
        at(&finding("board_write")),
        "app_main src/lib.rs:10",
        "{c:#}"
    );
    assert_eq!(
        at(&finding("board_tick")),
        "app_main src/lib.rs:11",
        "{c:#}"
    );
    assert_eq!(
        at(&finding("board_crc")),
        "helper::checksum helper/src/lib.rs:9",
        "{c:#}"
    );
    assert_eq!(
        finding("board_tick")["chain"],
        serde_json::json!(["app_main", "board_tick"])
    );
    assert_eq!(
        finding("board_crc")["chain"],
        serde_json::json!(["app_main", "helper::checksum", "board_crc"])
    );
    // app_main really is at 0.
    let image = d
        .path()
        .join("target/linkmatrix/linkmatrix/cells/flash-release/image-inspect.elf");
    let bytes = std::fs::read(&image).unwrap();
    let elf = goblin::elf::Elf::parse(&bytes).unwrap();
    let main = elf
        .syms
        .iter()
        .find(|s| elf.strtab.get_at(s.st_name) == Some("app_main"))
        .unwrap();
    assert_eq!(main.st_value & !1, 0);

    // The same objects linked without the tombstones (as GNU ld or a
    // firmware's own link would): no location rather than a wrong one.
    let plain = d.path().join("plain.elf");
    let cell_dir = image.parent().unwrap();
    let o = std::process::Command::new("ld.lld")
        .current_dir(cell_dir)
        .args(["-m", "armelf", "-o"])
        .arg(&plain)
        .args([
            "--gc-sections",
            "--entry=app_main",
            "--emit-relocs",
            "--undefined=app_main",
        ])
        .args([
            "-T",
            "link.ld",
            "--noinhibit-exec",
            "--unresolved-symbols=ignore-all",
        ])
        .arg("liborigin0.a")
        .output()
        .expect("ld.lld (scripts/test.sh installs lld)");
    assert!(plain.is_file(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = linkmatrix(d.path())
        .args(["inspect", "--format", "json"])
        .arg(&plain)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let undefined = v[0]["undefined"].as_array().unwrap();
    assert_eq!(undefined.len(), 3, "{v:#}");
    for u in undefined {
        let want = if u["symbol"] == "board_crc" {
            "helper/src/lib.rs"
        } else {
            "/src/lib.rs"
        };
        for r in u["referenced_by"].as_array().unwrap() {
            let file = r["file"].as_str().unwrap_or(want);
            assert!(
                file.ends_with(want) && !file.contains("library/core"),
                "{v:#}"
            );
        }
    }
}

/// defmt's build script puts `defmt.x` on the link search path
/// (`cargo:rustc-link-search`); image mode once ignored it, so a defmt
/// crate could not link its `-Tdefmt.x` (or, without it, got a false
/// `_defmt_timestamp` finding). And a target file's `-L lds` was resolved
/// against the current directory, not the target file. Now both reach the
/// link, from any directory: what stays undefined is exactly the global
/// logger a board provides.
#[test]
fn dependency_build_script_link_paths_and_target_relative_flags_reach_the_link() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "Cargo.toml",
        "[package]\nname = \"logs\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\ndefmt = \"1\"\n",
    );
    write(
        d.path(),
        "src/lib.rs",
        "#![no_std]\n#[no_mangle]\npub extern \"C\" fn app_main(x: u32) -> u32 {\n    defmt::error!(\"value {}\", x);\n    x + 1\n}\n\n#[cfg(target_os = \"none\")]\n#[panic_handler]\nfn panic(_: &core::panic::PanicInfo<'_>) -> ! {\n    loop {}\n}\n",
    );
    write(
        d.path(),
        "board/flash.yaml",
        "triple: armv7a-none-eabi\ncc: {compiler: [clang]}\nlinker:\n  program: [rust-lld, ld.lld]\n  flags: [--gc-sections, -Tdefmt.x, -L, lds, -Tboard.ld]\n  script: flash.ld\n  entry: app_main\n",
    );
    write(
        d.path(),
        "board/flash.ld",
        "ENTRY(app_main)\nMEMORY { FLASH (rx) : ORIGIN = 0x8000000, LENGTH = 1M }\nSECTIONS { .text : { *(.text .text.*) } > FLASH .rodata : { *(.rodata .rodata.*) } > FLASH }\n",
    );
    // The board's own script, found through the target file's `-L lds`.
    write(
        d.path(),
        "board/lds/board.ld",
        "PROVIDE(_defmt_acquire = app_main);\n",
    );
    write(
        d.path(),
        "linkmatrix.yaml",
        "crate: .\ntargets: [board/flash.yaml]\n",
    );
    std::fs::create_dir_all(d.path().join("elsewhere")).unwrap();
    let (code, r, err) = check_json(
        &d.path().join("elsewhere"),
        &["--config", "../linkmatrix.yaml"],
    );
    let c = &r["cells"][0];
    assert_eq!(code, 1, "{err}\n{c:#}");
    let kinds: Vec<&str> = c["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert!(!kinds.contains(&"link-error"), "{c:#}");
    assert_eq!(
        undefined_symbols(c),
        ["_defmt_release", "_defmt_write"],
        "{c:#}"
    );
}

/// A build error once carried only cargo's text, so SARIF and GitHub put
/// it on linkmatrix.yaml. Now each rustc error is its own finding at
/// rustc's primary span (here in a workspace member), and the annotation
/// lands on that line.
#[test]
fn build_errors_carry_rustcs_file_and_line() {
    let d = tempfile::tempdir().unwrap();
    let ws = d.path();
    write(
        ws,
        "Cargo.toml",
        "[workspace]\nmembers = [\"crates/bad\"]\nresolver = \"2\"\n",
    );
    write(
        ws,
        "crates/bad/Cargo.toml",
        "[package]\nname = \"bad\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    );
    write(
        ws,
        "crates/bad/src/lib.rs",
        "#![no_std]\n#[no_mangle]\npub extern \"C\" fn entry() -> u32 {\n    let x: u32 = \"four\";\n    x + missing_fn()\n}\n\n#[panic_handler]\nfn panic(_: &core::panic::PanicInfo<'_>) -> ! {\n    loop {}\n}\n",
    );
    write(ws, "linkmatrix.yaml", "crate: bad\ntargets: [x86]\n");
    let github = ws.join("gh.txt");
    let (code, r, err) = check_json(ws, &["--report", &format!("github={}", github.display())]);
    assert_eq!(code, 1, "{err}");
    let c = &r["cells"][0];
    let errors: Vec<&Value> = c["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "build-error")
        .collect();
    let mut places: Vec<String> = errors
        .iter()
        .map(|f| {
            format!(
                "{}:{}",
                f["at"]["file"].as_str().unwrap_or("-"),
                f["at"]["line"]
            )
        })
        .collect();
    places.sort();
    assert_eq!(
        places,
        ["crates/bad/src/lib.rs:4", "crates/bad/src/lib.rs:5"],
        "{c:#}"
    );
    assert!(
        errors
            .iter()
            .any(|f| f["message"].as_str().unwrap().contains("E0308")),
        "{c:#}"
    );
    assert!(
        errors
            .iter()
            .all(|f| f["referenced_by"][0]["function"] == "bad"),
        "{c:#}"
    );
    let gh = std::fs::read_to_string(&github).unwrap();
    assert!(
        gh.contains("::error file=crates/bad/src/lib.rs,line=4,"),
        "{gh}"
    );
}

/// `policy.roots` once took only raw symbol names: a dependency's entry
/// point has a mangled name nobody types, and an interrupt table's name is
/// easier as a pattern. Now a demangled path, or a glob over either, names
/// the root.
#[test]
fn policy_roots_take_demangled_paths_and_globs() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "Cargo.toml",
        "[package]\nname = \"roots_demo\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\ndrivers = { path = \"drivers\" }\n",
    );
    write(
        d.path(),
        "src/lib.rs",
        "#![no_std]\nextern \"C\" {\n    fn board_irq();\n}\n\nextern \"C\" fn on_irq() {\n    unsafe { board_irq() }\n}\n\n#[no_mangle]\npub static IRQ_TABLE: [extern \"C\" fn(); 1] = [on_irq];\n\npub use drivers::start;\n\n#[cfg(target_os = \"none\")]\n#[panic_handler]\nfn panic(_: &core::panic::PanicInfo<'_>) -> ! {\n    loop {}\n}\n",
    );
    write(
        d.path(),
        "drivers/Cargo.toml",
        "[package]\nname = \"drivers\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    );
    write(
        d.path(),
        "drivers/src/lib.rs",
        "#![no_std]\nextern \"C\" {\n    fn board_start();\n}\n\n#[inline(never)]\npub fn start() {\n    unsafe { board_start() }\n}\n",
    );
    let cases = [
        (
            "[\"drivers::start\"]",
            "board_start",
            vec!["drivers::start", "board_start"],
        ),
        (
            "[\"drivers::*\"]",
            "board_start",
            vec!["drivers::start", "board_start"],
        ),
        (
            "[\"IRQ_*\"]",
            "board_irq",
            vec!["IRQ_TABLE", "roots_demo::on_irq", "board_irq"],
        ),
    ];
    for (roots, symbol, chain) in cases {
        write(
            d.path(),
            "linkmatrix.yaml",
            &format!("crate: .\ntargets: [x86]\npolicy:\n  roots: {roots}\n"),
        );
        let (code, r, err) = check_json(d.path(), &[]);
        let c = &r["cells"][0];
        assert_eq!(code, 1, "{roots}: {err}\n{c:#}");
        assert_eq!(undefined_symbols(c), [symbol], "{roots}: {c:#}");
        assert_eq!(
            c["findings"][0]["chain"],
            serde_json::json!(chain),
            "{roots}: {c:#}"
        );
    }
}

/// A bare target triple is a target: no target file, no startup code or
/// platform; the crate's roots are linked alone and what stays undefined is
/// what the crate expects its environment to provide. Cell ids start with
/// the triple's first component.
#[test]
fn bare_triples_are_targets_without_a_target_file() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "Cargo.toml",
        "[package]\nname = \"bare\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[features]\nnet = []\n",
    );
    write(
        d.path(),
        "src/lib.rs",
        "#![no_std]\nextern \"C\" {\n    fn net_send(x: u32) -> u32;\n}\n\n#[no_mangle]\npub extern \"C\" fn bare_poll(x: u32) -> u32 {\n    if cfg!(feature = \"net\") {\n        unsafe { net_send(x) }\n    } else {\n        x + 1\n    }\n}\n\n#[cfg(target_os = \"none\")]\n#[panic_handler]\nfn panic(_: &core::panic::PanicInfo<'_>) -> ! {\n    loop {}\n}\n",
    );
    write(
        d.path(),
        "linkmatrix.yaml",
        "crate: .\ntargets: [thumbv6m-none-eabi, armv7a-none-eabi, x86_64-unknown-none]\noptions:\n  net: {feature: net}\naxes:\n  net: [false, true]\n",
    );
    let (code, r, err) = check_json(d.path(), &[]);
    assert_eq!(code, 1, "{err}\n{r:#}");
    let mut bad = failing(&r);
    bad.sort();
    assert_eq!(
        bad,
        [
            "armv7a-net-release",
            "thumbv6m-net-release",
            "x86_64-net-release"
        ],
        "{r:#}"
    );
    for id in bad {
        let c = cell(&r, &id);
        assert_eq!(undefined_symbols(c), ["net_send"], "{c:#}");
        let at = &c["findings"][0]["referenced_by"][0];
        assert_eq!(
            (
                at["function"].as_str(),
                at["file"].as_str(),
                at["line"].as_u64()
            ),
            (Some("bare_poll"), Some("src/lib.rs"), Some(9)),
            "{c:#}"
        );
    }
    for id in [
        "armv7a-no-net-release",
        "thumbv6m-no-net-release",
        "x86_64-no-net-release",
    ] {
        assert_eq!(cell(&r, id)["status"], "pass", "{r:#}");
    }
    assert!(!d.path().join("targets").exists());
}

/// Cells of one arch and profile share one cargo build directory
/// (dependencies and build scripts built once), yet each cell gets its own
/// artifact and findings; a cell killed mid-build leaves nothing the next
/// run trusts.
#[test]
fn cells_share_a_build_directory_and_keep_their_own_artifacts() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "Cargo.toml",
        "[package]\nname = \"shared\"\nversion = \"0.1.0\"\nedition = \"2021\"\nbuild = \"build.rs\"\n\n[dependencies]\nbitflags = \"2\"\n\n[features]\nnet = []\n",
    );
    write(
        d.path(),
        "build.rs",
        "fn main() {\n    println!(\"cargo:rerun-if-env-changed=SLOW_BUILD\");\n    if std::env::var_os(\"SLOW_BUILD\").is_some() {\n        std::thread::sleep(std::time::Duration::from_secs(120));\n    }\n}\n",
    );
    write(
        d.path(),
        "src/lib.rs",
        "#![no_std]\nextern \"C\" {\n    fn net_send(x: u32) -> u32;\n}\nbitflags::bitflags! {\n    pub struct F: u32 { const A = 1; }\n}\n#[no_mangle]\npub extern \"C\" fn shared_poll(x: u32) -> u32 {\n    if cfg!(feature = \"net\") {\n        unsafe { net_send(x) }\n    } else {\n        F::A.bits() + x\n    }\n}\n#[cfg(target_os = \"none\")]\n#[panic_handler]\nfn panic(_: &core::panic::PanicInfo<'_>) -> ! {\n    loop {}\n}\n",
    );
    write(
        d.path(),
        "linkmatrix.yaml",
        "crate: .\ntargets: [x86_64-unknown-none]\noptions:\n  net: {feature: net}\naxes:\n  net: [false, true]\n",
    );
    // Killed mid-build (the build script sleeps past the cell timeout).
    let o = linkmatrix(d.path())
        .args([
            "check",
            "--no-provision",
            "--format",
            "json",
            "--timeout",
            "5",
        ])
        .env("SLOW_BUILD", "1")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    // The next run is right.
    let (code, r, err) = check_json(d.path(), &[]);
    assert_eq!(code, 1, "{err}\n{r:#}");
    assert_eq!(
        undefined_symbols(cell(&r, "x86_64-net-release")),
        ["net_send"]
    );
    assert_eq!(cell(&r, "x86_64-no-net-release")["status"], "pass");
    let work = d.path().join("target/linkmatrix/linkmatrix");
    let dirs: Vec<_> = std::fs::read_dir(work.join("build")).unwrap().collect();
    assert_eq!(dirs.len(), 1, "one shared build directory");
    // Each cell links its own copy of the staticlib.
    let lib = |id: &str| std::fs::read(work.join("cells").join(id).join("libshared.a")).unwrap();
    let undefined = |b: &[u8]| crate::oracle::goblin_undefined(b).unwrap();
    assert!(undefined(&lib("x86_64-net-release")).contains("net_send"));
    assert!(!undefined(&lib("x86_64-no-net-release")).contains("net_send"));
    // The directory's last build was the `net` one; a cell cargo finds
    // fresh still gets its own feature set's staticlib, not the last one.
    let (code, r, err) = check_json(d.path(), &["--no-cache", "--cell", "x86_64-no-net-release"]);
    assert_eq!(
        (code, cell(&r, "x86_64-no-net-release")["status"].as_str()),
        (0, Some("pass")),
        "{err}\n{r:#}"
    );
}

/// A cached pass once survived a change that breaks the real build (and a
/// cached failure one that fixes it): the key now covers the environment
/// (variables build scripts declare with rerun-if-env-changed, and those
/// cargo, rustc and C compilers read), `.cargo/config.toml` and symlinked
/// sources.
#[test]
fn the_cache_follows_the_environment_cargo_config_and_symlinked_sources() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "Cargo.toml",
        "[package]\nname = \"envdemo\"\nversion = \"0.1.0\"\nedition = \"2021\"\nbuild = \"build.rs\"\n",
    );
    write(d.path(), "build.rs", ENV_BUILD);
    write(d.path(), "src/lib.rs", ENV_LIB);
    let shared = write(
        d.path(),
        "shared/linked.rs",
        "pub fn extra() -> u32 { 2 }\n",
    );
    std::os::unix::fs::symlink(&shared, d.path().join("src/linked.rs")).unwrap();
    write(d.path(), "linkmatrix.yaml", "crate: .\ntargets: [x86]\n");
    let id = "x86-release";
    let check = |env: Option<&str>| -> Value {
        let mut c = linkmatrix(d.path());
        c.args(["check", "--no-provision", "--format", "json"])
            .env_remove("DEMO_BACKEND");
        if let Some(v) = env {
            c.env("DEMO_BACKEND", v);
        }
        let o = c.output().unwrap();
        let r: Value =
            serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&o)));
        cell(&r, id).clone()
    };
    let undefined = |c: &Value| -> Vec<String> {
        c["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|f| f["symbol"].as_str().map(str::to_owned))
            .collect()
    };
    let c = check(None);
    assert_eq!(
        (c["status"].as_str(), c["cached"].as_bool()),
        (Some("pass"), Some(false)),
        "{c:#}"
    );
    assert_eq!(check(None)["cached"], true);
    // A variable the build script declares: a miss, and the real answer.
    let c = check(Some("ext"));
    assert_eq!(c["cached"], false, "{c:#}");
    assert_eq!(undefined(&c), ["ext_backend_init"], "{c:#}");
    assert_eq!(check(Some("ext"))["cached"], true);
    // And back: the cached failure does not outlive the variable.
    let c = check(None);
    assert_eq!(
        (c["status"].as_str(), c["cached"].as_bool()),
        (Some("pass"), Some(false)),
        "{c:#}"
    );
    // .cargo/config.toml sets it for the build: a miss.
    write(
        d.path(),
        ".cargo/config.toml",
        "[env]\nDEMO_BACKEND = \"ext\"\n",
    );
    let c = check(None);
    assert_eq!(c["cached"], false, "{c:#}");
    assert_eq!(undefined(&c), ["ext_backend_init"], "{c:#}");
    std::fs::remove_file(d.path().join(".cargo/config.toml")).unwrap();
    assert_eq!(check(None)["status"], "pass");
    // A symlinked source changes: a miss, and the new reference is found.
    write(
        d.path(),
        "shared/linked.rs",
        "extern \"C\" { fn linked_hook() -> u32; }\npub fn extra() -> u32 { unsafe { linked_hook() } }\n",
    );
    let c = check(None);
    assert_eq!(c["cached"], false, "{c:#}");
    assert_eq!(undefined(&c), ["linked_hook"], "{c:#}");
}

/// `check` on a copy of the default matrix's two UP+MMU cells with the
/// debug-build test hook `LINKMATRIX_TEST_PANIC` set to `hook`.
fn check_with_panic(hook: &str) -> (i32, Value, String) {
    let d = project_copy();
    let o = linkmatrix(d.path())
        .args(["check", "--no-provision", "--format", "json"])
        .args([
            "--cell",
            "arm-up-mmu-release",
            "--cell",
            "x86-up-mmu-release",
        ])
        .env("LINKMATRIX_TEST_PANIC", hook)
        .output()
        .unwrap();
    let err = stderr(&o);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {err}"));
    (o.status.code().unwrap_or(-1), v, err)
}

#[test]
fn a_target_whose_preparation_panics_is_an_error_cell_naming_the_panic() {
    // The hook is read in debug builds only (the tests' own profile).
    if !cfg!(debug_assertions) {
        return;
    }
    let (code, r, err) = check_with_panic("prepare:x86");
    assert_eq!(code, 2, "{err}\n{r:#}");
    let x86 = cell(&r, "x86-up-mmu-release");
    assert_eq!(x86["status"], "error", "{r:#}");
    assert_eq!(x86["error_kind"], "internal");
    let e = x86["error"].as_str().unwrap();
    assert!(
        e.contains("x86-up-mmu-release")
            && e.contains("preparing target `x86` panicked")
            && e.contains("test panic (prepare x86)"),
        "{e}"
    );
    assert_eq!(
        cell(&r, "arm-up-mmu-release")["status"],
        "pass",
        "the other target's cell still runs: {r:#}"
    );
    assert_eq!(r["summary"]["error"], 1);
}

#[test]
fn a_cell_that_panics_is_an_error_cell_naming_the_panic() {
    if !cfg!(debug_assertions) {
        return;
    }
    let (code, r, err) = check_with_panic("cell:arm-up-mmu-release");
    assert_eq!(code, 2, "{err}\n{r:#}");
    let arm = cell(&r, "arm-up-mmu-release");
    assert_eq!(arm["status"], "error", "{r:#}");
    assert_eq!(arm["error_kind"], "internal");
    let e = arm["error"].as_str().unwrap();
    assert!(
        e.contains("cell `arm-up-mmu-release`")
            && e.contains("test panic (cell arm-up-mmu-release)"),
        "{e}"
    );
    assert!(
        arm["reproduce"]
            .as_str()
            .unwrap()
            .ends_with("--cell arm-up-mmu-release"),
        "{arm:#}"
    );
    assert_eq!(
        cell(&r, "x86-up-mmu-release")["status"],
        "pass",
        "the other cell still runs: {r:#}"
    );
}

/// A `--cell` that selects no cell (a typo in a CI job's id) is exit 2
/// naming it and the closest id, never a run of zero cells that passes.
#[test]
fn a_cell_id_that_selects_nothing_is_an_error_not_a_green_run() {
    let d = crate::util::project();
    write(
        d.path(),
        "linkmatrix.yaml",
        "crate: .\ntargets: [x86_64-unknown-none]\noptions:\n  fast: {feature: fast}\naxes:\n  fast: [false, true]\n",
    );
    for id in ["x86_64-fsat-release", "arm-*"] {
        let o = linkmatrix(d.path())
            .args(["check", "--no-provision", "--cell", id])
            .output()
            .unwrap();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{id}: {err}");
        assert!(
            err.contains(&format!("--cell `{id}` selects no cell")),
            "{err}"
        );
    }
    let o = linkmatrix(d.path())
        .args(["check", "--no-provision", "--cell", "x86_64-fsat-release"])
        .output()
        .unwrap();
    assert!(
        stderr(&o).contains("did you mean `x86_64-fast-release`?"),
        "{}",
        stderr(&o)
    );
}

/// An option whose `feature:` the package lacks (a typo) makes its cells
/// `error` cells saying so, exit 2: the matrix's mistake, never the
/// crate's `fail`.
#[test]
fn a_feature_the_package_lacks_is_an_error_not_a_fail() {
    let d = crate::util::project();
    write(
        d.path(),
        "linkmatrix.yaml",
        "crate: .\ntargets: [x86_64-unknown-none]\noptions:\n  fast: {feature: fsat}\naxes:\n  fast: [true]\n",
    );
    let (code, r, err) = check_json(d.path(), &[]);
    assert_eq!(code, 2, "{err}\n{r:#}");
    let c = &r["cells"][0];
    assert_eq!(c["status"], "error", "{c:#}");
    assert!(
        c["error"]
            .as_str()
            .unwrap()
            .contains("asks for a feature the package does not have"),
        "{c:#}"
    );
}

/// A `no_std` library without a panic handler (most libraries: the final
/// binary brings one) fails every cell with rustc's error, and the
/// finding says what to add.
#[test]
fn a_library_without_a_panic_handler_is_told_what_to_add() {
    let d = crate::util::project();
    write(
        d.path(),
        "linkmatrix.yaml",
        "crate: .\ntargets: [x86_64-unknown-none]\n",
    );
    let (code, r, err) = check_json(d.path(), &[]);
    assert_eq!(code, 1, "{err}\n{r:#}");
    let f = &r["cells"][0]["findings"][0];
    assert_eq!(f["kind"], "build-error", "{f:#}");
    let msg = f["message"].as_str().unwrap();
    assert!(msg.contains("#[panic_handler]` function required"), "{msg}");
    assert!(msg.contains("help (linkmatrix)"), "{msg}");
}

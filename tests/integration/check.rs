//! `check` with the real toolchain: the default matrix passes, the two
//! historical matrices fail exactly where the kernel did, the cache serves
//! unchanged cells and rebuilds only what a change touches, and a crate
//! outside this repository works with the bundled targets.
use std::path::Path;

use serde_json::Value;

use crate::util::{linkmatrix, project_copy, repo, stderr, write};

fn check_json(cwd: &Path, args: &[&str]) -> (i32, Value, String) {
    let o = linkmatrix(cwd)
        .args(["check", "--no-provision", "--format", "json"])
        .args(args)
        .output()
        .unwrap();
    let err = stderr(&o);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {err}"));
    (o.status.code().unwrap_or(-1), v, err)
}

fn cell<'a>(r: &'a Value, id: &str) -> &'a Value {
    r["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no cell {id}"))
}

fn failing(r: &Value) -> Vec<String> {
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
    let chain: Vec<&str> = f["chain"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
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
    assert_eq!(
        bad,
        ["arm-telemetry-release", "x86-telemetry-release"],
        "{r:#}"
    );
    for id in ["arm-telemetry-release", "x86-telemetry-release"] {
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
        "triple: armv7a-none-eabi\ncc: {compiler: [no-such-cc-xyz]}\nlinker: {program: [ld.lld]}\ntoolchain: {apt: [clang-99]}\n",
    );
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

fn undefined_symbols(c: &Value) -> Vec<String> {
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

fn origin0_helper() -> String {
    format!(
        r#"#![no_std]
extern "C" {{
    fn board_crc(h: u32) -> u32;
}}

#[inline(never)]
pub fn checksum(v: &[u8]) -> u32 {{
    let h = v.iter().fold(7u32, |h, b| h.rotate_left(5) ^ u32::from(*b));
    unsafe {{ board_crc(h) }}
}}

/// Never called either: core's float formatting, removed with it.
pub fn render(out: &mut dyn core::fmt::Write, x: f64, y: u128) -> core::fmt::Result {{
    write!(out, "{{x}} {{y}} {{x:e}}")
}}

/// Never called: removed by --gc-sections, but large, in the same object
/// as `checksum`, and its debug info stays.
pub fn big(x: u32) -> u32 {{
    match x {{
        0 => core::hint::black_box(x.wrapping_mul(3)).rotate_left(0) ^ core::hint::black_box(1u32),
        1 => core::hint::black_box(x.wrapping_mul(10)).rotate_left(1) ^ core::hint::black_box(14u32),
        2 => core::hint::black_box(x.wrapping_mul(17)).rotate_left(2) ^ core::hint::black_box(27u32),
        3 => core::hint::black_box(x.wrapping_mul(24)).rotate_left(3) ^ core::hint::black_box(40u32),
        4 => core::hint::black_box(x.wrapping_mul(31)).rotate_left(4) ^ core::hint::black_box(53u32),
        5 => core::hint::black_box(x.wrapping_mul(38)).rotate_left(5) ^ core::hint::black_box(66u32),
        6 => core::hint::black_box(x.wrapping_mul(45)).rotate_left(6) ^ core::hint::black_box(79u32),
        7 => core::hint::black_box(x.wrapping_mul(52)).rotate_left(7) ^ core::hint::black_box(92u32),
        8 => core::hint::black_box(x.wrapping_mul(59)).rotate_left(8) ^ core::hint::black_box(105u32),
        9 => core::hint::black_box(x.wrapping_mul(66)).rotate_left(9) ^ core::hint::black_box(118u32),
        10 => core::hint::black_box(x.wrapping_mul(73)).rotate_left(10) ^ core::hint::black_box(131u32),
        11 => core::hint::black_box(x.wrapping_mul(80)).rotate_left(11) ^ core::hint::black_box(144u32),
        12 => core::hint::black_box(x.wrapping_mul(87)).rotate_left(12) ^ core::hint::black_box(157u32),
        13 => core::hint::black_box(x.wrapping_mul(94)).rotate_left(13) ^ core::hint::black_box(170u32),
        14 => core::hint::black_box(x.wrapping_mul(101)).rotate_left(14) ^ core::hint::black_box(183u32),
        15 => core::hint::black_box(x.wrapping_mul(108)).rotate_left(15) ^ core::hint::black_box(196u32),
        16 => core::hint::black_box(x.wrapping_mul(115)).rotate_left(16) ^ core::hint::black_box(209u32),
        17 => core::hint::black_box(x.wrapping_mul(122)).rotate_left(17) ^ core::hint::black_box(222u32),
        18 => core::hint::black_box(x.wrapping_mul(129)).rotate_left(18) ^ core::hint::black_box(235u32),
        19 => core::hint::black_box(x.wrapping_mul(136)).rotate_left(19) ^ core::hint::black_box(248u32),
        20 => core::hint::black_box(x.wrapping_mul(143)).rotate_left(20) ^ core::hint::black_box(261u32),
        21 => core::hint::black_box(x.wrapping_mul(150)).rotate_left(21) ^ core::hint::black_box(274u32),
        22 => core::hint::black_box(x.wrapping_mul(157)).rotate_left(22) ^ core::hint::black_box(287u32),
        23 => core::hint::black_box(x.wrapping_mul(164)).rotate_left(23) ^ core::hint::black_box(300u32),
        24 => core::hint::black_box(x.wrapping_mul(171)).rotate_left(24) ^ core::hint::black_box(313u32),
        25 => core::hint::black_box(x.wrapping_mul(178)).rotate_left(25) ^ core::hint::black_box(326u32),
        26 => core::hint::black_box(x.wrapping_mul(185)).rotate_left(26) ^ core::hint::black_box(339u32),
        27 => core::hint::black_box(x.wrapping_mul(192)).rotate_left(27) ^ core::hint::black_box(352u32),
        28 => core::hint::black_box(x.wrapping_mul(199)).rotate_left(28) ^ core::hint::black_box(365u32),
        29 => core::hint::black_box(x.wrapping_mul(206)).rotate_left(29) ^ core::hint::black_box(378u32),
        30 => core::hint::black_box(x.wrapping_mul(213)).rotate_left(30) ^ core::hint::black_box(391u32),
        31 => core::hint::black_box(x.wrapping_mul(220)).rotate_left(0) ^ core::hint::black_box(404u32),
        32 => core::hint::black_box(x.wrapping_mul(227)).rotate_left(1) ^ core::hint::black_box(417u32),
        33 => core::hint::black_box(x.wrapping_mul(234)).rotate_left(2) ^ core::hint::black_box(430u32),
        34 => core::hint::black_box(x.wrapping_mul(241)).rotate_left(3) ^ core::hint::black_box(443u32),
        35 => core::hint::black_box(x.wrapping_mul(248)).rotate_left(4) ^ core::hint::black_box(456u32),
        36 => core::hint::black_box(x.wrapping_mul(255)).rotate_left(5) ^ core::hint::black_box(469u32),
        37 => core::hint::black_box(x.wrapping_mul(262)).rotate_left(6) ^ core::hint::black_box(482u32),
        38 => core::hint::black_box(x.wrapping_mul(269)).rotate_left(7) ^ core::hint::black_box(495u32),
        39 => core::hint::black_box(x.wrapping_mul(276)).rotate_left(8) ^ core::hint::black_box(508u32),
        40 => core::hint::black_box(x.wrapping_mul(283)).rotate_left(9) ^ core::hint::black_box(521u32),
        41 => core::hint::black_box(x.wrapping_mul(290)).rotate_left(10) ^ core::hint::black_box(534u32),
        42 => core::hint::black_box(x.wrapping_mul(297)).rotate_left(11) ^ core::hint::black_box(547u32),
        43 => core::hint::black_box(x.wrapping_mul(304)).rotate_left(12) ^ core::hint::black_box(560u32),
        44 => core::hint::black_box(x.wrapping_mul(311)).rotate_left(13) ^ core::hint::black_box(573u32),
        45 => core::hint::black_box(x.wrapping_mul(318)).rotate_left(14) ^ core::hint::black_box(586u32),
        46 => core::hint::black_box(x.wrapping_mul(325)).rotate_left(15) ^ core::hint::black_box(599u32),
        47 => core::hint::black_box(x.wrapping_mul(332)).rotate_left(16) ^ core::hint::black_box(612u32),
        48 => core::hint::black_box(x.wrapping_mul(339)).rotate_left(17) ^ core::hint::black_box(625u32),
        49 => core::hint::black_box(x.wrapping_mul(346)).rotate_left(18) ^ core::hint::black_box(638u32),
        50 => core::hint::black_box(x.wrapping_mul(353)).rotate_left(19) ^ core::hint::black_box(651u32),
        51 => core::hint::black_box(x.wrapping_mul(360)).rotate_left(20) ^ core::hint::black_box(664u32),
        52 => core::hint::black_box(x.wrapping_mul(367)).rotate_left(21) ^ core::hint::black_box(677u32),
        53 => core::hint::black_box(x.wrapping_mul(374)).rotate_left(22) ^ core::hint::black_box(690u32),
        54 => core::hint::black_box(x.wrapping_mul(381)).rotate_left(23) ^ core::hint::black_box(703u32),
        55 => core::hint::black_box(x.wrapping_mul(388)).rotate_left(24) ^ core::hint::black_box(716u32),
        56 => core::hint::black_box(x.wrapping_mul(395)).rotate_left(25) ^ core::hint::black_box(729u32),
        57 => core::hint::black_box(x.wrapping_mul(402)).rotate_left(26) ^ core::hint::black_box(742u32),
        58 => core::hint::black_box(x.wrapping_mul(409)).rotate_left(27) ^ core::hint::black_box(755u32),
        59 => core::hint::black_box(x.wrapping_mul(416)).rotate_left(28) ^ core::hint::black_box(768u32),
        60 => core::hint::black_box(x.wrapping_mul(423)).rotate_left(29) ^ core::hint::black_box(781u32),
        61 => core::hint::black_box(x.wrapping_mul(430)).rotate_left(30) ^ core::hint::black_box(794u32),
        62 => core::hint::black_box(x.wrapping_mul(437)).rotate_left(0) ^ core::hint::black_box(807u32),
        63 => core::hint::black_box(x.wrapping_mul(444)).rotate_left(1) ^ core::hint::black_box(820u32),
        64 => core::hint::black_box(x.wrapping_mul(451)).rotate_left(2) ^ core::hint::black_box(833u32),
        65 => core::hint::black_box(x.wrapping_mul(458)).rotate_left(3) ^ core::hint::black_box(846u32),
        66 => core::hint::black_box(x.wrapping_mul(465)).rotate_left(4) ^ core::hint::black_box(859u32),
        67 => core::hint::black_box(x.wrapping_mul(472)).rotate_left(5) ^ core::hint::black_box(872u32),
        68 => core::hint::black_box(x.wrapping_mul(479)).rotate_left(6) ^ core::hint::black_box(885u32),
        69 => core::hint::black_box(x.wrapping_mul(486)).rotate_left(7) ^ core::hint::black_box(898u32),
        70 => core::hint::black_box(x.wrapping_mul(493)).rotate_left(8) ^ core::hint::black_box(911u32),
        71 => core::hint::black_box(x.wrapping_mul(500)).rotate_left(9) ^ core::hint::black_box(924u32),
        72 => core::hint::black_box(x.wrapping_mul(507)).rotate_left(10) ^ core::hint::black_box(937u32),
        73 => core::hint::black_box(x.wrapping_mul(514)).rotate_left(11) ^ core::hint::black_box(950u32),
        74 => core::hint::black_box(x.wrapping_mul(521)).rotate_left(12) ^ core::hint::black_box(963u32),
        75 => core::hint::black_box(x.wrapping_mul(528)).rotate_left(13) ^ core::hint::black_box(976u32),
        76 => core::hint::black_box(x.wrapping_mul(535)).rotate_left(14) ^ core::hint::black_box(989u32),
        77 => core::hint::black_box(x.wrapping_mul(542)).rotate_left(15) ^ core::hint::black_box(1002u32),
        78 => core::hint::black_box(x.wrapping_mul(549)).rotate_left(16) ^ core::hint::black_box(1015u32),
        79 => core::hint::black_box(x.wrapping_mul(556)).rotate_left(17) ^ core::hint::black_box(1028u32),
        80 => core::hint::black_box(x.wrapping_mul(563)).rotate_left(18) ^ core::hint::black_box(1041u32),
        81 => core::hint::black_box(x.wrapping_mul(570)).rotate_left(19) ^ core::hint::black_box(1054u32),
        82 => core::hint::black_box(x.wrapping_mul(577)).rotate_left(20) ^ core::hint::black_box(1067u32),
        83 => core::hint::black_box(x.wrapping_mul(584)).rotate_left(21) ^ core::hint::black_box(1080u32),
        84 => core::hint::black_box(x.wrapping_mul(591)).rotate_left(22) ^ core::hint::black_box(1093u32),
        85 => core::hint::black_box(x.wrapping_mul(598)).rotate_left(23) ^ core::hint::black_box(1106u32),
        86 => core::hint::black_box(x.wrapping_mul(605)).rotate_left(24) ^ core::hint::black_box(1119u32),
        87 => core::hint::black_box(x.wrapping_mul(612)).rotate_left(25) ^ core::hint::black_box(1132u32),
        88 => core::hint::black_box(x.wrapping_mul(619)).rotate_left(26) ^ core::hint::black_box(1145u32),
        89 => core::hint::black_box(x.wrapping_mul(626)).rotate_left(27) ^ core::hint::black_box(1158u32),
        90 => core::hint::black_box(x.wrapping_mul(633)).rotate_left(28) ^ core::hint::black_box(1171u32),
        91 => core::hint::black_box(x.wrapping_mul(640)).rotate_left(29) ^ core::hint::black_box(1184u32),
        92 => core::hint::black_box(x.wrapping_mul(647)).rotate_left(30) ^ core::hint::black_box(1197u32),
        93 => core::hint::black_box(x.wrapping_mul(654)).rotate_left(0) ^ core::hint::black_box(1210u32),
        94 => core::hint::black_box(x.wrapping_mul(661)).rotate_left(1) ^ core::hint::black_box(1223u32),
        95 => core::hint::black_box(x.wrapping_mul(668)).rotate_left(2) ^ core::hint::black_box(1236u32),
        96 => core::hint::black_box(x.wrapping_mul(675)).rotate_left(3) ^ core::hint::black_box(1249u32),
        97 => core::hint::black_box(x.wrapping_mul(682)).rotate_left(4) ^ core::hint::black_box(1262u32),
        98 => core::hint::black_box(x.wrapping_mul(689)).rotate_left(5) ^ core::hint::black_box(1275u32),
        99 => core::hint::black_box(x.wrapping_mul(696)).rotate_left(6) ^ core::hint::black_box(1288u32),
        100 => core::hint::black_box(x.wrapping_mul(703)).rotate_left(7) ^ core::hint::black_box(1301u32),
        101 => core::hint::black_box(x.wrapping_mul(710)).rotate_left(8) ^ core::hint::black_box(1314u32),
        102 => core::hint::black_box(x.wrapping_mul(717)).rotate_left(9) ^ core::hint::black_box(1327u32),
        103 => core::hint::black_box(x.wrapping_mul(724)).rotate_left(10) ^ core::hint::black_box(1340u32),
        104 => core::hint::black_box(x.wrapping_mul(731)).rotate_left(11) ^ core::hint::black_box(1353u32),
        105 => core::hint::black_box(x.wrapping_mul(738)).rotate_left(12) ^ core::hint::black_box(1366u32),
        106 => core::hint::black_box(x.wrapping_mul(745)).rotate_left(13) ^ core::hint::black_box(1379u32),
        107 => core::hint::black_box(x.wrapping_mul(752)).rotate_left(14) ^ core::hint::black_box(1392u32),
        108 => core::hint::black_box(x.wrapping_mul(759)).rotate_left(15) ^ core::hint::black_box(1405u32),
        109 => core::hint::black_box(x.wrapping_mul(766)).rotate_left(16) ^ core::hint::black_box(1418u32),
        110 => core::hint::black_box(x.wrapping_mul(773)).rotate_left(17) ^ core::hint::black_box(1431u32),
        111 => core::hint::black_box(x.wrapping_mul(780)).rotate_left(18) ^ core::hint::black_box(1444u32),
        112 => core::hint::black_box(x.wrapping_mul(787)).rotate_left(19) ^ core::hint::black_box(1457u32),
        113 => core::hint::black_box(x.wrapping_mul(794)).rotate_left(20) ^ core::hint::black_box(1470u32),
        114 => core::hint::black_box(x.wrapping_mul(801)).rotate_left(21) ^ core::hint::black_box(1483u32),
        115 => core::hint::black_box(x.wrapping_mul(808)).rotate_left(22) ^ core::hint::black_box(1496u32),
        116 => core::hint::black_box(x.wrapping_mul(815)).rotate_left(23) ^ core::hint::black_box(1509u32),
        117 => core::hint::black_box(x.wrapping_mul(822)).rotate_left(24) ^ core::hint::black_box(1522u32),
        118 => core::hint::black_box(x.wrapping_mul(829)).rotate_left(25) ^ core::hint::black_box(1535u32),
        119 => core::hint::black_box(x.wrapping_mul(836)).rotate_left(26) ^ core::hint::black_box(1548u32),
        120 => core::hint::black_box(x.wrapping_mul(843)).rotate_left(27) ^ core::hint::black_box(1561u32),
        121 => core::hint::black_box(x.wrapping_mul(850)).rotate_left(28) ^ core::hint::black_box(1574u32),
        122 => core::hint::black_box(x.wrapping_mul(857)).rotate_left(29) ^ core::hint::black_box(1587u32),
        123 => core::hint::black_box(x.wrapping_mul(864)).rotate_left(30) ^ core::hint::black_box(1600u32),
        124 => core::hint::black_box(x.wrapping_mul(871)).rotate_left(0) ^ core::hint::black_box(1613u32),
        125 => core::hint::black_box(x.wrapping_mul(878)).rotate_left(1) ^ core::hint::black_box(1626u32),
        126 => core::hint::black_box(x.wrapping_mul(885)).rotate_left(2) ^ core::hint::black_box(1639u32),
        127 => core::hint::black_box(x.wrapping_mul(892)).rotate_left(3) ^ core::hint::black_box(1652u32),
        128 => core::hint::black_box(x.wrapping_mul(899)).rotate_left(4) ^ core::hint::black_box(1665u32),
        129 => core::hint::black_box(x.wrapping_mul(906)).rotate_left(5) ^ core::hint::black_box(1678u32),
        130 => core::hint::black_box(x.wrapping_mul(913)).rotate_left(6) ^ core::hint::black_box(1691u32),
        131 => core::hint::black_box(x.wrapping_mul(920)).rotate_left(7) ^ core::hint::black_box(1704u32),
        132 => core::hint::black_box(x.wrapping_mul(927)).rotate_left(8) ^ core::hint::black_box(1717u32),
        133 => core::hint::black_box(x.wrapping_mul(934)).rotate_left(9) ^ core::hint::black_box(1730u32),
        134 => core::hint::black_box(x.wrapping_mul(941)).rotate_left(10) ^ core::hint::black_box(1743u32),
        135 => core::hint::black_box(x.wrapping_mul(948)).rotate_left(11) ^ core::hint::black_box(1756u32),
        136 => core::hint::black_box(x.wrapping_mul(955)).rotate_left(12) ^ core::hint::black_box(1769u32),
        137 => core::hint::black_box(x.wrapping_mul(962)).rotate_left(13) ^ core::hint::black_box(1782u32),
        138 => core::hint::black_box(x.wrapping_mul(969)).rotate_left(14) ^ core::hint::black_box(1795u32),
        139 => core::hint::black_box(x.wrapping_mul(976)).rotate_left(15) ^ core::hint::black_box(1808u32),
        140 => core::hint::black_box(x.wrapping_mul(983)).rotate_left(16) ^ core::hint::black_box(1821u32),
        141 => core::hint::black_box(x.wrapping_mul(990)).rotate_left(17) ^ core::hint::black_box(1834u32),
        142 => core::hint::black_box(x.wrapping_mul(997)).rotate_left(18) ^ core::hint::black_box(1847u32),
        143 => core::hint::black_box(x.wrapping_mul(1004)).rotate_left(19) ^ core::hint::black_box(1860u32),
        144 => core::hint::black_box(x.wrapping_mul(1011)).rotate_left(20) ^ core::hint::black_box(1873u32),
        145 => core::hint::black_box(x.wrapping_mul(1018)).rotate_left(21) ^ core::hint::black_box(1886u32),
        146 => core::hint::black_box(x.wrapping_mul(1025)).rotate_left(22) ^ core::hint::black_box(1899u32),
        147 => core::hint::black_box(x.wrapping_mul(1032)).rotate_left(23) ^ core::hint::black_box(1912u32),
        148 => core::hint::black_box(x.wrapping_mul(1039)).rotate_left(24) ^ core::hint::black_box(1925u32),
        149 => core::hint::black_box(x.wrapping_mul(1046)).rotate_left(25) ^ core::hint::black_box(1938u32),
        150 => core::hint::black_box(x.wrapping_mul(1053)).rotate_left(26) ^ core::hint::black_box(1951u32),
        151 => core::hint::black_box(x.wrapping_mul(1060)).rotate_left(27) ^ core::hint::black_box(1964u32),
        152 => core::hint::black_box(x.wrapping_mul(1067)).rotate_left(28) ^ core::hint::black_box(1977u32),
        153 => core::hint::black_box(x.wrapping_mul(1074)).rotate_left(29) ^ core::hint::black_box(1990u32),
        154 => core::hint::black_box(x.wrapping_mul(1081)).rotate_left(30) ^ core::hint::black_box(2003u32),
        155 => core::hint::black_box(x.wrapping_mul(1088)).rotate_left(0) ^ core::hint::black_box(2016u32),
        156 => core::hint::black_box(x.wrapping_mul(1095)).rotate_left(1) ^ core::hint::black_box(2029u32),
        157 => core::hint::black_box(x.wrapping_mul(1102)).rotate_left(2) ^ core::hint::black_box(2042u32),
        158 => core::hint::black_box(x.wrapping_mul(1109)).rotate_left(3) ^ core::hint::black_box(2055u32),
        159 => core::hint::black_box(x.wrapping_mul(1116)).rotate_left(4) ^ core::hint::black_box(2068u32),
        160 => core::hint::black_box(x.wrapping_mul(1123)).rotate_left(5) ^ core::hint::black_box(2081u32),
        161 => core::hint::black_box(x.wrapping_mul(1130)).rotate_left(6) ^ core::hint::black_box(2094u32),
        162 => core::hint::black_box(x.wrapping_mul(1137)).rotate_left(7) ^ core::hint::black_box(2107u32),
        163 => core::hint::black_box(x.wrapping_mul(1144)).rotate_left(8) ^ core::hint::black_box(2120u32),
        164 => core::hint::black_box(x.wrapping_mul(1151)).rotate_left(9) ^ core::hint::black_box(2133u32),
        165 => core::hint::black_box(x.wrapping_mul(1158)).rotate_left(10) ^ core::hint::black_box(2146u32),
        166 => core::hint::black_box(x.wrapping_mul(1165)).rotate_left(11) ^ core::hint::black_box(2159u32),
        167 => core::hint::black_box(x.wrapping_mul(1172)).rotate_left(12) ^ core::hint::black_box(2172u32),
        168 => core::hint::black_box(x.wrapping_mul(1179)).rotate_left(13) ^ core::hint::black_box(2185u32),
        169 => core::hint::black_box(x.wrapping_mul(1186)).rotate_left(14) ^ core::hint::black_box(2198u32),
        170 => core::hint::black_box(x.wrapping_mul(1193)).rotate_left(15) ^ core::hint::black_box(2211u32),
        171 => core::hint::black_box(x.wrapping_mul(1200)).rotate_left(16) ^ core::hint::black_box(2224u32),
        172 => core::hint::black_box(x.wrapping_mul(1207)).rotate_left(17) ^ core::hint::black_box(2237u32),
        173 => core::hint::black_box(x.wrapping_mul(1214)).rotate_left(18) ^ core::hint::black_box(2250u32),
        174 => core::hint::black_box(x.wrapping_mul(1221)).rotate_left(19) ^ core::hint::black_box(2263u32),
        175 => core::hint::black_box(x.wrapping_mul(1228)).rotate_left(20) ^ core::hint::black_box(2276u32),
        176 => core::hint::black_box(x.wrapping_mul(1235)).rotate_left(21) ^ core::hint::black_box(2289u32),
        177 => core::hint::black_box(x.wrapping_mul(1242)).rotate_left(22) ^ core::hint::black_box(2302u32),
        178 => core::hint::black_box(x.wrapping_mul(1249)).rotate_left(23) ^ core::hint::black_box(2315u32),
        179 => core::hint::black_box(x.wrapping_mul(1256)).rotate_left(24) ^ core::hint::black_box(2328u32),
        180 => core::hint::black_box(x.wrapping_mul(1263)).rotate_left(25) ^ core::hint::black_box(2341u32),
        181 => core::hint::black_box(x.wrapping_mul(1270)).rotate_left(26) ^ core::hint::black_box(2354u32),
        182 => core::hint::black_box(x.wrapping_mul(1277)).rotate_left(27) ^ core::hint::black_box(2367u32),
        183 => core::hint::black_box(x.wrapping_mul(1284)).rotate_left(28) ^ core::hint::black_box(2380u32),
        184 => core::hint::black_box(x.wrapping_mul(1291)).rotate_left(29) ^ core::hint::black_box(2393u32),
        185 => core::hint::black_box(x.wrapping_mul(1298)).rotate_left(30) ^ core::hint::black_box(2406u32),
        186 => core::hint::black_box(x.wrapping_mul(1305)).rotate_left(0) ^ core::hint::black_box(2419u32),
        187 => core::hint::black_box(x.wrapping_mul(1312)).rotate_left(1) ^ core::hint::black_box(2432u32),
        188 => core::hint::black_box(x.wrapping_mul(1319)).rotate_left(2) ^ core::hint::black_box(2445u32),
        189 => core::hint::black_box(x.wrapping_mul(1326)).rotate_left(3) ^ core::hint::black_box(2458u32),
        190 => core::hint::black_box(x.wrapping_mul(1333)).rotate_left(4) ^ core::hint::black_box(2471u32),
        191 => core::hint::black_box(x.wrapping_mul(1340)).rotate_left(5) ^ core::hint::black_box(2484u32),
        192 => core::hint::black_box(x.wrapping_mul(1347)).rotate_left(6) ^ core::hint::black_box(2497u32),
        193 => core::hint::black_box(x.wrapping_mul(1354)).rotate_left(7) ^ core::hint::black_box(2510u32),
        194 => core::hint::black_box(x.wrapping_mul(1361)).rotate_left(8) ^ core::hint::black_box(2523u32),
        195 => core::hint::black_box(x.wrapping_mul(1368)).rotate_left(9) ^ core::hint::black_box(2536u32),
        196 => core::hint::black_box(x.wrapping_mul(1375)).rotate_left(10) ^ core::hint::black_box(2549u32),
        197 => core::hint::black_box(x.wrapping_mul(1382)).rotate_left(11) ^ core::hint::black_box(2562u32),
        198 => core::hint::black_box(x.wrapping_mul(1389)).rotate_left(12) ^ core::hint::black_box(2575u32),
        199 => core::hint::black_box(x.wrapping_mul(1396)).rotate_left(13) ^ core::hint::black_box(2588u32),
        200 => core::hint::black_box(x.wrapping_mul(1403)).rotate_left(14) ^ core::hint::black_box(2601u32),
        201 => core::hint::black_box(x.wrapping_mul(1410)).rotate_left(15) ^ core::hint::black_box(2614u32),
        202 => core::hint::black_box(x.wrapping_mul(1417)).rotate_left(16) ^ core::hint::black_box(2627u32),
        203 => core::hint::black_box(x.wrapping_mul(1424)).rotate_left(17) ^ core::hint::black_box(2640u32),
        204 => core::hint::black_box(x.wrapping_mul(1431)).rotate_left(18) ^ core::hint::black_box(2653u32),
        205 => core::hint::black_box(x.wrapping_mul(1438)).rotate_left(19) ^ core::hint::black_box(2666u32),
        206 => core::hint::black_box(x.wrapping_mul(1445)).rotate_left(20) ^ core::hint::black_box(2679u32),
        207 => core::hint::black_box(x.wrapping_mul(1452)).rotate_left(21) ^ core::hint::black_box(2692u32),
        208 => core::hint::black_box(x.wrapping_mul(1459)).rotate_left(22) ^ core::hint::black_box(2705u32),
        209 => core::hint::black_box(x.wrapping_mul(1466)).rotate_left(23) ^ core::hint::black_box(2718u32),
        210 => core::hint::black_box(x.wrapping_mul(1473)).rotate_left(24) ^ core::hint::black_box(2731u32),
        211 => core::hint::black_box(x.wrapping_mul(1480)).rotate_left(25) ^ core::hint::black_box(2744u32),
        212 => core::hint::black_box(x.wrapping_mul(1487)).rotate_left(26) ^ core::hint::black_box(2757u32),
        213 => core::hint::black_box(x.wrapping_mul(1494)).rotate_left(27) ^ core::hint::black_box(2770u32),
        214 => core::hint::black_box(x.wrapping_mul(1501)).rotate_left(28) ^ core::hint::black_box(2783u32),
        215 => core::hint::black_box(x.wrapping_mul(1508)).rotate_left(29) ^ core::hint::black_box(2796u32),
        216 => core::hint::black_box(x.wrapping_mul(1515)).rotate_left(30) ^ core::hint::black_box(2809u32),
        217 => core::hint::black_box(x.wrapping_mul(1522)).rotate_left(0) ^ core::hint::black_box(2822u32),
        218 => core::hint::black_box(x.wrapping_mul(1529)).rotate_left(1) ^ core::hint::black_box(2835u32),
        219 => core::hint::black_box(x.wrapping_mul(1536)).rotate_left(2) ^ core::hint::black_box(2848u32),
        220 => core::hint::black_box(x.wrapping_mul(1543)).rotate_left(3) ^ core::hint::black_box(2861u32),
        221 => core::hint::black_box(x.wrapping_mul(1550)).rotate_left(4) ^ core::hint::black_box(2874u32),
        222 => core::hint::black_box(x.wrapping_mul(1557)).rotate_left(5) ^ core::hint::black_box(2887u32),
        223 => core::hint::black_box(x.wrapping_mul(1564)).rotate_left(6) ^ core::hint::black_box(2900u32),
        224 => core::hint::black_box(x.wrapping_mul(1571)).rotate_left(7) ^ core::hint::black_box(2913u32),
        225 => core::hint::black_box(x.wrapping_mul(1578)).rotate_left(8) ^ core::hint::black_box(2926u32),
        226 => core::hint::black_box(x.wrapping_mul(1585)).rotate_left(9) ^ core::hint::black_box(2939u32),
        227 => core::hint::black_box(x.wrapping_mul(1592)).rotate_left(10) ^ core::hint::black_box(2952u32),
        228 => core::hint::black_box(x.wrapping_mul(1599)).rotate_left(11) ^ core::hint::black_box(2965u32),
        229 => core::hint::black_box(x.wrapping_mul(1606)).rotate_left(12) ^ core::hint::black_box(2978u32),
        230 => core::hint::black_box(x.wrapping_mul(1613)).rotate_left(13) ^ core::hint::black_box(2991u32),
        231 => core::hint::black_box(x.wrapping_mul(1620)).rotate_left(14) ^ core::hint::black_box(3004u32),
        232 => core::hint::black_box(x.wrapping_mul(1627)).rotate_left(15) ^ core::hint::black_box(3017u32),
        233 => core::hint::black_box(x.wrapping_mul(1634)).rotate_left(16) ^ core::hint::black_box(3030u32),
        234 => core::hint::black_box(x.wrapping_mul(1641)).rotate_left(17) ^ core::hint::black_box(3043u32),
        235 => core::hint::black_box(x.wrapping_mul(1648)).rotate_left(18) ^ core::hint::black_box(3056u32),
        236 => core::hint::black_box(x.wrapping_mul(1655)).rotate_left(19) ^ core::hint::black_box(3069u32),
        237 => core::hint::black_box(x.wrapping_mul(1662)).rotate_left(20) ^ core::hint::black_box(3082u32),
        238 => core::hint::black_box(x.wrapping_mul(1669)).rotate_left(21) ^ core::hint::black_box(3095u32),
        239 => core::hint::black_box(x.wrapping_mul(1676)).rotate_left(22) ^ core::hint::black_box(3108u32),
        240 => core::hint::black_box(x.wrapping_mul(1683)).rotate_left(23) ^ core::hint::black_box(3121u32),
        241 => core::hint::black_box(x.wrapping_mul(1690)).rotate_left(24) ^ core::hint::black_box(3134u32),
        242 => core::hint::black_box(x.wrapping_mul(1697)).rotate_left(25) ^ core::hint::black_box(3147u32),
        243 => core::hint::black_box(x.wrapping_mul(1704)).rotate_left(26) ^ core::hint::black_box(3160u32),
        244 => core::hint::black_box(x.wrapping_mul(1711)).rotate_left(27) ^ core::hint::black_box(3173u32),
        245 => core::hint::black_box(x.wrapping_mul(1718)).rotate_left(28) ^ core::hint::black_box(3186u32),
        246 => core::hint::black_box(x.wrapping_mul(1725)).rotate_left(29) ^ core::hint::black_box(3199u32),
        247 => core::hint::black_box(x.wrapping_mul(1732)).rotate_left(30) ^ core::hint::black_box(3212u32),
        248 => core::hint::black_box(x.wrapping_mul(1739)).rotate_left(0) ^ core::hint::black_box(3225u32),
        249 => core::hint::black_box(x.wrapping_mul(1746)).rotate_left(1) ^ core::hint::black_box(3238u32),
        250 => core::hint::black_box(x.wrapping_mul(1753)).rotate_left(2) ^ core::hint::black_box(3251u32),
        251 => core::hint::black_box(x.wrapping_mul(1760)).rotate_left(3) ^ core::hint::black_box(3264u32),
        252 => core::hint::black_box(x.wrapping_mul(1767)).rotate_left(4) ^ core::hint::black_box(3277u32),
        253 => core::hint::black_box(x.wrapping_mul(1774)).rotate_left(5) ^ core::hint::black_box(3290u32),
        254 => core::hint::black_box(x.wrapping_mul(1781)).rotate_left(6) ^ core::hint::black_box(3303u32),
        255 => core::hint::black_box(x.wrapping_mul(1788)).rotate_left(7) ^ core::hint::black_box(3316u32),
        256 => core::hint::black_box(x.wrapping_mul(1795)).rotate_left(8) ^ core::hint::black_box(3329u32),
        257 => core::hint::black_box(x.wrapping_mul(1802)).rotate_left(9) ^ core::hint::black_box(3342u32),
        258 => core::hint::black_box(x.wrapping_mul(1809)).rotate_left(10) ^ core::hint::black_box(3355u32),
        259 => core::hint::black_box(x.wrapping_mul(1816)).rotate_left(11) ^ core::hint::black_box(3368u32),
        260 => core::hint::black_box(x.wrapping_mul(1823)).rotate_left(12) ^ core::hint::black_box(3381u32),
        261 => core::hint::black_box(x.wrapping_mul(1830)).rotate_left(13) ^ core::hint::black_box(3394u32),
        262 => core::hint::black_box(x.wrapping_mul(1837)).rotate_left(14) ^ core::hint::black_box(3407u32),
        263 => core::hint::black_box(x.wrapping_mul(1844)).rotate_left(15) ^ core::hint::black_box(3420u32),
        264 => core::hint::black_box(x.wrapping_mul(1851)).rotate_left(16) ^ core::hint::black_box(3433u32),
        265 => core::hint::black_box(x.wrapping_mul(1858)).rotate_left(17) ^ core::hint::black_box(3446u32),
        266 => core::hint::black_box(x.wrapping_mul(1865)).rotate_left(18) ^ core::hint::black_box(3459u32),
        267 => core::hint::black_box(x.wrapping_mul(1872)).rotate_left(19) ^ core::hint::black_box(3472u32),
        268 => core::hint::black_box(x.wrapping_mul(1879)).rotate_left(20) ^ core::hint::black_box(3485u32),
        269 => core::hint::black_box(x.wrapping_mul(1886)).rotate_left(21) ^ core::hint::black_box(3498u32),
        270 => core::hint::black_box(x.wrapping_mul(1893)).rotate_left(22) ^ core::hint::black_box(3511u32),
        271 => core::hint::black_box(x.wrapping_mul(1900)).rotate_left(23) ^ core::hint::black_box(3524u32),
        272 => core::hint::black_box(x.wrapping_mul(1907)).rotate_left(24) ^ core::hint::black_box(3537u32),
        273 => core::hint::black_box(x.wrapping_mul(1914)).rotate_left(25) ^ core::hint::black_box(3550u32),
        274 => core::hint::black_box(x.wrapping_mul(1921)).rotate_left(26) ^ core::hint::black_box(3563u32),
        275 => core::hint::black_box(x.wrapping_mul(1928)).rotate_left(27) ^ core::hint::black_box(3576u32),
        276 => core::hint::black_box(x.wrapping_mul(1935)).rotate_left(28) ^ core::hint::black_box(3589u32),
        277 => core::hint::black_box(x.wrapping_mul(1942)).rotate_left(29) ^ core::hint::black_box(3602u32),
        278 => core::hint::black_box(x.wrapping_mul(1949)).rotate_left(30) ^ core::hint::black_box(3615u32),
        279 => core::hint::black_box(x.wrapping_mul(1956)).rotate_left(0) ^ core::hint::black_box(3628u32),
        280 => core::hint::black_box(x.wrapping_mul(1963)).rotate_left(1) ^ core::hint::black_box(3641u32),
        281 => core::hint::black_box(x.wrapping_mul(1970)).rotate_left(2) ^ core::hint::black_box(3654u32),
        282 => core::hint::black_box(x.wrapping_mul(1977)).rotate_left(3) ^ core::hint::black_box(3667u32),
        283 => core::hint::black_box(x.wrapping_mul(1984)).rotate_left(4) ^ core::hint::black_box(3680u32),
        284 => core::hint::black_box(x.wrapping_mul(1991)).rotate_left(5) ^ core::hint::black_box(3693u32),
        285 => core::hint::black_box(x.wrapping_mul(1998)).rotate_left(6) ^ core::hint::black_box(3706u32),
        286 => core::hint::black_box(x.wrapping_mul(2005)).rotate_left(7) ^ core::hint::black_box(3719u32),
        287 => core::hint::black_box(x.wrapping_mul(2012)).rotate_left(8) ^ core::hint::black_box(3732u32),
        288 => core::hint::black_box(x.wrapping_mul(2019)).rotate_left(9) ^ core::hint::black_box(3745u32),
        289 => core::hint::black_box(x.wrapping_mul(2026)).rotate_left(10) ^ core::hint::black_box(3758u32),
        290 => core::hint::black_box(x.wrapping_mul(2033)).rotate_left(11) ^ core::hint::black_box(3771u32),
        291 => core::hint::black_box(x.wrapping_mul(2040)).rotate_left(12) ^ core::hint::black_box(3784u32),
        292 => core::hint::black_box(x.wrapping_mul(2047)).rotate_left(13) ^ core::hint::black_box(3797u32),
        293 => core::hint::black_box(x.wrapping_mul(2054)).rotate_left(14) ^ core::hint::black_box(3810u32),
        294 => core::hint::black_box(x.wrapping_mul(2061)).rotate_left(15) ^ core::hint::black_box(3823u32),
        295 => core::hint::black_box(x.wrapping_mul(2068)).rotate_left(16) ^ core::hint::black_box(3836u32),
        296 => core::hint::black_box(x.wrapping_mul(2075)).rotate_left(17) ^ core::hint::black_box(3849u32),
        297 => core::hint::black_box(x.wrapping_mul(2082)).rotate_left(18) ^ core::hint::black_box(3862u32),
        298 => core::hint::black_box(x.wrapping_mul(2089)).rotate_left(19) ^ core::hint::black_box(3875u32),
        299 => core::hint::black_box(x.wrapping_mul(2096)).rotate_left(20) ^ core::hint::black_box(3888u32),
        _ => 0,
    }}
}}
"#
    )
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
        .arg("target/armv7a-none-eabi/release/liborigin0.a")
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

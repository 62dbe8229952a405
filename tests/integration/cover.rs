//! Crates with many features (issue 24): `init` finds the families and
//! implications and writes a covering plan that runs as written; `check`
//! on it finds a two-feature link bug exactly where both are on, builds
//! no combination a guard forbids, and holds every pair; `--cover 3`
//! finds a three-feature bug; `--cover each` finds a bug that any sibling
//! option masks; a crate shaped like embassy-time (a forwarded family of
//! 150 tick rates whose members collide) plans to a few cells with short
//! ids. Cells build for the bare `x86_64-unknown-none` (no C, no deps).
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

use crate::check::{check_json, failing};
use crate::util::{linkmatrix, run, stderr, stdout, write};

const PANIC: &str = "#[cfg(target_os = \"none\")]\n#[panic_handler]\nfn panic(_: &core::panic::PanicInfo<'_>) -> ! {\n    loop {}\n}\n";

/// A crate `name` with `features` (`[features]` lines) and `lib`, and
/// `init --target x86_64-unknown-none` run in it; init's stderr.
fn init_crate(dir: &Path, name: &str, features: &str, lib: &str) -> String {
    std::fs::create_dir_all(dir.join(".git")).unwrap();
    write(
        dir,
        "Cargo.toml",
        &format!(
            "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[features]\n{features}"
        ),
    );
    write(dir, "src/lib.rs", &format!("#![no_std]\n{lib}{PANIC}"));
    let o = linkmatrix(dir)
        .args(["init", "--target", "x86_64-unknown-none"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    stderr(&o)
}

/// Each cell's option values, by id.
fn options(r: &Value) -> BTreeMap<String, BTreeMap<String, Value>> {
    r["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let mut o: BTreeMap<String, Value> =
                serde_json::from_value(c["options"].clone()).unwrap();
            o.insert("profile".to_owned(), c["profile"].clone());
            (c["id"].as_str().unwrap().to_owned(), o)
        })
        .collect()
}

/// `[features]` lines for features that turn on nothing.
fn lines(features: &[&str]) -> String {
    features.iter().fold(String::new(), |mut s, f| {
        s.push_str(f);
        s.push_str(" = []\n");
        s
    })
}

fn on(o: &BTreeMap<String, Value>, k: &str) -> bool {
    o[k] == Value::Bool(true)
}

const DOZEN: [&str; 12] = [
    "f01", "f02", "f03", "f04", "f05", "f06", "f07", "f08", "f09", "f10", "f11", "f12",
];

const FAMILIES_LIB: &str = r#"#[cfg(any(all(feature = "uart-a", feature = "uart-b"), all(feature = "uart-a", feature = "uart-c"),
          all(feature = "uart-b", feature = "uart-c")))]
compile_error!("pick one uart");

#[cfg(all(feature = "clk-pll", feature = "clk-rc"))]
compile_error!("pick one clock");

extern "C" {
    // The board provides this only where the DMA engine and the fast
    // clock tree are both configured: not on these cells' board.
    #[cfg(all(feature = "f03", feature = "f07"))]
    fn board_dma_fast_sync(x: u32) -> u32;
}

#[no_mangle]
pub extern "C" fn drv_poll(x: u32) -> u32 {
    let mut v = x;
    if cfg!(feature = "f01") { v = v.wrapping_add(1); }
    if cfg!(feature = "f02") { v ^= 2; }
    if cfg!(feature = "big") { v = v.wrapping_mul(3); }
    if cfg!(feature = "uart-b") { v = v.rotate_left(1); }
    if cfg!(feature = "clk-pll") { v = v.rotate_right(2); }
    #[cfg(all(feature = "f03", feature = "f07"))]
    {
        v = unsafe { board_dma_fast_sync(v) };
    }
    v
}
"#;

/// `init` + `check` as written on a crate with a dozen independent
/// features, an implied one (`big = ["f01"]`), two `compile_error!`
/// families and a bug that needs `f03` and `f07`: the bug is found in
/// exactly the cells with both, no cell builds two members of a family,
/// and every pair of option values the model allows is in some cell.
#[test]
fn init_and_check_cover_every_pair_and_find_a_two_feature_bug_exactly() {
    let d = tempfile::tempdir().unwrap();
    let mut features = lines(&DOZEN);
    features.push_str(
        "big = [\"f01\"]\nuart-a = []\nuart-b = []\nuart-c = []\nclk-pll = []\nclk-rc = []\n",
    );
    let err = init_crate(d.path(), "pairs", &features, FAMILIES_LIB);
    let cfg = std::fs::read_to_string(d.path().join("linkmatrix.yaml")).unwrap();
    for want in [
        "cover: 2",
        "profile: [dev, release]",
        "depends-on: \"f01\"",
        "uart: [none, a, b, c]",
        "clk: [none, pll, rc]",
        "compile_error! when two are on (src/lib.rs:2)",
    ] {
        assert!(cfg.contains(want), "no `{want}` in:\n{cfg}");
    }
    assert!(err.contains("init: `cover: 2`: "), "{err}");
    assert!(
        err.contains("cover all") && err.contains("196,608"),
        "{err}"
    );

    let (code, r, err) = check_json(d.path(), &[]);
    assert_eq!(code, 1, "{err}\n{r:#}");
    let cells = options(&r);
    assert!(cells.len() <= 24, "{} cells", cells.len());
    // Every cell built: none is a build error (a forbidden pair would be).
    for c in r["cells"].as_array().unwrap() {
        assert!(c["status"] == "pass" || c["status"] == "fail", "{c:#}");
    }
    let mut want: Vec<&String> = cells
        .iter()
        .filter(|(_, o)| on(o, "f03") && on(o, "f07"))
        .map(|(id, _)| id)
        .collect();
    want.sort();
    let mut bad = failing(&r);
    bad.sort();
    assert!(!bad.is_empty());
    assert_eq!(bad.iter().collect::<Vec<_>>(), want, "{r:#}");
    for c in r["cells"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "fail")
    {
        assert_eq!(
            crate::check::undefined_symbols(c),
            ["board_dma_fast_sync"],
            "{c:#}"
        );
    }
    // Each cell's features: at most one per family, `big` only with `f01`.
    for c in r["cells"].as_array().unwrap() {
        let f: BTreeSet<&str> = c["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap())
            .collect();
        let count = |p: &str| f.iter().filter(|x| x.starts_with(p)).count();
        assert!(count("uart-") <= 1 && count("clk-") <= 1, "{c:#}");
        assert!(!f.contains("big") || f.contains("f01"), "{c:#}");
    }
    // Every pair of values of two axes is in a cell, but f01=false with
    // big=true (big turns f01 on).
    let mut axes: Vec<(&str, Vec<Value>)> = DOZEN
        .iter()
        .chain(&["big"])
        .map(|f| (*f, vec![Value::Bool(false), Value::Bool(true)]))
        .collect();
    let strs = |v: &[&str]| v.iter().map(|s| Value::from(*s)).collect::<Vec<_>>();
    axes.push(("uart", strs(&["none", "a", "b", "c"])));
    axes.push(("clk", strs(&["none", "pll", "rc"])));
    axes.push(("profile", strs(&["dev", "release"])));
    let mut pairs = 0;
    for (i, (a, va)) in axes.iter().enumerate() {
        for (b, vb) in &axes[i + 1..] {
            for x in va {
                for y in vb {
                    let impossible = *a == "f01"
                        && *b == "big"
                        && *x == Value::Bool(false)
                        && *y == Value::Bool(true);
                    let held = cells.values().any(|o| o[*a] == *x && o[*b] == *y);
                    assert_eq!(held, !impossible, "{a}={x} {b}={y}");
                    pairs += usize::from(held);
                }
            }
        }
    }
    // 13 bools, 4 uarts, 3 clocks, 2 profiles: 572 pairs, one ruled out.
    assert_eq!(pairs, 571);
}

/// A bug that needs three features on: `--cover 3` finds it in exactly
/// the cells with all three.
#[test]
fn cover_3_finds_a_three_feature_bug_exactly() {
    let d = tempfile::tempdir().unwrap();
    let features = lines(&["a", "b", "c", "d", "e", "f"]);
    let lib = r#"extern "C" {
    #[cfg(all(feature = "b", feature = "d", feature = "f"))]
    fn board_triple(x: u32) -> u32;
}

#[no_mangle]
pub extern "C" fn tri_poll(x: u32) -> u32 {
    let mut v = x;
    if cfg!(feature = "a") { v += 1; }
    #[cfg(all(feature = "b", feature = "d", feature = "f"))]
    {
        v = unsafe { board_triple(v) };
    }
    v
}
"#;
    init_crate(d.path(), "triple", &features, lib);
    let plan = run(d.path(), &["plan", "--cover", "3", "--format", "json"]);
    let p: Value = serde_json::from_slice(&plan.stdout).unwrap();
    assert_eq!(p["coverage"]["strength"], 3, "{p:#}");
    let (code, r, err) = check_json(d.path(), &["--cover", "3"]);
    assert_eq!(code, 1, "{err}\n{r:#}");
    let cells = options(&r);
    assert!(
        cells.len() < 32,
        "{} cells: fewer than the product's 128",
        cells.len()
    );
    let mut want: Vec<&String> = cells
        .iter()
        .filter(|(_, o)| on(o, "b") && on(o, "d") && on(o, "f"))
        .map(|(id, _)| id)
        .collect();
    want.sort();
    let mut bad = failing(&r);
    bad.sort();
    assert!(!want.is_empty(), "no cell holds b, d and f");
    assert_eq!(bad.iter().collect::<Vec<_>>(), want, "{r:#}");
    // Its id reproduces it alone (`--cell` composes with `--cover`).
    let (code, one, err) = check_json(d.path(), &["--cover", "3", "--cell", &bad[0]]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(failing(&one), [bad[0].clone()]);
}

/// `big = ["small"]`: a matrix that does not say so asks for `big` with
/// and without `small`, which cargo builds alike. The plan keeps one cell
/// (the one whose options say what it builds), lists the other as its
/// alias, says so, and `--cell` with the alias's id runs the kept cell.
#[test]
fn cells_equal_after_implication_are_one_build_with_aliases() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join(".git")).unwrap();
    write(
        d.path(),
        "Cargo.toml",
        "[package]\nname = \"impl\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[features]\nsmall = []\nbig = [\"small\"]\n",
    );
    write(
        d.path(),
        "src/lib.rs",
        &format!(
            "#![no_std]\n#[no_mangle]\npub extern \"C\" fn sz() -> u32 {{\n    u32::from(cfg!(feature = \"small\")) + u32::from(cfg!(feature = \"big\"))\n}}\n{PANIC}"
        ),
    );
    write(
        d.path(),
        "linkmatrix.yaml",
        "crate: .\ntargets: [x86_64-unknown-none]\noptions:\n  small: {feature: small}\n  big: {feature: big}\naxes:\n  small: [false, true]\n  big: [false, true]\n",
    );
    let table = stdout(&run(d.path(), &["plan"]));
    assert!(table.contains("3 cells from linkmatrix.yaml"), "{table}");
    assert!(
        table.contains("1 more cell merged: equal builds"),
        "{table}"
    );
    let o = run(d.path(), &["plan", "--format", "json"]);
    let p: Value = serde_json::from_slice(&o.stdout).unwrap();
    let kept = p["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "x86_64-small-big-release")
        .unwrap_or_else(|| panic!("{p:#}"));
    assert_eq!(
        kept["aliases"],
        serde_json::json!(["x86_64-no-small-big-release"])
    );
    let (code, r, err) = check_json(d.path(), &["--cell", "x86_64-no-small-big-release"]);
    assert_eq!(code, 0, "{err}\n{r:#}");
    let ran: Vec<&str> = r["cells"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "pass")
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ran, ["x86_64-small-big-release"], "{r:#}");
}

/// A touchscreen driver calls a helper only its siblings' code defines
/// (the kernel's `devm_regmap_init_i2c` without `select REGMAP_I2C`): with
/// any sibling on it links. `--cover each` builds it alone and finds it.
#[test]
fn cover_each_finds_a_bug_a_sibling_option_masks() {
    let d = tempfile::tempdir().unwrap();
    let features = "tsc = []\nhideep = []\nhycon = []\nsyscon = []\ngoodix = []\nled = []\n";
    let lib = r#"/// The regmap I2C helper: built with the drivers that select it.
#[cfg(any(feature = "hideep", feature = "hycon", feature = "syscon", feature = "goodix"))]
mod regmap {
    #[no_mangle]
    pub extern "C" fn regmap_init_i2c(bus: u32) -> u32 {
        bus + 1
    }
}

#[cfg(feature = "tsc")]
mod tsc {
    extern "C" {
        fn regmap_init_i2c(bus: u32) -> u32;
    }

    #[no_mangle]
    pub extern "C" fn tsc_probe(bus: u32) -> u32 {
        unsafe { regmap_init_i2c(bus) }
    }
}

#[no_mangle]
pub extern "C" fn board_leds(x: u32) -> u32 {
    if cfg!(feature = "led") { x | 1 } else { x }
}
"#;
    init_crate(d.path(), "touch", features, lib);
    let (code, r, err) = check_json(d.path(), &["--cover", "each"]);
    assert_eq!(code, 1, "{err}\n{r:#}");
    let cells = options(&r);
    let siblings = ["hideep", "hycon", "syscon", "goodix"];
    let mut want: Vec<&String> = cells
        .iter()
        .filter(|(_, o)| on(o, "tsc") && !siblings.iter().any(|s| on(o, s)))
        .map(|(id, _)| id)
        .collect();
    want.sort();
    let mut bad = failing(&r);
    bad.sort();
    assert_eq!(bad.iter().collect::<Vec<_>>(), want, "{r:#}");
    assert_eq!(bad.len(), 2, "tsc alone, in dev and release: {r:#}");
    for id in &bad {
        let c = crate::check::cell(&r, id);
        assert_eq!(crate::check::undefined_symbols(c), ["regmap_init_i2c"]);
    }
}

/// embassy-time's shape: ~150 `tick-hz-*` features forwarded to a driver
/// crate where two on define the same constant twice, a feature that turns
/// one on, and a few small families. `init` writes one choice for the
/// family and a covering plan: a few cells, short ids, never two rates.
#[test]
fn init_on_a_forwarded_tick_rate_family_plans_few_cells_with_short_ids() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path();
    std::fs::create_dir_all(root.join(".git")).unwrap();
    let mut rates: Vec<u64> = (1..=75).map(|i| i * 1_000).collect();
    rates.extend((1..=75).map(|i| i * 32_768));
    let name = |r: u64| {
        let s = r.to_string();
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i).is_multiple_of(3) {
                out.push('_');
            }
            out.push(c);
        }
        format!("tick-hz-{out}")
    };
    let mut driver_features = String::new();
    let mut driver_lib = String::from("#![no_std]\n");
    let mut features = String::from(
        "std = []\ndefmt = []\nlog = []\nmock-driver = [\"tick-hz-1_000_000\"]\ngeneric-queue-8 = []\ngeneric-queue-16 = []\ngeneric-queue-32 = []\ngeneric-queue-64 = []\ndefmt-timestamp-uptime-s = []\ndefmt-timestamp-uptime-ms = []\ndefmt-timestamp-uptime-us = []\n",
    );
    rates.push(1_000_000);
    for r in &rates {
        let n = name(*r);
        driver_features.push_str(&format!("{n} = []\n"));
        driver_lib.push_str(&format!(
            "#[cfg(feature = \"{n}\")]\npub const TICK_HZ: u64 = {r};\n"
        ));
        features.push_str(&format!("{n} = [\"tdriver/{n}\"]\n"));
    }
    write(
        root,
        "tdriver/Cargo.toml",
        &format!(
            "[package]\nname = \"tdriver\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[features]\n{driver_features}"
        ),
    );
    let any: Vec<String> = rates
        .iter()
        .map(|r| format!("feature = \"{}\"", name(*r)))
        .collect();
    driver_lib.push_str(&format!(
        "#[cfg(not(any({})))]\npub const TICK_HZ: u64 = 1_000_000;\n",
        any.join(", ")
    ));
    write(root, "tdriver/src/lib.rs", &driver_lib);
    write(
        root,
        "Cargo.toml",
        &format!(
            "[package]\nname = \"ttime\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\ntdriver = {{ path = \"tdriver\" }}\n\n[features]\n{features}"
        ),
    );
    write(
        root,
        "src/lib.rs",
        &format!(
            "#![no_std]\n#[cfg(feature = \"std\")]\nextern crate std;\n#[cfg(all(feature = \"defmt\", feature = \"log\"))]\ncompile_error!(\"defmt or log\");\n\n#[no_mangle]\npub extern \"C\" fn now_ticks(x: u64) -> u64 {{\n    x * tdriver::TICK_HZ\n}}\n{PANIC}"
        ),
    );
    let o = linkmatrix(root)
        .args(["init", "--target", "x86_64-unknown-none"])
        .output()
        .unwrap();
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    let cfg = std::fs::read_to_string(root.join("linkmatrix.yaml")).unwrap();
    assert!(cfg.contains("  tick-hz:\n    type: choice"), "{cfg}");
    assert!(
        cfg.contains("depends-on: \"tick-hz == 1_000_000\""),
        "{cfg}"
    );
    assert!(err.contains("`tick-hz`: 151 features"), "{err}");
    // `std` links the standard library (`extern crate std`), which a
    // bare-metal target has not: its cells would not compile.
    assert!(cfg.contains("  - {std: true}   # std of ttime\n"), "{cfg}");
    let o = run(root, &["plan", "--format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let p: Value = serde_json::from_slice(&o.stdout).unwrap();
    let cells = p["cells"].as_array().unwrap();
    assert!(cells.len() <= 64, "{} cells", cells.len());
    for c in cells {
        let id = c["id"].as_str().unwrap();
        assert!(id.len() <= 80, "{id}");
        let ticks = c["features"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f.as_str().unwrap().starts_with("tick-hz-"))
            .count();
        assert!(ticks <= 1, "{c:#}");
    }
    let table = stdout(&run(root, &["plan"]));
    assert!(table.contains("cover all"), "{table}");
    // A random sample draws from the same valid configurations.
    let o = run(
        root,
        &["plan", "--random", "20", "--seed", "3", "--format", "json"],
    );
    let s: Value = serde_json::from_slice(&o.stdout).unwrap();
    for c in s["cells"].as_array().unwrap() {
        assert!(c["id"].as_str().unwrap().len() <= 80, "{c:#}");
        let f: Vec<&str> = c["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap())
            .collect();
        assert!(
            f.iter().filter(|x| x.starts_with("tick-hz-")).count() <= 1,
            "{c:#}"
        );
        assert!(
            !f.contains(&"mock-driver") || f.contains(&"tick-hz-1_000_000"),
            "{c:#}"
        );
    }
    // A shard of it builds: no cell turns two rates on.
    let (code, r, err) = check_json(root, &["--shard", "1/16"]);
    assert_eq!(code, 0, "{err}\n{r:#}");
    let built = r["cells"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "pass")
        .count();
    assert!(built >= 1, "{r:#}");
    firmware_on_top(root, &features);
}

/// A firmware crate that uses `ttime` and forwards every one of its
/// features (`mock-driver = ["ttime/mock-driver"]`): its own `[features]`
/// say nothing of families or implications, and its sources hold no
/// guard. `init` follows the features into the dependencies — the tick
/// rates collide two crates down, `mock-driver` turns one on there, and
/// `ttime`'s guard forbids `defmt` with `log` — and the plan it writes
/// builds in every cell.
fn firmware_on_top(root: &Path, ttime_features: &str) {
    let fw = root.join("fw");
    let forwarded: String = ttime_features
        .lines()
        .filter_map(|l| l.split_once(" = "))
        .fold(String::new(), |mut s, (f, _)| {
            s.push_str(&format!("{f} = [\"ttime/{f}\"]\n"));
            s
        });
    write(
        &fw,
        "Cargo.toml",
        &format!(
            "[package]\nname = \"fw\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\nttime = {{ path = \"..\" }}\n\n[features]\n{forwarded}"
        ),
    );
    write(
        &fw,
        "src/lib.rs",
        "#![no_std]\n#[no_mangle]\npub extern \"C\" fn fw_tick(x: u64) -> u64 {\n    ttime::now_ticks(x)\n}\n",
    );
    let o = linkmatrix(&fw)
        .args(["init", "--target", "x86_64-unknown-none"])
        .output()
        .unwrap();
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    let cfg = std::fs::read_to_string(fw.join("linkmatrix.yaml")).unwrap();
    assert!(
        err.contains("`defmt-or-log`: 2 features") && err.contains("ttime 0.1.0: src/lib.rs:4"),
        "{err}"
    );
    assert!(
        cfg.contains("depends-on: \"(tick-hz == none || tick-hz == 1_000_000)\""),
        "{cfg}"
    );
    // `std` turns on the dependency's `std`: not on a bare-metal target,
    // said in the file and on stderr (the cells below would not compile).
    assert!(cfg.contains("  - {std: true}   # std of ttime\n"), "{cfg}");
    assert!(
        err.contains("init: `exclude`: not on x86_64-unknown-none (no standard library): std (they turn on a `std` feature)"),
        "{err}"
    );
    let (code, r, err) = check_json(&fw, &[]);
    assert_eq!(code, 0, "{err}\n{r:#}");
    let cells = r["cells"].as_array().unwrap();
    assert!(
        cells.len() <= 64 && cells.iter().all(|c| c["status"] == "pass"),
        "{r:#}"
    );
}

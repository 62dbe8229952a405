//! The triage verbs on the historical matrices: why, diff, minimize, and
//! latent references; `diff`'s condition with an or, on a crate made here.
use std::path::Path;

use serde_json::Value;

use crate::util::{linkmatrix, repo, stderr, stdout, write};

const PERCPU: &str = "configs/percpu-2021.yaml";

fn run(args: &[&str]) -> (i32, String, String) {
    let o = linkmatrix(&repo()).args(args).output().unwrap();
    (o.status.code().unwrap_or(-1), stdout(&o), stderr(&o))
}

#[test]
fn why_gives_the_chain_from_a_root() {
    let (code, out, err) = run(&[
        "why",
        "flush_tlb_kernel_range",
        "--config",
        PERCPU,
        "--cell",
        "arm-smp-nommu-release",
    ]);
    assert_eq!(code, 0, "{err}");
    let chain = out
        .lines()
        .find(|l| l.trim_start().starts_with("1."))
        .unwrap();
    assert!(chain.contains("kalloc_percpu_alloc ->"), "{out}");
    // The same chain `check` reports, inlined frames included.
    let o = linkmatrix(&repo())
        .args([
            "check",
            "--config",
            PERCPU,
            "--cell",
            "arm-smp-nommu-release",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    let checked = crate::util::strs(&r["cells"][0]["findings"][0]["chain"]);
    assert!(checked.contains(&"kalloc::tlb::Gather::finish"), "{r:#}");
    assert_eq!(
        chain.trim_start().trim_start_matches("1. "),
        checked.join(" -> ")
    );
    // Without --cell: every cell where it is reachable; a glob selects.
    let (code, out, err) = run(&["why", "flush_tlb_kernel_range", "--config", PERCPU]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("arm-smp-nommu-release"), "{out}");
    assert!(!out.contains("arm-up-nommu-release"), "{out}");
    let (code, out, err) = run(&[
        "why",
        "flush_tlb_kernel_range",
        "--config",
        PERCPU,
        "--cell",
        "x86-*",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("x86-") && !out.contains("arm-"), "{out}");
    let (code, out, _) = run(&[
        "why",
        "flush_tlb_kernel_range",
        "--config",
        PERCPU,
        "--cell",
        "arm-up-nommu-release",
    ]);
    assert_eq!(code, 1);
    assert!(out.contains("not reachable"));
    let (code, _, err) = run(&[
        "why",
        "x",
        "--config",
        PERCPU,
        "--cell",
        "arm-smp-nomu-release",
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("did you mean `arm-smp-nommu-release`"),
        "{err}"
    );
}

#[test]
fn diff_names_the_options_that_make_the_flush_undefined() {
    let (code, out, err) = run(&[
        "diff",
        "--config",
        PERCPU,
        "arm-smp-nommu-release",
        "arm-up-nommu-release",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("percpu-km: false vs true"), "{out}");
    assert!(
        out.contains("undefined only in arm-smp-nommu-release: flush_tlb_kernel_range"),
        "{out}"
    );
    let cond = out
        .lines()
        .find(|l| l.starts_with("`flush_tlb_kernel_range` is undefined exactly when"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        cond.contains("`mmu=false`") && cond.contains("`percpu-km=false`"),
        "{cond}"
    );
    // Defined symbols are compared demangled and without their hash (a
    // crate's hashes change with its features): only real differences.
    let (code, out, err) = run(&[
        "diff",
        "--config",
        PERCPU,
        "arm-smp-mmu-release",
        "arm-smp-nommu-release",
    ]);
    assert_eq!(code, 0, "{err}");
    let defined: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("defined only"))
        .collect();
    assert_eq!(
        defined,
        [
            "defined only in arm-smp-mmu-release: arch_clear_pte, arch_set_pte, flush_tlb_kernel_range, local_flush_tlb_kernel_range, vmap_pages_range_noflush, vunmap_range_noflush"
        ],
        "{out}"
    );
}

#[test]
fn minimize_ends_at_the_option_the_kernel_fix_changed() {
    let (code, out, err) = run(&["minimize", "--config", PERCPU, "arm-smp-nommu-release"]);
    assert_eq!(code, 0, "{err}");
    let changes: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("smallest set"))
        .skip(1)
        .take_while(|l| l.starts_with("  ") && l.contains("->"))
        .collect();
    assert_eq!(changes, ["  percpu-km: true -> false"], "{out}");
    assert!(out.contains("then: linkmatrix check --config"), "{out}");
    // The suggested cell is a configuration the rules allow and not a
    // duplicate of a cell the plan has.
    let include = out
        .lines()
        .find(|l| l.trim_start().starts_with("- {"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        include.contains("percpu-km: false") && include.contains("mmu: false"),
        "{include}"
    );
    let (_, plan, _) = run(&["plan", "--config", PERCPU, "--format", "json"]);
    let plan: Value = serde_json::from_str(&plan).unwrap();
    for c in plan["cells"].as_array().unwrap() {
        let same =
            c["options"].as_object().unwrap().iter().all(|(k, v)| {
                include.contains(&format!("{k}: {}", v.to_string().trim_matches('"')))
            });
        assert!(!same, "suggested {include} duplicates {}", c["id"]);
    }
}

#[test]
fn latent_references_warn_and_deny_latent_fails() {
    let cfg = "configs/seed001-stub-ok.yaml";
    let (code, out, err) = run(&[
        "check",
        "--no-provision",
        "--config",
        cfg,
        "--cell",
        "*-release",
        "--latent",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "a warning does not fail: {err}");
    let r: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        r["cells"].as_array().unwrap().len(),
        1,
        "the debug twin is not a cell of the report"
    );
    let c = &r["cells"][0];
    assert_eq!(c["status"], "pass");
    assert_eq!(c["findings"][0]["kind"], "latent-undefined");
    assert_eq!(c["findings"][0]["symbol"], "flush_tlb_kernel_range");
    let (code, _, _) = run(&[
        "check",
        "--no-provision",
        "--config",
        cfg,
        "--cell",
        "*-release",
        "--deny",
        "latent",
    ]);
    assert_eq!(code, 1);
    // The error-returning stub of 2021 is not latent: it fails outright.
    let (code, out, _) = run(&[
        "check",
        "--no-provision",
        "--config",
        PERCPU,
        "--cell",
        "arm-smp-nommu-release",
        "--latent",
        "--format",
        "json",
    ]);
    assert_eq!(code, 1);
    let r: Value = serde_json::from_str(&out).unwrap();
    let kinds: Vec<&str> = r["cells"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"undefined-symbol") && !kinds.contains(&"latent-undefined"),
        "{kinds:?}"
    );
}

/// A touchscreen stack in the shape of the Linux 6.1 link failure: with
/// `syscon`, the hideep and hycon drivers probe through regmap-i2c, which
/// only `tsc2004` builds (it "selects" it); any other build of the two
/// drivers references a symbol nothing defines.
const TOUCH_LIB: &str = r#"#![no_std]
#[cfg(feature = "tsc2004")]
#[no_mangle]
pub extern "C" fn devm_regmap_init_i2c(addr: u32) -> u32 {
    addr ^ 0x5a
}

#[cfg(not(feature = "tsc2004"))]
extern "C" {
    fn devm_regmap_init_i2c(addr: u32) -> u32;
}

#[cfg(all(feature = "syscon", any(feature = "hideep", feature = "hycon")))]
#[allow(unused_unsafe)]
fn probe(addr: u32) -> u32 {
    unsafe { devm_regmap_init_i2c(addr) }
}

#[cfg(not(all(feature = "syscon", any(feature = "hideep", feature = "hycon"))))]
fn probe(addr: u32) -> u32 {
    addr
}

#[no_mangle]
pub extern "C" fn touch_init(addr: u32) -> u32 {
    probe(addr)
}

#[cfg(target_os = "none")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {}
}
"#;

fn touch_crate(dir: &Path) {
    write(
        dir,
        "Cargo.toml",
        "[package]\nname = \"touch\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[features]\nsyscon = []\ntsc2004 = []\nhideep = []\nhycon = []\n",
    );
    write(dir, "src/lib.rs", TOUCH_LIB);
    write(
        dir,
        "linkmatrix.yaml",
        "crate: .\ntargets: [x86]\noptions:\n  syscon: {feature: syscon}\n  tsc2004: {feature: tsc2004}\n  hideep: {feature: hideep}\n  hycon: {feature: hycon}\naxes:\n  syscon: [false, true]\n  tsc2004: [false, true]\n  hideep: [false, true]\n  hycon: [false, true]\n",
    );
}

/// `diff` once gave up ("undefined in 3 of 16 cells") when no single and
/// of option values said when a symbol is undefined. Over the 16 real
/// builds of this matrix the bug needs `syscon` and not `tsc2004` and
/// either driver: the smallest condition is an or, said with its shared
/// values once; `minimize` still ends at one option. On a covering plan
/// (`cover: 2`) the condition is said to hold "in the cells run", and
/// `minimize` still works.
#[test]
fn diff_states_a_condition_that_needs_an_or() {
    let d = tempfile::tempdir().unwrap();
    touch_crate(d.path());
    let run = |args: &[&str]| {
        let o = linkmatrix(d.path()).args(args).output().unwrap();
        (o.status.code().unwrap_or(-1), stdout(&o), stderr(&o))
    };
    let (code, out, err) = run(&[
        "diff",
        "x86-syscon-no-tsc2004-hideep-no-hycon-release",
        "x86-syscon-tsc2004-hideep-no-hycon-release",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("  tsc2004: false vs true"), "{out}");
    assert!(
        out.contains(
            "undefined only in x86-syscon-no-tsc2004-hideep-no-hycon-release: devm_regmap_init_i2c"
        ),
        "{out}"
    );
    let cond = out
        .lines()
        .find(|l| l.starts_with("`devm_regmap_init_i2c` is undefined"))
        .unwrap_or_else(|| panic!("{out}"));
    assert_eq!(
        cond,
        "`devm_regmap_init_i2c` is undefined exactly when `syscon=true` and `tsc2004=false` and (`hideep=true` or `hycon=true`) (3 of 16 cells)",
        "{out}"
    );
    assert!(!out.contains("in the cells run"), "every cell ran: {out}");

    let (code, out, err) = run(&["minimize", "x86-syscon-no-tsc2004-hideep-hycon-release"]);
    assert_eq!(code, 0, "{err}");
    let changes: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("smallest set"))
        .skip(1)
        .take_while(|l| l.starts_with("  ") && l.contains("->"))
        .collect();
    assert_eq!(changes.len(), 1, "{out}");

    // On a covering plan (every pair of values, 6 of the 16 cells) the
    // condition is exact in the cells that ran and says no more.
    let matrix = std::fs::read_to_string(d.path().join("linkmatrix.yaml")).unwrap();
    write(d.path(), "linkmatrix.yaml", &format!("{matrix}cover: 2\n"));
    let (_, plan, err) = run(&["plan", "--format", "json"]);
    let plan: Value = serde_json::from_str(&plan).unwrap_or_else(|e| panic!("{e}: {err}"));
    let cells = plan["cells"].as_array().unwrap();
    let on = |c: &Value, k: &str| c["options"][k] == true;
    let bug =
        |c: &Value| on(c, "syscon") && !on(c, "tsc2004") && (on(c, "hideep") || on(c, "hycon"));
    let failing = cells
        .iter()
        .find(|c| bug(c))
        .expect("a failing cell in the plan");
    let passing = cells.iter().find(|c| !bug(c)).unwrap();
    let id = |c: &Value| c["id"].as_str().unwrap().to_owned();
    let (code, out, err) = run(&["diff", &id(failing), &id(passing)]);
    assert_eq!(code, 0, "{err}");
    let note = format!(
        "over the {} cells that ran ({} configurations of the matrix are not among them)",
        cells.len(),
        16 - cells.len()
    );
    assert!(out.contains(&note), "{out}");
    let cond = out
        .lines()
        .find(|l| l.starts_with("`devm_regmap_init_i2c` is undefined"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        cond.contains(" exactly when ") && cond.contains(" in the cells run ("),
        "{cond}"
    );
    let (code, out, err) = run(&["minimize", &id(failing)]);
    assert_eq!(code, 0, "minimize on a covering plan: {err}");
    assert!(out.contains("smallest set of option changes"), "{out}");
}

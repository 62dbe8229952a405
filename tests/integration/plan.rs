//! `plan`: the default matrix, formats, sampling, limits.
use crate::util::{project, repo, run, stderr, stdout, write};

const DEFAULT_IDS: [&str; 8] = [
    "arm-up-mmu-release",
    "arm-up-nommu-release",
    "arm-smp-mmu-release",
    "arm-smp-nommu-release",
    "x86-up-mmu-release",
    "x86-up-nommu-release",
    "x86-smp-mmu-release",
    "x86-smp-nommu-release",
];

#[test]
fn default_plan_has_the_eight_cells() {
    let o = run(&repo(), &["plan"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    for id in DEFAULT_IDS {
        assert!(out.contains(id), "missing {id}:\n{out}");
    }
    assert!(out.contains("8 cells"));
}

#[test]
fn json_plan_has_options_features_and_rules_applied() {
    let o = run(&repo(), &["plan", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let cells = v["cells"].as_array().unwrap();
    let ids: Vec<&str> = cells.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids, DEFAULT_IDS);
    let by_id = |id: &str| cells.iter().find(|c| c["id"] == id).unwrap();
    // The 2021 rule: percpu-km on every NOMMU cell.
    let c = by_id("arm-smp-nommu-release");
    assert_eq!(c["options"]["percpu-km"], true);
    assert_eq!(c["target"], "armv7a-none-eabi");
    assert_eq!(c["profile"], "release");
    // Pair mapping only where the platform exports the flush: not ARM UP.
    assert_eq!(
        by_id("arm-up-mmu-release")["options"]["pgtable-mapping"],
        false
    );
    assert_eq!(
        by_id("x86-up-mmu-release")["options"]["pgtable-mapping"],
        true
    );
    let feats: Vec<&str> = by_id("arm-smp-mmu-release")["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert_eq!(feats, ["mmu", "pgtable-mapping", "smp"]);
}

#[test]
fn github_plan_is_a_strategy_matrix() {
    let o = run(&repo(), &["plan", "--format", "github"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let inc = v["include"].as_array().unwrap();
    assert_eq!(inc.len(), 8);
    assert!(
        inc.iter()
            .all(|e| e["cell"].is_string() && e["target"].is_string())
    );
}

fn big_matrix() -> tempfile::TempDir {
    let d = project();
    let mut opts = String::from("options:\n");
    let mut axes = String::from("axes:\n  arch: [arm, x86]\n");
    for i in 0..14 {
        opts.push_str(&format!("  o{i}: {{feature: fast}}\n"));
        axes.push_str(&format!("  o{i}: [false, true]\n"));
    }
    write(
        d.path(),
        "linkmatrix.yaml",
        &format!("crate: .\ntargets: [arm, x86]\n{opts}{axes}"),
    );
    d
}

#[test]
fn a_matrix_past_max_cells_is_refused_with_a_randconfig_hint() {
    let d = big_matrix();
    let o = run(d.path(), &["plan"]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("32768 cells") && e.contains("--random") && e.contains("--seed"),
        "{e}"
    );
}

#[test]
fn random_sampling_is_reproducible() {
    let d = big_matrix();
    let a = run(
        d.path(),
        &["plan", "--random", "20", "--seed", "7", "--format", "json"],
    );
    let b = run(
        d.path(),
        &["plan", "--random", "20", "--seed", "7", "--format", "json"],
    );
    let c = run(
        d.path(),
        &["plan", "--random", "20", "--seed", "8", "--format", "json"],
    );
    assert!(a.status.success(), "{}", stderr(&a));
    assert_eq!(a.stdout, b.stdout);
    assert_ne!(a.stdout, c.stdout);
    let v: serde_json::Value = serde_json::from_slice(&a.stdout).unwrap();
    assert_eq!(v["cells"].as_array().unwrap().len(), 20);
}

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

/// An `include:` cell that differs from an axis cell only in an option
/// that is not an axis was refused as a duplicate id; its id now names
/// that option.
#[test]
fn an_include_names_the_options_it_sets_that_are_not_axes() {
    let d = project();
    write(
        d.path(),
        "linkmatrix.yaml",
        "crate: .\ntargets: [x86_64-unknown-none]\noptions:\n  fast: {feature: fast}\n  small: {feature: small}\naxes:\n  fast: [false, true]\ninclude:\n  - {arch: x86_64-unknown-none, fast: true, small: true}\n",
    );
    let o = run(d.path(), &["plan", "--format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let ids: Vec<&str> = v["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "x86_64-no-fast-release",
            "x86_64-fast-release",
            "x86_64-fast-small-release"
        ]
    );
}

/// Ids that would pass 60 characters name the options that differ from
/// their defaults and end with a hash; the same on every run and in every
/// shard.
#[test]
fn long_ids_are_short_stable_and_unique() {
    let d = big_matrix();
    let a = run(d.path(), &["plan", "--cover", "2", "--format", "json"]);
    assert!(a.status.success(), "{}", stderr(&a));
    let b = run(d.path(), &["plan", "--cover", "2", "--format", "json"]);
    assert_eq!(a.stdout, b.stdout);
    let v: serde_json::Value = serde_json::from_slice(&a.stdout).unwrap();
    let cells = v["cells"].as_array().unwrap();
    let ids: std::collections::BTreeSet<&str> =
        cells.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), cells.len());
    for c in cells {
        let id = c["id"].as_str().unwrap();
        assert!(id.len() <= 72, "{id}");
        if id.len() > 60 || !id.ends_with("-release") {
            // The long form: every option on is named (all default off).
            let on: Vec<&str> = c["options"]
                .as_object()
                .unwrap()
                .iter()
                .filter(|(_, v)| **v == true)
                .map(|(k, _)| k.as_str())
                .collect();
            let (head, hash) = id.rsplit_once('-').unwrap();
            assert_eq!(hash.len(), 8, "{id}");
            assert!(head.ends_with("-release"), "{id}");
            for o in on {
                assert!(
                    id.contains(&format!("-{o}-")) || id.contains("-more-"),
                    "{id} lacks {o}"
                );
            }
        }
    }
    assert_eq!(v["coverage"]["strength"], 2);
    let table = stdout(&run(d.path(), &["plan", "--cover", "2"]));
    assert!(
        table.contains("cover all 420 value pairs of 15 axes (full product: 32,768 cells)"),
        "{table}"
    );
    // The github matrix per shard and `--cell` select from the same cells.
    let g = run(d.path(), &["plan", "--cover", "2", "--format", "github"]);
    let g: serde_json::Value = serde_json::from_slice(&g.stdout).unwrap();
    let gids: std::collections::BTreeSet<&str> = g["include"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["cell"].as_str().unwrap())
        .collect();
    assert_eq!(gids, ids);
}

/// `cover:` takes 1-3, `each`, a list of both, or `full`; anything else is
/// an error at its place.
#[test]
fn cover_values_are_checked_where_they_are_written() {
    let d = big_matrix();
    let base = std::fs::read_to_string(d.path().join("linkmatrix.yaml")).unwrap();
    for (cover, cells) in [("2", 9), ("[each, 2]", 31), ("each", 30)] {
        write(
            d.path(),
            "linkmatrix.yaml",
            &format!("{base}cover: {cover}\n"),
        );
        let o = run(d.path(), &["plan", "--format", "json"]);
        assert!(o.status.success(), "{cover}: {}", stderr(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["cells"].as_array().unwrap().len(), cells, "{cover}");
    }
    write(d.path(), "linkmatrix.yaml", &format!("{base}cover: 4\n"));
    let o = run(d.path(), &["plan"]);
    assert_eq!(o.status.code(), Some(2));
    let line = base.lines().count() + 1;
    assert!(
        stderr(&o).contains(&format!("linkmatrix.yaml:{line}:8: cover: `4`")),
        "{}",
        stderr(&o)
    );
    write(d.path(), "linkmatrix.yaml", &format!("{base}cover: 2\n"));
    let o = run(d.path(), &["plan", "--cover", "full"]);
    assert!(stderr(&o).contains("32768 cells"), "{}", stderr(&o));
}

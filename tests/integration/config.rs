//! Bad matrix files (robustness items 1-8, README "Robustness"): each gets a one-screen error
//! naming the file and place, exit 2, and no panic.

use crate::util::{one_screen, project, run, stderr, write};

const HEAD: &str = "crate: .\ntargets: [arm, x86]\n";

fn plan_err(text: &str) -> String {
    let d = project();
    write(d.path(), "linkmatrix.yaml", text);
    let o = run(d.path(), &["plan"]);
    let e = stderr(&o);
    assert_eq!(
        o.status.code(),
        Some(2),
        "expected exit 2, got {:?}\n{e}",
        o.status
    );
    assert!(!e.contains("panicked"), "{e}");
    assert!(
        e.contains("linkmatrix.yaml"),
        "error does not name the file:\n{e}"
    );
    one_screen(&e, 24);
    e
}

#[test]
fn robustness_01_empty_binary_and_non_utf8_files_name_the_file() {
    assert!(plan_err("").contains("empty"));
    assert!(plan_err("  \n\n").contains("empty"));
    let d = project();
    std::fs::write(d.path().join("linkmatrix.yaml"), b"\x7fELF\x00\x01\x02").unwrap();
    let e = stderr(&run(d.path(), &["plan"]));
    assert!(e.contains("linkmatrix.yaml") && e.contains("binary"), "{e}");
    std::fs::write(d.path().join("linkmatrix.yaml"), b"crate: \xff\xfe\n").unwrap();
    let e = stderr(&run(d.path(), &["plan"]));
    assert!(e.contains("linkmatrix.yaml") && e.contains("UTF-8"), "{e}");
}

#[test]
fn robustness_02_syntax_error_names_line_and_column() {
    let e = plan_err("crate: .\ntargets: [arm, x86\noptions: {}\n");
    assert!(e.contains("linkmatrix.yaml:"), "{e}");
    let first = e.lines().next().unwrap().trim_start_matches("error: ");
    assert!(
        first.starts_with("linkmatrix.yaml:3:"),
        "no line number: {e}"
    );
}

#[test]
fn robustness_03_alias_bomb_hits_a_budget_quickly() {
    let mut y = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
    for w in names.windows(2) {
        let refs = vec![format!("*{}", w[0]); 10].join(", ");
        y.push_str(&format!("{}: &{} [{refs}]\n", w[1], w[1]));
    }
    y.push_str("crate: .\n");
    // The mechanism, not a time: the budget stops the expansion (the
    // bench measures how fast: README "Robustness").
    let e = plan_err(&y);
    assert!(
        e.contains("alias") || e.contains("budget") || e.contains("unknown field"),
        "{e}"
    );
}

#[test]
fn robustness_04_deep_nesting_is_a_depth_error() {
    let flow = format!(
        "crate: .\noptions: {}1{}\n",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let e = plan_err(&flow);
    assert!(
        e.contains("recursion") || e.contains("depth") || e.contains("nesting"),
        "{e}"
    );
    // Block style: nested sequences on one line (`- - - … 1`).
    let block = format!("{}1\n", "- ".repeat(10_000));
    let e = plan_err(&block);
    assert!(
        e.contains("depth") || e.contains("Depth") || e.contains("recursion"),
        "{e}"
    );
}

#[test]
fn robustness_05_duplicate_key_and_cell_id_name_both_places() {
    let e = plan_err(&format!(
        "{HEAD}options:\n  fast: {{feature: fast}}\n  small: {{}}\n  fast: {{}}\n"
    ));
    assert!(e.contains(":6:3") && e.contains("line 4"), "{e}");
    let e = plan_err(&format!(
        "{HEAD}include:\n  - {{arch: arm, id: same}}\n  - {{arch: x86, id: same}}\n"
    ));
    assert!(
        e.contains("duplicate cell id `same`") && e.contains(":5:") && e.contains("line 4"),
        "{e}"
    );
}

#[test]
fn robustness_06_unknown_key_suggests_the_closest() {
    let e = plan_err(&format!(
        "{HEAD}options:\n  fast:\n    feature: fast\n    depend-on: \"small\"\n"
    ));
    assert!(
        e.contains(":6:5") && e.contains("depend-on") && e.contains("did you mean `depends-on`"),
        "{e}"
    );
    let e = plan_err("crate: .\ntarget: [arm]\n");
    assert!(e.contains("did you mean `targets`"), "{e}");
}

#[test]
fn robustness_07_flags_spaces_and_escaping_paths_are_rejected() {
    let e = plan_err(&format!(
        "{HEAD}options:\n  fast: {{feature: \"--config=x\"}}\n"
    ));
    assert!(
        e.contains("--config=x") && e.contains("not a cargo feature"),
        "{e}"
    );
    let e = plan_err("crate: ../../etc\ntargets: [arm]\n");
    assert!(e.contains("leaves the project"), "{e}");
    let e = plan_err("crate: -rf\ntargets: [arm]\n");
    assert!(e.contains("starts with `-`"), "{e}");
    // A target file with a bad triple and a path that escapes.
    let d = project();
    write(
        d.path(),
        "targets/evil.yaml",
        "triple: \"armv7a none;rm -rf\"\ncc: {compiler: [clang]}\nlinker: {program: [ld.lld]}\nplatform: {sources: [../../../etc/passwd]}\n",
    );
    write(d.path(), "linkmatrix.yaml", "crate: .\ntargets: [evil]\n");
    let o = run(d.path(), &["plan"]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        e.contains("evil.yaml:1:") && e.contains("not a target triple"),
        "{e}"
    );
    assert!(
        e.contains("evil.yaml:4:") && e.contains("leaves the project"),
        "{e}"
    );
}

#[test]
fn robustness_08_unknown_option_in_rule_and_cycles_name_the_rule() {
    let e = plan_err(&format!(
        "{HEAD}options:\n  fast: {{feature: fast, depends-on: \"smal && arch == arm\"}}\n  small: {{}}\n"
    ));
    assert!(
        e.contains("unknown option `smal`")
            && e.contains("did you mean `small`")
            && e.contains(":4:"),
        "{e}"
    );
    let e = plan_err(&format!(
        "{HEAD}options:\n  fast: {{depends-on: \"small\"}}\n  small: {{default: \"fast\"}}\n"
    ));
    assert!(
        e.contains("cycle") && e.contains("fast") && e.contains("small"),
        "{e}"
    );
    let e = plan_err(&format!(
        "{HEAD}options:\n  fast: {{depends-on: \"small &&\"}}\n  small: {{}}\n"
    ));
    assert!(e.contains("ends too early") && e.contains(":4:"), "{e}");
}

#[test]
fn every_problem_is_reported_at_once() {
    let e = plan_err(&format!(
        "{HEAD}mode: kernel\noptions:\n  fast: {{feature: \"-x\"}}\naxes:\n  arch: [arm, mips]\n"
    ));
    assert!(
        e.contains("mode `kernel`") && e.contains("`-x`") && e.contains("arch `mips`"),
        "{e}"
    );
    assert!(e.contains("3 problems"), "{e}");
}

#[test]
fn bundled_configs_and_targets_all_load() {
    let repo = crate::util::repo();
    let files = std::fs::read_dir(repo.join("configs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .chain([repo.join("linkmatrix.yaml")]);
    for p in files {
        let o = run(&repo, &["plan", "--config", p.to_str().unwrap()]);
        assert!(o.status.success(), "{}: {}", p.display(), stderr(&o));
    }
}

fn readme_yaml_blocks() -> Vec<String> {
    let text = std::fs::read_to_string(crate::util::repo().join("README.md")).unwrap();
    let mut blocks = Vec::new();
    let mut cur: Option<String> = None;
    for line in text.lines() {
        match (&mut cur, line.trim_start()) {
            (None, "```yaml") => cur = Some(String::new()),
            (Some(b), "```") => {
                blocks.push(std::mem::take(b));
                cur = None;
            }
            (Some(b), _) => {
                b.push_str(line);
                b.push('\n');
            }
            _ => {}
        }
    }
    blocks
}

#[test]
fn every_yaml_block_in_the_readme_loads() {
    let blocks = readme_yaml_blocks();
    assert!(
        blocks.len() >= 2,
        "README has its matrix and target examples"
    );
    for block in blocks {
        if block.contains("uses: OWNER/linkmatrix@v0") {
            // A workflow step using the action: inputs it has.
            action_step_has_known_inputs(&block);
            continue;
        }
        let d = project();
        if block.contains("triple:") {
            // A target file: give it the platform it names.
            let repo = crate::util::repo();
            crate::util::copy_tree(
                &repo.join("fixtures/platform"),
                &d.path().join("fixtures/platform"),
            );
            crate::util::copy_tree(&repo.join("templates"), &d.path().join("templates"));
            write(d.path(), "targets/arm.yaml", &block);
            write(d.path(), "linkmatrix.yaml", "crate: .\ntargets: [arm]\n");
        } else {
            if block.contains("mode: bin") {
                // The "Firmware" example's crate and its features.
                write(
                    d.path(),
                    "Cargo.toml",
                    "[package]\nname = \"fw\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[features]\nshared = []\nsingle-core = []\n",
                );
            }
            write(d.path(), "linkmatrix.yaml", &block);
        }
        let o = run(d.path(), &["plan", "--format", "json"]);
        assert!(
            o.status.success(),
            "README block does not load:\n{block}\n{}",
            stderr(&o)
        );
    }
}

/// A typo'd literal in a comparison (`arch == amr`, `fast == ture`) made
/// the rule never hold and silently shrank the matrix: an error at the
/// rule, with the closest value.
#[test]
fn a_typod_literal_in_a_rule_is_an_error_with_the_closest_value() {
    let e = plan_err(&format!(
        "{HEAD}options:\n  fast: {{feature: fast, depends-on: \"arch == amr\"}}\n  small: {{}}\naxes:\n  fast: [false, true]\n"
    ));
    assert!(
        e.contains("linkmatrix.yaml:4:") && e.contains("`amr`") && e.contains("did you mean `arm`"),
        "{e}"
    );
    let e = plan_err(&format!(
        "{HEAD}options:\n  fast: {{feature: fast}}\n  small: {{depends-on: \"fast == ture\"}}\naxes:\n  fast: [false, true]\n"
    ));
    assert!(
        e.contains("linkmatrix.yaml:5:")
            && e.contains("`ture`")
            && e.contains("did you mean `true`"),
        "{e}"
    );
    let e = plan_err(&format!(
        "{HEAD}options:\n  mode: {{type: choice, values: [fast, small]}}\n  x: {{depends-on: \"mode != smal\"}}\n"
    ));
    assert!(e.contains("did you mean `small`"), "{e}");
    // The right values (and a choice disabled by its rule, `off`) are fine.
    let d = project();
    write(
        d.path(),
        "linkmatrix.yaml",
        &format!(
            "{HEAD}options:\n  fast: {{feature: fast, depends-on: \"arch == arm\"}}\n  mode: {{type: choice, values: [a, b], depends-on: \"fast == true\"}}\n  small: {{depends-on: \"mode != off && profile == release\"}}\naxes:\n  fast: [false, true]\n"
        ),
    );
    let o = run(d.path(), &["plan"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// `when:` settings are checked before anything builds: a value the
/// option does not have, a variable or flag linkmatrix sets itself, a
/// malformed cfg, and two options owning one variable.
#[test]
fn option_settings_are_checked_against_what_linkmatrix_sets() {
    let opt = |when: &str| {
        plan_err(&format!(
            "{HEAD}options:\n  log:\n    type: choice\n    values: [info, off]\n    when:\n{when}"
        ))
    };
    let e = opt("      inf: {env: {DEFMT_LOG: info}}\n");
    assert!(
        e.contains("linkmatrix.yaml:8:") && e.contains("`inf`"),
        "{e}"
    );
    let e = opt("      info: {env: {RUSTFLAGS: -Copt-level=s}}\n");
    assert!(
        e.contains("`RUSTFLAGS` is set by linkmatrix") && e.contains("use `rustflags:`"),
        "{e}"
    );
    let e = opt("      info: {cargo-args: [--features, x]}\n");
    assert!(e.contains("`--features` is set by linkmatrix"), "{e}");
    let e = opt("      info: {cfg: [\"backend=custom\"]}\n");
    assert!(
        e.contains("cfg `backend=custom`") && e.contains("`name=\"value\"`"),
        "{e}"
    );
    let e = plan_err(&format!(
        "{HEAD}options:\n  a:\n    when: {{true: {{env: {{LEVEL: a}}}}}}\n  b:\n    when: {{false: {{env: {{LEVEL: b}}}}}}\n"
    ));
    assert!(
        e.contains("linkmatrix.yaml:7:") && e.contains("also set by option `a`"),
        "{e}"
    );
}

/// `memory:` takes only `origin` and `size`, as addresses or sizes.
#[test]
fn memory_overrides_are_checked() {
    let e = plan_err(&format!("{HEAD}memory: {{origin: zero}}\n"));
    assert!(
        e.contains("linkmatrix.yaml:3:") && e.contains("`zero` is not an address"),
        "{e}"
    );
    let e = plan_err(&format!("{HEAD}memory: {{start: 0x0}}\n"));
    assert!(e.contains("`start` is not one of origin, size"), "{e}");
    // Firmware links with its own memory.x: a `memory:` there would be a
    // setting no cell has.
    let e = plan_err(
        "crate: .\nmode: bin\ntargets: [thumbv6m-none-eabi]\nmemory: {origin: \"0x08000000\"}\n",
    );
    assert!(
        e.contains("linkmatrix.yaml:4:") && e.contains("memory.x decides"),
        "{e}"
    );
    // And `bin:` is a bin-mode key.
    let e = plan_err(&format!("{HEAD}bin: app\n"));
    assert!(e.contains("`bin` needs `mode: bin`"), "{e}");
}

#[test]
fn size_budgets_are_checked_where_they_are_written() {
    let e = plan_err(&format!(
        "{HEAD}policy:\n  size:\n    max: {{flash: 64KB, ram: 120%}}\n    max-growth: lots\n"
    ));
    assert!(
        e.contains("linkmatrix.yaml:5:") && e.contains("policy.size.max.flash `64KB`"),
        "{e}"
    );
    assert!(e.contains("policy.size.max.ram `120%`"), "{e}");
    assert!(
        e.contains("linkmatrix.yaml:6:") && e.contains("policy.size.max-growth `lots`"),
        "{e}"
    );
    let e = plan_err(&format!("{HEAD}policy:\n  size:\n    max: {{rom: 1K}}\n"));
    assert!(e.contains("rom"), "{e}");
    // Good values load.
    let d = crate::util::project();
    write(
        d.path(),
        "linkmatrix.yaml",
        &format!(
            "{HEAD}policy:\n  size:\n    max: {{flash: 64K, ram: 90%}}\n    max-growth: 0.5%\n"
        ),
    );
    let o = run(d.path(), &["plan"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// A directory without linkmatrix.yaml (here a virtual workspace root)
/// once ran the bundled kalloc demo in place of the user's crate: now it is
/// an error that says what to do, and nothing is built.
#[test]
fn no_matrix_file_is_an_error_never_the_demo() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "Cargo.toml",
        "[workspace]\nmembers = [\"a\"]\nresolver = \"2\"\n",
    );
    write(
        d.path(),
        "a/Cargo.toml",
        "[package]\nname = \"a\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    );
    write(d.path(), "a/src/lib.rs", "#![no_std]\n");
    for cmd in [&["plan"][..], &["check", "--no-provision"]] {
        let o = run(d.path(), cmd);
        let e = stderr(&o);
        assert_eq!(
            o.status.code(),
            Some(2),
            "{cmd:?}: {e}{}",
            crate::util::stdout(&o)
        );
        assert!(
            e.contains("no linkmatrix.yaml")
                && e.contains("linkmatrix init")
                && e.contains("--config"),
            "{e}"
        );
        assert!(!crate::util::stdout(&o).contains("kalloc"), "ran the demo");
        assert!(!d.path().join("target").exists(), "built something");
    }
    // In linkmatrix's own repository, its own matrix is found.
    let o = run(&crate::util::repo(), &["plan"]);
    assert!(
        crate::util::stdout(&o).contains("8 cells from linkmatrix.yaml"),
        "{}",
        stderr(&o)
    );
}

/// An installed linkmatrix shows what it does from any directory:
/// `--config bundled:NAME` is a matrix of the bundle (the embedded copy
/// here, as from a registry install), and a wrong name lists the others.
#[test]
fn a_bundled_matrix_runs_from_any_directory() {
    let d = tempfile::tempdir().unwrap();
    let o = crate::util::linkmatrix(d.path())
        .env("LINKMATRIX_BUNDLE", "embedded")
        .env("LINKMATRIX_CACHE_DIR", d.path().join("cache"))
        .args(["plan", "--config", "bundled:configs/percpu-2021.yaml"])
        .output()
        .unwrap();
    let out = crate::util::stdout(&o);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        out.contains("arm-smp-nommu-release") && out.contains("8 cells from"),
        "{out}"
    );
    let o = run(d.path(), &["plan", "--config", "bundled:configs/nope.yaml"]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(
        e.contains("no such bundled matrix") && e.contains("bundled:configs/percpu-2021.yaml"),
        "{e}"
    );
    let left: Vec<_> = std::fs::read_dir(d.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(left, ["cache"], "wrote into the directory it ran in");
}

/// A README workflow step that uses the action names only inputs
/// `action.yml` has.
fn action_step_has_known_inputs(block: &str) {
    let action: serde_json::Value = serde_saphyr::from_str(
        &std::fs::read_to_string(crate::util::repo().join("action.yml")).unwrap(),
    )
    .unwrap();
    let steps: serde_json::Value = serde_saphyr::from_str(block).unwrap();
    for step in steps.as_array().unwrap() {
        for key in step["with"].as_object().unwrap().keys() {
            assert!(
                action["inputs"].get(key).is_some(),
                "README uses the action with `{key}`, which it does not take:\n{block}"
            );
        }
    }
}

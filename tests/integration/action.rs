//! The GitHub Action (`action.yml`) and the workflow template that uses
//! it: linted (schema, actionlint, zizmor) when the linters are installed,
//! and their scripts run with the template's inputs, every command they
//! make parsed by the CLI.
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::util::{linkmatrix, stderr, stdout};

/// A YAML file as JSON (GitHub's inputs and `with:` values are strings).
fn yaml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    serde_saphyr::from_str::<Value>(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn as_input(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Every `run:` script of a workflow or action (for the `${{` check).
fn run_scripts(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("run", Value::String(s)) => out.push(s.clone()),
                    _ => run_scripts(x, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| run_scripts(x, out)),
        _ => {}
    }
}

/// A linter the test command installs: `None` (skip) when it is not on
/// PATH, unless `LINKMATRIX_REQUIRE_LINTERS=1` (scripts/test.sh).
fn linter(name: &str) -> Option<Command> {
    let there = Command::new(name)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !there {
        assert!(
            std::env::var_os("LINKMATRIX_REQUIRE_LINTERS").is_none(),
            "{name} is not installed (scripts/test.sh installs it with pip)"
        );
        return None;
    }
    Some(Command::new(name))
}

fn passes(c: &mut Command, what: &str) -> String {
    let o = c.output().unwrap();
    let text = format!("{}{}", stdout(&o), stderr(&o));
    assert!(o.status.success(), "{what}:\n{text}");
    text
}

/// `action.yml` is a valid action (GitHub's action schema, as
/// check-jsonschema vendors it), the template a valid workflow that uses
/// it with inputs it has (actionlint, with the template pointed at this
/// `action.yml`), both pass zizmor's audits (tags allowed for `uses:`), and
/// no `run:` script expands a `${{ … }}`: every input reaches them through
/// the environment. The linters run when installed (scripts/test.sh
/// installs them and requires them).
#[test]
fn the_action_and_the_template_lint_clean() {
    let action = crate::util::repo().join("action.yml");
    let template = crate::util::repo().join("templates/github/linkmatrix.yml");
    let mut scripts = Vec::new();
    run_scripts(&yaml(&action), &mut scripts);
    assert!(scripts.len() >= 3, "{scripts:?}");
    run_scripts(&yaml(&template), &mut scripts);
    for s in scripts {
        assert!(!s.contains("${{"), "an expression in a script:\n{s}");
    }
    let t = yaml(&template);
    assert_eq!(
        t["permissions"],
        serde_json::json!({}),
        "least privilege by default"
    );
    assert_eq!(
        t["jobs"]["gate"]["permissions"]["security-events"], "write",
        "the SARIF upload needs it"
    );
    if let Some(mut c) = linter("check-jsonschema") {
        passes(
            c.args(["--builtin-schema", "vendor.github-actions"])
                .arg(&action),
            "action.yml against the action schema",
        );
    }
    if let Some(mut c) = linter("check-jsonschema") {
        passes(
            c.args(["--builtin-schema", "vendor.github-workflows"])
                .arg(&template),
            "the template against the workflow schema",
        );
    }
    if let Some(mut c) = linter("actionlint") {
        // The template as a repository that vendors the action at its root:
        // actionlint checks each `with:` against action.yml's inputs.
        let d = tempfile::tempdir().unwrap();
        let text = std::fs::read_to_string(&template).unwrap();
        assert!(text.contains("uses: OWNER/linkmatrix@v0"));
        crate::util::write(
            d.path(),
            ".github/workflows/linkmatrix.yml",
            &text.replace("uses: OWNER/linkmatrix@v0", "uses: ./"),
        );
        std::fs::copy(&action, d.path().join("action.yml")).unwrap();
        std::fs::create_dir(d.path().join(".git")).unwrap();
        passes(
            c.current_dir(d.path())
                .args(["-no-color", ".github/workflows/linkmatrix.yml"]),
            "actionlint",
        );
    }
    if let Some(mut c) = linter("zizmor") {
        let out = passes(
            c.args(["--offline", "--no-progress", "--config"])
                .arg(crate::util::repo().join("tests/integration/zizmor.yml"))
                .arg(&template)
                .arg(&action),
            "zizmor",
        );
        assert!(out.contains("No findings"), "{out}");
    }
}

/// The action's scripts, run by bash as GitHub runs them, with the
/// template's inputs (a real `plan --format github --shards 4` entry for
/// the matrix) and a stand-in `linkmatrix` that records its arguments:
/// every command the template makes parses as the CLI takes it, and the
/// step's exit follows `fail-on-findings`.
#[test]
fn the_template_and_the_action_run_real_commands() {
    let repo = crate::util::repo();
    let action = yaml(&repo.join("action.yml"));
    let template = yaml(&repo.join("templates/github/linkmatrix.yml"));
    // A matrix entry as the plan job makes it.
    let o = linkmatrix(&repo)
        .args(["plan", "--format", "github", "--shards", "4"])
        .output()
        .unwrap();
    let plan: Value = serde_json::from_slice(&o.stdout).unwrap();
    let entry = plan["include"][0].clone();
    assert!(entry["cells"].as_str().unwrap().contains('-'), "{plan}");

    let d = tempfile::tempdir().unwrap();
    let stub = d.path().join("root/bin/linkmatrix");
    let log = d.path().join("argv.log");
    crate::util::write(
        d.path(),
        "root/bin/linkmatrix",
        &format!(
            "#!/bin/bash\nprintf '%s\\0' \"$@\" >> {log}\nprintf '\\n' >> {log}\ncase \"$*\" in *' check '*|check*) exit 1;; *merge*) exit 1;; esac\necho '{{\"include\":[]}}'\n",
            log = log.display()
        ),
    );
    std::fs::set_permissions(
        &stub,
        <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o755),
    )
    .unwrap();
    crate::util::write(d.path(), "shards/linkmatrix-shard-0/report.json", "{}");
    crate::util::write(d.path(), "linkmatrix-timings.json", "{}");

    let steps = action["runs"]["steps"].as_array().unwrap();
    let mut seen = Vec::new();
    assert_eq!(
        template["jobs"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["check", "gate", "plan"]
    );
    for job in ["plan", "check", "gate"].map(|j| &template["jobs"][j]) {
        for step in job["steps"].as_array().unwrap() {
            if step["uses"] != "OWNER/linkmatrix@v0" {
                continue;
            }
            let mut inputs: serde_json::Map<String, Value> = action["inputs"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(as_input(&v["default"]))))
                .collect();
            for (k, v) in step["with"].as_object().unwrap() {
                assert!(inputs.contains_key(k), "the action has no input `{k}`");
                let v = as_input(v)
                    .replace("${{ matrix.shard }}", entry["shard"].as_str().unwrap())
                    .replace("${{ matrix.cells }}", entry["cells"].as_str().unwrap())
                    .replace("${{ strategy.job-index }}", "0");
                assert!(
                    !v.contains("${{"),
                    "an expression this test does not know: {v}"
                );
                inputs.insert(k.clone(), Value::String(v));
            }
            let command = as_input(&inputs["command"]);
            for s in steps.iter().filter(|s| s.get("run").is_some()) {
                let id = s["id"].as_str().unwrap_or("");
                // The install steps are the runner's business.
                if id == "keys" || as_input(&s["run"]).contains("cargo install") {
                    continue;
                }
                let cond = as_input(&s["if"]);
                if cond == "inputs.setup == 'true'" && inputs["setup"] != "true" {
                    continue;
                }
                let mut c = Command::new("bash");
                c.args(["--noprofile", "--norc", "-eo", "pipefail", "-c"])
                    .arg(as_input(&s["run"]))
                    .current_dir(d.path())
                    .env("GITHUB_OUTPUT", d.path().join("output"));
                for (k, v) in s["env"].as_object().into_iter().flatten() {
                    let mut v = as_input(v).replace(
                        "${{ steps.keys.outputs.bin-root }}",
                        &d.path().join("root").display().to_string(),
                    );
                    for (name, value) in &inputs {
                        v = v.replace(
                            &format!("${{{{ inputs.{name} }}}}"),
                            value.as_str().unwrap(),
                        );
                    }
                    assert!(
                        !v.contains("${{"),
                        "an expression this test does not know: {v}"
                    );
                    c.env(k, v);
                }
                let o = c.output().unwrap();
                let findings_fail = inputs["fail-on-findings"] != "false";
                if id == "run" && command != "plan" {
                    // The stand-in found something (exit 1).
                    assert_eq!(
                        o.status.success(),
                        !findings_fail,
                        "{command}: {}",
                        stderr(&o)
                    );
                } else {
                    assert!(
                        o.status.success(),
                        "{command}: {}{}",
                        stdout(&o),
                        stderr(&o)
                    );
                }
            }
            seen.push(command);
        }
    }
    assert_eq!(seen, ["plan", "check", "merge"]);
    let calls: Vec<Vec<String>> = std::fs::read_to_string(&log)
        .unwrap()
        .split('\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            l.split('\0')
                .filter(|a| !a.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .collect();
    for argv in &calls {
        let parsed = <linkmatrix::cli::Cli as clap::Parser>::try_parse_from(
            std::iter::once("linkmatrix").chain(argv.iter().map(String::as_str)),
        );
        assert!(parsed.is_ok(), "{argv:?}: {}", parsed.unwrap_err());
    }
    let joined: Vec<String> = calls.iter().map(|a| a.join(" ")).collect();
    assert_eq!(joined.len(), 4, "{joined:#?}");
    assert_eq!(
        joined[0],
        "plan --format github --shards 4 --timings linkmatrix-timings.json"
    );
    assert_eq!(joined[1], "setup");
    assert_eq!(
        joined[2],
        format!(
            "check --shard {} --shard-cells {} --report json=report.json",
            entry["shard"].as_str().unwrap(),
            entry["cells"].as_str().unwrap()
        )
    );
    assert!(
        joined[3].starts_with("merge --report json=linkmatrix-timings.json --report sarif=")
            && joined[3].ends_with(" shards/linkmatrix-shard-0/report.json"),
        "{}",
        joined[3]
    );
}

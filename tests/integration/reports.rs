//! Reports and the CI gate: JUnit, SARIF (schema-validated), GitHub
//! commands and step summary, HTML in headless Chromium, baselines,
//! shards and merge, and the workflow template's commands.
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::util::{linkmatrix, project_copy, repo, stderr, stdout};

const PERCPU: &str = "configs/percpu-2021.yaml";

fn check(cwd: &Path, args: &[&str]) -> (i32, String, String) {
    let o = linkmatrix(cwd)
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY")
        .args(["check", "--no-provision"])
        .args(args)
        .output()
        .unwrap();
    (o.status.code().unwrap_or(-1), stdout(&o), stderr(&o))
}

fn reports(dir: &Path) -> Vec<String> {
    ["json", "junit", "sarif", "github", "markdown", "html"]
        .iter()
        .map(|k| format!("{k}={}", dir.join(format!("r.{k}")).display()))
        .collect()
}

#[test]
fn every_report_kind_from_one_run() {
    let d = tempfile::tempdir().unwrap();
    let mut args = vec!["--config", PERCPU];
    let specs = reports(d.path());
    for s in &specs {
        args.push("--report");
        args.push(s);
    }
    let (code, _, err) = check(&repo(), &args);
    assert_eq!(code, 1, "{err}");

    // JUnit: one testcase per cell, failures exactly for the failing cell.
    let xml = std::fs::read_to_string(d.path().join("r.junit")).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let cases: Vec<roxmltree::Node<'_, '_>> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), 8);
    let failing: Vec<&str> = cases
        .iter()
        .filter(|c| c.children().any(|x| x.has_tag_name("failure")))
        .map(|c| c.attribute("name").unwrap())
        .collect();
    assert_eq!(failing, ["arm-smp-nommu-release"]);
    let failure = cases
        .iter()
        .flat_map(roxmltree::Node::children)
        .find(|x| x.has_tag_name("failure"))
        .unwrap();
    assert_eq!(failure.attribute("type"), Some("undefined-symbol"));
    assert!(
        failure
            .text()
            .unwrap()
            .contains("pcpu_post_unmap_tlb_flush")
    );

    // SARIF: valid against the OASIS 2.1.0 schema, at a line in fixtures/kalloc.
    let sarif: Value =
        serde_json::from_slice(&std::fs::read(d.path().join("r.sarif")).unwrap()).unwrap();
    let schema: Value = serde_json::from_slice(
        &std::fs::read(repo().join("fixtures/schemas/sarif-schema-2.1.0.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&sarif)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "SARIF invalid: {errors:#?}");
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["ruleId"], "undefined-symbol");
    let loc = &results[0]["locations"][0]["physicalLocation"];
    assert!(
        loc["artifactLocation"]["uri"]
            .as_str()
            .unwrap()
            .starts_with("fixtures/kalloc/"),
        "{loc}"
    );
    assert!(loc["region"]["startLine"].as_u64().unwrap() > 0);

    // GitHub: an ::error at file= and line=, a group per cell.
    let gh = std::fs::read_to_string(d.path().join("r.github")).unwrap();
    let err_line = gh.lines().find(|l| l.starts_with("::error ")).unwrap();
    assert!(
        err_line.contains("file=fixtures/kalloc/") && err_line.contains(",line="),
        "{err_line}"
    );
    assert_eq!(gh.matches("::group::").count(), 8);

    // Markdown and JSON agree on the summary.
    let md = std::fs::read_to_string(d.path().join("r.markdown")).unwrap();
    assert!(md.contains("8 cells, 7 pass, 1 fail"), "{md}");
    let json: Value =
        serde_json::from_slice(&std::fs::read(d.path().join("r.json")).unwrap()).unwrap();
    assert_eq!(json["summary"]["fail"], 1);

    // HTML: self-contained, and the grid shows the failing cell in Chromium.
    let html = std::fs::read_to_string(d.path().join("r.html")).unwrap();
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "network asset in the HTML report"
    );
    let html_path = d.path().join("r.html");
    let dom = chromium(&["--dump-dom"], &html_path);
    assert!(
        dom.contains("data-cell=\"arm-smp-nommu-release\" data-status=\"fail\""),
        "grid: {dom}"
    );
    assert_eq!(dom.matches("data-status=\"pass\"").count(), 7);
    assert!(
        dom.contains("pcpu_post_unmap_tlb_flush"),
        "the failing cell is shown selected"
    );
    let shot = d.path().join("r.png");
    chromium(
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1400,900",
        ],
        &html_path,
    );
    let png = std::fs::read(&shot).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "no screenshot");
    let keep = repo().join("target/linkmatrix-report-test");
    let _ = std::fs::create_dir_all(&keep);
    let _ = std::fs::copy(&html_path, keep.join("percpu-2021.html"));
    let _ = std::fs::copy(&shot, keep.join("percpu-2021.png"));
}

fn chromium(args: &[&str], page: &Path) -> String {
    let bin = ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .map(PathBuf::from)
        .find(|b| {
            Command::new(b)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .expect("Chromium is not installed (scripts/test.sh installs Debian's chromium)");
    let profile = tempfile::tempdir().unwrap();
    let o = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=2000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The HTML report once escaped `<!--` as `<\\!--`, which is not JSON: the
/// page's `JSON.parse` threw and it was blank. A finding whose text holds
/// `<!--`, `</script>` and non-ASCII now renders, text intact.
#[test]
fn the_html_report_renders_findings_holding_markup_and_non_ascii() {
    let d = tempfile::tempdir().unwrap();
    let o = linkmatrix(&repo())
        .args([
            "check",
            "--no-provision",
            "--config",
            PERCPU,
            "--cell",
            "arm-smp-nommu-release",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let mut r: Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&o)));
    let nasty = "before <!-- comment --> </script><script>x()</script> & ünïcödé ✓ after";
    r["cells"][0]["findings"][0]["message"] = Value::String(nasty.to_owned());
    let shard = d.path().join("shard.json");
    std::fs::write(&shard, serde_json::to_vec(&r).unwrap()).unwrap();
    let html_path = d.path().join("r.html");
    let o = linkmatrix(&repo())
        .arg("merge")
        .arg(&shard)
        .arg("--report")
        .arg(format!("html={}", html_path.display()))
        .output()
        .unwrap();
    assert!(html_path.is_file(), "{}", stderr(&o));
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert_eq!(
        html.matches("</script>").count(),
        html.matches("<script").count(),
        "an early </script>"
    );
    let dom = chromium(&["--dump-dom"], &html_path);
    assert!(
        dom.contains("data-cell=\"arm-smp-nommu-release\""),
        "blank page: {dom}"
    );
    assert!(
        dom.contains("before &lt;!-- comment --&gt; &lt;/script&gt;&lt;script&gt;x()&lt;/script&gt; &amp; ünïcödé ✓ after"),
        "{dom}"
    );
}

#[test]
fn github_actions_gets_annotations_and_a_step_summary() {
    let d = tempfile::tempdir().unwrap();
    let summary = d.path().join("summary.md");
    std::fs::write(&summary, "earlier step\n").unwrap();
    let o = linkmatrix(&repo())
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .args([
            "check",
            "--no-provision",
            "--config",
            PERCPU,
            "--cell",
            "arm-*",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(
        out.lines()
            .any(|l| l.starts_with("::error file=fixtures/kalloc/")),
        "{out}"
    );
    let s = std::fs::read_to_string(&summary).unwrap();
    assert!(
        s.starts_with("earlier step\n") && s.contains("| `arm-smp-nommu-release` |"),
        "{s}"
    );
}

#[test]
fn a_baseline_accepts_known_findings_and_fails_on_new_ones() {
    let d = project_copy();
    let base = d.path().join("baseline.json");
    let cfg = ["--config", PERCPU];
    let (code, _, err) = check(
        d.path(),
        &[cfg[0], cfg[1], "--write-baseline", base.to_str().unwrap()],
    );
    assert_eq!(code, 1, "{err}");
    let with_baseline = || {
        check(
            d.path(),
            &[
                cfg[0],
                cfg[1],
                "--baseline",
                base.to_str().unwrap(),
                "--format",
                "json",
            ],
        )
    };
    let (code, out, err) = with_baseline();
    assert_eq!(code, 0, "known findings pass: {err}");
    let r: Value = serde_json::from_str(&out).unwrap();
    let c = r["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "arm-smp-nommu-release")
        .unwrap();
    assert_eq!(c["status"], "pass");
    assert_eq!(c["findings"][0]["baseline"], true);
    // A new undefined symbol: the x86 platform stops defining a hook.
    let plat = d.path().join("fixtures/platform/x86/platform.c");
    let text = std::fs::read_to_string(&plat).unwrap().replace(
        "unsigned int platform_nr_cpus(void)\n{",
        "unsigned int platform_nr_cpus_gone(void)\n{",
    );
    std::fs::write(&plat, text.replace("EXPORT_SYMBOL(platform_nr_cpus);", "")).unwrap();
    let (code, out, _) = with_baseline();
    assert_eq!(code, 1, "a new finding fails the gate");
    let r: Value = serde_json::from_str(&out).unwrap();
    let new: Vec<&Value> = r["cells"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["findings"].as_array().unwrap())
        .filter(|f| f["baseline"] == false)
        .collect();
    assert!(
        !new.is_empty() && new.iter().all(|f| f["symbol"] == "platform_nr_cpus"),
        "{new:#?}"
    );
}

fn normalized(mut v: Value) -> Value {
    for c in v["cells"].as_array_mut().unwrap() {
        c["duration_ms"] = Value::from(0);
        c["cached"] = Value::Bool(false);
    }
    v
}

#[test]
fn two_shards_merged_equal_one_run() {
    // A project of its own: shard assignment reads durations from the
    // cache, which other tests running the same matrix would change.
    let d = project_copy();
    let (s1, s2) = (d.path().join("s1.json"), d.path().join("s2.json"));
    let (_, whole, err) = check(d.path(), &["--config", PERCPU, "--format", "json"]);
    let whole: Value = serde_json::from_str(&whole).unwrap_or_else(|e| panic!("{e}: {err}"));
    for (k, p) in [("1/2", &s1), ("2/2", &s2)] {
        let (code, _, err) = check(
            d.path(),
            &[
                "--config",
                PERCPU,
                "--shard",
                k,
                "--report",
                &format!("json={}", p.display()),
            ],
        );
        assert!(code == 0 || code == 1, "{err}");
        let part: Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
        assert_eq!(part["summary"]["skipped"], 4, "each shard runs half");
    }
    let o = linkmatrix(d.path())
        .args([
            "merge",
            s1.to_str().unwrap(),
            s2.to_str().unwrap(),
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "the merge gates: {}", stderr(&o));
    let merged: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(normalized(merged), normalized(whole));
}

/// Split a shell line into words, with GitHub expressions filled in.
fn words(line: &str) -> Vec<String> {
    let line = line
        .replace("${{ matrix.shard }}", "1/4")
        .replace("$SHARDS", "4")
        .replace("|| test $? -eq 1", "");
    let line = line
        .split(">>")
        .next()
        .unwrap()
        .replace("echo \"matrix=$(", "")
        .replace(")\"", "");
    shlex::split(&line).unwrap()
}

#[test]
fn the_workflow_template_uses_real_commands() {
    let text = std::fs::read_to_string(repo().join("templates/github/linkmatrix.yml")).unwrap();
    let mut seen = 0;
    for line in text.lines() {
        let Some(cmd) = line
            .trim()
            .strip_prefix("run: ")
            .or_else(|| line.trim().strip_prefix("- run: "))
        else {
            continue;
        };
        if !cmd.contains("linkmatrix ") || cmd.contains("cargo install") {
            continue;
        }
        let mut argv = words(cmd);
        let at = argv.iter().position(|w| w == "linkmatrix").unwrap();
        argv.drain(..at);
        // Globs the shell would expand: any path will do for parsing.
        let parsed = <linkmatrix::cli::Cli as clap::Parser>::try_parse_from(&argv);
        assert!(parsed.is_ok(), "{argv:?}: {}", parsed.unwrap_err());
        seen += 1;
    }
    assert!(
        seen >= 4,
        "expected the plan, setup, check and merge commands, saw {seen}"
    );
}

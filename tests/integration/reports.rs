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
    chromium_at(args, page, "")
}

/// Chromium on `page` with `fragment` (`#…`) after its address.
fn chromium_at(args: &[&str], page: &Path, fragment: &str) -> String {
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
        .arg(format!("file://{}{fragment}", page.display()))
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
        c.as_object_mut().unwrap().remove("cached_duration_ms");
    }
    // What each shard took is the merged report's alone.
    v.as_object_mut().unwrap().remove("shards");
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

/// Option names of the large report, in the order its ids name them.
const WIDE: [&str; 6] = ["syscon", "tsc2004", "hideep", "hycon", "goodix", "ili210x"];

/// A report of 128 cells (arm and x86 × six options), from the real
/// outcomes of two percpu cells: a cell fails like the real failing cell
/// when `arch=arm` and `syscon` and not `tsc2004` and (`hideep` or
/// `hycon`); one cell could not run; the others pass like the real
/// passing cell. Ids are long, as a wide matrix's are.
fn wide_report(d: &Path) -> PathBuf {
    let o = linkmatrix(&repo())
        .args(["check", "--no-provision", "--config", PERCPU])
        .args([
            "--cell",
            "arm-smp-nommu-release",
            "--cell",
            "x86-up-mmu-release",
        ])
        .args(["--format", "json"])
        .output()
        .unwrap();
    let real: Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&o)));
    let pick = |id: &str| {
        real["cells"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap()
            .clone()
    };
    let (fail, pass) = (pick("arm-smp-nommu-release"), pick("x86-up-mmu-release"));
    assert_eq!(
        (&fail["status"], &pass["status"]),
        (&"fail".into(), &"pass".into())
    );
    let mut cells = Vec::new();
    for arch in ["arm", "x86"] {
        for bits in 0..64u32 {
            let on = |i: usize| bits >> (WIDE.len() - 1 - i) & 1 == 1;
            let bug = arch == "arm" && on(0) && !on(1) && (on(2) || on(3));
            let mut c = if bug { fail.clone() } else { pass.clone() };
            let mut words = vec![arch.to_owned()];
            let mut options = serde_json::Map::new();
            options.insert("arch".into(), arch.into());
            for (i, name) in WIDE.iter().enumerate() {
                options.insert((*name).into(), on(i).into());
                words.push(if on(i) {
                    (*name).to_owned()
                } else {
                    format!("no-{name}")
                });
            }
            words.push("release".into());
            let id = words.join("-");
            c["options"] = options.into();
            c["target"] = (if arch == "arm" {
                "armv7a-none-eabi"
            } else {
                "x86_64-unknown-none"
            })
            .into();
            c["reproduce"] = format!("linkmatrix check --config {PERCPU} --cell {id}").into();
            c["id"] = id.into();
            if arch == "x86" && bits == 63 {
                c["status"] = "error".into();
                c["findings"] = Value::Array(Vec::new());
                c["error"] = "cargo build failed: the linker was killed (signal 9)".into();
            }
            cells.push(c);
        }
    }
    let mut r = real.clone();
    r["cells"] = Value::Array(cells);
    r["summary"] =
        serde_json::json!({"cells": 128, "pass": 115, "fail": 12, "error": 1, "skipped": 0});
    let path = d.join("wide.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&r).unwrap()).unwrap();
    path
}

/// The rows of the cell table in the dumped DOM, in order: (id, status,
/// hidden).
fn table_rows(dom: &str) -> Vec<(String, String, bool)> {
    dom.split("<tr ")
        .skip(1)
        .filter(|r| r.starts_with("class=\"row"))
        .map(|r| {
            let tag = &r[..r.find('>').unwrap()];
            let attr = |name: &str| {
                let at = tag.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
                tag[at..at + tag[at..].find('"').unwrap()].to_owned()
            };
            (
                attr("data-cell"),
                attr("data-status"),
                tag.contains(" hidden"),
            )
        })
        .collect()
}

/// 128 cells with 60-character ids once made one HTML row of 128 columns
/// and a text summary of 128 id lines. Now the page is a table of cells ×
/// option values, failing cells first, sorted and filtered from its
/// address as from its headers and box, a cell's findings one click away;
/// the text summary and Markdown group cells by status and name each by
/// the values where it differs from most cells. Checked in Chromium.
#[test]
fn a_report_of_128_cells_reads_as_a_sortable_filterable_table() {
    let d = tempfile::tempdir().unwrap();
    let json = wide_report(d.path());
    let (html_path, md_path) = (d.path().join("r.html"), d.path().join("r.md"));
    let o = linkmatrix(&repo())
        .env_remove("GITHUB_ACTIONS")
        .arg("merge")
        .arg(&json)
        .arg("--report")
        .arg(format!("html={}", html_path.display()))
        .arg("--report")
        .arg(format!("markdown={}", md_path.display()))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "an error cell: {}", stderr(&o));
    let text = stdout(&o);
    // Text: groups, not 128 id lines; cells by the values that differ.
    assert!(text.lines().count() < 60, "{text}");
    let fail_head = text
        .lines()
        .find(|l| l.starts_with("fail "))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        fail_head.starts_with("fail  12 cells  undefined-symbol: flush_tlb_kernel_range"),
        "{fail_head}"
    );
    assert!(
        text.lines()
            .any(|l| l.trim_start().starts_with("hideep syscon  ")),
        "a failing cell by its differing values: {text}"
    );
    assert!(text.contains("pass  115 cells"), "{text}");
    assert!(text.contains("the same in 11 more cells"), "{text}");
    assert!(
        text.ends_with("128 cells: 115 pass, 12 fail, 1 error, 0 skipped\n"),
        "{text}"
    );
    // Markdown: a row per group, the passing cells folded.
    let md = std::fs::read_to_string(&md_path).unwrap();
    assert_eq!(
        md.lines().filter(|l| l.starts_with("| ❌ fail |")).count(),
        1,
        "{md}"
    );
    assert!(md.contains("<details><summary>115 cells</summary>"), "{md}");
    assert_eq!(
        md.matches("### `").count(),
        1,
        "one finding section per group: {md}"
    );

    // HTML: the table, failing rows first, every cell a row.
    let dom = chromium(&["--dump-dom"], &html_path);
    assert!(
        dom.contains("id=\"table\"") && !dom.contains("id=\"grid\""),
        "{dom}"
    );
    let rows = table_rows(&dom);
    assert_eq!(rows.len(), 128);
    let statuses: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
    assert!(statuses[..12].iter().all(|s| *s == "fail"), "{statuses:?}");
    assert_eq!(statuses[12], "error");
    assert!(dom.contains("showing 128 of 128 cells"), "{dom}");
    assert!(
        dom.contains("pcpu_post_unmap_tlb_flush"),
        "the first failing cell's findings are shown"
    );
    for name in WIDE {
        assert!(
            dom.contains(&format!("data-col=\"{name}\"")),
            "no {name} column"
        );
    }

    // Sorted by a column and filtered, from the address.
    let view = "#view=table&sort=hycon&desc=1&filter=fail+tsc2004%3Dfalse+no-hideep";
    let dom = chromium_at(&["--dump-dom"], &html_path, view);
    let rows = table_rows(&dom);
    let shown: Vec<&(String, String, bool)> = rows.iter().filter(|r| !r.2).collect();
    assert_eq!(
        shown.len(),
        4,
        "arm syscon hycon no-hideep, goodix and ili210x either way"
    );
    assert!(
        shown
            .iter()
            .all(|r| r.1 == "fail" && r.0.contains("-no-tsc2004-no-hideep-hycon-")),
        "{shown:?}"
    );
    assert!(dom.contains("showing 4 of 128 cells"), "{dom}");
    assert!(
        dom.contains("class=\"sorted desc\""),
        "the sorted header is marked"
    );
    // Descending on hycon: the 64 hycon cells first, failing ones first
    // among them.
    assert!(
        rows[..64]
            .iter()
            .all(|r| r.0.contains("-hycon-") && !r.0.contains("-no-hycon-")),
        "{rows:?}"
    );
    assert_eq!(rows[0].1, "fail");

    // One cell named in the address is selected with its findings.
    let id = &shown[0].0;
    let dom = chromium_at(&["--dump-dom"], &html_path, &format!("#cell={id}"));
    assert!(dom.contains(&format!("<h2>{id} — fail</h2>")), "{dom}");

    let shot = d.path().join("wide.png");
    chromium_at(
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1600,1000",
        ],
        &html_path,
        view,
    );
    let png = std::fs::read(&shot).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "no screenshot");
    let keep = repo().join("target/linkmatrix-report-test");
    let _ = std::fs::create_dir_all(&keep);
    let _ = std::fs::copy(&html_path, keep.join("wide-128.html"));
    let _ = std::fs::copy(&shot, keep.join("wide-128.png"));
}

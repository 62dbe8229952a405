//! linkmatrix in CI: the user's compiler cache chained into every cell's
//! build, rustflags from the environment refused, shards balanced by the
//! last run's times and run as planned. The action and the workflow
//! template are in `action.rs`.
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::util::{linkmatrix, project_copy, stderr, stdout};

/// `sccache` with its own store and server port, stopped when dropped.
struct Sccache {
    dir: tempfile::TempDir,
    port: String,
}

impl Sccache {
    fn new() -> Self {
        let which = Command::new("sccache").arg("--version").output();
        assert!(
            which.is_ok_and(|o| o.status.success()),
            "sccache is not installed (scripts/test.sh installs Debian's sccache)"
        );
        Self {
            dir: tempfile::tempdir().unwrap(),
            // Not the user's server (4226), nor another test run's.
            port: (20_000 + std::process::id() % 20_000).to_string(),
        }
    }

    fn env(&self, c: &mut Command) {
        c.env("SCCACHE_DIR", self.dir.path())
            .env("SCCACHE_SERVER_PORT", &self.port)
            .env("SCCACHE_IDLE_TIMEOUT", "120");
    }

    fn sccache(&self, arg: &str) -> Value {
        let mut c = Command::new("sccache");
        self.env(&mut c);
        let o = c.args([arg, "--stats-format", "json"]).output().unwrap();
        serde_json::from_slice(&o.stdout).unwrap_or(Value::Null)
    }

    /// Wait until sccache has written what it compiled (it stores a
    /// result after answering the compiler's caller, so a loaded machine
    /// can start the next run before the last write).
    fn settle(&self) {
        for _ in 0..300 {
            let s = &self.sccache("--show-stats")["stats"];
            let misses: u64 = s["cache_misses"]["counts"]
                .as_object()
                .into_iter()
                .flatten()
                .filter_map(|(_, n)| n.as_u64())
                .sum();
            let done = s["cache_writes"].as_u64().unwrap_or(0)
                + s["cache_write_errors"].as_u64().unwrap_or(0);
            if done >= misses {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }

    /// Rust compilations served from the cache since the counters were
    /// zeroed.
    fn rust_hits(&self) -> u64 {
        self.sccache("--show-stats")["stats"]["cache_hits"]["counts"]["Rust"]
            .as_u64()
            .unwrap_or(0)
    }
}

impl Drop for Sccache {
    fn drop(&mut self) {
        let mut c = Command::new("sccache");
        self.env(&mut c);
        let _ = c.arg("--stop-server").output();
    }
}

/// What a cell decided, without times and paths: the same findings.
fn verdicts(r: &Value) -> Vec<(String, String, Vec<String>)> {
    r["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let syms = c["findings"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| format!("{} {}", f["kind"], f["symbol"]))
                .collect();
            (
                c["id"].as_str().unwrap().to_owned(),
                c["status"].as_str().unwrap().to_owned(),
                syms,
            )
        })
        .collect()
}

fn check_json(dir: &Path, extra: &[&str], cache: Option<&Sccache>) -> (Value, String) {
    let mut c = linkmatrix(dir);
    c.env_remove("RUSTC_WRAPPER")
        .env_remove("CARGO_BUILD_RUSTC_WRAPPER");
    if let Some(s) = cache {
        c.env("RUSTC_WRAPPER", "sccache");
        s.env(&mut c);
    }
    let o = c
        .args(["check", "--config", "configs/percpu-2021.yaml"])
        .args(["--cell", "arm-smp-*", "--format", "json"])
        .args(extra)
        .output()
        .unwrap();
    let err = stderr(&o);
    let r: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {err}"));
    assert_eq!(o.status.code(), Some(1), "{err}\n{r:#}");
    (r, err)
}

/// A `RUSTC_WRAPPER` (sccache, the usual compiler cache in Rust CI) is
/// kept: linkmatrix's wrapper runs it for every compilation, so a second
/// cold run (no build directories, no cached cells) is served compiled
/// crates by sccache, and decides the same. `-v` shows the chain, and the
/// cell cache key covers the wrapper: without it the cells run again.
#[test]
fn a_cell_built_through_sccache_hits_its_cache_on_a_second_cold_run() {
    let s = Sccache::new();
    let d = project_copy();
    let (first, _) = check_json(d.path(), &[], Some(&s));
    s.settle();
    std::fs::remove_dir_all(d.path().join("target/linkmatrix")).unwrap();
    s.sccache("--zero-stats");
    let (second, err) = check_json(d.path(), &["-v"], Some(&s));
    let hits = s.rust_hits();
    // Each cell's build of kalloc (two feature sets) comes from sccache.
    assert!(hits >= 2, "sccache hits on the cold re-run: {hits}\n{err}");
    assert_eq!(verdicts(&first), verdicts(&second));
    assert_eq!(
        verdicts(&second)
            .iter()
            .filter(|v| v.1 == "fail")
            .map(|v| (v.0.as_str(), v.2.clone()))
            .collect::<Vec<_>>(),
        [(
            "arm-smp-nommu-release",
            vec!["\"undefined-symbol\" \"flush_tlb_kernel_range\"".to_owned()]
        )]
    );
    assert!(
        err.lines().any(|l| l.contains("cargo rustc")
            && l.contains("LINKMATRIX_WRAP_CHAIN=")
            && l.contains("sccache")),
        "-v does not show the chained wrapper:\n{err}"
    );
    // All cached with the same wrapper; without it, another build.
    let (cached, _) = check_json(d.path(), &[], Some(&s));
    assert!(
        cached["cells"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["cached"] == true)
    );
    let (plain, _) = check_json(d.path(), &[], None);
    assert!(
        plain["cells"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["cached"] == false),
        "served from a cache built through another rustc wrapper: {plain:#}"
    );
    assert_eq!(verdicts(&first), verdicts(&plain));
}

/// A tiny crate with a matrix of one bare triple.
fn one_triple_project() -> tempfile::TempDir {
    let d = crate::util::project();
    crate::util::write(
        d.path(),
        "linkmatrix.yaml",
        "crate: .\ntargets: [x86_64-unknown-none]\naxes: {arch: [x86_64-unknown-none]}\n",
    );
    d
}

/// `RUSTFLAGS`, `CARGO_ENCODED_RUSTFLAGS` and `CARGO_BUILD_RUSTFLAGS` in the
/// environment are refused before anything is built, with the matrix's way
/// (`when: … rustflags:`), never applied behind the matrix's back or
/// dropped without a word; set but blank, they are not flags at all.
#[test]
fn environment_rustflags_are_refused_with_the_matrix_way() {
    let d = one_triple_project();
    for (var, value) in [
        ("RUSTFLAGS", "-Dwarnings"),
        ("CARGO_ENCODED_RUSTFLAGS", "-C\x1ftarget-cpu=native"),
        ("CARGO_BUILD_RUSTFLAGS", "--cfg=x"),
    ] {
        let o = linkmatrix(d.path())
            .env(var, value)
            .args(["check", "--no-provision"])
            .output()
            .unwrap();
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{var}: {e}{}", stdout(&o));
        assert!(
            e.contains(&format!("{var} is set in the environment"))
                && e.contains("rustflags:")
                && e.contains("when:")
                && e.contains(&format!("env -u {var}")),
            "{e}"
        );
        assert!(!d.path().join("target").exists(), "{var}: built something");
    }
    // Blank: nothing to apply, nothing refused (no cell selected: nothing
    // is built either).
    let o = linkmatrix(d.path())
        .env("RUSTFLAGS", " ")
        .args(["check", "--no-provision", "--cell", "none-*"])
        .output()
        .unwrap();
    assert!(
        !stderr(&o).contains("is set in the environment"),
        "{}",
        stderr(&o)
    );
}

/// A `RUSTC_WRAPPER` that is not there is refused before any cell runs,
/// naming where it was set: every compilation would fail through it.
#[test]
fn a_missing_rustc_wrapper_is_refused_naming_it() {
    let d = one_triple_project();
    let o = linkmatrix(d.path())
        .env("RUSTC_WRAPPER", "no-such-cache-xyz")
        .args(["check", "--no-provision"])
        .output()
        .unwrap();
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(
        e.contains("RUSTC_WRAPPER") && e.contains("no-such-cache-xyz"),
        "{e}"
    );
    assert!(!d.path().join("target").exists());
}

/// `plan --shards N` of the percpu matrix, as a table.
fn plan_table(dir: &Path, n: &str) -> String {
    let o = linkmatrix(dir)
        .args([
            "plan",
            "--config",
            "configs/percpu-2021.yaml",
            "--shards",
            n,
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o)
}

fn plan_json(dir: &Path, args: &[&str]) -> Value {
    let o = linkmatrix(dir)
        .args(["plan", "--config", "configs/percpu-2021.yaml"])
        .args(args)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(&o)))
}

/// `plan --shards N` splits by the last run's cell times (its report, or
/// the cache) and says each shard's expected time, by count without them;
/// every shard job runs the plan's list (`--shard-cells`), a cached cell's
/// report keeps the time it took when it ran, and `merge` says what each
/// shard took and refuses a merge that leaves a cell unrun.
#[test]
fn shards_are_balanced_by_the_last_runs_times_and_run_as_planned() {
    let d = project_copy();
    // No earlier times: by count, expected unknown.
    let table = plan_table(d.path(), "3");
    assert!(
        table.contains("SHARD")
            && table.contains("shard 3/3: 2 cells, expected unknown")
            && table.contains("(no earlier cell times: split by count)"),
        "{table}"
    );
    let whole = d.path().join("whole.json");
    let o = linkmatrix(d.path())
        .args(["check", "--config", "configs/percpu-2021.yaml", "--report"])
        .arg(format!("json={}", whole.display()))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let times: Value = serde_json::from_slice(&std::fs::read(&whole).unwrap()).unwrap();
    let took = |id: &str| {
        times["cells"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap()["duration_ms"]
            .as_u64()
            .unwrap()
    };
    let m = plan_json(
        d.path(),
        &[
            "--format",
            "github",
            "--shards",
            "2",
            "--timings",
            "whole.json",
        ],
    );
    let entries = m["include"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{m}");
    let mut all: Vec<&str> = Vec::new();
    let mut loads = Vec::new();
    for e in entries {
        let cells: Vec<&str> = e["cells"].as_str().unwrap().split(',').collect();
        let sum: u64 = cells.iter().map(|c| took(c)).sum();
        assert_eq!(e["expected_ms"].as_u64(), Some(sum), "{e}");
        assert!(e["expected"].as_str().unwrap().ends_with('s'), "{e}");
        loads.push(sum);
        all.extend(cells);
    }
    all.sort_unstable();
    assert_eq!(all.len(), 8);
    all.dedup();
    assert_eq!(all.len(), 8, "a cell in two shards: {m}");
    // Longest first onto the least loaded: no shard waits on another by
    // more than the longest cell.
    let longest = (0..8)
        .map(|i| times["cells"][i]["duration_ms"].as_u64().unwrap())
        .max()
        .unwrap();
    assert!(loads[0].abs_diff(loads[1]) <= longest, "{loads:?} {m}");
    // The cache gives the same times, and says so.
    let table = plan_table(d.path(), "2");
    assert!(
        table.contains("(balanced by the cell times in the cache)"),
        "{table}"
    );

    // Each shard job runs its entry's cells, served from the cache here;
    // its report keeps what they took when they ran.
    let mut reports = Vec::new();
    for e in entries {
        let k = e["shard"].as_str().unwrap();
        let p = d.path().join(format!("shard-{}.json", &k[..1]));
        let o = linkmatrix(d.path())
            .args([
                "check",
                "--config",
                "configs/percpu-2021.yaml",
                "--shard",
                k,
            ])
            .args(["--shard-cells", e["cells"].as_str().unwrap(), "--report"])
            .arg(format!("json={}", p.display()))
            .output()
            .unwrap();
        let err = stderr(&o);
        assert!(matches!(o.status.code(), Some(0 | 1)), "{err}");
        assert!(
            err.contains(&format!("shard {k}: ")) && err.contains("cells as the plan gave them"),
            "{err}"
        );
        let r: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        for c in r["cells"].as_array().unwrap() {
            let mine = e["cells"]
                .as_str()
                .unwrap()
                .split(',')
                .any(|x| x == c["id"]);
            assert_eq!(c["status"] != "skipped", mine, "{c}");
            if mine {
                assert_eq!(c["cached"], true);
                assert_eq!(
                    c["cached_duration_ms"].as_u64(),
                    Some(took(c["id"].as_str().unwrap()))
                );
            }
        }
        assert_eq!(r["shards"][0]["shard"], k);
        assert_eq!(r["shards"][0]["expected_ms"], e["expected_ms"]);
        reports.push(p);
    }
    let o = linkmatrix(d.path())
        .arg("merge")
        .args(&reports)
        .output()
        .unwrap();
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        out.contains("shard 1/2: ") && out.contains("shard 2/2: ") && out.contains(", took "),
        "{out}"
    );
    // One shard's report missing: its cells ran nowhere, and the gate says
    // so instead of passing them.
    let o = linkmatrix(d.path())
        .arg("merge")
        .arg(&reports[0])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert!(stderr(&o).contains("no shard ran"), "{}", stderr(&o));
    // A list from another matrix is refused.
    let o = linkmatrix(d.path())
        .args([
            "check",
            "--config",
            "configs/percpu-2021.yaml",
            "--shard",
            "1/2",
        ])
        .args(["--shard-cells", "arm-up-mmu-release,no-such-cell"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no-such-cell"), "{}", stderr(&o));
}

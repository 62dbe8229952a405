//! linkmatrix in CI: the user's compiler cache chained into every cell's
//! build, rustflags from the environment refused, the workflow template
//! and `action.yml` (linted, and their commands run against the CLI).
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

/// `RUSTFLAGS`, `CARGO_ENCODED_RUSTFLAGS` and `CARGO_BUILD_RUSTFLAGS` in the
/// environment are refused before anything is built, with the matrix's way
/// (`when: … rustflags:`), never applied behind the matrix's back or
/// dropped without a word; set but blank, they are not flags at all.
#[test]
fn environment_rustflags_are_refused_with_the_matrix_way() {
    let d = crate::util::project();
    crate::util::write(
        d.path(),
        "linkmatrix.yaml",
        "crate: .\ntargets: [x86_64-unknown-none]\naxes: {arch: [x86_64-unknown-none]}\n",
    );
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
    let d = crate::util::project();
    crate::util::write(
        d.path(),
        "linkmatrix.yaml",
        "crate: .\ntargets: [x86_64-unknown-none]\naxes: {arch: [x86_64-unknown-none]}\n",
    );
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

//! Link failures of real firmware by kind: `fixtures/firmware-kinds`, a
//! cortex-m-rt binary from crates.io crates (its Cargo.lock pinned) whose
//! features each break its link one way. Each test copies it, writes the
//! smallest matrix that shows its kind, and checks what `check` (and
//! `diff`) say: one finding per linker error, named and attributed.
use std::path::Path;

use serde_json::Value;

use crate::check::{cell, check_json, failing};
use crate::util::{copy_tree, linkmatrix, repo, stdout, write};

/// The firmware in a fresh directory with `matrix` as its linkmatrix.yaml.
fn firmware(matrix: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    copy_tree(&repo().join("fixtures/firmware-kinds"), d.path());
    write(d.path(), "linkmatrix.yaml", matrix);
    d
}

fn kinds(c: &Value) -> Vec<&str> {
    c["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect()
}

fn human(dir: &Path, args: &[&str]) -> String {
    let o = linkmatrix(dir)
        .args(["check", "--no-provision"])
        .args(args)
        .output()
        .unwrap();
    stdout(&o)
}

/// panic-never names its link-time error with a symbol that starts with a
/// newline, and lld wraps it onto the next line. In the dev profile (an
/// overflow check is a panicking branch) that is one `undefined-symbol`
/// finding — no `link-error` for the wrapped line — whose name is exact
/// in JSON and escaped (`\n`) in the table, the details and the chain;
/// release has no panicking branch and links.
#[test]
fn panic_never_in_the_dev_profile_is_one_finding_shown_escaped() {
    let d = firmware(
        "crate: .\nmode: bin\ntargets: [thumbv6m-none-eabi]\noptions:\n  never: {feature: never}\naxes:\n  never: [true]\n  profile: [dev, release]\n",
    );
    let (code, r, err) = check_json(d.path(), &[]);
    assert_eq!(code, 1, "{err}\n{r:#}");
    let bad = "thumbv6m-never-dev";
    assert_eq!(failing(&r), [bad], "{r:#}");
    let c = cell(&r, bad);
    assert_eq!(kinds(c), ["undefined-symbol"], "{c:#}");
    let name = "\nerror(panic-never): your program contains at least one panicking branch";
    let f = &c["findings"][0];
    assert_eq!(f["symbol"], name, "{f:#}");
    assert_eq!(f["chain"][0], "Reset", "{f:#}");
    assert_eq!(f["at"]["file"], "src/main.rs", "{f:#}");
    let text = human(d.path(), &[]);
    let escaped = "undefined-symbol: \\nerror(panic-never): your program contains";
    let table = text
        .lines()
        .find(|l| l.starts_with(bad))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(table.contains(escaped), "{text}");
    let chain = text
        .lines()
        .find(|l| l.trim_start().starts_with("chain: Reset"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        chain.ends_with(
            "-> \\nerror(panic-never): your program contains at least one panicking branch"
        ),
        "{text}"
    );
    // No line of the report starts with the name's second half.
    assert!(
        !text.lines().any(|l| l.starts_with("error(panic-never)")),
        "{text}"
    );
}

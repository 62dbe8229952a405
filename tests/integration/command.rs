//! Builds that are not cargo's (`build:`): a make-style C project
//! (`fixtures/percpu-make`) whose options become a Kconfig fragment,
//! reproducing the 2021 percpu link failure in the one configuration where
//! it happens, and a configuration request the build system drops is an
//! error, never a cell built with other settings than its id says.
use crate::check::{cell, check_json, failing};
use crate::util::{copy_tree, linkmatrix, repo, stderr, stdout, write};

fn percpu_make() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir(d.path().join(".git")).unwrap();
    copy_tree(&repo().join("fixtures/percpu-make"), d.path());
    d
}

/// Exactly SMP ∧ NOMMU ∧ the old NEED_PER_CPU_KM rule fails, with
/// `flush_tlb_kernel_range` referenced from `pcpu_populate` (ld.lld's
/// log names the function the flush was inlined into) and, through the
/// object's DWARF, from the inlined `pcpu_post_unmap_tlb_flush` at its
/// line; every other cell links and has a size; `diff` names the
/// condition.
#[test]
fn a_make_build_fails_exactly_where_the_percpu_rule_breaks() {
    let d = percpu_make();
    let (code, r, err) = check_json(d.path(), &[]);
    assert_eq!(code, 1, "{err}\n{r:#}");
    let bad = "x86_64-smp-nommu-old-release";
    assert_eq!(failing(&r), [bad], "{r:#}");
    let c = cell(&r, bad);
    let f = &c["findings"][0];
    assert_eq!(f["symbol"], "flush_tlb_kernel_range", "{c:#}");
    let by = &f["referenced_by"][0];
    assert_eq!(
        (
            by["function"].as_str(),
            by["file"].as_str(),
            by["line"].as_u64()
        ),
        (Some("pcpu_populate"), Some("percpu.c"), Some(18)),
        "{c:#}"
    );
    assert_eq!(
        crate::util::strs(&f["chain"]),
        [
            "pcpu_populate",
            "pcpu_post_unmap_tlb_flush",
            "flush_tlb_kernel_range"
        ],
        "{c:#}"
    );
    assert_eq!(f["at"]["file"], "percpu.c", "{c:#}");
    for c in r["cells"].as_array().unwrap() {
        if c["id"] != bad {
            assert!(c["size"]["text"].as_u64().unwrap() > 0, "{c:#}");
        }
    }
    let o = linkmatrix(d.path())
        .args(["diff", bad, "x86_64-smp-nommu-new-release"])
        .output()
        .unwrap();
    let out = stdout(&o);
    assert!(
        out.contains(
            "`flush_tlb_kernel_range` is undefined exactly when `mmu=false` and `rule=old` and `smp=true`"
        ),
        "{out}{}",
        stderr(&o)
    );
    // The failed build left no image: no wall of "defined only in".
    assert!(
        out.contains("defined symbols not compared: x86_64-smp-nommu-old-release left no image")
            && !out.lines().any(|l| l.starts_with("defined only in")),
        "{out}"
    );
}

/// Kconfig drops a request it cannot satisfy without a word: the cell
/// that asked for BROKEN is an `error` naming the option; the one that
/// did not passes.
#[test]
fn a_configuration_request_the_build_drops_is_an_error() {
    let d = percpu_make();
    let matrix = std::fs::read_to_string(d.path().join("linkmatrix.yaml")).unwrap();
    write(
        d.path(),
        "linkmatrix.yaml",
        &matrix
            .replace(
                "options:\n",
                "options:\n  broken: {kconfig: BROKEN, labels: [ok, broken]}\n",
            )
            .replace(
                "axes:\n  smp: [false, true]\n  mmu: [false, true]\n  rule: [old, new]\n",
                "axes:\n  broken: [false, true]\n  smp: [false]\n  mmu: [true]\n  rule: [new]\n",
            ),
    );
    let (code, r, err) = check_json(d.path(), &[]);
    assert_eq!(code, 2, "{err}\n{r:#}");
    let cells: Vec<(&str, &str)> = r["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["id"].as_str().unwrap(), c["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        cells,
        [
            ("x86_64-ok-up-mmu-new-release", "pass"),
            ("x86_64-broken-up-mmu-new-release", "error")
        ],
        "{r:#}"
    );
    let e = cell(&r, "x86_64-broken-up-mmu-new-release")["error"]
        .as_str()
        .unwrap();
    assert!(e.contains("option `broken` asked on"), "{e}");
}

/// `build:` is checked before anything runs: a `{{var}}` linkmatrix does
/// not fill, an option that would hide a build variable, `crate:` beside
/// `build:`, patches for a tree and a bad package name are errors at
/// their line.
#[test]
fn build_templates_are_checked_before_anything_runs() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join(".git")).unwrap();
    std::fs::create_dir_all(d.path().join("src")).unwrap();
    write(
        d.path(),
        "linkmatrix.yaml",
        "build:\n  source: src\n  command: [make, \"O={{out}}\", \"{{oops}}\"]\n  elf: \"{{out}}/x.elf\"\ntargets: [x86_64-unknown-none]\noptions:\n  jobs: {kconfig: JOBS}\n",
    );
    let o = linkmatrix(d.path()).arg("plan").output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("linkmatrix.yaml:3:") && e.contains("`{{oops}}`: not a variable"),
        "{e}"
    );
    assert!(
        e.contains("option `jobs` would hide the build variable"),
        "{e}"
    );
    write(
        d.path(),
        "linkmatrix.yaml",
        "crate: .\nbuild:\n  source: src\n  command: [make]\n  elf: x.elf\ntargets: [x86_64-unknown-none]\n",
    );
    let e = stderr(&linkmatrix(d.path()).arg("plan").output().unwrap());
    assert!(
        e.contains("linkmatrix.yaml:1:") && e.contains("keep one"),
        "{e}"
    );
    // Where the source comes from: a tree, or a package to unpack (and
    // patch), not both; a package name Debian could have.
    write(
        d.path(),
        "linkmatrix.yaml",
        "build:\n  source: src\n  patches: [fix.patch]\n  packages: [Make_4]\n  command: [make]\n  elf: x.elf\ntargets: [x86_64-unknown-none]\n",
    );
    let e = stderr(&linkmatrix(d.path()).arg("plan").output().unwrap());
    assert!(
        e.contains("linkmatrix.yaml:3:")
            && e.contains("build.patches apply to a `package` setup unpacks"),
        "{e}"
    );
    assert!(
        e.contains("linkmatrix.yaml:4:") && e.contains("`Make_4` is not a Debian package name"),
        "{e}"
    );
}

/// `build.package`: a Debian source package `setup` unpacks once, with
/// the matrix's patches applied, into the work directory. Before `setup`
/// the cell is an `error` that says to run it and `doctor` exits 1; after
/// it, the cell is built from the patched tree (the patch is the 2021
/// fix: without it this cell fails). dpkg is the one thing stood in for
/// (a script answering for an archive made here); tar and patch are real.
#[test]
fn a_source_package_is_unpacked_and_patched_by_setup() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("proj");
    std::fs::create_dir_all(p.join(".git")).unwrap();
    // The "installed" archive: the fixture under one top directory.
    let tree = d.path().join("percpu-src-1.0");
    std::fs::create_dir_all(&tree).unwrap();
    copy_tree(&repo().join("fixtures/percpu-make"), &tree);
    let tarball = d.path().join("percpu-src.tar.gz");
    let tar = std::process::Command::new("tar")
        .arg("czf")
        .arg(&tarball)
        .arg("-C")
        .arg(d.path())
        .arg("percpu-src-1.0")
        .status()
        .unwrap();
    assert!(tar.success());
    std::fs::remove_dir_all(&tree).unwrap();
    let bin = d.path().join("bin");
    write(
        &bin,
        "dpkg-query",
        "#!/bin/sh\nprintf 'install ok installed'\n",
    );
    write(
        &bin,
        "dpkg",
        &format!(
            "#!/bin/sh\n[ \"$1\" = -L ] && [ \"$2\" = percpu-src ] && echo /usr/share/doc/percpu-src && echo {}\n",
            tarball.display()
        ),
    );
    for f in ["dpkg", "dpkg-query"] {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(bin.join(f), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    write(
        &p,
        "fix.patch",
        "--- a/configure.sh\n+++ b/configure.sh\n@@ -19,3 +19,3 @@\n if ! on SMP; then km=y; fi\n-if [ \"$rule\" = new ] && ! on MMU; then km=y; fi\n+if ! on MMU; then km=y; fi\n if [ $km = y ]; then echo CONFIG_PERCPU_KM=y >> \"$out/.config\"; fi\n",
    );
    let matrix = std::fs::read_to_string(repo().join("fixtures/percpu-make/linkmatrix.yaml"))
        .unwrap()
        .replace(
            "  source: .\n",
            "  package: percpu-src\n  patches: [fix.patch]\n  packages: [clang]\n",
        )
        .replace(
            "axes:\n  smp: [false, true]\n  mmu: [false, true]\n  rule: [old, new]\n",
            "axes:\n  smp: [true]\n  mmu: [false]\n  rule: [old]\n",
        );
    write(&p, "linkmatrix.yaml", &matrix);
    let run = |args: &[&str]| {
        linkmatrix(&p)
            .env("PATH", &path)
            .args(args)
            .output()
            .unwrap()
    };

    let (code, r, err) = check_json(&p, &[]);
    assert_eq!(code, 2, "{err}\n{r:#}");
    let e = cell(&r, "x86_64-smp-nommu-old-release")["error"]
        .as_str()
        .unwrap();
    assert!(
        e.contains("not unpacked: `linkmatrix setup` installs package percpu-src"),
        "{e}"
    );
    let o = run(&["doctor"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("is not unpacked: `linkmatrix setup` installs package percpu-src"),
        "{}",
        stdout(&o)
    );
    let o = run(&["setup", "--dry-run"]);
    assert!(
        stdout(&o).contains("unpack package percpu-src's source archive into")
            && stdout(&o).contains("fix.patch"),
        "{}{}",
        stdout(&o),
        stderr(&o)
    );
    let o = run(&["setup"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let unpacked = p.join("target/linkmatrix/linkmatrix/src/percpu-src");
    let configure = std::fs::read_to_string(unpacked.join("configure.sh")).unwrap();
    assert!(
        configure.contains("if ! on MMU; then km=y; fi"),
        "{configure}"
    );
    // Once: a second setup has nothing to do.
    let o = run(&["setup"]);
    assert!(stdout(&o).contains("nothing to do"), "{}", stdout(&o));
    let (code, r, err) = check_json(&p, &[]);
    assert_eq!(code, 0, "{err}\n{r:#}");
    // A patch edited since: the tree is out of date, never silently used;
    // setup unpacks it again.
    let fix = std::fs::read_to_string(p.join("fix.patch")).unwrap();
    write(&p, "fix.patch", &format!("The 2021 fix.\n{fix}"));
    let (code, r, err) = check_json(&p, &[]);
    assert_eq!(code, 2, "{err}\n{r:#}");
    let e = cell(&r, "x86_64-smp-nommu-old-release")["error"]
        .as_str()
        .unwrap();
    assert!(e.contains("out of date"), "{e}");
    let o = run(&["setup"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let (code, r, err) = check_json(&p, &[]);
    assert_eq!(code, 0, "{err}\n{r:#}");
}

//! Tests of `config`: names and paths, and snapshots from a matrix (or
//! target) file as written to the problems `load` reports, each at its
//! file:line:col, in the order reported. Each snippet sits in a project
//! of its own: a crate with features `a`, `b`, `c` and a target file
//! `targets/arm.yaml`.
use std::path::Path;

use super::names::{contained, valid_feature, valid_triple};
use super::parse::first_key_line;
use super::{LoadOptions, load};
use crate::model::closest;

/// A target file with nothing wrong.
const ARM: &str = "triple: thumbv7em-none-eabihf
cc:
  compiler: [clang]
  flags: [--target=thumbv7em-none-eabihf]
linker:
  program: [ld.lld]
";

/// What `load` says of matrix `yaml` beside target file `target`: one
/// problem a line as `file:line:col: message` (`file: message` for the
/// whole file), paths relative to the project, `no problems` if none.
fn problems(yaml: &str, target: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(
        root.join("Cargo.toml"),
        "[package]\nname = \"demo\"\nversion = \"0.1.0\"\n\n[features]\na = []\nb = []\nc = []\n",
    )
    .unwrap();
    std::fs::create_dir(root.join("targets")).unwrap();
    std::fs::write(root.join("targets/arm.yaml"), target).unwrap();
    let path = root.join("linkmatrix.yaml");
    std::fs::write(&path, yaml).unwrap();
    let opts = LoadOptions {
        root: Some(root.to_owned()),
    };
    let Err(e) = load(&path, &opts) else {
        return "no problems".to_owned();
    };
    let shown = |p: &Path| p.strip_prefix(root).unwrap_or(p).display().to_string();
    let project = root.display().to_string();
    e.problems
        .iter()
        .map(|p| {
            let message = p.message.replace(&project, "<project>");
            match p.line {
                0 => format!("{}: {message}", shown(&p.file)),
                line => format!("{}:{line}:{}: {message}", shown(&p.file), p.col),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_valid_matrix_has_no_problems() {
    let yaml = "crate: .
targets: [arm]
options:
  fast: {feature: a}
  level: {type: choice, values: [low, high], features: {high: b}, default: low}
axes:
  fast: [false, true]
";
    assert_eq!(problems(yaml, ARM), "no problems");
}

#[test]
fn an_options_problems_point_at_the_values_they_are_about() {
    let yaml = "crate: .
targets: [arm]
options:
  plain: {values: [x]}
  empty: {type: choice}
  odd: {type: number}
  level:
    type: choice
    values: [low, 'not ok']
    feature: a
    features: {low: b, mid: c}
    default: mid
  named: {labels: [one, 'two words', three]}
  ruled: {depends-on: 'plain &&', default: maybe}
  bad-default: {defaults: [{if: plain, value: perhaps}]}
  feat: {feature: --all}
  kconf: {type: choice, values: [a], kconfig: CONFIG_A}
  lower: {kconfig: lower_case}
";
    insta::assert_snapshot!(problems(yaml, ARM));
}

#[test]
fn when_settings_refuse_what_linkmatrix_sets() {
    let yaml = "crate: .
targets: [arm]
options:
  fast:
    when:
      true:
        env: {RUSTFLAGS: -O, 1BAD: x, SHARED: y}
        rustflags: ['--sysroot=/x', '']
        cfg: ['a=b']
        cargo-args: [--release, '--target=x']
      maybe: {}
  slow:
    when:
      false: {env: {SHARED: z}, cargo-args: [verbose]}
";
    insta::assert_snapshot!(problems(yaml, ARM));
}

#[test]
fn a_command_builds_problems_point_into_build() {
    let both = "build:
  source: src
  package: Linux
  packages: [ok-pkg, Bad_Pkg]
  patches: [missing.patch]
  config: [[make, defconfig], []]
  command: []
  elf: '{{out}}/{{nope}}'
targets: [arm]
options:
  jobs: {}
";
    let none = "build:
  command: [make]
  elf: vmlinux
crate: .
targets: [arm]
";
    insta::assert_snapshot!(format!(
        "{}\n---\n{}",
        problems(both, ARM),
        problems(none, ARM)
    ));
}

#[test]
fn a_target_files_problems_are_in_the_target_file() {
    let target = "name: 'arm v7'
triple: 'thumb v7'
cc:
  compiler: [-clang]
  target: 'not a triple'
  flags: ['']
linker:
  program: [ld.lld]
  script: missing.ld
  entry: '0start'
  flavor: gold
platform:
  sources: [../../outside.c]
  exports: 'section:'
";
    let yaml = "crate: .\ntargets: [arm]\n";
    insta::assert_snapshot!(problems(yaml, target));
}

#[test]
fn policy_size_and_cover_problems_point_at_each_value() {
    let yaml = "crate: .
targets: [arm]
policy:
  forbidden: ['[']
  allow-undefined: ['ok_*']
  roots: ['-main', '']
  size:
    max: {flash: 64KB, ram: 0%}
    max-growth: lots
cover: 7
memory: {origin: 0x0800000g, length: 1K}
";
    insta::assert_snapshot!(problems(yaml, ARM));
}

#[test]
fn the_matrix_parts_are_checked_in_order() {
    let yaml = "crate: .
mode: binary
bin: app
targets: [arm]
options:
  fast: {depends-on: 'quick', default: 'arch == amr'}
  arch: {}
  a: {depends-on: b}
  b: {depends-on: a}
axes:
  fast: [yes]
  speed: [x]
  profile: []
include:
  - {fast: true, level: 3}
exclude:
  - {arch: x86}
";
    insta::assert_snapshot!(problems(yaml, ARM));
}

#[test]
fn closest_suggests_typos_only() {
    assert_eq!(
        closest("depend-on", &["depends-on", "default"]),
        Some("depends-on")
    );
    assert_eq!(closest("zzzz", &["depends-on", "default"]), None);
}

#[test]
fn contained_refuses_escapes_and_flags() {
    let root = Path::new("/proj");
    assert!(contained(Path::new("/proj/configs"), "../fixtures/k", root).is_ok());
    assert!(contained(Path::new("/proj/configs"), "../../etc", root).is_err());
    assert!(contained(Path::new("/proj"), "-rf", root).is_err());
    assert!(contained(Path::new("/proj"), "/etc/passwd", root).is_err());
}

#[test]
fn names_and_features() {
    assert!(valid_feature("percpu-km"));
    assert!(!valid_feature("--config=x"));
    assert!(!valid_triple("armv7a none"));
    assert!(!valid_triple("arm;rm"));
    assert!(valid_triple("armv7a-none-eabi"));
}

#[test]
fn duplicate_key_names_the_first_place() {
    let text = "crate: .\noptions:\n  smp: {}\n  mmu: {}\n  smp: {}\n";
    assert_eq!(first_key_line(text, "smp", 5, 3), Some(3));
}

//! `linkmatrix init`: a starting matrix file for the crate in the current
//! directory, from its cargo features (via `cargo metadata`), the
//! `compile_error!` guards in its sources and the targets the user names:
//! bool options, families as `type: choice` options, `depends-on` for
//! features that turn others on, `exclude` for guarded sets, both
//! profiles, and `cover: 2` when the full product is large. It reads the
//! crate's sources and writes text; it builds nothing.
mod deps;
mod families;
mod guards;

use anyhow::{Result, bail};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::config::Package;
pub(crate) use families::Model;
use families::option_name;

/// A target `init` writes, and whether it has a `std` (a bare-metal
/// triple, `*-none*`, has not).
#[derive(Clone, Debug)]
pub(crate) struct Target {
    /// Its name in `targets:`.
    pub(crate) name: String,
    /// Whether the standard library exists for it.
    pub(crate) has_std: bool,
}

/// Past this many cells in the full product, `init` writes `cover: 2`.
pub(crate) const COVER_PAST: u128 = 256;

/// The feature model of `pkg`: families, implications and guarded sets,
/// from its `[features]`, the `compile_error!` guards in its sources and
/// in the dependencies its features reach, and what its features forward
/// to them.
pub(crate) fn analyze(pkg: &Package) -> Model {
    let base = pkg
        .manifest
        .parent()
        .unwrap_or(std::path::Path::new("."))
        .to_path_buf();
    let mut g = guards::scan(&pkg.sources, &base);
    let (forwarded, needs_std, note) = match deps::deep(&pkg.manifest) {
        Some(d) => {
            g.conflicts.extend(d.guards.conflicts);
            (d.forwarded, d.needs_std, None)
        }
        None => (
            BTreeMap::new(),
            own_std(pkg),
            Some("cargo could not resolve the dependencies: features they forward, their compile_error! guards and their `std` features are not seen".to_owned()),
        ),
    };
    let mut model = families::model(pkg, &g, &forwarded);
    model.needs_std = needs_std;
    model.notes.extend(note);
    model
}

/// Without the dependencies: the crate's own features that turn on its
/// `std` (itself included), with the crate's name.
fn own_std(pkg: &Package) -> BTreeMap<String, BTreeSet<String>> {
    if !pkg.feature_map.contains_key("std") {
        return BTreeMap::new();
    }
    let reaches = |f: &str| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![f.to_owned()];
        while let Some(g) = todo.pop() {
            if seen.insert(g.clone()) {
                todo.extend(pkg.feature_map.get(&g).into_iter().flatten().cloned());
            }
        }
        seen.contains("std")
    };
    pkg.feature_map
        .keys()
        .filter(|f| *f != "default" && reaches(f))
        .map(|f| (f.clone(), BTreeSet::from([pkg.name.clone()])))
        .collect()
}

/// What `init` says of the features it keeps off targets without a
/// standard library (`None` when there are none to keep off).
pub(crate) fn std_excluded(model: &Model, targets: &[Target]) -> Option<String> {
    let bare: Vec<&str> = targets
        .iter()
        .filter(|t| !t.has_std)
        .map(|t| t.name.as_str())
        .collect();
    let features: Vec<&str> = model
        .needs_std
        .keys()
        .filter(|f| model.setting(f).is_some())
        .map(String::as_str)
        .collect();
    if bare.is_empty() || features.is_empty() {
        return None;
    }
    Some(format!(
        "`exclude`: not on {} (no standard library): {} (they turn on a `std` feature)",
        bare.join(", "),
        features.join(", ")
    ))
}

/// A YAML scalar for a value or feature name: quoted where YAML could
/// read it as something else (a number, a bool word).
fn scalar(s: &str) -> String {
    let plain = s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n" | "null"
        );
    if plain {
        s.to_owned()
    } else {
        format!("\"{s}\"")
    }
}

/// Cells in the full product of the axes `render` writes.
fn full_product(model: &Model, targets: usize) -> u128 {
    let bools = u32::try_from(model.bools.len()).unwrap_or(u32::MAX);
    let families: u128 = model
        .families
        .iter()
        .map(|f| f.axis.len() as u128)
        .product();
    2u128
        .checked_pow(bools)
        .and_then(|b| b.checked_mul(families))
        .and_then(|x| x.checked_mul(targets as u128 * 2))
        .unwrap_or(u128::MAX)
}

/// The text of a starting `linkmatrix.yaml` for `pkg` with its feature
/// `model`, which the file names as `krate` (a path relative to the file,
/// or a package name).
pub(crate) fn render(
    pkg: &Package,
    model: &Model,
    krate: &str,
    targets: &[Target],
    mode: &str,
    why: Option<&str>,
) -> Result<String> {
    let bare: Vec<&str> = targets
        .iter()
        .filter(|t| !t.has_std)
        .map(|t| t.name.as_str())
        .collect();
    let all_bare = bare.len() == targets.len();
    let names: Vec<String> = targets.iter().map(|t| t.name.clone()).collect();
    let targets = names.as_slice();
    if !matches!(mode, "image" | "module" | "bin") {
        bail!("--mode {mode}: expected image, module or bin");
    }
    for t in targets {
        if !crate::config::valid_name(t) {
            bail!("--target {t}: not a target name");
        }
    }
    let mut y = String::new();
    header(&mut y, pkg, krate, targets, mode, why);
    options(&mut y, pkg, model);
    let _ = writeln!(y);
    let _ = writeln!(
        y,
        "# The axes: every combination is a cell, unless `cover:` says otherwise."
    );
    let _ = writeln!(y, "axes:");
    let _ = writeln!(y, "  arch: [{}]", targets.join(", "));
    for f in &model.bools {
        let _ = writeln!(y, "  {}: [false, true]", option_name(f));
    }
    for fam in &model.families {
        if fam.axis.len() < fam.members.len() + usize::from(fam.none) {
            let _ = writeln!(
                y,
                "  # {} values; the axis tests {} of them: list the ones you ship.",
                fam.members.len(),
                fam.axis.len() - usize::from(fam.none)
            );
        }
        let vals: Vec<String> = fam.axis.iter().map(|v| scalar(v)).collect();
        let _ = writeln!(y, "  {}: [{}]", fam.name, vals.join(", "));
    }
    let _ = writeln!(
        y,
        "  # Link failures that show in one profile only are common (a debug build"
    );
    let _ = writeln!(
        y,
        "  # overflowing flash, a panic path the optimizer removes): both are built."
    );
    let _ = writeln!(y, "  profile: [dev, release]");
    let full = full_product(model, targets.len());
    if full > COVER_PAST {
        let _ = writeln!(y);
        let _ = writeln!(
            y,
            "# The full product is {full} cells: `cover: 2` builds every pair of option"
        );
        let _ = writeln!(
            y,
            "# values (that the rules allow) in a few cells instead. `3`: every triple;"
        );
        let _ = writeln!(
            y,
            "# `each`: each value alone, the rest at their defaults; `[each, 2]`: both;"
        );
        let _ = writeln!(y, "# `full`: every combination.");
        let _ = writeln!(y, "cover: 2");
    }
    let _ = writeln!(y);
    excludes(&mut y, model, &bare, all_bare);
    policy(&mut y, mode);
    Ok(y)
}

fn header(
    y: &mut String,
    pkg: &Package,
    krate: &str,
    targets: &[String],
    mode: &str,
    why: Option<&str>,
) {
    let _ = writeln!(
        y,
        "# linkmatrix matrix for `{}` (written by `linkmatrix init`; edit freely).",
        pkg.name
    );
    let _ = writeln!(
        y,
        "# Run `linkmatrix plan` to see the cells, `linkmatrix check` to build them."
    );
    let _ = writeln!(y, "crate: {krate}");
    if mode == "bin" {
        let _ = writeln!(
            y,
            "# bin: cargo links the binary with the crate's own linker configuration"
        );
        let _ = writeln!(
            y,
            "# (.cargo/config.toml rustflags, memory.x); each cell's verdict is that link's."
        );
    }
    let _ = writeln!(y, "mode: {mode}");
    if mode == "bin" && pkg.bins.len() > 1 {
        let _ = writeln!(
            y,
            "# The binary to link (the package has: {}).",
            pkg.bins.join(", ")
        );
        let _ = writeln!(y, "bin: {}", pkg.bins[0]);
    }
    if let Some(why) = why {
        let _ = writeln!(y, "# Targets: {why}.");
    }
    let _ = writeln!(y, "targets: [{}]", targets.join(", "));
    let _ = writeln!(
        y,
        "# Every cell builds with --no-default-features plus the features its"
    );
    let _ = writeln!(
        y,
        "# options turn on; default features no option controls are added back"
    );
    let _ = writeln!(y, "# (false: leave them off too).");
    let _ = writeln!(y, "default-features: true");
    let _ = writeln!(y);
}

fn options(y: &mut String, pkg: &Package, model: &Model) {
    let _ = writeln!(
        y,
        "# One option per cargo feature; features of which at most one may be on"
    );
    let _ = writeln!(
        y,
        "# are one `type: choice` option (a family). Add `depends-on: \"expr\"` and"
    );
    let _ = writeln!(
        y,
        "# `default: \"expr\"` rules over options, `arch` and `profile`."
    );
    if model.bools.is_empty() && model.families.is_empty() {
        let _ = writeln!(y, "options: {{}}");
        return;
    }
    let _ = writeln!(y, "options:");
    for f in &model.bools {
        let _ = writeln!(y, "  {}:", option_name(f));
        let _ = writeln!(y, "    feature: {f}");
        if pkg.defaults.contains(f) {
            let _ = writeln!(
                y,
                "    help: a default feature; the {f}=false cells build without it"
            );
        }
        if let Some(deps) = model.depends.get(f) {
            for (cond, why) in deps {
                let _ = writeln!(y, "    # Needs `{cond}`: {why}.");
            }
            let conds: Vec<&str> = deps.iter().map(|(c, _)| c.as_str()).collect();
            let _ = writeln!(y, "    depends-on: \"{}\"", conds.join(" && "));
        }
    }
    for fam in &model.families {
        let _ = writeln!(y, "  # A family: {}.", fam.why);
        let _ = writeln!(y, "  {}:", fam.name);
        let _ = writeln!(y, "    type: choice");
        let values: Vec<String> = fam
            .none
            .then(|| "none".to_owned())
            .into_iter()
            .chain(fam.members.iter().map(|(v, _)| scalar(v)))
            .collect();
        let _ = writeln!(y, "    values: [{}]", values.join(", "));
        let _ = writeln!(y, "    features:");
        for (v, f) in &fam.members {
            let _ = writeln!(y, "      {}: {}", scalar(v), scalar(f));
        }
        let _ = writeln!(y, "    default: {}", scalar(&fam.default));
    }
}

fn excludes(y: &mut String, model: &Model, bare: &[&str], all_bare: bool) {
    let no_std: Vec<(String, String, String)> = if bare.is_empty() {
        Vec::new()
    } else {
        model
            .needs_std
            .iter()
            .filter_map(|(f, whose)| {
                let (o, v) = model.setting(f)?;
                let whose: Vec<&str> = whose.iter().map(String::as_str).collect();
                Some((o, v, whose.join(", ")))
            })
            .collect()
    };
    if model.excludes.is_empty() && no_std.is_empty() {
        let _ = writeln!(y, "exclude: []");
        return;
    }
    let _ = writeln!(y, "exclude:");
    if !no_std.is_empty() {
        let _ = writeln!(
            y,
            "  # These turn on a `std` feature: {} no standard library.",
            if all_bare {
                "the targets have"
            } else {
                "bare-metal targets have"
            }
        );
    }
    for (o, v, whose) in &no_std {
        let value = if v == "true" { v.clone() } else { scalar(v) };
        let arches: Vec<Option<&str>> = if all_bare {
            vec![None]
        } else {
            bare.iter().copied().map(Some).collect()
        };
        for arch in arches {
            let arch = arch.map(|a| format!("arch: {a}, ")).unwrap_or_default();
            let _ = writeln!(y, "  - {{{arch}{o}: {value}}}   # std of {whose}");
        }
    }
    if !model.excludes.is_empty() {
        let _ = writeln!(y, "  # Cells a compile_error! guard forbids.");
    }
    for (entry, place) in &model.excludes {
        let kv: Vec<String> = entry
            .iter()
            .map(|(o, v)| match v.as_str() {
                "true" | "false" => format!("{o}: {v}"),
                _ => format!("{o}: {}", scalar(v)),
            })
            .collect();
        let _ = writeln!(y, "  - {{{}}}   # {place}", kv.join(", "));
    }
}

fn policy(y: &mut String, mode: &str) {
    let _ = writeln!(y, "policy:");
    let _ = writeln!(
        y,
        "  # Symbols that must never be referenced (globs), e.g. the panic machinery:"
    );
    let _ = writeln!(y, "  forbidden: []");
    let _ = writeln!(
        y,
        "  # Undefined symbols the platform will provide at run time:"
    );
    let _ = writeln!(y, "  allow-undefined: []");
    let _ = writeln!(
        y,
        "  # Extra symbols to follow references from ({}):",
        if mode == "bin" {
            "the entry point is a root"
        } else {
            "every #[no_mangle] function is a root"
        }
    );
    let _ = writeln!(y, "  roots: []");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg() -> Package {
        let feature_map: BTreeMap<String, Vec<String>> = [
            ("std", vec!["alloc"]),
            ("alloc", vec![]),
            ("net", vec!["std"]),
            ("fast", vec![]),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.into_iter().map(str::to_owned).collect()))
        .collect();
        Package {
            name: "drv".to_owned(),
            features: feature_map.keys().cloned().collect(),
            feature_map,
            ..Package::default()
        }
    }

    fn target(name: &str, has_std: bool) -> Target {
        Target {
            name: name.to_owned(),
            has_std,
        }
    }

    fn model(p: &Package) -> Model {
        let mut m = families::model(p, &guards::Guards::default(), &BTreeMap::new());
        m.needs_std = own_std(p);
        m
    }

    #[test]
    fn features_that_turn_on_std_are_excluded_on_every_bare_metal_target() {
        let p = pkg();
        let m = model(&p);
        assert_eq!(
            m.needs_std.keys().collect::<Vec<_>>(),
            ["net", "std"],
            "{m:?}"
        );
        let bare = [target("arm", false), target("x86", false)];
        let y = render(&p, &m, ".", &bare, "image", None).unwrap();
        assert!(
            y.contains("  - {net: true}   # std of drv\n  - {std: true}   # std of drv\n"),
            "{y}"
        );
        assert_eq!(
            std_excluded(&m, &bare).unwrap(),
            "`exclude`: not on arm, x86 (no standard library): net, std (they turn on a `std` feature)"
        );
    }

    #[test]
    fn features_that_turn_on_std_stay_on_hosted_targets() {
        let p = pkg();
        let m = model(&p);
        let mixed = [
            target("thumbv7em-none-eabihf", false),
            target("x86_64-unknown-linux-gnu", true),
        ];
        let y = render(&p, &m, ".", &mixed, "image", None).unwrap();
        assert!(
            y.contains("  - {arch: thumbv7em-none-eabihf, std: true}   # std of drv\n"),
            "{y}"
        );
        assert!(!y.contains("arch: x86_64-unknown-linux-gnu,"), "{y}");
        let hosted = [target("x86_64-unknown-linux-gnu", true)];
        let y = render(&p, &m, ".", &hosted, "image", None).unwrap();
        assert!(y.contains("exclude: []"), "{y}");
        assert_eq!(std_excluded(&m, &hosted), None);
    }
}

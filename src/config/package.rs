//! The cargo package a matrix builds: read from its manifest, found by
//! name in the workspace, or matched to a manifest path. Workspace members
//! are packages like any other; a virtual workspace manifest is not one,
//! and the error names its members.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// A package: its manifest, name and `default` features.
#[derive(Clone, Debug, Default)]
pub(crate) struct Package {
    pub(crate) manifest: PathBuf,
    pub(crate) name: String,
    pub(crate) defaults: Vec<String>,
    /// Every feature but `default`, sorted.
    pub(crate) features: Vec<String>,
    /// What each feature but `default` turns on (`[features]`, with the
    /// implicit feature of each optional dependency).
    pub(crate) feature_map: BTreeMap<String, Vec<String>>,
    /// The source files of its library and binary targets (from `cargo
    /// metadata`; empty when read from the manifest alone): where `init`
    /// looks for `compile_error!` guards.
    pub(crate) sources: Vec<PathBuf>,
    /// Its binary targets (from `cargo metadata`; empty when read from
    /// the manifest alone).
    pub(crate) bins: Vec<String>,
    /// The firmware runtime it depends on (`cortex-m-rt`, `riscv-rt`):
    /// with a binary, cargo links firmware (`mode: bin`).
    pub(crate) runtime: Option<String>,
}

/// Crates that make a binary firmware: they bring the reset handler and
/// the linker script.
const RUNTIMES: &[&str] = &[
    "cortex-m-rt",
    "cortex-r-rt",
    "cortex-a-rt",
    "riscv-rt",
    "esp-riscv-rt",
];

fn feature_names<'a>(names: impl Iterator<Item = &'a String>) -> Vec<String> {
    let mut v: Vec<String> = names.filter(|f| *f != "default").cloned().collect();
    v.sort_unstable();
    v
}

impl Package {
    fn of(p: &cargo_metadata::Package) -> Self {
        Self {
            manifest: p.manifest_path.clone().into_std_path_buf(),
            name: p.name.to_string(),
            defaults: p.features.get("default").cloned().unwrap_or_default(),
            features: feature_names(p.features.keys()),
            feature_map: without_default(p.features.clone()),
            sources: p
                .targets
                .iter()
                .filter(|t| {
                    !t.is_custom_build() && !t.is_test() && !t.is_bench() && !t.is_example()
                })
                .map(|t| t.src_path.clone().into_std_path_buf())
                .collect(),
            bins: p
                .targets
                .iter()
                .filter(|t| t.is_bin())
                .map(|t| t.name.clone())
                .collect(),
            runtime: p
                .dependencies
                .iter()
                .find(|d| RUNTIMES.contains(&d.name.as_str()))
                .map(|d| d.name.clone()),
        }
    }
}

/// A package manifest's name and `default` features, read from the file
/// (no cargo run).
pub(super) fn read_manifest(manifest: &Path) -> Result<Package, String> {
    #[derive(Deserialize)]
    struct Manifest {
        package: Option<Pkg>,
        #[serde(default)]
        features: BTreeMap<String, Vec<String>>,
        workspace: Option<toml::Value>,
    }
    #[derive(Deserialize)]
    struct Pkg {
        name: String,
    }
    let text = std::fs::read_to_string(manifest)
        .map_err(|e| format!("cannot read {}: {e}", manifest.display()))?;
    let m: Manifest = toml::from_str(&text).map_err(|e| format!("{}: {e}", manifest.display()))?;
    let Some(pkg) = m.package else {
        if m.workspace.is_some() {
            // A virtual workspace: say which packages it holds.
            return Err(package_at(manifest)
                .err()
                .unwrap_or_else(|| format!("{} has no [package]", manifest.display())));
        }
        return Err(format!("{} has no [package]", manifest.display()));
    };
    let defaults = m.features.get("default").cloned().unwrap_or_default();
    let mut feature_map = without_default(m.features);
    for dep in optional_deps(&text) {
        let explicit = feature_map
            .values()
            .flatten()
            .any(|f| f == &format!("dep:{dep}"));
        if !explicit {
            feature_map
                .entry(dep.clone())
                .or_insert_with(|| vec![format!("dep:{dep}")]);
        }
    }
    Ok(Package {
        manifest: manifest.to_path_buf(),
        name: pkg.name,
        defaults,
        features: feature_names(feature_map.keys()),
        feature_map,
        sources: Vec::new(),
        bins: Vec::new(),
        runtime: None,
    })
}

fn without_default(mut map: BTreeMap<String, Vec<String>>) -> BTreeMap<String, Vec<String>> {
    map.remove("default");
    map
}

/// The optional dependencies a manifest declares (in `[dependencies]`,
/// `[build-dependencies]` and their `[target.*]` forms), by the name its
/// features use: each has an implicit feature of that name unless some
/// feature names it as `dep:NAME` (the Cargo reference, "Optional
/// dependencies").
fn optional_deps(text: &str) -> Vec<String> {
    let Ok(table) = text.parse::<toml::Table>() else {
        return Vec::new();
    };
    let optional = |deps: Option<&toml::Value>| -> Vec<String> {
        deps.and_then(toml::Value::as_table)
            .map(|t| {
                t.iter()
                    .filter(|(_, d)| d.get("optional").and_then(toml::Value::as_bool) == Some(true))
                    .map(|(k, _)| k.clone())
                    .collect()
            })
            .unwrap_or_default()
    };
    let kinds = ["dependencies", "build-dependencies"];
    let mut out: Vec<String> = kinds.iter().flat_map(|k| optional(table.get(*k))).collect();
    if let Some(targets) = table.get("target").and_then(toml::Value::as_table) {
        for t in targets.values() {
            out.extend(kinds.iter().flat_map(|k| optional(t.get(*k))));
        }
    }
    out.sort();
    out.dedup();
    out
}

fn metadata(cmd: &mut cargo_metadata::MetadataCommand) -> Result<cargo_metadata::Metadata, String> {
    crate::process::cargo_metadata(cmd.no_deps()).map_err(|e| format!("{e:#}"))
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// `wsa (crates/a), wsb (crates/b)`: a workspace's packages, for errors.
fn member_list(meta: &cargo_metadata::Metadata) -> String {
    let root = meta.workspace_root.as_std_path();
    let names: Vec<String> = meta
        .packages
        .iter()
        .map(|p| {
            let dir = p
                .manifest_path
                .parent()
                .map_or(Path::new(""), |d| d.as_std_path());
            let rel = dir.strip_prefix(root).unwrap_or(dir);
            format!("{} ({})", p.name, rel.display())
        })
        .collect();
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

/// The package `manifest` declares. A workspace member's manifest names
/// that member (not the workspace's root package); a virtual workspace
/// manifest is an error that lists the members.
pub(crate) fn package_at(manifest: &Path) -> Result<Package, String> {
    let meta = metadata(cargo_metadata::MetadataCommand::new().manifest_path(manifest))
        .map_err(|e| format!("reading {}: {e}", manifest.display()))?;
    meta.packages
        .iter()
        .find(|p| same_file(p.manifest_path.as_std_path(), manifest))
        .map(Package::of)
        .ok_or_else(|| {
            format!(
                "{} is a virtual workspace manifest, not a package: name one of its members (packages: {})",
                manifest.display(),
                member_list(&meta)
            )
        })
}

/// The package called `name` among the metadata's, or the error `what`
/// says, with the packages there are.
fn named(meta: &cargo_metadata::Metadata, name: &str, what: &str) -> Result<Package, String> {
    meta.packages
        .iter()
        .find(|p| p.name.as_str() == name)
        .map(Package::of)
        .ok_or_else(|| format!("{what} (packages: {})", member_list(meta)))
}

/// The workspace package `name`, in the workspace that holds `dir`.
pub(crate) fn find_package(dir: &Path, name: &str) -> Result<Package, String> {
    let meta = metadata(cargo_metadata::MetadataCommand::new().current_dir(dir)).map_err(|e| {
        format!(
            "not a path, and `cargo metadata` in {} failed: {e}",
            dir.display()
        )
    })?;
    named(&meta, name, "no package of that name in the workspace")
}

/// The workspace package `name`, in the workspace of `manifest`.
pub(crate) fn member(manifest: &Path, name: &str) -> Result<Package, String> {
    let meta = metadata(cargo_metadata::MetadataCommand::new().manifest_path(manifest))
        .map_err(|e| format!("reading {}: {e}", manifest.display()))?;
    named(
        &meta,
        name,
        &format!(
            "--package {name}: no such package in {}",
            manifest.display()
        ),
    )
}

//! Cache keys: what a cell's result depends on, digested. Shared parts are
//! digested once per run (linkmatrix, the matrix settings, the crate's
//! inputs) and once per target (its files and toolchain identities).
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Key;
use crate::model::{Cell, CellOutcome, Matrix, Target};

/// A cell's cache entry: its key and its outcome.
#[derive(Serialize, Deserialize)]
pub(crate) struct CacheEntry {
    /// The key the outcome was computed under.
    pub(crate) key: String,
    /// The outcome.
    pub(crate) outcome: CellOutcome,
    /// Environment variables the build's build scripts declared with
    /// `cargo:rerun-if-env-changed`, with their values at build time
    /// (`None`: unset). The entry holds only while they are unchanged.
    #[serde(default)]
    pub(crate) env: BTreeMap<String, Option<String>>,
}

impl CacheEntry {
    /// The entry still describes a build under `key` in this environment.
    pub(crate) fn holds(&self, key: &str) -> bool {
        self.key == key
            && self
                .env
                .iter()
                .all(|(k, v)| std::env::var(k).ok().as_ref() == v.as_ref())
    }
}

/// Environment variables cargo, rustc, build scripts and C compilers read
/// (by prefix), sorted with their values: any change is a cache miss.
fn build_env() -> String {
    const PREFIXES: &[&str] = &[
        "CARGO",
        "RUST",
        "CC",
        "CFLAGS",
        "CXX",
        "CPPFLAGS",
        "AR",
        "LD",
        "TARGET_",
        "HOST_",
        "PKG_CONFIG",
        "LIBRARY_PATH",
        "CPATH",
        "C_INCLUDE_PATH",
        "SOURCE_DATE_EPOCH",
    ];
    let mut vars: Vec<(String, String)> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.to_string_lossy().into_owned())))
        .filter(|(k, _)| PREFIXES.iter().any(|p| k.starts_with(p)) && !k.starts_with("CARGO_TERM_"))
        .collect();
    vars.sort();
    vars.iter().fold(String::new(), |mut s, (k, v)| {
        s.push_str(k);
        s.push('=');
        s.push_str(v);
        s.push('\n');
        s
    })
}

/// Cargo configuration and toolchain files that change a build: every
/// `.cargo/config(.toml)` and `rust-toolchain(.toml)` from the crate's
/// directory up to the root, and `$CARGO_HOME/config(.toml)`.
fn config_files(manifest: &Path) -> Vec<PathBuf> {
    let dir = manifest.parent().unwrap_or(Path::new("."));
    let mut out: Vec<PathBuf> = dir
        .ancestors()
        .flat_map(|d| [d.join("rust-toolchain.toml"), d.join("rust-toolchain")])
        .collect();
    out.extend(cargo_config_files(dir));
    out
}

/// The cargo configuration files that exist for a build in `dir`, the
/// one that wins first: `.cargo/config.toml` (or `.cargo/config`) from
/// `dir` up to the root, then `$CARGO_HOME/config.toml` (cargo's
/// configuration reference, "Hierarchical structure").
pub(crate) fn cargo_config_files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = dir
        .ancestors()
        .flat_map(|d| [d.join(".cargo/config.toml"), d.join(".cargo/config")])
        .collect();
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    if let Some(h) = home {
        out.push(h.join("config.toml"));
        out.push(h.join("config"));
    }
    out.retain(|f| f.is_file());
    out
}

/// The variables build scripts under `target_dir` declared with
/// `cargo:rerun-if-env-changed` (cargo keeps each script's output in
/// `build/<pkg>-<hash>/output`), with their current values.
pub(crate) fn declared_env(target_dir: &Path) -> BTreeMap<String, Option<String>> {
    let mut outputs = Vec::new();
    find_build_outputs(target_dir, 0, &mut outputs);
    let mut out = BTreeMap::new();
    for f in outputs {
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        for line in text.lines() {
            let var = line
                .strip_prefix("cargo::rerun-if-env-changed=")
                .or_else(|| line.strip_prefix("cargo:rerun-if-env-changed="));
            if let Some(v) = var.map(str::trim).filter(|v| !v.is_empty()) {
                out.insert(v.to_owned(), std::env::var(v).ok());
            }
        }
    }
    out
}

fn find_build_outputs(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    // <target>/<triple>/<profile>/build/<pkg>-<hash>/output, and the host
    // profile's <target>/<profile>/build/…: at most 5 levels down.
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let Ok(ft) = e.file_type() else { continue };
        let p = e.path();
        if ft.is_dir() && depth < 5 && e.file_name() != "deps" && e.file_name() != "incremental" {
            find_build_outputs(&p, depth + 1, out);
        } else if ft.is_file()
            && e.file_name() == "output"
            && p.parent()
                .and_then(Path::parent)
                .is_some_and(|b| b.file_name().is_some_and(|n| n == "build"))
        {
            out.push(p);
        }
    }
}

/// What one `cargo metadata` says about the crate.
#[derive(Clone, Debug, Default)]
pub(crate) struct CrateFacts {
    /// Local packages the crate depends on (path dependencies and itself),
    /// by directory, plus the lock file: what the cache key hashes.
    pub(crate) inputs: Vec<PathBuf>,
    /// Some package the build compiles for the host: a build script or a
    /// proc macro (`syn` and friends), built once per build directory.
    pub(crate) host_units: bool,
}

/// The crate's [`CrateFacts`], from one `cargo metadata` per run (offline);
/// if it fails, the crate's own directory and no host units known.
pub(crate) fn crate_facts(manifest: &Path) -> CrateFacts {
    let dir = manifest.parent().unwrap_or(Path::new(".")).to_path_buf();
    let Ok(meta) = crate::process::cargo_metadata(
        cargo_metadata::MetadataCommand::new()
            .manifest_path(manifest)
            .other_options(vec!["--offline".to_owned()]),
    ) else {
        return CrateFacts {
            inputs: vec![dir],
            host_units: false,
        };
    };
    let mut facts = CrateFacts {
        inputs: vec![meta.workspace_root.join("Cargo.lock").into_std_path_buf()],
        host_units: false,
    };
    let Some(resolve) = &meta.resolve else {
        facts.inputs.push(dir);
        return facts;
    };
    let root = meta
        .packages
        .iter()
        .find(|p| p.manifest_path.as_std_path() == manifest)
        .map(|p| p.id.clone());
    let mut stack: Vec<cargo_metadata::PackageId> = root.into_iter().collect();
    let mut seen = BTreeSet::new();
    while let Some(id) = stack.pop() {
        if !seen.insert(id.clone()) {
            continue;
        }
        if let Some(p) = meta.packages.iter().find(|p| p.id == id) {
            if p.source.is_none()
                && let Some(d) = p.manifest_path.parent()
            {
                facts.inputs.push(d.as_std_path().to_path_buf());
            }
            facts.host_units |= p
                .targets
                .iter()
                .any(|t| t.is_proc_macro() || t.is_custom_build());
        }
        // What the build compiles: not the dev-dependencies.
        if let Some(node) = resolve.nodes.iter().find(|n| n.id == id) {
            stack.extend(
                node.deps
                    .iter()
                    .filter(|d| {
                        d.dep_kinds
                            .iter()
                            .any(|k| k.kind != cargo_metadata::DependencyKind::Development)
                    })
                    .map(|d| d.pkg.clone()),
            );
        }
    }
    facts
}

/// A program's identity for cache keys: path, size and modification time.
pub(crate) fn file_identity(path: &Path) -> String {
    let meta = std::fs::metadata(path);
    let (len, mtime) = meta.map_or((0, 0), |m| {
        let t = m
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs());
        (m.len(), t)
    });
    format!("{}:{len}:{mtime}", path.display())
}

/// What runs a matrix's builds besides the toolchains, as identities the
/// caller reads (`wrapper` and `source` know those programs and files; the
/// cache only digests what it is given).
#[derive(Debug, Default)]
pub(crate) struct BuildTools {
    /// The user's rustc wrapper, as `wrapper::chain_identity` gives it
    /// (cargo builds only): another one, or an upgrade, is another build.
    pub(crate) rustc_wrapper: Option<String>,
    /// The patches a command build's tree is unpacked with
    /// (`source::stamp`): an edited patch is a miss, and the cell then
    /// finds the tree out of date.
    pub(crate) unpack: Option<String>,
    /// The programs a command build runs (`source::tools_identity`).
    pub(crate) command_tools: Option<String>,
}

/// What every cell's key shares: linkmatrix itself, the matrix settings,
/// what runs the builds and the crate's inputs (digested once per run,
/// not once per cell).
fn shared_key(m: &Matrix, inputs: &[PathBuf], build: &BuildTools) -> String {
    let mut k = Key::new();
    let exe = std::env::current_exe()
        .map(|p| file_identity(&p))
        .unwrap_or_default();
    k.str("tool", env!("CARGO_PKG_VERSION"))
        .str("exe", &exe)
        .str("mode", &format!("{:?}", m.mode))
        .str("bin", m.bin.as_deref().unwrap_or_default())
        .str("build", &format!("{:?}", m.build))
        .str(
            "kconfig",
            &format!(
                "{:?}",
                m.rules
                    .options
                    .iter()
                    .map(|o| (&o.name, &o.kconfig))
                    .collect::<Vec<_>>()
            ),
        )
        .str(
            "roots",
            &m.roots
                .iter()
                .map(glob::Pattern::as_str)
                .collect::<Vec<_>>()
                .join(","),
        )
        .str(
            "policy",
            &format!(
                // The symbols a size lists are measured with the cell; the
                // budgets are decided at the gate, from the figures.
                "{:?}|{:?}|{:?}",
                m.policy
                    .forbidden
                    .iter()
                    .map(glob::Pattern::as_str)
                    .collect::<Vec<_>>(),
                m.policy
                    .allow_undefined
                    .iter()
                    .map(glob::Pattern::as_str)
                    .collect::<Vec<_>>(),
                m.policy.size.symbols
            ),
        );
    k.str("env", &build_env());
    for (name, identity) in [
        ("rustc-wrapper", &build.rustc_wrapper),
        ("unpack", &build.unpack),
        ("command-tools", &build.command_tools),
    ] {
        if let Some(identity) = identity {
            k.str(name, identity);
        }
    }
    for f in config_files(&m.manifest) {
        k.file(&f);
    }
    for p in inputs {
        if p.is_dir() && m.build.is_some() {
            // A command build's source tree: too big to read each run.
            k.str("source", &p.display().to_string()).tree_stat(p);
        } else if p.is_dir() {
            k.tree(p);
        } else {
            k.file(p);
        }
    }
    k.finish()
}

/// A target's part of the key: its file, platform sources, include files,
/// linker script and toolchain identities (digested once per target).
fn target_key(t: &Target, tools: &dyn Fn(&Target) -> String) -> String {
    let mut k = Key::new();
    k.str("target", &t.digest_input);
    for s in &t.sources {
        k.file(s);
    }
    for i in &t.include {
        k.tree(i);
    }
    if let Some(s) = &t.script {
        k.file(s);
    }
    k.str("tools", &tools(t));
    k.finish()
}

/// Every cell's key: the shared part (with `build`, what runs the
/// matrix's builds), its target's part (with `tools`, the identity of the
/// toolchain that builds for it), and the cell.
pub(crate) fn cell_keys(
    m: &Matrix,
    cells: &[&Cell],
    inputs: &[PathBuf],
    build: &BuildTools,
    tools: &dyn Fn(&Target) -> String,
) -> BTreeMap<String, String> {
    let shared = shared_key(m, inputs, build);
    let arches: BTreeSet<&str> = cells.iter().map(|c| c.arch.as_str()).collect();
    let target_keys: BTreeMap<&str, String> = arches
        .into_iter()
        .filter_map(|a| m.targets.get(a).map(|t| (a, target_key(t, tools))))
        .collect();
    cells
        .iter()
        .map(|c| {
            let key = Key::new()
                .str("shared", &shared)
                .str(
                    "target",
                    target_keys.get(c.arch.as_str()).map_or("", String::as_str),
                )
                .str("cell", &serde_json::to_string(c).unwrap_or_default())
                .finish();
            (c.id.clone(), key)
        })
        .collect()
}

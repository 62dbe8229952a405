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
}

/// Local packages the crate depends on (path dependencies and itself), by
/// directory, plus the lock file: what the cache key hashes. One `cargo
/// metadata` per run; if it fails, the crate's own directory.
fn crate_inputs(manifest: &Path) -> Vec<PathBuf> {
    let dir = manifest.parent().unwrap_or(Path::new(".")).to_path_buf();
    let Ok(meta) = crate::process::cargo_metadata(
        cargo_metadata::MetadataCommand::new()
            .manifest_path(manifest)
            .other_options(vec!["--offline".to_owned()]),
    ) else {
        return vec![dir];
    };
    let mut out = vec![meta.workspace_root.join("Cargo.lock").into_std_path_buf()];
    let Some(resolve) = &meta.resolve else {
        out.push(dir);
        return out;
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
        if let Some(p) = meta.packages.iter().find(|p| p.id == id)
            && p.source.is_none()
            && let Some(d) = p.manifest_path.parent()
        {
            out.push(d.as_std_path().to_path_buf());
        }
        if let Some(node) = resolve.nodes.iter().find(|n| n.id == id) {
            stack.extend(node.dependencies.iter().cloned());
        }
    }
    out
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

/// What every cell's key shares: linkmatrix itself, the matrix settings
/// and the crate's inputs (digested once per run, not once per cell).
fn shared_key(m: &Matrix, inputs: &[PathBuf]) -> String {
    let mut k = Key::new();
    let exe = std::env::current_exe()
        .map(|p| file_identity(&p))
        .unwrap_or_default();
    k.str("tool", env!("CARGO_PKG_VERSION"))
        .str("exe", &exe)
        .str("mode", &format!("{:?}", m.mode))
        .str("roots", &m.roots.join(","))
        .str(
            "policy",
            &format!(
                "{:?}|{:?}",
                m.policy
                    .forbidden
                    .iter()
                    .map(glob::Pattern::as_str)
                    .collect::<Vec<_>>(),
                m.policy
                    .allow_undefined
                    .iter()
                    .map(glob::Pattern::as_str)
                    .collect::<Vec<_>>()
            ),
        );
    for p in inputs {
        if p.is_dir() {
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

/// Every cell's key: the shared part, its target's part (with `tools`,
/// the identity of the toolchain that builds for it), and the cell.
pub(crate) fn cell_keys(
    m: &Matrix,
    cells: &[&Cell],
    tools: &dyn Fn(&Target) -> String,
) -> BTreeMap<String, String> {
    let shared = shared_key(m, &crate_inputs(&m.manifest));
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

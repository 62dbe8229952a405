//! The bundled targets, templates, matrix files and the kalloc fixture,
//! built into the binary so an installed linkmatrix works on any crate
//! anywhere. They are used from the source tree when the binary was built
//! from one that still exists (so edits there take effect at once), and
//! otherwise written once to the cache directory, atomically.
//!
//! `LINKMATRIX_BUNDLE=embedded` forces the embedded copy.
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use include_dir::{Dir, include_dir};
use sha2::{Digest, Sha256};

use crate::cache::hex;

static TARGETS: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/targets");
static TEMPLATES: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/templates");
static CONFIGS: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/configs");
static PLATFORM: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/fixtures/platform");
static KALLOC_SRC: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/fixtures/kalloc/src");
static KALLOC_MANIFEST: &str = include_str!("../fixtures/kalloc/Cargo.toml");
static OWN_MATRIX: &str = include_str!("../linkmatrix.yaml");

fn dirs() -> [(&'static str, &'static Dir<'static>); 5] {
    [
        ("targets", &TARGETS),
        ("templates", &TEMPLATES),
        ("configs", &CONFIGS),
        ("fixtures/platform", &PLATFORM),
        ("fixtures/kalloc/src", &KALLOC_SRC),
    ]
}

/// Every bundled file: its path under the bundle root, and its bytes.
pub(crate) fn files() -> Vec<(String, &'static [u8])> {
    let mut out = vec![
        (
            "fixtures/kalloc/Cargo.toml".to_owned(),
            KALLOC_MANIFEST.as_bytes(),
        ),
        ("linkmatrix.yaml".to_owned(), OWN_MATRIX.as_bytes()),
    ];
    for (prefix, dir) in dirs() {
        collect(dir, prefix, &mut out);
    }
    out.sort();
    out
}

fn collect(dir: &'static Dir<'static>, prefix: &str, out: &mut Vec<(String, &'static [u8])>) {
    for f in dir.files() {
        out.push((format!("{prefix}/{}", f.path().display()), f.contents()));
    }
    for d in dir.dirs() {
        collect(d, prefix, out);
    }
}

/// The directory holding `targets/`, `templates/`, `configs/`, `fixtures/`.
pub(crate) fn root() -> Result<PathBuf> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"));
    let forced = std::env::var_os("LINKMATRIX_BUNDLE").is_some_and(|v| v == "embedded");
    if !forced && src.join("targets").is_dir() && src.join("linkmatrix.yaml").is_file() {
        return Ok(src.to_path_buf());
    }
    materialize(&crate::cache::cache_dir()?.join("bundle"))
}

/// Write the embedded files under `base/<version>-<digest>` unless they are
/// there already.
pub(crate) fn materialize(base: &Path) -> Result<PathBuf> {
    let files = files();
    let mut h = Sha256::new();
    for (p, bytes) in &files {
        h.update(p.as_bytes());
        h.update([0]);
        h.update(bytes);
    }
    let digest = hex(&h.finalize()[..8]);
    let dest = base.join(format!("{}-{digest}", env!("CARGO_PKG_VERSION")));
    if dest.join(".complete").is_file() {
        return Ok(dest);
    }
    std::fs::create_dir_all(base).with_context(|| format!("creating {}", base.display()))?;
    let tmp = tempfile::Builder::new()
        .prefix(".bundle-")
        .tempdir_in(base)
        .with_context(|| format!("creating a directory in {}", base.display()))?;
    for (p, bytes) in &files {
        let path = tmp.path().join(p);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
    }
    std::fs::write(tmp.path().join(".complete"), b"")?;
    let tmp = tmp.keep();
    if let Err(e) = std::fs::rename(&tmp, &dest) {
        // Another process won the race: use its copy.
        let _ = std::fs::remove_dir_all(&tmp);
        if !dest.join(".complete").is_file() {
            return Err(e).with_context(|| format!("installing {}", dest.display()));
        }
    }
    Ok(dest)
}

/// Names of the target files under `root/targets`.
pub(crate) fn target_names(root: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root.join("targets"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let p = e.path();
            if p.extension()? != "yaml" {
                return None;
            }
            Some(p.file_stem()?.to_string_lossy().into_owned())
        })
        .collect();
    names.sort();
    names
}

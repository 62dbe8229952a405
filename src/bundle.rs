//! The bundled targets, templates, matrix files and the kalloc fixture,
//! built into the binary so an installed linkmatrix works on any crate
//! anywhere. They are used from the source tree when the binary was built
//! from one that still exists (so edits there take effect at once), and
//! otherwise written once to the cache directory, atomically.
//!
//! `LINKMATRIX_BUNDLE=embedded` forces the embedded copy.
//!
//! The kalloc fixture is a package of its own, and `cargo package` leaves
//! out every directory that holds a `Cargo.toml` (even when `include`
//! names it), so it is embedded through `bundled/`: symbolic links to
//! `fixtures/kalloc/src`, its manifest and its lock file, under names
//! that are no package. `cargo package` follows them and stores the
//! files, so the `.crate` builds the same binary; the bundle writes them
//! back as `fixtures/kalloc/`.
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use include_dir::{Dir, include_dir};
use sha2::{Digest, Sha256};

use crate::cache::hex;

static TARGETS: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/targets");
static TEMPLATES: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/templates");
static CONFIGS: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/configs");
static PLATFORM: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/fixtures/platform");
/// The kernel patch `configs/linux-percpu-2021.yaml` applies.
static LINUX: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/fixtures/linux");
static KALLOC_SRC: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/bundled/kalloc-src");
/// Written out as a workspace of its own: cargo would otherwise take a
/// `[workspace]` above the cache directory for kalloc's and refuse it.
static KALLOC_MANIFEST: &str = concat!(
    include_str!("../bundled/kalloc-Cargo.toml"),
    "\n# Written by linkmatrix: a workspace of its own wherever it is.\n[workspace]\n"
);
static KALLOC_LOCK: &str = include_str!("../bundled/kalloc-Cargo.lock");
/// The written bundle's root manifest: it marks the project the bundled
/// matrices' paths stay inside (`configs/x.yaml` names
/// `../fixtures/kalloc`), as an unpacked tarball's workspace does.
static ROOT_MANIFEST: &str = "# Written by linkmatrix: the root of its bundled files. Nothing builds\n# here; fixtures/kalloc is a workspace of its own.\n[workspace]\nresolver = \"2\"\n";
static OWN_MATRIX: &str = include_str!("../linkmatrix.yaml");

fn dirs() -> [(&'static str, &'static Dir<'static>); 6] {
    [
        ("targets", &TARGETS),
        ("templates", &TEMPLATES),
        ("configs", &CONFIGS),
        ("fixtures/platform", &PLATFORM),
        ("fixtures/linux", &LINUX),
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
        (
            "fixtures/kalloc/Cargo.lock".to_owned(),
            KALLOC_LOCK.as_bytes(),
        ),
        ("linkmatrix.yaml".to_owned(), OWN_MATRIX.as_bytes()),
        ("Cargo.toml".to_owned(), ROOT_MANIFEST.as_bytes()),
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

/// The directory holding `targets/`, `templates/`, `configs/`, `fixtures/`:
/// the source tree the binary was built from while it has them all (an
/// unpacked `.crate` has no `fixtures/kalloc`), else the embedded copy.
pub(crate) fn root() -> Result<PathBuf> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"));
    let forced = std::env::var_os("LINKMATRIX_BUNDLE").is_some_and(|v| v == "embedded");
    let whole = [
        "targets",
        "configs",
        "fixtures/platform",
        "fixtures/kalloc/src",
    ]
    .iter()
    .all(|d| src.join(d).is_dir())
        && ["linkmatrix.yaml", "fixtures/kalloc/Cargo.toml"]
            .iter()
            .all(|f| src.join(f).is_file());
    if !forced && whole {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file of the kalloc fixture, as git has it, is in the bundle
    /// with the same bytes (through `bundled/`, which `cargo package`
    /// follows): the packaged crate builds the demo the repository does.
    #[test]
    fn the_bundle_holds_kalloc_and_what_every_bundled_matrix_names() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let d = tempfile::tempdir().unwrap();
        let root = materialize(d.path()).unwrap();
        let mut want = Vec::new();
        let mut stack = vec![repo.join("fixtures/kalloc")];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() && e.file_name() != "target" {
                    stack.push(p);
                } else if p.is_file() {
                    want.push(p.strip_prefix(repo).unwrap().to_path_buf());
                }
            }
        }
        assert!(want.len() > 5, "{want:?}");
        for rel in want {
            let got = std::fs::read(root.join(&rel))
                .unwrap_or_else(|e| panic!("{} is not bundled: {e}", rel.display()));
            let orig = std::fs::read(repo.join(&rel)).unwrap();
            if rel.ends_with("Cargo.toml") {
                // The manifest, made a workspace of its own.
                assert!(got.starts_with(&orig), "{}", rel.display());
                assert!(String::from_utf8_lossy(&got).ends_with("[workspace]\n"));
            } else {
                assert_eq!(got, orig, "{}", rel.display());
            }
        }
        assert!(root.join("linkmatrix.yaml").is_file());
        // What every bundled matrix names is there.
        for cfg in std::fs::read_dir(root.join("configs")).unwrap().flatten() {
            let text = std::fs::read_to_string(cfg.path()).unwrap();
            for word in text.split(['[', ']', ',', ' ', '\n', ':']) {
                if let Some(rel) = word.strip_prefix("../") {
                    assert!(
                        root.join(rel).exists(),
                        "{} names {rel}, which is not bundled",
                        cfg.path().display()
                    );
                }
            }
        }
    }
}

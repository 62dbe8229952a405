//! The work directory of a matrix, shared by `check` and the triage verbs:
//!
//! ```text
//! <root>/target/linkmatrix/<matrix file stem>/
//!   .lock               one run at a time
//!   cache/<cell>.json   the cell's key and outcome
//!   build/<group>/      one cargo target directory per arch, profile and
//!                       option settings: dependencies, proc macros and
//!                       build scripts built once, shared by its cells
//!   build/<arch>-<key>/ a command build's out-of-tree directory, keyed
//!                       by the source tree and what configures it
//!   src/<package>/      a source package's tree, unpacked and patched
//!                       by `setup` (command builds)
//!   ccache-bin/         compiler names that run ccache (command builds)
//!   cells/<cell>/       its copy of the crate's staticlib, link and
//!                       inspect outputs
//!     inspect.json      what the triage verbs read (the image and roots)
//! ```
use std::path::{Path, PathBuf};

use crate::model::{Cell, Inspected, Matrix};

/// A matrix's work directory.
#[derive(Clone, Debug)]
pub(crate) struct WorkDir {
    dir: PathBuf,
    /// The identity of the user's rustc wrapper that cargo builds run
    /// (empty: none), which cargo does not fingerprint.
    rustc_chain: String,
}

impl WorkDir {
    /// The work directory of `m`.
    pub(crate) fn of(m: &Matrix) -> Self {
        let mut w = Self::at(&m.root, &m.path);
        if m.build.is_none() {
            let dir = m.manifest.parent().unwrap_or(Path::new("."));
            w.rustc_chain = crate::wrapper::chain_identity(dir);
        }
        w
    }

    /// The work directory of the matrix file `path` in project `root`.
    pub(crate) fn at(root: &Path, path: &Path) -> Self {
        let stem = path
            .file_stem()
            .map_or_else(|| "matrix".to_owned(), |s| s.to_string_lossy().into_owned());
        Self {
            dir: root.join("target").join("linkmatrix").join(stem),
            rustc_chain: String::new(),
        }
    }

    /// Where `setup` unpacks a source package's tree.
    pub(crate) fn unpacked(&self, package: &str) -> PathBuf {
        self.dir.join("src").join(package)
    }

    /// The lock file one run holds.
    pub(crate) fn lock_file(&self) -> PathBuf {
        self.dir.join(".lock")
    }

    /// A cell's cache entry.
    pub(crate) fn cache_entry(&self, id: &str) -> PathBuf {
        self.dir.join("cache").join(format!("{id}.json"))
    }

    /// The cargo target directory `cell` builds in, shared with every cell
    /// of the same profile and option settings (`env`, `rustflags`,
    /// `cargo-args`), the flags the rustc wrapper adds and the user's
    /// wrapper it runs (sccache: its outputs are rustc's, but a wrapper
    /// may change them, and cargo would not see it); cells differing
    /// only in features share it, and cargo keeps one build per feature
    /// set there. With `across_triples` (the crate has build scripts or
    /// proc macros: host artifacts, the same for every triple) every arch
    /// shares it too, so those are built once; else each arch has its own
    /// and cells of different arches build in parallel.
    pub(crate) fn build_dir(&self, cell: &Cell, across_triples: bool) -> PathBuf {
        let settings = serde_json::to_string(&cell.settings).unwrap_or_default();
        // What the rustc wrapper adds is not in cargo's fingerprints: a
        // change to it is another directory.
        let key = crate::cache::Key::new()
            .str("settings", &settings)
            .str("wrapper-flags", &crate::build::FLAGS.join("\x1f"))
            .str("rustc-wrapper", &self.rustc_chain)
            .finish();
        let arch = if across_triples { "all" } else { &cell.arch };
        self.dir
            .join("build")
            .join(format!("{arch}-{}-{}", cell.profile, &key[..12]))
    }

    /// A command build's out-of-tree build directory, by its key.
    pub(crate) fn command_dir(&self, name: &str) -> PathBuf {
        self.dir.join("build").join(name)
    }

    /// Compiler names that run ccache, first on a command build's PATH.
    pub(crate) fn ccache_bin(&self) -> PathBuf {
        self.dir.join("ccache-bin")
    }

    /// A cell's own directory.
    pub(crate) fn cell(&self, id: &str) -> PathBuf {
        self.dir.join("cells").join(id)
    }

    /// What a cell's inspection used, if it got that far.
    pub(crate) fn read_inspected(&self, id: &str) -> Option<Inspected> {
        crate::cache::read_entry(&self.inspected(id))
    }

    /// Keep what a cell's inspection used.
    pub(crate) fn write_inspected(&self, id: &str, ins: &Inspected) {
        crate::cache::write_entry(&self.inspected(id), ins);
    }

    fn inspected(&self, id: &str) -> PathBuf {
        self.cell(id).join("inspect.json")
    }
}

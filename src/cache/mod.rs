//! Where linkmatrix keeps state between runs, and how it writes it: the
//! cache directory, content digests of a cell's inputs, atomic writes
//! (temp file + rename, so a reader sees the old file or the whole new one),
//! and advisory locks that say when they wait.
//!
//! A cache entry that is truncated, unparsable, of another schema, or a
//! symlink is a miss, never an error.
mod keys;

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Serialize, de::DeserializeOwned};
use sha2::{Digest, Sha256};

pub(crate) use keys::{
    BuildTools, CacheEntry, CrateFacts, cargo_config_files, cell_keys, crate_facts, declared_env,
    file_identity,
};

/// The user-wide cache: `$LINKMATRIX_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/linkmatrix`, else `~/.cache/linkmatrix`.
pub(crate) fn cache_dir() -> Result<PathBuf> {
    if let Some(d) = std::env::var_os("LINKMATRIX_CACHE_DIR") {
        return Ok(PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(d).join("linkmatrix"));
    }
    let home = std::env::var_os("HOME").context("neither LINKMATRIX_CACHE_DIR nor HOME is set")?;
    Ok(PathBuf::from(home).join(".cache").join("linkmatrix"))
}

/// Incremental digest of a cell's inputs.
#[derive(Clone, Default)]
pub(crate) struct Key(Sha256);

impl Key {
    /// An empty key.
    pub(crate) fn new() -> Self {
        Self(Sha256::new())
    }

    /// Mix in a labelled string.
    pub(crate) fn str(&mut self, label: &str, value: &str) -> &mut Self {
        self.0.update(label.as_bytes());
        self.0.update([0]);
        self.0.update((value.len() as u64).to_le_bytes());
        self.0.update(value.as_bytes());
        self
    }

    /// Mix in a file's path and contents (a missing file mixes in a marker).
    pub(crate) fn file(&mut self, path: &Path) -> &mut Self {
        let label = path.display().to_string();
        if let Ok(bytes) = std::fs::read(path) {
            self.0.update(label.as_bytes());
            self.0.update([1]);
            self.0.update((bytes.len() as u64).to_le_bytes());
            self.0.update(&bytes);
        } else {
            self.0.update(label.as_bytes());
            self.0.update([2]);
        }
        self
    }

    /// Mix in every file under `dir` (sorted; `target/` and dot-dirs skipped).
    pub(crate) fn tree(&mut self, dir: &Path) -> &mut Self {
        let mut files = Vec::new();
        walk(dir, &mut files);
        files.sort();
        for f in files {
            self.file(&f);
        }
        self
    }

    /// Mix in every file under `dir` by what its metadata says (path,
    /// size, inode, mode, modification and change times), not its
    /// contents: for source trees too big to read on every run (a kernel
    /// is 1.5 GB). An edit, a patch, a re-unpack or `touch` changes it;
    /// a file restored to its old contents counts as changed (a rebuild,
    /// never a stale result).
    pub(crate) fn tree_stat(&mut self, dir: &Path) -> &mut Self {
        use std::os::unix::fs::MetadataExt;
        let mut files = Vec::new();
        walk(dir, &mut files);
        files.sort();
        for f in files {
            let label = f.strip_prefix(dir).unwrap_or(&f).display().to_string();
            self.0.update(label.as_bytes());
            match std::fs::metadata(&f) {
                Ok(m) => {
                    self.0.update([3]);
                    for n in [
                        m.len(),
                        m.ino(),
                        u64::from(m.mode()),
                        m.mtime().cast_unsigned(),
                        m.mtime_nsec().cast_unsigned(),
                        m.ctime().cast_unsigned(),
                        m.ctime_nsec().cast_unsigned(),
                    ] {
                        self.0.update(n.to_le_bytes());
                    }
                }
                Err(_) => self.0.update([2]),
            }
        }
        self
    }

    /// The hex digest.
    pub(crate) fn finish(&self) -> String {
        hex(&self.0.clone().finalize()[..16])
    }
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    walk_at(dir, 0, out);
}

/// Symlinked files and directories are followed (a crate may link its
/// sources in); the depth cap ends symlink loops.
fn walk_at(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    if depth > 24 {
        return;
    }
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name == "target" {
            continue;
        }
        let Ok(meta) = std::fs::metadata(e.path()) else {
            continue;
        };
        if meta.is_dir() {
            walk_at(&e.path(), depth + 1, out);
        } else if meta.is_file() {
            out.push(e.path());
        }
    }
}

/// Write `bytes` to a temp file beside `path` and sync it; `commit` then
/// renames it into place. Dropped uncommitted, it leaves nothing behind.
pub(crate) struct Staged {
    file: tempfile::NamedTempFile,
    path: PathBuf,
}

impl Staged {
    /// Rename into place: readers see the old file or the whole new one.
    pub(crate) fn commit(self) -> Result<()> {
        let path = self.path;
        self.file
            .persist(&path)
            .map_err(|e| e.error)
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(())
    }
}

/// Stage `bytes` for `path` (see [`Staged`]).
pub(crate) fn stage(path: &Path, bytes: &[u8]) -> Result<Staged> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    // Mode 0666 at creation: the kernel applies the user's umask, as for
    // any file a tool writes (a temp file's default 0600 would stay).
    let mut file = tempfile::Builder::new()
        .prefix(".linkmatrix-")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666))
        .tempfile_in(dir)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.as_file().sync_all())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(Staged {
        file,
        path: path.to_path_buf(),
    })
}

/// Write `bytes` to `path` atomically: a temp file in the same directory,
/// fsync, rename. On failure the old file is intact and no temp file stays.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    stage(path, bytes)?.commit()
}

/// Read a JSON cache entry; anything wrong with it is a miss.
pub(crate) fn read_entry<T: DeserializeOwned>(path: &Path) -> Option<T> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    if !meta.file_type().is_file() || meta.len() > 64 << 20 {
        return None;
    }
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

/// Write a JSON cache entry atomically; failures are ignored (a cache that
/// cannot be written is a slower run, not a failed one).
pub(crate) fn write_entry<T: Serialize>(path: &Path, value: &T) {
    if let Some(parent) = path.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    if let Ok(bytes) = serde_json::to_vec(value) {
        let _ = write_atomic(path, &bytes);
    }
}

/// An exclusive advisory lock on `path`, held until dropped. If another
/// process holds it, `waiting` is called once before blocking.
pub(crate) fn lock(path: &Path, waiting: impl FnOnce()) -> Result<File> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let f = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .with_context(|| format!("opening lock {}", path.display()))?;
    match f.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            waiting();
            f.lock()
                .with_context(|| format!("locking {}", path.display()))?;
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("locking {}", path.display()));
        }
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_and_symlinks_are_misses() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("e.json");
        std::fs::write(&p, b"{\"trunc").unwrap();
        assert!(read_entry::<serde_json::Value>(&p).is_none());
        std::fs::write(d.path().join("real.json"), b"{}").unwrap();
        let l = d.path().join("link.json");
        std::os::unix::fs::symlink(d.path().join("real.json"), &l).unwrap();
        assert!(read_entry::<serde_json::Value>(&l).is_none());
        assert!(read_entry::<serde_json::Value>(&d.path().join("real.json")).is_some());
    }

    #[test]
    fn atomic_write_leaves_no_temp_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("r.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }
}

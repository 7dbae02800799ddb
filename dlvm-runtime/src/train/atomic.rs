//! Atomic file replacement: a reader sees either the old file or the complete new one.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Writes a file atomically: `write` fills a temporary sibling of `path`, which is flushed and
/// synced to disk, renamed over `path`, and the directory is synced so that the rename itself
/// survives a crash. A process killed at any point leaves either the previous `path` intact or
/// the new one complete (plus, at worst, a stale `*.dlvm-tmp` sibling).
///
/// # Errors
/// A message naming the failed step (create the directory, write, sync, rename); the
/// temporary file is removed on failure.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), String> {
    if let Some(dir) = parent_dir(path) {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create its directory: {e}"))?;
    }
    let tmp = temporary_sibling(path);
    let result = write_and_sync(&tmp, write).and_then(|()| {
        std::fs::rename(&tmp, path).map_err(|e| format!("cannot move into place: {e}"))
    });
    if result.is_err() {
        std::fs::remove_file(&tmp).ok();
    }
    result?;
    sync_directory(path)
}

/// Writes `tmp` through a buffer, flushes it and syncs its data and metadata to disk.
fn write_and_sync(
    tmp: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), String> {
    let file = File::create(tmp).map_err(|e| format!("cannot create `{}`: {e}", tmp.display()))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    write(&mut out).map_err(|e| format!("cannot write: {e}"))?;
    let file = out
        .into_inner()
        .map_err(|e| format!("cannot write: {}", e.error()))?;
    file.sync_all()
        .map_err(|e| format!("cannot flush to disk: {e}"))
}

/// Syncs the directory holding `path`, making a rename into it durable (a no-op where
/// directories cannot be opened, e.g. on Windows).
pub(crate) fn sync_directory(path: &Path) -> Result<(), String> {
    let dir = parent_dir(path).unwrap_or(Path::new("."));
    match File::open(dir) {
        Ok(handle) => handle
            .sync_all()
            .or_else(|e| if cfg!(unix) { Err(e) } else { Ok(()) })
            .map_err(|e| format!("cannot sync its directory: {e}")),
        Err(_) if !cfg!(unix) => Ok(()),
        Err(e) => Err(format!("cannot open its directory to sync it: {e}")),
    }
}

fn parent_dir(path: &Path) -> Option<&Path> {
    path.parent().filter(|d| !d.as_os_str().is_empty())
}

/// `dir/name.<pid>.dlvm-tmp` for `dir/name`: unique per process, so two runs never share one,
/// and named so that no file of the user's is ever taken for a stale one.
/// The extension of the temporary siblings of atomic writes.
pub(crate) const TEMPORARY_SUFFIX: &str = "dlvm-tmp";

/// The temporary sibling of `path`.
pub(crate) fn temporary_sibling(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(format!(".{}.{TEMPORARY_SUFFIX}", std::process::id()));
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_and_leaves_no_temporary() {
        let dir = std::env::temp_dir().join(format!("dlvm-atomic-{}", std::process::id()));
        let path = dir.join("sub").join("file.bin");
        write_atomically(&path, |w| w.write_all(b"first")).unwrap();
        write_atomically(&path, |w| w.write_all(b"second")).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        let failed = write_atomically(&path, |w| {
            w.write_all(b"partial")?;
            Err(std::io::Error::other("disk full"))
        });
        assert!(failed.unwrap_err().contains("disk full"));
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        assert!(!temporary_sibling(&path).exists());
        std::fs::remove_dir_all(dir).ok();
    }
}

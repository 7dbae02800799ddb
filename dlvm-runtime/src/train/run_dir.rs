//! The run directory: one training run at a time per directory.
//!
//! A run takes an exclusive lock on the file `.dlvm.lock` in each directory it writes into
//! (`flock` on Unix, `LockFileEx` on Windows, through [`std::fs::File::try_lock`]) and keeps it
//! until it ends. The operating system releases the lock when the process exits, also when it is
//! killed, so a crashed run never blocks the next one. Within one process the lock is shared:
//! acquiring a directory that this process already holds returns the same lock, so a program can
//! hold its output directory for its whole run and still call [`Trainer`](super::Trainer), which
//! acquires the directories of its checkpoint and state files itself.
//!
//! On acquiring a directory the run checks that files can be created in it, and removes the
//! temporary files (`name.<pid>.dlvm-tmp`) that writes interrupted by a crash left behind: no other
//! run can be writing them while the lock is held.

use crate::error::{DlvmError, Result};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};

/// The lock file's name inside a run directory.
pub const LOCK_FILE: &str = ".dlvm.lock";

/// An exclusive lock on a run directory, held until the last clone of the [`Arc`] is dropped.
#[derive(Debug)]
pub struct RunLock {
    dir: PathBuf,
    /// The open lock file: closing it releases the lock.
    _file: File,
}

/// The directories this process holds, by canonical path.
static HELD: Mutex<Vec<(PathBuf, Weak<RunLock>)>> = Mutex::new(Vec::new());

impl RunLock {
    /// Locks `dir` for this process (creating it if needed), checks that it is writable, and
    /// removes stale temporary files left in it by interrupted writes. Returns the lock this
    /// process already holds on `dir`, if any.
    ///
    /// # Errors
    /// [`DlvmError::RunDirectory`] naming the directory when it cannot be created or written,
    /// or when another process holds it (a run in progress).
    pub fn acquire(dir: impl AsRef<Path>) -> Result<Arc<Self>> {
        let dir = dir.as_ref();
        let fail = |reason: String| DlvmError::RunDirectory {
            dir: dir.to_path_buf(),
            reason,
        };
        std::fs::create_dir_all(dir).map_err(|e| {
            fail(format!(
                "cannot create it ({e}); choose a directory you can write to"
            ))
        })?;
        let key = dir
            .canonicalize()
            .map_err(|e| fail(format!("cannot resolve its path ({e})")))?;
        let mut held = HELD.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        held.retain(|(_, lock)| lock.strong_count() > 0);
        if let Some(lock) = held
            .iter()
            .find(|(k, _)| *k == key)
            .and_then(|(_, l)| l.upgrade())
        {
            return Ok(lock);
        }
        let file = lock_file(dir).map_err(fail)?;
        check_writable(dir).map_err(fail)?;
        remove_stale_temporaries(dir).map_err(fail)?;
        let lock = Arc::new(Self {
            dir: dir.to_path_buf(),
            _file: file,
        });
        held.push((key, Arc::downgrade(&lock)));
        Ok(lock)
    }

    /// The locked directory, as given to [`acquire`](Self::acquire).
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Opens `dir/.dlvm.lock`, takes the exclusive lock without waiting, and writes this process's
/// id into it (read back to name the holder when another run finds the directory locked).
fn lock_file(dir: &Path) -> std::result::Result<File, String> {
    let path = dir.join(LOCK_FILE);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| {
            format!(
                "cannot open its lock file `{LOCK_FILE}` ({e}); choose a directory you can \
                 write to"
            )
        })?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut holder = String::new();
            file.read_to_string(&mut holder).ok();
            let holder = match holder.trim() {
                "" => String::new(),
                pid => format!(" (process {pid})"),
            };
            return Err(format!(
                "another training run{holder} is using it and holds its lock `{LOCK_FILE}`; \
                 wait for that run to finish, or write to another directory"
            ));
        }
        Err(TryLockError::Error(e)) => {
            return Err(format!("cannot lock `{LOCK_FILE}` ({e})"));
        }
    }
    // Best effort: the pid only makes the message above more helpful.
    let _ = file
        .set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| write!(file, "{}", std::process::id()))
        .and_then(|()| file.flush());
    Ok(file)
}

/// Creates and removes a probe file, so that a directory that cannot be written is reported
/// before training rather than after its first epoch.
fn check_writable(dir: &Path) -> std::result::Result<(), String> {
    let probe = dir.join(format!(".dlvm.probe.{}", std::process::id()));
    File::create(&probe)
        .and_then(|mut f| f.write_all(b"probe"))
        .map_err(|e| {
            format!("cannot write files in it ({e}); choose a directory you can write to")
        })?;
    std::fs::remove_file(&probe).map_err(|e| format!("cannot remove a file from it ({e})"))
}

/// Removes the files named like the temporary siblings of atomic writes, `name.<digits>.dlvm-tmp`
/// (see `atomic.rs`); returns how many were removed.
fn remove_stale_temporaries(dir: &Path) -> std::result::Result<usize, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot list it ({e})"))?;
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        if is_file && name.to_str().is_some_and(is_temporary_name) {
            std::fs::remove_file(entry.path()).map_err(|e| {
                format!(
                    "cannot remove the stale temporary file `{}` ({e})",
                    entry.path().display()
                )
            })?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Whether `name` is `<base>.<digits>.dlvm-tmp` with a non-empty base.
fn is_temporary_name(name: &str) -> bool {
    let Some(stem) = name
        .strip_suffix(crate::train::atomic::TEMPORARY_SUFFIX)
        .and_then(|s| s.strip_suffix('.'))
    else {
        return false;
    };
    match stem.rsplit_once('.') {
        Some((base, pid)) => {
            !base.is_empty() && !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::atomic::temporary_sibling;

    #[test]
    fn temporary_siblings_are_recognised_and_other_files_are_not() {
        let sibling = temporary_sibling(Path::new("dir/model.safetensors"));
        let name = sibling.file_name().unwrap().to_str().unwrap();
        assert!(is_temporary_name(name), "{name}");
        for other in [
            "model.safetensors",
            "x.tmp",
            ".12.tmp",
            "notes.abc.tmp",
            "a.1.tmp.bak",
            "data.123.tmp",
            "a.1.dlvm-tmp.bak",
        ] {
            assert!(!is_temporary_name(other), "{other}");
        }
    }

    #[test]
    fn a_directory_is_shared_within_the_process_and_released_on_drop() {
        let dir = std::env::temp_dir().join(format!("dlvm-run-dir-{}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        let first = RunLock::acquire(&dir).unwrap();
        let second = RunLock::acquire(&dir).unwrap();
        assert!(Arc::ptr_eq(&first, &second));
        drop((first, second));
        let file = File::open(dir.join(LOCK_FILE)).unwrap();
        file.try_lock()
            .expect("the lock is released with the last handle");
        std::fs::remove_dir_all(dir).ok();
    }
}

//! Checkpoints: dfdx safetensors files, written atomically.

use crate::error::{DlvmError, Result};
use crate::model::Dlvm;
use dfdx::prelude::*;
use std::path::{Path, PathBuf};

/// Saves the model's parameters to `path` (safetensors) atomically: the file is written to a
/// temporary sibling, flushed to disk, then renamed over `path`, so a crash mid-write leaves the
/// previous checkpoint intact.
///
/// # Errors
/// [`DlvmError::Checkpoint`] when the directory is not writable or the disk is full.
pub fn save_checkpoint<M: Dlvm<D>, D: Device<f32>>(
    model: &M,
    path: impl AsRef<Path>,
) -> Result<()> {
    let path = path.as_ref();
    let fail = |reason: String| DlvmError::Checkpoint {
        path: path.to_path_buf(),
        reason,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| fail(format!("cannot create its directory: {e}")))?;
    }
    let tmp = temporary_sibling(path);
    model
        .save_safetensors(&tmp)
        .map_err(|e| fail(format!("cannot write: {e}")))?;
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(|e| fail(format!("cannot flush to disk: {e}")))?;
    std::fs::rename(&tmp, path).map_err(|e| fail(format!("cannot move into place: {e}")))
}

/// Loads parameters saved by [`save_checkpoint`] into `model`.
///
/// # Errors
/// [`DlvmError::Checkpoint`] when the file is missing or unreadable, or was written by a model
/// with other parameter names or shapes (the message names the model).
pub fn load_checkpoint<M: Dlvm<D>, D: Device<f32>>(
    model: &mut M,
    path: impl AsRef<Path>,
) -> Result<()> {
    let path = path.as_ref();
    let fail = |reason: String| DlvmError::Checkpoint {
        path: path.to_path_buf(),
        reason,
    };
    if !path.is_file() {
        return Err(fail(
            "no such file; train a model first or check the path".into(),
        ));
    }
    let mut candidate = model.clone();
    match candidate.load_safetensors(path) {
        Ok(()) => {
            *model = candidate;
            Ok(())
        }
        Err(e) => Err(fail(format!(
            "does not fit model `{}` ({e:?}); it was written by a model with other layer names or \
             shapes, or is corrupt",
            M::NAME
        ))),
    }
}

fn temporary_sibling(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(format!(".{}.tmp", std::process::id()));
    path.with_file_name(name)
}

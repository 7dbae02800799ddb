//! Checkpoints: dfdx safetensors files, written atomically.

use super::atomic::{sync_directory, temporary_sibling};
use crate::error::{DlvmError, Result};
use crate::model::Dlvm;
use dfdx::prelude::*;
use std::path::Path;

/// Saves the model's parameters to `path` (safetensors) atomically: the file is written to a
/// temporary sibling, flushed to disk, then renamed over `path` and the directory synced, so a
/// crash mid-write leaves the previous checkpoint intact.
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
    let written = model
        .save_safetensors(&tmp)
        .map_err(|e| fail(format!("cannot write: {e}")))
        .and_then(|()| {
            std::fs::File::open(&tmp)
                .and_then(|f| f.sync_all())
                .map_err(|e| fail(format!("cannot flush to disk: {e}")))
        })
        .and_then(|()| {
            std::fs::rename(&tmp, path).map_err(|e| fail(format!("cannot move into place: {e}")))
        });
    if written.is_err() {
        std::fs::remove_file(&tmp).ok();
    }
    written?;
    sync_directory(path).map_err(fail)
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

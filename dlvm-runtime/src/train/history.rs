//! What training did, epoch by epoch; writable as CSV or JSON.

use crate::error::{DlvmError, Result};
use std::path::Path;

/// One epoch of training.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean training ELBO over the epoch's minibatches (nats per point).
    pub train_elbo: f64,
    /// Validation ELBO after the epoch, if validation data was given.
    pub valid_elbo: Option<f64>,
    /// Wall-clock seconds of the epoch's training steps.
    pub seconds: f64,
    /// Training throughput.
    pub samples_per_sec: f64,
}

/// The per-epoch records of a training run.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct History {
    /// One record per completed epoch.
    pub epochs: Vec<EpochRecord>,
    /// The epoch whose parameters the model holds at the end (the best one under early stopping).
    pub best_epoch: Option<usize>,
    /// Whether early stopping ended the run.
    pub stopped_early: bool,
}

impl History {
    /// The history as CSV: `epoch,train_elbo,valid_elbo,seconds,samples_per_sec`.
    pub fn to_csv(&self) -> String {
        let mut out = String::from("epoch,train_elbo,valid_elbo,seconds,samples_per_sec\n");
        for r in &self.epochs {
            let valid = r.valid_elbo.map(|v| v.to_string()).unwrap_or_default();
            out.push_str(&format!(
                "{},{},{},{},{}\n",
                r.epoch, r.train_elbo, valid, r.seconds, r.samples_per_sec
            ));
        }
        out
    }

    /// The history as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }

    /// Writes [`to_csv`](Self::to_csv) to `path`.
    ///
    /// # Errors
    /// [`DlvmError::Io`] when the file cannot be written.
    pub fn write_csv(&self, path: impl AsRef<Path>) -> Result<()> {
        write_text(path.as_ref(), &self.to_csv())
    }

    /// Writes [`to_json`](Self::to_json) to `path`.
    ///
    /// # Errors
    /// [`DlvmError::Io`] when the file cannot be written.
    pub fn write_json(&self, path: impl AsRef<Path>) -> Result<()> {
        write_text(path.as_ref(), &self.to_json())
    }
}

fn write_text(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|source| DlvmError::Io {
        path: path.to_path_buf(),
        source,
    })
}

//! Training settings with sensible defaults and validation.

use crate::error::{DlvmError, Result};
use std::path::PathBuf;

/// Settings of [`Trainer`](super::Trainer). Defaults: 10 epochs, batch 100, Adam with learning
/// rate 1e-3 and betas (0.9, 0.999), seed 0, shuffling on, no early stopping, progress bars on,
/// no gradient clipping, no checkpoint or state file, one worker, the fused CPU pass, no
/// overwriting of a saved run, no changed step settings on resume.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    /// Passes over the training data.
    pub epochs: usize,
    /// Points per minibatch.
    pub batch_size: usize,
    /// Adam's step size.
    pub learning_rate: f64,
    /// Adam's moment decay rates (β₁, β₂).
    pub betas: [f64; 2],
    /// Seed of shuffling and of the reparameterisation noise: same seed, same numbers.
    pub seed: u64,
    /// Reshuffle the training data every epoch.
    pub shuffle: bool,
    /// Stop after this many epochs without a better validation ELBO (and restore the best).
    pub patience: Option<usize>,
    /// Write the model here (atomically) after every epoch.
    pub checkpoint: Option<PathBuf>,
    /// Show a progress bar with samples/s (hidden automatically when stderr is not a terminal).
    pub progress: bool,
    /// Rescale each minibatch gradient to at most this Euclidean norm (`None`: no clipping).
    pub clip_grad_norm: Option<f64>,
    /// Write the full training state here (atomically) after every epoch: parameters, Adam's
    /// moments and step, the RNG, the epoch and the history, for
    /// [`Trainer::resume`](super::Trainer::resume).
    pub state: Option<PathBuf>,
    /// Threads that share each minibatch (data parallelism): the minibatch is split into this
    /// many row shards whose gradients are computed at once (each worker in its own one-thread
    /// pool) and summed. 1 computes it whole on the calling thread. The sum's rounding depends
    /// on the count, so a run is reproduced bit for bit with the same count.
    pub workers: usize,
    /// Compute each minibatch's gradient with the fused CPU pass when the model describes its
    /// networks ([`Dlvm::architecture`](crate::model::Dlvm::architecture); every `dlvm!` model
    /// does) and runs on the CPU: one hand-written forward and backward pass over host buffers,
    /// the same ELBO and gradient as the tape up to rounding. `false` always uses dfdx's tape.
    /// The two round differently, so a run is reproduced (or resumed) bit for bit with the same
    /// setting. The CPU kernels use fused multiply-adds where the CPU has FMA and separate ones
    /// where it has not, so bit-for-bit reproduction also needs a CPU of the same kind.
    pub fused: bool,
    /// Let [`Trainer::fit`](super::Trainer::fit) start a new run over a directory that holds a
    /// saved run (an existing `checkpoint` or `state` file), deleting those files first.
    /// `false` (the default) refuses, so that a saved run is never replaced by accident; continue
    /// it with [`Trainer::resume`](super::Trainer::resume) instead, or write elsewhere.
    pub overwrite: bool,
    /// Let [`Trainer::resume`](super::Trainer::resume) continue with another `learning_rate`
    /// and/or `clip_grad_norm` than the saved run's (e.g. after a divergence). The change is an
    /// explicit override: it is recorded in the training state
    /// ([`TrainState::overrides`](super::TrainState::overrides)) with the epoch from which it
    /// applies, and the run is no longer bit for bit an uninterrupted one. `false` (the default)
    /// refuses any changed setting.
    pub step_override: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 10,
            batch_size: 100,
            learning_rate: 1e-3,
            betas: [0.9, 0.999],
            seed: 0,
            shuffle: true,
            patience: None,
            checkpoint: None,
            progress: true,
            clip_grad_norm: None,
            state: None,
            workers: 1,
            fused: true,
            overwrite: false,
            step_override: false,
        }
    }
}

impl TrainConfig {
    /// Checks every setting.
    ///
    /// # Errors
    /// [`DlvmError::Config`] naming the setting: zero epochs or batch size, a learning rate that
    /// is not finite and > 0, betas outside [0, 1), patience 0, a clipping norm that is not
    /// finite and > 0.
    pub fn validate(&self) -> Result<()> {
        let bad = |parameter, reason: &str| {
            Err(DlvmError::Config {
                parameter,
                reason: reason.to_string(),
            })
        };
        if self.epochs == 0 {
            return bad("epochs", "must be at least 1");
        }
        if self.batch_size == 0 {
            return bad("batch_size", "must be at least 1");
        }
        if self.workers == 0 {
            return bad("workers", "must be at least 1");
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return bad("learning_rate", "must be a finite number > 0");
        }
        if self.betas.iter().any(|b| !(0.0..1.0).contains(b)) {
            return bad("betas", "each must lie in [0, 1)");
        }
        if self.patience == Some(0) {
            return bad(
                "patience",
                "must be at least 1 (or None to disable early stopping)",
            );
        }
        if self
            .clip_grad_norm
            .is_some_and(|c| !(c.is_finite() && c > 0.0))
        {
            return bad(
                "clip_grad_norm",
                "must be a finite number > 0 (or None to disable clipping)",
            );
        }
        Ok(())
    }
}

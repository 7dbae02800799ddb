//! The training loop: minibatch Adam ascent on the ELBO.

use super::{save_checkpoint, EpochRecord, History, TrainConfig};
use crate::batch::{check_batch_size, check_dataset, rows_to_tensor, standard_normal};
use crate::bound::{elbo, evaluate_elbo};
use crate::data::Dataset;
use crate::error::{DlvmError, Result};
use crate::model::Dlvm;
use dfdx::optim::{Adam, AdamConfig, Optimizer};
use dfdx::prelude::*;
use indicatif::{ProgressBar, ProgressStyle};
use rand::{rngs::StdRng, seq::SliceRandom, SeedableRng};
use std::time::Instant;

/// Trains a [`Dlvm`] by maximising the ELBO with Adam.
///
/// ```no_run
/// # use dlvm_runtime::prelude::*;
/// # fn run<M: Dlvm<Cpu>>(model: &mut M, train: &Dataset, valid: &Dataset) -> dlvm_runtime::Result<()> {
/// let history = Trainer::new(TrainConfig { epochs: 5, ..Default::default() })
///     .fit(model, train, Some(valid))?;
/// println!("{}", history.to_csv());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct Trainer {
    config: TrainConfig,
}

impl Trainer {
    /// A trainer with these settings.
    pub fn new(config: TrainConfig) -> Self {
        Self { config }
    }

    /// The settings.
    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// Trains `model` on `train`, evaluating `valid` after each epoch; returns the history.
    ///
    /// With `patience`, training stops when the validation ELBO has not improved for that many
    /// epochs and the best parameters are restored.
    ///
    /// # Errors
    /// Invalid settings, data that does not fit the model, a NaN/infinite loss (the model keeps the
    /// last good parameters and the checkpoint on disk is the last good one), checkpoint I/O.
    pub fn fit<M: Dlvm<D>, D: Device<f32>>(
        &self,
        model: &mut M,
        train: &Dataset,
        valid: Option<&Dataset>,
    ) -> Result<History> {
        self.config.validate()?;
        check_dataset(model, train)?;
        check_batch_size(self.config.batch_size, train.rows())?;
        if let Some(valid) = valid {
            check_dataset(model, valid)?;
        }
        let mut run = Run::new(model, &self.config);
        for epoch in 1..=self.config.epochs {
            let record = run.epoch(model, train, valid, epoch)?;
            if run.after_epoch(model, record)? {
                break;
            }
        }
        Ok(run.finish(model))
    }
}

/// The state of one training run.
struct Run<'c, M: Dlvm<D>, D: Device<f32>> {
    config: &'c TrainConfig,
    optimizer: Adam<M, f32, D>,
    grads: Option<Gradients<f32, D>>,
    rng: StdRng,
    order: Vec<usize>,
    buffer: Vec<f32>,
    history: History,
    best: Option<(f64, M)>,
    since_best: usize,
}

impl<'c, M: Dlvm<D>, D: Device<f32>> Run<'c, M, D> {
    fn new(model: &M, config: &'c TrainConfig) -> Self {
        let adam = AdamConfig {
            lr: config.learning_rate,
            betas: config.betas,
            eps: 1e-8,
            weight_decay: None,
        };
        Self {
            config,
            optimizer: Adam::new(model, adam),
            grads: Some(model.alloc_grads()),
            rng: StdRng::seed_from_u64(config.seed),
            order: Vec::new(),
            buffer: Vec::new(),
            history: History::default(),
            best: None,
            since_best: 0,
        }
    }

    fn epoch(
        &mut self,
        model: &mut M,
        train: &Dataset,
        valid: Option<&Dataset>,
        epoch: usize,
    ) -> Result<EpochRecord> {
        self.order = (0..train.rows()).collect();
        if self.config.shuffle {
            self.order.shuffle(&mut self.rng);
        }
        let bar = self.progress_bar(epoch, train.rows());
        let start = Instant::now();
        let mut sum = 0.0f64;
        let order = std::mem::take(&mut self.order);
        for (batch, chunk) in order.chunks(self.config.batch_size).enumerate() {
            let value = self.step(model, train, chunk, epoch, batch)?;
            sum += value * chunk.len() as f64;
            bar.inc(chunk.len() as u64);
            let rate = bar.position() as f64 / start.elapsed().as_secs_f64().max(1e-9);
            bar.set_message(format!("ELBO {value:.2}, {rate:.0} samples/s"));
        }
        self.order = order;
        let seconds = start.elapsed().as_secs_f64();
        bar.finish_and_clear();
        let valid_elbo = match valid {
            Some(v) => Some(evaluate_elbo(model, v, self.config.batch_size.min(v.rows()), 0)?.mean),
            None => None,
        };
        Ok(EpochRecord {
            epoch,
            train_elbo: sum / train.rows() as f64,
            valid_elbo,
            seconds,
            samples_per_sec: train.rows() as f64 / seconds.max(1e-9),
        })
    }

    /// One Adam step on a minibatch; returns its mean ELBO.
    fn step(
        &mut self,
        model: &mut M,
        train: &Dataset,
        chunk: &[usize],
        epoch: usize,
        batch: usize,
    ) -> Result<f64> {
        let dev = model.device().clone();
        let x = rows_to_tensor::<M::Observed, D>(&dev, train, chunk, &mut self.buffer);
        let eps = standard_normal::<M::Latent, D>(&dev, chunk.len(), &mut self.rng);
        let grads = self.grads.take().unwrap_or_else(|| model.alloc_grads());
        let loss = elbo(model, x.traced(grads), eps).mean().negate();
        let value = loss.as_vec().first().copied().unwrap_or(f32::NAN);
        if !value.is_finite() {
            return Err(self.diverged(epoch, batch, "loss", value));
        }
        let mut grads = loss.backward();
        self.optimizer
            .update(model, &grads)
            .map_err(|e| DlvmError::Device(format!("optimiser update failed: {e:?}")))?;
        model.zero_grads(&mut grads);
        self.grads = Some(grads);
        Ok(-f64::from(value))
    }

    fn diverged(&self, epoch: usize, batch: usize, what: &'static str, value: f32) -> DlvmError {
        let checkpoint = self.config.checkpoint.clone().filter(|p| p.is_file());
        DlvmError::NonFinite {
            epoch,
            batch,
            what,
            value,
            checkpoint,
        }
    }

    /// Records the epoch, writes the checkpoint, prints a line; returns whether to stop early.
    fn after_epoch(&mut self, model: &mut M, record: EpochRecord) -> Result<bool> {
        if self.config.progress {
            eprintln!("{}", epoch_line(&record));
        }
        self.history.epochs.push(record);
        if let Some(path) = &self.config.checkpoint {
            save_checkpoint(model, path)?;
        }
        let (Some(score), Some(patience)) = (record.valid_elbo, self.config.patience) else {
            return Ok(false);
        };
        if self.best.as_ref().map_or(true, |(best, _)| score > *best) {
            self.best = Some((score, model.clone()));
            self.history.best_epoch = Some(record.epoch);
            self.since_best = 0;
        } else {
            self.since_best += 1;
        }
        Ok(self.since_best >= patience)
    }

    fn finish(mut self, model: &mut M) -> History {
        let last = self.history.epochs.last().map(|r| r.epoch);
        if let Some((_, best)) = self.best.take() {
            self.history.stopped_early = self.history.best_epoch != last;
            *model = best;
        } else {
            self.history.best_epoch = last;
        }
        self.history
    }

    fn progress_bar(&self, epoch: usize, rows: usize) -> ProgressBar {
        if !self.config.progress {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new(rows as u64);
        let template = format!("epoch {epoch:>3} [{{bar:30}}] {{pos}}/{{len}} {{msg}}");
        if let Ok(style) = ProgressStyle::with_template(&template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar
    }
}

fn epoch_line(r: &EpochRecord) -> String {
    let valid = r
        .valid_elbo
        .map(|v| format!(", valid ELBO {v:.2}"))
        .unwrap_or_default();
    format!(
        "epoch {:>3}: train ELBO {:.2}{valid}, {:.1} s, {:.0} samples/s",
        r.epoch, r.train_elbo, r.seconds, r.samples_per_sec
    )
}

//! The training loop: minibatch Adam ascent on the ELBO.

use super::adam::{AdamScratch, AdamSettings, AdamState, UpdateError};
use super::fingerprint::DataFingerprint;
use super::fused::FusedGradients;
use super::params::{read_tensors, take_gradients_into, write_tensors, NamedTensor};
use super::run_dir::RunLock;
use super::shards::ShardWorkers;
use super::state::{RngState, RunSettings, SettingOverride, TrainState};
use super::{save_checkpoint, EpochRecord, History, TrainConfig};
use crate::batch::{
    check_batch_size, check_dataset, rows_to_tensor, standard_normal, standard_normal_values,
};
use crate::bound::{elbo, evaluate_elbo};
use crate::data::Dataset;
use crate::error::{DlvmError, Result};
use crate::model::Dlvm;
use dfdx::prelude::*;
use indicatif::{ProgressBar, ProgressStyle};
use rand::{seq::SliceRandom, SeedableRng};
use rand_chacha::ChaCha12Rng;
use std::path::{Path, PathBuf};
use std::sync::Arc;
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
    /// epochs and the best parameters are restored. With `checkpoint` and `state`, the model and
    /// the full training state are written atomically after every epoch; before the first epoch
    /// their directories are locked for the whole run ([`RunLock`]: a second run on the same
    /// directory fails at once), checked to be writable, and cleared of stale temporary files,
    /// and a saved run found there (either file exists) is refused unless
    /// [`TrainConfig::overwrite`] is set (then its files are deleted).
    ///
    /// # Errors
    /// Invalid settings, data that does not fit the model, [`DlvmError::RunExists`],
    /// [`DlvmError::RunDirectory`] (locked by another run, not writable), a NaN/infinite loss,
    /// gradient or update (the error names epoch, batch and parameter, and the last good file
    /// this run wrote; the model keeps the last good parameters and the files on disk are those
    /// of the last completed epoch), file I/O.
    pub fn fit<M: Dlvm<D>, D: Device<f32>>(
        &self,
        model: &mut M,
        train: &Dataset,
        valid: Option<&Dataset>,
    ) -> Result<History> {
        self.check(model, train, valid)?;
        let _locks = self.claim_directories(true, None)?;
        let run = Run::new(model, &self.config, train);
        run.drive(model, train, valid)
    }

    /// Continues the run saved in the training state `state` (written with
    /// [`TrainConfig::state`]) up to `epochs` epochs in all: parameters, Adam's moments and
    /// step, the RNG, the epoch, the history and early stopping are restored, so the result is
    /// bit for bit that of an uninterrupted run with the same settings. `model` is overwritten.
    ///
    /// With [`TrainConfig::step_override`] the learning rate and the clipping norm may differ
    /// from the saved run's; the change is recorded in the state
    /// ([`TrainState::overrides`]).
    ///
    /// # Errors
    /// Those of [`fit`](Self::fit) (except [`DlvmError::RunExists`]); [`DlvmError::Checkpoint`]
    /// when the file is missing, torn or corrupt; [`DlvmError::Resume`] when it was written by
    /// another model (name, tensor names or shapes), on other training data (its fingerprint),
    /// with other settings (seed, batch size, learning rate, betas, shuffling, clipping,
    /// patience, number of training rows, workers), or its epoch disagrees with its history.
    pub fn resume<M: Dlvm<D>, D: Device<f32>>(
        &self,
        model: &mut M,
        train: &Dataset,
        valid: Option<&Dataset>,
        state: impl AsRef<Path>,
    ) -> Result<History> {
        self.check(model, train, valid)?;
        let path = state.as_ref();
        let _locks = self.claim_directories(false, Some(path))?;
        let saved = TrainState::load(path)?;
        let run = Run::restore(model, &self.config, train, saved, path)?;
        run.drive(model, train, valid)
    }

    fn check<M: Dlvm<D>, D: Device<f32>>(
        &self,
        model: &M,
        train: &Dataset,
        valid: Option<&Dataset>,
    ) -> Result<()> {
        self.config.validate()?;
        check_dataset(model, train)?;
        check_batch_size(self.config.batch_size, train.rows())?;
        if let Some(valid) = valid {
            check_dataset(model, valid)?;
        }
        Ok(())
    }

    /// Locks the directories of the checkpoint, the state and `extra` for the run (see
    /// [`RunLock::acquire`]); for a `fresh` run, refuses (or, with `overwrite`, deletes) the
    /// checkpoint and state files of a saved run.
    fn claim_directories(&self, fresh: bool, extra: Option<&Path>) -> Result<Vec<Arc<RunLock>>> {
        let files: Vec<&Path> = [&self.config.checkpoint, &self.config.state]
            .into_iter()
            .flatten()
            .map(PathBuf::as_path)
            .collect();
        let mut locks: Vec<Arc<RunLock>> = Vec::new();
        for file in files.iter().copied().chain(extra) {
            let lock = RunLock::acquire(directory_of(file))?;
            if !locks.iter().any(|held| Arc::ptr_eq(held, &lock)) {
                locks.push(lock);
            }
        }
        let saved: Vec<PathBuf> = files
            .iter()
            .filter(|f| fresh && f.exists())
            .map(|f| f.to_path_buf())
            .collect();
        let Some(first) = saved.first() else {
            return Ok(locks);
        };
        let dir = directory_of(first).to_path_buf();
        if !self.config.overwrite {
            return Err(DlvmError::RunExists { dir, files: saved });
        }
        for file in &saved {
            std::fs::remove_file(file).map_err(|e| DlvmError::RunDirectory {
                dir: dir.clone(),
                reason: format!("cannot delete `{}` to overwrite it ({e})", file.display()),
            })?;
        }
        Ok(locks)
    }
}

/// The directory a file is written into (`.` for a bare file name).
fn directory_of(file: &Path) -> &Path {
    file.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// The state of one training run.
struct Run<'c, M: Dlvm<D>, D: Device<f32>> {
    config: &'c TrainConfig,
    settings: RunSettings,
    adam: AdamState,
    /// Adam's reusable buffers for the proposed step.
    scratch: AdamScratch,
    /// The trainable parameters on the host, equal to the model's between steps (`None`: to
    /// be read from the model).
    params: Option<Vec<NamedTensor>>,
    grads: Option<Gradients<f32, D>>,
    /// The last minibatch's gradients on the host (buffers reused from step to step).
    gradients: Vec<NamedTensor>,
    /// The data-parallel workers when `config.workers > 1` (started at the first step).
    workers: Option<ShardWorkers<D>>,
    /// The fused CPU pass, when the model allows it (see `fused/mod.rs`); decided at the first
    /// step (`fused_decided`).
    fused: Option<FusedGradients>,
    fused_decided: bool,
    /// Whether the model's tensors lag behind `params` (the fused pass trains on `params` and
    /// writes them to the model only in [`sync`](Self::sync)).
    stale: bool,
    rng: ChaCha12Rng,
    order: Vec<usize>,
    buffer: Vec<f32>,
    history: History,
    best: Option<(f64, M)>,
    since_best: usize,
    done: usize,
    /// The training data's fingerprint, recorded in the state.
    data: DataFingerprint,
    /// The settings changed on resume, recorded in the state.
    overrides: Vec<SettingOverride>,
    /// The last good file this run wrote (or resumed from), named when training diverges.
    written: Option<PathBuf>,
}

impl<'c, M: Dlvm<D>, D: Device<f32>> Run<'c, M, D> {
    fn new(model: &M, config: &'c TrainConfig, train: &Dataset) -> Self {
        Self {
            config,
            settings: run_settings(config, train.rows()),
            adam: AdamState::default(),
            scratch: AdamScratch::with_threads(config.workers),
            params: None,
            grads: Some(model.alloc_grads()),
            gradients: Vec::new(),
            workers: None,
            fused: None,
            fused_decided: false,
            stale: false,
            rng: ChaCha12Rng::seed_from_u64(config.seed),
            order: Vec::new(),
            buffer: Vec::new(),
            history: History::default(),
            best: None,
            since_best: 0,
            done: 0,
            data: DataFingerprint::of(train),
            overrides: Vec::new(),
            written: None,
        }
    }

    /// A run continuing `saved`; `model` receives the saved parameters.
    fn restore(
        model: &mut M,
        config: &'c TrainConfig,
        train: &Dataset,
        saved: TrainState,
        path: &Path,
    ) -> Result<Self> {
        let mismatch = |reason: String| DlvmError::Resume {
            path: path.to_path_buf(),
            reason,
        };
        if saved.model != M::NAME {
            return Err(mismatch(format!(
                "it was written by model `{}`, not `{}`",
                saved.model,
                M::NAME
            )));
        }
        let mut run = Self::new(model, config, train);
        check_history(&saved).map_err(mismatch)?;
        check_data(saved.data.as_ref(), &run.data).map_err(mismatch)?;
        let changed = if config.step_override {
            step_overrides(&saved.settings, &run.settings, saved.epoch + 1)
        } else {
            Vec::new()
        };
        let mut compared = run.settings.clone();
        if config.step_override {
            compared.learning_rate = saved.settings.learning_rate;
            compared.clip_grad_norm = saved.settings.clip_grad_norm;
        }
        compare_settings(&saved.settings, &compared).map_err(|reason| {
            let step = ["`learning_rate`", "`clip_grad_norm`"];
            let hint = if step.iter().any(|name| reason.contains(name)) {
                " (to change the learning rate or clipping on purpose, set \
                 `TrainConfig::step_override`, `--step-override` in `mnist_vae`: the change \
                 is recorded in the state)"
            } else {
                ""
            };
            mismatch(format!("{reason}{hint}"))
        })?;
        check_same_tensors(model, &saved.params).map_err(mismatch)?;
        check_moments(&saved.params, &saved.adam).map_err(mismatch)?;
        write_tensors(model, &saved.params, false).map_err(mismatch)?;
        if let Some(score) = saved.best_score.filter(|_| !saved.best.is_empty()) {
            let mut best = model.clone();
            write_tensors(&mut best, &saved.best, false).map_err(mismatch)?;
            run.best = Some((score, best));
        }
        run.adam = saved.adam;
        run.rng = saved.rng.restore();
        run.history = saved.history;
        run.since_best = saved.since_best;
        run.done = saved.epoch;
        if config.progress {
            for change in &changed {
                eprintln!(
                    "resuming with `{}` {} instead of {} from epoch {} (recorded in the state)",
                    change.setting, change.now, change.was, change.from_epoch
                );
            }
        }
        run.overrides = saved.overrides;
        run.overrides.extend(changed);
        run.written = Some(path.to_path_buf());
        Ok(run)
    }

    /// Runs the remaining epochs and returns the history.
    fn drive(mut self, model: &mut M, train: &Dataset, valid: Option<&Dataset>) -> Result<History> {
        let stopped = |run: &Self| run.config.patience.is_some_and(|p| run.since_best >= p);
        for epoch in self.done + 1..=self.config.epochs {
            if stopped(&self) {
                break;
            }
            let record = self.epoch(model, train, valid, epoch)?;
            self.after_epoch(model, record)?;
        }
        Ok(self.finish(model))
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
        let mut failed = None;
        for (batch, chunk) in order.chunks(self.config.batch_size).enumerate() {
            let value = match self.train_step(model, train, chunk, epoch, batch) {
                Ok(value) => value,
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            };
            sum += value * chunk.len() as f64;
            bar.inc(chunk.len() as u64);
            let rate = bar.position() as f64 / start.elapsed().as_secs_f64().max(1e-9);
            bar.set_message(format!("ELBO {value:.2}, {rate:.0} samples/s"));
        }
        self.order = order;
        // The model gets the last good parameters, also when a step failed.
        self.sync(model)?;
        if let Some(e) = failed {
            return Err(e);
        }
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

    /// One Adam step on a minibatch by the fused pass when the model allows it, else through
    /// dfdx's tape (sharded over the workers when there are several); returns its mean ELBO.
    fn train_step(
        &mut self,
        model: &mut M,
        train: &Dataset,
        chunk: &[usize],
        epoch: usize,
        batch: usize,
    ) -> Result<f64> {
        if self.decide_fused(model)? {
            self.fused_step(model, train, chunk, epoch, batch)
        } else if self.config.workers > 1 {
            self.sharded_step(model, train, chunk, epoch, batch)
        } else {
            self.step(model, train, chunk, epoch, batch)
        }
    }

    /// Whether steps run the fused pass: `config.fused`, and the model describes an
    /// architecture its tensors match, on the CPU. Decided (and the pass built) once.
    fn decide_fused(&mut self, model: &M) -> Result<bool> {
        if !self.fused_decided {
            self.fused_decided = true;
            if self.config.fused {
                let params = self.take_params(model)?;
                let built = FusedGradients::for_model::<M, D>(&params, self.config.workers);
                self.params = Some(params);
                self.fused = built.transpose().map_err(device_error)?;
            }
        }
        Ok(self.fused.is_some())
    }

    /// [`step`](Self::step) by the fused pass (`fused/mod.rs`) on the host parameters; the
    /// model's tensors are not touched (they are written in [`sync`](Self::sync)).
    fn fused_step(
        &mut self,
        model: &mut M,
        train: &Dataset,
        chunk: &[usize],
        epoch: usize,
        batch: usize,
    ) -> Result<f64> {
        let eps = standard_normal_values(chunk.len() * M::latent_dim(), &mut self.rng);
        let mut params = self.take_params(model)?;
        let Some(mut fused) = self.fused.take() else {
            unreachable!("fused_step runs only once the pass is built")
        };
        fused.enter(&mut params, &mut self.adam, train, chunk);
        let value = fused.loss(model.family(), &params, train, chunk, &eps);
        let settings = self.adam_settings();
        let result = if !value.is_finite() {
            self.params = Some(params);
            Err(self.diverged(epoch, batch, "loss", value))
        } else if settings.clip_norm.is_none() {
            // Adam's step is proposed part by part as the gradient is written.
            let update = fused.update(&mut self.adam, &settings, &mut params, &mut self.scratch);
            self.params = Some(params);
            self.stale = true;
            update
                .map(|_| -f64::from(value))
                .map_err(|e| self.update_failed(e, epoch, batch))
        } else {
            self.params = Some(params);
            self.apply(model, fused.gradients(), epoch, batch, false)
                .map(|()| -f64::from(value))
        };
        self.fused = Some(fused);
        result
    }

    /// Writes the host parameters into the model when it lags behind them, after putting the
    /// parameters and Adam's moments back into the model's layout (the fused pass may hold a
    /// tensor transposed between steps).
    fn sync(&mut self, model: &mut M) -> Result<()> {
        if let (Some(fused), Some(params)) = (&mut self.fused, &mut self.params) {
            fused.leave(params, &mut self.adam);
        }
        if let (true, Some(params)) = (self.stale, &self.params) {
            write_tensors(model, params, true).map_err(DlvmError::Device)?;
        }
        self.stale = false;
        Ok(())
    }

    /// The trainable parameters on the host (read from the model the first time).
    fn take_params(&mut self, model: &M) -> Result<Vec<NamedTensor>> {
        match self.params.take() {
            Some(params) => Ok(params),
            None => {
                let device = |e: D::Err| device_error(format!("reading parameters failed: {e:?}"));
                let mut all = read_tensors(model).map_err(device)?;
                all.retain(|t| t.trainable);
                Ok(all)
            }
        }
    }

    /// One Adam step on a minibatch; returns its mean ELBO. On a NaN/infinite loss, gradient or
    /// update the model is left unchanged.
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
        let mut gradients = std::mem::take(&mut self.gradients);
        // Taking leaves the gradients zero for the next step.
        let read = take_gradients_into(model, &mut grads, &mut gradients);
        self.grads = Some(grads);
        read.map_err(|e| device_error(format!("{e:?}")))?;
        let applied = self.apply(model, &gradients, epoch, batch, true);
        self.gradients = gradients;
        applied?;
        Ok(-f64::from(value))
    }

    /// [`step`](Self::step) with the minibatch split over `config.workers` threads (see
    /// `shards.rs`); the noise is drawn for the whole minibatch, as in `step`.
    fn sharded_step(
        &mut self,
        model: &mut M,
        train: &Dataset,
        chunk: &[usize],
        epoch: usize,
        batch: usize,
    ) -> Result<f64> {
        let eps = standard_normal_values(chunk.len() * M::latent_dim(), &mut self.rng);
        let mut workers = match self.workers.take() {
            Some(workers) => workers,
            None => ShardWorkers::new(self.config.workers).map_err(device_error)?,
        };
        let result = match workers.loss_and_gradients(model, train, chunk, &eps) {
            Ok((value, _)) if !value.is_finite() => Err(self.diverged(epoch, batch, "loss", value)),
            Ok((value, gradients)) => self
                .apply(model, gradients, epoch, batch, true)
                .map(|()| -f64::from(value)),
            Err(reason) => Err(device_error(reason)),
        };
        self.workers = Some(workers);
        result
    }

    /// Applies Adam to the gradients, refusing non-finite gradients and updates; the new
    /// parameters go into the model when `write`, else the model is marked stale.
    fn apply(
        &mut self,
        model: &mut M,
        gradients: &[NamedTensor],
        epoch: usize,
        batch: usize,
        write: bool,
    ) -> Result<()> {
        let mut params = self.take_params(model)?;
        let settings = self.adam_settings();
        match (self.adam).update_with(&settings, &mut params, gradients, &mut self.scratch) {
            Ok(_) => {
                if write {
                    write_tensors(model, &params, true).map_err(DlvmError::Device)?;
                } else {
                    self.stale = true;
                }
                self.params = Some(params);
                Ok(())
            }
            Err(e) => Err(self.update_failed(e, epoch, batch)),
        }
    }

    /// Adam's settings from the configuration.
    fn adam_settings(&self) -> AdamSettings {
        AdamSettings {
            learning_rate: self.config.learning_rate,
            betas: self.config.betas,
            eps: 1e-8,
            clip_norm: self.config.clip_grad_norm,
        }
    }

    /// The error for a refused update (the parameters are unchanged).
    fn update_failed(&self, error: UpdateError, epoch: usize, batch: usize) -> DlvmError {
        let (what, parameter, index, value) = match error {
            UpdateError::Mismatch(reason) => return DlvmError::Device(reason),
            UpdateError::Gradient {
                parameter,
                index,
                value,
            } => ("gradient", parameter, index, value),
            UpdateError::Parameter {
                parameter,
                index,
                value,
            } => ("update", parameter, index, value),
        };
        DlvmError::NonFiniteParameter {
            epoch,
            batch,
            what,
            parameter,
            index,
            value,
            checkpoint: self.last_good_file(),
        }
    }

    fn diverged(&self, epoch: usize, batch: usize, what: &'static str, value: f32) -> DlvmError {
        DlvmError::NonFinite {
            epoch,
            batch,
            what,
            value,
            checkpoint: self.last_good_file(),
        }
    }

    /// The last good file of this run: the state (or else the checkpoint) it last wrote, or the
    /// state it resumed from; never a file it did not write, which could be another run's.
    fn last_good_file(&self) -> Option<PathBuf> {
        self.written.clone()
    }

    /// Records the epoch, updates early stopping, writes the checkpoint and the state, prints a
    /// line.
    fn after_epoch(&mut self, model: &mut M, record: EpochRecord) -> Result<()> {
        if self.config.progress {
            eprintln!("{}", epoch_line(&record));
        }
        self.history.epochs.push(record);
        self.done = record.epoch;
        if let (Some(score), Some(_)) = (record.valid_elbo, self.config.patience) {
            if self.best.as_ref().is_none_or(|(best, _)| score > *best) {
                self.best = Some((score, model.clone()));
                self.history.best_epoch = Some(record.epoch);
                self.since_best = 0;
            } else {
                self.since_best += 1;
            }
        }
        if let Some(path) = &self.config.checkpoint {
            save_checkpoint(model, path)?;
            self.written = Some(path.clone());
        }
        if let Some(path) = &self.config.state {
            self.snapshot(model)?.save(path)?;
            self.written = Some(path.clone());
        }
        Ok(())
    }

    /// The run's complete state after the last completed epoch.
    fn snapshot(&self, model: &M) -> Result<TrainState> {
        let device = |e: D::Err| device_error(format!("reading parameters failed: {e:?}"));
        let best = match &self.best {
            Some((_, best)) => read_tensors(best).map_err(device)?,
            None => Vec::new(),
        };
        Ok(TrainState {
            model: M::NAME.to_string(),
            epoch: self.done,
            settings: self.settings.clone(),
            rng: RngState::capture(&self.rng),
            history: self.history.clone(),
            best_score: self.best.as_ref().map(|(score, _)| *score),
            since_best: self.since_best,
            params: read_tensors(model).map_err(device)?,
            adam: self.adam.clone(),
            best,
            data: Some(self.data.clone()),
            overrides: self.overrides.clone(),
        })
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

/// The settings a resumed run must share with the saved one.
/// A device failure (allocation, reading a tensor, a worker thread) as the trainer reports it.
fn device_error(reason: String) -> DlvmError {
    DlvmError::Device(reason)
}

fn run_settings(config: &TrainConfig, train_rows: usize) -> RunSettings {
    RunSettings {
        seed: config.seed,
        batch_size: config.batch_size,
        learning_rate: config.learning_rate,
        betas: config.betas,
        shuffle: config.shuffle,
        clip_grad_norm: config.clip_grad_norm,
        patience: config.patience,
        train_rows,
        workers: config.workers,
    }
}

/// Names the first setting that differs between a saved run and this one.
fn compare_settings(saved: &RunSettings, given: &RunSettings) -> std::result::Result<(), String> {
    macro_rules! setting {
        ($name:literal, $field:ident) => {
            (
                $name,
                format!("{:?}", saved.$field),
                format!("{:?}", given.$field),
            )
        };
    }
    let pairs = [
        setting!("seed", seed),
        setting!("batch_size", batch_size),
        setting!("learning_rate", learning_rate),
        setting!("betas", betas),
        setting!("shuffle", shuffle),
        setting!("clip_grad_norm", clip_grad_norm),
        setting!("patience", patience),
        setting!("training rows", train_rows),
        setting!("workers", workers),
    ];
    match pairs.into_iter().find(|(_, a, b)| a != b) {
        Some((name, a, b)) => Err(format!(
            "the setting `{name}` was {a} in the saved run but is {b} now"
        )),
        None => Ok(()),
    }
}

/// Checks that the state's epoch agrees with its history (one record per epoch, numbered from
/// 1).
fn check_history(saved: &TrainState) -> std::result::Result<(), String> {
    let numbered = saved
        .history
        .epochs
        .iter()
        .enumerate()
        .all(|(k, r)| r.epoch == k + 1);
    if saved.history.epochs.len() != saved.epoch || !numbered {
        return Err(format!(
            "it records {} completed epochs but a history of {} epochs; the file is inconsistent",
            saved.epoch,
            saved.history.epochs.len()
        ));
    }
    Ok(())
}

/// Checks that the run resumes on the data it was trained on (files written before the
/// fingerprint was recorded are not checked).
fn check_data(
    saved: Option<&DataFingerprint>,
    given: &DataFingerprint,
) -> std::result::Result<(), String> {
    match saved {
        Some(saved) if saved != given => Err(format!(
            "it was trained on other data ({saved} in the saved run, {given} now); resume on \
             the same training rows in the same order"
        )),
        _ => Ok(()),
    }
}

/// The learning-rate and clipping changes between the saved run and this one, from `epoch`.
fn step_overrides(saved: &RunSettings, given: &RunSettings, epoch: usize) -> Vec<SettingOverride> {
    let change = |setting: &str, was: String, now: String| {
        (was != now).then(|| SettingOverride {
            from_epoch: epoch,
            setting: setting.to_string(),
            was,
            now,
        })
    };
    [
        change(
            "learning_rate",
            format!("{:?}", saved.learning_rate),
            format!("{:?}", given.learning_rate),
        ),
        change(
            "clip_grad_norm",
            format!("{:?}", saved.clip_grad_norm),
            format!("{:?}", given.clip_grad_norm),
        ),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Checks that `saved` lists the model's tensors, by name and shape, in order.
fn check_same_tensors<M: Dlvm<D>, D: Device<f32>>(
    model: &M,
    saved: &[NamedTensor],
) -> std::result::Result<(), String> {
    let own = read_tensors(model).map_err(|e| format!("device error: {e:?}"))?;
    for (k, mine) in own.iter().enumerate() {
        match saved.get(k) {
            Some(s) if s.name == mine.name && s.shape == mine.shape => {}
            Some(s) => {
                return Err(format!(
                "tensor {k} is `{}` of shape {:?} in the file but `{}` of shape {:?} in model `{}`",
                s.name,
                s.shape,
                mine.name,
                mine.shape,
                M::NAME
            ))
            }
            None => {
                return Err(format!(
                    "the file has no tensor `{}` (model `{}` has {} tensors, the file {})",
                    mine.name,
                    M::NAME,
                    own.len(),
                    saved.len()
                ))
            }
        }
    }
    if saved.len() > own.len() {
        return Err(format!(
            "the file has {} tensors but model `{}` has {}",
            saved.len(),
            M::NAME,
            own.len()
        ));
    }
    Ok(())
}

/// Checks that Adam's moments are absent (no step yet) or match the trainable tensors.
fn check_moments(params: &[NamedTensor], adam: &AdamState) -> std::result::Result<(), String> {
    let trainable: Vec<&NamedTensor> = params.iter().filter(|t| t.trainable).collect();
    for moments in [&adam.moment1, &adam.moment2] {
        let fits = moments.len() == trainable.len()
            && moments
                .iter()
                .zip(&trainable)
                .all(|(m, p)| m.name == p.name && m.values.len() == p.values.len());
        if !(fits || moments.is_empty()) {
            return Err(
                "its optimiser moments do not match its parameters; the file is corrupt".into(),
            );
        }
    }
    Ok(())
}

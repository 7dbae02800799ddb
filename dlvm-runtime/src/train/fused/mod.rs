//! The fused CPU training pass: for a model that describes its networks
//! ([`Dlvm::architecture`]), the minibatch loss `-(1/n) Σ ELBO` and its gradient are computed by
//! hand-written forward and backward passes over host buffers that read the optimiser's own
//! copy of the parameters. There is no tape, no device tensor and no copy of a weight per step;
//! the model's tensors are written only when the trainer needs them (after an epoch, on an
//! error, at the end).
//!
//! A step has two phases, each run by the workers:
//! 1. the minibatch is split into row shards (as in `shards.rs`); each worker runs the forward
//!    pass of its shard and the backward pass down to every layer's *signal* `∂L/∂y`
//!    (`pass.rs`);
//! 2. every layer's output units are split between the workers; each computes the rows of
//!    `∂W` and the entries of `∂b` of its units over all shards (`weights.rs`) and, in
//!    [`FusedGradients::update`], proposes Adam's step for them at once, while they are in its
//!    cache. No per-shard gradient is stored or summed.

mod pass;
mod weights;

use super::adam::{
    split_at_bounds_mut, AdamScratch, AdamSettings, AdamState, GradientPart, UpdateError,
    UpdateReport,
};
use super::params::NamedTensor;
use crate::architecture::plan::Plan;
use crate::data::Dataset;
use crate::family::OutputFamily;
use crate::kernels::{transpose_into, SparseRows};
use crate::model::Dlvm;
use crate::parallel::{row_shards, Workers};
use dfdx::prelude::*;
use pass::{loss_and_signals, Rows, Workspace};
use weights::{part_gradients, tensor_bounds, GradientSlot, ShardView};

/// The fused pass for one model, with each worker's buffers.
pub(super) struct FusedGradients {
    plan: Plan,
    /// The worker threads (`None`: one shard and one part, on the calling thread).
    workers: Option<Workers>,
    shards: Vec<Shard>,
    /// How many shards the last minibatch used (fewer than `shards` for a tiny batch).
    used: usize,
    /// The whole gradient, one tensor per parameter tensor (same order and shapes).
    grads: Vec<NamedTensor>,
    /// Where each tensor is cut between the parts (see `weights::tensor_bounds`).
    bounds: Vec<Vec<usize>>,
    /// Whether the encoder's first layer reads sparse data (decided on the first minibatch;
    /// `false` when the encoder has no hidden layer).
    sparse_input: Option<bool>,
    /// Whether the parameters and Adam's moments hold the encoder's first weight transposed
    /// (between [`enter`](FusedGradients::enter) and [`leave`](FusedGradients::leave)).
    first_transposed: bool,
}

/// One worker's rows of the minibatch and the workspace of its pass.
#[derive(Default)]
struct Shard {
    x: Vec<f32>,
    n: usize,
    workspace: Workspace,
}

impl FusedGradients {
    /// The fused pass for `M` with trainable tensors `params`, on `workers` threads; `None`
    /// when `M` does not describe its architecture, runs on another device than the CPU, or
    /// its tensors do not match the description.
    ///
    /// # Errors
    /// A message when the operating system refuses a worker thread.
    pub(super) fn for_model<M: Dlvm<D>, D: Device<f32>>(
        params: &[NamedTensor],
        workers: usize,
    ) -> Option<Result<Self, String>> {
        if !crate::kernels::is_cpu::<D>() {
            return None;
        }
        let architecture = M::architecture()?;
        let (p, d) = (M::observed_dim(), M::latent_dim());
        let width = <M::Family as OutputFamily>::raw_width(p);
        let plan = Plan::new(&architecture, params, p, d, width).ok()?;
        let workers = match (workers > 1).then(|| Workers::new(workers)).transpose() {
            Ok(workers) => workers,
            Err(e) => return Some(Err(e)),
        };
        let parts = workers.as_ref().map_or(1, Workers::threads);
        let grads = params
            .iter()
            .map(|t| NamedTensor {
                values: vec![0.0; t.values.len()],
                ..t.clone()
            })
            .collect();
        Some(Ok(Self {
            bounds: tensor_bounds(&plan, params.len(), parts, false),
            plan,
            shards: (0..parts).map(|_| Shard::default()).collect(),
            used: 0,
            grads,
            workers,
            sparse_input: None,
            first_transposed: false,
        }))
    }

    /// Phase 1 for the minibatch `rows` of `data` (noise `eps`, row-major `n × d`): every
    /// shard's pass, leaving the layers' signals for [`gradients`](Self::gradients) or
    /// [`update`](Self::update). Returns the loss `-(1/n) Σ ELBO`.
    pub(super) fn loss<F: OutputFamily>(
        &mut self,
        family: &F,
        params: &[NamedTensor],
        data: &Dataset,
        rows: &[usize],
        eps: &[f32],
    ) -> f32 {
        let n = rows.len();
        let scale = 1.0 / n as f32;
        let first_transposed = self.first_transposed;
        let (plan, d) = (&self.plan, self.plan.latent);
        let shards = row_shards(n, self.shards.len());
        self.used = shards.len();
        let run = |(shard, &(start, end)): (&mut Shard, &(usize, usize))| {
            data.gather(&rows[start..end], &mut shard.x);
            shard.n = end - start;
            let rows = Rows {
                x: &shard.x,
                eps: &eps[start * d..end * d],
                n: shard.n,
                first_transposed,
            };
            loss_and_signals(plan, family, params, rows, scale, &mut shard.workspace)
        };
        let jobs: Vec<_> = self.shards.iter_mut().zip(&shards).collect();
        match &self.workers {
            Some(workers) => workers.map(jobs, run).into_iter().sum(),
            None => jobs.into_iter().map(run).sum(),
        }
    }

    /// Puts the encoder's first weight, in `params` and in Adam's moments, into the layout the
    /// pass works in: transposed (`Wᵀ`, `inputs × outputs`) when the data are sparse, so that
    /// the first layer's forward pass adds only the rows of `Wᵀ` its non-zero inputs pick and
    /// its gradient `∂Wᵀ = xᵀ gy` only the signal rows of the non-zero entries (Adam is
    /// element-wise, so it updates the transposed tensors alike). Sparsity is decided once, on
    /// the minibatch `rows` of `data`; each shard checks its own rows again. Nothing changes for
    /// dense data or an encoder without hidden layers. Undone by [`leave`](Self::leave), which
    /// must run before the parameters or the moments are used outside the pass.
    pub(super) fn enter(
        &mut self,
        params: &mut [NamedTensor],
        adam: &mut AdamState,
        data: &Dataset,
        rows: &[usize],
    ) {
        let Some(&layer) = self.plan.trunk.first() else {
            return;
        };
        let sparse = *self.sparse_input.get_or_insert_with(|| {
            let mut x = Vec::new();
            data.gather(rows, &mut x);
            SparseRows::default().compress(&x, layer.inputs)
        });
        if sparse && !self.first_transposed {
            self.transpose_first(params, adam, layer.outputs, layer.inputs);
        }
    }

    /// Puts the encoder's first weight back into the model's layout (see
    /// [`enter`](Self::enter)).
    pub(super) fn leave(&mut self, params: &mut [NamedTensor], adam: &mut AdamState) {
        if let (true, Some(&layer)) = (self.first_transposed, self.plan.trunk.first()) {
            self.transpose_first(params, adam, layer.inputs, layer.outputs);
        }
    }

    /// Transposes the first weight (now `rows × cols`) in `params` and both moments, and
    /// switches the layout the pass (and its cuts between parts) assume.
    fn transpose_first(
        &mut self,
        params: &mut [NamedTensor],
        adam: &mut AdamState,
        rows: usize,
        cols: usize,
    ) {
        let weight = self.plan.trunk[0].weight;
        let moments = [&mut adam.moment1, &mut adam.moment2];
        let tensors = moments.into_iter().filter_map(|m| m.get_mut(weight));
        let own = [&mut params[weight], &mut self.grads[weight]];
        for tensor in tensors.chain(own) {
            let mut turned = vec![0.0; tensor.values.len()];
            transpose_into(&mut turned, &tensor.values, rows, cols);
            tensor.values = turned;
        }
        self.first_transposed = !self.first_transposed;
        let parts = self.shards.len();
        self.bounds = tensor_bounds(&self.plan, params.len(), parts, self.first_transposed);
    }

    /// Phase 2 without an optimiser: the gradient of the last [`loss`](Self::loss) in every
    /// parameter tensor (same order as `params` there).
    pub(super) fn gradients(&mut self) -> &[NamedTensor] {
        let parts: Vec<Vec<&mut [f32]>> = split_into_parts(&mut self.grads, &self.bounds);
        let shards = &self.shards[..self.used];
        let transposed = self.first_transposed;
        run_parts(&self.plan, shards, self.workers.as_ref(), parts, transposed);
        &self.grads
    }

    /// Phase 2 with Adam: the gradient of the last [`loss`](Self::loss), each part proposed
    /// as soon as it is written, then the whole step checked and committed to `params` and
    /// `adam` ([`AdamState::update_in_parts`]).
    ///
    /// # Errors
    /// Those of [`AdamState::update_in_parts`] (clipping is not done here: clip by
    /// [`gradients`](Self::gradients) and [`AdamState::update_with`]).
    pub(super) fn update(
        &mut self,
        adam: &mut AdamState,
        settings: &AdamSettings,
        params: &mut [NamedTensor],
        scratch: &mut AdamScratch,
    ) -> Result<UpdateReport, UpdateError> {
        let (plan, shards) = (&self.plan, &self.shards[..self.used]);
        let workers = self.workers.as_ref();
        let transposed = self.first_transposed;
        let run =
            |parts: Vec<Vec<GradientPart<'_>>>| run_parts(plan, shards, workers, parts, transposed);
        adam.update_in_parts(
            settings,
            params,
            &mut self.grads,
            scratch,
            &self.bounds,
            run,
        )
    }
}

/// Runs [`part_gradients`] for every part (`parts[t]`: part `t`'s slot of every tensor) on the
/// workers, or on the calling thread; each part's `(all finite, Σ g²)`.
fn run_parts<S: GradientSlot + Send>(
    plan: &Plan,
    shards: &[Shard],
    workers: Option<&Workers>,
    parts: Vec<Vec<S>>,
    first_transposed: bool,
) -> Vec<(bool, f64)> {
    let views: Vec<ShardView> = shards
        .iter()
        .map(|s| ShardView {
            x: &s.x,
            n: s.n,
            workspace: &s.workspace,
        })
        .collect();
    let count = parts.len();
    let run = |(part, mut slots): (usize, Vec<S>)| {
        part_gradients(plan, &views, part, count, &mut slots, first_transposed)
    };
    let jobs: Vec<_> = parts.into_iter().enumerate().collect();
    match workers {
        Some(workers) => workers.map(jobs, run),
        None => jobs.into_iter().map(run).collect(),
    }
}

/// Every tensor of `grads` cut at its `bounds`: `parts[t][k]` is part `t` of tensor `k`.
fn split_into_parts<'a>(
    grads: &'a mut [NamedTensor],
    bounds: &[Vec<usize>],
) -> Vec<Vec<&'a mut [f32]>> {
    let count = bounds.first().map_or(1, |b| b.len() - 1);
    let mut parts: Vec<Vec<&mut [f32]>> = (0..count).map(|_| Vec::new()).collect();
    for (tensor, cuts) in grads.iter_mut().zip(bounds) {
        let slices = split_at_bounds_mut(&mut tensor.values, cuts);
        for (part, slice) in parts.iter_mut().zip(slices) {
            part.push(slice);
        }
    }
    parts
}

/// The minibatch loss `L = -(1/n) Σ_r ELBO(x_r, ε_r)` of the rows `rows` of `data` (noise `eps`,
/// row-major `n × d`) and its gradient in every trainable tensor of `model` (visiting order), by
/// the fused CPU pass the trainer uses, on `workers` threads (the rows split into that many
/// shards, the layers' units into that many parts, as in training); `None` when the pass does
/// not apply to `model` (see [`TrainConfig::fused`](super::TrainConfig::fused)). The gradient
/// equals that of [`elbo`](crate::bound::elbo)`(..).mean().negate()` through dfdx's tape, up to
/// rounding. Sparse data take the pass's sparse path for the encoder's first layer, as in
/// training.
///
/// # Errors
/// The data or the noise do not fit the model, a row index is out of range, a device error or
/// a worker thread that cannot be started.
pub fn fused_loss_and_gradients<M: Dlvm<D>, D: Device<f32>>(
    model: &M,
    data: &Dataset,
    rows: &[usize],
    eps: &[f32],
    workers: usize,
) -> crate::Result<Option<(f32, Vec<NamedTensor>)>> {
    crate::batch::check_dataset(model, data)?;
    data.check_rows(rows)?;
    if eps.len() != rows.len() * M::latent_dim() {
        return Err(crate::DlvmError::Config {
            parameter: "eps",
            reason: format!(
                "{} noise values for {} rows of latent dimension {}: give rows × d",
                eps.len(),
                rows.len(),
                M::latent_dim()
            ),
        });
    }
    let device = |e: D::Err| crate::DlvmError::Device(format!("reading parameters failed: {e:?}"));
    let mut params = super::params::read_tensors(model).map_err(device)?;
    params.retain(|t| t.trainable);
    let Some(built) = FusedGradients::for_model::<M, D>(&params, workers) else {
        return Ok(None);
    };
    let mut fused = built.map_err(crate::DlvmError::Device)?;
    let mut adam = AdamState::default();
    fused.enter(&mut params, &mut adam, data, rows);
    let loss = fused.loss(model.family(), &params, data, rows, eps);
    fused.gradients();
    fused.leave(&mut params, &mut adam);
    Ok(Some((loss, fused.grads.clone())))
}

//! The fused CPU training pass: for a model that describes its networks
//! ([`Dlvm::architecture`]), the minibatch loss `-(1/n) Σ ELBO` and its gradient are computed by
//! one hand-written forward and backward pass over host buffers (`pass.rs`) that reads the
//! optimiser's own copy of the parameters. There is no tape, no device tensor and no copy of a
//! weight per step; the model's tensors are written only when the trainer needs them (after an
//! epoch, on an error, at the end). The minibatch is split into row shards over the workers as
//! in `shards.rs`, each with its own buffers, and the shards' gradients are summed in order.

mod pass;
mod plan;

use super::params::NamedTensor;
use super::shards::sum_into;
use crate::data::Dataset;
use crate::family::OutputFamily;
use crate::model::Dlvm;
use crate::parallel::{row_shards, Workers};
use dfdx::prelude::*;
use pass::{loss_and_gradients, Rows, Workspace};
use plan::Plan;

/// The fused pass for one model, with each worker's buffers.
pub(super) struct FusedGradients {
    plan: Plan,
    /// The worker threads (`None`: one shard, on the calling thread).
    workers: Option<Workers>,
    shards: Vec<Shard>,
}

/// One worker's buffers: its rows of data, the pass's workspace, its gradients.
#[derive(Default)]
struct Shard {
    x: Vec<f32>,
    workspace: Workspace,
    grads: Vec<NamedTensor>,
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
        let shards = workers.as_ref().map_or(1, Workers::threads);
        Some(Ok(Self {
            plan,
            shards: (0..shards).map(|_| Shard::default()).collect(),
            workers,
        }))
    }

    /// The loss `-(1/n) Σ ELBO` of the minibatch `rows` of `data` (noise `eps`, row-major
    /// `n × d`) and its gradient in every tensor of `params` (same order).
    pub(super) fn loss_and_gradients<F: OutputFamily>(
        &mut self,
        family: &F,
        params: &[NamedTensor],
        data: &Dataset,
        rows: &[usize],
        eps: &[f32],
    ) -> (f32, &[NamedTensor]) {
        let n = rows.len();
        let scale = 1.0 / n as f32;
        let (plan, d) = (&self.plan, self.plan.latent);
        let shards = row_shards(n, self.shards.len());
        let run = |(shard, &(start, end)): (&mut Shard, &(usize, usize))| {
            data.gather(&rows[start..end], &mut shard.x);
            let rows = Rows {
                x: &shard.x,
                eps: &eps[start * d..end * d],
                n: end - start,
            };
            loss_and_gradients(
                plan,
                family,
                params,
                rows,
                scale,
                &mut shard.workspace,
                &mut shard.grads,
            )
        };
        let jobs: Vec<_> = self.shards.iter_mut().zip(&shards).collect();
        let loss = match &self.workers {
            Some(workers) => workers.map(jobs, run).into_iter().sum(),
            None => jobs.into_iter().map(run).sum(),
        };
        let (first, rest) = self.shards.split_first_mut().expect("at least one shard");
        if let Some(workers) = &self.workers {
            let others: Vec<&[NamedTensor]> = rest[..shards.len() - 1]
                .iter()
                .map(|s| &s.grads[..])
                .collect();
            sum_into(workers, &mut first.grads, &others);
        }
        (loss, &first.grads)
    }
}

/// The minibatch loss `L = -(1/n) Σ_r ELBO(x_r, ε_r)` of the rows `rows` of `data` (noise `eps`,
/// row-major `n × d`) and its gradient in every trainable tensor of `model` (visiting order), by
/// the fused CPU pass the trainer uses; `None` when the pass does not apply to `model` (see
/// [`TrainConfig::fused`](super::TrainConfig::fused)). The gradient equals that of
/// [`elbo`](crate::bound::elbo)`(..).mean().negate()` through dfdx's tape, up to rounding.
///
/// # Errors
/// The data or the noise do not fit the model, a row index is out of range, a device error.
pub fn fused_loss_and_gradients<M: Dlvm<D>, D: Device<f32>>(
    model: &M,
    data: &Dataset,
    rows: &[usize],
    eps: &[f32],
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
    let Some(built) = FusedGradients::for_model::<M, D>(&params, 1) else {
        return Ok(None);
    };
    let mut fused = built.map_err(crate::DlvmError::Device)?;
    let (loss, grads) = fused.loss_and_gradients(model.family(), &params, data, rows, eps);
    Ok(Some((loss, grads.to_vec())))
}

//! Data-parallel gradients: a minibatch split into row shards, each shard's forward and backward
//! pass on its own thread, the shards' gradients summed on the host.
//!
//! For a minibatch `B` of `n` rows split into shards `B_1, …, B_W`, the loss is
//! `L = -(1/n) Σ_w Σ_{i ∈ B_w} ELBO(x_i, ε_i)`, so `∇L = Σ_w ∇L_w` with
//! `L_w = -(1/n) Σ_{i ∈ B_w} ELBO(x_i, ε_i)`: each worker differentiates its own `L_w` and the
//! sum is exact (up to the order of floating-point additions). The noise `ε` is drawn for the
//! whole minibatch before splitting, so the random numbers do not depend on the worker count.
//!
//! The workers are [`Workers`]: one-thread rayon pools, so each worker's matrix products stay on
//! its core.

use super::params::{take_gradients_into, NamedTensor};
use crate::batch::rows_to_tensor;
use crate::bound::elbo;
use crate::data::Dataset;
use crate::model::Dlvm;
use crate::parallel::{row_shards, Workers};
use dfdx::prelude::*;

/// Workers that compute minibatch gradients over row shards in parallel.
pub(super) struct ShardWorkers<D: Device<f32>> {
    workers: Workers,
    grads: Vec<Option<Gradients<f32, D>>>,
    buffers: Vec<Vec<f32>>,
    /// Each shard's gradients on the host; the first receives the sum.
    host: Vec<Vec<NamedTensor>>,
}

/// What one shard returns: its share of the loss.
type ShardResult = Result<f32, String>;

impl<D: Device<f32>> ShardWorkers<D> {
    /// `workers` one-thread pools (at least 2).
    ///
    /// # Errors
    /// A message when the operating system refuses a thread.
    pub(super) fn new(workers: usize) -> Result<Self, String> {
        Ok(Self {
            grads: (0..workers).map(|_| None).collect(),
            buffers: vec![Vec::new(); workers],
            host: vec![Vec::new(); workers],
            workers: Workers::new(workers)?,
        })
    }

    /// The loss `-(1/n) Σ ELBO` of the minibatch `rows` (noise `eps`, row-major `n × d`) and its
    /// gradient with respect to every trainable tensor of `model`, in visiting order.
    ///
    /// # Errors
    /// A message with the device's error.
    pub(super) fn loss_and_gradients<M>(
        &mut self,
        model: &M,
        data: &Dataset,
        rows: &[usize],
        eps: &[f32],
    ) -> Result<(f32, &[NamedTensor]), String>
    where
        M: Dlvm<D>,
    {
        let n = rows.len();
        let d = M::latent_dim();
        let shards = row_shards(n, self.workers.threads());
        let jobs: Vec<_> = shards
            .iter()
            .zip(self.grads.iter_mut().zip(self.buffers.iter_mut()))
            .zip(self.host.iter_mut())
            .map(|((&(start, end), (grads, buffer)), host)| Job {
                rows: &rows[start..end],
                eps: &eps[start * d..end * d],
                grads,
                buffer,
                host,
            })
            .collect();
        let results = self.workers.map(jobs, |mut job| job.run(model, data, n));
        let loss = results.into_iter().sum::<Result<f32, String>>()?;
        let (total, rest) = self.host.split_first_mut().ok_or("no shard ran")?;
        let others: Vec<&[NamedTensor]> = rest[..shards.len() - 1].iter().map(|o| &o[..]).collect();
        sum_into(&self.workers, total, &others);
        Ok((loss, total))
    }
}

/// One shard's work, borrowed from [`ShardWorkers`].
struct Job<'a, D: Device<f32>> {
    rows: &'a [usize],
    eps: &'a [f32],
    grads: &'a mut Option<Gradients<f32, D>>,
    buffer: &'a mut Vec<f32>,
    host: &'a mut Vec<NamedTensor>,
}

impl<D: Device<f32>> Job<'_, D> {
    /// `L_w = -(1/n) Σ_{i ∈ shard} ELBO(x_i, ε_i)` and its gradients (run on a worker).
    fn run<M: Dlvm<D>>(&mut self, model: &M, data: &Dataset, n: usize) -> ShardResult {
        let Job {
            rows,
            eps,
            grads,
            buffer,
            host,
        } = self;
        let dev = model.device();
        let x = rows_to_tensor::<M::Observed, D>(dev, data, rows, buffer);
        let noise = dev.tensor_from_vec(eps.to_vec(), (rows.len(), M::Latent::default()));
        let tape = grads.take().unwrap_or_else(|| model.alloc_grads());
        let loss = elbo(model, x.traced(tape), noise).sum().negate() / n as f32;
        let value = loss.as_vec().first().copied().unwrap_or(f32::NAN);
        let mut g = loss.backward();
        // Taking leaves the gradients zero for the next step.
        let read = take_gradients_into(model, &mut g, host).map_err(|e| format!("{e:?}"));
        **grads = Some(g);
        read.map(|()| value)
    }
}

/// One part of one tensor: the accumulator and the other shards' values for it.
type SumPart<'a> = (&'a mut [f32], Vec<&'a [f32]>);

/// Adds the other shards' gradients into `total`, in shard order (deterministic rounding). Each
/// tensor is cut into one contiguous part per worker and the parts are summed in parallel
/// (element-wise, so the result does not depend on the cut).
pub(super) fn sum_into(workers: &Workers, total: &mut [NamedTensor], others: &[&[NamedTensor]]) {
    if others.is_empty() {
        return;
    }
    let parts = workers.threads();
    let mut jobs: Vec<Vec<SumPart>> = (0..parts).map(|_| Vec::new()).collect();
    for (k, acc) in total.iter_mut().enumerate() {
        let size = acc.values.len().div_ceil(parts).max(1);
        let mut addends: Vec<_> = others.iter().map(|o| o[k].values.chunks(size)).collect();
        for (w, acc_part) in acc.values.chunks_mut(size).enumerate() {
            let part_addends = addends.iter_mut().filter_map(Iterator::next).collect();
            jobs[w].push((acc_part, part_addends));
        }
    }
    workers.map(jobs, |job| {
        for (acc, addends) in job {
            for addend in addends {
                for (a, b) in acc.iter_mut().zip(addend) {
                    *a += b;
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tensor(values: Vec<f32>) -> NamedTensor {
        NamedTensor {
            name: "t".into(),
            shape: vec![values.len()],
            trainable: true,
            values,
        }
    }

    #[test]
    fn the_parallel_sum_adds_every_element_of_every_shard() {
        let workers = Workers::new(2).unwrap();
        let make = |offset: f32| {
            vec![
                tensor((0..7).map(|i| i as f32 + offset).collect()),
                tensor(vec![offset]),
            ]
        };
        let mut total = make(0.0);
        let (a, b) = (make(10.0), make(100.0));
        sum_into(&workers, &mut total, &[&a, &b]);
        let want: Vec<f32> = (0..7).map(|i| 3.0 * i as f32 + 110.0).collect();
        assert_eq!(total[0].values, want);
        assert_eq!(total[1].values, vec![110.0]);
    }
}

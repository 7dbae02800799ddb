//! The evidence lower bound (ELBO), the objective VAEs maximise.

use super::estimate::check_finite_values;
use super::Estimate;
use crate::batch::{check_batch_size, check_dataset, rows_to_tensor, standard_normal, to_dynamic};
use crate::data::Dataset;
use crate::error::Result;
use crate::family::OutputFamily;
use crate::model::Dlvm;
use dfdx::prelude::*;
use rand::{rngs::StdRng, SeedableRng};

/// The single-sample reparameterised ELBO per point, shape `(batch,)`, differentiable through the
/// tape carried by `x`.
///
/// # Formula
/// `ELBO(x) = log Φ(x | f(z)) - KL(q(z|x) || N(0, I))`, `z = m(x) + s(x) ⊙ ε`, with the KL in
/// closed form `½ Σ_j (m_j² + s_j² - log s_j² - 1)`.
pub fn elbo<M, D, T>(
    model: &M,
    x: Tensor<(usize, M::Observed), f32, D, T>,
    eps: Tensor<(usize, M::Latent), f32, D>,
) -> Tensor<(usize,), f32, D, T>
where
    M: Dlvm<D>,
    D: Device<f32>,
    T: Tape<f32, D>,
{
    let target = to_dynamic(x.retaped::<NoneTape>());
    let q = model.encode(x);
    let kl = q.kl_to_standard_normal();
    let z = q.reparameterise(eps);
    let raw = model.decode(z);
    let log_lik = model.family().log_prob_rows(raw, target);
    log_lik - kl
}

/// The ELBO averaged over a data set (one reparameterised sample per point), with its
/// standard error; nats per point.
///
/// # Errors
/// The data does not fit the model ([`check_dataset`]) or `batch_size` is out of range;
/// [`DlvmError::NonFiniteEstimate`](crate::error::DlvmError::NonFiniteEstimate) when a point's
/// ELBO is NaN or infinite (data too large for the model's arithmetic, or diverged parameters),
/// naming the first such row: never an `Ok` holding a non-finite number.
pub fn evaluate_elbo<M: Dlvm<D>, D: Device<f32>>(
    model: &M,
    data: &Dataset,
    batch_size: usize,
    seed: u64,
) -> Result<Estimate> {
    check_dataset(model, data)?;
    check_batch_size(batch_size, data.rows())?;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut buffer = Vec::new();
    let mut values = Vec::with_capacity(data.rows());
    let indices: Vec<usize> = (0..data.rows()).collect();
    for chunk in indices.chunks(batch_size) {
        let x = rows_to_tensor::<M::Observed, D>(model.device(), data, chunk, &mut buffer);
        let eps = standard_normal::<M::Latent, D>(model.device(), chunk.len(), &mut rng);
        let per_point = elbo(model, x, eps).as_vec();
        values.extend(per_point.into_iter().map(f64::from));
    }
    check_finite_values("ELBO", data, &values)?;
    Ok(Estimate::from_values(&values))
}

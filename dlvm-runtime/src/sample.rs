//! Drawing from a model: prior samples and reconstructions.

use crate::batch::{check_dataset, rows_to_tensor, standard_normal};
use crate::data::Dataset;
use crate::error::Result;
use crate::family::OutputFamily;
use crate::model::Dlvm;
use dfdx::prelude::*;
use rand::{rngs::StdRng, SeedableRng};

/// Draws for `n` points, row-major `(n, p)`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Draws {
    /// The family mean `E[x | z]` at each latent draw (e.g. pixel probabilities).
    pub mean: Vec<f32>,
    /// A draw `x ~ Φ(x | f(z))` at each latent draw.
    pub sample: Vec<f32>,
}

/// `n` draws from the model: `z ~ N(0, I)`, then the family's mean and a sample at `f(z)`.
pub fn sample_prior<M: Dlvm<D>, D: Device<f32>>(model: &M, n: usize, seed: u64) -> Draws {
    if n == 0 {
        return Draws::default();
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let z = standard_normal::<M::Latent, D>(model.device(), n, &mut rng);
    decode_draws(model, z, &mut rng)
}

/// Reconstructions of the given rows: `z ~ q(z | x)`, then the family's mean and a sample at `f(z)`.
///
/// # Errors
/// The data does not fit the model, or a row index is out of range.
pub fn reconstruct<M: Dlvm<D>, D: Device<f32>>(
    model: &M,
    data: &Dataset,
    rows: &[usize],
    seed: u64,
) -> Result<Draws> {
    check_dataset(model, data)?;
    data.check_rows(rows)?;
    if rows.is_empty() {
        return Ok(Draws::default());
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let mut buffer = Vec::new();
    let x = rows_to_tensor::<M::Observed, D>(model.device(), data, rows, &mut buffer);
    let eps = standard_normal::<M::Latent, D>(model.device(), rows.len(), &mut rng);
    let z = model.encode(x).reparameterise(eps);
    Ok(decode_draws(model, z, &mut rng))
}

fn decode_draws<M: Dlvm<D>, D: Device<f32>>(
    model: &M,
    z: Tensor<(usize, M::Latent), f32, D>,
    rng: &mut StdRng,
) -> Draws {
    let n = z.shape().0;
    let raw = model.decode(z).as_vec();
    let p = M::observed_dim();
    let width = <M::Family as OutputFamily>::raw_width(p);
    let (mut mean, mut sample) = (vec![0.0; n * p], vec![0.0; n * p]);
    for i in 0..n {
        let row = &raw[i * width..(i + 1) * width];
        model.family().mean_row(row, &mut mean[i * p..(i + 1) * p]);
        model
            .family()
            .sample_row(row, rng, &mut sample[i * p..(i + 1) * p]);
    }
    Draws { mean, sample }
}

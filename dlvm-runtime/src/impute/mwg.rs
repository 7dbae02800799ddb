//! Metropolis-within-Gibbs: exact draws from `p(x_miss | x_obs)` (Mattei & Frellsen 2018, Alg. 1).

use super::chain::{progress_bar, Chains};
use super::independent::independent_chains;
use super::mask::Mask;
use super::options::ImputeOptions;
use super::result::{Imputation, Recorder};
use crate::data::Dataset;
use crate::error::Result;
use crate::model::Dlvm;
use dfdx::prelude::*;
use rand::{rngs::StdRng, Rng, SeedableRng};
use std::time::Instant;

/// Imputes the entries of `data` that `mask` marks missing with Metropolis-within-Gibbs, one
/// chain per row, all rows advanced together; the chain's stationary distribution is exactly
/// `p(z, x_miss | x_obs)` whatever the encoder.
///
/// Observed entries are never changed; the values of `data` at missing entries are ignored (they
/// may be NaN). The chain starts at `z_0 ~ q(z | x_obs, x_miss_0)` after initialisation.
///
/// # Formula
/// For `t = 1..=iterations`, with `x_{t-1} = (x_obs, x_miss_{t-1})` the encoder input of both
/// `q` terms and the likelihood over all coordinates:
/// - propose `z̃ ~ q(z | x_{t-1})`;
/// - `log ρ = log Φ(x_{t-1} | f(z̃)) + log p(z̃) + log q(z_{t-1} | x_{t-1})
///          - log Φ(x_{t-1} | f(z_{t-1})) - log p(z_{t-1}) - log q(z̃ | x_{t-1})` (in f64);
/// - `z_t = z̃` if `log u < log ρ`, `u ~ U(0, 1)`, else `z_t = z_{t-1}`;
/// - `x_miss_t ~ Φ(x_miss | f(z_t))`.
///
/// # Errors
/// [`DlvmError::Config`](crate::DlvmError::Config) for invalid `options` (e.g. zero iterations),
/// [`DlvmError::MaskShape`](crate::DlvmError::MaskShape) when the mask does not fit the data, and
/// a data error when the data's width is not the model's or an observed entry is not finite or
/// outside the family's support.
pub fn metropolis_within_gibbs<M: Dlvm<D>, D: Device<f32>>(
    model: &M,
    data: &Dataset,
    mask: &Mask,
    options: &ImputeOptions,
) -> Result<Imputation> {
    independent_chains(data, mask, options, |data, mask| {
        run(model, data, mask, options)
    })
}

/// One chain per row of `data`.
fn run<M: Dlvm<D>, D: Device<f32>>(
    model: &M,
    data: &Dataset,
    mask: &Mask,
    options: &ImputeOptions,
) -> Result<Imputation> {
    let retained = options.retained()?;
    let start = Instant::now();
    let mut rng = StdRng::seed_from_u64(options.seed);
    let mut chains = Chains::new(model, data, mask, options)?;
    chains.initialise(options.init);
    let z = chains.encode().sample(&mut rng);
    let mut log_lik = chains.set_latent(&z);
    let mut recorder = Recorder::new(options, retained, chains.n);
    let bar = progress_bar("Metropolis-within-Gibbs", options);
    let mut accepted = vec![false; chains.n];
    for t in 1..=options.iterations {
        let gain = chains.propose();
        for (i, accept) in accepted.iter_mut().enumerate() {
            let log_rho = gain[i] - log_lik[i];
            // NaN compares false: a proposal with an undefined ratio is rejected.
            *accept = rng.gen::<f64>().ln() < log_rho;
            if *accept {
                recorder.accept(i);
            }
        }
        log_lik = chains.accept_and_redraw(&accepted, options.is_retained(t));
        recorder.record(t, &chains.x, &log_lik, || chains.latent_scores());
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(chains.finish(recorder, true, start))
}

//! The pseudo-Gibbs sampler of Rezende et al. (2014).

use super::chain::{progress_bar, Chains};
use super::independent::independent_chains;
use super::mask::Mask;
use super::options::ImputeOptions;
use super::result::{Imputation, Recorder};
use crate::data::Dataset;
use crate::error::Result;
use crate::model::Dlvm;
use dfdx::prelude::*;
use std::time::Instant;

/// Imputes the entries of `data` that `mask` marks missing with pseudo-Gibbs sampling, one chain
/// per row, all rows advanced together.
///
/// Observed entries are never changed; the values of `data` at missing entries are ignored (they
/// may be NaN).
///
/// # Formula
/// For `t = 1..=iterations`:
/// `z_t ~ q(z | x_obs, x_miss_{t-1})`, `x_miss_t ~ Φ(x_miss | f(z_t))`.
/// This chain does not target `p(x_miss | x_obs)` unless `q` is the exact posterior; use
/// [`metropolis_within_gibbs`](super::metropolis_within_gibbs) for exact draws.
///
/// # Errors
/// [`DlvmError::Config`](crate::DlvmError::Config) for invalid `options` (e.g. zero iterations),
/// [`DlvmError::MaskShape`](crate::DlvmError::MaskShape) when the mask does not fit the data, and
/// a data error when the data's width is not the model's or an observed entry is not finite or
/// outside the family's support.
pub fn pseudo_gibbs<M: Dlvm<D>, D: Device<f32>>(
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
    let mut chains = Chains::new(model, data, mask, options)?;
    chains.initialise(options.init);
    let mut recorder = Recorder::new(options, retained, chains.n);
    let bar = progress_bar("pseudo-Gibbs", options);
    for t in 1..=options.iterations {
        let log_lik = chains.pseudo_gibbs_step(options.is_retained(t));
        recorder.record(t, &chains.x, &log_lik, || chains.latent_scores());
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(chains.finish(recorder, false, start))
}

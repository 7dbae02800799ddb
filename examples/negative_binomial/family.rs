//! A user-defined output family: the negative binomial for over-dispersed counts.
//!
//! This file is the worked example of `docs/families.md`. It uses only the public API, exactly as
//! a family in another crate would, and is included by the example (`main.rs`) and by the test
//! `tests/negative_binomial_family.rs`, which runs the conformance suite on it.

use dlvm::dfdx::prelude::*;
use dlvm::family::special::{ln_gamma, softplus, softplus_f64};
use dlvm::family::{FamilyBuilder, FamilyError, OutputFamily};
use rand::RngCore;
use rand_distr::{Distribution, Gamma, Poisson};

/// `x_j ~ NB(μ_j, r_j)`: mean `μ_j = exp(a_j)`, total count `r_j = r₀ + softplus(b_j)`; raw
/// outputs: the `p` log-means `a`, then the `p` dispersion pre-activations `b`.
///
/// DSL: `NegativeBinomial(mlp(z; 64; tanh))`, or with a floor on the total count,
/// `NegativeBinomial(mlp(z; 64; tanh), min_total_count = 0.5)` (default `0.1`).
///
/// # Formula
/// `log Φ_j(x | a, b) = log Γ(x + r) - log Γ(r) - log Γ(x + 1) + r log r + x a - (r + x) log(r + μ)`,
/// mean `μ`, variance `μ + μ²/r` (always above the Poisson's `μ`: over-dispersion).
/// A probability mass function, so `log Φ_j <= 0`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NegativeBinomial {
    min_total_count: f32,
}

impl NegativeBinomial {
    /// A negative binomial family whose total count is at least `min_total_count`.
    ///
    /// # Errors
    /// [`FamilyError`] naming `min_total_count` when it is not a finite number `> 0`.
    pub fn new(min_total_count: f32) -> Result<Self, FamilyError> {
        if min_total_count.is_finite() && min_total_count > 0.0 {
            Ok(Self { min_total_count })
        } else {
            Err(FamilyError {
                family: "NegativeBinomial",
                argument: "min_total_count",
                reason: format!(
                    "must be a finite number > 0, got {min_total_count}; e.g. `min_total_count = 0.1`"
                ),
            })
        }
    }

    /// `(μ, r)` of coordinate `j` of one point, in `f64`; the log-mean is clamped to `±30`.
    ///
    /// # Formula
    /// `μ = exp(a_j)`, `r = r₀ + softplus(b_j)`
    pub fn parameters(&self, raw: &[f32], p: usize, j: usize) -> (f64, f64) {
        let mean = f64::from(raw[j]).clamp(-30.0, 30.0).exp();
        let total = f64::from(self.min_total_count) + softplus_f64(f64::from(raw[p + j]));
        (mean, total)
    }
}

// Step 1: the family type and its sizes.
impl OutputFamily for NegativeBinomial {
    const NAME: &'static str = "NegativeBinomial";
    const PARAMS_PER_COORD: usize = 2;
    const DISCRETE: bool = true;
    type Builder = NegativeBinomialBuilder;

    // Step 2: the per-coordinate log-likelihood, differentiable in `raw`.
    fn log_prob<D: Device<f32>, T: Tape<f32, D>>(
        &self,
        raw: Tensor<(usize, usize), f32, D, T>,
        x: Tensor<(usize, usize), f32, D>,
    ) -> Tensor<(usize, usize), f32, D, T> {
        let p = x.shape().1;
        let log_mean = raw.with_empty_tape().slice((.., 0..p));
        let total = softplus(raw.slice((.., p..2 * p))) + self.min_total_count;
        let log_total_plus_mean = (total.with_empty_tape() + log_mean.with_empty_tape().exp()).ln();
        let x_plus_total = total.with_empty_tape() + x.clone();
        let gammas = ln_gamma(x_plus_total.with_empty_tape())
            - ln_gamma(total.with_empty_tape())
            - ln_gamma(x.clone() + 1.0);
        let rate_terms = total.with_empty_tape() * total.ln() + log_mean * x
            - x_plus_total * log_total_plus_mean;
        gammas + rate_terms
    }

    // Step 3: sampling, as a gamma mixture of Poissons.
    fn sample_row(&self, raw: &[f32], rng: &mut dyn RngCore, out: &mut [f32]) {
        let p = out.len();
        for (j, o) in out.iter_mut().enumerate() {
            let (mean, total) = self.parameters(raw, p, j);
            let rate = Gamma::new(total, mean / total).map_or(mean, |g| g.sample(rng));
            *o = Poisson::new(rate).map_or(0.0, |d| d.sample(rng)) as f32;
        }
    }

    // Step 4: the mean (used by single imputation) and, optionally, the variance.
    fn mean_row(&self, raw: &[f32], out: &mut [f32]) {
        let p = out.len();
        for (j, o) in out.iter_mut().enumerate() {
            *o = self.parameters(raw, p, j).0 as f32;
        }
    }

    fn variance_row(&self, raw: &[f32], out: &mut [f32]) -> bool {
        let p = out.len();
        for (j, o) in out.iter_mut().enumerate() {
            let (mean, total) = self.parameters(raw, p, j);
            *o = (mean + mean * mean / total) as f32;
        }
        true
    }

    // Step 5: the support, used to reject bad data before training.
    fn in_support(&self, x: f32) -> bool {
        x >= 0.0 && x.is_finite() && x.fract() == 0.0
    }

    fn support_description(&self) -> &'static str {
        "counts {0, 1, 2, ...}"
    }

    // Step 6: the likelihood bound (a probability mass is at most 1).
    fn log_density_bound(&self) -> Option<f64> {
        Some(0.0)
    }
}

/// Step 7: the DSL builder: `min_total_count = VALUE` calls [`Self::min_total_count`].
#[derive(Debug, Clone, Copy)]
pub struct NegativeBinomialBuilder {
    min_total_count: f32,
}

impl Default for NegativeBinomialBuilder {
    fn default() -> Self {
        Self {
            min_total_count: 0.1,
        }
    }
}

impl NegativeBinomialBuilder {
    /// Sets the floor `r₀ > 0` of the total count (default 0.1).
    pub fn min_total_count(self, value: f32) -> Self {
        Self {
            min_total_count: value,
        }
    }
}

impl FamilyBuilder for NegativeBinomialBuilder {
    type Family = NegativeBinomial;

    fn build(self) -> Result<NegativeBinomial, FamilyError> {
        NegativeBinomial::new(self.min_total_count)
    }
}

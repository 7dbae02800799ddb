//! The Poisson family for counts, parameterised by the log-rate.

use super::special::ln_gamma_f64;
use super::{NoArguments, OutputFamily};
use dfdx::prelude::*;
use rand::RngCore;
use rand_distr::Distribution;

/// Log-rates are clamped to this range when sampling (rates `e^{±40}`), so that a wild decoder
/// output cannot make the sampler overflow.
const MAX_LOG_RATE: f64 = 40.0;

/// `x_j ~ Poisson(λ_j)`, `λ_j = exp(η_j)`, one log-rate per coordinate, support `{0, 1, 2, ...}`.
///
/// # Formula
/// `log Φ_j(x_j | η_j) = x_j η_j - e^{η_j} - log Γ(x_j + 1) <= 0`; mean and variance `λ_j`.
///
/// ```
/// use dlvm_runtime::family::{OutputFamily, Poisson};
/// let mut mean = [0.0f32];
/// Poisson.mean_row(&[2.0f32.ln()], &mut mean);
/// assert!((mean[0] - 2.0).abs() < 1e-6);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Poisson;

impl Poisson {
    /// The rate `λ = e^η`, with `η` clamped to `±40`.
    fn rate(eta: f32) -> f64 {
        f64::from(eta).clamp(-MAX_LOG_RATE, MAX_LOG_RATE).exp()
    }
}

impl OutputFamily for Poisson {
    const NAME: &'static str = "Poisson";
    const PARAMS_PER_COORD: usize = 1;
    const DISCRETE: bool = true;
    type Builder = NoArguments<Poisson>;

    fn log_prob<D: Device<f32>, T: Tape<f32, D>>(
        &self,
        raw: Tensor<(usize, usize), f32, D, T>,
        x: Tensor<(usize, usize), f32, D>,
    ) -> Tensor<(usize, usize), f32, D, T> {
        let shape = *x.shape();
        let log_factorial: Vec<f32> = x
            .as_vec()
            .iter()
            .map(|&v| ln_gamma_f64(f64::from(v.max(0.0)) + 1.0) as f32)
            .collect();
        let log_factorial = x.device().tensor_from_vec(log_factorial, shape);
        let rate = raw.with_empty_tape().exp();
        (raw * x - rate) - log_factorial
    }

    fn sample_row(&self, raw: &[f32], rng: &mut dyn RngCore, out: &mut [f32]) {
        for (o, &eta) in out.iter_mut().zip(raw) {
            *o = match rand_distr::Poisson::new(Self::rate(eta)) {
                Ok(poisson) => poisson.sample(rng) as f32,
                Err(_) => 0.0,
            };
        }
    }

    fn mean_row(&self, raw: &[f32], out: &mut [f32]) {
        for (o, &eta) in out.iter_mut().zip(raw) {
            *o = Self::rate(eta) as f32;
        }
    }

    fn variance_row(&self, raw: &[f32], out: &mut [f32]) -> bool {
        self.mean_row(raw, out);
        true
    }

    fn in_support(&self, x: f32) -> bool {
        x >= 0.0 && x.is_finite() && x.fract() == 0.0
    }

    fn support_description(&self) -> &'static str {
        "counts {0, 1, 2, ...}"
    }

    fn log_density_bound(&self) -> Option<f64> {
        Some(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_prob_matches_the_closed_form() {
        let dev = Cpu::default();
        let raw = vec![0.3f32, -1.0, 2.0];
        let x = vec![0.0f32, 3.0, 7.0];
        let got = Poisson
            .log_prob(
                dev.tensor_from_vec(raw.clone(), (1, 3)),
                dev.tensor_from_vec(x.clone(), (1, 3)),
            )
            .as_vec();
        for ((g, eta), x) in got.iter().zip(raw).zip(x) {
            let (eta, x) = (f64::from(eta), f64::from(x));
            let factorial: f64 = (1..=x as u32).map(f64::from).product();
            let want = x * eta - eta.exp() - factorial.ln();
            assert!((f64::from(*g) - want).abs() < 1e-5, "{g} vs {want}");
        }
    }

    #[test]
    fn support_is_the_counts() {
        assert!(Poisson.in_support(0.0) && Poisson.in_support(12.0));
        assert!(!Poisson.in_support(-1.0) && !Poisson.in_support(0.5));
        assert!(!Poisson.in_support(f32::INFINITY));
    }
}

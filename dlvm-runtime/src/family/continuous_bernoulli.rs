//! The continuous Bernoulli family for grey levels in `[0, 1]` (Loaiza-Ganem & Cunningham 2019).

use super::{NoArguments, OutputFamily};
use dfdx::prelude::*;
use rand::{Rng, RngCore};

/// Below this `|η|` the log-normaliser and the moments use their Taylor series.
const SMALL: f32 = 1e-2;

/// `x_j ~ CB(η_j)` on `[0, 1]`, one natural parameter (logit) `η_j` per coordinate.
///
/// The density is the Bernoulli likelihood `λ^x (1-λ)^{1-x}`, `λ = σ(η)`, normalised over `[0, 1]`:
/// unlike the Bernoulli likelihood applied to grey levels, it is a proper density.
///
/// # Formula
/// `log Φ_j(x | η) = x η - A(η)`, `A(η) = log((e^η - 1) / η)`
/// `= max(η, 0) + log(1 - e^{-|η|}) - log |η|` (`≈ η/2 + η²/24` for `|η| < 10⁻²`).
/// Mean `e^η/(e^η - 1) - 1/η` (`½` at `η = 0`), variance `1/η² - e^η/(e^η - 1)²`.
/// The density is unbounded as `|η| → ∞` (it tends to a point mass at 0 or 1), so there is no
/// likelihood bound.
///
/// ```
/// use dlvm_runtime::family::{ContinuousBernoulli, OutputFamily};
/// let mut mean = [0.0f32];
/// ContinuousBernoulli.mean_row(&[0.0], &mut mean);
/// assert!((mean[0] - 0.5).abs() < 1e-6);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ContinuousBernoulli;

impl ContinuousBernoulli {
    /// Mean and variance of `CB(η)`, in `f64`.
    ///
    /// # Formula
    /// With `a = |η|`, `q = e^{-a}`: for `η > 0`, mean `1/(1 - q) - 1/a`; for `η < 0`, one minus it
    /// (the density is mirrored); variance `1/a² - q/(1 - q)²`. Taylor series for `a < 10⁻²`:
    /// mean `½ + η/12`, variance `1/12 - η²/240`.
    pub fn moments(eta: f32) -> (f64, f64) {
        let eta = f64::from(eta);
        let a = eta.abs();
        if a < f64::from(SMALL) {
            return (0.5 + eta / 12.0, 1.0 / 12.0 - eta * eta / 240.0);
        }
        let q = (-a).exp();
        let upper = 1.0 / (1.0 - q) - 1.0 / a;
        let mean = if eta > 0.0 { upper } else { 1.0 - upper };
        (mean, 1.0 / (a * a) - q / ((1.0 - q) * (1.0 - q)))
    }

    /// Inverse CDF: the quantile of `u ∈ [0, 1)`.
    ///
    /// # Formula
    /// `F(x) = (e^{ηx} - 1)/(e^η - 1)`, so `x = log(1 + u (e^η - 1)) / η`; for `η > 0` computed as
    /// `1 + log(u + (1 - u) e^{-η}) / η`.
    fn quantile(eta: f64, u: f64) -> f64 {
        if eta.abs() < 1e-6 {
            u
        } else if eta > 0.0 {
            1.0 + (u + (1.0 - u) * (-eta).exp()).ln() / eta
        } else {
            (u * eta.exp_m1()).ln_1p() / eta
        }
    }
}

impl OutputFamily for ContinuousBernoulli {
    const NAME: &'static str = "ContinuousBernoulli";
    const PARAMS_PER_COORD: usize = 1;
    type Builder = NoArguments<ContinuousBernoulli>;

    fn log_prob<D: Device<f32>, T: Tape<f32, D>>(
        &self,
        raw: Tensor<(usize, usize), f32, D, T>,
        x: Tensor<(usize, usize), f32, D>,
    ) -> Tensor<(usize, usize), f32, D, T> {
        let shape = *raw.shape();
        let magnitude = raw.with_empty_tape().abs();
        let large = raw.retaped::<NoneTape>().abs().ge(SMALL);
        // The exact branch is evaluated at |η| = 1 where it is not selected, so that neither its
        // value nor its gradient is ever NaN.
        let ones = raw.device().ones_like(&shape);
        let safe = large.clone().choose(magnitude, ones);
        let exact = raw.with_empty_tape().relu()
            + (safe.with_empty_tape().negate().exp().negate() + 1.0).ln()
            - safe.ln();
        let taylor = raw.with_empty_tape() * 0.5 + raw.with_empty_tape().square() * (1.0 / 24.0);
        let normaliser = large.choose(exact, taylor);
        raw * x - normaliser
    }

    fn sample_row(&self, raw: &[f32], rng: &mut dyn RngCore, out: &mut [f32]) {
        for (o, &eta) in out.iter_mut().zip(raw) {
            let u: f64 = rng.gen();
            *o = Self::quantile(f64::from(eta), u).clamp(0.0, 1.0) as f32;
        }
    }

    fn mean_row(&self, raw: &[f32], out: &mut [f32]) {
        for (o, &eta) in out.iter_mut().zip(raw) {
            *o = Self::moments(eta).0 as f32;
        }
    }

    fn variance_row(&self, raw: &[f32], out: &mut [f32]) -> bool {
        for (o, &eta) in out.iter_mut().zip(raw) {
            *o = Self::moments(eta).1 as f32;
        }
        true
    }

    fn in_support(&self, x: f32) -> bool {
        (0.0..=1.0).contains(&x)
    }

    fn support_description(&self) -> &'static str {
        "grey levels in [0, 1]"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_density_matches_the_closed_form_on_both_branches() {
        let dev = Cpu::default();
        let etas = vec![-30.0f32, -2.0, -0.005, 0.0, 0.004, 1.5, 30.0];
        let xs = vec![0.1f32, 0.9, 0.5, 0.3, 0.7, 0.2, 0.95];
        let n = etas.len();
        let got = ContinuousBernoulli
            .log_prob(
                dev.tensor_from_vec(etas.clone(), (1, n)),
                dev.tensor_from_vec(xs.clone(), (1, n)),
            )
            .as_vec();
        for ((g, eta), x) in got.iter().zip(etas).zip(xs) {
            let (eta, x) = (f64::from(eta), f64::from(x));
            let log_c = if eta == 0.0 {
                0.0
            } else {
                (eta / eta.exp_m1()).ln()
            };
            let want = x * eta + log_c;
            assert!(
                (f64::from(*g) - want).abs() < 1e-4,
                "η={eta}: {g} vs {want}"
            );
        }
    }
}

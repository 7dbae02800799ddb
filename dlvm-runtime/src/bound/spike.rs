//! The unboundedness theorem made computable: the log-likelihood of the spike sequence `θ_k`.
//!
//! The talk's decoder with one hidden unit, `h(z) = tanh(W z + a)`, `μ(z) = V h + b`,
//! `Σ(z) = (ξ + exp(α h + β)) I_p`, at `θ_k = (W = α_k wᵀ, a = 0, V = 0, b = x_i, α = α_k,
//! β = -α_k)` has `μ(z) = x_i` and `σ²(z) = ξ + exp(α_k tanh(α_k wᵀz) - α_k)`, which only depends
//! on `u = wᵀz / |w| ~ N(0, 1)`. So every `log p(x_j)` is a one-dimensional integral, computed here
//! by quadrature in `f64` and log-space (Mattei & Frellsen 2018, Theorem; THEORY.md §3).

use super::log_sum_exp::LogSumExp;
use crate::data::Dataset;
use crate::error::{DlvmError, Result};

const LN_2PI: f64 = 1.837_877_066_409_345_5;

/// One member `θ_k` of the spike sequence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spike {
    /// `α_k`: the sharpness of the hidden unit and the depth of the variance dip.
    pub alpha: f64,
    /// `|w|`, the norm of the direction (any `w != 0`).
    pub w_norm: f64,
    /// The variance floor ξ (0: unconstrained).
    pub xi: f64,
}

impl Spike {
    /// `log σ²(u)`.
    ///
    /// # Formula
    /// `σ²(u) = ξ + exp(α tanh(α |w| u) - α)`, evaluated as a log-add-exp.
    pub fn log_variance(&self, u: f64) -> f64 {
        let t = self.alpha * (self.alpha * self.w_norm * u).tanh() - self.alpha;
        if self.xi > 0.0 {
            let l = self.xi.ln();
            l.max(t) + (-(l - t).abs()).exp().ln_1p()
        } else {
            t
        }
    }

    /// `log p(x_j)` for a point at squared distance `r2 = |x_j - x_i|²` from the spike's centre,
    /// in `p` dimensions.
    ///
    /// # Formula
    /// `log p(x_j) = log ∫ N(x_j | x_i, σ²(u) I_p) φ(u) du`, composite Simpson on a grid that is
    /// geometric in `|u|` (from `10` down to `1e-12` on each side of 0, relative spacing about
    /// 0.7%), so the transition of `tanh(α |w| u)` at `|u| ≈ 1/(α|w|)` is resolved for any `α`;
    /// the mass beyond `|u| = 10` (below `1e-22`) is ignored.
    pub fn log_density(&self, r2: f64, p: usize) -> f64 {
        let log_integrand = |u: f64| {
            let lv = self.log_variance(u);
            // 0 · inf would be NaN at the centre when the variance underflows.
            let quad = if r2 > 0.0 { r2 * (-lv).exp() } else { 0.0 };
            -0.5 * (LN_2PI + u * u) - 0.5 * (p as f64 * (LN_2PI + lv) + quad)
        };
        log_simpson_symmetric(log_integrand, 10.0, 1e-12, 4000)
    }
}

/// `log ∫_{-outer}^{outer} exp(f(u)) du` with nodes geometric in `|u|` between `inner` and `outer`.
fn log_simpson_symmetric(f: impl Fn(f64) -> f64, outer: f64, inner: f64, steps: usize) -> f64 {
    let h = (outer / inner).ln() / steps as f64;
    let mut acc = LogSumExp::default();
    for sign in [-1.0, 1.0] {
        let mut hi = outer;
        for m in 1..=steps {
            let lo = outer * (-(m as f64) * h).exp();
            let (a, b) = (sign * lo, sign * hi);
            let w = ((hi - lo) / 6.0).ln();
            acc.push(w + f(a));
            acc.push(w + 4f64.ln() + f(0.5 * (a + b)));
            acc.push(w + f(b));
            hi = lo;
        }
        // [0, inner]: trapezoid.
        acc.push((0.5 * inner).ln() + f(0.0));
        acc.push((0.5 * inner).ln() + f(sign * inner));
    }
    acc.value()
}

/// `l(θ_k) = Σ_j log p_{θ_k}(x_j)` over all rows of `data`, spike on row `i`.
///
/// # Errors
/// [`DlvmError::Config`] when `i` is not a row, `alpha` or `w_norm` is not finite and positive,
/// or `xi` is negative; a data error for non-finite values.
pub fn spike_log_likelihood(data: &Dataset, i: usize, spike: &Spike) -> Result<f64> {
    check_spike(data, i, spike)?;
    data.check_finite()?;
    let centre = data.row(i);
    let total = (0..data.rows())
        .map(|j| {
            let r2: f64 = data
                .row(j)
                .iter()
                .zip(centre)
                .map(|(a, b)| f64::from(a - b).powi(2))
                .sum();
            spike.log_density(r2, data.cols())
        })
        .sum();
    Ok(total)
}

fn check_spike(data: &Dataset, i: usize, spike: &Spike) -> Result<()> {
    let bad =
        |parameter: &'static str, reason: String| Err(DlvmError::Config { parameter, reason });
    if i >= data.rows() {
        return bad(
            "i",
            format!(
                "the spike's data point must be a row index below {}, got {i}",
                data.rows()
            ),
        );
    }
    if !(spike.alpha.is_finite() && spike.alpha > 0.0) {
        return bad(
            "alpha",
            format!("must be finite and > 0, got {}", spike.alpha),
        );
    }
    if !(spike.w_norm.is_finite() && spike.w_norm > 0.0) {
        return bad(
            "w_norm",
            format!(
                "the direction w must be non-zero and finite, got |w| = {}",
                spike.w_norm
            ),
        );
    }
    if !(spike.xi.is_finite() && spike.xi >= 0.0) {
        return bad(
            "xi",
            format!(
                "the floor must be finite and >= 0 (0 = unconstrained), got {}",
                spike.xi
            ),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_constant_variance_integrates_to_the_gaussian_density() {
        // α tiny: σ² = exp(α tanh(.) - α) ≈ 1, so log p = log N(r | 0, I_p).
        let spike = Spike {
            alpha: 1e-9,
            w_norm: 1.0,
            xi: 0.0,
        };
        let (r2, p) = (0.7, 3);
        let want = -0.5 * (p as f64 * LN_2PI + r2);
        assert!((spike.log_density(r2, p) - want).abs() < 1e-6);
    }

    #[test]
    fn the_spike_point_diverges_and_the_floor_caps_it() {
        let (p, xi) = (4, 0.01);
        let mut last = f64::NEG_INFINITY;
        for alpha in [1.0, 10.0, 100.0, 1000.0] {
            let free = Spike {
                alpha,
                w_norm: 1.0,
                xi: 0.0,
            }
            .log_density(0.0, p);
            assert!(free > last + 1.0, "alpha {alpha}: {free} after {last}");
            last = free;
            let floored = Spike {
                alpha,
                w_norm: 1.0,
                xi,
            }
            .log_density(0.0, p);
            assert!(floored <= -0.5 * p as f64 * (2.0 * std::f64::consts::PI * xi).ln() + 1e-9);
        }
        // For α = 1000 the half-space u < 0 has variance exp(-2000): log p ≈ log ½ + p α - (p/2) log 2π.
        let want = 0.5f64.ln() + p as f64 * 1000.0 - 0.5 * p as f64 * LN_2PI;
        assert!((last - want).abs() < 0.01, "{last} vs {want}");
    }
}

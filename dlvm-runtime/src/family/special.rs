//! Differentiable special functions for writing families: softplus and the log-gamma function.
//!
//! dfdx 0.13 ships neither; both are built here from its elementwise operations, so they work on
//! every device and carry gradients. Host (`f64`) versions are provided for sampling and tests.

use dfdx::prelude::*;

/// `½ log(2π)`.
const HALF_LN_2PI: f64 = 0.918_938_533_204_672_8;

/// How far [`ln_gamma`] shifts its argument before applying Stirling's series.
const SHIFT: usize = 6;

/// Above this the softplus is the identity to within `e^{-20} = 2·10⁻⁹`.
const SOFTPLUS_LINEAR: f32 = 20.0;

/// Elementwise softplus `log(1 + eˣ)`, differentiable (derivative `σ(x)` everywhere, including
/// at 0), without overflow.
///
/// # Formula
/// `softplus(x) = log(1 + eˣ)` for `x < 20`, `x` otherwise.
///
/// (The form `max(x, 0) + log(1 + e^{-|x|})` has the right values but autodiff gives it the
/// derivative 0 at exactly `x = 0`, where `max` and `|·|` are not differentiable.)
pub fn softplus<S: Shape, D: Device<f32>, T: Tape<f32, D>>(
    x: Tensor<S, f32, D, T>,
) -> Tensor<S, f32, D, T> {
    let small = x.retaped::<NoneTape>().lt(SOFTPLUS_LINEAR);
    let zeros = x.device().zeros_like(x.shape());
    // The exponential only ever sees x < 20, so neither it nor its gradient overflows.
    let safe = small.clone().choose(x.with_empty_tape(), zeros);
    let smooth = (safe.exp() + 1.0).ln();
    small.choose(smooth, x)
}

/// Elementwise `log Γ(x)` for `x > 0`, differentiable in `x`.
///
/// Shifts the argument by 6 with the recurrence `Γ(x + 1) = x Γ(x)`, then applies Stirling's
/// series with four correction terms: the truncation error is below `1/(1188 y⁹) < 10⁻¹⁰`
/// for `y = x + 6 >= 6`, far below `f32` resolution.
///
/// # Formula
/// `log Γ(x) = log Γ(y) - Σ_{k<6} log(x + k)`, `y = x + 6`,
/// `log Γ(y) ≈ (y - ½) log y - y + ½ log 2π + 1/(12y) - 1/(360y³) + 1/(1260y⁵) - 1/(1680y⁷)`.
///
/// Values `x <= 0` give NaN or infinity; families apply it to floored (positive) parameters or to
/// data in their support.
pub fn ln_gamma<S: Shape, D: Device<f32>, T: Tape<f32, D>>(
    x: Tensor<S, f32, D, T>,
) -> Tensor<S, f32, D, T> {
    let mut shift = x.with_empty_tape().ln();
    for k in 1..SHIFT {
        shift = shift + (x.with_empty_tape() + k as f32).ln();
    }
    let y = x + SHIFT as f32;
    let lead = (y.with_empty_tape() - 0.5) * y.with_empty_tape().ln() - y.with_empty_tape();
    let inv = y.recip();
    let inv2 = inv.with_empty_tape().square();
    // inv · (1/12 - inv2 · (1/360 - inv2 · (1/1260 - inv2/1680)))
    let innermost = inv2.with_empty_tape() * (-1.0 / 1680.0) + 1.0 / 1260.0;
    let inner = (innermost * inv2.with_empty_tape()).negate() + 1.0 / 360.0;
    let series = inv * ((inner * inv2).negate() + 1.0 / 12.0);
    lead + series + HALF_LN_2PI as f32 - shift
}

/// `log Γ(x)` for `x > 0` on the host, in `f64` (same method as [`ln_gamma`]).
///
/// # Formula
/// As [`ln_gamma`]; absolute error below `10⁻¹⁰` for `x > 0` (the series' truncation error).
pub fn ln_gamma_f64(x: f64) -> f64 {
    let shift: f64 = (0..SHIFT).map(|k| (x + k as f64).ln()).sum();
    let y = x + SHIFT as f64;
    let inv = 1.0 / y;
    let inv2 = inv * inv;
    let series = inv * (1.0 / 12.0 - inv2 * (1.0 / 360.0 - inv2 * (1.0 / 1260.0 - inv2 / 1680.0)));
    (y - 0.5) * y.ln() - y + HALF_LN_2PI + series - shift
}

/// `log(1 + eˣ)` on the host, without overflow.
///
/// # Formula
/// `softplus(x) = max(x, 0) + log(1 + e^{-|x|})`
pub fn softplus_f64(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ln_gamma_f64_matches_factorials_and_half_integers() {
        // Γ(n) = (n - 1)!, Γ(½) = √π.
        let mut factorial = 1.0f64;
        for n in 1..20 {
            let got = ln_gamma_f64(f64::from(n));
            // Truncation error of the series at y = n + 6 >= 7: below 1/(1188 · 7⁹) = 2e-11.
            assert!((got - factorial.ln()).abs() < 1e-10, "n={n}: {got}");
            factorial *= f64::from(n);
        }
        let half = ln_gamma_f64(0.5);
        assert!((half - std::f64::consts::PI.sqrt().ln()).abs() < 1e-10);
    }

    #[test]
    fn tensor_ln_gamma_and_its_gradient_match_the_host_version() {
        let dev = Cpu::default();
        let xs = vec![0.3f32, 1.0, 2.5, 7.0, 40.0];
        let t = dev.tensor_from_vec(xs.clone(), (xs.len(),));
        let y = ln_gamma(t.leaky_trace());
        let values = y.as_vec();
        let g = y.sum().backward();
        let slopes = g.get(&t).as_vec();
        for ((x, v), s) in xs.iter().zip(values).zip(slopes) {
            let x = f64::from(*x);
            let want = ln_gamma_f64(x);
            assert!(
                (f64::from(v) - want).abs() < 1e-4 * (1.0 + want.abs()),
                "{x}: {v}"
            );
            // digamma by central differences of the f64 version
            let h = 1e-5;
            let digamma = (ln_gamma_f64(x + h) - ln_gamma_f64(x - h)) / (2.0 * h);
            assert!(
                (f64::from(s) - digamma).abs() < 1e-3,
                "{x}: {s} vs {digamma}"
            );
        }
    }

    #[test]
    fn softplus_has_the_logistic_derivative_everywhere_including_zero() {
        let dev = Cpu::default();
        let xs = [-30.0f32, -1.0, 0.0, 1.0, 19.9, 20.0, 50.0];
        let t = dev.tensor(xs);
        let g = softplus(t.leaky_trace()).sum().backward();
        for (x, s) in xs.iter().zip(g.get(&t).array()) {
            let want = 1.0 / (1.0 + (-f64::from(*x)).exp());
            assert!((f64::from(s) - want).abs() < 1e-6, "x = {x}: {s} vs {want}");
        }
    }

    #[test]
    fn softplus_is_stable_at_both_ends() {
        let dev = Cpu::default();
        let t = dev.tensor([-100.0f32, 0.0, 100.0]);
        let got = softplus(t).as_vec();
        assert!(got[0] >= 0.0 && got[0] < 1e-30);
        assert!((got[1] - std::f32::consts::LN_2).abs() < 1e-6);
        assert!((got[2] - 100.0).abs() < 1e-4);
        assert!((softplus_f64(0.0) - std::f64::consts::LN_2).abs() < 1e-15);
    }
}

//! Branch-free `f32` elementary functions that the compiler vectorises, for the element-wise
//! work of training and evaluation (`tanh`, the Bernoulli log-likelihood). The C library's
//! `tanhf`, `expf`, `logf` are scalar calls of 5–12 ns each; these run at a fraction of a
//! nanosecond per element in AVX2 loops.
//!
//! Accuracy (checked against `f64` in the tests below): `exp` and the derived functions stay
//! within a few units in the last place of the correctly rounded `f32` result.

/// `log₂ e`.
const LOG2_E: f32 = std::f32::consts::LOG2_E;
/// `ln 2` split in a high part with 15 significant bits (so `n · LN2_HI` is exact for
/// `|n| < 256`) and the rest (Cody–Waite reduction).
const LN2_HI: f32 = 0.693_145_75;
const LN2_LO: f32 = 1.428_606_8e-6;
/// `1.5 · 2²³`: adding and subtracting it rounds an `f32` of magnitude below `2²²` to the
/// nearest integer without a rounding instruction.
const ROUND_MAGIC: f32 = 12_582_912.0;

/// How a build of a kernel multiplies and adds: [`Fused`] (one rounding: the CPU's
/// multiply-add instruction, in the kernels built for AVX2 + FMA and AVX-512) or [`Separate`]
/// (a product and a sum, in the baseline build, where a fused multiply-add would be a slow
/// library call). Every function here comes in both forms (`exp_with::<Fused>`); the plain
/// names (`exp`) are the [`Separate`] form.
pub trait MulAdd {
    /// `a · b + c`.
    fn mul_add(a: f32, b: f32, c: f32) -> f32;
}

/// `a · b + c` with one rounding.
#[derive(Debug, Clone, Copy)]
pub struct Fused;

/// `a · b + c` as a rounded product and a rounded sum.
#[derive(Debug, Clone, Copy)]
pub struct Separate;

impl MulAdd for Fused {
    #[inline(always)]
    fn mul_add(a: f32, b: f32, c: f32) -> f32 {
        a.mul_add(b, c)
    }
}

impl MulAdd for Separate {
    #[inline(always)]
    fn mul_add(a: f32, b: f32, c: f32) -> f32 {
        a * b + c
    }
}

/// `Σ_k c_k xᵏ` by Horner's rule (`coefficients` lowest degree first).
#[inline(always)]
fn polynomial<A: MulAdd, const N: usize>(x: f32, coefficients: [f32; N]) -> f32 {
    let mut p = coefficients[N - 1];
    for &c in coefficients[..N - 1].iter().rev() {
        p = A::mul_add(p, x, c);
    }
    p
}

/// `eˣ` for `x` clamped to `[-87, 88]` (so the result is a normal `f32`; below -87 it returns
/// `e⁻⁸⁷ ≈ 1.6·10⁻³⁸` instead of a smaller number).
///
/// `x = n ln 2 + r` with `|r| ≤ ln 2 / 2`, `eʳ` by its degree-7 Taylor polynomial (relative
/// truncation error about `r⁸/8! ≤ 6·10⁻⁹`), times `2ⁿ` built from the exponent bits.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    exp_with::<Separate>(x)
}

/// [`exp`] with the multiply-adds of `A`.
#[inline(always)]
pub fn exp_with<A: MulAdd>(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    let shifted = A::mul_add(x, LOG2_E, ROUND_MAGIC);
    let n = shifted - ROUND_MAGIC;
    let r = A::mul_add(-n, LN2_LO, A::mul_add(-n, LN2_HI, x));
    let taylor = [
        1.0,
        1.0,
        0.5,
        1.0 / 6.0,
        1.0 / 24.0,
        1.0 / 120.0,
        1.0 / 720.0,
        1.0 / 5040.0,
    ];
    let p = polynomial::<A, 8>(r, taylor);
    // `n ∈ [-126, 127]` sits in the low mantissa bits of `shifted` (its exponent is that of
    // `ROUND_MAGIC`), so integer arithmetic on the bits gives it without a float-to-int
    // conversion (whose saturation semantics do not vectorise).
    let n_bits = shifted.to_bits().wrapping_sub(ROUND_MAGIC.to_bits());
    let scale = f32::from_bits(n_bits.wrapping_add(127) << 23);
    p * scale
}

/// `ln(1 + e)` for `e ∈ [0, 1]`, accurate for tiny `e` too: `e · P(e)` with `P` the degree-9
/// polynomial that interpolates `ln(1 + e) / e` at the Chebyshev nodes of `[0, 1]` (relative
/// error below `1.6 ε` over every `f32` of `(0, 1]`, `ε = f32::EPSILON`; the test asserts
/// `2 ε`). Multiply-adds only: no division, no branch.
#[inline(always)]
pub fn ln_1p_unit(e: f32) -> f32 {
    ln_1p_unit_with::<Separate>(e)
}

/// [`ln_1p_unit`] with the multiply-adds of `A`.
#[inline(always)]
pub fn ln_1p_unit_with<A: MulAdd>(e: f32) -> f32 {
    let coefficients = [
        1.0,
        -0.499_999_05,
        0.333_300_05,
        -0.249_545_59,
        0.196_781_17,
        -0.153_118_63,
        0.106_142_65,
        -0.057_064_2,
        0.019_907_162,
        -0.003_256_378_5,
    ];
    e * polynomial::<A, 10>(e, coefficients)
}

/// `tanh x`: for `|x| < 1/16` its odd Taylor series to `x⁷` (error below `10⁻¹¹` relative),
/// else `sign(x) (1 - e)/(1 + e)` with `e = e^{-2|x|}`.
#[inline(always)]
pub fn tanh(x: f32) -> f32 {
    tanh_with::<Separate>(x)
}

/// [`tanh`] with the multiply-adds of `A`.
#[inline(always)]
pub fn tanh_with<A: MulAdd>(x: f32) -> f32 {
    let a = x.abs();
    let e = exp_with::<A>(-2.0 * a);
    let large = (1.0 - e) / (1.0 + e);
    let x2 = x * x;
    let series = polynomial::<A, 3>(x2, [-1.0 / 3.0, 2.0 / 15.0, -17.0 / 315.0]);
    let small = A::mul_add(a * x2, series, a);
    let t = if a < 0.0625 { small } else { large };
    t.copysign(x)
}

/// The logistic function `σ(η) = 1/(1 + e^{-η})`, with `e^{-η}` from [`exp`]: no overflow; above
/// 88 it is 1, below -88 it stays at `1/(1 + e⁸⁸) ≈ 6·10⁻³⁹` (the true value is smaller).
#[inline(always)]
pub fn sigmoid(eta: f32) -> f32 {
    sigmoid_with::<Separate>(eta)
}

/// [`sigmoid`] with the multiply-adds of `A`.
#[inline(always)]
pub fn sigmoid_with<A: MulAdd>(eta: f32) -> f32 {
    1.0 / (1.0 + exp_with::<A>(-eta))
}

/// The Bernoulli log-likelihood of `x ∈ {0, 1}` at logit `η` and its derivative in `η`:
/// `(x η - softplus(η), x - σ(η))`, with `softplus(η) = max(η, 0) + ln(1 + e^{-|η|})` and
/// `σ(η) = 1/(1 + e^{-η})` computed from the same `e^{-|η|}`.
#[inline(always)]
pub fn bernoulli_log_prob(eta: f32, x: f32) -> (f32, f32) {
    bernoulli_log_prob_with::<Separate>(eta, x)
}

/// [`bernoulli_log_prob`] with the multiply-adds of `A`.
#[inline(always)]
pub fn bernoulli_log_prob_with<A: MulAdd>(eta: f32, x: f32) -> (f32, f32) {
    let e = exp_with::<A>(-eta.abs());
    let softplus = eta.max(0.0) + ln_1p_unit_with::<A>(e);
    let inv = 1.0 / (1.0 + e);
    let sigmoid = if eta >= 0.0 { inv } else { e * inv };
    (A::mul_add(x, eta, -softplus), x - sigmoid)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `|got - want| / max(|want|, tiny)` in units of `f32::EPSILON`.
    fn ulps(got: f32, want: f64, tiny: f64) -> f64 {
        (f64::from(got) - want).abs() / want.abs().max(tiny) / f64::from(f32::EPSILON)
    }

    fn grid(lo: f32, hi: f32, n: usize) -> impl Iterator<Item = f32> {
        (0..=n).map(move |i| lo + (hi - lo) * i as f32 / n as f32)
    }

    #[test]
    fn exp_is_within_two_ulps_on_its_range() {
        exp_is_within_two_ulps_on_its_range_with::<Separate>();
        exp_is_within_two_ulps_on_its_range_with::<Fused>();
    }

    fn exp_is_within_two_ulps_on_its_range_with<A: MulAdd>() {
        let worst = grid(-87.0, 88.0, 200_000)
            .map(|x| ulps(exp_with::<A>(x), f64::from(x).exp(), 0.0))
            .fold(0.0, f64::max);
        assert!(worst < 2.0, "worst {worst} ulps");
        assert_eq!(exp_with::<A>(0.0), 1.0);
        assert!(exp_with::<A>(-1000.0) < 2e-38 && exp_with::<A>(-1000.0) >= 0.0);
    }

    #[test]
    fn ln_1p_is_accurate_from_tiny_to_one() {
        ln_1p_is_accurate_from_tiny_to_one_with::<Separate>();
        ln_1p_is_accurate_from_tiny_to_one_with::<Fused>();
    }

    fn ln_1p_is_accurate_from_tiny_to_one_with<A: MulAdd>() {
        let points = (0..=300)
            .map(|i| 10f32.powf(-30.0 + 0.1 * i as f32))
            .filter(|e| *e <= 1.0)
            .chain(grid(0.0, 1.0, 200_000).skip(1));
        let worst = points
            .map(|e| ulps(ln_1p_unit_with::<A>(e), f64::from(e).ln_1p(), 0.0))
            .fold(0.0, f64::max);
        assert!(worst < 2.0, "worst {worst} ulps");
        assert_eq!(ln_1p_unit_with::<A>(0.0), 0.0);
    }

    #[test]
    fn tanh_is_within_four_ulps_and_odd() {
        tanh_is_within_four_ulps_and_odd_with::<Separate>();
        tanh_is_within_four_ulps_and_odd_with::<Fused>();
    }

    fn tanh_is_within_four_ulps_and_odd_with<A: MulAdd>() {
        let worst = grid(-12.0, 12.0, 240_001)
            .chain((0..200).map(|i| 10f32.powf(-20.0 + 0.1 * i as f32)))
            .map(|x| ulps(tanh_with::<A>(x), f64::from(x).tanh(), 1e-30))
            .fold(0.0, f64::max);
        assert!(worst < 4.0, "worst {worst} ulps");
        assert_eq!(tanh_with::<A>(0.0), 0.0);
        assert_eq!(tanh_with::<A>(-0.3), -tanh_with::<A>(0.3));
        assert_eq!(tanh_with::<A>(f32::INFINITY), 1.0);
        assert!(tanh_with::<A>(f32::NAN).is_nan());
    }

    #[test]
    fn sigmoid_is_within_four_ulps() {
        sigmoid_is_within_four_ulps_with::<Separate>();
        sigmoid_is_within_four_ulps_with::<Fused>();
    }

    fn sigmoid_is_within_four_ulps_with<A: MulAdd>() {
        let worst = grid(-80.0, 80.0, 160_001)
            .map(|x| {
                ulps(
                    sigmoid_with::<A>(x),
                    1.0 / (1.0 + (-f64::from(x)).exp()),
                    0.0,
                )
            })
            .fold(0.0, f64::max);
        assert!(worst < 4.0, "worst {worst} ulps");
        assert_eq!(sigmoid_with::<A>(200.0), 1.0);
        assert!(sigmoid_with::<A>(-200.0) < 1e-37);
    }

    #[test]
    fn bernoulli_terms_match_the_f64_formulas() {
        bernoulli_terms_match_the_f64_formulas_with::<Separate>();
        bernoulli_terms_match_the_f64_formulas_with::<Fused>();
    }

    fn bernoulli_terms_match_the_f64_formulas_with<A: MulAdd>() {
        for eta in grid(-60.0, 60.0, 24_001) {
            for x in [0.0f32, 1.0] {
                let (lp, d) = bernoulli_log_prob_with::<A>(eta, x);
                let (eta64, x64) = (f64::from(eta), f64::from(x));
                let softplus = eta64.max(0.0) + (-eta64.abs()).exp().ln_1p();
                let want_lp = x64 * eta64 - softplus;
                let want_d = x64 - 1.0 / (1.0 + (-eta64).exp());
                // Absolute error relative to the size of the terms that were combined.
                let scale = eta64.abs().max(softplus).max(1e-30);
                assert!(
                    (f64::from(lp) - want_lp).abs() <= 4.0 * f64::from(f32::EPSILON) * scale,
                    "log p at eta {eta}, x {x}: {lp} vs {want_lp}"
                );
                assert!(
                    (f64::from(d) - want_d).abs() <= 4.0 * f64::from(f32::EPSILON),
                    "derivative at eta {eta}, x {x}: {d} vs {want_d}"
                );
            }
        }
        assert!(bernoulli_log_prob_with::<A>(f32::NAN, 1.0).0.is_nan());
    }
}

//! The Bernoulli family: products of independent Bernoulli variables parameterised by logits.

use super::{NoArguments, OutputFamily};
use dfdx::prelude::*;
use rand::{Rng, RngCore};

/// `x_j ~ Bernoulli(σ(η_j))`, one logit η_j per coordinate, support `{0, 1}`.
///
/// # Formula
/// `log Φ(x_j | η_j) = x_j η_j - log(1 + e^{η_j})`, computed stably as the negated binary
/// cross-entropy with logits. Bounded above by 0, so maximum likelihood is well posed.
///
/// ```
/// use dlvm_runtime::family::{Bernoulli, OutputFamily};
/// let mut mean = [0.0f32; 2];
/// Bernoulli.mean_row(&[0.0, 100.0], &mut mean);
/// assert_eq!(mean, [0.5, 1.0]);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Bernoulli;

impl OutputFamily for Bernoulli {
    const NAME: &'static str = "Bernoulli";
    const PARAMS_PER_COORD: usize = 1;
    const DISCRETE: bool = true;
    const POINT_MASSES: bool = true;
    type Builder = NoArguments<Bernoulli>;

    fn log_prob<D: Device<f32>, T: Tape<f32, D>>(
        &self,
        raw: Tensor<(usize, usize), f32, D, T>,
        x: Tensor<(usize, usize), f32, D>,
    ) -> Tensor<(usize, usize), f32, D, T> {
        crate::kernels::bernoulli_log_prob(raw, x)
    }

    fn log_prob_rows<D: Device<f32>, T: Tape<f32, D>>(
        &self,
        raw: Tensor<(usize, usize), f32, D, T>,
        x: Tensor<(usize, usize), f32, D>,
    ) -> Tensor<(usize,), f32, D, T> {
        crate::kernels::bernoulli_log_prob_rows(raw, x)
    }

    /// One fused, vectorised pass over the host values (no device tensors, no copies).
    fn log_prob_rows_host(&self, raw: &[f32], x: &[f32], p: usize, out: &mut [f32]) {
        crate::kernels::bernoulli_rows_host(raw, x, p, out);
    }

    /// The same pass, also writing the gradient `x - σ(η)`.
    fn log_prob_rows_with_gradient_host(
        &self,
        raw: &[f32],
        x: &[f32],
        p: usize,
        out: &mut [f32],
        grad: &mut [f32],
    ) {
        crate::kernels::bernoulli_rows_with_gradient_host(raw, x, p, out, grad);
    }

    /// `x_j = 1` when `u_j < σ(η_j)`, `u_j` uniform on `[0, 1)` with 24 random bits (as
    /// `rand`'s `f32` uniform), the words drawn 64 at a time.
    fn sample_row(&self, raw: &[f32], rng: &mut dyn RngCore, out: &mut [f32]) {
        crate::kernels::sigmoid(raw, out);
        draw_bits_in_place(out, rng);
    }

    /// [`sample_row`](Self::sample_row)'s draw at the chosen coordinates only: their logits
    /// gathered into `scratch`, one vectorised sigmoid, one random word per coordinate.
    fn sample_coordinates(
        &self,
        raw: &[f32],
        coordinates: &[u32],
        rng: &mut dyn RngCore,
        x: &mut [f32],
        scratch: &mut Vec<f32>,
    ) {
        scratch.clear();
        scratch.extend(coordinates.iter().map(|&j| raw[j as usize]));
        crate::kernels::sigmoid_in_place(scratch);
        draw_bits_in_place(scratch, rng);
        for (&j, &bit) in coordinates.iter().zip(scratch.iter()) {
            x[j as usize] = bit;
        }
    }

    fn mean_row(&self, raw: &[f32], out: &mut [f32]) {
        crate::kernels::sigmoid(raw, out);
    }

    fn in_support(&self, x: f32) -> bool {
        x == 0.0 || x == 1.0
    }

    fn support_description(&self) -> &'static str {
        "{0, 1}"
    }

    fn log_density_bound(&self) -> Option<f64> {
        Some(0.0)
    }
}

/// `b_k = 1` when `u_k < b_k` (a probability on entry), else 0, with `u_k` uniform on `[0, 1)`
/// from 24 random bits (as `rand`'s `f32` uniform), the words drawn 64 at a time.
fn draw_bits_in_place(probabilities: &mut [f32], rng: &mut dyn RngCore) {
    let mut words = [0u32; 64];
    for chunk in probabilities.chunks_mut(64) {
        let words = &mut words[..chunk.len()];
        rng.fill(words);
        for (b, &w) in chunk.iter_mut().zip(words.iter()) {
            let u = (w >> 8) as f32 * (1.0 / 16_777_216.0);
            *b = if u < *b { 1.0 } else { 0.0 };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_prob_is_x_eta_minus_softplus() {
        let dev = Cpu::default();
        let logits = [-3.0f32, 0.0, 2.5, 40.0];
        let xs = [0.0f32, 1.0, 1.0, 0.0];
        let raw = dev.tensor_from_vec(logits.to_vec(), (1, 4));
        let x = dev.tensor_from_vec(xs.to_vec(), (1, 4));
        let got = Bernoulli.log_prob(raw, x).as_vec();
        for ((g, eta), x) in got.iter().zip(logits).zip(xs) {
            let (eta, x) = (f64::from(eta), f64::from(x));
            let want = x * eta - (1.0 + eta.exp()).ln();
            assert!((f64::from(*g) - want).abs() < 1e-5, "{g} vs {want}");
        }
    }

    #[test]
    fn sample_frequencies_match_the_mean() {
        use rand::SeedableRng;
        let mut rng = rand::rngs::StdRng::seed_from_u64(0);
        let raw = [0.8f32];
        let n = 20_000;
        let mut ones = 0.0;
        let mut out = [0.0f32];
        for _ in 0..n {
            Bernoulli.sample_row(&raw, &mut rng, &mut out);
            ones += out[0];
        }
        let p = crate::kernels::fast_math::sigmoid(0.8);
        let se = (p * (1.0 - p) / n as f32).sqrt();
        assert!((ones / n as f32 - p).abs() < 4.0 * se);
    }

    #[test]
    fn support_is_zero_and_one() {
        assert!(Bernoulli.in_support(0.0) && Bernoulli.in_support(1.0));
        assert!(!Bernoulli.in_support(0.5) && !Bernoulli.in_support(f32::NAN));
    }
}

//! The latent side: the N(0, I) prior and the diagonal-Gaussian amortised posterior q(z | x).

use dfdx::prelude::*;

const LN_2PI: f32 = 1.837_877_1;

/// A diagonal-Gaussian posterior `q(z | x) = N(m(x), diag(exp(v(x))))` for a batch.
///
/// `mean` and `log_variance` have shape `(batch, d)`; both carry the encoder's tape `T`.
#[derive(Debug, Clone)]
pub struct Posterior<Z: Dim, D: Device<f32>, T> {
    /// `m(x)`.
    pub mean: Tensor<(usize, Z), f32, D, T>,
    /// `v(x) = log s²(x)`.
    pub log_variance: Tensor<(usize, Z), f32, D, T>,
}

impl<Z: Dim, D: Device<f32>, T: Tape<f32, D>> Posterior<Z, D, T> {
    /// Reparameterised draw `z = m + exp(v / 2) ⊙ ε` for standard-normal noise `eps`.
    ///
    /// Consumes the posterior so that the encoder's recorded operations flow into `z` (other
    /// methods record on fresh tapes that are merged back when combined with `z`).
    ///
    /// # Formula
    /// `z = m + s ⊙ ε`, `ε ~ N(0, I)`: differentiable in `m` and `v`.
    pub fn reparameterise(self, eps: Tensor<(usize, Z), f32, D>) -> Tensor<(usize, Z), f32, D, T> {
        let sd = (self.log_variance * 0.5).exp();
        self.mean + sd * eps
    }

    /// `KL(q(z|x) || N(0, I))` per point, shape `(batch,)`.
    ///
    /// # Formula
    /// `KL = ½ Σ_j (m_j² + s_j² - log s_j² - 1)`
    pub fn kl_to_standard_normal(&self) -> Tensor<(usize,), f32, D, T> {
        let v = self.log_variance.with_empty_tape();
        let terms = (self.mean.with_empty_tape().square() + v.with_empty_tape().exp()) - v - 1.0;
        terms.sum::<(usize,), Axis<1>>() * 0.5
    }

    /// `log q(z | x)` per point, shape `(batch,)`.
    ///
    /// # Formula
    /// `log q(z|x) = -½ Σ_j (log 2π + v_j + (z_j - m_j)² e^{-v_j})`
    pub fn log_density<TZ: Tape<f32, D>>(
        &self,
        z: Tensor<(usize, Z), f32, D, TZ>,
    ) -> Tensor<(usize,), f32, D, T>
    where
        T: Merge<TZ>,
    {
        let v = self.log_variance.with_empty_tape();
        let sq = (self.mean.with_empty_tape() - z).square() * v.with_empty_tape().negate().exp();
        ((sq + v) + LN_2PI).sum::<(usize,), Axis<1>>() * -0.5
    }
}

/// `log N(z | 0, I)` per point, shape `(batch,)`.
///
/// # Formula
/// `log p(z) = -½ Σ_j (log 2π + z_j²)`
pub fn standard_normal_log_density<Z: Dim, D: Device<f32>, T: Tape<f32, D>>(
    z: Tensor<(usize, Z), f32, D, T>,
) -> Tensor<(usize,), f32, D, T> {
    (z.square() + LN_2PI).sum::<(usize,), Axis<1>>() * -0.5
}

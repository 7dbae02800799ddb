//! The encoder's Gaussian posterior `q(z | x) = N(m, diag e^v)` on host values: draws, its
//! log-density and the prior's, per chain.

use rand::rngs::StdRng;
use rand::Rng;
use rand_chacha::ChaCha12Rng;
use rand_distr::StandardNormal;

const LN_2PI: f64 = 1.837_877_066_409_345_5;

/// The encoder's output for every chain: means and log-variances, row-major `(n, d)`.
pub(crate) struct HostPosterior {
    pub mean: Vec<f32>,
    pub log_variance: Vec<f32>,
}

impl HostPosterior {
    /// `z = m + exp(v / 2) ⊙ ε`, `ε ~ N(0, I)` from `rng`, chain after chain.
    pub fn sample(&self, rng: &mut StdRng) -> Vec<f32> {
        self.mean
            .iter()
            .zip(&self.log_variance)
            .map(|(&m, &v)| m + (0.5 * v).exp() * rng.sample::<f32, _>(StandardNormal))
            .collect()
    }
}

/// `z = m + exp(v / 2) ⊙ ε` into `z` (replacing its contents), row `r`'s noise from `rngs[r]`.
pub(crate) fn sample_rows(
    mean: &[f32],
    log_variance: &[f32],
    rngs: &mut [ChaCha12Rng],
    d: usize,
    z: &mut Vec<f32>,
) {
    z.clear();
    let rows = mean.chunks(d).zip(log_variance.chunks(d));
    for ((mean, log_variance), rng) in rows.zip(rngs.iter_mut()) {
        for (&m, &v) in mean.iter().zip(log_variance) {
            z.push(m + (0.5 * v).exp() * rng.sample::<f32, _>(StandardNormal));
        }
    }
}

/// `log q(z | x)` per row of `z`, in f64, for the posterior rows `mean` and `log_variance`.
///
/// # Formula
/// `log q(z|x) = -½ Σ_j (log 2π + v_j + (z_j - m_j)² e^{-v_j})`
pub(crate) fn log_density(z: &[f32], mean: &[f32], log_variance: &[f32], d: usize) -> Vec<f64> {
    let terms = z.iter().zip(mean).zip(log_variance).map(|((&z, &m), &v)| {
        let (z, m, v) = (f64::from(z), f64::from(m), f64::from(v));
        -0.5 * (LN_2PI + v + (z - m).powi(2) * (-v).exp())
    });
    row_sums(terms, d)
}

/// `log N(z | 0, I)` per row of `z`, in f64.
///
/// # Formula
/// `log p(z) = -½ Σ_j (log 2π + z_j²)`
pub(crate) fn log_prior(z: &[f32], d: usize) -> Vec<f64> {
    row_sums(z.iter().map(|&z| -0.5 * (LN_2PI + f64::from(z).powi(2))), d)
}

fn row_sums(terms: impl Iterator<Item = f64>, width: usize) -> Vec<f64> {
    let terms: Vec<f64> = terms.collect();
    terms.chunks(width).map(|r| r.iter().sum()).collect()
}

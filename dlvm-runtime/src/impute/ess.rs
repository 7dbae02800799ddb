//! The effective sample size of a chain's retained values (Geyer's initial positive sequence).

/// The effective sample size of the sequence `values` (one chain's retained draws of a scalar):
/// `n / τ` with `τ` the integrated autocorrelation time, estimated by Geyer's (1992) initial
/// positive sequence; between 1 and `n`. A constant sequence (a chain that never moved) has
/// effective sample size 1.
///
/// # Formula
/// `ρ_k = Σ_t (y_t - ȳ)(y_{t+k} - ȳ) / Σ_t (y_t - ȳ)²`, `Γ_m = ρ_{2m} + ρ_{2m+1}` summed while
/// positive, `τ = -1 + 2 Σ_m Γ_m`, `ESS = clamp(n / τ, 1, n)`.
pub fn effective_sample_size(values: &[f64]) -> f64 {
    let n = values.len();
    if n < 2 {
        return n as f64;
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    let centred: Vec<f64> = values.iter().map(|v| v - mean).collect();
    let autocovariance = |k: usize| -> f64 {
        centred[..n - k]
            .iter()
            .zip(&centred[k..])
            .map(|(a, b)| a * b)
            .sum::<f64>()
    };
    let variance = autocovariance(0);
    // Also catches a NaN variance (a non-finite value in the sequence).
    if variance.is_nan() || variance <= 0.0 || variance.is_infinite() {
        return 1.0;
    }
    let mut tau = -1.0;
    let mut m = 0;
    while 2 * m + 1 < n {
        let gamma = (autocovariance(2 * m) + autocovariance(2 * m + 1)) / variance;
        if gamma <= 0.0 {
            break;
        }
        tau += 2.0 * gamma;
        m += 1;
    }
    (n as f64 / tau.max(f64::MIN_POSITIVE)).clamp(1.0, n as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, SeedableRng};
    use rand_distr::{Distribution, StandardNormal};

    /// An AR(1) sequence `y_t = φ y_{t-1} + ε_t` started at stationarity.
    fn ar1(phi: f64, n: usize, seed: u64) -> Vec<f64> {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut y: f64 = StandardNormal.sample(&mut rng);
        y /= (1.0 - phi * phi).sqrt();
        (0..n)
            .map(|_| {
                let e: f64 = StandardNormal.sample(&mut rng);
                y = phi * y + e;
                y
            })
            .collect()
    }

    #[test]
    fn the_effective_sample_size_of_an_ar1_sequence_is_n_over_its_autocorrelation_time() {
        // τ = (1 + φ) / (1 - φ): 19 for φ = 0.9, 1 for φ = 0. The IPS estimate from 20 000
        // values has a relative error of a few percent (Geyer 1992); allow 20 %.
        let n = 20_000;
        for (phi, tau) in [(0.9, 19.0), (0.0, 1.0)] {
            let ess = effective_sample_size(&ar1(phi, n, 3));
            let want = n as f64 / tau;
            assert!((ess - want).abs() < 0.2 * want, "φ {phi}: {ess} vs {want}");
        }
        assert_eq!(effective_sample_size(&[2.0; 50]), 1.0);
        assert_eq!(effective_sample_size(&[1.0]), 1.0);
    }
}

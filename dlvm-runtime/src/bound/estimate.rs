//! A Monte Carlo estimate with its standard error.

/// The mean of per-point values and its standard error.
///
/// # Formula
/// `mean = (1/n) Σ v_i`, `std_err = sd(v) / √n` with the unbiased sample deviation.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Estimate {
    /// The average over points (nats per point for log-likelihood bounds).
    pub mean: f64,
    /// Its standard error over points.
    pub std_err: f64,
    /// The number of points.
    pub n: usize,
}

impl Estimate {
    /// Summarises per-point values.
    pub fn from_values(values: &[f64]) -> Self {
        let n = values.len();
        let mean = values.iter().sum::<f64>() / n.max(1) as f64;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n.max(2) - 1) as f64;
        Self {
            mean,
            std_err: (var / n.max(1) as f64).sqrt(),
            n,
        }
    }
}

impl std::fmt::Display for Estimate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.2} ± {:.2}", self.mean, self.std_err)
    }
}

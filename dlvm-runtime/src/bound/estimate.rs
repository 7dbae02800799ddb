//! A Monte Carlo estimate averaged over data points, with its named uncertainties.

use crate::data::Dataset;
use crate::error::{DlvmError, Result, NON_FINITE_ESTIMATE_FIX};

/// The mean of per-point values, the standard error of that mean over points, the spread of the
/// points, and (when known) the Monte Carlo error alone.
///
/// # Formula
/// `mean = (1/n) Σ v_i`; `spread = sd(v)` with the unbiased sample deviation; `std_err =
/// spread / √n`, the standard error of `mean` as an estimate of the average over the population
/// of points (it contains both the variation of the points and the Monte Carlo noise);
/// `mc_std_err = √(Σ_i Var_MC(v_i)) / n`, the part due to the random draws alone, the points held
/// fixed. With one point there is no spread and no standard error over points: both are `None`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Estimate {
    /// The average over points (nats per point for log-likelihood bounds).
    pub mean: f64,
    /// The standard error of `mean` over points, `spread / √n`; `None` for fewer than 2 points.
    pub std_err: Option<f64>,
    /// The standard deviation of the per-point values; `None` for fewer than 2 points.
    pub spread: Option<f64>,
    /// The Monte Carlo standard error of `mean` with the points fixed, when the estimator
    /// provides one (IWAE with `K >= 2`); `None` otherwise.
    pub mc_std_err: Option<f64>,
    /// The number of points.
    pub n: usize,
}

impl Estimate {
    /// Summarises per-point values (no Monte Carlo error).
    pub fn from_values(values: &[f64]) -> Self {
        let n = values.len();
        let mean = values.iter().sum::<f64>() / n.max(1) as f64;
        let spread = (n >= 2).then(|| {
            let ss = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>();
            (ss / (n - 1) as f64).sqrt()
        });
        Self {
            mean,
            std_err: spread.map(|s| s / (n as f64).sqrt()),
            spread,
            mc_std_err: None,
            n,
        }
    }

    /// [`from_values`](Self::from_values) plus the Monte Carlo variances of the values.
    ///
    /// # Formula
    /// `mc_std_err = √(Σ_i mc_variance_i) / n` (the points' draws are independent).
    pub fn with_mc_variances(values: &[f64], mc_variances: &[f64]) -> Self {
        let n = values.len().max(1) as f64;
        let total: f64 = mc_variances.iter().sum();
        Self {
            mc_std_err: total.is_finite().then(|| total.sqrt() / n),
            ..Self::from_values(values)
        }
    }
}

/// Checks that every per-point value of `quantity` on `data` is finite.
///
/// # Errors
/// [`DlvmError::NonFiniteEstimate`] for the first row whose value is NaN or infinite, naming the
/// quantity, the row, its largest magnitude and the likely fix.
pub(crate) fn check_finite_values(quantity: &str, data: &Dataset, values: &[f64]) -> Result<()> {
    let Some(row) = values.iter().position(|v| !v.is_finite()) else {
        return Ok(());
    };
    let largest = data
        .row(row)
        .iter()
        .fold(0.0f64, |m, &v| m.max(f64::from(v).abs()));
    Err(DlvmError::NonFiniteEstimate {
        quantity: quantity.to_string(),
        data: data.name().to_string(),
        row,
        value: values[row],
        largest,
        fix: NON_FINITE_ESTIMATE_FIX,
    })
}

impl std::fmt::Display for Estimate {
    /// `-85.12 ± 0.26 (s.e. over 1000 points, sd 8.31; Monte Carlo s.e. 0.011)`; one point:
    /// `-85.12 (1 point: no standard error over points; ...)`. A non-finite mean (only from a
    /// hand-built value: the estimators return an error instead) prints as "not a number".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.mean.is_finite() {
            return write!(f, "not a finite number (no estimate)");
        }
        let finite = |v: Option<f64>| v.filter(|v| v.is_finite());
        match (finite(self.std_err), finite(self.spread)) {
            (Some(se), Some(sd)) => write!(
                f,
                "{:.2} ± {se:.2} (s.e. over {} points, sd {sd:.2}",
                self.mean, self.n
            )?,
            _ => write!(
                f,
                "{:.2} ({} point{}: no standard error over points",
                self.mean,
                self.n,
                if self.n == 1 { "" } else { "s" }
            )?,
        }
        match finite(self.mc_std_err) {
            Some(mc) => write!(f, "; Monte Carlo s.e. {mc:.3})"),
            None => write!(f, ")"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_point_has_no_standard_error_and_prints_so() {
        let one = Estimate::from_values(&[-3.5]);
        assert_eq!((one.std_err, one.spread), (None, None));
        let text = one.to_string();
        assert!(
            text.contains("no standard error") && !text.contains('±'),
            "{text}"
        );
        let two = Estimate::with_mc_variances(&[-1.0, -3.0], &[0.04, 0.05]);
        assert_eq!(two.spread, Some(2.0f64.sqrt()));
        assert_eq!(two.std_err, Some(1.0));
        assert!((two.mc_std_err.unwrap() - 0.15).abs() < 1e-12);
        let text = two.to_string();
        assert!(
            text.contains("± 1.00") && text.contains("Monte Carlo s.e. 0.150"),
            "{text}"
        );
    }

    #[test]
    fn a_non_finite_mean_is_never_printed_as_a_number() {
        let bad = Estimate::from_values(&[f64::NEG_INFINITY, 1.0]);
        let text = bad.to_string();
        assert!(!text.contains("inf") && !text.contains("NaN"), "{text}");
    }
}

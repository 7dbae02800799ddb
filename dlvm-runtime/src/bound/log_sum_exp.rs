//! A streaming, overflow-free log-sum-exp in `f64`.

/// Accumulates `log Σ_k exp(a_k)` one term at a time without overflow.
///
/// # Formula
/// With running maximum `m` and `s = Σ_k exp(a_k - m)`: `log Σ exp(a_k) = m + log s`; a new
/// maximum `m'` rescales `s ← s exp(m - m') + 1`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogSumExp {
    max: f64,
    scaled_sum: f64,
    count: usize,
}

impl Default for LogSumExp {
    fn default() -> Self {
        Self {
            max: f64::NEG_INFINITY,
            scaled_sum: 0.0,
            count: 0,
        }
    }
}

impl LogSumExp {
    /// Adds one term `a` (may be `-inf`; NaN makes the result NaN).
    pub fn push(&mut self, a: f64) {
        self.count += 1;
        if a.is_nan() {
            self.max = f64::NAN;
        } else if a > self.max {
            self.scaled_sum = self.scaled_sum * (self.max - a).exp() + 1.0;
            self.max = a;
        } else if a > f64::NEG_INFINITY {
            self.scaled_sum += (a - self.max).exp();
        }
    }

    /// `log Σ_k exp(a_k)` (`-inf` when empty).
    pub fn value(&self) -> f64 {
        if self.scaled_sum == 0.0 {
            return if self.max.is_nan() {
                f64::NAN
            } else {
                f64::NEG_INFINITY
            };
        }
        self.max + self.scaled_sum.ln()
    }

    /// `log (1/K) Σ_k exp(a_k)` for the `K` terms pushed.
    pub fn mean_log(&self) -> f64 {
        self.value() - (self.count.max(1) as f64).ln()
    }

    /// The number of terms pushed.
    pub fn count(&self) -> usize {
        self.count
    }
}

/// `log Σ_k exp(a_k)` of a slice.
///
/// # Formula
/// `m + log Σ_k exp(a_k - m)`, `m = max_k a_k`.
pub fn log_sum_exp(values: &[f64]) -> f64 {
    let mut acc = LogSumExp::default();
    values.iter().for_each(|&v| acc.push(v));
    acc.value()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streaming_matches_the_direct_formula_and_survives_large_values() {
        let values = [1000.0, 999.0, -5.0, 1001.5];
        let m = 1001.5;
        let direct = m + values.iter().map(|v: &f64| (v - m).exp()).sum::<f64>().ln();
        assert!((log_sum_exp(&values) - direct).abs() < 1e-12);
        let mut acc = LogSumExp::default();
        values.iter().for_each(|&v| acc.push(v));
        assert!((acc.mean_log() - (direct - 4f64.ln())).abs() < 1e-12);
        assert_eq!(log_sum_exp(&[]), f64::NEG_INFINITY);
        assert_eq!(log_sum_exp(&[f64::NEG_INFINITY, 0.0]), 0.0);
    }
}

//! The empirical distribution: the nonparametric maximum likelihood of a discrete family.

use super::{BoundMethod, NonparametricBound};
use crate::data::Dataset;
use std::collections::BTreeMap;

/// `max_G l(G)` for a discrete family, computed exactly.
///
/// For a probability mass function every `Φ(x | η) <= 1`, and the family can put all its mass on
/// any single point, so the mixture over `G` can realise any distribution on the observed rows;
/// the maximum is the empirical distribution.
///
/// # Formula
/// `max_G l(G) = Σ_i log(count(x_i) / n)`, about `-n log n` when all rows are distinct.
///
/// What it says: no model of this family, however large, reaches a higher training likelihood.
/// What it does not say: anything about generalisation; it is far above any sensible model
/// (it memorises the data), so a large gap to it is expected, not a defect.
pub fn empirical_bound(data: &Dataset) -> NonparametricBound {
    let n = data.rows();
    // Ordered, so the sum (and the result) is the same on every run.
    let mut counts: BTreeMap<Vec<u32>, usize> = BTreeMap::new();
    for i in 0..n {
        let key: Vec<u32> = data.row(i).iter().map(|v| v.to_bits()).collect();
        *counts.entry(key).or_default() += 1;
    }
    let ln_n = (n as f64).ln();
    let total: f64 = counts
        .values()
        .map(|&c| c as f64 * ((c as f64).ln() - ln_n))
        .sum();
    NonparametricBound {
        achieved: total,
        total,
        n,
        method: BoundMethod::Empirical {
            distinct: counts.len(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_repeated_rows() {
        // Rows a, a, b: 2 log(2/3) + log(1/3).
        let data = Dataset::from_vec("t", 3, 2, vec![0.0, 1.0, 0.0, 1.0, 1.0, 1.0]).unwrap();
        let got = empirical_bound(&data);
        let want = 2.0 * (2.0f64 / 3.0).ln() + (1.0f64 / 3.0).ln();
        assert!((got.total - want).abs() < 1e-12);
        assert_eq!(got.method, BoundMethod::Empirical { distinct: 2 });
    }
}

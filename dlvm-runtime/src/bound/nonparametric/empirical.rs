//! The empirical distribution: the nonparametric maximum likelihood of a discrete family.

use super::{BoundMethod, NonparametricBound};
use crate::data::Dataset;
use crate::error::{DlvmError, Result};
use crate::family::OutputFamily;
use std::collections::BTreeMap;

/// `max_G l(G)` for a discrete family: exact when the family can concentrate on a point, an
/// upper bound otherwise.
///
/// For a probability mass function every `p_G` is a distribution on the data's values, and no
/// distribution gives the rows a higher likelihood than the empirical one (Gibbs' inequality),
/// so `Σ_i log(count(x_i) / n)` bounds `l(G)` for every `G`. When the family can put all its
/// mass on any single point ([`OutputFamily::POINT_MASSES`]: Bernoulli, Categorical), a mixture
/// of such point masses realises the empirical distribution, so the bound is attained and
/// `achieved` equals it; otherwise (Poisson: one point `x = 1` has `max l = -1`, not 0) it is
/// only an upper bound and `achieved` is `None`.
///
/// Rows are compared by value: `0.0` and `-0.0` are the same value.
///
/// # Formula
/// `max_G l(G) <= Σ_i log(count(x_i) / n)`, about `-n log n` when all rows are distinct.
///
/// What it says: no model of this family, however large, reaches a higher training likelihood.
/// What it does not say: anything about generalisation; it is far above any sensible model
/// (it memorises the data), so a large gap to it is expected, not a defect.
///
/// # Errors
/// [`DlvmError::NoNonparametricBound`] for a continuous family (densities can exceed 1); a data
/// error when `data` has a non-finite value or one outside the family's support.
pub fn empirical_bound<F: OutputFamily>(family: &F, data: &Dataset) -> Result<NonparametricBound> {
    if !F::DISCRETE {
        return Err(DlvmError::NoNonparametricBound {
            family: F::NAME,
            reason: "the empirical distribution bounds only discrete families (probability \
                     mass functions); a density can exceed 1"
                .into(),
        });
    }
    data.check_support(F::NAME, family.support_description(), |x| {
        family.in_support(x)
    })?;
    let n = data.rows();
    // Ordered, so the sum (and the result) is the same on every run.
    let mut counts: BTreeMap<Vec<u32>, usize> = BTreeMap::new();
    for i in 0..n {
        let key: Vec<u32> = data.row(i).iter().map(|&v| value_key(v)).collect();
        *counts.entry(key).or_default() += 1;
    }
    let ln_n = (n as f64).ln();
    let total: f64 = counts
        .values()
        .map(|&c| c as f64 * ((c as f64).ln() - ln_n))
        .sum();
    Ok(NonparametricBound {
        achieved: F::POINT_MASSES.then_some(total),
        total,
        n,
        method: BoundMethod::Empirical {
            distinct: counts.len(),
            exact: F::POINT_MASSES,
        },
    })
}

/// The bits of `v` with `-0.0` mapped to `0.0`, so that equal values share a key.
fn value_key(v: f32) -> u32 {
    if v == 0.0 {
        0
    } else {
        v.to_bits()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::family::{Bernoulli, Poisson};

    #[test]
    fn counts_repeated_rows() {
        // Rows a, a, b: 2 log(2/3) + log(1/3).
        let data = Dataset::from_vec("t", 3, 2, vec![0.0, 1.0, 0.0, 1.0, 1.0, 1.0]).unwrap();
        let got = empirical_bound(&Bernoulli, &data).unwrap();
        let want = 2.0 * (2.0f64 / 3.0).ln() + (1.0f64 / 3.0).ln();
        assert!((got.total - want).abs() < 1e-12);
        assert_eq!(got.achieved, Some(got.total));
        assert_eq!(
            got.method,
            BoundMethod::Empirical {
                distinct: 2,
                exact: true
            }
        );
    }

    #[test]
    fn zero_and_negative_zero_are_one_value() {
        let data = Dataset::from_vec("t", 2, 1, vec![0.0, -0.0]).unwrap();
        let got = empirical_bound(&Bernoulli, &data).unwrap();
        assert_eq!(got.total, 0.0, "{got}");
    }

    #[test]
    fn a_poisson_bound_is_not_claimed_exact_or_achieved() {
        // One point x = 1: max_λ log Pois(1 | λ) = -1 < 0 = the empirical bound.
        let data = Dataset::from_vec("t", 1, 1, vec![1.0]).unwrap();
        let got = empirical_bound(&Poisson, &data).unwrap();
        assert_eq!((got.total, got.achieved), (0.0, None));
        let text = got.to_string();
        assert!(
            !text.contains("exact;") && text.contains("upper bound"),
            "{text}"
        );
    }

    #[test]
    fn a_continuous_family_has_no_empirical_bound() {
        let data = Dataset::from_vec("t", 1, 1, vec![0.5]).unwrap();
        let err = empirical_bound(&crate::family::ContinuousBernoulli, &data).unwrap_err();
        assert!(
            matches!(err, DlvmError::NoNonparametricBound { .. })
                && err.to_string().contains("only discrete families"),
            "{err}"
        );
    }
}

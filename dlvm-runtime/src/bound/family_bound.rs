//! Closed-form upper bounds on the log-likelihood that hold for every decoder of a family.

use crate::family::OutputFamily;
use crate::model::Dlvm;
use dfdx::prelude::Device;

/// An upper bound on `l(θ) = Σ_i log p_θ(x_i)` valid for every parameter value θ.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub enum FamilyBound {
    /// `l(θ) <= total` for all θ; `per_point = total / n`.
    Finite {
        /// The bound on `Σ_i log p(x_i)`, nats.
        total: f64,
        /// The bound per point, nats.
        per_point: f64,
    },
    /// No finite bound exists: the likelihood is unbounded above (a Gaussian without a variance
    /// floor, [`OutputFamily::gaussian_variance_floor`] with `xi = 0`).
    Unbounded,
    /// The family declares no closed-form bound ([`OutputFamily::log_density_bound`] is `None`):
    /// the likelihood may well be bounded (Continuous Bernoulli on data inside `(0, 1)` is), but
    /// no number is available here.
    NoClosedForm {
        /// The family's name.
        family: &'static str,
    },
}

impl FamilyBound {
    /// The bound per point, `+inf` when there is no finite closed-form bound (a placeholder for
    /// comparisons with `min`, never printed: see [`Display`](std::fmt::Display)).
    pub fn per_point(&self) -> f64 {
        match self {
            Self::Finite { per_point, .. } => *per_point,
            Self::Unbounded | Self::NoClosedForm { .. } => f64::INFINITY,
        }
    }

    /// Whether a finite bound exists.
    pub fn is_finite(&self) -> bool {
        matches!(self, Self::Finite { .. })
    }
}

impl std::fmt::Display for FamilyBound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Finite { total, per_point } => {
                write!(f, "{per_point:.2} nats per point ({total:.1} in total)")
            }
            Self::Unbounded => write!(
                f,
                "none: the likelihood is unbounded above (+inf), so maximum likelihood is \
                 ill-posed (Mattei & Frellsen 2018); add a variance floor `xi`"
            ),
            Self::NoClosedForm { family } => write!(
                f,
                "none in closed form: the {family} family declares no bound on its density \
                 (`OutputFamily::log_density_bound`); the likelihood may still be bounded on \
                 these data"
            ),
        }
    }
}

/// The closed-form bound for `n` points of `p` coordinates under `family`.
///
/// # Formula
/// Discrete families: `log Φ <= 0`, so `l <= 0`. Otherwise, with a per-coordinate density bound
/// `b` ([`OutputFamily::log_density_bound`]), `l <= n p b`; for the Gaussian with floor ξ,
/// `b = -½ log(2π ξ)` and `l <= -(n p / 2) log(2π ξ)`. Without a density bound: for a Gaussian
/// without a floor [`FamilyBound::Unbounded`] (a spike on a data point has density `→ ∞`), for
/// any other family [`FamilyBound::NoClosedForm`] (unknown, not infinite).
pub fn family_bound<F: OutputFamily>(family: &F, n: usize, p: usize) -> FamilyBound {
    let per_coordinate = if F::DISCRETE {
        Some(family.log_density_bound().unwrap_or(0.0).min(0.0))
    } else {
        family.log_density_bound()
    };
    match per_coordinate {
        Some(b) => FamilyBound::Finite {
            total: b * (n * p) as f64,
            per_point: b * p as f64,
        },
        None if family
            .gaussian_variance_floor()
            .is_some_and(|g| g.xi <= 0.0) =>
        {
            FamilyBound::Unbounded
        }
        None => FamilyBound::NoClosedForm { family: F::NAME },
    }
}

/// [`family_bound`] for `n` points of `model`'s family and observed dimension.
///
/// # Formula
/// As [`family_bound`] with `p = M::observed_dim()`.
pub fn model_family_bound<M: Dlvm<D>, D: Device<f32>>(model: &M, n: usize) -> FamilyBound {
    family_bound(model.family(), n, M::observed_dim())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::family::{Bernoulli, ContinuousBernoulli, Diagonal, Gaussian};

    #[test]
    fn bernoulli_is_bounded_by_zero_and_the_floor_gives_the_gaussian_constant() {
        assert_eq!(family_bound(&Bernoulli, 10, 784).per_point(), 0.0);
        let xi = 0.01f32;
        let bound = family_bound(&Gaussian::<Diagonal>::with_floor(xi).unwrap(), 5, 560);
        let want = -(5.0 * 560.0 / 2.0) * (2.0 * std::f64::consts::PI * f64::from(xi)).ln();
        match bound {
            FamilyBound::Finite { total, .. } => assert!((total - want).abs() < 1e-6 * want),
            other => panic!("a floored Gaussian is bounded, got {other}"),
        }
        let free = family_bound(&Gaussian::<Diagonal>::unconstrained(), 5, 560);
        assert_eq!(free, FamilyBound::Unbounded);
        assert!(free.to_string().contains("unbounded"));
    }

    #[test]
    fn a_family_without_a_declared_bound_has_no_closed_form_bound_and_no_xi_advice() {
        let bound = family_bound(&ContinuousBernoulli, 4, 3);
        assert_eq!(
            bound,
            FamilyBound::NoClosedForm {
                family: "ContinuousBernoulli"
            }
        );
        let text = bound.to_string();
        assert!(text.contains("none in closed form"), "{text}");
        assert!(
            !text.contains("xi") && !text.contains("unbounded"),
            "{text}"
        );
    }
}

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
    /// No finite bound exists: the likelihood is unbounded above (unconstrained Gaussian).
    Unbounded,
}

impl FamilyBound {
    /// The bound per point, `+inf` when unbounded.
    pub fn per_point(&self) -> f64 {
        match self {
            Self::Finite { per_point, .. } => *per_point,
            Self::Unbounded => f64::INFINITY,
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
        }
    }
}

/// The closed-form bound for `n` points of `p` coordinates under `family`.
///
/// # Formula
/// Discrete families: `log Φ <= 0`, so `l <= 0`. Otherwise, with a per-coordinate density bound
/// `b` ([`OutputFamily::log_density_bound`]), `l <= n p b`; for the Gaussian with floor ξ,
/// `b = -½ log(2π ξ)` and `l <= -(n p / 2) log(2π ξ)`. Without a density bound (unconstrained
/// Gaussian): [`FamilyBound::Unbounded`].
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
        None => FamilyBound::Unbounded,
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
    use crate::family::{Bernoulli, Diagonal, Gaussian};

    #[test]
    fn bernoulli_is_bounded_by_zero_and_the_floor_gives_the_gaussian_constant() {
        assert_eq!(family_bound(&Bernoulli, 10, 784).per_point(), 0.0);
        let xi = 0.01f32;
        let bound = family_bound(&Gaussian::<Diagonal>::with_floor(xi).unwrap(), 5, 560);
        let want = -(5.0 * 560.0 / 2.0) * (2.0 * std::f64::consts::PI * f64::from(xi)).ln();
        match bound {
            FamilyBound::Finite { total, .. } => assert!((total - want).abs() < 1e-6 * want),
            FamilyBound::Unbounded => panic!("a floored Gaussian is bounded"),
        }
        let free = family_bound(&Gaussian::<Diagonal>::unconstrained(), 5, 560);
        assert_eq!(free, FamilyBound::Unbounded);
        assert!(free.to_string().contains("unbounded"));
    }
}

//! The nonparametric-mixture upper bound `max_G l(G)` (Mattei & Frellsen 2018; Lindsay 1983).
//!
//! A DLVM `p_θ(x) = ∫ Φ(x | f_θ(z)) N(z | 0, I) dz` is the mixture `p_G(x) = ∫ Φ(x | η) dG(η)` with
//! `G` the law of `f_θ(z)`, so `l(θ) <= max_G l(G)` for every decoder, trained or not.
//! - Discrete families: the empirical distribution ([`empirical_bound`]), an upper bound, and
//!   the exact maximum for families that can concentrate on a point (Bernoulli, Categorical).
//! - Gaussian with floor ξ: EM over a finite mixture with variances clipped at ξ
//!   ([`gaussian_mixture_bound`]), plus a proven bound on its distance to the maximum from the
//!   gradient function ([`Certificate`]).

mod certificate;
mod empirical;
mod mixture;

pub use certificate::Certificate;
pub use empirical::empirical_bound;
pub use mixture::{gaussian_mixture_bound, Covariance, MixtureConfig};

use crate::batch::check_dataset;
use crate::data::Dataset;
use crate::error::{DlvmError, Result};
use crate::family::OutputFamily;
use crate::model::Dlvm;
use dfdx::prelude::Device;

/// How a [`NonparametricBound`] was computed.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub enum BoundMethod {
    /// The empirical distribution's log-likelihood: an upper bound for a discrete family.
    Empirical {
        /// The number of distinct rows.
        distinct: usize,
        /// Whether the bound is the attained maximum (the family can concentrate on a point,
        /// [`OutputFamily::POINT_MASSES`]).
        exact: bool,
    },
    /// EM over a ξ-floored Gaussian mixture, with its certified gap.
    Mixture {
        /// The variance floor ξ.
        xi: f64,
        /// The covariance structure of the atoms.
        covariance: Covariance,
        /// EM iterations run.
        iterations: usize,
        /// Atoms with positive weight at the end.
        atoms: usize,
        /// The proven bound on the final mixture's distance to the maximum.
        certificate: Certificate,
    },
}

/// An upper bound on the log-likelihood of every DLVM of a family on a data set.
///
/// `achieved` is `l(Ĝ)` for a mixture `Ĝ` the family can realise, a lower bound on
/// `max_G l(G)` (`None` when none is computed); `total` is a proven upper bound on `max_G l(G)` and
/// hence on `l(θ)`: the empirical distribution's likelihood for discrete families (attained when
/// the family can concentrate on a point), and for floored Gaussians
/// `min(l(Ĝ) + certified gap, closed-form bound)` (see [`Certificate`] for the proof).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NonparametricBound {
    /// `l(Ĝ)`, nats, summed over points: a lower bound on `max_G l(G)`, when known.
    pub achieved: Option<f64>,
    /// The upper bound on `max_G l(G)`, nats, summed over points.
    pub total: f64,
    /// The number of points `n`.
    pub n: usize,
    /// How it was computed.
    pub method: BoundMethod,
}

impl NonparametricBound {
    /// The upper bound per point, nats.
    pub fn per_point(&self) -> f64 {
        self.total / self.n as f64
    }

    /// `l(Ĝ)` per point, nats, when known.
    pub fn achieved_per_point(&self) -> Option<f64> {
        self.achieved.map(|a| a / self.n as f64)
    }
}

impl std::fmt::Display for NonparametricBound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let per_point = self.per_point();
        match &self.method {
            BoundMethod::Empirical {
                distinct,
                exact: true,
            } => write!(
                f,
                "{per_point:.2} nats per point (empirical distribution, exact; {distinct} distinct of {} points)",
                self.n
            ),
            BoundMethod::Empirical {
                distinct,
                exact: false,
            } => write!(
                f,
                "{per_point:.2} nats per point (empirical distribution, an upper bound, not \
                 attained: the family cannot put all its mass on one point; {distinct} distinct \
                 of {} points)",
                self.n
            ),
            BoundMethod::Mixture {
                xi,
                iterations,
                atoms,
                certificate,
                ..
            } => {
                write!(f, "{per_point:.2} nats per point (EM mixture, xi = {xi}: ")?;
                if let Some(a) = self.achieved_per_point().filter(|a| a.is_finite()) {
                    write!(f, "l(G)/n = {a:.2} ")?;
                }
                write!(
                    f,
                    "with {atoms} atoms after {iterations} iterations; {certificate})"
                )
            }
        }
    }
}

/// The nonparametric bound for `model`'s family on `data`.
///
/// Discrete families get [`empirical_bound`]; a floored Gaussian family
/// ([`OutputFamily::gaussian_variance_floor`] with `xi > 0`) gets [`gaussian_mixture_bound`]
/// (isotropic atoms when the family has one variance per point, diagonal otherwise).
///
/// # Errors
/// The data does not fit the model; [`DlvmError::NoNonparametricBound`] for a Gaussian without a
/// floor (the maximum is `+inf`) or a continuous family that is not Gaussian.
pub fn nonparametric_bound<M: Dlvm<D>, D: Device<f32>>(
    model: &M,
    data: &Dataset,
    config: &MixtureConfig,
) -> Result<NonparametricBound> {
    check_dataset(model, data)?;
    if <M::Family as OutputFamily>::DISCRETE {
        return empirical_bound(model.family(), data);
    }
    let no_bound = |reason: &str| DlvmError::NoNonparametricBound {
        family: <M::Family as OutputFamily>::NAME,
        reason: reason.into(),
    };
    let Some(floor) = model.family().gaussian_variance_floor() else {
        return Err(no_bound(
            "only discrete families and Gaussians with a variance floor have one; \
             compute a bound for this family with its own mixture EM",
        ));
    };
    if floor.xi <= 0.0 {
        return Err(no_bound(
            "the Gaussian is unconstrained, so max_G l(G) = +inf (a spike on any data point); \
             declare a variance floor `xi = ...` to get a finite bound",
        ));
    }
    let xi = floor.xi;
    let covariance = if floor.isotropic {
        Covariance::Spherical
    } else {
        Covariance::PerCoordinate
    };
    gaussian_mixture_bound(data, xi, covariance, config)
}

//! The nonparametric-mixture upper bound `max_G l(G)` (Mattei & Frellsen 2018; Lindsay 1983).
//!
//! A DLVM `p_θ(x) = ∫ Φ(x | f_θ(z)) N(z | 0, I) dz` is the mixture `p_G(x) = ∫ Φ(x | η) dG(η)` with
//! `G` the law of `f_θ(z)`, so `l(θ) <= max_G l(G)` for every decoder, trained or not.
//! - Discrete families: the maximum is the empirical distribution ([`empirical_bound`]), exact.
//! - Gaussian with floor ξ: EM over a finite mixture with variances clipped at ξ
//!   ([`gaussian_mixture_bound`]), with the gradient-function certificate ([`Certificate`]).

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
    /// The empirical distribution's log-likelihood: the exact maximum for a discrete family.
    Empirical {
        /// The number of distinct rows.
        distinct: usize,
    },
    /// EM over a ξ-floored Gaussian mixture, with its optimality certificate.
    Mixture {
        /// The variance floor ξ.
        xi: f64,
        /// The covariance structure of the atoms.
        covariance: Covariance,
        /// EM iterations run.
        iterations: usize,
        /// Atoms with positive weight at the end.
        atoms: usize,
        /// The gradient-function certificate of the final mixture.
        certificate: Certificate,
    },
}

/// An upper bound on the log-likelihood of every DLVM of a family on a data set.
///
/// `achieved` is `l(Ĝ)` for the mixture `Ĝ` found, a lower bound on `max_G l(G)`; `total` is the
/// reported upper bound on `max_G l(G)` and hence on `l(θ)`: exact for discrete families, and for
/// Gaussians `min(l(Ĝ) + certified gap, closed-form bound)` (see [`Certificate`] for what the gap
/// certifies).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NonparametricBound {
    /// `l(Ĝ)`, nats, summed over points.
    pub achieved: f64,
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

    /// `l(Ĝ)` per point, nats.
    pub fn achieved_per_point(&self) -> f64 {
        self.achieved / self.n as f64
    }
}

impl std::fmt::Display for NonparametricBound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let per_point = self.per_point();
        match &self.method {
            BoundMethod::Empirical { distinct } => write!(
                f,
                "{per_point:.2} nats per point (empirical distribution, exact; {distinct} distinct of {} points)",
                self.n
            ),
            BoundMethod::Mixture {
                xi,
                iterations,
                atoms,
                certificate,
                ..
            } => write!(
                f,
                "{per_point:.2} nats per point (EM mixture, xi = {xi}: l(G)/n = {:.2} with {atoms} atoms \
                 after {iterations} iterations; {certificate})",
                self.achieved_per_point()
            ),
        }
    }
}

/// The nonparametric bound for `model`'s family on `data`.
///
/// Discrete families get [`empirical_bound`]; the built-in Gaussian with a floor gets
/// [`gaussian_mixture_bound`] (isotropic atoms when the family has one variance per point,
/// diagonal otherwise).
///
/// # Errors
/// The data does not fit the model; [`DlvmError::NoNonparametricBound`] for an unconstrained
/// Gaussian (the maximum is `+inf`) or a continuous family other than the Gaussian.
pub fn nonparametric_bound<M: Dlvm<D>, D: Device<f32>>(
    model: &M,
    data: &Dataset,
    config: &MixtureConfig,
) -> Result<NonparametricBound> {
    check_dataset(model, data)?;
    if <M::Family as OutputFamily>::DISCRETE {
        return Ok(empirical_bound(data));
    }
    let name = <M::Family as OutputFamily>::NAME;
    let no_bound = |reason: &str| DlvmError::NoNonparametricBound {
        family: name,
        reason: reason.into(),
    };
    if name != "Gaussian" {
        return Err(no_bound(
            "only discrete families and the built-in floored Gaussian have one; \
             compute a bound for this family with its own mixture EM",
        ));
    }
    let Some(b) = model.family().log_density_bound() else {
        return Err(no_bound(
            "the Gaussian is unconstrained, so max_G l(G) = +inf (a spike on any data point); \
             declare a variance floor `xi = ...` to get a finite bound",
        ));
    };
    let xi = (-2.0 * b).exp() / (2.0 * std::f64::consts::PI);
    let isotropic = <M::Family as OutputFamily>::PARAMS_PER_POINT == 1
        && <M::Family as OutputFamily>::PARAMS_PER_COORD == 1;
    let covariance = if isotropic {
        Covariance::Spherical
    } else {
        Covariance::PerCoordinate
    };
    gaussian_mixture_bound(data, xi, covariance, config)
}

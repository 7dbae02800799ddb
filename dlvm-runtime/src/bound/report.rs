//! The chain `ELBO <= IWAE-K <= log p(x) <= nonparametric bound` for a trained model, with gaps.

use super::{
    evaluate_elbo, evaluate_iwae, family_bound, nonparametric_bound, Estimate, FamilyBound,
    IwaeConfig, MixtureConfig, NonparametricBound,
};
use crate::data::Dataset;
use crate::error::{DlvmError, Result};
use crate::model::Dlvm;
use dfdx::prelude::Device;

/// Every bound on a model's average log-likelihood on one data set, in nats per point.
///
/// # Formula
/// `ELBO <= L_K <= (1/n) Σ log p_θ(x_i) <= (1/n) max_G l(G) <= closed-form bound`:
/// - `log p(x) - ELBO = KL(q(z|x) || p(z|x))`, the *variational gap* (approximation plus
///   amortisation); `L_K - ELBO` is a lower bound on it.
/// - `max_G l(G)/n - log p(x)`, the *parsimony gap*: what the DLVM gives up by being a smooth,
///   low-dimensional submodel of the nonparametric mixture; `bound - L_K` is an upper bound on it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LikelihoodReport {
    /// The model's name.
    pub model: &'static str,
    /// The number of importance samples `K`.
    pub k: usize,
    /// The ELBO estimate.
    pub elbo: Estimate,
    /// The IWAE-K estimate.
    pub iwae: Estimate,
    /// The nonparametric bound, or why there is none.
    pub nonparametric: std::result::Result<NonparametricBound, String>,
    /// The closed-form bound of the family.
    pub family: FamilyBound,
}

impl LikelihoodReport {
    /// `L_K - ELBO`: a lower bound on the variational (approximation + amortisation) gap.
    pub fn variational_gap_at_least(&self) -> f64 {
        self.iwae.mean - self.elbo.mean
    }

    /// `bound - L_K`: an upper bound on the parsimony gap (`+inf` without a bound: not printed,
    /// see [`Display`](std::fmt::Display)).
    pub fn parsimony_gap_at_most(&self) -> f64 {
        self.upper_bound() - self.iwae.mean
    }

    /// The tightest upper bound per point: the nonparametric one if present, else the family's.
    pub fn upper_bound(&self) -> f64 {
        match &self.nonparametric {
            Ok(b) => b.per_point().min(self.family.per_point()),
            Err(_) => self.family.per_point(),
        }
    }

    /// Whether the chain holds within `z` standard errors of the Monte Carlo estimates (a
    /// standard error that is unavailable, with one point, counts as 0).
    ///
    /// # Formula
    /// `ELBO <= L_K + z √(se_E² + se_K²)` and `L_K <= bound + z se_K`.
    pub fn is_ordered(&self, z: f64) -> bool {
        let (se_e, se_k) = (
            self.elbo.std_err.unwrap_or(0.0),
            self.iwae.std_err.unwrap_or(0.0),
        );
        self.elbo.mean <= self.iwae.mean + z * se_e.hypot(se_k)
            && self.iwae.mean <= self.upper_bound() + z * se_k
    }
}

impl std::fmt::Display for LikelihoodReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{} on {} points (nats per point):",
            self.model, self.iwae.n
        )?;
        writeln!(f, "  ELBO                      {}", self.elbo)?;
        writeln!(f, "  IWAE-{:<5}                {}", self.k, self.iwae)?;
        writeln!(
            f,
            "  log p(x)                  between the two lines around it"
        )?;
        match &self.nonparametric {
            Ok(b) => writeln!(f, "  nonparametric max_G l(G)  {b}")?,
            Err(reason) => writeln!(f, "  nonparametric max_G l(G)  not available: {reason}")?,
        }
        writeln!(f, "  closed-form bound         {}", self.family)?;
        writeln!(
            f,
            "  variational gap (approximation + amortisation) >= {:.2}",
            self.variational_gap_at_least()
        )?;
        let gap = self.parsimony_gap_at_most();
        if gap.is_finite() {
            write!(
                f,
                "  parsimony gap (DLVM vs nonparametric mixture)  <= {gap:.2}"
            )
        } else {
            write!(
                f,
                "  parsimony gap (DLVM vs nonparametric mixture)  no upper limit: no finite bound above"
            )
        }
    }
}

/// Computes a [`LikelihoodReport`] for `model` on `data`.
///
/// The ELBO uses `iwae.seed`; IWAE-K uses `iwae`; the nonparametric bound uses `mixture` (for
/// a family without one the reason is kept in the report).
///
/// # Errors
/// The data does not fit the model, or a setting is out of range ([`DlvmError::Config`]).
pub fn likelihood_report<M: Dlvm<D>, D: Device<f32>>(
    model: &M,
    data: &Dataset,
    iwae: &IwaeConfig,
    mixture: &MixtureConfig,
) -> Result<LikelihoodReport> {
    let batch = data.rows().min(500);
    let elbo = evaluate_elbo(model, data, batch, iwae.seed)?;
    let bound = evaluate_iwae(model, data, iwae)?;
    let nonparametric = match nonparametric_bound(model, data, mixture) {
        Ok(b) => Ok(b),
        Err(DlvmError::NoNonparametricBound { reason, .. }) => Err(reason),
        Err(e) => return Err(e),
    };
    Ok(LikelihoodReport {
        model: M::NAME,
        k: iwae.k,
        elbo,
        iwae: bound,
        nonparametric,
        family: family_bound(model.family(), data.rows(), M::observed_dim()),
    })
}

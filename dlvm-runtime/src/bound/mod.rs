//! Likelihood bounds and their estimates over data sets.

mod elbo;
mod estimate;
pub mod family_bound;
pub mod iwae;
pub mod log_sum_exp;
pub mod nonparametric;
pub mod report;
pub mod spike;

pub use elbo::{elbo, evaluate_elbo};
pub use estimate::Estimate;
pub use family_bound::{family_bound, model_family_bound, FamilyBound};
pub use iwae::{evaluate_iwae, iwae_per_point, IwaeConfig};
pub use log_sum_exp::{log_sum_exp, LogSumExp};
pub use nonparametric::{
    empirical_bound, gaussian_mixture_bound, nonparametric_bound, Certificate, Covariance,
    MixtureConfig, NonparametricBound,
};
pub use report::{likelihood_report, LikelihoodReport};
pub use spike::{spike_log_likelihood, Spike};

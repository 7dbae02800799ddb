//! Likelihood bounds and their estimates over data sets.

mod elbo;
mod estimate;

pub use elbo::{elbo, evaluate_elbo};
pub use estimate::Estimate;

//! Imputation of missing data with a trained model (THEORY.md §4, §5).
//!
//! - [`Mask`]: which entries are missing (explicit, NaN, image halves, MCAR).
//! - [`pseudo_gibbs`] (Rezende et al. 2014) and [`metropolis_within_gibbs`] (Mattei & Frellsen
//!   2018): chains over `(z, x_miss)`, one per point, vectorised over the batch, for any model
//!   and any output family; settings in [`ImputeOptions`] (`chains` independent chains per row
//!   for multiple imputation), output an [`Imputation`] (with each row's acceptance rate and
//!   [`effective_sample_size`], and the [`ClassFrequencies`] of class labels).
//! - [`binary_metrics`] (F1, precision, recall, accuracy) and [`continuous_metrics`] (MSE, RMSE).

mod chain;
mod check;
mod classes;
mod ess;
mod independent;
mod mask;
mod metrics;
mod mwg;
mod networks;
mod options;
mod posterior;
mod pseudo_gibbs;
mod result;

pub use classes::ClassFrequencies;
pub use ess::effective_sample_size;
pub use mask::Mask;
pub use metrics::{
    binary_metrics, continuous_metrics, BinaryMetrics, BinaryScores, Confusion, ContinuousMetrics,
};
pub use mwg::metropolis_within_gibbs;
pub use options::{ImputeOptions, Init};
pub use pseudo_gibbs::pseudo_gibbs;
pub use result::{Imputation, Single};

//! Imputation of missing data with a trained model (THEORY.md §4, §5).
//!
//! - [`Mask`]: which entries are missing (explicit, NaN, image halves, MCAR).
//! - [`pseudo_gibbs`] (Rezende et al. 2014) and [`metropolis_within_gibbs`] (Mattei & Frellsen
//!   2018): chains over `(z, x_miss)`, one per point, vectorised over the batch, for any model
//!   and any output family; settings in [`ImputeOptions`], output an [`Imputation`].
//! - [`binary_metrics`] (F1, precision, recall, accuracy) and [`continuous_metrics`] (MSE, RMSE).

mod chain;
mod mask;
mod metrics;
mod mwg;
mod networks;
mod options;
mod posterior;
mod pseudo_gibbs;
mod result;

pub use mask::Mask;
pub use metrics::{
    binary_metrics, continuous_metrics, BinaryMetrics, BinaryScores, Confusion, ContinuousMetrics,
};
pub use mwg::metropolis_within_gibbs;
pub use options::{ImputeOptions, Init};
pub use pseudo_gibbs::pseudo_gibbs;
pub use result::{Imputation, Single};

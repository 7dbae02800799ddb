//! Fused element-wise kernels for the CPU device: `tanh` and the Bernoulli log-likelihood, each
//! computing its value and its local derivative in one vectorised pass, wired into dfdx's tape
//! as custom operations (`ops`). Other devices use dfdx's own operations.

pub mod fast_math;
mod ops;
mod slices;

pub use ops::{bernoulli_log_prob, bernoulli_log_prob_rows, tanh};
pub use slices::sigmoid;

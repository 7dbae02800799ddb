//! Fused kernels for the CPU device: `tanh` and the Bernoulli log-likelihood, each computing its
//! value and its local derivative in one vectorised pass, wired into dfdx's tape as custom
//! operations (`ops`), and the tape-free dense layer (`linear`). Other devices use dfdx's own
//! operations.

pub mod fast_math;
mod host;
mod linear;
mod ops;
mod slices;

pub use ops::{bernoulli_log_prob, bernoulli_log_prob_rows, linear, tanh};
pub use slices::sigmoid;

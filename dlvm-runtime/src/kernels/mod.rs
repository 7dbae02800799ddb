//! Fused kernels for the CPU device: `tanh` and the Bernoulli log-likelihood, each computing its
//! value and its local derivative in one vectorised pass, wired into dfdx's tape as custom
//! operations (`ops`), and the dense layer (`linear`, with products that skip the zeros of
//! sparse inputs, `sparse`). Other devices use dfdx's own operations.

mod activations;
pub mod fast_math;
mod host;
mod linear;
mod ops;
mod slices;
mod sparse;

pub(crate) use activations::{activate, activate_values};
pub(crate) use linear::{
    bias_gradient_rows_into, dense_forward_into, forward_into, input_gradient_into,
    transposed_forward_into, transposed_forward_skipping_zeros_into,
    transposed_weight_gradient_rows_into, weight_gradient_rows_into, Destination,
};
pub(crate) use ops::is_cpu;
pub use ops::{
    bernoulli_log_prob, bernoulli_log_prob_rows, bernoulli_rows_host,
    bernoulli_rows_with_gradient_host, data_linear, linear, tanh,
};
pub use slices::sigmoid;
pub(crate) use slices::{accumulate_widened, sigmoid_in_place};
pub(crate) use sparse::{
    add_picked_rows, transpose_into, transposed_products_into, Picked, SparseColumns, SparseRows,
};

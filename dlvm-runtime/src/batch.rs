//! Moving data between host rows and typed device tensors, and checking data against a model.

use crate::data::Dataset;
use crate::error::{DlvmError, Result};
use crate::family::OutputFamily;
use crate::model::Dlvm;
use dfdx::prelude::*;
use rand::Rng;
use rand_distr::StandardNormal;

/// Checks that `data` fits `model`: width `p`, finite values, values in the family's support.
///
/// # Errors
/// [`DataError`](crate::data::DataError) naming the row and column at fault.
pub fn check_dataset<M: Dlvm<D>, D: Device<f32>>(model: &M, data: &Dataset) -> Result<()> {
    data.check_width(M::observed_dim())?;
    data.check_finite()?;
    let family = model.family();
    data.check_support(
        <M::Family as OutputFamily>::NAME,
        family.support_description(),
        |x| family.in_support(x),
    )?;
    Ok(())
}

/// Checks a batch size against a data set of `rows` rows.
///
/// # Errors
/// [`DlvmError::Config`] when `batch_size` is 0 or larger than the data.
pub fn check_batch_size(batch_size: usize, rows: usize) -> Result<()> {
    if batch_size == 0 || batch_size > rows {
        return Err(DlvmError::Config {
            parameter: "batch_size",
            reason: format!("must be between 1 and the number of rows ({rows}), got {batch_size}"),
        });
    }
    Ok(())
}

/// Copies the rows `indices` of `data` into a `(n, p)` tensor on `dev`.
pub fn rows_to_tensor<X: ConstDim, D: Device<f32>>(
    dev: &D,
    data: &Dataset,
    indices: &[usize],
    buffer: &mut Vec<f32>,
) -> Tensor<(usize, X), f32, D> {
    data.gather(indices, buffer);
    dev.tensor_from_vec(buffer.clone(), (indices.len(), X::default()))
}

/// A `(n, d)` tensor of standard-normal draws from a host RNG (reproducible across devices).
pub fn standard_normal<Z: ConstDim, D: Device<f32>>(
    dev: &D,
    n: usize,
    rng: &mut impl Rng,
) -> Tensor<(usize, Z), f32, D> {
    dev.tensor_from_vec(standard_normal_values(n * Z::SIZE, rng), (n, Z::default()))
}

/// `len` independent standard normal draws, in the order [`standard_normal`] uses them.
pub fn standard_normal_values(len: usize, rng: &mut impl Rng) -> Vec<f32> {
    (0..len).map(|_| rng.sample(StandardNormal)).collect()
}

/// The values of `t` on the host, row-major: one block copy (dfdx's `as_vec` walks the tensor
/// element by element).
pub fn to_host<S: Shape, D: Device<f32>>(t: Tensor<S, f32, D>) -> Vec<f32> {
    let t = t.contiguous();
    let mut out = vec![0.0; t.shape().num_elements()];
    t.copy_into(&mut out);
    out
}

/// Converts a typed tensor to the dynamic `(usize, usize)` shape families work with.
pub fn to_dynamic<X: Dim, D: Device<f32>, T: Tape<f32, D>>(
    t: Tensor<(usize, X), f32, D, T>,
) -> Tensor<(usize, usize), f32, D, T> {
    let (rows, cols) = (t.shape().0, t.shape().1.size());
    t.reshape_like(&(rows, cols))
}

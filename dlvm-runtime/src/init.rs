//! Seeded parameter initialisation, independent of the device's own random state.

use dfdx::nn::tensor_collection::{
    RecursiveWalker, TensorCollection, TensorOptions, TensorVisitor, ViewTensorMut,
};
use dfdx::prelude::*;
use rand::{rngs::StdRng, Rng, SeedableRng};

/// Re-draws every trainable tensor like dfdx's `Linear` does, from a host RNG seeded by `seed`:
/// the same seed gives the same parameters on every device.
///
/// # Formula
/// A weight of shape `(out, in)` and the bias that follows it are drawn from
/// `U(-1/√in, 1/√in)`.
///
/// # Errors
/// The device's error when copying the values in fails (e.g. out of memory).
pub fn init_parameters<M, D>(model: &mut M, seed: u64) -> Result<(), D::Err>
where
    M: TensorCollection<f32, D>,
    D: Device<f32>,
{
    let mut visitor = SeededUniform {
        rng: StdRng::seed_from_u64(seed),
        fan_in: 1,
    };
    M::iter_tensors(&mut RecursiveWalker {
        m: model,
        f: &mut visitor,
    })?;
    Ok(())
}

struct SeededUniform {
    rng: StdRng,
    fan_in: usize,
}

impl<D: Device<f32>> TensorVisitor<f32, D> for SeededUniform {
    type Viewer = ViewTensorMut;
    type Err = D::Err;
    type E2 = f32;
    type D2 = D;

    fn visit<S: Shape>(
        &mut self,
        opts: TensorOptions<S, f32, D>,
        t: &mut Tensor<S, f32, D>,
    ) -> Result<Option<Tensor<S, f32, D>>, Self::Err> {
        if !opts.do_gradient_update {
            return Ok(None);
        }
        let dims: Vec<usize> = t.shape().concrete().into_iter().collect();
        if dims.len() == 2 {
            self.fan_in = dims[1].max(1);
        }
        let bound = 1.0 / (self.fan_in as f32).sqrt();
        let values: Vec<f32> = (0..t.shape().num_elements())
            .map(|_| self.rng.gen_range(-bound..bound))
            .collect();
        t.copy_from(&values);
        Ok(None)
    }
}

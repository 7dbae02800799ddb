//! Network pieces dfdx 0.13 does not ship: the softplus activation.

use dfdx::nn::modules::{Module, NonMutableModule, ZeroSizedModule};
use dfdx::prelude::*;

/// The softplus activation `log(1 + eˣ)`, computed stably as `max(x, 0) + log(1 + e^{-|x|})`.
#[derive(Debug, Default, Clone, Copy)]
pub struct Softplus;

impl ZeroSizedModule for Softplus {}
impl NonMutableModule for Softplus {}

impl<S: Shape, D: Device<f32>, T: Tape<f32, D>> Module<Tensor<S, f32, D, T>> for Softplus {
    type Output = Tensor<S, f32, D, T>;
    type Error = D::Err;

    fn try_forward(&self, x: Tensor<S, f32, D, T>) -> Result<Self::Output, D::Err> {
        let tail = (x.with_empty_tape().try_abs()?.try_negate()?.try_exp()? + 1.0).try_ln()?;
        x.try_relu()?.try_add(tail)
    }
}

/// The identity map, the encoder trunk of a `linear(x)` network.
#[derive(Debug, Default, Clone, Copy)]
pub struct Identity;

impl ZeroSizedModule for Identity {}
impl NonMutableModule for Identity {}

impl<S: Shape, D: Device<f32>, T: Tape<f32, D>> Module<Tensor<S, f32, D, T>> for Identity {
    type Output = Tensor<S, f32, D, T>;
    type Error = D::Err;

    fn try_forward(&self, x: Tensor<S, f32, D, T>) -> Result<Self::Output, D::Err> {
        Ok(x)
    }
}

//! Network pieces dfdx 0.13 does not ship: the softplus activation, a fused `tanh`, the identity.

use dfdx::nn::modules::{Module, NonMutableModule, ZeroSizedModule};
use dfdx::prelude::*;

/// The softplus activation `log(1 + eˣ)`, computed stably by
/// [`family::special::softplus`](crate::family::special::softplus): its gradient is the logistic
/// function everywhere, including at 0.
#[derive(Debug, Default, Clone, Copy)]
pub struct Softplus;

impl ZeroSizedModule for Softplus {}
impl NonMutableModule for Softplus {}

impl<S: Shape, D: Device<f32>, T: Tape<f32, D>> Module<Tensor<S, f32, D, T>> for Softplus {
    type Output = Tensor<S, f32, D, T>;
    type Error = D::Err;

    fn try_forward(&self, x: Tensor<S, f32, D, T>) -> Result<Self::Output, D::Err> {
        Ok(crate::family::special::softplus(x))
    }
}

/// The `tanh` activation, computed on the CPU by one fused, vectorised kernel
/// ([`kernels::tanh`](crate::kernels::tanh): value and derivative `1 - tanh²` in one pass, within
/// 4 units in the last place of `tanh`); dfdx's `tanh` on other devices.
#[derive(Debug, Default, Clone, Copy)]
pub struct Tanh;

impl ZeroSizedModule for Tanh {}
impl NonMutableModule for Tanh {}

impl<S: Shape, D: Device<f32>, T: Tape<f32, D>> Module<Tensor<S, f32, D, T>> for Tanh {
    type Output = Tensor<S, f32, D, T>;
    type Error = D::Err;

    fn try_forward(&self, x: Tensor<S, f32, D, T>) -> Result<Self::Output, D::Err> {
        Ok(crate::kernels::tanh(x))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softplus_gradient_is_the_logistic_function_including_at_zero() {
        let dev = Cpu::default();
        let x = dev.tensor([-3.0f32, 0.0, 2.0]);
        let y = Softplus.forward(x.leaky_trace());
        let g = y.sum().backward();
        for (got, x) in g.get(&x).as_vec().into_iter().zip([-3.0f32, 0.0, 2.0]) {
            let want = 1.0 / (1.0 + (-x).exp());
            assert!(
                (got - want).abs() < 1e-6,
                "softplus'({x}) = {got}, want {want}"
            );
        }
    }
}

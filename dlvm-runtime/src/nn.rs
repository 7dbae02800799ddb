//! Network pieces dfdx 0.13 does not ship: the softplus activation, a fused `tanh`, the identity.

use dfdx::nn::modules::{Module, NonMutableModule, ZeroSizedModule};
use dfdx::nn::tensor_collection::{ModuleVisitor, TensorCollection, TensorOptions};
use dfdx::prelude::*;
use rand_distr::Uniform;

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

/// A dense layer `y = x Wᵀ + b` (`W`: `O × I`, `b`: `O`), the same parameters, names (`weight`,
/// `bias`) and initialisation (uniform on `±1/√I`) as dfdx's `Linear`, so checkpoints are
/// interchangeable. On the CPU its forward pass is one product into bias-filled rows
/// ([`kernels::linear`](crate::kernels::linear)), and with a tape its backward pass accumulates
/// the three gradients in place; with `INPUT_GRADIENT = false` ([`DataLinear`]) it computes none
/// for its input. On another device it is dfdx's matmul and broadcast add.
#[derive(Debug, Clone)]
pub struct Linear<
    const I: usize,
    const O: usize,
    E: Dtype,
    D: Storage<E>,
    const INPUT_GRADIENT: bool = true,
> {
    /// `W`, shape `(O, I)`.
    pub weight: Tensor<Rank2<O, I>, E, D>,
    /// `b`, shape `(O,)`.
    pub bias: Tensor<Rank1<O>, E, D>,
}

/// A dense layer whose input is data (the first layer of an encoder): the same parameters and
/// forward pass as [`Linear`], but on the CPU its backward pass computes no gradient for the
/// input, which nothing needs (`∂L/∂x` of the data is `12%` of a training step's products).
pub type DataLinear<const I: usize, const O: usize, E, D> = Linear<I, O, E, D, false>;

impl<const I: usize, const O: usize, E: Dtype, D: Storage<E>, const G: bool> NonMutableModule
    for Linear<I, O, E, D, G>
{
}

impl<const I: usize, const O: usize, E, D, const G: bool> TensorCollection<E, D>
    for Linear<I, O, E, D, G>
where
    E: Dtype + num_traits::Float + rand_distr::uniform::SampleUniform,
    D: Device<E>,
{
    type To<E2: Dtype, D2: Device<E2>> = Linear<I, O, E2, D2, G>;

    fn iter_tensors<V: ModuleVisitor<Self, E, D>>(
        visitor: &mut V,
    ) -> Result<Option<Self::To<V::E2, V::D2>>, V::Err> {
        visitor.visit_fields(
            (
                Self::tensor(
                    "weight",
                    |s| &s.weight,
                    |s| &mut s.weight,
                    uniform::<I, _, _, _>(),
                ),
                Self::tensor(
                    "bias",
                    |s| &s.bias,
                    |s| &mut s.bias,
                    uniform::<I, _, _, _>(),
                ),
            ),
            |(weight, bias)| Linear { weight, bias },
        )
    }
}

/// dfdx's initialisation of a dense layer with `I` inputs: uniform on `±1/√I`.
fn uniform<const I: usize, S: ConstShape, E, D>() -> TensorOptions<S, E, D>
where
    E: Dtype + num_traits::Float + rand_distr::uniform::SampleUniform,
    D: Device<E>,
{
    TensorOptions::reset_with(|t| {
        let b = E::one() / E::from(I).unwrap_or_else(E::one).sqrt();
        t.try_fill_with_distr(Uniform::new(-b, b))
    })
}

impl<const I: usize, const O: usize, D: Device<f32>, T: Tape<f32, D>, const G: bool>
    Module<Tensor<(usize, Const<I>), f32, D, T>> for Linear<I, O, f32, D, G>
{
    type Output = Tensor<(usize, Const<O>), f32, D, T>;
    type Error = D::Err;

    fn try_forward(&self, x: Tensor<(usize, Const<I>), f32, D, T>) -> Result<Self::Output, D::Err> {
        Ok(if G {
            crate::kernels::linear(x, &self.weight, &self.bias)
        } else {
            crate::kernels::data_linear(x, &self.weight, &self.bias)
        })
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

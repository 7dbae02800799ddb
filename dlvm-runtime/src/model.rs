//! The contract between the `dlvm!` macro and the runtime.

use crate::architecture::Architecture;
use crate::family::OutputFamily;
use crate::latent::Posterior;
use dfdx::prelude::*;

/// A deep latent variable model `z ~ N(0, I)`, `x | z ~ Φ(x | f(z))`, with an amortised
/// diagonal-Gaussian encoder `q(z | x)`.
///
/// `dlvm!` implements this trait for every declared model; the runtime's objectives, trainer,
/// bounds and samplers are generic over it. Dimensions are type-level (`Const<N>`), so a batch of
/// the wrong width does not compile.
///
/// Models are `Sync` (dfdx's CPU and CUDA devices are), so that data-parallel work (training
/// shards, IWAE point groups, imputation chains) can share one model between threads.
pub trait Dlvm<D: Device<f32>>: TensorCollection<f32, D> + Clone + Sync {
    /// The latent dimension `d`, as `Const<d>`.
    type Latent: ConstDim;
    /// The observed dimension `p`, as `Const<p>`.
    type Observed: ConstDim;
    /// The output family Φ.
    type Family: OutputFamily;

    /// The model's name as declared.
    const NAME: &'static str;

    /// The device the parameters live on.
    fn device(&self) -> &D;

    /// The output family value (with its arguments, e.g. the variance floor).
    fn family(&self) -> &Self::Family;

    /// The encoder: `q(z | x) = N(m(x), diag(exp(v(x))))`.
    fn encode<T: Tape<f32, D>>(
        &self,
        x: Tensor<(usize, Self::Observed), f32, D, T>,
    ) -> Posterior<Self::Latent, D, T>;

    /// The decoder: raw family parameters `η = f(z)`, shape `(batch, raw_width(p))`.
    fn decode<T: Tape<f32, D>>(
        &self,
        z: Tensor<(usize, Self::Latent), f32, D, T>,
    ) -> Tensor<(usize, usize), f32, D, T>;

    /// The networks' layer widths and activations, when the model is made of the dense layers
    /// and activations [`Architecture`] describes (every `dlvm!` model is). The CPU trainer then
    /// computes the ELBO's gradient in one fused pass over host buffers; `None` (the default)
    /// trains through dfdx's tape, which works for any [`encode`](Self::encode) and
    /// [`decode`](Self::decode).
    fn architecture() -> Option<Architecture> {
        None
    }

    /// `p`, the number of observed coordinates.
    fn observed_dim() -> usize {
        <Self::Observed as ConstDim>::SIZE
    }

    /// `d`, the latent dimension.
    fn latent_dim() -> usize {
        <Self::Latent as ConstDim>::SIZE
    }
}

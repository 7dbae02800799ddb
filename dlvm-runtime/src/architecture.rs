//! What a model's networks are made of, in data: the widths and activations of its multilayer
//! perceptrons. The `dlvm!` macro describes every model it generates this way
//! ([`Dlvm::architecture`](crate::model::Dlvm::architecture)), which lets the CPU trainer run the
//! model's ELBO and its gradient as one fused pass over host buffers (`train/fused`) instead of
//! through dfdx's tape. The description is checked against the model's tensors before it is used.

/// An element-wise activation between dense layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Activation {
    /// `tanh a`, derivative `1 - tanh² a`.
    Tanh,
    /// `max(a, 0)`, derivative `1` for `a > 0`, else `0` (dfdx's convention at `0`).
    Relu,
    /// `σ(a) = 1 / (1 + e⁻ᵃ)`, derivative `σ(a)(1 - σ(a))`.
    Sigmoid,
    /// `log(1 + eᵃ)` (`a` itself for `a >= 20`), derivative `σ(a)` (`1` for `a >= 20`), as
    /// [`family::special::softplus`](crate::family::special::softplus) computes it.
    Softplus,
}

impl Activation {
    /// The activation's name in the `dlvm!` language (`tanh`, `relu`, `sigmoid`, `softplus`).
    pub fn dsl_name(self) -> &'static str {
        match self {
            Self::Tanh => "tanh",
            Self::Relu => "relu",
            Self::Sigmoid => "sigmoid",
            Self::Softplus => "softplus",
        }
    }
}

/// A multilayer perceptron: `hidden` dense layers, each followed by `activation`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mlp {
    /// The widths of the hidden layers, input side first (empty: a single dense layer).
    pub hidden: Vec<usize>,
    /// The activation after every hidden layer.
    pub activation: Activation,
}

/// The networks of a model `z ~ N(0, I)`, `x | z ~ Φ(x | f(z))` with encoder `q(z | x)`:
///
/// - encoder trunk: `x → h` through `encoder.hidden` dense layers with activations;
/// - two dense heads on `h`: the posterior mean `m(x)` and log-variance `v(x)`;
/// - decoder: `z → η` through `decoder.hidden` dense layers with activations, then one dense
///   output layer of `raw_width(p)` units.
///
/// The trainable tensors, in the model's visiting order, are then each trunk layer's weight
/// `(out, in)` and bias `(out,)`, the mean head's, the log-variance head's, and each decoder
/// layer's (the output layer last).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Architecture {
    /// The encoder trunk.
    pub encoder: Mlp,
    /// The decoder's hidden layers.
    pub decoder: Mlp,
}

pub(crate) mod plan;

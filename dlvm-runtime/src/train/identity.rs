//! A model's identity as a checkpoint records it: what a checkpoint must match to be loaded.

use crate::architecture::{Architecture, Mlp};
use crate::family::OutputFamily;
use crate::model::Dlvm;
use dfdx::prelude::*;

/// The declared name, the output family, the dimensions and the networks (widths and
/// activations) of a model. Two models with the same tensor names and shapes but another
/// activation or family have different identities, so a checkpoint of one is not loaded into
/// the other.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ModelIdentity {
    /// The model's declared name ([`Dlvm::NAME`]).
    pub model: String,
    /// The output family's name ([`OutputFamily::NAME`]).
    pub family: String,
    /// Decoder outputs per data point (`raw_width(p)`; tells `Categorical<3>` from
    /// `Categorical<4>`).
    pub raw_width: usize,
    /// The observed dimension `p`.
    pub observed: usize,
    /// The latent dimension `d`.
    pub latent: usize,
    /// The encoder trunk's hidden widths and activation (`None`: the model does not describe
    /// its networks).
    pub encoder: Option<(Vec<usize>, String)>,
    /// The decoder's hidden widths and activation.
    pub decoder: Option<(Vec<usize>, String)>,
}

impl ModelIdentity {
    /// The identity of models of type `M`.
    pub fn of<M: Dlvm<D>, D: Device<f32>>() -> Self {
        let p = M::observed_dim();
        let architecture: Option<Architecture> = M::architecture();
        let net = |mlp: &Mlp| (mlp.hidden.clone(), mlp.activation.dsl_name().to_string());
        Self {
            model: M::NAME.to_string(),
            family: <M::Family as OutputFamily>::NAME.to_string(),
            raw_width: <M::Family as OutputFamily>::raw_width(p),
            observed: p,
            latent: M::latent_dim(),
            encoder: architecture.as_ref().map(|a| net(&a.encoder)),
            decoder: architecture.as_ref().map(|a| net(&a.decoder)),
        }
    }
}

impl std::fmt::Display for ModelIdentity {
    /// E.g. ``model `Tiny` (z: 2; x: 16 ~ Bernoulli, 16 decoder outputs; encoder mlp(x; 32; tanh);
    /// decoder mlp(z; 32; tanh))``.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let net = |input: &str, mlp: &Option<(Vec<usize>, String)>| match mlp {
            Some((hidden, activation)) => {
                let widths: Vec<String> = hidden.iter().map(usize::to_string).collect();
                format!("mlp({input}; {}; {activation})", widths.join(", "))
            }
            None => "not described".to_string(),
        };
        write!(
            f,
            "model `{}` (z: {}; x: {} ~ {}, {} decoder outputs; encoder {}; decoder {})",
            self.model,
            self.latent,
            self.observed,
            self.family,
            self.raw_width,
            net("x", &self.encoder),
            net("z", &self.decoder)
        )
    }
}

//! A model's [`Architecture`] laid over its trainable tensors: which tensor is which layer's
//! weight and bias, checked shape by shape. The fused training pass (`train/fused`) and the
//! host forward pass (`forward`) both run their layers from it.

use crate::architecture::{Activation, Architecture};
use crate::train::NamedTensor;

/// One dense layer `y = x Wᵀ + b`: the positions of `W` (`outputs × inputs`) and `b` in the
/// trainable-tensor list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Dense {
    pub weight: usize,
    pub bias: usize,
    pub inputs: usize,
    pub outputs: usize,
}

/// The layers of a model in the order the fused pass runs them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    /// The encoder's hidden layers, each followed by `trunk_activation`.
    pub trunk: Vec<Dense>,
    pub trunk_activation: Activation,
    /// The heads `m(x)` and `v(x) = log s²(x)`.
    pub mean: Dense,
    pub log_variance: Dense,
    /// The decoder's layers; all but the last are followed by `decoder_activation`.
    pub decoder: Vec<Dense>,
    pub decoder_activation: Activation,
    /// `p`, `d` and the decoder's output width.
    pub observed: usize,
    pub latent: usize,
    pub raw_width: usize,
}

impl Plan {
    /// Lays `architecture` over `params` (the trainable tensors in visiting order) for a model
    /// with `observed` coordinates, `latent` dimensions and `raw_width` decoder outputs.
    ///
    /// # Errors
    /// A message naming the first tensor whose shape (or whose absence) disagrees.
    pub(crate) fn new(
        architecture: &Architecture,
        params: &[NamedTensor],
        observed: usize,
        latent: usize,
        raw_width: usize,
    ) -> Result<Self, String> {
        let mut cursor = Cursor { params, next: 0 };
        let trunk = cursor.chain(observed, &architecture.encoder.hidden)?;
        let width = trunk.last().map_or(observed, |l| l.outputs);
        let mean = cursor.dense(width, latent)?;
        let log_variance = cursor.dense(width, latent)?;
        let mut decoder = cursor.chain(latent, &architecture.decoder.hidden)?;
        let width = decoder.last().map_or(latent, |l| l.outputs);
        decoder.push(cursor.dense(width, raw_width)?);
        if let Some(extra) = params.get(cursor.next) {
            return Err(format!(
                "tensor `{}` is not in the architecture",
                extra.name
            ));
        }
        Ok(Self {
            trunk,
            trunk_activation: architecture.encoder.activation,
            mean,
            log_variance,
            decoder,
            decoder_activation: architecture.decoder.activation,
            observed,
            latent,
            raw_width,
        })
    }
}

impl Plan {
    /// Every dense layer, numbered as the pass stores their signals: the encoder's hidden
    /// layers, the mean head, the log-variance head, the decoder's layers.
    pub(crate) fn layers(&self) -> impl Iterator<Item = &Dense> {
        let heads = [&self.mean, &self.log_variance];
        self.trunk.iter().chain(heads).chain(&self.decoder)
    }

    /// The number of the mean head in [`layers`](Self::layers) (the log-variance head follows,
    /// then the decoder).
    pub(crate) fn mean_layer(&self) -> usize {
        self.trunk.len()
    }

    /// The number of the decoder's first layer in [`layers`](Self::layers).
    pub(crate) fn decoder_layer(&self) -> usize {
        self.trunk.len() + 2
    }

    /// Which tensor each layer reads: the data for the encoder's first layer (or the heads
    /// when it has none), the output of the layer below for the others, and the latent code
    /// for the decoder's first layer.
    pub(crate) fn input_of(&self, layer: usize) -> LayerInput {
        let (mean, decoder) = (self.mean_layer(), self.decoder_layer());
        match layer {
            0 if mean > 0 => LayerInput::Data,
            l if l < mean => LayerInput::Trunk(l - 1),
            l if l < decoder => self
                .trunk
                .len()
                .checked_sub(1)
                .map_or(LayerInput::Data, LayerInput::Trunk),
            l if l == decoder => LayerInput::Latent,
            l => LayerInput::Decoder(l - decoder - 1),
        }
    }
}

/// What a dense layer reads (see [`Plan::input_of`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LayerInput {
    /// The observed rows.
    Data,
    /// The output of the encoder's hidden layer with this number.
    Trunk(usize),
    /// The latent code `z`.
    Latent,
    /// The output of the decoder's hidden layer with this number.
    Decoder(usize),
}

/// Walks the tensor list, checking each expected shape.
struct Cursor<'a> {
    params: &'a [NamedTensor],
    next: usize,
}

impl Cursor<'_> {
    /// The dense layers `input → hidden[0] → hidden[1] → …`.
    fn chain(&mut self, input: usize, hidden: &[usize]) -> Result<Vec<Dense>, String> {
        let mut width = input;
        let mut layers = Vec::with_capacity(hidden.len());
        for &h in hidden {
            layers.push(self.dense(width, h)?);
            width = h;
        }
        Ok(layers)
    }

    fn dense(&mut self, inputs: usize, outputs: usize) -> Result<Dense, String> {
        let weight = self.expect(&[outputs, inputs])?;
        let bias = self.expect(&[outputs])?;
        Ok(Dense {
            weight,
            bias,
            inputs,
            outputs,
        })
    }

    fn expect(&mut self, shape: &[usize]) -> Result<usize, String> {
        let k = self.next;
        let tensor = self
            .params
            .get(k)
            .ok_or_else(|| format!("no tensor of shape {shape:?} at position {k}"))?;
        if tensor.shape != shape {
            return Err(format!(
                "tensor `{}` has shape {:?}, the architecture expects {shape:?}",
                tensor.name, tensor.shape
            ));
        }
        self.next += 1;
        Ok(k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::architecture::Mlp;

    fn tensor(name: &str, shape: &[usize]) -> NamedTensor {
        NamedTensor {
            name: name.into(),
            shape: shape.to_vec(),
            trainable: true,
            values: vec![0.0; shape.iter().product()],
        }
    }

    fn architecture() -> Architecture {
        Architecture {
            encoder: Mlp {
                hidden: vec![5],
                activation: Activation::Relu,
            },
            decoder: Mlp {
                hidden: vec![4],
                activation: Activation::Tanh,
            },
        }
    }

    /// The tensors of `x: 7, z: 3`, encoder 7-5, decoder 3-4-7.
    fn tensors() -> Vec<NamedTensor> {
        vec![
            tensor("encoder.0.weight", &[5, 7]),
            tensor("encoder.0.bias", &[5]),
            tensor("encoder_mean.weight", &[3, 5]),
            tensor("encoder_mean.bias", &[3]),
            tensor("encoder_log_variance.weight", &[3, 5]),
            tensor("encoder_log_variance.bias", &[3]),
            tensor("decoder.0.weight", &[4, 3]),
            tensor("decoder.0.bias", &[4]),
            tensor("decoder.2.weight", &[7, 4]),
            tensor("decoder.2.bias", &[7]),
        ]
    }

    #[test]
    fn the_layers_take_the_tensors_in_visiting_order() {
        let plan = Plan::new(&architecture(), &tensors(), 7, 3, 7).unwrap();
        let dense = |weight, inputs, outputs| Dense {
            weight,
            bias: weight + 1,
            inputs,
            outputs,
        };
        assert_eq!(plan.trunk, vec![dense(0, 7, 5)]);
        assert_eq!(
            (plan.mean, plan.log_variance),
            (dense(2, 5, 3), dense(4, 5, 3))
        );
        assert_eq!(plan.decoder, vec![dense(6, 3, 4), dense(8, 4, 7)]);
        let layers: Vec<usize> = plan.layers().map(|l| l.weight).collect();
        assert_eq!(layers, [0, 2, 4, 6, 8]);
        let inputs: Vec<LayerInput> = (0..5).map(|l| plan.input_of(l)).collect();
        use LayerInput::*;
        assert_eq!(inputs, [Data, Trunk(0), Trunk(0), Latent, Decoder(0)]);
    }

    #[test]
    fn without_hidden_layers_the_heads_read_the_data_and_the_decoder_the_code() {
        let mut bare = architecture();
        bare.encoder.hidden.clear();
        bare.decoder.hidden.clear();
        let tensors = vec![
            tensor("m.weight", &[3, 7]),
            tensor("m.bias", &[3]),
            tensor("v.weight", &[3, 7]),
            tensor("v.bias", &[3]),
            tensor("d.weight", &[7, 3]),
            tensor("d.bias", &[7]),
        ];
        let plan = Plan::new(&bare, &tensors, 7, 3, 7).unwrap();
        let inputs: Vec<LayerInput> = (0..3).map(|l| plan.input_of(l)).collect();
        use LayerInput::*;
        assert_eq!(inputs, [Data, Data, Latent]);
    }

    #[test]
    fn a_shape_that_disagrees_is_named() {
        let err = Plan::new(&architecture(), &tensors(), 7, 3, 14).unwrap_err();
        assert!(err.contains("`decoder.2.weight` has shape [7, 4]"), "{err}");
        let mut missing = tensors();
        missing.pop();
        let err = Plan::new(&architecture(), &missing, 7, 3, 7).unwrap_err();
        assert!(
            err.contains("no tensor of shape [7] at position 9"),
            "{err}"
        );
        let mut extra = tensors();
        extra.push(tensor("decoder.4.weight", &[1]));
        let err = Plan::new(&architecture(), &extra, 7, 3, 7).unwrap_err();
        assert!(
            err.contains("`decoder.4.weight` is not in the architecture"),
            "{err}"
        );
    }
}

//! How the chains run the model's encoder and decoder: on the host over copies of its weights
//! (CPU models that describe their architecture, see [`forward`](crate::forward)), with the
//! encoder's first layer at the observed entries computed once per run; or through the model's
//! own dfdx networks.

use crate::batch::to_host;
use crate::forward::{HostNetworks, ObservedPart, RowCoordinates, Workspace};
use crate::model::Dlvm;
use dfdx::prelude::*;

/// The model's networks as the chains call them, one row shard at a time.
pub(crate) struct ChainNetworks<'a, M, D> {
    model: &'a M,
    host: Option<Host>,
    device: std::marker::PhantomData<fn() -> D>,
}

/// The networks on the host, and the encoder's first layer at the observed entries.
struct Host {
    networks: HostNetworks,
    observed: Option<ObservedPart>,
}

impl<'a, M: Dlvm<D>, D: Device<f32>> ChainNetworks<'a, M, D> {
    /// The networks of `model` for chains at the points `x_observed` (0 at their missing
    /// entries, whose coordinates are `missing`): on the host when `host` is asked for, the
    /// model is on the CPU and describes its architecture, else the model's own.
    pub fn new(model: &'a M, x_observed: &[f32], missing: &RowCoordinates, host: bool) -> Self {
        let networks = (host && crate::kernels::is_cpu::<D>())
            .then(|| HostNetworks::of_model(model))
            .flatten();
        let host = networks.map(|networks| Host {
            observed: ObservedPart::new(&networks, x_observed, missing.clone()),
            networks,
        });
        Self {
            model,
            host,
            device: std::marker::PhantomData,
        }
    }

    /// The encoder at the chains `first..` whose completed points are `x` (`p` values each),
    /// into `ws.mean` and `ws.log_variance`. The chains' observed entries must be those the
    /// networks were made for.
    pub fn encode(&self, first: usize, x: &[f32], ws: &mut Workspace) {
        let rows = x.len() / M::observed_dim();
        match &self.host {
            Some(host) => {
                let observed = host.observed.as_ref().map(|o| o.rows(first, rows));
                host.networks.encode_into(x, rows, observed, ws);
            }
            None => {
                let input = self
                    .model
                    .device()
                    .tensor_from_vec(x.to_vec(), (rows, M::Observed::default()));
                let q = self.model.encode(input);
                ws.mean = to_host(q.mean);
                ws.log_variance = to_host(q.log_variance);
            }
        }
    }

    /// The decoder at the latent rows `z` (`d` values each), into `ws.raw`.
    pub fn decode(&self, z: &[f32], ws: &mut Workspace) {
        let rows = z.len() / M::latent_dim();
        match &self.host {
            Some(host) => host.networks.decode_into(z, rows, ws),
            None => {
                let input = self
                    .model
                    .device()
                    .tensor_from_vec(z.to_vec(), (rows, M::Latent::default()));
                ws.raw = to_host(self.model.decode(input));
            }
        }
    }
}

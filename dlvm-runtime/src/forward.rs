//! The forward pass of a model that describes its networks
//! ([`Dlvm::architecture`](crate::model::Dlvm::architecture)), on host buffers: the encoder
//! and the decoder run over host copies of the model's weights, read once, with no dfdx tensor,
//! no tape and (with a reused workspace) no allocation per call. On the CPU the imputation
//! samplers run their chains on it and IWAE its points; other models and other devices run
//! the model's own networks.
//!
//! The samplers change only the missing entries of their points, so the encoder's first layer
//! can start from its value at the observed entries, computed once per run
//! (`ObservedPart`): `y = (b₁ + x_obs W₁,obsᵀ) + x_miss W₁,missᵀ`, the second term summed
//! over the non-zero missing entries only.

mod networks;
mod observed;

pub use networks::HostNetworks;
pub(crate) use networks::Workspace;
pub(crate) use observed::{ObservedPart, RowCoordinates};

//! # dlvm-runtime
//!
//! The runtime of [dlvm](https://docs.rs/dlvm): everything the `dlvm!` macro's generated code
//! calls, and everything a user does with a model once it is declared.
//!
//! - [`family`]: output families Φ(x | η) (the [`OutputFamily`](family::OutputFamily) trait,
//!   [`Bernoulli`](family::Bernoulli), [`Gaussian`](family::Gaussian)).
//! - [`latent`]: the N(0, I) prior and the diagonal-Gaussian posterior (reparameterisation, KL).
//! - [`model`]: the [`Dlvm`](model::Dlvm) trait the macro implements, and [`architecture`]: the
//!   layer widths and activations it describes its networks with.
//! - [`bound`]: the ELBO and its estimate over a data set.
//! - [`train`]: Adam training with validation, early stopping, history and checkpoints.
//! - [`data`]: `.npy`/`.npy.gz` reading and data sets checked against a model.
//! - [`plot`]: PNG image grids.
//! - [`chart`]: PNG line and scatter charts.
//! - [`impute`]: missing-data imputation (pseudo-Gibbs, Metropolis-within-Gibbs), masks, metrics.

pub mod architecture;
pub mod batch;
pub mod bound;
pub mod chart;
pub mod data;
pub mod error;
pub mod family;
pub mod forward;
pub mod impute;
pub mod init;
pub mod kernels;
pub mod latent;
pub mod model;
pub mod nn;
pub mod parallel;
pub mod plot;
pub mod sample;
pub mod threads;
pub mod train;

pub use dfdx;
pub use error::{DlvmError, Result};

/// The names a user needs: `use dlvm_runtime::prelude::*;`.
pub mod prelude {
    pub use crate::bound::{elbo, evaluate_elbo, Estimate};
    pub use crate::bound::{
        evaluate_iwae, family_bound, likelihood_report, nonparametric_bound, FamilyBound,
        IwaeConfig, LikelihoodReport, MixtureConfig, NonparametricBound,
    };
    pub use crate::data::{read_npy, DataError, Dataset};
    pub use crate::error::DlvmError;
    pub use crate::family::{Bernoulli, Diagonal, Gaussian, Isotropic, OutputFamily};
    pub use crate::family::{Categorical, ContinuousBernoulli, Poisson, StudentT};
    pub use crate::impute::{Imputation, ImputeOptions, Init, Mask, Single};
    pub use crate::model::Dlvm;
    pub use crate::sample::{reconstruct, sample_prior, Draws};
    pub use crate::train::{load_checkpoint, save_checkpoint, History, TrainConfig, Trainer};
    pub use dfdx::prelude::{
        Const, Cpu, Device, NoneTape, Tensor, TensorFrom, TensorFromVec, ZerosTensor,
    };
}

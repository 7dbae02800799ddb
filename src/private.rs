//! Every path the `dlvm!` macro's generated code uses. Not public API.

pub use dfdx::nn::modules::{ReLU, Sigmoid};
pub use dfdx::nn::{BuildModule, Module, ModuleVisitor, TensorCollection};
pub use dfdx::prelude::{Const, Cpu, Device, Dtype, Tape, Tensor, WithEmptyTape};
pub use dfdx::tensor::Storage;
pub use dlvm_runtime::architecture::{Activation as LayerActivation, Architecture, Mlp};
pub use dlvm_runtime::batch::to_dynamic;
pub use dlvm_runtime::bound::model_family_bound;
pub use dlvm_runtime::bound::{elbo, evaluate_elbo, Estimate};
pub use dlvm_runtime::bound::{
    evaluate_iwae, family_bound, likelihood_report, nonparametric_bound, FamilyBound, IwaeConfig,
    LikelihoodReport, MixtureConfig, NonparametricBound,
};
pub use dlvm_runtime::data::Dataset;
pub use dlvm_runtime::family::build_family;
pub use dlvm_runtime::family::{FamilyBuilder, FamilyError, OutputFamily};
pub use dlvm_runtime::impute::{
    metropolis_within_gibbs, pseudo_gibbs, Imputation, ImputeOptions, Mask,
};
pub use dlvm_runtime::init::init_parameters;
pub use dlvm_runtime::latent::Posterior;
pub use dlvm_runtime::model::Dlvm;
pub use dlvm_runtime::nn::{DataLinear, Identity, Linear, Softplus, Tanh};
pub use dlvm_runtime::sample::{reconstruct, sample_prior, Draws};
pub use dlvm_runtime::train::{load_checkpoint, save_checkpoint};
pub use dlvm_runtime::DlvmError;
pub use num_traits::Float;
pub use rand_distr::uniform::SampleUniform;

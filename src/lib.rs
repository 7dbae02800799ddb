//! # dlvm: deep latent variable models in a few lines of Rust
//!
//! Declare a model with the [`dlvm!`] macro; get typed [dfdx](https://docs.rs/dfdx/0.13) networks
//! (dimensions are const generics, so a shape mistake is a compile error), the ELBO, training,
//! sampling and checkpoints.
//!
//! ```no_run
//! use dlvm::prelude::*;
//!
//! dlvm! {
//!     /// The VAE of Rezende et al. (2014) for binarized MNIST.
//!     pub model MnistVae {
//!         latent z: 50 ~ Normal(0, I);
//!         observed x: 784 ~ Bernoulli(mlp(z; 200, 200; tanh));
//!         encoder q(z | x) = mlp(x; 200, 200; tanh);
//!     }
//! }
//!
//! # fn main() -> Result<(), DlvmError> {
//! let dev = Cpu::default();
//! let mut model = MnistVae::try_new(&dev, 0)?;
//! let train = Dataset::from_npy("data/binarized_mnist_train.npy.gz")?;
//! let valid = Dataset::from_npy("data/binarized_mnist_valid.npy.gz")?;
//! let history = Trainer::new(TrainConfig::default()).fit(&mut model, &train, Some(&valid))?;
//! println!("{}", history.to_csv());
//! # Ok(()) }
//! ```
//!
//! The user guide is in `docs/`: the DSL grammar (`docs/dsl.md`), every compile error
//! (`docs/errors.md`), and how the pieces fit (`docs/architecture.md`).

pub use dlvm_macros::dlvm;
pub use dlvm_runtime::*;

/// Every page of the user guide (`docs/`) and the README, compiled here so that each of their
/// Rust code blocks is tested (`cargo test --doc`): a block that stops compiling fails the
/// suite. Blocks that are not Rust are marked `text` or `sh`.
#[cfg(doctest)]
mod guide {
    #[doc = include_str!("../README.md")]
    pub struct Readme;
    #[doc = include_str!("../docs/dsl.md")]
    pub struct Dsl;
    #[doc = include_str!("../docs/data.md")]
    pub struct Data;
    #[doc = include_str!("../docs/families.md")]
    pub struct Families;
    #[doc = include_str!("../docs/imputation.md")]
    pub struct Imputation;
    #[doc = include_str!("../docs/likelihood.md")]
    pub struct Likelihood;
    #[doc = include_str!("../docs/architecture.md")]
    pub struct Architecture;
    #[doc = include_str!("../docs/errors.md")]
    pub struct Errors;
    #[doc = include_str!("../docs/error-catalogue.md")]
    pub struct ErrorCatalogue;
    #[doc = include_str!("../docs/performance.md")]
    pub struct Performance;
    #[doc = include_str!("../docs/results.md")]
    pub struct Results;
}

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

/// Everything needed to declare, train and use a model: `use dlvm::prelude::*;`.
pub mod prelude {
    pub use dlvm_macros::dlvm;
    pub use dlvm_runtime::prelude::*;
}

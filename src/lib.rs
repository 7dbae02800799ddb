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

/// The DSL guide `docs/dsl.md`, compiled here so that its examples are tested (`cargo test --doc`).
#[cfg(doctest)]
#[doc = include_str!("../docs/dsl.md")]
pub struct DslGuide;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

/// Everything needed to declare, train and use a model: `use dlvm::prelude::*;`.
pub mod prelude {
    pub use dlvm_macros::dlvm;
    pub use dlvm_runtime::prelude::*;
}

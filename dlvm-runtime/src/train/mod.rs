//! Training by maximising the ELBO with Adam: configuration, the loop, its history, checkpoints.

mod checkpoint;
mod config;
mod history;
mod trainer;

pub use checkpoint::{load_checkpoint, save_checkpoint};
pub use config::TrainConfig;
pub use history::{EpochRecord, History};
pub use trainer::Trainer;

//! Training by maximising the ELBO with Adam: configuration, the loop, its history, checkpoints,
//! the full training state for resuming, and the NaN/infinity guard.

mod adam;
mod atomic;
mod checkpoint;
mod config;
mod fused;
mod history;
mod params;
mod shards;
mod state;
mod trainer;

pub use adam::{AdamScratch, AdamSettings, AdamState, UpdateError, UpdateReport};
pub use atomic::write_atomically;
pub use checkpoint::{load_checkpoint, save_checkpoint};
pub use config::TrainConfig;
pub use fused::fused_loss_and_gradients;
pub use history::{EpochRecord, History};
pub use params::{
    read_gradients, read_gradients_into, read_tensors, take_gradients_into, write_tensors,
    NamedTensor,
};
pub use state::{RngState, RunSettings, TrainState};
pub use trainer::Trainer;

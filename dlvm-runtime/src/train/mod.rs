//! Training by maximising the ELBO with Adam: configuration, the loop, its history, checkpoints,
//! the full training state for resuming, the run directory's lock, and the NaN/infinity guard.

mod adam;
mod atomic;
mod checkpoint;
mod config;
mod fingerprint;
mod fused;
mod history;
mod identity;
mod params;
mod run_dir;
mod shards;
mod state;
mod trainer;

pub use adam::{AdamScratch, AdamSettings, AdamState, UpdateError, UpdateReport};
pub use atomic::write_atomically;
pub use checkpoint::{load_checkpoint, save_checkpoint};
pub use config::TrainConfig;
pub use fingerprint::DataFingerprint;
pub use fused::fused_loss_and_gradients;
pub use history::{EpochRecord, History};
pub use identity::ModelIdentity;
pub use params::{
    read_gradients, read_gradients_into, read_tensors, take_gradients_into, write_tensors,
    NamedTensor,
};
pub use run_dir::{RunLock, LOCK_FILE};
pub use state::{RngState, RunSettings, SettingOverride, TrainState};
pub use trainer::Trainer;

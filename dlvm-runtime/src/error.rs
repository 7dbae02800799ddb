//! The runtime's error type: every failure names the problem, where it is, and the fix.

use crate::data::DataError;
use crate::family::FamilyError;
use std::path::PathBuf;

/// The `Debug` form is the message itself, so that `fn main() -> Result<(), DlvmError>` prints
/// what is wrong and the fix rather than the variant's fields.
impl std::fmt::Debug for DlvmError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// Any error the runtime reports to a user.
#[derive(thiserror::Error)]
pub enum DlvmError {
    /// Reading or validating data failed.
    #[error(transparent)]
    Data(#[from] DataError),
    /// A family argument is invalid.
    #[error(transparent)]
    Family(#[from] FamilyError),
    /// A run-time setting is out of range.
    #[error("invalid setting `{parameter}`: {reason}")]
    Config {
        /// The setting, e.g. `batch_size`.
        parameter: &'static str,
        /// What is wrong and what is allowed.
        reason: String,
    },
    /// Training produced NaN or infinity.
    #[error(
        "training diverged at epoch {epoch}, batch {batch}: the {what} is {value}; \
         lower the learning rate or enable gradient clipping{}",
        checkpoint_hint(.checkpoint)
    )]
    NonFinite {
        /// 1-based epoch.
        epoch: usize,
        /// 0-based batch within the epoch.
        batch: usize,
        /// Which quantity, e.g. `loss`.
        what: &'static str,
        /// The offending value.
        value: f32,
        /// The last good checkpoint, if one was written.
        checkpoint: Option<PathBuf>,
    },
    /// A checkpoint could not be written or does not fit the model.
    #[error("checkpoint `{path}`: {reason}")]
    Checkpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// What went wrong and the fix.
        reason: String,
    },
    /// Writing an output file failed.
    #[error("cannot write `{path}`: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Writing a figure failed.
    #[error(transparent)]
    Plot(#[from] crate::plot::PlotError),
    /// The device failed (e.g. out of memory).
    #[error("device error: {0}")]
    Device(String),
    /// An output family failed the conformance suite.
    #[error(transparent)]
    Conformance(#[from] crate::family::conformance::ConformanceError),
    /// Training produced a NaN or infinite gradient, or an update that would make a parameter
    /// NaN or infinite; the model keeps its last finite parameters.
    #[error(
        "training diverged at epoch {epoch}, batch {batch}: the {what} of parameter `{parameter}` \
         (element {index}) is {value}; the model keeps its last finite parameters; lower the \
         learning rate or set `clip_grad_norm`{}",
        checkpoint_hint(.checkpoint)
    )]
    NonFiniteParameter {
        /// 1-based epoch.
        epoch: usize,
        /// 0-based batch within the epoch.
        batch: usize,
        /// `gradient` or `update`.
        what: &'static str,
        /// The tensor's name, e.g. `decoder.0.weight`.
        parameter: String,
        /// The element within the tensor (row-major).
        index: usize,
        /// The offending value.
        value: f32,
        /// The last good checkpoint or state file, if one was written.
        checkpoint: Option<PathBuf>,
    },
    /// A training state does not fit this run: another model, or other settings.
    #[error(
        "cannot resume from `{path}`: {reason}; resume with the model and settings of the \
         interrupted run, or start a new run without `resume`",
        path = .path.display()
    )]
    Resume {
        /// The state file.
        path: PathBuf,
        /// What differs, e.g. the setting `batch_size`: 40 saved, 50 given.
        reason: String,
    },
    /// A missingness mask does not have the shape of the data it is applied to.
    #[error(
        "the mask is {mask_rows} x {mask_cols} but the data is {data_rows} x {data_cols}; \
         build the mask for this data (e.g. `Mask::top_half(data.rows(), height, width)`)"
    )]
    MaskShape {
        /// Rows of the mask.
        mask_rows: usize,
        /// Columns of the mask.
        mask_cols: usize,
        /// Rows of the data.
        data_rows: usize,
        /// Columns of the data.
        data_cols: usize,
    },
    /// Two buffers that must describe the same entries have different lengths.
    #[error("`{what}` has {got} values but {expected} are needed; {fix}")]
    Length {
        /// The argument at fault.
        what: &'static str,
        /// The number of values needed.
        expected: usize,
        /// The number of values given.
        got: usize,
        /// How to fix it.
        fix: &'static str,
    },
    /// No nonparametric-mixture upper bound is available for the family.
    #[error("no nonparametric likelihood bound for the {family} family: {reason}")]
    NoNonparametricBound {
        /// The family's name.
        family: &'static str,
        /// Why, and what to do instead.
        reason: String,
    },
    /// A run directory cannot be used: it cannot be created or written, or another run holds
    /// its lock.
    #[error("run directory `{dir}`: {reason}", dir = .dir.display())]
    RunDirectory {
        /// The directory.
        dir: PathBuf,
        /// What is wrong and the fix.
        reason: String,
    },
    /// A new run would replace a saved run's files.
    #[error(
        "`{dir}` holds a saved run ({}); continue it with `Trainer::resume` (`--resume` in the \
         main job `mnist_vae`), replace it with `TrainConfig::overwrite` (`--overwrite` in the \
         examples), or write to another directory (`--out`)",
        file_names(.files),
        dir = .dir.display()
    )]
    RunExists {
        /// The directory.
        dir: PathBuf,
        /// The saved run's files found there.
        files: Vec<PathBuf>,
    },
    /// A likelihood estimate (ELBO, IWAE bound) came out NaN or infinite instead of a number.
    #[error(
        "the {quantity} of row {row} of `{data}` is {value}, not a finite number (the row's \
         largest magnitude is {largest:.3e}); {fix}"
    )]
    NonFiniteEstimate {
        /// The quantity, e.g. `ELBO` or `IWAE-5000 bound`.
        quantity: String,
        /// The data set's name.
        data: String,
        /// The first row whose value is not finite.
        row: usize,
        /// That row's value (NaN or an infinity).
        value: f64,
        /// The largest absolute value in that row, which tells an overflow from a divergence.
        largest: f64,
        /// The likely fix.
        fix: &'static str,
    },
}

fn file_names(files: &[PathBuf]) -> String {
    let names: Vec<String> = files
        .iter()
        .map(|f| match f.file_name() {
            Some(name) => format!("`{}`", name.to_string_lossy()),
            None => format!("`{}`", f.display()),
        })
        .collect();
    names.join(", ")
}

/// The advice of [`DlvmError::NonFiniteEstimate`].
pub(crate) const NON_FINITE_ESTIMATE_FIX: &str =
    "the model's densities overflowed: rescale the data to moderate values (e.g. standardise \
     each column, or divide by its largest magnitude) and retrain (a Gaussian without a floor: \
     also declare `xi`); if the data are moderate, the parameters diverged: load an earlier \
     checkpoint";

fn checkpoint_hint(checkpoint: &Option<PathBuf>) -> String {
    match checkpoint {
        Some(path) => format!(
            "; this run's last good file is `{}`: resume its training state with a lower \
             learning rate or clipping as an explicit override (`TrainConfig::step_override`, \
             `--resume --step-override` in `mnist_vae`), or load its checkpoint into a new run",
            path.display()
        ),
        None => String::new(),
    }
}

/// Shorthand for results of the runtime.
pub type Result<T, E = DlvmError> = std::result::Result<T, E>;

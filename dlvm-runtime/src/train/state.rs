//! The full state of a training run (parameters, Adam's moments and step, the RNG, the epoch,
//! the history and early-stopping bookkeeping) in one checksummed file, written atomically.
//!
//! Format: the magic `DLVMSTATE1\n`, a little-endian `u64` header length, a JSON header
//! ([`Header`]), the tensors' values as little-endian `f32` in header order, and a CRC-32 of
//! everything before it (little-endian `u32`). A torn or corrupted file fails the checksum.

use super::adam::AdamState;
use super::atomic::write_atomically;
use super::fingerprint::DataFingerprint;
use super::params::NamedTensor;
use super::History;
use crate::error::{DlvmError, Result};
use rand::SeedableRng;
use rand_chacha::ChaCha12Rng;
use std::path::Path;

fn one_worker() -> usize {
    1
}

const MAGIC: &[u8; 11] = b"DLVMSTATE1\n";

/// The settings a resumed run must share with the interrupted one to give the same numbers.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunSettings {
    /// Seed of shuffling and noise.
    pub seed: u64,
    /// Points per minibatch.
    pub batch_size: usize,
    /// Adam's step size.
    pub learning_rate: f64,
    /// Adam's `(β₁, β₂)`.
    pub betas: [f64; 2],
    /// Whether the data is reshuffled every epoch.
    pub shuffle: bool,
    /// Gradient-norm clipping threshold.
    pub clip_grad_norm: Option<f64>,
    /// Early-stopping patience.
    pub patience: Option<usize>,
    /// Rows of the training data.
    pub train_rows: usize,
    /// Data-parallel workers (the order of the gradient sum depends on it); files written
    /// before this setting existed were written with one.
    #[serde(default = "one_worker")]
    pub workers: usize,
}

/// The exact state of the run's random number generator (ChaCha12).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RngState {
    /// The 32-byte key.
    pub seed: [u8; 32],
    /// The stream number.
    pub stream: u64,
    /// The position in the stream, in 32-bit words.
    pub word_pos: u128,
}

impl RngState {
    /// Captures `rng`'s state.
    pub fn capture(rng: &ChaCha12Rng) -> Self {
        Self {
            seed: rng.get_seed(),
            stream: rng.get_stream(),
            word_pos: rng.get_word_pos(),
        }
    }

    /// A generator in exactly this state: it continues the captured sequence.
    pub fn restore(&self) -> ChaCha12Rng {
        let mut rng = ChaCha12Rng::from_seed(self.seed);
        rng.set_stream(self.stream);
        rng.set_word_pos(self.word_pos);
        rng
    }
}

/// A setting changed on resume by an explicit override
/// ([`TrainConfig::step_override`](super::TrainConfig::step_override)).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SettingOverride {
    /// The first epoch trained with the new value.
    pub from_epoch: usize,
    /// The setting, e.g. `learning_rate`.
    pub setting: String,
    /// The value before, as written in the state (e.g. `0.001`, `None`).
    pub was: String,
    /// The value from `from_epoch` on.
    pub now: String,
}

/// Everything needed to continue a training run as if it had never stopped.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainState {
    /// The model's declared name.
    pub model: String,
    /// Epochs completed.
    pub epoch: usize,
    /// The run's settings.
    pub settings: RunSettings,
    /// The RNG after the last completed epoch.
    pub rng: RngState,
    /// The records of the completed epochs.
    pub history: History,
    /// Best validation ELBO so far (early stopping).
    pub best_score: Option<f64>,
    /// Epochs since the best one.
    pub since_best: usize,
    /// The model's tensors.
    pub params: Vec<NamedTensor>,
    /// Adam's step count and moments.
    pub adam: AdamState,
    /// The best model's tensors under early stopping (empty otherwise).
    pub best: Vec<NamedTensor>,
    /// The training data's shape and hash (`None` in files written before it was recorded).
    pub data: Option<DataFingerprint>,
    /// The settings changed on resume, in order (empty for a run never overridden).
    pub overrides: Vec<SettingOverride>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Header {
    model: String,
    epoch: usize,
    settings: RunSettings,
    rng_seed: Vec<u8>,
    rng_stream: u64,
    rng_word_pos: String,
    history: History,
    best_score: Option<f64>,
    since_best: usize,
    adam_step: u64,
    tensors: Vec<TensorEntry>,
    #[serde(default)]
    data: Option<DataFingerprint>,
    #[serde(default)]
    overrides: Vec<SettingOverride>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct TensorEntry {
    group: String,
    name: String,
    shape: Vec<usize>,
    trainable: bool,
    len: usize,
}

const GROUPS: [&str; 4] = ["model", "moment1", "moment2", "best"];

impl TrainState {
    fn groups(&self) -> [&[NamedTensor]; 4] {
        [
            &self.params,
            &self.adam.moment1,
            &self.adam.moment2,
            &self.best,
        ]
    }

    /// Writes the state to `path` atomically (temporary file, flush and sync, rename, directory
    /// sync): a process killed mid-write leaves the previous file intact.
    ///
    /// # Errors
    /// [`DlvmError::Checkpoint`] naming the failed step.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let bytes = self
            .encode()
            .map_err(|reason| checkpoint_error(path, reason))?;
        write_atomically(path, |out| out.write_all(&bytes))
            .map_err(|reason| checkpoint_error(path, reason))
    }

    /// Reads a state written by [`save`](Self::save), verifying its checksum.
    ///
    /// # Errors
    /// [`DlvmError::Checkpoint`]: the file is missing, not a training state, truncated or
    /// corrupt (checksum mismatch), or malformed.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| {
            checkpoint_error(
                path,
                format!(
                    "cannot read it ({e}); check the path or train with `TrainConfig::state` set"
                ),
            )
        })?;
        Self::decode(&bytes).map_err(|reason| checkpoint_error(path, reason))
    }

    /// The state as bytes (see the module documentation for the format).
    fn encode(&self) -> std::result::Result<Vec<u8>, String> {
        let mut tensors = Vec::new();
        for (group, list) in GROUPS.iter().zip(self.groups()) {
            tensors.extend(list.iter().map(|t| TensorEntry {
                group: (*group).to_string(),
                name: t.name.clone(),
                shape: t.shape.clone(),
                trainable: t.trainable,
                len: t.values.len(),
            }));
        }
        let header = Header {
            model: self.model.clone(),
            epoch: self.epoch,
            settings: self.settings.clone(),
            rng_seed: self.rng.seed.to_vec(),
            rng_stream: self.rng.stream,
            rng_word_pos: self.rng.word_pos.to_string(),
            history: self.history.clone(),
            best_score: self.best_score,
            since_best: self.since_best,
            adam_step: self.adam.step,
            tensors,
            data: self.data.clone(),
            overrides: self.overrides.clone(),
        };
        let json = serde_json::to_vec(&header).map_err(|e| format!("cannot encode: {e}"))?;
        let values: usize = self
            .groups()
            .iter()
            .flat_map(|g| g.iter())
            .map(|t| t.values.len())
            .sum();
        let mut out = Vec::with_capacity(MAGIC.len() + 8 + json.len() + 4 * values + 4);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(json.len() as u64).to_le_bytes());
        out.extend_from_slice(&json);
        for tensor in self.groups().iter().flat_map(|g| g.iter()) {
            out.extend(tensor.values.iter().flat_map(|v| v.to_le_bytes()));
        }
        let mut crc = flate2::Crc::new();
        crc.update(&out);
        out.extend_from_slice(&crc.sum().to_le_bytes());
        Ok(out)
    }

    /// Parses and verifies bytes written by [`encode`](Self::encode).
    fn decode(bytes: &[u8]) -> std::result::Result<Self, String> {
        let corrupt =
            "is truncated or corrupt (checksum mismatch); it was not written completely: \
                       use an earlier state file or start training again";
        if !bytes.starts_with(MAGIC) {
            return Err(
                "is not a dlvm training state (wrong magic bytes); pass a file written \
                        with `TrainConfig::state`"
                    .into(),
            );
        }
        let body_len = bytes.len().checked_sub(4).ok_or(corrupt)?;
        let (body, crc_bytes) = bytes.split_at(body_len);
        let mut crc = flate2::Crc::new();
        crc.update(body);
        if crc_bytes != crc.sum().to_le_bytes() {
            return Err(corrupt.into());
        }
        let rest = &body[MAGIC.len()..];
        let len_bytes: [u8; 8] = rest
            .get(..8)
            .and_then(|b| b.try_into().ok())
            .ok_or(corrupt)?;
        let json_len = usize::try_from(u64::from_le_bytes(len_bytes)).map_err(|_| corrupt)?;
        let json = rest
            .get(8..8usize.saturating_add(json_len))
            .ok_or(corrupt)?;
        let header: Header =
            serde_json::from_slice(json).map_err(|e| format!("has a malformed header ({e})"))?;
        let payload = &rest[8 + json_len..];
        Self::from_parts(header, payload)
    }

    fn from_parts(header: Header, payload: &[u8]) -> std::result::Result<Self, String> {
        let needed = header
            .tensors
            .iter()
            .try_fold(0usize, |acc, t| acc.checked_add(t.len.checked_mul(4)?))
            .ok_or("announces tensors too large to exist")?;
        if needed != payload.len() {
            return Err(format!(
                "announces {needed} bytes of tensor data but holds {}; it is corrupt",
                payload.len()
            ));
        }
        let mut groups: [Vec<NamedTensor>; 4] = Default::default();
        let mut offset = 0;
        for entry in header.tensors {
            let slot = GROUPS
                .iter()
                .position(|g| *g == entry.group)
                .ok_or_else(|| format!("has an unknown tensor group `{}`", entry.group))?;
            let raw = &payload[offset..offset + 4 * entry.len];
            offset += 4 * entry.len;
            groups[slot].push(NamedTensor {
                name: entry.name,
                shape: entry.shape,
                trainable: entry.trainable,
                values: raw
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
            });
        }
        let seed: [u8; 32] = header
            .rng_seed
            .as_slice()
            .try_into()
            .map_err(|_| "has an RNG seed that is not 32 bytes")?;
        let word_pos = header
            .rng_word_pos
            .parse()
            .map_err(|_| "has a malformed RNG position")?;
        let [params, moment1, moment2, best] = groups;
        Ok(Self {
            model: header.model,
            epoch: header.epoch,
            settings: header.settings,
            rng: RngState {
                seed,
                stream: header.rng_stream,
                word_pos,
            },
            history: header.history,
            best_score: header.best_score,
            since_best: header.since_best,
            params,
            adam: AdamState {
                step: header.adam_step,
                moment1,
                moment2,
            },
            best,
            data: header.data,
            overrides: header.overrides,
        })
    }
}

fn checkpoint_error(path: &Path, reason: impl Into<String>) -> DlvmError {
    DlvmError::Checkpoint {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngCore;

    fn state() -> TrainState {
        let mut rng = ChaCha12Rng::seed_from_u64(5);
        rng.next_u64();
        let w = NamedTensor {
            name: "decoder.weight".into(),
            shape: vec![2, 2],
            trainable: true,
            values: vec![1.0, -2.5, f32::MIN_POSITIVE, 3.0e38],
        };
        TrainState {
            model: "Tiny".into(),
            epoch: 3,
            settings: RunSettings {
                seed: 5,
                batch_size: 10,
                learning_rate: 1e-3,
                betas: [0.9, 0.999],
                shuffle: true,
                clip_grad_norm: Some(1.0),
                patience: None,
                train_rows: 100,
                workers: 1,
            },
            rng: RngState::capture(&rng),
            // Values whose shortest decimal form a non-correctly-rounded parser reads back one
            // unit in the last place off (found by the two-worker resume test).
            history: History {
                epochs: vec![super::super::EpochRecord {
                    epoch: 1,
                    train_elbo: f64::from_bits(13_844_929_539_878_997_197),
                    valid_elbo: Some(f64::from_bits(13_843_815_038_796_567_675)),
                    seconds: 0.1 + 0.2,
                    samples_per_sec: 1.0 / 3.0,
                }],
                best_epoch: Some(1),
                stopped_early: false,
            },
            best_score: Some(-1.25),
            since_best: 1,
            params: vec![w.clone()],
            adam: AdamState {
                step: 30,
                moment1: vec![w.clone()],
                moment2: vec![w],
            },
            best: Vec::new(),
            data: Some(DataFingerprint {
                rows: 100,
                cols: 2,
                hash: "0123456789abcdef".into(),
            }),
            overrides: vec![SettingOverride {
                from_epoch: 3,
                setting: "learning_rate".into(),
                was: "0.001".into(),
                now: "0.0001".into(),
            }],
        }
    }

    #[test]
    fn a_state_round_trips_exactly_and_its_rng_continues() {
        let original = state();
        let decoded = TrainState::decode(&original.encode().unwrap()).unwrap();
        assert_eq!(decoded, original);
        let mut rng = ChaCha12Rng::seed_from_u64(5);
        rng.next_u64();
        assert_eq!(decoded.rng.restore().next_u64(), rng.next_u64());
    }

    #[test]
    fn every_truncation_and_bit_flip_is_detected() {
        let bytes = state().encode().unwrap();
        for cut in 0..bytes.len() {
            assert!(TrainState::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        for i in 0..bytes.len() {
            let mut flipped = bytes.clone();
            flipped[i] ^= 0x10;
            assert!(TrainState::decode(&flipped).is_err(), "flip at {i}");
        }
    }
}

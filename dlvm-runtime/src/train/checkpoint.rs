//! Checkpoints: safetensors files that record the model's identity and a checksum, written
//! atomically.
//!
//! Format: a standard safetensors file (little-endian `u64` header length, JSON header, the
//! tensors' `F32` values) whose header's `__metadata__` holds
//!
//! - `format`: `dlvm-checkpoint-1`;
//! - `dlvm.identity`: the model's [`ModelIdentity`] as JSON (name, family, dimensions, widths
//!   and activations);
//! - `dlvm.crc32`: the CRC-32 of the whole file, computed with these eight hex digits written as
//!   `00000000`.
//!
//! Other safetensors readers load the file as usual. [`load_checkpoint`] verifies the checksum
//! (a torn or flipped byte is reported as corrupt), the identity (a checkpoint of another model
//! is refused, even one with the same tensor shapes), each tensor's name, shape and finiteness,
//! and only then changes the model. Files without this metadata (written by dlvm before
//! checkpoints carried it, or by another tool) are refused with a message saying so.

use super::atomic::write_atomically;
use super::identity::ModelIdentity;
use super::params::{read_tensors, write_tensors, NamedTensor};
use crate::error::{DlvmError, Result};
use crate::model::Dlvm;
use dfdx::prelude::*;
use serde_json::{json, Map, Value};
use std::path::Path;

const FORMAT: &str = "dlvm-checkpoint-1";
const CRC_KEY: &str = "dlvm.crc32";
const IDENTITY_KEY: &str = "dlvm.identity";
const PLACEHOLDER: &str = "00000000";

/// Saves the model's parameters to `path` (safetensors, with the model's identity and a
/// checksum; see the module documentation) atomically: the file is written to a temporary
/// sibling, flushed to disk, then renamed over `path` and the directory synced, so a crash
/// mid-write leaves the previous checkpoint intact.
///
/// # Errors
/// [`DlvmError::Checkpoint`] when the directory is not writable or the disk is full.
pub fn save_checkpoint<M: Dlvm<D>, D: Device<f32>>(
    model: &M,
    path: impl AsRef<Path>,
) -> Result<()> {
    let path = path.as_ref();
    let tensors = read_tensors(model).map_err(|e| {
        checkpoint_error(path, format!("cannot read the model's parameters: {e:?}"))
    })?;
    let bytes = encode(&tensors, &ModelIdentity::of::<M, D>());
    write_atomically(path, |out| out.write_all(&bytes)).map_err(|r| checkpoint_error(path, r))
}

/// Loads parameters saved by [`save_checkpoint`] into `model`; on any error the model is left
/// unchanged.
///
/// # Errors
/// [`DlvmError::Checkpoint`] when the file is missing or unreadable; truncated or corrupt
/// (checksum mismatch); not a dlvm checkpoint; written by another model (the message gives both
/// models' descriptions: name, family, widths, activations) or with other tensor names or
/// shapes; or holding a NaN or infinite parameter (the message names the tensor).
pub fn load_checkpoint<M: Dlvm<D>, D: Device<f32>>(
    model: &mut M,
    path: impl AsRef<Path>,
) -> Result<()> {
    let path = path.as_ref();
    if !path.is_file() {
        return Err(checkpoint_error(
            path,
            "no such file; train a model first or check the path",
        ));
    }
    let bytes =
        std::fs::read(path).map_err(|e| checkpoint_error(path, format!("cannot read it ({e})")))?;
    let own = read_tensors(model).map_err(|e| {
        checkpoint_error(path, format!("cannot read the model's parameters: {e:?}"))
    })?;
    let tensors = decode::<M, D>(&bytes, &own).map_err(|r| checkpoint_error(path, r))?;
    let mut candidate = model.clone();
    write_tensors(&mut candidate, &tensors, false).map_err(|r| checkpoint_error(path, r))?;
    *model = candidate;
    Ok(())
}

/// The file's bytes: header length, header (padded with spaces to a multiple of 8 bytes, as
/// safetensors writers do), values; then the checksum written into the header.
fn encode(tensors: &[NamedTensor], identity: &ModelIdentity) -> Vec<u8> {
    let mut header = Map::new();
    let mut offset = 0usize;
    for t in tensors {
        let end = offset + 4 * t.values.len();
        header.insert(
            t.name.clone(),
            json!({ "dtype": "F32", "shape": t.shape, "data_offsets": [offset, end] }),
        );
        offset = end;
    }
    let identity = serde_json::to_string(identity).unwrap_or_default();
    let mut metadata = Map::new();
    metadata.insert("format".into(), FORMAT.into());
    metadata.insert(IDENTITY_KEY.into(), identity.into());
    metadata.insert(CRC_KEY.into(), PLACEHOLDER.into());
    header.insert("__metadata__".into(), Value::Object(metadata));
    let mut text = Value::Object(header).to_string();
    while !text.len().is_multiple_of(8) {
        text.push(' ');
    }
    let mut out = Vec::with_capacity(8 + text.len() + offset);
    out.extend_from_slice(&(text.len() as u64).to_le_bytes());
    out.extend_from_slice(text.as_bytes());
    for t in tensors {
        out.extend(t.values.iter().flat_map(|v| v.to_le_bytes()));
    }
    let at = crc_position(&out[8..8 + text.len()], PLACEHOLDER)
        .map(|i| i + 8)
        .unwrap_or_else(|| unreachable!("the header holds the placeholder it was built with"));
    let crc = crc32(&out);
    out[at..at + 8].copy_from_slice(format!("{crc:08x}").as_bytes());
    out
}

/// Verifies `bytes` and returns the tensors of `own`'s names and shapes, in its order.
fn decode<M: Dlvm<D>, D: Device<f32>>(
    bytes: &[u8],
    own: &[NamedTensor],
) -> std::result::Result<Vec<NamedTensor>, String> {
    let corrupt = "is truncated or corrupt (checksum mismatch or unreadable header); it was not \
                   written completely or was damaged: use another copy or train again";
    let header_len = bytes
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_le_bytes)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or(corrupt)?;
    let data_start = header_len.checked_add(8).ok_or(corrupt)?;
    let header_bytes = bytes.get(8..data_start).ok_or(corrupt)?;
    let header: Map<String, Value> = serde_json::from_slice(header_bytes).map_err(|_| corrupt)?;
    let metadata = header.get("__metadata__").and_then(Value::as_object);
    let recorded = metadata
        .and_then(|m| m.get(CRC_KEY))
        .and_then(Value::as_str)
        .ok_or(
            "carries no dlvm checksum or model identity: it is corrupt, or was written by an \
             older dlvm or by another tool; use a checkpoint saved by this version, or train again",
        )?;
    verify_crc(bytes, header_bytes, recorded).ok_or(corrupt)?;
    check_identity::<M, D>(metadata.and_then(|m| m.get(IDENTITY_KEY)))?;
    let data = &bytes[data_start..];
    let tensors = own
        .iter()
        .map(|mine| read_tensor(&header, data, mine))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let stored = header.keys().filter(|k| *k != "__metadata__").count();
    if stored != own.len() {
        return Err(format!(
            "holds {stored} tensors but model `{}` has {}",
            M::NAME,
            own.len()
        ));
    }
    Ok(tensors)
}

/// Checks the recorded checksum against the file's bytes with the recorded digits zeroed.
fn verify_crc(bytes: &[u8], header: &[u8], recorded: &str) -> Option<()> {
    let expected = u32::from_str_radix(recorded, 16).ok()?;
    if recorded.len() != 8 {
        return None;
    }
    let at = crc_position(header, recorded)? + 8;
    let mut crc = flate2::Crc::new();
    crc.update(&bytes[..at]);
    crc.update(PLACEHOLDER.as_bytes());
    crc.update(&bytes[at + PLACEHOLDER.len()..]);
    (crc.sum() == expected).then_some(())
}

/// The position within `header` of the checksum's eight digits `digits`.
fn crc_position(header: &[u8], digits: &str) -> Option<usize> {
    let needle = format!("\"{CRC_KEY}\":\"{digits}\"");
    let at = header
        .windows(needle.len())
        .position(|w| w == needle.as_bytes())?;
    Some(at + needle.len() - 1 - digits.len())
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = flate2::Crc::new();
    crc.update(bytes);
    crc.sum()
}

/// Refuses a checkpoint of another model, describing both.
fn check_identity<M: Dlvm<D>, D: Device<f32>>(
    stored: Option<&Value>,
) -> std::result::Result<(), String> {
    let own = ModelIdentity::of::<M, D>();
    let stored: ModelIdentity = stored
        .and_then(Value::as_str)
        .and_then(|s| serde_json::from_str(s).ok())
        .ok_or_else(|| {
            format!(
                "does not fit model `{}`: it records no readable model identity",
                M::NAME
            )
        })?;
    if stored != own {
        return Err(format!(
            "does not fit model `{}`: it was written by {stored}, but this is {own}; load a \
             checkpoint of this model",
            M::NAME
        ));
    }
    Ok(())
}

/// Reads the tensor `mine.name` of `mine.shape`, refusing NaN and infinite values.
fn read_tensor(
    header: &Map<String, Value>,
    data: &[u8],
    mine: &NamedTensor,
) -> std::result::Result<NamedTensor, String> {
    let name = &mine.name;
    let entry = header
        .get(name)
        .ok_or_else(|| format!("has no tensor `{name}`"))?;
    let shape: Option<Vec<usize>> = entry
        .get("shape")
        .and_then(|s| serde_json::from_value(s.clone()).ok());
    if shape.as_ref() != Some(&mine.shape) {
        return Err(format!(
            "holds tensor `{name}` with shape {shape:?}, but the model's is {:?}",
            mine.shape
        ));
    }
    let offsets: Option<[usize; 2]> = entry
        .get("data_offsets")
        .and_then(|s| serde_json::from_value(s.clone()).ok());
    let raw = match (entry.get("dtype").and_then(Value::as_str), offsets) {
        (Some("F32"), Some([begin, end]))
            if end.checked_sub(begin) == Some(4 * mine.values.len()) =>
        {
            data.get(begin..end)
        }
        _ => None,
    }
    .ok_or_else(|| format!("holds tensor `{name}` with a malformed entry; it is corrupt"))?;
    let values: Vec<f32> = raw
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    if let Some((index, value)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(format!(
            "tensor `{name}` holds the non-finite value {value} at element {index}; the model it \
             was saved from had diverged: load an earlier checkpoint or train again"
        ));
    }
    Ok(NamedTensor {
        name: name.clone(),
        shape: mine.shape.clone(),
        trainable: mine.trainable,
        values,
    })
}

fn checkpoint_error(path: &Path, reason: impl Into<String>) -> DlvmError {
    DlvmError::Checkpoint {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

//! Data loading and validation.
//!
//! - [`read_npy`] / [`parse_npy`] read NumPy `.npy` arrays (versions 1.0,
//!   2.0, 3.0; dtypes `|u1`, `<f4`, `<f8`), gzip-compressed or not, as `f32`.
//! - [`write_npy_f32`] and the `encode_npy_*` functions write `.npy` arrays
//!   (for tests and tools).
//! - [`Dataset`] holds a non-empty row-major matrix, one example per row,
//!   and checks it against a model (width, finiteness, support).
//! - [`DataError`] explains every failure: what, where (file, row, column)
//!   and how to fix it.

mod dataset;
mod error;
mod npy;

pub use dataset::Dataset;
pub use error::DataError;
pub use npy::{
    encode_npy_f32, encode_npy_f64, encode_npy_u8, parse_npy, read_npy, write_npy_f32, NpyArray,
};

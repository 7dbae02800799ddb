//! Errors raised while reading, writing and checking data sets.
//!
//! Every message names the problem, where it happened (file, row, column)
//! and how to fix it. Rows and columns are counted from 0, as in NumPy.

use std::path::PathBuf;

/// The `Debug` form is the message itself, so that `fn main() -> Result<(), DataError>` prints
/// what is wrong and the fix rather than the variant's fields.
impl std::fmt::Debug for DataError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// An error raised while loading, writing or validating a data set.
#[derive(thiserror::Error)]
pub enum DataError {
    /// The file could not be read (missing, unreadable, ...).
    #[error("cannot read `{}`: {source}; check that the path is correct and the file is readable", path.display())]
    Io {
        /// The file that could not be read.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },

    /// The file could not be written (or its directory could not be created).
    #[error("cannot write `{}`: {source}; check that the directory is writable and the disk is not full", path.display())]
    WriteIo {
        /// The file that could not be written.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },

    /// The file starts like gzip but its compressed stream is truncated or corrupt.
    #[error("cannot decompress `{}`: {source}; the gzip stream is truncated or corrupt, download or write the file again (`gzip -t` checks it)", path.display())]
    Gzip {
        /// The gzip file.
        path: PathBuf,
        /// The decompression error.
        source: std::io::Error,
    },

    /// The (decompressed) file does not start with the `.npy` magic bytes.
    #[error("`{}` is not a NumPy .npy file (it does not start with the magic bytes \\x93NUMPY); save the array with `numpy.save` (gzip-compressing the result is allowed)", path.display())]
    NotNpy {
        /// The offending file.
        path: PathBuf,
    },

    /// The `.npy` header is malformed, incomplete or of an unsupported version.
    #[error("`{}` has an invalid or unsupported .npy header: {reason}; save the array again with `numpy.save`", path.display())]
    Header {
        /// The offending file.
        path: PathBuf,
        /// What is wrong with the header.
        reason: String,
    },

    /// The array is stored in Fortran (column-major) order.
    #[error("`{}` stores its array in Fortran (column-major) order, which is not supported; save it again in C order with `numpy.save(path, numpy.ascontiguousarray(x))`", path.display())]
    FortranOrder {
        /// The offending file.
        path: PathBuf,
    },

    /// The array's element type is not one of `|u1`, `<f4`, `<f8`.
    #[error("`{}` has dtype `{dtype}`, which is not supported (supported: |u1, <f4, <f8, little-endian); convert it in NumPy, e.g. `numpy.save(path, x.astype('<f4'))`", path.display())]
    UnsupportedDtype {
        /// The offending file.
        path: PathBuf,
        /// The dtype description found in the header.
        dtype: String,
    },

    /// The file holds fewer data bytes than its header announces.
    #[error("`{}` is truncated: its header announces {expected_bytes} bytes of array data but only {found_bytes} follow; the file is incomplete, download or write it again", path.display())]
    Truncated {
        /// The offending file.
        path: PathBuf,
        /// Bytes of array data announced by the header.
        expected_bytes: usize,
        /// Bytes of array data actually present.
        found_bytes: usize,
    },

    /// The array is not 2-dimensional.
    #[error("`{}` holds an array of shape {shape:?}, but a data set needs a 2-d array (one row per example, one column per variable; a 1-d array is ambiguous); reshape it in NumPy, e.g. `x.reshape(len(x), -1)`, and save it again", path.display())]
    Shape {
        /// The offending file.
        path: PathBuf,
        /// The shape found in the file.
        shape: Vec<usize>,
    },

    /// The data set has no rows.
    #[error("data set `{source_name}` has no rows; a data set needs at least one example, check the file or the row limit")]
    Empty {
        /// Human label of the data set (file path or caller-given name).
        source_name: String,
    },

    /// The data set's number of columns differs from the model's observed variable size.
    #[error("data set `{source_name}` has {found} columns but the model's observed variable has {expected}; use data with {expected} values per row or change the size of the observed variable in the model")]
    Width {
        /// Human label of the data set.
        source_name: String,
        /// Columns the model expects.
        expected: usize,
        /// Columns the data set has.
        found: usize,
    },

    /// A value is NaN or infinite.
    #[error("value {value} at row {row}, column {column} (0-based) of `{source_name}` is not finite (NaN or infinity); remove or replace it (training and evaluation need complete rows; to fill in missing values with a trained model, mark them in a `Mask`, e.g. `Mask::from_nan`, and run an imputation sampler, docs/imputation.md)")]
    NonFinite {
        /// Human label of the data set.
        source_name: String,
        /// Row of the value (0-based).
        row: usize,
        /// Column of the value (0-based).
        column: usize,
        /// The offending value.
        value: f32,
    },

    /// An entry that an imputation's mask marks observed is NaN or infinite.
    #[error("value {value} at row {row}, column {column} (0-based) of `{source_name}` is not finite, but the imputation's mask marks it observed; mark it missing in the mask (`Mask::from_nan(&data)` marks every NaN missing) or replace it with a value")]
    ObservedNonFinite {
        /// Human label of the data set.
        source_name: String,
        /// Row of the value (0-based).
        row: usize,
        /// Column of the value (0-based).
        column: usize,
        /// The offending value.
        value: f32,
    },

    /// A value lies outside the support of the model's output family.
    #[error("value {value} at row {row}, column {column} (0-based) of `{source_name}` is outside the support of the {family} family ({support}); transform the data (e.g. binarize or rescale it) or choose a family whose support contains it")]
    OutOfSupport {
        /// Human label of the data set.
        source_name: String,
        /// Row of the value (0-based).
        row: usize,
        /// Column of the value (0-based).
        column: usize,
        /// The offending value.
        value: f32,
        /// Name of the output family, e.g. `Bernoulli`.
        family: String,
        /// Human description of the support, e.g. `{0, 1}`.
        support: String,
    },

    /// A flat buffer's length does not match `rows * cols`.
    #[error("data buffer has {len} values but {rows} rows x {cols} columns need {}; pass a buffer of exactly rows * cols values in row-major order", rows.saturating_mul(*cols))]
    Length {
        /// Requested number of rows.
        rows: usize,
        /// Requested number of columns.
        cols: usize,
        /// Length of the buffer given.
        len: usize,
    },

    /// An array to be written has a length that does not match its shape.
    #[error("cannot write `{}`: shape {shape:?} needs {expected} values but {len} were given; pass data whose length is the product of the shape", path.display())]
    WriteShape {
        /// The file that was to be written.
        path: PathBuf,
        /// The requested shape.
        shape: Vec<usize>,
        /// Number of values the shape needs (saturated on overflow).
        expected: usize,
        /// Number of values given.
        len: usize,
    },

    /// A row index is outside the data set.
    #[error("row {row} requested from `{source_name}`, which has {rows} rows (0-based: 0..={}); pass row indices below {rows}", rows.saturating_sub(1))]
    RowOutOfRange {
        /// Human label of the data set.
        source_name: String,
        /// The requested row (0-based).
        row: usize,
        /// Rows the data set has.
        rows: usize,
    },

    /// The file holds more bytes than its header announces (e.g. a decompression bomb, or two
    /// arrays written into one file).
    #[error("`{}` holds more data than its header announces (shape {shape:?} needs {expected_bytes} bytes of array data and more follow); the file is corrupt or is not one array saved by `numpy.save`: write it again", path.display())]
    TrailingData {
        /// The offending file.
        path: PathBuf,
        /// The shape its header announces.
        shape: Vec<usize>,
        /// Bytes of array data the shape needs.
        expected_bytes: usize,
    },

    /// A `<f8` value is finite but beyond the range of `f32` (|x| > 3.4e38), in which the
    /// library computes.
    #[error("value {value:e} at index {index:?} (0-based) of `{}` is beyond the range of 32-bit floats (about ±3.4e38), in which dlvm computes; rescale the data (e.g. standardise each column) and save it again", path.display())]
    BeyondF32 {
        /// The offending file.
        path: PathBuf,
        /// The value's position in the array (one index per dimension).
        index: Vec<usize>,
        /// The value as stored.
        value: f64,
    },
}

//! An in-memory data set: a row-major matrix of `f32`, one example per row.

use std::path::Path;

use super::error::DataError;
use super::npy::read_npy;

/// A non-empty data set held in memory as a row-major `rows x cols` matrix
/// of `f32`, with a human-readable name used in error messages.
#[derive(Clone, Debug)]
pub struct Dataset {
    /// Human label: the file path or a name given by the caller.
    name: String,
    /// Number of examples (at least 1).
    rows: usize,
    /// Number of values per example.
    cols: usize,
    /// The values, row-major; `data.len() == rows * cols`.
    data: Vec<f32>,
}

impl Dataset {
    /// Loads a 2-d `.npy` file (gzip-compressed or not); the data set is
    /// named after the path.
    ///
    /// # Errors
    ///
    /// Every error of [`read_npy`], [`DataError::Shape`] if
    /// the array is not 2-d, and [`DataError::Empty`] if it has no rows.
    pub fn from_npy(path: impl AsRef<Path>) -> Result<Self, DataError> {
        let path = path.as_ref();
        let array = read_npy(path)?;
        let [rows, cols] = array.shape[..] else {
            return Err(DataError::Shape {
                path: path.to_path_buf(),
                shape: array.shape,
            });
        };
        Self::from_vec(path.display().to_string(), rows, cols, array.data)
    }

    /// Builds a data set from a row-major buffer of `rows * cols` values.
    ///
    /// # Errors
    ///
    /// [`DataError::Length`] if `data.len() != rows * cols`, and
    /// [`DataError::Empty`] if `rows == 0`.
    pub fn from_vec(
        name: impl Into<String>,
        rows: usize,
        cols: usize,
        data: Vec<f32>,
    ) -> Result<Self, DataError> {
        let name = name.into();
        if rows.checked_mul(cols) != Some(data.len()) {
            return Err(DataError::Length {
                rows,
                cols,
                len: data.len(),
            });
        }
        if rows == 0 {
            return Err(DataError::Empty { source_name: name });
        }
        Ok(Self {
            name,
            rows,
            cols,
            data,
        })
    }

    /// The data set's name (file path or caller-given label).
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Number of examples (rows); always at least 1.
    #[must_use]
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of values per example (columns).
    #[must_use]
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The values of example `i`.
    ///
    /// # Panics
    ///
    /// If `i >= self.rows()` (an internal indexing error, like slice indexing).
    #[must_use]
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// All values, row-major.
    #[must_use]
    pub fn as_slice(&self) -> &[f32] {
        &self.data
    }

    /// Applies `f` to every value, e.g. `|x| 1.0 - x` or `|x| x / 255.0`.
    #[must_use]
    pub fn map(mut self, f: impl Fn(f32) -> f32) -> Self {
        self.data.iter_mut().for_each(|v| *v = f(*v));
        self
    }

    /// Keeps the first `min(n, rows)` rows.
    ///
    /// ```
    /// # use dlvm_runtime::data::Dataset;
    /// let d = Dataset::from_vec("d", 3, 1, vec![0.0, 1.0, 2.0])?;
    /// assert_eq!(d.take(2)?.as_slice(), &[0.0, 1.0]);
    /// # Ok::<(), dlvm_runtime::data::DataError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`DataError::Empty`] if `n == 0` (a data set is never empty).
    pub fn take(mut self, n: usize) -> Result<Self, DataError> {
        if n == 0 {
            return Err(DataError::Empty {
                source_name: format!("{} (first 0 rows)", self.name),
            });
        }
        self.rows = n.min(self.rows);
        self.data.truncate(self.rows * self.cols);
        Ok(self)
    }

    /// The rows `indices`, in that order (repeats allowed), as a new data set named
    /// `name`.
    ///
    /// # Errors
    ///
    /// [`DataError::Empty`] if `indices` is empty, [`DataError::RowOutOfRange`] naming the
    /// first index `>= self.rows()`.
    pub fn select(&self, name: impl Into<String>, indices: &[usize]) -> Result<Self, DataError> {
        self.check_rows(indices)?;
        let mut data = Vec::new();
        self.gather(indices, &mut data);
        Self::from_vec(name, indices.len(), self.cols, data)
    }

    /// Splits the rows at random into two data sets of `first` and `rows - first` rows
    /// (e.g. train and test), reproducibly for a given `seed`: the rows are shuffled by a
    /// ChaCha12 stream seeded with `seed` (Fisher–Yates), and each part keeps the shuffled
    /// order. The parts are named `"<name> [part 1 of 2]"` and `"<name> [part 2 of 2]"`.
    ///
    /// ```
    /// # use dlvm_runtime::data::Dataset;
    /// let d = Dataset::from_vec("table", 10, 2, (0..20).map(|v| v as f32).collect())?;
    /// let (train, test) = d.split_random(8, 42)?;
    /// assert_eq!((train.rows(), test.rows()), (8, 2));
    /// # Ok::<(), dlvm_runtime::data::DataError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`DataError::Empty`] if `first` is 0 or at least `rows` (a part would be empty).
    pub fn split_random(&self, first: usize, seed: u64) -> Result<(Self, Self), DataError> {
        use rand::{seq::SliceRandom, SeedableRng};
        let empty = |part: &str| DataError::Empty {
            source_name: format!(
                "{} ({part} of a split of {} rows at {first})",
                self.name, self.rows
            ),
        };
        if first == 0 {
            return Err(empty("first part"));
        }
        if first >= self.rows {
            return Err(empty("second part"));
        }
        let mut order: Vec<usize> = (0..self.rows).collect();
        order.shuffle(&mut rand_chacha::ChaCha12Rng::seed_from_u64(seed));
        let (a, b) = order.split_at(first);
        Ok((
            self.select(format!("{} [part 1 of 2]", self.name), a)?,
            self.select(format!("{} [part 2 of 2]", self.name), b)?,
        ))
    }

    /// Copies the rows `indices` (in that order, repeats allowed) into `out`,
    /// clearing it first.
    ///
    /// # Panics
    ///
    /// If an index is `>= self.rows()`: indices are trusted internal indices.
    pub fn gather(&self, indices: &[usize], out: &mut Vec<f32>) {
        out.clear();
        out.reserve(indices.len() * self.cols);
        for &i in indices {
            out.extend_from_slice(self.row(i));
        }
    }

    /// Checks that every index in `indices` names a row of the data set.
    ///
    /// # Errors
    ///
    /// [`DataError::RowOutOfRange`] naming the first index `>= self.rows()`.
    pub fn check_rows(&self, indices: &[usize]) -> Result<(), DataError> {
        match indices.iter().find(|&&i| i >= self.rows) {
            Some(&row) => Err(DataError::RowOutOfRange {
                source_name: self.name.clone(),
                row,
                rows: self.rows,
            }),
            None => Ok(()),
        }
    }

    /// Checks that each row has `expected` values (the size of the model's
    /// observed variable).
    ///
    /// # Errors
    ///
    /// [`DataError::Width`] if `self.cols() != expected`.
    pub fn check_width(&self, expected: usize) -> Result<(), DataError> {
        if self.cols == expected {
            return Ok(());
        }
        Err(DataError::Width {
            source_name: self.name.clone(),
            expected,
            found: self.cols,
        })
    }

    /// Checks that no value is NaN or infinite.
    ///
    /// # Errors
    ///
    /// [`DataError::NonFinite`] naming the first offending value's row and column.
    pub fn check_finite(&self) -> Result<(), DataError> {
        match self.data.iter().position(|v| !v.is_finite()) {
            None => Ok(()),
            Some(index) => Err(self.non_finite(index, self.data[index])),
        }
    }

    /// Checks that every value lies in the support of an output family.
    /// `family` (e.g. `Bernoulli`) and `support` (e.g. `{0, 1}`) are used in
    /// the message; `in_support` decides membership.
    ///
    /// # Errors
    ///
    /// For the first offending value (row-major order):
    /// [`DataError::NonFinite`] if it is NaN or infinite, otherwise
    /// [`DataError::OutOfSupport`] naming its row and column.
    pub fn check_support(
        &self,
        family: &str,
        support: &str,
        in_support: impl Fn(f32) -> bool,
    ) -> Result<(), DataError> {
        let ok = |v: f32| v.is_finite() & in_support(v);
        // Whole blocks are checked without early exit (vectorisable); only a failing block is
        // searched for its first offending value.
        const BLOCK: usize = 4096;
        let Some((index, value)) = self
            .data
            .chunks(BLOCK)
            .enumerate()
            .find(|(_, block)| !block.iter().fold(true, |all, &v| all & ok(v)))
            .and_then(|(b, block)| {
                let i = block.iter().position(|&v| !ok(v))?;
                Some((b * BLOCK + i, block[i]))
            })
        else {
            return Ok(());
        };
        if !value.is_finite() {
            return Err(self.non_finite(index, value));
        }
        let (row, column) = self.position(index);
        Err(DataError::OutOfSupport {
            source_name: self.name.clone(),
            row,
            column,
            value,
            family: family.to_owned(),
            support: support.to_owned(),
        })
    }

    /// A [`DataError::NonFinite`] for `value`, found at flat `index`.
    fn non_finite(&self, index: usize, value: f32) -> DataError {
        let (row, column) = self.position(index);
        DataError::NonFinite {
            source_name: self.name.clone(),
            row,
            column,
            value,
        }
    }

    /// Row and column of the value at flat `index`.
    fn position(&self, index: usize) -> (usize, usize) {
        (index / self.cols, index % self.cols)
    }
}

#[cfg(test)]
mod tests {
    use super::super::npy::{encode_npy_f32, encode_npy_u8, write_npy_f32};
    use super::*;
    use std::path::PathBuf;

    fn temp_path(name: &str) -> PathBuf {
        std::env::temp_dir()
            .join(format!("dlvm-dataset-test-{}", std::process::id()))
            .join(name)
    }

    fn small() -> Dataset {
        Dataset::from_vec("small", 3, 2, vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]).unwrap()
    }

    #[test]
    fn from_vec_and_accessors() {
        let d = small();
        assert_eq!((d.name(), d.rows(), d.cols()), ("small", 3, 2));
        assert_eq!(d.row(1), &[2.0, 3.0]);
        assert_eq!(d.as_slice().len(), 6);
    }

    #[test]
    fn from_vec_rejects_bad_length_and_no_rows() {
        let err = Dataset::from_vec("x", 2, 3, vec![0.0; 5]).unwrap_err();
        assert!(
            matches!(
                err,
                DataError::Length {
                    rows: 2,
                    cols: 3,
                    len: 5
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("need 6"), "{err}");
        let err = Dataset::from_vec("x", usize::MAX, 2, vec![]).unwrap_err();
        assert!(matches!(err, DataError::Length { .. }), "{err}");
        let err = Dataset::from_vec("nothing", 0, 3, vec![]).unwrap_err();
        assert!(
            matches!(&err, DataError::Empty { source_name } if source_name == "nothing"),
            "{err}"
        );
    }

    #[test]
    fn from_npy_reads_two_d_files() {
        let path = temp_path("ok.npy");
        write_npy_f32(&path, &[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        let d = Dataset::from_npy(&path).unwrap();
        assert_eq!(d.name(), path.display().to_string());
        assert_eq!((d.rows(), d.cols()), (2, 3));
        assert_eq!(d.row(1), &[4.0, 5.0, 6.0]);
    }

    #[test]
    fn from_npy_rejects_other_ranks() {
        for shape in [vec![6], vec![1, 2, 3], vec![]] {
            let n = shape.iter().product();
            let path = temp_path(&format!("rank{}.npy", shape.len()));
            write_npy_f32(&path, &shape, &vec![0.5; n]).unwrap();
            match Dataset::from_npy(&path).unwrap_err() {
                DataError::Shape { shape: found, .. } => assert_eq!(found, shape),
                other => panic!("unexpected {other}"),
            }
        }
    }

    #[test]
    fn from_npy_rejects_empty() {
        let path = temp_path("empty.npy");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, encode_npy_u8(&[0, 784], &[])).unwrap();
        let err = Dataset::from_npy(&path).unwrap_err();
        assert!(matches!(err, DataError::Empty { .. }), "{err}");
        assert!(err.to_string().contains("empty.npy"), "{err}");
    }

    #[test]
    fn from_npy_propagates_read_errors() {
        let path = temp_path("big-endian.npy");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mut bytes = encode_npy_f32(&[1, 1], &[1.0]);
        let at = bytes.windows(3).position(|w| w == b"<f4").unwrap();
        bytes[at] = b'>';
        std::fs::write(&path, bytes).unwrap();
        let err = Dataset::from_npy(&path).unwrap_err();
        assert!(matches!(err, DataError::UnsupportedDtype { .. }), "{err}");
    }

    #[test]
    fn take_zero_is_an_error_not_one_row() {
        let err = small().take(0).unwrap_err();
        assert!(matches!(err, DataError::Empty { .. }), "{err}");
        assert!(err.to_string().contains("first 0 rows"), "{err}");
    }

    #[test]
    fn split_random_partitions_the_rows_reproducibly() {
        let d = Dataset::from_vec("d", 10, 1, (0..10).map(|v| v as f32).collect()).unwrap();
        let (a, b) = d.split_random(7, 3).unwrap();
        let (a2, _) = d.split_random(7, 3).unwrap();
        assert_eq!(a.as_slice(), a2.as_slice());
        let mut all: Vec<f32> = a.as_slice().iter().chain(b.as_slice()).copied().collect();
        assert_ne!(
            &all[..7],
            &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            "not shuffled"
        );
        all.sort_by(f32::total_cmp);
        assert_eq!(all, (0..10).map(|v| v as f32).collect::<Vec<_>>());
        assert!(d.split_random(0, 1).is_err() && d.split_random(10, 1).is_err());
        let err = d.select("s", &[1, 10]).unwrap_err();
        assert!(
            matches!(err, DataError::RowOutOfRange { row: 10, .. }),
            "{err}"
        );
    }

    #[test]
    fn map_take_gather() {
        let d = small().map(|x| 1.0 - x);
        assert_eq!(d.row(2), &[-3.0, -4.0]);
        let t = d.clone().take(2).unwrap();
        assert_eq!((t.rows(), t.as_slice().len()), (2, 4));
        assert_eq!(d.clone().take(100).unwrap().rows(), 3);
        let mut out = vec![99.0; 10];
        d.gather(&[2, 0, 2], &mut out);
        assert_eq!(out, vec![-3.0, -4.0, 1.0, 0.0, -3.0, -4.0]);
    }

    #[test]
    fn check_width_names_both_sizes() {
        let d = small();
        assert!(d.check_width(2).is_ok());
        let err = d.check_width(784).unwrap_err();
        assert!(
            matches!(
                err,
                DataError::Width {
                    expected: 784,
                    found: 2,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("has 2 columns"), "{err}");
    }

    #[test]
    fn check_finite_names_row_and_column() {
        assert!(small().check_finite().is_ok());
        let mut data = vec![0.0; 12];
        data[6] = f32::NAN;
        data[9] = f32::INFINITY;
        let d = Dataset::from_vec("nan.npy", 3, 4, data).unwrap();
        match d.check_finite().unwrap_err() {
            DataError::NonFinite {
                row, column, value, ..
            } => {
                assert_eq!((row, column), (1, 2));
                assert!(value.is_nan());
            }
            other => panic!("unexpected {other}"),
        }
        let err = d.check_finite().unwrap_err().to_string();
        assert!(
            err.contains("row 1, column 2") && err.contains("nan.npy"),
            "{err}"
        );
    }

    #[test]
    fn check_support_names_row_column_and_family() {
        let binary = |v: f32| v == 0.0 || v == 1.0;
        let mut data = vec![1.0; 8];
        data[5] = 0.5;
        data[7] = 3.0;
        let d = Dataset::from_vec("train.npy", 4, 2, data).unwrap();
        match d.check_support("Bernoulli", "{0, 1}", binary).unwrap_err() {
            DataError::OutOfSupport {
                row, column, value, ..
            } => {
                assert_eq!((row, column, value), (2, 1, 0.5));
            }
            other => panic!("unexpected {other}"),
        }
        let msg = d
            .check_support("Bernoulli", "{0, 1}", binary)
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("row 2, column 1") && msg.contains("Bernoulli family ({0, 1})"),
            "{msg}"
        );
        let ok = Dataset::from_vec("ok", 1, 2, vec![0.0, 1.0]).unwrap();
        assert!(ok.check_support("Bernoulli", "{0, 1}", binary).is_ok());
    }

    #[test]
    fn check_support_reports_non_finite_values() {
        let d = Dataset::from_vec("inf", 1, 3, vec![0.0, f32::NEG_INFINITY, 0.5]).unwrap();
        let err = d
            .check_support("Gaussian", "all reals", |_| true)
            .unwrap_err();
        assert!(
            matches!(
                err,
                DataError::NonFinite {
                    row: 0,
                    column: 1,
                    ..
                }
            ),
            "{err}"
        );
    }
}

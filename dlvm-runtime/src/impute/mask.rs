//! Missingness masks: which entries of a `(rows, cols)` data matrix are missing.

use crate::data::Dataset;
use crate::error::{DlvmError, Result};
use rand::{rngs::StdRng, Rng, SeedableRng};

/// A row-major `(rows, cols)` boolean matrix: `true` marks a missing entry.
///
/// ```
/// use dlvm_runtime::impute::Mask;
/// // Two 2x2 images whose top row is missing.
/// let mask = Mask::top_half(2, 2, 2)?;
/// assert_eq!(mask.missing(), &[true, true, false, false, true, true, false, false]);
/// assert_eq!(mask.count_missing(), 4);
/// # Ok::<(), dlvm_runtime::DlvmError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mask {
    rows: usize,
    cols: usize,
    missing: Vec<bool>,
}

impl Mask {
    /// An explicit mask from a row-major buffer (`true` = missing).
    ///
    /// # Errors
    /// [`DlvmError::Length`] when `missing.len() != rows * cols`.
    pub fn from_bools(rows: usize, cols: usize, missing: Vec<bool>) -> Result<Self> {
        let expected = rows.saturating_mul(cols);
        if missing.len() != expected {
            return Err(DlvmError::Length {
                what: "missing",
                expected,
                got: missing.len(),
                fix: "give one flag per entry, row-major (rows * cols flags)",
            });
        }
        Ok(Self {
            rows,
            cols,
            missing,
        })
    }

    /// The mask of the NaN entries of `data`: NaN reads as missing.
    ///
    /// # Formula
    /// `missing[i, j] = data[i, j].is_nan()`
    pub fn from_nan(data: &Dataset) -> Self {
        Self {
            rows: data.rows(),
            cols: data.cols(),
            missing: data.as_slice().iter().map(|v| v.is_nan()).collect(),
        }
    }

    /// The top `height / 2` rows of every `height x width` image missing (`rows` images).
    ///
    /// # Errors
    /// [`DlvmError::Config`] when `height` or `width` is 0.
    pub fn top_half(rows: usize, height: usize, width: usize) -> Result<Self> {
        Self::image_rows(rows, height, width, |r| r < height / 2)
    }

    /// The bottom `height - height / 2` rows of every `height x width` image missing.
    ///
    /// # Errors
    /// [`DlvmError::Config`] when `height` or `width` is 0.
    pub fn bottom_half(rows: usize, height: usize, width: usize) -> Result<Self> {
        Self::image_rows(rows, height, width, |r| r >= height / 2)
    }

    /// Missing completely at random: each entry missing independently with probability `rate`.
    ///
    /// # Errors
    /// [`DlvmError::Config`] when `rate` is not in `[0, 1]`.
    pub fn mcar(rows: usize, cols: usize, rate: f64, seed: u64) -> Result<Self> {
        if !(0.0..=1.0).contains(&rate) {
            return Err(DlvmError::Config {
                parameter: "rate",
                reason: format!("the missing rate must be in [0, 1], got {rate}"),
            });
        }
        let mut rng = StdRng::seed_from_u64(seed);
        let missing = (0..rows * cols).map(|_| rng.gen::<f64>() < rate).collect();
        Ok(Self {
            rows,
            cols,
            missing,
        })
    }

    fn image_rows(
        rows: usize,
        height: usize,
        width: usize,
        is_missing_row: impl Fn(usize) -> bool,
    ) -> Result<Self> {
        if height == 0 || width == 0 {
            return Err(DlvmError::Config {
                parameter: "height/width",
                reason: format!("an image needs height and width >= 1, got {height} x {width}"),
            });
        }
        let image: Vec<bool> = (0..height * width)
            .map(|k| is_missing_row(k / width))
            .collect();
        let missing = (0..rows).flat_map(|_| image.iter().copied()).collect();
        Ok(Self {
            rows,
            cols: height * width,
            missing,
        })
    }

    /// Number of rows (data points).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns (coordinates per point).
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The row-major flags, `true` = missing.
    pub fn missing(&self) -> &[bool] {
        &self.missing
    }

    /// The flags of row `i`, `None` when `i >= rows()`.
    pub fn row(&self, i: usize) -> Option<&[bool]> {
        self.missing.get(i * self.cols..(i + 1) * self.cols)
    }

    /// The flags of row `i < rows()` (callers iterate over `0..rows()`).
    pub(crate) fn row_flags(&self, i: usize) -> &[bool] {
        &self.missing[i * self.cols..(i + 1) * self.cols]
    }

    /// Number of missing entries.
    pub fn count_missing(&self) -> usize {
        self.missing.iter().filter(|&&m| m).count()
    }

    /// Checks that the mask has the shape `(rows, cols)` of some data.
    ///
    /// # Errors
    /// [`DlvmError::MaskShape`] naming both shapes.
    pub fn check_shape(&self, rows: usize, cols: usize) -> Result<()> {
        if self.rows == rows && self.cols == cols {
            Ok(())
        } else {
            Err(DlvmError::MaskShape {
                mask_rows: self.rows,
                mask_cols: self.cols,
                data_rows: rows,
                data_cols: cols,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halves_of_a_3x2_image_split_after_the_first_row() {
        // height 3: top half = row 0 (3 / 2 = 1 row), bottom half = rows 1 and 2.
        let top = Mask::top_half(1, 3, 2).unwrap();
        assert_eq!(top.missing(), &[true, true, false, false, false, false]);
        let bottom = Mask::bottom_half(2, 3, 2).unwrap();
        assert_eq!(bottom.rows(), 2);
        assert_eq!(
            bottom.row(1).unwrap(),
            &[false, false, true, true, true, true]
        );
        assert_eq!(bottom.count_missing(), 8);
        assert_eq!(bottom.row(2), None);
    }

    #[test]
    fn nan_entries_read_as_missing() {
        let data = Dataset::from_vec("d", 2, 2, vec![0.0, f32::NAN, f32::NAN, 1.0]).unwrap();
        assert_eq!(Mask::from_nan(&data).missing(), &[false, true, true, false]);
    }

    #[test]
    fn mcar_rate_is_respected_and_seeded() {
        let a = Mask::mcar(100, 100, 0.3, 7).unwrap();
        assert_eq!(a, Mask::mcar(100, 100, 0.3, 7).unwrap());
        assert_ne!(a, Mask::mcar(100, 100, 0.3, 8).unwrap());
        // 10 000 Bernoulli(0.3) flags: sd of the count is sqrt(10000 * 0.3 * 0.7) ≈ 45.8; 4 sd.
        let count = a.count_missing() as f64;
        assert!((count - 3000.0).abs() < 4.0 * 45.83, "{count}");
        assert_eq!(Mask::mcar(3, 3, 0.0, 1).unwrap().count_missing(), 0);
        assert_eq!(Mask::mcar(3, 3, 1.0, 1).unwrap().count_missing(), 9);
    }

    #[test]
    fn bad_shapes_and_rates_are_typed_errors() {
        assert!(matches!(
            Mask::from_bools(2, 2, vec![true; 3]),
            Err(DlvmError::Length {
                expected: 4,
                got: 3,
                ..
            })
        ));
        let mask = Mask::top_half(2, 2, 2).unwrap();
        let err = mask.check_shape(3, 4).unwrap_err();
        assert!(matches!(
            err,
            DlvmError::MaskShape {
                mask_rows: 2,
                data_rows: 3,
                ..
            }
        ));
        assert!(err.to_string().contains("2 x 4"), "{err}");
        assert!(mask.check_shape(2, 4).is_ok());
        assert!(matches!(
            Mask::mcar(1, 1, 1.5, 0),
            Err(DlvmError::Config { .. })
        ));
        assert!(matches!(
            Mask::top_half(1, 0, 3),
            Err(DlvmError::Config { .. })
        ));
    }
}

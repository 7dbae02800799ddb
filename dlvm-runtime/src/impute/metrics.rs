//! Scores of an imputation against the true values.
//!
//! # Binary data
//! Truth and imputation are read as binary with `b(v) = 1 if v >= 0.5 else 0`, so a draw, a
//! rounded mean or raw probabilities can be scored alike. Over a set of entries, count
//! `TP = #{b(truth) = 1, b(imputed) = 1}`, `FP = #{0, 1}`, `FN = #{1, 0}`, `TN = #{0, 0}`; then
//! - precision `= TP / (TP + FP)`, recall `= TP / (TP + FN)`,
//! - F1 `= 2 TP / (2 TP + FP + FN)` (the harmonic mean of precision and recall),
//! - accuracy `= (TP + TN) / (TP + FP + FN + TN)`,
//!
//! with `0 / 0 := 1` (nothing to find and nothing wrongly found is a perfect score).
//! Each score is reported four ways: over the *missing* entries or over the *whole* completed
//! vector (observed entries count as correct), and *pooled* (one count over all points' entries)
//! or *per point* (the score of each point, averaged over points; for the missing entries, over
//! the points that have at least one missing entry).
//!
//! # Continuous data
//! `MSE = (1/|M|) Σ_{(i,j) ∈ M} (imputed_ij - truth_ij)²` over the set `M` of missing entries,
//! `RMSE = √MSE`.

use super::mask::Mask;
use crate::error::{DlvmError, Result};

/// Confusion counts of binary values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Confusion {
    /// Truth 1, imputed 1.
    pub true_positive: u64,
    /// Truth 0, imputed 1.
    pub false_positive: u64,
    /// Truth 1, imputed 0.
    pub false_negative: u64,
    /// Truth 0, imputed 0.
    pub true_negative: u64,
}

fn ratio(num: u64, den: u64) -> f64 {
    if den == 0 {
        1.0
    } else {
        num as f64 / den as f64
    }
}

impl Confusion {
    /// Adds one pair of values, each read as `v >= 0.5`.
    pub fn add(&mut self, truth: f32, imputed: f32) {
        match (truth >= 0.5, imputed >= 0.5) {
            (true, true) => self.true_positive += 1,
            (false, true) => self.false_positive += 1,
            (true, false) => self.false_negative += 1,
            (false, false) => self.true_negative += 1,
        }
    }

    /// The four scores of these counts.
    ///
    /// # Formula
    /// See the [module documentation](self); `0 / 0 := 1`.
    pub fn scores(&self) -> BinaryScores {
        let (tp, fp, fn_, tn) = (
            self.true_positive,
            self.false_positive,
            self.false_negative,
            self.true_negative,
        );
        BinaryScores {
            f1: ratio(2 * tp, 2 * tp + fp + fn_),
            precision: ratio(tp, tp + fp),
            recall: ratio(tp, tp + fn_),
            accuracy: ratio(tp + tn, tp + fp + fn_ + tn),
        }
    }
}

/// F1, precision, recall and accuracy, each in `[0, 1]`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BinaryScores {
    /// `2 TP / (2 TP + FP + FN)`.
    pub f1: f64,
    /// `TP / (TP + FP)`.
    pub precision: f64,
    /// `TP / (TP + FN)`.
    pub recall: f64,
    /// `(TP + TN) / total`.
    pub accuracy: f64,
}

impl BinaryScores {
    fn add(self, o: Self) -> Self {
        Self {
            f1: self.f1 + o.f1,
            precision: self.precision + o.precision,
            recall: self.recall + o.recall,
            accuracy: self.accuracy + o.accuracy,
        }
    }

    fn scale(self, k: f64) -> Self {
        Self {
            f1: self.f1 * k,
            precision: self.precision * k,
            recall: self.recall * k,
            accuracy: self.accuracy * k,
        }
    }
}

/// Binary scores over the missing entries and over the whole vector, pooled and per point.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BinaryMetrics {
    /// One confusion count over all missing entries of all points.
    pub missing_pooled: BinaryScores,
    /// Per-point scores on the missing entries, averaged over points with a missing entry.
    pub missing_per_point: BinaryScores,
    /// One confusion count over all entries of all points.
    pub whole_pooled: BinaryScores,
    /// Per-point scores on all entries, averaged over all points.
    pub whole_per_point: BinaryScores,
}

/// MSE and RMSE over the missing entries.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ContinuousMetrics {
    /// `(1/|M|) Σ_{M} (imputed - truth)²` (0 when nothing is missing).
    pub mse: f64,
    /// `√MSE`.
    pub rmse: f64,
    /// `|M|`, the number of missing entries.
    pub count: usize,
}

fn check_lengths(truth: &[f32], imputed: &[f32], mask: &Mask) -> Result<()> {
    let expected = mask.missing().len();
    for (what, got) in [("truth", truth.len()), ("imputed", imputed.len())] {
        if got != expected {
            return Err(DlvmError::Length {
                what,
                expected,
                got,
                fix: "pass row-major (rows, cols) values of the shape of the mask",
            });
        }
    }
    Ok(())
}

/// Scores binary imputations: see the [module documentation](self) for the definitions.
///
/// # Errors
/// [`DlvmError::Length`] when `truth` or `imputed` does not have one value per mask entry.
pub fn binary_metrics(truth: &[f32], imputed: &[f32], mask: &Mask) -> Result<BinaryMetrics> {
    check_lengths(truth, imputed, mask)?;
    let cols = mask.cols().max(1);
    let (mut missing_all, mut whole_all) = (Confusion::default(), Confusion::default());
    let (mut missing_sum, mut whole_sum) = (BinaryScores::default(), BinaryScores::default());
    let mut points_with_missing = 0usize;
    for i in 0..mask.rows() {
        let (mut missing, mut whole) = (Confusion::default(), Confusion::default());
        let range = i * cols..(i + 1) * cols;
        for ((&t, &v), &m) in truth[range.clone()]
            .iter()
            .zip(&imputed[range])
            .zip(mask.row_flags(i))
        {
            whole.add(t, v);
            whole_all.add(t, v);
            if m {
                missing.add(t, v);
                missing_all.add(t, v);
            }
        }
        whole_sum = whole_sum.add(whole.scores());
        if mask.row_flags(i).contains(&true) {
            points_with_missing += 1;
            missing_sum = missing_sum.add(missing.scores());
        }
    }
    Ok(BinaryMetrics {
        missing_pooled: missing_all.scores(),
        missing_per_point: missing_sum.scale(1.0 / points_with_missing.max(1) as f64),
        whole_pooled: whole_all.scores(),
        whole_per_point: whole_sum.scale(1.0 / mask.rows().max(1) as f64),
    })
}

/// Scores continuous imputations by the mean squared error over the missing entries.
///
/// # Formula
/// `MSE = (1/|M|) Σ_{(i,j) ∈ M} (imputed_ij - truth_ij)²`, `RMSE = √MSE`, sums in f64.
///
/// # Errors
/// [`DlvmError::Length`] when `truth` or `imputed` does not have one value per mask entry.
pub fn continuous_metrics(
    truth: &[f32],
    imputed: &[f32],
    mask: &Mask,
) -> Result<ContinuousMetrics> {
    check_lengths(truth, imputed, mask)?;
    let (sum, count) = truth
        .iter()
        .zip(imputed)
        .zip(mask.missing())
        .filter(|(_, &m)| m)
        .fold((0.0f64, 0usize), |(s, c), ((&t, &v), _)| {
            (s + (f64::from(v) - f64::from(t)).powi(2), c + 1)
        });
    let mse = if count == 0 { 0.0 } else { sum / count as f64 };
    Ok(ContinuousMetrics {
        mse,
        rmse: mse.sqrt(),
        count,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn binary_scores_match_a_hand_count() {
        // Two points of 4 entries; the last two of each are missing.
        let mask = Mask::from_bools(
            2,
            4,
            vec![false, false, true, true, false, false, true, true],
        )
        .unwrap();
        let truth = [1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0];
        let imputed = [1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.7, 0.2];
        let m = binary_metrics(&truth, &imputed, &mask).unwrap();
        // Missing entries: point 0 (1,1) TP, (1,0) FN; point 1 (0,1) FP, (1,0) FN.
        // Pooled: TP 1, FP 1, FN 2, TN 0.
        assert!(close(m.missing_pooled.f1, 2.0 / 5.0));
        assert!(close(m.missing_pooled.precision, 0.5));
        assert!(close(m.missing_pooled.recall, 1.0 / 3.0));
        assert!(close(m.missing_pooled.accuracy, 0.25));
        // Per point: point 0 F1 2/3, precision 1, recall 1/2, accuracy 1/2;
        // point 1 F1 0, precision 0, recall 0, accuracy 0.
        assert!(close(m.missing_per_point.f1, 1.0 / 3.0));
        assert!(close(m.missing_per_point.precision, 0.5));
        assert!(close(m.missing_per_point.recall, 0.25));
        assert!(close(m.missing_per_point.accuracy, 0.25));
        // Whole: observed entries add TP 1, TN 3. Pooled TP 2, FP 1, FN 2, TN 3.
        assert!(close(m.whole_pooled.f1, 4.0 / 7.0));
        assert!(close(m.whole_pooled.accuracy, 5.0 / 8.0));
        // Whole per point: point 0 TP 2 FN 1 TN 1 -> F1 4/5; point 1 FP 1 FN 1 TN 2 -> F1 0.
        assert!(close(m.whole_per_point.f1, 0.4));
        assert!(close(m.whole_per_point.accuracy, (0.75 + 0.5) / 2.0));
    }

    #[test]
    fn nothing_to_find_and_nothing_found_is_perfect() {
        let mask = Mask::from_bools(1, 2, vec![true, true]).unwrap();
        let m = binary_metrics(&[0.0, 0.0], &[0.0, 0.1], &mask).unwrap();
        assert_eq!(m.missing_pooled.f1, 1.0);
        assert_eq!(m.missing_pooled.precision, 1.0);
        assert_eq!(m.missing_pooled.recall, 1.0);
    }

    #[test]
    fn mse_counts_missing_entries_only() {
        let mask = Mask::from_bools(1, 3, vec![true, false, true]).unwrap();
        let m = continuous_metrics(&[1.0, 2.0, 3.0], &[2.0, 100.0, 1.0], &mask).unwrap();
        assert_eq!(m.count, 2);
        assert!(close(m.mse, 2.5));
        assert!(close(m.rmse, 2.5f64.sqrt()));
    }

    #[test]
    fn wrong_lengths_are_typed_errors() {
        let mask = Mask::from_bools(1, 3, vec![true, false, true]).unwrap();
        let err = binary_metrics(&[1.0; 3], &[1.0; 2], &mask).unwrap_err();
        assert!(matches!(
            err,
            DlvmError::Length {
                what: "imputed",
                expected: 3,
                got: 2,
                ..
            }
        ));
        assert!(continuous_metrics(&[1.0; 4], &[1.0; 3], &mask).is_err());
    }
}

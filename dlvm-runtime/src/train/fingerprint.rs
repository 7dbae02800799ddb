//! A fingerprint of a training set, stored in the training state so that a run is resumed only
//! on the data it was trained on.

use crate::data::Dataset;

/// The shape of a data set and a 64-bit hash of its values.
///
/// # Formula
/// FNV-1a over the 32-bit words `rows`, `cols` (low and high halves) and the bits of every
/// value in row-major order, `h ← (h ⊕ w) · 0x100000001b3` from `h₀ = 0xcbf29ce484222325`,
/// finished by the SplitMix64 mixer. Any change of a value, of the row order or of the shape
/// changes it with probability about `1 − 2⁻⁶⁴`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DataFingerprint {
    /// Rows of the data.
    pub rows: usize,
    /// Values per row.
    pub cols: usize,
    /// The hash, as 16 hexadecimal digits.
    pub hash: String,
}

impl DataFingerprint {
    /// The fingerprint of `data`.
    pub fn of(data: &Dataset) -> Self {
        let (rows, cols) = (data.rows() as u64, data.cols() as u64);
        let words = [
            rows as u32,
            (rows >> 32) as u32,
            cols as u32,
            (cols >> 32) as u32,
        ]
        .into_iter()
        .chain(data.as_slice().iter().map(|v| v.to_bits()));
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for w in words {
            h = (h ^ u64::from(w)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        Self {
            rows: data.rows(),
            cols: data.cols(),
            hash: format!("{:016x}", mix(h)),
        }
    }
}

impl std::fmt::Display for DataFingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} x {} values, fingerprint {}",
            self.rows, self.cols, self.hash
        )
    }
}

/// SplitMix64's finaliser: spreads every input bit over the output.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_changed_value_or_swapped_rows_change_the_fingerprint() {
        let data = |v: Vec<f32>| Dataset::from_vec("d", 2, 2, v).unwrap();
        let base = DataFingerprint::of(&data(vec![0.0, 1.0, 1.0, 0.0]));
        assert_eq!(base, DataFingerprint::of(&data(vec![0.0, 1.0, 1.0, 0.0])));
        for other in [
            vec![0.0, 1.0, 1.0, 1.0],
            vec![1.0, 0.0, 0.0, 1.0],
            vec![-0.0, 1.0, 1.0, 0.0],
        ] {
            assert_ne!(base, DataFingerprint::of(&data(other)));
        }
        let wide = Dataset::from_vec("d", 1, 4, vec![0.0, 1.0, 1.0, 0.0]).unwrap();
        assert_ne!(base, DataFingerprint::of(&wide));
    }
}

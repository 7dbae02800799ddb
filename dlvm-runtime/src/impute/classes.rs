//! Class frequencies of the missing entries of a family of class labels (e.g. `Categorical`),
//! and the vote they give.

/// For each missing entry, the fraction of the retained draws that took each class: an
/// estimate of the posterior class probabilities `p(x_ij = k | x_obs)` (Metropolis-within-Gibbs;
/// pseudo-Gibbs' own stationary distribution otherwise).
///
/// # Formula
/// `frequency_ek = (1 / R) Σ_{retained t} [x_e,t = k]` for entry `e`, class `k`, over the `R`
/// retained draws (of every chain of the row when there are several).
#[derive(Debug, Clone, PartialEq)]
pub struct ClassFrequencies {
    /// Number of classes `C`.
    pub classes: usize,
    /// `(row, column)` of each missing entry, in row-major order.
    pub entries: Vec<(usize, usize)>,
    /// Row-major `(entries.len(), classes)`: the class frequencies of each entry (each row sums
    /// to 1).
    pub frequencies: Vec<f32>,
}

impl ClassFrequencies {
    /// The class frequencies of the entry at `row`, `column`; `None` when it is not missing.
    pub fn get(&self, row: usize, column: usize) -> Option<&[f32]> {
        let e = self.entries.binary_search(&(row, column)).ok()?;
        Some(self.of_entry(e))
    }

    /// The class frequencies of the `e`-th missing entry.
    pub fn of_entry(&self, e: usize) -> &[f32] {
        &self.frequencies[e * self.classes..(e + 1) * self.classes]
    }

    /// The most frequent class of the `e`-th missing entry (the lowest on ties): the vote of the
    /// retained draws.
    ///
    /// # Formula
    /// `vote_e = argmax_k frequency_ek`
    pub fn vote(&self, e: usize) -> usize {
        let f = self.of_entry(e);
        (1..self.classes).fold(0, |best, k| if f[k] > f[best] { k } else { best })
    }

    /// The frequencies averaged over `parts` of the same entries (independent chains of the
    /// same rows, each retaining as many draws).
    pub(crate) fn average(parts: &[ClassFrequencies]) -> Option<ClassFrequencies> {
        let first = parts.first()?;
        let scale = 1.0 / parts.len() as f32;
        let mut frequencies = vec![0.0; first.frequencies.len()];
        for part in parts {
            for (sum, &f) in frequencies.iter_mut().zip(&part.frequencies) {
                *sum += f * scale;
            }
        }
        Some(ClassFrequencies {
            classes: first.classes,
            entries: first.entries.clone(),
            frequencies,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_found_and_votes_take_the_lowest_of_tied_classes() {
        let f = ClassFrequencies {
            classes: 3,
            entries: vec![(0, 1), (2, 0)],
            frequencies: vec![0.5, 0.0, 0.5, 0.1, 0.7, 0.2],
        };
        assert_eq!(f.get(2, 0), Some(&[0.1, 0.7, 0.2][..]));
        assert_eq!(f.get(1, 1), None);
        assert_eq!((f.vote(0), f.vote(1)), (0, 1));
        let mean = ClassFrequencies::average(&[f.clone(), f.clone()]).unwrap();
        assert_eq!(mean, f);
    }
}

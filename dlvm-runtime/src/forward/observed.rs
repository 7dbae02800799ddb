//! What stays fixed along a sampler's run: the encoder's first layer at the points' observed
//! entries, and which coordinates of each point are missing.

use super::HostNetworks;

/// Some coordinates of each row, compressed: row `r`'s are `indices[starts[r]..starts[r + 1]]`,
/// increasing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct RowCoordinates {
    starts: Vec<usize>,
    indices: Vec<u32>,
}

impl RowCoordinates {
    /// The coordinates `j` with `flags[r · width + j]` set, for each row `r` of `flags`.
    ///
    /// # Panics
    /// When `width` is 0 or does not fit a `u32`, or `flags.len()` is not a multiple of it.
    pub(crate) fn from_flags(flags: &[bool], width: usize) -> Self {
        assert!(
            width > 0 && flags.len().is_multiple_of(width) && u32::try_from(width).is_ok(),
            "flags are not rows of {width}"
        );
        let mut coordinates = Self {
            starts: vec![0],
            indices: Vec::new(),
        };
        for row in flags.chunks_exact(width) {
            let set = row.iter().enumerate().filter(|(_, &f)| f);
            coordinates.indices.extend(set.map(|(j, _)| j as u32));
            coordinates.starts.push(coordinates.indices.len());
        }
        coordinates
    }

    /// Row `r`'s coordinates.
    pub(crate) fn row(&self, r: usize) -> &[u32] {
        &self.indices[self.starts[r]..self.starts[r + 1]]
    }

    /// The number of coordinates of the `n` rows from `first`.
    pub(crate) fn count(&self, first: usize, n: usize) -> usize {
        self.starts[first + n] - self.starts[first]
    }
}

/// The encoder's first layer at the observed entries of a run's points, with the points'
/// missing coordinates.
///
/// # Formula
/// `base_i = b₁ + Σ_{j observed} x_ij W₁[·, j]`: the layer's pre-activation at point `i` with
/// its missing entries set to 0, so that at any completion `x_i` the pre-activation is
/// `base_i + Σ_{j missing} x_ij W₁[·, j]`.
#[derive(Debug, Clone)]
pub(crate) struct ObservedPart {
    base: Vec<f32>,
    width: usize,
    missing: RowCoordinates,
}

/// The part of the rows `first..first + n` (see [`ObservedPart::rows`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ObservedRows<'a> {
    /// `base_i` of the rows, `n × h₁`.
    pub base: &'a [f32],
    /// The first row's number.
    pub first: usize,
    /// The missing coordinates of all the points.
    pub missing: &'a RowCoordinates,
}

impl ObservedPart {
    /// The part of `networks`' encoder at `x_observed` (the points, `p` values each, with 0 at
    /// their missing entries) whose missing coordinates are `missing`; `None` when the encoder
    /// has no hidden layer (its heads then read the data directly).
    pub(crate) fn new(
        networks: &HostNetworks,
        x_observed: &[f32],
        missing: RowCoordinates,
    ) -> Option<Self> {
        let n = x_observed.len() / networks.observed_dim().max(1);
        let base = networks.first_layer(x_observed, n);
        if base.is_empty() && n > 0 {
            return None;
        }
        Some(Self {
            width: base.len() / n.max(1),
            base,
            missing,
        })
    }

    /// The part of the `n` rows from `first`.
    pub(crate) fn rows(&self, first: usize, n: usize) -> ObservedRows<'_> {
        ObservedRows {
            base: &self.base[first * self.width..(first + n) * self.width],
            first,
            missing: &self.missing,
        }
    }
}

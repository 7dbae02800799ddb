//! Output families Φ(x | η): the densities a decoder's outputs parameterise.
//!
//! A family is a plain runtime type implementing [`OutputFamily`]. The `dlvm!` macro never looks
//! inside a family: it sizes the decoder's last layer from the associated constants
//! [`OutputFamily::PARAMS_PER_COORD`] and [`OutputFamily::PARAMS_PER_POINT`], builds the family value
//! through its [`OutputFamily::Builder`] (one builder method per DSL argument), and calls the trait's
//! methods. A family written in another crate therefore works in `dlvm!` exactly like a built-in one.
//!
//! # Raw decoder outputs
//! For `P` observed coordinates the decoder emits `P * PARAMS_PER_COORD + PARAMS_PER_POINT` numbers
//! per data point, laid out block by block: first the `P` values of parameter 0, then the `P` values
//! of parameter 1, ..., then the per-point parameters.

mod bernoulli;
mod builder;
mod categorical;
pub mod conformance;
mod continuous_bernoulli;
mod gaussian;
mod poisson;
pub mod special;
mod student_t;

pub use bernoulli::Bernoulli;
pub use builder::build_family;
pub use builder::{FamilyBuilder, NoArguments};
pub use categorical::{Categorical, ValidClassCount};
pub use continuous_bernoulli::ContinuousBernoulli;
pub use gaussian::{
    Diagonal, Floored, Gaussian, GaussianBuilder, Isotropic, NoFloor, Unconstrained,
    VarianceFloorChosen, VarianceStructure,
};
pub use poisson::Poisson;
pub use student_t::{StudentT, StudentTBuilder};

use dfdx::prelude::*;
use rand::RngCore;

/// The error a family's constructor or builder reports for an invalid argument.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid argument `{argument}` for the {family} family: {reason}")]
pub struct FamilyError {
    /// The family's name, e.g. `Gaussian`.
    pub family: &'static str,
    /// The DSL argument at fault, e.g. `xi`.
    pub argument: &'static str,
    /// What is wrong and how to fix it.
    pub reason: String,
}

/// The variance structure of a Gaussian family, see [`OutputFamily::gaussian_variance_floor`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GaussianFloor {
    /// The floor ξ on every variance; 0 when the family is unconstrained.
    pub xi: f64,
    /// Whether all coordinates share one variance (`σ² I`) rather than one each (`diag(σ_j²)`).
    pub isotropic: bool,
}

/// A density Φ(x | η) over one observed vector, parameterised by raw decoder outputs η.
///
/// Required: the two sizes, [`log_prob`](Self::log_prob) (differentiable, on the device),
/// [`sample_row`](Self::sample_row), [`mean_row`](Self::mean_row) and
/// [`in_support`](Self::in_support). The rest have defaults.
///
/// # Formula
/// `log Φ(x | η) = Σ_j log Φ_j(x_j | η)`: [`log_prob`](Self::log_prob) returns the per-coordinate
/// terms so that masks can select coordinates.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an output family",
    label = "not an output family",
    note = "an observed variable's family must implement `dlvm::family::OutputFamily`; built-in families are `Bernoulli`, `Gaussian`, `Categorical<C>`, `Poisson`, `StudentT` and `ContinuousBernoulli`; see docs/families.md to write your own"
)]
pub trait OutputFamily: Clone + std::fmt::Debug + Send + Sync + 'static {
    /// Name used in messages, e.g. `"Bernoulli"`.
    const NAME: &'static str;
    /// Decoder outputs per observed coordinate (Bernoulli: 1 logit; diagonal Gaussian: 2).
    const PARAMS_PER_COORD: usize;
    /// Decoder outputs per data point shared by all coordinates (isotropic Gaussian: 1).
    const PARAMS_PER_POINT: usize = 0;
    /// Whether the family is a discrete distribution (a probability mass function), so that
    /// `log Φ(x | η) <= 0` and the nonparametric maximum likelihood is the empirical distribution.
    const DISCRETE: bool = false;
    /// Whether the family can put all its mass on any single point of the data's support, in
    /// the limit: `sup_η Φ(x | η) = 1` for every `x` (Bernoulli and Categorical: a logit to
    /// `±∞`; not Poisson, whose mass at a count `x >= 1` is at most `e^{-x} x^x / x!`). Only
    /// then is the empirical distribution the *attained* nonparametric maximum of a
    /// [`DISCRETE`](Self::DISCRETE) family; otherwise it is only an upper bound.
    const POINT_MASSES: bool = false;
    /// The builder the DSL's family arguments are applied to (`xi = 0.01` calls `.xi(0.01)`).
    type Builder: Default;

    /// Number of raw decoder outputs for `p` observed coordinates.
    ///
    /// # Formula
    /// `width(p) = p * PARAMS_PER_COORD + PARAMS_PER_POINT`
    fn raw_width(p: usize) -> usize {
        p * Self::PARAMS_PER_COORD + Self::PARAMS_PER_POINT
    }

    /// Per-coordinate log-density `log Φ_j(x_j | η)`, shape `(batch, p)`, differentiable in `raw`.
    ///
    /// `raw` has shape `(batch, raw_width(p))`, `x` has shape `(batch, p)`.
    fn log_prob<D: Device<f32>, T: Tape<f32, D>>(
        &self,
        raw: Tensor<(usize, usize), f32, D, T>,
        x: Tensor<(usize, usize), f32, D>,
    ) -> Tensor<(usize, usize), f32, D, T>;

    /// `log Φ(x | η) = Σ_j log Φ_j(x_j | η)` per row, shape `(batch,)`, differentiable in `raw`:
    /// what the ELBO and the importance weights use. The default sums
    /// [`log_prob`](Self::log_prob); a family may fuse the two (Bernoulli does on the CPU).
    fn log_prob_rows<D: Device<f32>, T: Tape<f32, D>>(
        &self,
        raw: Tensor<(usize, usize), f32, D, T>,
        x: Tensor<(usize, usize), f32, D>,
    ) -> Tensor<(usize,), f32, D, T> {
        self.log_prob(raw, x).sum::<(usize,), Axis<1>>()
    }

    /// [`log_prob_rows`](Self::log_prob_rows) on host values, without a tape: `raw` is
    /// row-major `(rows, raw_width(p))`, `x` is `(rows, p)`, and `out[r] = log Φ(x_r | η_r)`
    /// for the `rows = out.len()` rows. What the samplers' likelihoods use. The default runs
    /// `log_prob_rows` on a CPU device; a family may compute it in place (Bernoulli does).
    fn log_prob_rows_host(&self, raw: &[f32], x: &[f32], p: usize, out: &mut [f32]) {
        let rows = out.len();
        let dev = Cpu::default();
        let raw = dev.tensor_from_vec(raw.to_vec(), (rows, Self::raw_width(p)));
        let x = dev.tensor_from_vec(x.to_vec(), (rows, p));
        self.log_prob_rows(raw, x).copy_into(out);
    }

    /// [`log_prob_rows_host`](Self::log_prob_rows_host) with its gradient in `raw`: `out[r] =
    /// log Φ(x_r | η_r)` and `grad[r·w + k] = ∂ log Φ(x_r | η_r) / ∂η_rk` (`w = raw_width(p)`,
    /// row-major like `raw`). What the fused CPU training pass uses. The default differentiates
    /// [`log_prob_rows`](Self::log_prob_rows) on a CPU device with dfdx's tape; a family may
    /// compute both in place (Bernoulli does: `x - σ(η)`).
    ///
    /// # Formula
    /// `grad_rk = ∂/∂η_rk Σ_j log Φ_j(x_rj | η_r)`
    fn log_prob_rows_with_gradient_host(
        &self,
        raw: &[f32],
        x: &[f32],
        p: usize,
        out: &mut [f32],
        grad: &mut [f32],
    ) {
        let rows = out.len();
        let dev = Cpu::default();
        let raw = dev.tensor_from_vec(raw.to_vec(), (rows, Self::raw_width(p)));
        let x = dev.tensor_from_vec(x.to_vec(), (rows, p));
        let sums = self.log_prob_rows(raw.leaky_trace(), x);
        sums.retaped::<NoneTape>().copy_into(out);
        let gradients = sums.sum().backward();
        gradients.get(&raw).copy_into(grad);
    }

    /// Draws `x ~ Φ(· | η)` for one point: `raw.len() == raw_width(out.len())`.
    fn sample_row(&self, raw: &[f32], rng: &mut dyn RngCore, out: &mut [f32]);

    /// Draws `x_j ~ Φ_j(· | η)` for the coordinates `j ∈ coordinates` only (increasing), and
    /// leaves the other entries of `x` as they are: what the imputation samplers use to redraw
    /// a point's missing entries. `raw.len() == raw_width(x.len())`; `scratch` is a buffer the
    /// call may use. The default draws the whole point with [`sample_row`](Self::sample_row)
    /// into `scratch` and copies the chosen entries, which is right for any family; a family
    /// whose coordinates are independent given `η` may draw only the chosen ones (Bernoulli
    /// does). The conformance suite checks the draws' moments and that the other entries stay.
    fn sample_coordinates(
        &self,
        raw: &[f32],
        coordinates: &[u32],
        rng: &mut dyn RngCore,
        x: &mut [f32],
        scratch: &mut Vec<f32>,
    ) {
        scratch.resize(x.len(), 0.0);
        self.sample_row(raw, rng, scratch);
        for &j in coordinates {
            x[j as usize] = scratch[j as usize];
        }
    }

    /// The mean `E[x | η]` for one point: `raw.len() == raw_width(out.len())`.
    fn mean_row(&self, raw: &[f32], out: &mut [f32]);

    /// The variance `Var[x_j | η]` of each coordinate for one point, if the family provides it:
    /// writes `out` and returns `true`; the default writes nothing and returns `false`.
    /// `raw.len() == raw_width(out.len())`. The conformance suite checks it against the density.
    ///
    /// # Formula
    /// `out_j = E[(x_j - E[x_j | η])² | η]`
    fn variance_row(&self, raw: &[f32], out: &mut [f32]) -> bool {
        let _ = (raw, out);
        false
    }

    // Single imputations of class labels (issue 16, item 12): what the imputation samplers
    // report as a point imputation and whether draws are votes rather than numbers to average.

    /// `Some(C)` when the family's values are unordered class labels `0, 1, …, C - 1`, so that
    /// an average of draws means nothing: the imputation samplers then count the draws of each
    /// class per missing entry (their class frequencies) and vote (the most frequent class)
    /// instead of averaging. The default, `None`, suits every family whose values are numbers.
    fn class_count(&self) -> Option<usize> {
        None
    }

    /// The single imputation of one point from its parameters η: the value that stands for
    /// `Φ(· | η)` when one value must be chosen. `raw.len() == raw_width(out.len())`. The
    /// default is the mean, [`mean_row`](Self::mean_row) (the imputation samplers round it
    /// for a discrete family); a family of class labels returns the most probable class
    /// (Categorical does), since the mean of class indices can be a class of probability 0.
    ///
    /// # Formula
    /// default: `x̂_j = E[x_j | η]`; class labels: `x̂_j = argmax_k Φ_j(k | η)` (lowest `k` on ties)
    fn point_row(&self, raw: &[f32], out: &mut [f32]) {
        self.mean_row(raw, out)
    }

    /// Whether `x` is in the support of one coordinate's density.
    fn in_support(&self, x: f32) -> bool;

    /// The support in words, for error messages, e.g. `"{0, 1}"`.
    fn support_description(&self) -> &'static str {
        "the real line"
    }

    /// An upper bound on `log Φ_j(x_j | η)` over all η, per coordinate, if one exists.
    ///
    /// # Formula
    /// Bernoulli: `0`; Gaussian with floor ξ: `-½ log(2π ξ)`; unconstrained Gaussian: none.
    fn log_density_bound(&self) -> Option<f64> {
        None
    }

    /// `Some` when `Φ(· | η)` is a Gaussian `N(μ, Σ)` over the coordinates whose covariance is
    /// diagonal with every variance `>= xi` (`xi = 0`: no floor), and every such Gaussian (up to
    /// limits) is reachable: what the nonparametric mixture bound needs. The default is `None`.
    fn gaussian_variance_floor(&self) -> Option<GaussianFloor> {
        None
    }

    /// Checks a raw-output width: `Err` with a message when `raw_width` does not fit `p`.
    fn check_width(raw_width: usize, p: usize) -> Result<(), String> {
        let want = Self::raw_width(p);
        if raw_width == want {
            Ok(())
        } else {
            Err(format!(
                "{} expects {want} decoder outputs for {p} coordinates, got {raw_width}",
                Self::NAME
            ))
        }
    }
}

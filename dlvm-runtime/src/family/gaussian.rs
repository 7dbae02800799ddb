//! The Gaussian family with a variance floor ξ, isotropic or diagonal.

use super::{FamilyBuilder, FamilyError, OutputFamily};
use dfdx::prelude::*;
use rand::RngCore;
use rand_distr::{Distribution, StandardNormal};
use std::marker::PhantomData;

const LN_2PI: f32 = 1.837_877_1;

/// How the variance is parameterised: one value per coordinate or one per data point.
pub trait VarianceStructure: Copy + Default + std::fmt::Debug + Send + Sync + 'static {
    /// Name used in messages.
    const NAME: &'static str;
    /// Raw variance outputs per coordinate.
    const PER_COORD: usize;
    /// Raw variance outputs per data point.
    const PER_POINT: usize;

    /// The raw variance pre-activations `s`, broadcast to shape `(batch, p)`.
    fn variance_logits<D: Device<f32>, T: Tape<f32, D>>(
        raw: Tensor<(usize, usize), f32, D, T>,
        p: usize,
    ) -> Tensor<(usize, usize), f32, D, T>;

    /// The raw variance pre-activation of coordinate `j` of one point.
    fn variance_logit(raw: &[f32], p: usize, j: usize) -> f32;
}

/// One variance per coordinate: `Σ(z) = diag(ξ + exp(s_1(z)), ..., ξ + exp(s_p(z)))`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Diagonal;

/// One variance per data point, as in the talk: `Σ(z) = (ξ + exp(αᵀh(z) + β)) I_p`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Isotropic;

impl VarianceStructure for Diagonal {
    const NAME: &'static str = "diagonal";
    const PER_COORD: usize = 1;
    const PER_POINT: usize = 0;

    fn variance_logits<D: Device<f32>, T: Tape<f32, D>>(
        raw: Tensor<(usize, usize), f32, D, T>,
        p: usize,
    ) -> Tensor<(usize, usize), f32, D, T> {
        raw.slice((.., p..2 * p))
    }

    fn variance_logit(raw: &[f32], p: usize, j: usize) -> f32 {
        raw[p + j]
    }
}

impl VarianceStructure for Isotropic {
    const NAME: &'static str = "isotropic";
    const PER_COORD: usize = 0;
    const PER_POINT: usize = 1;

    fn variance_logits<D: Device<f32>, T: Tape<f32, D>>(
        raw: Tensor<(usize, usize), f32, D, T>,
        p: usize,
    ) -> Tensor<(usize, usize), f32, D, T> {
        let batch = raw.shape().0;
        let column = raw.slice((.., p..p + 1)).reshape_like(&(batch,));
        column.broadcast_like::<_, Axis<1>>(&(batch, p))
    }

    fn variance_logit(raw: &[f32], p: usize, _j: usize) -> f32 {
        raw[p]
    }
}

/// `x_j ~ N(μ_j(z), σ_j²(z))` with `σ_j² = ξ + exp(s_j(z))`.
///
/// Raw outputs: `p` means, then the variance pre-activations (`p` for [`Diagonal`], 1 for
/// [`Isotropic`]). `ξ > 0` is the variance floor that keeps the likelihood bounded
/// (Mattei & Frellsen 2018); `ξ = 0` is the explicitly [`Unconstrained`] model.
///
/// # Formula
/// `log Φ(x_j | η) = -½ (log 2π + log σ_j² + (x_j - μ_j)² / σ_j²) <= -½ log(2π ξ)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gaussian<S: VarianceStructure = Diagonal> {
    xi: f32,
    structure: PhantomData<S>,
}

impl<S: VarianceStructure> Gaussian<S> {
    /// A Gaussian family with variance floor `xi`.
    ///
    /// # Errors
    /// `xi` must be finite and `> 0`; use [`Gaussian::unconstrained`] for no floor.
    pub fn with_floor(xi: f32) -> Result<Self, FamilyError> {
        if xi.is_finite() && xi > 0.0 {
            Ok(Self {
                xi,
                structure: PhantomData,
            })
        } else {
            Err(FamilyError {
                family: "Gaussian",
                argument: "xi",
                reason: format!(
                    "the variance floor must be a finite number > 0, got {xi}; \
                     write `unconstrained` to drop the floor on purpose"
                ),
            })
        }
    }

    /// The Gaussian without a variance floor: its likelihood is unbounded above.
    pub fn unconstrained() -> Self {
        Self {
            xi: 0.0,
            structure: PhantomData,
        }
    }

    /// The variance floor ξ (0 when unconstrained).
    pub fn xi(&self) -> f32 {
        self.xi
    }

    fn variance(&self, logit: f32) -> f32 {
        self.xi + logit.exp()
    }
}

impl<S: VarianceStructure> OutputFamily for Gaussian<S> {
    const NAME: &'static str = "Gaussian";
    const PARAMS_PER_COORD: usize = 1 + S::PER_COORD;
    const PARAMS_PER_POINT: usize = S::PER_POINT;
    type Builder = GaussianBuilder<S, NoFloor>;

    fn log_prob<D: Device<f32>, T: Tape<f32, D>>(
        &self,
        raw: Tensor<(usize, usize), f32, D, T>,
        x: Tensor<(usize, usize), f32, D>,
    ) -> Tensor<(usize, usize), f32, D, T> {
        let p = x.shape().1;
        let mean = raw.with_empty_tape().slice((.., 0..p));
        let variance = S::variance_logits(raw, p).exp() + self.xi;
        let log_variance = variance.with_empty_tape().ln();
        let scaled = (mean - x).square() / variance;
        ((scaled + log_variance) + LN_2PI) * -0.5
    }

    fn sample_row(&self, raw: &[f32], rng: &mut dyn RngCore, out: &mut [f32]) {
        let p = out.len();
        for (j, o) in out.iter_mut().enumerate() {
            let sd = self.variance(S::variance_logit(raw, p, j)).sqrt();
            let eps: f32 = StandardNormal.sample(rng);
            *o = raw[j] + sd * eps;
        }
    }

    fn mean_row(&self, raw: &[f32], out: &mut [f32]) {
        let p = out.len();
        out.copy_from_slice(&raw[..p]);
    }

    fn in_support(&self, x: f32) -> bool {
        x.is_finite()
    }

    fn support_description(&self) -> &'static str {
        "finite real numbers"
    }

    fn gaussian_variance_floor(&self) -> Option<super::GaussianFloor> {
        Some(super::GaussianFloor {
            xi: f64::from(self.xi),
            isotropic: S::PER_POINT == 1,
        })
    }

    fn log_density_bound(&self) -> Option<f64> {
        (self.xi > 0.0).then(|| -0.5 * (2.0 * std::f64::consts::PI * f64::from(self.xi)).ln())
    }
}

/// Builder state: no variance floor chosen yet (not buildable).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoFloor;
/// Builder state: a floor `xi` was given.
#[derive(Debug, Clone, Copy, Default)]
pub struct Floored;
/// Builder state: `unconstrained` was given.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unconstrained;

/// Builder states in which a Gaussian may be built.
#[diagnostic::on_unimplemented(
    message = "a `Gaussian` output needs a variance floor: write `xi = 0.01` (or `ξ = 0.01`)",
    label = "this Gaussian has no variance floor",
    note = "without a floor the likelihood of a Gaussian DLVM is unbounded above (Mattei & Frellsen 2018), so maximum likelihood is ill-posed",
    note = "to drop the floor on purpose (e.g. to study the unboundedness), write `unconstrained`"
)]
pub trait VarianceFloorChosen {
    /// Whether the floor was dropped on purpose.
    const UNCONSTRAINED: bool;
}
impl VarianceFloorChosen for Floored {
    const UNCONSTRAINED: bool = false;
}
impl VarianceFloorChosen for Unconstrained {
    const UNCONSTRAINED: bool = true;
}

/// DSL builder of [`Gaussian`]: arguments `xi = VALUE` (alias `ξ`) or `unconstrained`.
#[derive(Debug, Clone, Copy)]
pub struct GaussianBuilder<S, F> {
    xi: f32,
    state: PhantomData<(S, F)>,
}

impl<S> Default for GaussianBuilder<S, NoFloor> {
    fn default() -> Self {
        Self {
            xi: 0.0,
            state: PhantomData,
        }
    }
}

impl<S> GaussianBuilder<S, NoFloor> {
    /// Sets the variance floor ξ > 0.
    pub fn xi(self, xi: f32) -> GaussianBuilder<S, Floored> {
        GaussianBuilder {
            xi,
            state: PhantomData,
        }
    }

    /// Drops the variance floor: the likelihood becomes unbounded above.
    pub fn unconstrained(self) -> GaussianBuilder<S, Unconstrained> {
        GaussianBuilder {
            xi: 0.0,
            state: PhantomData,
        }
    }
}

impl<S: VarianceStructure, F: VarianceFloorChosen> FamilyBuilder for GaussianBuilder<S, F> {
    type Family = Gaussian<S>;

    fn build(self) -> Result<Gaussian<S>, FamilyError> {
        if F::UNCONSTRAINED {
            Ok(Gaussian::unconstrained())
        } else {
            Gaussian::with_floor(self.xi)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_normal(x: f64, mean: f64, var: f64) -> f64 {
        -0.5 * ((2.0 * std::f64::consts::PI * var).ln() + (x - mean).powi(2) / var)
    }

    fn log_prob_of<S: VarianceStructure>(
        family: &Gaussian<S>,
        raw: Vec<f32>,
        x: Vec<f32>,
    ) -> Vec<f32> {
        let dev = Cpu::default();
        let (width, p) = (raw.len(), x.len());
        let raw = dev.tensor_from_vec(raw, (1, width));
        let x = dev.tensor_from_vec(x, (1, p));
        family.log_prob(raw, x).as_vec()
    }

    #[test]
    fn diagonal_log_density_matches_the_closed_form() {
        let family = Gaussian::<Diagonal>::with_floor(0.1).unwrap();
        let got = log_prob_of(&family, vec![0.5, -1.0, 0.3, -2.0], vec![0.9, 0.2]);
        let want = [
            log_normal(0.9, 0.5, 0.1 + 0.3f64.exp()),
            log_normal(0.2, -1.0, 0.1 + (-2.0f64).exp()),
        ];
        for (g, w) in got.iter().zip(want) {
            assert!((f64::from(*g) - w).abs() < 1e-5, "{g} vs {w}");
        }
    }

    #[test]
    fn isotropic_log_density_shares_one_variance() {
        let family = Gaussian::<Isotropic>::unconstrained();
        let got = log_prob_of(&family, vec![0.5, -1.0, 0.7], vec![0.9, 0.2]);
        let var = 0.7f64.exp();
        let want = [log_normal(0.9, 0.5, var), log_normal(0.2, -1.0, var)];
        for (g, w) in got.iter().zip(want) {
            assert!((f64::from(*g) - w).abs() < 1e-5, "{g} vs {w}");
        }
    }

    #[test]
    fn the_floor_bounds_the_density_and_unconstrained_has_no_bound() {
        let family = Gaussian::<Diagonal>::with_floor(0.01).unwrap();
        let bound = family.log_density_bound().unwrap();
        // A spike: mean at the data point, variance pre-activation far below the floor.
        let got = f64::from(log_prob_of(&family, vec![0.4, -30.0], vec![0.4])[0]);
        assert!(
            got <= bound + 1e-5 && got > bound - 1e-3,
            "{got} vs bound {bound}"
        );
        assert_eq!(
            Gaussian::<Diagonal>::unconstrained().log_density_bound(),
            None
        );
    }

    #[test]
    fn a_floor_that_is_not_positive_is_an_error_naming_xi() {
        for xi in [0.0, -1.0, f32::NAN, f32::INFINITY] {
            let err = GaussianBuilder::<Diagonal, NoFloor>::default()
                .xi(xi)
                .build()
                .unwrap_err();
            assert_eq!(err.argument, "xi");
        }
        let unconstrained = GaussianBuilder::<Isotropic, NoFloor>::default()
            .unconstrained()
            .build();
        assert_eq!(unconstrained.unwrap().xi(), 0.0);
    }

    #[test]
    fn raw_widths_follow_the_variance_structure() {
        assert_eq!(<Gaussian<Diagonal>>::raw_width(10), 20);
        assert_eq!(<Gaussian<Isotropic>>::raw_width(10), 11);
    }
}

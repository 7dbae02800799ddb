//! The Student-t family with scale and degrees-of-freedom floors, for continuous data (MIWAE).

use super::special::{ln_gamma, softplus, softplus_f64};
use super::{FamilyBuilder, FamilyError, OutputFamily};
use dfdx::prelude::*;
use rand::RngCore;
use rand_distr::Distribution;

/// `½ log π`.
const HALF_LN_PI: f32 = 0.572_364_9;

/// `x_j ~ μ_j + σ_j T_{ν_j}`: location `μ_j`, scale `σ_j = s₀ + softplus(s_j)`, degrees of freedom
/// `ν_j = ν₀ + softplus(d_j)`; raw outputs: the `p` locations, then the `p` scale and the `p`
/// degrees-of-freedom pre-activations.
///
/// DSL: `StudentT(mlp(z; 128; tanh))` with the defaults of Mattei & Frellsen (2019),
/// `scale_floor = 1e-3` and `df_floor = 3`; either can be given, e.g.
/// `StudentT(mlp(z; 128; tanh), scale_floor = 0.01, df_floor = 5.0)`.
///
/// # Formula
/// `log Φ_j = log Γ((ν+1)/2) - log Γ(ν/2) - ½ log(νπ) - log σ - (ν+1)/2 · log(1 + ((x-μ)/σ)²/ν)`.
/// Mean `μ` (ν > 1), variance `σ² ν/(ν - 2)` (ν > 2; always so when `df_floor >= 2`).
/// The t density's peak is below the normal's, so `log Φ_j <= -log(s₀ √(2π))`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StudentT {
    scale_floor: f32,
    df_floor: f32,
}

impl Default for StudentT {
    fn default() -> Self {
        Self {
            scale_floor: 1e-3,
            df_floor: 3.0,
        }
    }
}

impl StudentT {
    /// A Student-t family with the given floors.
    ///
    /// # Errors
    /// [`FamilyError`] naming `scale_floor` or `df_floor` when it is not a finite number `> 0`.
    pub fn new(scale_floor: f32, df_floor: f32) -> Result<Self, FamilyError> {
        let check = |argument, value: f32, example| {
            if value.is_finite() && value > 0.0 {
                Ok(())
            } else {
                Err(FamilyError {
                    family: "StudentT",
                    argument,
                    reason: format!("must be a finite number > 0, got {value}; e.g. `{example}`"),
                })
            }
        };
        check("scale_floor", scale_floor, "scale_floor = 1e-3")?;
        check("df_floor", df_floor, "df_floor = 3.0")?;
        Ok(Self {
            scale_floor,
            df_floor,
        })
    }

    /// The scale floor `s₀`.
    pub fn scale_floor(&self) -> f32 {
        self.scale_floor
    }

    /// The degrees-of-freedom floor `ν₀`.
    pub fn df_floor(&self) -> f32 {
        self.df_floor
    }

    /// `(μ, σ, ν)` of coordinate `j` of one point, in `f64`.
    ///
    /// # Formula
    /// `σ = s₀ + softplus(s_j)`, `ν = ν₀ + softplus(d_j)`
    pub fn parameters(&self, raw: &[f32], p: usize, j: usize) -> (f64, f64, f64) {
        let scale = f64::from(self.scale_floor) + softplus_f64(f64::from(raw[p + j]));
        let df = f64::from(self.df_floor) + softplus_f64(f64::from(raw[2 * p + j]));
        (f64::from(raw[j]), scale, df)
    }
}

impl OutputFamily for StudentT {
    const NAME: &'static str = "StudentT";
    const PARAMS_PER_COORD: usize = 3;
    type Builder = StudentTBuilder;

    fn log_prob<D: Device<f32>, T: Tape<f32, D>>(
        &self,
        raw: Tensor<(usize, usize), f32, D, T>,
        x: Tensor<(usize, usize), f32, D>,
    ) -> Tensor<(usize, usize), f32, D, T> {
        let p = x.shape().1;
        let location = raw.with_empty_tape().slice((.., 0..p));
        let scale = softplus(raw.with_empty_tape().slice((.., p..2 * p))) + self.scale_floor;
        let df = softplus(raw.slice((.., 2 * p..3 * p))) + self.df_floor;
        let half_df_plus = (df.with_empty_tape() + 1.0) * 0.5;
        let standardised = ((location - x) / scale.with_empty_tape()).square();
        let tail =
            (standardised / df.with_empty_tape() + 1.0).ln() * half_df_plus.with_empty_tape();
        let norm = ln_gamma(half_df_plus)
            - ln_gamma(df.with_empty_tape() * 0.5)
            - (df.ln() * 0.5 + HALF_LN_PI)
            - scale.ln();
        norm - tail
    }

    fn sample_row(&self, raw: &[f32], rng: &mut dyn RngCore, out: &mut [f32]) {
        let p = out.len();
        for (j, o) in out.iter_mut().enumerate() {
            let (location, scale, df) = self.parameters(raw, p, j);
            let t = rand_distr::StudentT::new(df).map_or(0.0, |t| t.sample(rng));
            *o = (location + scale * t) as f32;
        }
    }

    fn mean_row(&self, raw: &[f32], out: &mut [f32]) {
        let p = out.len();
        out.copy_from_slice(&raw[..p]);
    }

    fn variance_row(&self, raw: &[f32], out: &mut [f32]) -> bool {
        let p = out.len();
        for (j, o) in out.iter_mut().enumerate() {
            let (_, scale, df) = self.parameters(raw, p, j);
            *o = if df > 2.0 {
                (scale * scale * df / (df - 2.0)) as f32
            } else {
                f32::INFINITY
            };
        }
        true
    }

    fn in_support(&self, x: f32) -> bool {
        x.is_finite()
    }

    fn support_description(&self) -> &'static str {
        "finite real numbers"
    }

    fn log_density_bound(&self) -> Option<f64> {
        let floor = f64::from(self.scale_floor);
        Some(-(floor * (2.0 * std::f64::consts::PI).sqrt()).ln())
    }
}

/// DSL builder of [`StudentT`]: optional `scale_floor = VALUE` and `df_floor = VALUE`.
#[derive(Debug, Clone, Copy, Default)]
pub struct StudentTBuilder {
    family: StudentT,
}

impl StudentTBuilder {
    /// Sets the scale floor `s₀ > 0` (default `1e-3`).
    pub fn scale_floor(mut self, value: f32) -> Self {
        self.family.scale_floor = value;
        self
    }

    /// Sets the degrees-of-freedom floor `ν₀ > 0` (default 3).
    pub fn df_floor(mut self, value: f32) -> Self {
        self.family.df_floor = value;
        self
    }
}

impl FamilyBuilder for StudentTBuilder {
    type Family = StudentT;

    fn build(self) -> Result<StudentT, FamilyError> {
        StudentT::new(self.family.scale_floor, self.family.df_floor)
    }
}

#[cfg(test)]
mod tests {
    use super::super::special::ln_gamma_f64;
    use super::*;

    #[test]
    fn log_density_matches_the_closed_form() {
        let dev = Cpu::default();
        let family = StudentT::default();
        // p = 2: locations, scale pre-activations, df pre-activations.
        let raw = vec![0.5f32, -1.0, 0.2, -3.0, 1.0, 4.0];
        let x = vec![2.0f32, -1.1];
        let got = family
            .log_prob(
                dev.tensor_from_vec(raw.clone(), (1, 6)),
                dev.tensor_from_vec(x.clone(), (1, 2)),
            )
            .as_vec();
        for j in 0..2 {
            let (mu, s, nu) = family.parameters(&raw, 2, j);
            let z = (f64::from(x[j]) - mu) / s;
            let want = ln_gamma_f64((nu + 1.0) / 2.0)
                - ln_gamma_f64(nu / 2.0)
                - 0.5 * (nu * std::f64::consts::PI).ln()
                - s.ln()
                - (nu + 1.0) / 2.0 * (1.0 + z * z / nu).ln();
            assert!(
                (f64::from(got[j]) - want).abs() < 1e-3,
                "{} vs {want}",
                got[j]
            );
        }
    }

    #[test]
    fn floors_that_are_not_positive_are_errors_naming_the_argument() {
        let err = StudentTBuilder::default()
            .scale_floor(0.0)
            .build()
            .unwrap_err();
        assert_eq!(err.argument, "scale_floor");
        let err = StudentTBuilder::default()
            .df_floor(f32::NAN)
            .build()
            .unwrap_err();
        assert_eq!(err.argument, "df_floor");
        let ok = StudentTBuilder::default().df_floor(5.0).build().unwrap();
        assert_eq!((ok.scale_floor(), ok.df_floor()), (1e-3, 5.0));
    }
}

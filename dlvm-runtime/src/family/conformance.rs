//! The conformance suite every output family must pass, built-in or user-written.
//!
//! [`check_family`] takes a family value, a few raw parameter rows and the family's domain, and
//! checks, for every row and coordinate:
//!
//! 1. **normalisation**: `Σ_x Φ_j(x | η)` (discrete) or `∫ Φ_j(x | η) dx` (continuous, composite
//!    Simpson) is 1 within [`Conformance::quadrature_tolerance`];
//! 2. **bounds**: `log Φ_j <= 0` for a [`DISCRETE`](super::OutputFamily::DISCRETE) family and
//!    `log Φ_j <= log_density_bound()` when the family declares a bound;
//! 3. **mean**: [`mean_row`](super::OutputFamily::mean_row) equals the mean computed from the
//!    density by the same quadrature, and [`variance_row`](super::OutputFamily::variance_row), when
//!    provided, equals the density's variance;
//! 4. **sampling**: [`sample_row`](super::OutputFamily::sample_row) draws lie in the support, and
//!    their mean and variance match the density's mean `m` and variance `v` within `z` Monte Carlo
//!    standard errors: `|x̄ - m| <= z √(v / N)` and `|s² - v| <= z √((μ₄ - v²) / N)`, where `μ₄` is
//!    the fourth central moment (by quadrature), the asymptotic variance of `s²`. With `z = 5` a
//!    correct family fails one check with probability below `6·10⁻⁷`. The same holds for
//!    [`sample_coordinates`](super::OutputFamily::sample_coordinates) at two coordinates of
//!    every three (`j mod 3 ≠ 0`; coordinate 0 when `p = 1`), which must also leave the other
//!    entries untouched;
//! 5. **gradients**: `∂ log Φ_j / ∂η` is finite at up to 65 support points and equals its central
//!    finite difference there (the `gradient` check catches a log-density whose gradient tape was
//!    dropped or mis-merged);
//! 6. **support**: each [`Conformance::outside`] value is rejected by `in_support`, and a data set
//!    holding it is rejected by [`Dataset::check_support`] with
//!    [`DataError::OutOfSupport`](crate::data::DataError::OutOfSupport) (the check
//!    [`batch::check_dataset`](crate::batch::check_dataset) runs before training); NaN is rejected
//!    as [`DataError::NonFinite`](crate::data::DataError::NonFinite).
//!
//! 7. **row sums**: [`log_prob_rows`](super::OutputFamily::log_prob_rows) (what the ELBO and
//!    IWAE use, which a family may fuse) equals the row sums of `log_prob` within `10⁻⁵` relative,
//!    and so does its gradient.
//!
//! 8. **point imputation**: [`point_row`](super::OutputFamily::point_row) is finite; for a
//!    family of class labels ([`class_count`](super::OutputFamily::class_count) is `Some(C)`)
//!    it is a class whose density is the largest over the domain (within `10⁻⁵` in log).
//!
//! Choose raw rows where the family's first four moments exist (e.g. a Student-t with more than 4
//! degrees of freedom) and a domain that holds all but a negligible part of the mass.
//!
//! ```
//! use dlvm_runtime::family::conformance::{check_family, Conformance, Domain};
//! use dlvm_runtime::family::Bernoulli;
//! // Two coordinates with logits -1 and 0.5.
//! let spec = Conformance::new(Domain::Points(vec![0.0, 1.0]), vec![vec![-1.0, 0.5]])
//!     .coordinates(2)
//!     .outside(vec![0.5, 2.0]);
//! let report = check_family(&dfdx::prelude::Cpu::default(), &Bernoulli, &spec).unwrap();
//! assert!(report.worst_mass_error < 1e-5);
//! ```

use super::OutputFamily;
use crate::data::{DataError, Dataset};
use dfdx::prelude::*;
use rand::SeedableRng;

/// Where a family's mass lies, for one coordinate.
#[derive(Debug, Clone, PartialEq)]
pub enum Domain {
    /// A discrete family: the support points to sum over (e.g. `0..=200` for counts).
    Points(Vec<f32>),
    /// A continuous family: integrate over `[lo, hi]` with composite Simpson on `steps` intervals
    /// (rounded up to an even number).
    Interval {
        /// Lower end.
        lo: f32,
        /// Upper end.
        hi: f32,
        /// Number of intervals.
        steps: usize,
    },
}

impl Domain {
    /// The evaluation points and their quadrature weights.
    ///
    /// # Formula
    /// Points: weight 1. Interval, `h = (hi - lo) / n`: Simpson weights `h/3 · (1, 4, 2, ..., 4, 1)`.
    pub fn nodes(&self) -> (Vec<f32>, Vec<f64>) {
        match self {
            Domain::Points(points) => (points.clone(), vec![1.0; points.len()]),
            Domain::Interval { lo, hi, steps } => {
                let n = (*steps.max(&2)).div_ceil(2) * 2;
                let (lo, hi) = (f64::from(*lo), f64::from(*hi));
                let h = (hi - lo) / n as f64;
                let points = (0..=n).map(|i| (lo + h * i as f64) as f32).collect();
                let weights = (0..=n)
                    .map(|i| match i {
                        0 => h / 3.0,
                        i if i == n => h / 3.0,
                        i if i % 2 == 1 => 4.0 * h / 3.0,
                        _ => 2.0 * h / 3.0,
                    })
                    .collect();
                (points, weights)
            }
        }
    }
}

/// What to check: the domain, the parameter rows, and the Monte Carlo settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Conformance {
    /// Where the mass of one coordinate lies.
    pub domain: Domain,
    /// Raw decoder outputs, each of length `raw_width(p)`.
    pub raw_rows: Vec<Vec<f32>>,
    /// Number of observed coordinates `p` the rows are for.
    pub p: usize,
    /// Values outside the support, each of which must be rejected.
    pub outside: Vec<f32>,
    /// Draws per raw row for the moment checks.
    pub draws: usize,
    /// Seed of the sampler.
    pub seed: u64,
    /// Number of Monte Carlo standard errors allowed.
    pub z: f64,
    /// Allowed error of the quadrature (mass, mean), relative to `max(1, sd)` for moments.
    pub quadrature_tolerance: f64,
}

impl Conformance {
    /// A specification with `p = 1`, 20 000 draws, seed 0, `z = 5`, quadrature tolerance `10⁻³`.
    pub fn new(domain: Domain, raw_rows: Vec<Vec<f32>>) -> Self {
        Self {
            domain,
            raw_rows,
            p: 1,
            outside: Vec::new(),
            draws: 20_000,
            seed: 0,
            z: 5.0,
            quadrature_tolerance: 1e-3,
        }
    }

    /// Sets the number of coordinates `p` the raw rows are for.
    #[must_use]
    pub fn coordinates(mut self, p: usize) -> Self {
        self.p = p;
        self
    }

    /// Sets the values that must be rejected as out of support.
    #[must_use]
    pub fn outside(mut self, values: Vec<f32>) -> Self {
        self.outside = values;
        self
    }

    /// Sets the number of draws per raw row.
    #[must_use]
    pub fn draws(mut self, draws: usize) -> Self {
        self.draws = draws;
        self
    }
}

/// A failed conformance check: which check, where, and the numbers.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("the {family} family fails the `{check}` check (raw row {row}, coordinate {coordinate}): {detail}")]
pub struct ConformanceError {
    /// The family's name.
    pub family: &'static str,
    /// The check, e.g. `normalisation`.
    pub check: &'static str,
    /// Index of the raw row.
    pub row: usize,
    /// The coordinate.
    pub coordinate: usize,
    /// The numbers and what they should be.
    pub detail: String,
}

/// The worst deviations seen, for reporting.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ConformanceReport {
    /// Checks performed.
    pub checks: usize,
    /// Largest `|mass - 1|`.
    pub worst_mass_error: f64,
    /// Largest `|x̄ - m| / se`.
    pub worst_mean_z: f64,
    /// Largest `|s² - v| / se`.
    pub worst_variance_z: f64,
}

/// Moments of one coordinate's density, by quadrature.
#[derive(Debug, Clone, Copy)]
struct Moments {
    mass: f64,
    mean: f64,
    variance: f64,
    fourth: f64,
}

/// Runs the whole suite; see the [module documentation](self) for the checks and tolerances.
///
/// # Errors
/// The first failed check, as a [`ConformanceError`] naming the check, the raw row, the
/// coordinate and the numbers; a malformed specification (wrong row width, empty domain) is
/// reported as the `specification` check.
pub fn check_family<F: OutputFamily, D: Device<f32>>(
    dev: &D,
    family: &F,
    spec: &Conformance,
) -> Result<ConformanceReport, ConformanceError> {
    let fail = |check, row, coordinate, detail| ConformanceError {
        family: F::NAME,
        check,
        row,
        coordinate,
        detail,
    };
    check_specification::<F>(spec).map_err(|d| fail("specification", 0, 0, d))?;
    let mut report = ConformanceReport::default();
    let (points, weights) = spec.domain.nodes();
    for (r, raw) in spec.raw_rows.iter().enumerate() {
        let log_density = evaluate(dev, family, raw, &points, spec.p);
        for j in 0..spec.p {
            let column: Vec<f32> = log_density.iter().map(|row| row[j]).collect();
            check_bounds(family, &points, &column).map_err(|d| fail("bound", r, j, d))?;
            let moments = quadrature(&points, &weights, &column);
            let mass_error = (moments.mass - 1.0).abs();
            if !within(mass_error, spec.quadrature_tolerance) {
                let d = format!("the density sums/integrates to {}, not 1", moments.mass);
                return Err(fail("normalisation", r, j, d));
            }
            report.worst_mass_error = report.worst_mass_error.max(mass_error);
            report.checks += 2;
        }
        check_mean_and_variance(family, raw, &points, &weights, &log_density, spec)
            .map_err(|(j, check, d)| fail(check, r, j, d))?;
        let moments = row_moments(&points, &weights, &log_density, spec.p);
        for sampler in [Sampler::Row, Sampler::Coordinates] {
            let zs = check_samples(family, raw, &moments, spec, r, sampler)
                .map_err(|(j, check, d)| fail(check, r, j, d))?;
            report.worst_mean_z = report.worst_mean_z.max(zs.0);
            report.worst_variance_z = report.worst_variance_z.max(zs.1);
        }
        check_gradients(dev, family, raw, &points, spec.p)
            .map_err(|(j, check, d)| fail(check, r, j, d))?;
        check_row_sums(dev, family, raw, &points, spec.p)
            .map_err(|(j, check, d)| fail(check, r, j, d))?;
        check_point(family, raw, &points, &log_density, spec.p)
            .map_err(|(j, d)| fail("point", r, j, d))?;
        report.checks += 4 * spec.p + 2;
    }
    check_outside(family, spec, &points).map_err(|d| fail("support", 0, 0, d))?;
    report.checks += spec.outside.len() + 1;
    Ok(report)
}

/// The point imputation is finite, and for class labels a most probable class: `Err((j, why))`.
fn check_point<F: OutputFamily>(
    family: &F,
    raw: &[f32],
    points: &[f32],
    log_density: &[Vec<f32>],
    p: usize,
) -> Result<(), (usize, String)> {
    let mut point = vec![0.0; p];
    family.point_row(raw, &mut point);
    for (j, &v) in point.iter().enumerate() {
        if !v.is_finite() {
            return Err((j, format!("point_row gives {v}, not a finite value")));
        }
        if family.class_count().is_none() {
            continue;
        }
        let best = log_density
            .iter()
            .map(|row| row[j])
            .fold(f32::MIN, f32::max);
        let at = points
            .iter()
            .position(|&x| x == v)
            .map(|i| log_density[i][j]);
        match at {
            Some(l) if f64::from(best) - f64::from(l) <= 1e-5 => {}
            _ => {
                let d = format!(
                    "point_row gives {v}, but a class label family must give a most probable \
                     class (log density {best} at best, {at:?} at {v})"
                );
                return Err((j, d));
            }
        }
    }
    Ok(())
}

/// `error <= tolerance`, false when either is NaN (so that NaN fails a check).
fn within(error: f64, tolerance: f64) -> bool {
    error <= tolerance
}

/// Row widths, domain and settings make sense.
fn check_specification<F: OutputFamily>(spec: &Conformance) -> Result<(), String> {
    if spec.p == 0 || spec.raw_rows.is_empty() || spec.draws < 2 {
        return Err("need p >= 1, at least one raw row and at least 2 draws".into());
    }
    if spec.domain.nodes().0.is_empty() {
        return Err("the domain has no points".into());
    }
    for row in &spec.raw_rows {
        F::check_width(row.len(), spec.p)?;
    }
    Ok(())
}

/// `log Φ_j(x_i | η)` for every domain point `x_i` (all coordinates set to `x_i`), row-major.
fn evaluate<F: OutputFamily, D: Device<f32>>(
    dev: &D,
    family: &F,
    raw: &[f32],
    points: &[f32],
    p: usize,
) -> Vec<Vec<f32>> {
    const CHUNK: usize = 4096;
    let mut out = Vec::with_capacity(points.len());
    for chunk in points.chunks(CHUNK) {
        let n = chunk.len();
        let raw_t = dev.tensor_from_vec(raw.repeat(n), (n, raw.len()));
        let xs = chunk.iter().flat_map(|&x| std::iter::repeat_n(x, p));
        let x_t = dev.tensor_from_vec(xs.collect(), (n, p));
        let values = family.log_prob(raw_t, x_t).as_vec();
        out.extend(values.chunks(p).map(<[f32]>::to_vec));
    }
    out
}

/// `log Φ_j <= 0` for discrete families and `<= log_density_bound()` when declared.
fn check_bounds<F: OutputFamily>(family: &F, points: &[f32], column: &[f32]) -> Result<(), String> {
    let bound = match (F::DISCRETE, family.log_density_bound()) {
        (true, Some(b)) => b.min(0.0),
        (true, None) => 0.0,
        (false, Some(b)) => b,
        (false, None) => f64::INFINITY,
    };
    for (x, &l) in points.iter().zip(column) {
        if !family.in_support(*x) {
            return Err(format!("the domain point {x} is not in the support"));
        }
        if l.is_nan() || f64::from(l) > bound + 1e-4 {
            return Err(format!(
                "log density {l} at x = {x} exceeds the bound {bound}"
            ));
        }
    }
    Ok(())
}

/// Mass, mean, variance and fourth central moment of one coordinate.
fn quadrature(points: &[f32], weights: &[f64], column: &[f32]) -> Moments {
    let density: Vec<f64> = column.iter().map(|&l| f64::from(l).exp()).collect();
    let moment = |f: &dyn Fn(f64) -> f64| -> f64 {
        points
            .iter()
            .zip(weights)
            .zip(&density)
            .map(|((&x, w), d)| w * d * f(f64::from(x)))
            .sum()
    };
    let mass = moment(&|_| 1.0);
    let mean = moment(&|x| x) / mass;
    let variance = moment(&|x| (x - mean).powi(2)) / mass;
    let fourth = moment(&|x| (x - mean).powi(4)) / mass;
    Moments {
        mass,
        mean,
        variance,
        fourth,
    }
}

type Failure = (usize, &'static str, String);

/// Moments of every coordinate of one raw row.
fn row_moments(
    points: &[f32],
    weights: &[f64],
    log_density: &[Vec<f32>],
    p: usize,
) -> Vec<Moments> {
    (0..p)
        .map(|j| {
            let column: Vec<f32> = log_density.iter().map(|row| row[j]).collect();
            quadrature(points, weights, &column)
        })
        .collect()
}

/// `mean_row` (and `variance_row` if provided) against the quadrature's moments.
fn check_mean_and_variance<F: OutputFamily>(
    family: &F,
    raw: &[f32],
    points: &[f32],
    weights: &[f64],
    log_density: &[Vec<f32>],
    spec: &Conformance,
) -> Result<(), Failure> {
    let moments = row_moments(points, weights, log_density, spec.p);
    let mut mean = vec![0.0f32; spec.p];
    family.mean_row(raw, &mut mean);
    let mut variance = vec![0.0f32; spec.p];
    let has_variance = family.variance_row(raw, &mut variance);
    for (j, m) in moments.iter().enumerate() {
        let tol = spec.quadrature_tolerance * m.variance.sqrt().max(1.0);
        if !within((f64::from(mean[j]) - m.mean).abs(), tol) {
            let d = format!(
                "mean_row gives {}, the density's mean is {}",
                mean[j], m.mean
            );
            return Err((j, "mean", d));
        }
        let tol = spec.quadrature_tolerance * m.variance.max(1.0);
        if has_variance && !within((f64::from(variance[j]) - m.variance).abs(), tol) {
            let d = format!(
                "variance_row gives {}, the density's variance is {}",
                variance[j], m.variance
            );
            return Err((j, "variance", d));
        }
    }
    Ok(())
}

/// Draws `spec.draws` samples and compares their mean and variance with the density's; returns
/// the largest z-scores of the mean and the variance.
fn check_samples<F: OutputFamily>(
    family: &F,
    raw: &[f32],
    moments: &[Moments],
    spec: &Conformance,
    row: usize,
    sampler: Sampler,
) -> Result<(f64, f64), Failure> {
    let chosen = sampler.coordinates(spec.p);
    let mut rng = rand::rngs::StdRng::seed_from_u64(spec.seed.wrapping_add(row as u64));
    let (mut sum, mut sum_sq) = (vec![0.0f64; spec.p], vec![0.0f64; spec.p]);
    let (mut draw, mut scratch) = (vec![UNTOUCHED; spec.p], Vec::new());
    for _ in 0..spec.draws {
        match sampler {
            Sampler::Row => family.sample_row(raw, &mut rng, &mut draw),
            Sampler::Coordinates => {
                family.sample_coordinates(raw, &chosen, &mut rng, &mut draw, &mut scratch)
            }
        }
        let name = sampler.name();
        for (j, &x) in draw.iter().enumerate() {
            if !chosen.contains(&(j as u32)) {
                if x.to_bits() != UNTOUCHED.to_bits() {
                    let d = format!("{name} wrote {x} at a coordinate it was not asked to draw");
                    return Err((j, "sample coordinates", d));
                }
                continue;
            }
            if !family.in_support(x) {
                let d = format!("{name} drew {x}, outside {}", family.support_description());
                return Err((j, "sample support", d));
            }
            // Centre at the density's mean so that the sums do not lose precision.
            let c = f64::from(x) - moments[j].mean;
            sum[j] += c;
            sum_sq[j] += c * c;
        }
    }
    let n = spec.draws as f64;
    let (mut worst_mean, mut worst_var) = (0.0f64, 0.0f64);
    for (j, m) in moments.iter().enumerate() {
        if !chosen.contains(&(j as u32)) {
            continue;
        }
        let offset = sum[j] / n;
        let sample_var = (sum_sq[j] - n * offset * offset) / (n - 1.0);
        let slack = spec.quadrature_tolerance * m.variance.sqrt().max(1.0);
        let se_mean = (m.variance / n).sqrt();
        let se_var = ((m.fourth - m.variance * m.variance).max(0.0) / n).sqrt();
        let z_mean = offset.abs() / se_mean.max(f64::MIN_POSITIVE);
        let z_var = (sample_var - m.variance).abs() / se_var.max(f64::MIN_POSITIVE);
        if !within(offset.abs(), spec.z * se_mean + slack) {
            let d = format!(
                "sample mean {} vs density mean {} (standard error {se_mean:.3e})",
                m.mean + offset,
                m.mean
            );
            return Err((j, "sample mean", d));
        }
        if !within(
            (sample_var - m.variance).abs(),
            spec.z * se_var + spec.quadrature_tolerance * m.variance.max(1.0),
        ) {
            let d = format!(
                "sample variance {sample_var} vs density variance {} (standard error {se_var:.3e})",
                m.variance
            );
            return Err((j, "sample variance", d));
        }
        worst_mean = worst_mean.max(if se_mean > 0.0 { z_mean } else { 0.0 });
        worst_var = worst_var.max(if se_var > 0.0 { z_var } else { 0.0 });
    }
    Ok((worst_mean, worst_var))
}

/// What a coordinate not asked for holds before and after a draw (a value no family draws).
const UNTOUCHED: f32 = -1.234_567e30;

/// Which sampling method [`check_samples`] checks.
#[derive(Debug, Clone, Copy)]
enum Sampler {
    /// `sample_row`, all coordinates.
    Row,
    /// `sample_coordinates` at the coordinates `j` with `j mod 3 ≠ 0` (coordinate 0 when
    /// `p = 1`): two of every three, so that runs of chosen coordinates alternate with
    /// coordinates that must stay untouched.
    Coordinates,
}

impl Sampler {
    fn coordinates(self, p: usize) -> Vec<u32> {
        match self {
            Sampler::Row => (0..p as u32).collect(),
            Sampler::Coordinates if p == 1 => vec![0],
            Sampler::Coordinates => (0..p as u32).filter(|j| j % 3 != 0).collect(),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Sampler::Row => "sample_row",
            Sampler::Coordinates => "sample_coordinates",
        }
    }
}

/// `∂ Σ log Φ / ∂η` finite at up to 65 support points spread over the domain, and equal to its
/// central finite difference.
fn check_gradients<F: OutputFamily, D: Device<f32>>(
    dev: &D,
    family: &F,
    raw: &[f32],
    points: &[f32],
    p: usize,
) -> Result<(), Failure> {
    let step = points.len().div_ceil(64).max(1);
    let mut chosen: Vec<f32> = points.iter().step_by(step).copied().collect();
    chosen.extend(points.last().copied());
    for &x in &chosen {
        let raw_t = dev.tensor_from_vec(raw.to_vec(), (1, raw.len()));
        let x_t = dev.tensor_from_vec(vec![x; p], (1, p));
        let log_p = family.log_prob(raw_t.leaky_trace(), x_t);
        let values = log_p.as_vec();
        let g = log_p.sum().backward();
        let slopes = g.get(&raw_t).as_vec();
        if let Some(j) = values.iter().position(|v| !v.is_finite()) {
            let d = format!("log density {} at x = {x}", values[j]);
            return Err((j, "finite gradient", d));
        }
        if slopes.iter().any(|s| !s.is_finite()) {
            let d = format!("gradient {slopes:?} at x = {x}");
            return Err((0, "finite gradient", d));
        }
        check_finite_differences(dev, family, raw, x, p, &slopes)?;
    }
    Ok(())
}

/// `log_prob_rows` against `log_prob` summed over each row, in value and gradient, on rows that
/// cycle through the domain points (each row mixes several points).
fn check_row_sums<F: OutputFamily, D: Device<f32>>(
    dev: &D,
    family: &F,
    raw: &[f32],
    points: &[f32],
    p: usize,
) -> Result<(), Failure> {
    let rows = points.len().clamp(1, 64);
    let xs: Vec<f32> = (0..rows * p)
        .map(|k| points[(k * 7 + k / p) % points.len()])
        .collect();
    let run = |fused: bool| {
        let raw_t = dev.tensor_from_vec(raw.repeat(rows), (rows, raw.len()));
        let x_t = dev.tensor_from_vec(xs.clone(), (rows, p));
        let sums = if fused {
            family.log_prob_rows(raw_t.leaky_trace(), x_t)
        } else {
            family
                .log_prob(raw_t.leaky_trace(), x_t)
                .sum::<(usize,), Axis<1>>()
        };
        let values = sums.with_empty_tape().as_vec();
        let gradient = sums.sum().backward().get(&raw_t).as_vec();
        (values, gradient)
    };
    let ((values, gradient), (want_values, want_gradient)) = (run(true), run(false));
    let close = |a: f32, b: f32| (a - b).abs() <= 1e-5 * a.abs().max(b.abs()).max(1.0);
    for (i, (a, b)) in values.iter().zip(&want_values).enumerate() {
        if !close(*a, *b) {
            let d = format!("row {i}: log_prob_rows {a} but the row sum of log_prob is {b}");
            return Err((0, "row sums", d));
        }
    }
    for (k, (a, b)) in gradient.iter().zip(&want_gradient).enumerate() {
        if !close(*a, *b) {
            let d = format!("raw output {k}: gradient of log_prob_rows {a}, of log_prob {b}");
            return Err((k % p.max(1), "row-sum gradient", d));
        }
    }
    let mut host = vec![f32::NAN; rows];
    family.log_prob_rows_host(&raw.repeat(rows), &xs, p, &mut host);
    for (i, (a, b)) in host.iter().zip(&want_values).enumerate() {
        if !close(*a, *b) {
            let d = format!("row {i}: log_prob_rows_host {a} but the row sum of log_prob is {b}");
            return Err((0, "host row sums", d));
        }
    }
    let mut host_gradient = vec![f32::NAN; want_gradient.len()];
    let raw_rows = raw.repeat(rows);
    family.log_prob_rows_with_gradient_host(&raw_rows, &xs, p, &mut host, &mut host_gradient);
    for (i, (a, b)) in host.iter().zip(&want_values).enumerate() {
        if !close(*a, *b) {
            let d =
                format!("row {i}: log_prob_rows_with_gradient_host {a}, row sum of log_prob {b}");
            return Err((0, "host row gradient", d));
        }
    }
    for (k, (a, b)) in host_gradient.iter().zip(&want_gradient).enumerate() {
        if !close(*a, *b) {
            let d = format!("raw output {k}: host gradient {a}, gradient of log_prob {b}");
            return Err((k % p.max(1), "host row gradient", d));
        }
    }
    Ok(())
}

/// The autodiff gradient against central differences with step `h_k = 10⁻³ max(1, |η_k|)`.
///
/// # Formula
/// `fd_k = (S(η + h_k e_k) - S(η - h_k e_k)) / (2 h_k)`, `S = Σ_j log Φ_j` in `f32`; allowed
/// error `0.02 max(1, |g_k|)` (truncation, `O(h²)`) plus `10⁻⁵ (1 + |S|) / h_k` (rounding of
/// `S` in `f32`, 100 times its unit roundoff, divided by the step).
fn check_finite_differences<F: OutputFamily, D: Device<f32>>(
    dev: &D,
    family: &F,
    raw: &[f32],
    x: f32,
    p: usize,
    slopes: &[f32],
) -> Result<(), Failure> {
    let width = raw.len();
    let steps: Vec<f32> = raw.iter().map(|r| 1e-3 * r.abs().max(1.0)).collect();
    let mut rows = Vec::with_capacity(2 * width * width);
    for (k, h) in steps.iter().enumerate() {
        for sign in [1.0f32, -1.0] {
            let mut moved = raw.to_vec();
            moved[k] += sign * h;
            rows.extend(moved);
        }
    }
    let raw_t = dev.tensor_from_vec(rows, (2 * width, width));
    let x_t = dev.tensor_from_vec(vec![x; 2 * width * p], (2 * width, p));
    let values = family.log_prob(raw_t, x_t).as_vec();
    let sums: Vec<f64> = values
        .chunks(p)
        .map(|row| row.iter().map(|&v| f64::from(v)).sum())
        .collect();
    for (k, h) in steps.iter().enumerate() {
        let h = f64::from(*h);
        let (plus, minus) = (sums[2 * k], sums[2 * k + 1]);
        let fd = (plus - minus) / (2.0 * h);
        let g = f64::from(slopes[k]);
        let tolerance = 0.02 * g.abs().max(1.0) + 1e-5 * (1.0 + plus.abs().max(minus.abs())) / h;
        if !within((g - fd).abs(), tolerance) {
            let d =
                format!("at x = {x}, ∂/∂η_{k} is {g} by autodiff but {fd} by central differences");
            return Err((k % p.max(1), "gradient", d));
        }
    }
    Ok(())
}

/// Every `outside` value (and NaN) is rejected by `in_support` and by data validation.
fn check_outside<F: OutputFamily>(
    family: &F,
    spec: &Conformance,
    points: &[f32],
) -> Result<(), String> {
    let inside = points[0];
    for &bad in &spec.outside {
        if family.in_support(bad) {
            return Err(format!("in_support accepts {bad}, which should be outside"));
        }
        match rejected(family, bad, inside, spec.p) {
            Err(DataError::OutOfSupport {
                value,
                family: name,
                ..
            }) if value.to_bits() == bad.to_bits() && name == F::NAME => {}
            Err(DataError::NonFinite { .. }) if !bad.is_finite() => {}
            other => {
                return Err(format!(
                "a data set holding {bad} should fail with an out-of-support error, got {other:?}"
            ))
            }
        }
    }
    match rejected(family, f32::NAN, inside, spec.p) {
        Err(DataError::NonFinite { .. }) => Ok(()),
        other => Err(format!(
            "a data set holding NaN should be rejected, got {other:?}"
        )),
    }
}

/// Data validation of a one-row data set whose last coordinate is `value`.
fn rejected<F: OutputFamily>(
    family: &F,
    value: f32,
    inside: f32,
    p: usize,
) -> Result<(), DataError> {
    let mut row = vec![inside; p];
    row[p - 1] = value;
    let data = Dataset::from_vec("conformance", 1, p, row)?;
    data.check_support(F::NAME, family.support_description(), |x| {
        family.in_support(x)
    })
}

/// Defines a `#[test]` that runs [`check_family`] on the CPU and prints the report.
///
/// ```ignore
/// dlvm_runtime::family_conformance_test!(poisson_conforms, Poisson, spec());
/// ```
#[macro_export]
macro_rules! family_conformance_test {
    ($name:ident, $family:expr, $spec:expr) => {
        #[test]
        fn $name() {
            let dev = $crate::dfdx::prelude::Cpu::default();
            let report = $crate::family::conformance::check_family(&dev, &$family, &$spec)
                .unwrap_or_else(|e| panic!("{e}"));
            println!("{}: {:?}", stringify!($name), report);
        }
    };
}

#[cfg(test)]
mod tests {
    //! The suite must fail families that are wrong in each of the ways it checks.
    use super::*;
    use crate::family::{Bernoulli, Categorical, Diagonal, Gaussian, NoArguments};
    use rand::RngCore;

    /// Which defect a [`Broken`] Gaussian has.
    #[derive(Debug, Clone, Copy, Default, PartialEq)]
    enum Defect {
        #[default]
        None,
        /// log density off by +0.1 (mass e^{0.1} = 1.105).
        Unnormalised,
        /// mean_row off by 0.05 standard deviations... of a unit-variance density: 0.05.
        WrongMean,
        /// samples scaled by 1.05: variance 10% too large.
        WrongSpread,
        /// samples shifted by 0.05 (with 20 000 draws the standard error is 0.007).
        BiasedSampler,
        /// accepts every value.
        NoSupport,
        /// right values, gradient w.r.t. the means off by 1.
        WrongGradient,
        /// a fused row sum off by 0.1.
        WrongRowSums,
        /// a fused row sum with the right value whose gradient is doubled.
        WrongRowSumGradient,
    }

    /// A diagonal Gaussian with floor 0.01 and one defect.
    #[derive(Debug, Clone, Copy, Default, PartialEq)]
    struct Broken(Defect);

    fn gaussian() -> Gaussian<Diagonal> {
        Gaussian::with_floor(0.01).unwrap()
    }

    impl OutputFamily for Broken {
        const NAME: &'static str = "Broken";
        const PARAMS_PER_COORD: usize = 2;
        type Builder = NoArguments<Broken>;

        fn log_prob<D: Device<f32>, T: Tape<f32, D>>(
            &self,
            raw: Tensor<(usize, usize), f32, D, T>,
            x: Tensor<(usize, usize), f32, D>,
        ) -> Tensor<(usize, usize), f32, D, T> {
            let shift = if self.0 == Defect::Unnormalised {
                0.1
            } else {
                0.0
            };
            if self.0 == Defect::WrongGradient {
                // Zero in value, gradient 1 in every mean.
                let p = x.shape().1;
                let zero = raw.with_empty_tape().slice((.., 0..p))
                    - raw.retaped::<NoneTape>().slice((.., 0..p));
                return gaussian().log_prob(raw, x) + zero;
            }
            gaussian().log_prob(raw, x) + shift
        }

        fn log_prob_rows<D: Device<f32>, T: Tape<f32, D>>(
            &self,
            raw: Tensor<(usize, usize), f32, D, T>,
            x: Tensor<(usize, usize), f32, D>,
        ) -> Tensor<(usize,), f32, D, T> {
            let terms = self.log_prob(raw, x);
            match self.0 {
                Defect::WrongRowSums => terms.sum::<(usize,), Axis<1>>() + 0.1,
                Defect::WrongRowSumGradient => {
                    let sums = terms.sum::<(usize,), Axis<1>>();
                    // Value 2s - s = s, gradient 2 ∂s (a fresh tensor: no gradient flows back).
                    let detached = sums.device().tensor_from_vec(sums.as_vec(), *sums.shape());
                    sums * 2.0 - detached
                }
                _ => terms.sum::<(usize,), Axis<1>>(),
            }
        }

        fn sample_row(&self, raw: &[f32], rng: &mut dyn RngCore, out: &mut [f32]) {
            gaussian().sample_row(raw, rng, out);
            for (o, m) in out.iter_mut().zip(raw) {
                match self.0 {
                    Defect::WrongSpread => *o = m + (*o - m) * 1.05,
                    Defect::BiasedSampler => *o += 0.05,
                    _ => {}
                }
            }
        }

        fn mean_row(&self, raw: &[f32], out: &mut [f32]) {
            gaussian().mean_row(raw, out);
            if self.0 == Defect::WrongMean {
                out.iter_mut().for_each(|o| *o += 0.05);
            }
        }

        fn in_support(&self, x: f32) -> bool {
            self.0 == Defect::NoSupport || x.is_finite()
        }
    }

    fn spec() -> Conformance {
        let domain = Domain::Interval {
            lo: -20.0,
            hi: 20.0,
            steps: 8_000,
        };
        // Mean 0.5, variance 0.01 + e^0 = 1.01.
        Conformance::new(domain, vec![vec![0.5, 0.0]]).outside(vec![f32::NEG_INFINITY])
    }

    fn failed_check(defect: Defect) -> &'static str {
        check_family(&Cpu::default(), &Broken(defect), &spec())
            .map(|_| "none")
            .unwrap_or_else(|e| e.check)
    }

    #[test]
    fn a_correct_family_passes() {
        assert_eq!(failed_check(Defect::None), "none");
    }

    #[test]
    fn each_defect_is_caught_by_its_check() {
        assert_eq!(failed_check(Defect::Unnormalised), "normalisation");
        assert_eq!(failed_check(Defect::WrongMean), "mean");
        assert_eq!(failed_check(Defect::WrongSpread), "sample variance");
        assert_eq!(failed_check(Defect::BiasedSampler), "sample mean");
        assert_eq!(failed_check(Defect::WrongGradient), "gradient");
        assert_eq!(failed_check(Defect::WrongRowSums), "row sums");
        assert_eq!(
            failed_check(Defect::WrongRowSumGradient),
            "row-sum gradient"
        );
    }

    #[test]
    fn a_support_check_that_accepts_everything_is_caught() {
        let binary =
            Conformance::new(Domain::Points(vec![0.0, 1.0]), vec![vec![0.0]]).outside(vec![0.5]);
        assert!(check_family(&Cpu::default(), &Bernoulli, &binary).is_ok());
        // Broken has 2 raw outputs per coordinate: a 1-wide row is a specification error.
        let err = check_family(&Cpu::default(), &Broken(Defect::NoSupport), &binary);
        assert_eq!(err.unwrap_err().check, "specification");
        let real_line = spec().outside(vec![7.0]);
        let err =
            check_family(&Cpu::default(), &Broken(Defect::NoSupport), &real_line).unwrap_err();
        assert_eq!(err.check, "support");
        assert!(err.to_string().contains("Broken"), "{err}");
    }

    /// `Categorical<3>` whose point imputation is left at the default, the mean class index.
    #[derive(Debug, Clone, Copy, Default, PartialEq)]
    struct MeanIndex;

    impl OutputFamily for MeanIndex {
        const NAME: &'static str = "MeanIndex";
        const PARAMS_PER_COORD: usize = 3;
        const DISCRETE: bool = true;
        type Builder = NoArguments<MeanIndex>;

        fn log_prob<D: Device<f32>, T: Tape<f32, D>>(
            &self,
            raw: Tensor<(usize, usize), f32, D, T>,
            x: Tensor<(usize, usize), f32, D>,
        ) -> Tensor<(usize, usize), f32, D, T> {
            Categorical::<3>.log_prob(raw, x)
        }

        fn sample_row(&self, raw: &[f32], rng: &mut dyn RngCore, out: &mut [f32]) {
            Categorical::<3>.sample_row(raw, rng, out)
        }

        fn mean_row(&self, raw: &[f32], out: &mut [f32]) {
            Categorical::<3>.mean_row(raw, out)
        }

        fn in_support(&self, x: f32) -> bool {
            Categorical::<3>.in_support(x)
        }

        fn class_count(&self) -> Option<usize> {
            Some(3)
        }
    }

    #[test]
    fn a_class_label_family_imputing_the_mean_index_is_caught() {
        // Logits (0, -30, 0): the mean index 1 is a class of probability e^-30.
        let spec = Conformance::new(
            Domain::Points(vec![0.0, 1.0, 2.0]),
            vec![vec![0.0, -30.0, 0.0]],
        );
        assert!(check_family(&Cpu::default(), &Categorical::<3>, &spec).is_ok());
        let err = check_family(&Cpu::default(), &MeanIndex, &spec).unwrap_err();
        assert_eq!(err.check, "point", "{err}");
    }

    #[test]
    fn a_bound_violation_is_caught() {
        // A Bernoulli domain point that is outside the family's support.
        let spec = Conformance::new(Domain::Points(vec![0.0, 1.0, 2.0]), vec![vec![0.0]]);
        let err = check_family(&Cpu::default(), &Bernoulli, &spec).unwrap_err();
        assert_eq!(err.check, "bound");
    }
}

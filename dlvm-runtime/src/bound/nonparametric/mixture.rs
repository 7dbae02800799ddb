//! EM for a finite Gaussian mixture whose variances are clipped at a floor ξ.

use super::certificate::certify;
use super::{BoundMethod, NonparametricBound};
use crate::bound::log_sum_exp::log_sum_exp;
use crate::data::Dataset;
use crate::error::{DlvmError, Result};
use crate::parallel::{available_threads, Workers};
use indicatif::{ProgressBar, ProgressStyle};

const LN_2PI: f64 = 1.837_877_066_409_345_5;

/// The covariance of the mixture's atoms: the same classes as the Gaussian family's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Covariance {
    /// `σ² I_p` with `σ² >= ξ`.
    Spherical,
    /// `diag(σ_1², ..., σ_p²)` with every `σ_j² >= ξ`.
    PerCoordinate,
}

/// Settings of [`gaussian_mixture_bound`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MixtureConfig {
    /// The most atoms: EM starts with one atom on each of this many evenly spaced data points.
    pub max_atoms: usize,
    /// The most EM iterations.
    pub max_iterations: usize,
    /// Stop when `l(G)` rises by less than this many nats per point in one iteration.
    pub tolerance: f64,
    /// Show a progress bar over EM iterations.
    pub progress: bool,
}

impl Default for MixtureConfig {
    /// 2000 atoms, 100 iterations, tolerance 1e-6 nats per point, progress.
    fn default() -> Self {
        Self {
            max_atoms: 2000,
            max_iterations: 100,
            tolerance: 1e-6,
            progress: true,
        }
    }
}

/// One mixture component: `log` weight, mean, variances (`p` of them, or 1 if isotropic).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Atom {
    pub log_weight: f64,
    pub mean: Vec<f64>,
    pub variance: Vec<f64>,
}

impl Atom {
    /// `log N(x | mean, diag(variance))`, broadcasting an isotropic variance.
    pub fn log_density(&self, x: &[f64]) -> f64 {
        let iso = self.variance.len() == 1;
        let mut acc = 0.0;
        for (j, (xj, mj)) in x.iter().zip(&self.mean).enumerate() {
            let v = if iso {
                self.variance[0]
            } else {
                self.variance[j]
            };
            acc += (xj - mj).powi(2) / v + v.ln();
        }
        -0.5 * (acc + x.len() as f64 * LN_2PI)
    }

    /// The weighted fit of a Gaussian to rows `x` with weights `r` (summing to 1), clipped at ξ.
    ///
    /// # Formula
    /// `μ = Σ_i r_i x_i`; diagonal `σ_j² = max(ξ, Σ_i r_i (x_ij - μ_j)²)`; isotropic
    /// `σ² = max(ξ, Σ_i r_i |x_i - μ|² / p)`: the constrained maximiser of `Σ_i r_i log N(x_i | η)`,
    /// because `-½ (log σ² + s / σ²)` is unimodal in `σ²` with its peak at `s`.
    pub fn fit(
        x: &[f64],
        p: usize,
        r: &[f64],
        xi: f64,
        covariance: Covariance,
    ) -> (Vec<f64>, Vec<f64>) {
        let mut mean = vec![0.0; p];
        for (row, &ri) in x.chunks(p).zip(r) {
            if ri > 0.0 {
                mean.iter_mut().zip(row).for_each(|(m, v)| *m += ri * v);
            }
        }
        let mut second = vec![0.0; p];
        for (row, &ri) in x.chunks(p).zip(r) {
            if ri > 0.0 {
                for ((s, v), m) in second.iter_mut().zip(row).zip(&mean) {
                    *s += ri * (v - m).powi(2);
                }
            }
        }
        let variance = match covariance {
            Covariance::PerCoordinate => second.iter().map(|s| s.max(xi)).collect(),
            Covariance::Spherical => vec![(second.iter().sum::<f64>() / p as f64).max(xi)],
        };
        (mean, variance)
    }
}

/// Maximises `l(G)` over finite ξ-floored Gaussian mixtures by EM, and certifies the result.
///
/// Atoms start on data points (evenly spaced, at most `max_atoms`) with variance ξ and equal
/// weights; each iteration raises `l(G)` (EM is monotone and the clipped M-step is the exact
/// constrained maximiser). The returned bound is `min(l(Ĝ) + gap, -(n p / 2) log(2π ξ))`, where
/// `gap` is the proven bound on `max_G l(G) - l(Ĝ)` of [`Certificate`] (`O(n² p)`): an upper
/// bound on the likelihood of every DLVM of the family, whatever EM reached.
///
/// # Formula
/// E-step `r_ik ∝ w_k N(x_i | μ_k, Σ_k)`; M-step `w_k = (1/n) Σ_i r_ik`, `(μ_k, Σ_k)` =
/// [`Atom::fit`] with weights `r_ik / Σ_i r_ik`.
///
/// # Errors
/// [`DlvmError::Config`] when `xi` is not finite and positive, or `max_atoms` is 0; a data error
/// when `data` has non-finite values.
pub fn gaussian_mixture_bound(
    data: &Dataset,
    xi: f64,
    covariance: Covariance,
    config: &MixtureConfig,
) -> Result<NonparametricBound> {
    check_config(xi, config)?;
    data.check_finite()?;
    let (n, p) = (data.rows(), data.cols());
    let x: Vec<f64> = data.as_slice().iter().map(|&v| f64::from(v)).collect();
    let mut atoms = initial_atoms(&x, n, p, xi, covariance, config.max_atoms);
    let bar = progress_bar(config.progress, config.max_iterations);
    let (mut log_pg, mut resp) = e_step(&x, p, &atoms);
    let mut previous = log_pg.iter().sum::<f64>();
    let mut iterations = 0;
    while iterations < config.max_iterations {
        atoms = m_step(&x, p, &resp, &atoms, xi, covariance);
        (log_pg, resp) = e_step(&x, p, &atoms);
        iterations += 1;
        let current = log_pg.iter().sum::<f64>();
        bar.set_message(format!("l(G)/n = {:.3}", current / n as f64));
        bar.inc(1);
        let done = current - previous < config.tolerance * n as f64;
        previous = current;
        if done {
            break;
        }
    }
    bar.finish_and_clear();
    let workers = Workers::new(available_threads()).map_err(DlvmError::Device)?;
    let certificate = certify(&x, p, &log_pg, xi, &workers);
    let closed_form = -0.5 * (n * p) as f64 * (2.0 * std::f64::consts::PI * xi).ln();
    Ok(NonparametricBound {
        achieved: Some(previous),
        total: (previous + certificate.gap).min(closed_form),
        n,
        method: BoundMethod::Mixture {
            xi,
            covariance,
            iterations,
            atoms: atoms.len(),
            certificate,
        },
    })
}

fn check_config(xi: f64, config: &MixtureConfig) -> Result<()> {
    if !(xi.is_finite() && xi > 0.0) {
        return Err(DlvmError::Config {
            parameter: "xi",
            reason: format!(
                "the variance floor must be finite and > 0, got {xi}; without a floor the \
                 nonparametric maximum is +inf"
            ),
        });
    }
    if config.max_atoms == 0 {
        return Err(DlvmError::Config {
            parameter: "max_atoms",
            reason: "the mixture needs at least 1 atom (e.g. 2000)".into(),
        });
    }
    Ok(())
}

fn initial_atoms(x: &[f64], n: usize, p: usize, xi: f64, cov: Covariance, max: usize) -> Vec<Atom> {
    let m = max.min(n);
    let width = if cov == Covariance::Spherical { 1 } else { p };
    (0..m)
        .map(|k| {
            let i = k * n / m;
            Atom {
                log_weight: -(m as f64).ln(),
                mean: x[i * p..(i + 1) * p].to_vec(),
                variance: vec![xi; width],
            }
        })
        .collect()
}

/// `log p_G(x_i)` for every point and the responsibilities `r_ik` (row-major `n x m`).
pub(crate) fn e_step(x: &[f64], p: usize, atoms: &[Atom]) -> (Vec<f64>, Vec<f64>) {
    let m = atoms.len();
    let mut log_pg = Vec::with_capacity(x.len() / p);
    let mut resp = Vec::with_capacity(x.len() / p * m);
    let mut terms = vec![0.0; m];
    for row in x.chunks(p) {
        for (t, a) in terms.iter_mut().zip(atoms) {
            *t = a.log_weight + a.log_density(row);
        }
        let lse = log_sum_exp(&terms);
        log_pg.push(lse);
        resp.extend(terms.iter().map(|t| (t - lse).exp()));
    }
    (log_pg, resp)
}

/// Refits every atom; atoms whose weight underflows to 0 are dropped.
fn m_step(
    x: &[f64],
    p: usize,
    resp: &[f64],
    atoms: &[Atom],
    xi: f64,
    cov: Covariance,
) -> Vec<Atom> {
    let (n, m) = (x.len() / p, atoms.len());
    let mut next = Vec::with_capacity(m);
    let mut column = vec![0.0; n];
    for k in 0..m {
        column
            .iter_mut()
            .enumerate()
            .for_each(|(i, c)| *c = resp[i * m + k]);
        let mass: f64 = column.iter().sum();
        if mass <= 0.0 || !mass.is_finite() {
            continue;
        }
        column.iter_mut().for_each(|c| *c /= mass);
        let (mean, variance) = Atom::fit(x, p, &column, xi, cov);
        next.push(Atom {
            log_weight: (mass / n as f64).ln(),
            mean,
            variance,
        });
    }
    next
}

fn progress_bar(show: bool, iterations: usize) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(iterations as u64);
    if let Ok(style) = ProgressStyle::with_template("mixture EM [{bar:30}] {pos}/{len} {msg}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quiet() -> MixtureConfig {
        MixtureConfig {
            progress: false,
            ..Default::default()
        }
    }

    #[test]
    fn em_never_exceeds_the_closed_form_and_beats_a_single_gaussian() {
        // Two tight clusters in 2-d: the mixture must beat one Gaussian fitted to all points.
        let values = vec![0.0, 0.0, 0.1, 0.0, 0.0, 0.1, 5.0, 5.0, 5.1, 5.0, 5.0, 5.1];
        let data = Dataset::from_vec("clusters", 6, 2, values.clone()).unwrap();
        let xi = 0.05;
        let got = gaussian_mixture_bound(&data, xi, Covariance::PerCoordinate, &quiet()).unwrap();
        let closed_form = -0.5 * 12.0 * (2.0 * std::f64::consts::PI * xi).ln();
        let achieved = got.achieved.unwrap();
        assert!(achieved <= got.total + 1e-9 && got.total <= closed_form + 1e-9);
        let x: Vec<f64> = values.iter().map(|&v| f64::from(v)).collect();
        let r = vec![1.0 / 6.0; 6];
        let (mean, variance) = Atom::fit(&x, 2, &r, xi, Covariance::PerCoordinate);
        let single = Atom {
            log_weight: 0.0,
            mean,
            variance,
        };
        let one: f64 = x.chunks(2).map(|row| single.log_density(row)).sum();
        assert!(
            achieved > one + 1.0,
            "mixture {achieved} vs one Gaussian {one}"
        );
    }

    /// `l(G)` of the mixture `atoms` on the rows of `x`.
    fn log_likelihood(x: &[f64], p: usize, atoms: &[Atom]) -> f64 {
        e_step(x, p, atoms).0.iter().sum()
    }

    #[test]
    fn the_certified_bound_is_above_a_single_atom_between_two_points() {
        // Issue 16, item 10: the local search reported -2.690, below l = -2.648 of N(0, 1).
        let data = Dataset::from_vec("two", 2, 1, vec![-0.9, 0.9]).unwrap();
        let config = MixtureConfig {
            max_iterations: 0,
            ..quiet()
        };
        let got = gaussian_mixture_bound(&data, 1.0, Covariance::Spherical, &config).unwrap();
        let single = Atom {
            log_weight: 0.0,
            mean: vec![0.0],
            variance: vec![1.0],
        };
        let reached = log_likelihood(&[-0.9, 0.9], 1, &[single]);
        assert!((reached - -2.6479).abs() < 1e-3, "{reached}");
        assert!(got.total >= reached, "bound {} < {reached}", got.total);
    }

    #[test]
    fn the_certified_bound_is_above_the_likelihood_of_random_floored_mixtures() {
        use rand::{rngs::StdRng, Rng, SeedableRng};
        let mut rng = StdRng::seed_from_u64(16);
        for trial in 0..300 {
            let (n, p) = (rng.gen_range(1..7), rng.gen_range(1..4));
            let x: Vec<f64> = (0..n * p)
                .map(|_| f64::from(rng.gen_range(-2.0f32..2.0)))
                .collect();
            let values: Vec<f32> = x.iter().map(|&v| v as f32).collect();
            let data = Dataset::from_vec("random", n, p, values).unwrap();
            let xi = rng.gen_range(0.05..2.0);
            let cov = if rng.gen_bool(0.5) {
                Covariance::Spherical
            } else {
                Covariance::PerCoordinate
            };
            let config = MixtureConfig {
                max_iterations: [0, 1, 3, 100][rng.gen_range(0..4)],
                ..quiet()
            };
            let bound = gaussian_mixture_bound(&data, xi, cov, &config).unwrap();
            for _ in 0..50 {
                // Atoms at random convex combinations of the points (where sup D hides), with
                // variances at or just above the floor.
                let atoms: Vec<Atom> = (0..rng.gen_range(1..4))
                    .map(|_| {
                        let w: Vec<f64> = (0..n).map(|_| rng.gen::<f64>().powi(3)).collect();
                        let total: f64 = w.iter().sum::<f64>().max(1e-12);
                        let mut mean = vec![0.0; p];
                        for (row, wi) in x.chunks(p).zip(&w) {
                            mean.iter_mut()
                                .zip(row)
                                .for_each(|(m, v)| *m += wi / total * v);
                        }
                        let width = if cov == Covariance::Spherical { 1 } else { p };
                        let variance = (0..width)
                            .map(|_| xi * (1.0 + rng.gen::<f64>().powi(4)))
                            .collect();
                        Atom {
                            log_weight: rng.gen::<f64>().ln(),
                            mean,
                            variance,
                        }
                    })
                    .collect();
                let norm = log_sum_exp(&atoms.iter().map(|a| a.log_weight).collect::<Vec<_>>());
                let atoms: Vec<Atom> = atoms
                    .into_iter()
                    .map(|a| Atom {
                        log_weight: a.log_weight - norm,
                        ..a
                    })
                    .collect();
                let l = log_likelihood(&x, p, &atoms);
                assert!(
                    l <= bound.total + 1e-9,
                    "trial {trial}: mixture reaches {l} above the bound {} ({bound})",
                    bound.total
                );
            }
        }
    }

    #[test]
    fn a_non_positive_floor_is_a_config_error() {
        let data = Dataset::from_vec("d", 1, 1, vec![0.0]).unwrap();
        let err = gaussian_mixture_bound(&data, 0.0, Covariance::Spherical, &quiet()).unwrap_err();
        assert!(err.to_string().contains("xi"), "{err}");
    }
}

//! The importance-weighted bound `L_K` (Burda et al. 2016), estimated over a data set in chunks.

use super::estimate::check_finite_values;
use super::log_sum_exp::LogSumExp;
use super::Estimate;
use crate::batch::{check_batch_size, check_dataset, rows_to_tensor, to_dynamic};
use crate::data::Dataset;
use crate::error::{DlvmError, Result};
use crate::family::OutputFamily;
use crate::forward::{HostNetworks, Workspace};
use crate::model::Dlvm;
use crate::parallel::{available_threads, row_shards, stream_rng, Workers};
use dfdx::prelude::*;
use indicatif::{ProgressBar, ProgressStyle};
use rand::Rng;
use rand_chacha::ChaCha12Rng;
use rand_distr::StandardNormal;

/// Settings of [`evaluate_iwae`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IwaeConfig {
    /// Importance samples per point, `K >= 1` (`K = 1` is a single-sample ELBO).
    pub k: usize,
    /// The most decoder rows evaluated in one device call (points × samples); bounds memory.
    pub chunk_rows: usize,
    /// Seed of the importance samples.
    pub seed: u64,
    /// Show a progress bar over points (hidden automatically when stderr is not a terminal).
    pub progress: bool,
    /// Worker threads sharing the points. Every point draws its samples from its own random
    /// stream (`seed`, point number), so the result does not depend on this count, and on
    /// `chunk_rows` only through the rounding of matrix products of other sizes.
    pub threads: usize,
    /// Whether to encode and decode on the host over copies of the model's weights read once
    /// ([`forward`](crate::forward); CPU models that describe their architecture, as every
    /// `dlvm!` model does). `false` runs the model's own dfdx networks: the same bound up to
    /// the rounding of sums taken in another order; for comparisons.
    pub fused: bool,
}

impl IwaeConfig {
    /// `K` samples per point, 1024 decoder rows per call (the fastest on a 2-core AVX2 machine:
    /// a chunk's activations stay in cache), seed 0, progress bar on, one worker per available
    /// core, networks on the host.
    pub fn new(k: usize) -> Self {
        Self {
            k,
            chunk_rows: 1024,
            seed: 0,
            progress: true,
            threads: available_threads(),
            fused: true,
        }
    }

    /// Checks `k >= 1`, `chunk_rows >= 1` and `threads >= 1`.
    ///
    /// # Errors
    /// [`DlvmError::Config`] naming the setting and the allowed range.
    pub fn check(&self) -> Result<()> {
        if self.k == 0 {
            return Err(DlvmError::Config {
                parameter: "k",
                reason: "the importance-weighted bound needs at least one sample per point; \
                         use k >= 1 (k = 1 is the ELBO, k = 5000 the usual test estimate)"
                    .into(),
            });
        }
        if self.threads == 0 {
            return Err(DlvmError::Config {
                parameter: "threads",
                reason: "must be at least 1 (the machine has {} available)"
                    .replace("{}", &available_threads().to_string()),
            });
        }
        if self.chunk_rows == 0 {
            return Err(DlvmError::Config {
                parameter: "chunk_rows",
                reason: "must be at least 1 (e.g. 4096 decoder rows per device call)".into(),
            });
        }
        Ok(())
    }
}

/// The importance-weighted bound `L_K(x_i)` of every point of `data`, in nats.
///
/// Samples are processed in chunks of at most `chunk_rows` decoder rows, and the log-sum-exp is
/// accumulated in `f64` across chunks, so memory does not grow with `K`.
///
/// # Formula
/// `L_K(x) = log (1/K) Σ_k w_k`, `log w_k = log Φ(x | f(z_k)) + log N(z_k | 0, I) - log q(z_k | x)`,
/// `z_k ~ q(z | x)`; `E[L_1] = ELBO <= E[L_K] <= E[L_{K+1}] <= log p(x)`.
///
/// # Errors
/// [`DlvmError::Config`] for `k = 0` or `chunk_rows = 0`; a data error when `data` does not fit
/// the model; [`DlvmError::NonFiniteEstimate`] naming the first point whose bound is NaN or
/// infinite (never an `Ok` holding a non-finite number).
pub fn iwae_per_point<M: Dlvm<D>, D: Device<f32>>(
    model: &M,
    data: &Dataset,
    config: &IwaeConfig,
) -> Result<Vec<f64>> {
    let sums = point_sums(model, data, config)?;
    checked_bounds(&sums, data, config)
}

/// `L_K(x_i)` of every point from its sums, refusing a non-finite one.
fn checked_bounds(sums: &[PointSums], data: &Dataset, config: &IwaeConfig) -> Result<Vec<f64>> {
    let bounds: Vec<f64> = sums.iter().map(PointSums::bound).collect();
    check_finite_values(&format!("IWAE-{} bound", config.k), data, &bounds)?;
    Ok(bounds)
}

/// The accumulated importance weights of one point: `log Σ_k w_k` and `log Σ_k w_k²`.
#[derive(Debug, Clone, Copy, Default)]
struct PointSums {
    weights: LogSumExp,
    squares: LogSumExp,
}

impl PointSums {
    /// Adds one log-weight `a = log w_k`.
    fn push(&mut self, a: f64) {
        self.weights.push(a);
        self.squares.push(2.0 * a);
    }

    /// `L_K = log (1/K) Σ_k w_k`.
    fn bound(&self) -> f64 {
        self.weights.mean_log()
    }

    /// The Monte Carlo variance of [`bound`](Self::bound) by the delta method; `None` for `K < 2`.
    ///
    /// # Formula
    /// `Var(log w̄) ≈ Var(w̄) / w̄² = (K Σ w² / (Σ w)² - 1) / (K - 1)`, from the sample variance of
    /// the weights (it can under-state the error when the weights are heavy-tailed).
    fn mc_variance(&self) -> Option<f64> {
        let k = self.weights.count();
        if k < 2 {
            return None;
        }
        let log_ratio = (k as f64).ln() + self.squares.value() - 2.0 * self.weights.value();
        let v = (log_ratio.exp() - 1.0).max(0.0) / (k - 1) as f64;
        v.is_finite().then_some(v)
    }
}

/// The weight sums of every point of `data` (see [`iwae_per_point`]).
fn point_sums<M: Dlvm<D>, D: Device<f32>>(
    model: &M,
    data: &Dataset,
    config: &IwaeConfig,
) -> Result<Vec<PointSums>> {
    config.check()?;
    check_dataset(model, data)?;
    let points_per_call = (config.chunk_rows / config.k).clamp(1, data.rows());
    check_batch_size(points_per_call, data.rows())?;
    let samples_per_call = config.k.min(config.chunk_rows);
    let bar = progress_bar(config.progress, data.rows(), config.k);
    let workers = Workers::new(config.threads).map_err(DlvmError::Device)?;
    let host = (config.fused && crate::kernels::is_cpu::<D>())
        .then(|| HostNetworks::of_model(model))
        .flatten();
    let indices: Vec<usize> = (0..data.rows()).collect();
    let groups: Vec<&[usize]> = indices.chunks(points_per_call).collect();
    // Each worker takes a contiguous run of groups with one workspace for all of them.
    let runs = row_shards(groups.len(), workers.threads());
    let per_run = workers.map(runs, |(first, end)| {
        let mut ws = Workspace::default();
        let mut bounds = Vec::new();
        for group in &groups[first..end] {
            let mut rngs: Vec<ChaCha12Rng> = group
                .iter()
                .map(|&i| stream_rng(config.seed, i as u64))
                .collect();
            let host = host.as_ref().map(|h| (h, &mut ws));
            let points = Points { data, group };
            let sums = group_bound(model, host, points, config.k, samples_per_call, &mut rngs);
            bar.inc(group.len() as u64);
            bounds.extend(sums);
        }
        bounds
    });
    bar.finish_and_clear();
    Ok(per_run.concat())
}

/// The importance-weighted bound averaged over `data`, with its standard error over points and
/// its Monte Carlo error.
///
/// # Formula
/// `mean = (1/n) Σ_i L_K(x_i)` (see [`iwae_per_point`]). [`Estimate::std_err`] is over points, so
/// it includes both the spread of `log p(x_i)` over the points and the Monte Carlo noise;
/// [`Estimate::mc_std_err`] is the Monte Carlo part alone, `√(Σ_i Var(L_K(x_i))) / n` with each
/// point's variance from its `K` weights by the delta method (`None` for `K = 1`).
///
/// # Errors
/// As [`iwae_per_point`].
pub fn evaluate_iwae<M: Dlvm<D>, D: Device<f32>>(
    model: &M,
    data: &Dataset,
    config: &IwaeConfig,
) -> Result<Estimate> {
    let sums = point_sums(model, data, config)?;
    let bounds = checked_bounds(&sums, data, config)?;
    let variances: Option<Vec<f64>> = sums.iter().map(PointSums::mc_variance).collect();
    Ok(match variances {
        Some(v) => Estimate::with_mc_variances(&bounds, &v),
        None => Estimate::from_values(&bounds),
    })
}

/// The points of a group: rows `group` of `data`.
#[derive(Clone, Copy)]
struct Points<'a> {
    data: &'a Dataset,
    group: &'a [usize],
}

/// Accumulates `K` log-weights for each point of `points`, `samples` at a time: encoding the
/// points and decoding the latents on the host over the model's weights (see
/// [`forward`](crate::forward)) with a worker's workspace when `host` is given, else by the
/// model's own networks.
fn group_bound<M: Dlvm<D>, D: Device<f32>>(
    model: &M,
    host: Option<(&HostNetworks, &mut Workspace)>,
    points: Points,
    k: usize,
    samples: usize,
    rngs: &mut [impl Rng],
) -> Vec<PointSums> {
    let mut sums = vec![PointSums::default(); points.group.len()];
    let mut buffer = Vec::new();
    let (p, d) = (M::observed_dim(), M::latent_dim());
    let mut add = |log_lik: &[f64], log_weight: &[f64], s: usize| {
        for (row, (ll, lw)) in log_lik.iter().zip(log_weight).enumerate() {
            sums[row / s].push(ll + lw);
        }
    };
    match host {
        Some((host, ws)) => {
            points.data.gather(points.group, &mut buffer);
            host.encode_into(&buffer, points.group.len(), None, ws);
            let (mean, log_var) = (ws.mean.clone(), ws.log_variance.clone());
            for s in chunks(k, samples) {
                let draws = draw_latents(&mean, &log_var, d, s, rngs);
                host.decode_into(&draws.z, draws.log_weight.len(), ws);
                let log_lik = host_log_likelihood(model.family(), &ws.raw, &buffer, p, s);
                let log_lik: Vec<f64> = log_lik.into_iter().map(f64::from).collect();
                add(&log_lik, &draws.log_weight, s);
            }
        }
        None => {
            let x = rows_to_tensor::<M::Observed, D>(
                model.device(),
                points.data,
                points.group,
                &mut buffer,
            );
            let q = model.encode(x);
            let (mean, log_var) = (q.mean.as_vec(), q.log_variance.as_vec());
            for s in chunks(k, samples) {
                let draws = draw_latents(&mean, &log_var, d, s, rngs);
                let log_lik = decoded_log_likelihood(model, &buffer, &draws.z, s);
                add(&log_lik, &draws.log_weight, s);
            }
        }
    }
    sums
}

/// The sizes of the chunks of `k` samples, `samples` at a time (the last one smaller).
fn chunks(k: usize, samples: usize) -> impl Iterator<Item = usize> {
    (0..k)
        .step_by(samples.max(1))
        .map(move |done| samples.min(k - done))
}

/// Latent draws for a group, `s` per point (point-major, point `i` from `rngs[i]`), and their
/// `log p(z) - log q(z | x)`.
struct Draws {
    z: Vec<f32>,
    log_weight: Vec<f64>,
}

/// # Formula
/// `z = m + exp(v/2) ε`, `log p(z) - log q(z|x) = Σ_j ½ (ε_j² + v_j - z_j²)` (the `log 2π` cancels).
fn draw_latents(mean: &[f32], log_var: &[f32], d: usize, s: usize, rngs: &mut [impl Rng]) -> Draws {
    let points = mean.len() / d;
    let mut z = Vec::with_capacity(points * s * d);
    let mut log_weight = Vec::with_capacity(points * s);
    let mut sd = vec![0.0f32; d];
    for (i, rng) in rngs.iter_mut().enumerate().take(points) {
        let (m, v) = (&mean[i * d..(i + 1) * d], &log_var[i * d..(i + 1) * d]);
        for (s, &v) in sd.iter_mut().zip(v) {
            *s = (0.5 * v).exp();
        }
        let sum_v: f64 = v.iter().map(|&v| f64::from(v)).sum();
        for _ in 0..s {
            let mut squares = 0.0;
            for (&m, &s) in m.iter().zip(&sd) {
                let eps: f32 = rng.sample(StandardNormal);
                let zj = m + s * eps;
                squares += f64::from(eps).powi(2) - f64::from(zj).powi(2);
                z.push(zj);
            }
            log_weight.push(0.5 * (sum_v + squares));
        }
    }
    Draws { z, log_weight }
}

/// `log Φ(x_i | f(z))` for `s` latents per point (point `i`'s rows are `i·s..(i+1)·s`).
fn decoded_log_likelihood<M: Dlvm<D>, D: Device<f32>>(
    model: &M,
    x: &[f32],
    z: &[f32],
    s: usize,
) -> Vec<f64> {
    let (p, d) = (M::observed_dim(), M::latent_dim());
    let rows = z.len() / d;
    let dev = model.device();
    let z = dev.tensor_from_vec(z.to_vec(), (rows, M::Latent::default()));
    let raw = model.decode(z);
    let per_row = if crate::kernels::is_cpu::<D>() {
        // On the CPU the family reads the host values in place (no device copies).
        let raw = crate::batch::to_host(raw);
        host_log_likelihood(model.family(), &raw, x, p, s)
    } else {
        let mut target = Vec::with_capacity(rows * p);
        for point in x.chunks(p) {
            (0..s).for_each(|_| target.extend_from_slice(point));
        }
        let target = to_dynamic(dev.tensor_from_vec(target, (rows, M::Observed::default())));
        model.family().log_prob_rows(raw, target).as_vec()
    };
    per_row.into_iter().map(f64::from).collect()
}

/// Rows of the repeated target handed to the family at a time: enough to amortise the call,
/// few enough (`64 · p` values) to stay in cache.
const TARGET_ROWS: usize = 64;

/// The family's row sums for `s` decoder rows per point of `x`, on host values: each point's
/// row is repeated `TARGET_ROWS` times once, and its decoder rows go by in blocks of that many.
fn host_log_likelihood<F: OutputFamily>(
    family: &F,
    raw: &[f32],
    x: &[f32],
    p: usize,
    s: usize,
) -> Vec<f32> {
    let width = F::raw_width(p);
    let mut sums = vec![0.0; raw.len() / width.max(1)];
    let mut target = Vec::with_capacity(TARGET_ROWS.min(s) * p);
    for (i, point) in x.chunks(p).enumerate() {
        target.clear();
        (0..TARGET_ROWS.min(s)).for_each(|_| target.extend_from_slice(point));
        let (point_raw, point_sums) = (
            &raw[i * s * width..(i + 1) * s * width],
            &mut sums[i * s..(i + 1) * s],
        );
        for (raw, out) in point_raw
            .chunks(TARGET_ROWS * width)
            .zip(point_sums.chunks_mut(TARGET_ROWS))
        {
            family.log_prob_rows_host(raw, &target[..out.len() * p], p, out);
        }
    }
    sums
}

fn progress_bar(show: bool, rows: usize, k: usize) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(rows as u64);
    let template =
        format!("IWAE-{k} [{{bar:30}}] {{pos}}/{{len}} points, {{per_sec}}, eta {{eta}}");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

//! The pieces both samplers are made of: a batch of independent chains, one per data point, whose
//! state lives on the host (`x` completed, `z`, the decoder output at `z`), and the model calls
//! they need (encode, decode, per-point log-likelihood), each one batched over all chains.

use super::mask::Mask;
use super::options::{ImputeOptions, Init};
use crate::batch::{check_dataset, to_host};
use crate::data::Dataset;
use crate::error::{DlvmError, Result};
use crate::family::OutputFamily;
use crate::model::Dlvm;
use crate::parallel::{row_shards, stream_rng, Workers};
use dfdx::prelude::*;
use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::StdRng;
use rand::Rng;
use rand_chacha::ChaCha12Rng;
use rand_distr::StandardNormal;

const LN_2PI: f64 = 1.837_877_066_409_345_5;

/// A batch of chains: one per row of the data, all advanced together.
pub(crate) struct Chains<'a, M, D: Device<f32>> {
    pub model: &'a M,
    pub mask: &'a Mask,
    /// Completed points `(x_obs, x_miss)`, row-major `(n, p)`.
    pub x: Vec<f32>,
    /// Number of chains.
    pub n: usize,
    scratch: Vec<f32>,
    /// Workers sharing each model call by rows.
    workers: Workers,
    /// Chain `i`'s own random stream for its draws of `z` (pseudo-Gibbs draws,
    /// Metropolis-within-Gibbs proposals) and of `x_miss` (ChaCha12 with the run's seed, stream
    /// `i + 1`; stream 0 is the run's main generator, for MWG's first `z` and its acceptance
    /// draws), so the draws do not depend on how rows are shared between workers.
    row_rngs: Vec<ChaCha12Rng>,
    device: std::marker::PhantomData<D>,
}

/// Proposed latents for every chain with their decoder outputs and ratio terms (see
/// [`Chains::propose`]).
#[derive(Default)]
pub(crate) struct Proposal {
    pub z: Vec<f32>,
    pub raw: Vec<f32>,
    pub gain: Vec<f64>,
}

/// The encoder's output on the host: means and log-variances, row-major `(n, d)`.
pub(crate) struct HostPosterior {
    pub mean: Vec<f32>,
    pub log_variance: Vec<f32>,
}

impl HostPosterior {
    /// `z = m + exp(v / 2) ⊙ ε`, `ε ~ N(0, I)`.
    pub fn sample(&self, rng: &mut StdRng) -> Vec<f32> {
        self.mean
            .iter()
            .zip(&self.log_variance)
            .map(|(&m, &v)| m + (0.5 * v).exp() * rng.sample::<f32, _>(StandardNormal))
            .collect()
    }

    /// [`sample`](Self::sample) with row `r`'s noise from `rngs[r]`.
    pub fn sample_rows(&self, rngs: &mut [ChaCha12Rng], d: usize) -> Vec<f32> {
        let rows = self.mean.chunks(d).zip(self.log_variance.chunks(d));
        let mut z = Vec::with_capacity(self.mean.len());
        for ((mean, log_variance), rng) in rows.zip(rngs.iter_mut()) {
            for (&m, &v) in mean.iter().zip(log_variance) {
                z.push(m + (0.5 * v).exp() * rng.sample::<f32, _>(StandardNormal));
            }
        }
        z
    }

    /// `log q(z | x)` per chain, in f64.
    ///
    /// # Formula
    /// `log q(z|x) = -½ Σ_j (log 2π + v_j + (z_j - m_j)² e^{-v_j})`
    pub fn log_density(&self, z: &[f32], d: usize) -> Vec<f64> {
        let terms = z
            .iter()
            .zip(&self.mean)
            .zip(&self.log_variance)
            .map(|((&z, &m), &v)| {
                let (z, m, v) = (f64::from(z), f64::from(m), f64::from(v));
                -0.5 * (LN_2PI + v + (z - m).powi(2) * (-v).exp())
            });
        row_sums(terms, d)
    }
}

/// `log N(z | 0, I)` per chain, in f64.
///
/// # Formula
/// `log p(z) = -½ Σ_j (log 2π + z_j²)`
pub(crate) fn log_prior(z: &[f32], d: usize) -> Vec<f64> {
    row_sums(z.iter().map(|&z| -0.5 * (LN_2PI + f64::from(z).powi(2))), d)
}

fn row_sums(terms: impl Iterator<Item = f64>, width: usize) -> Vec<f64> {
    let terms: Vec<f64> = terms.collect();
    terms.chunks(width).map(|r| r.iter().sum()).collect()
}

impl<'a, M: Dlvm<D>, D: Device<f32>> Chains<'a, M, D> {
    /// Checks the inputs and fills the missing entries with zeros.
    ///
    /// # Errors
    /// The mask's shape differs from the data's, the data's width is not the model's, or an
    /// observed entry is not finite or not in the family's support.
    pub fn new(
        model: &'a M,
        data: &Dataset,
        mask: &'a Mask,
        options: &ImputeOptions,
    ) -> Result<Self> {
        mask.check_shape(data.rows(), data.cols())?;
        let x: Vec<f32> = data
            .as_slice()
            .iter()
            .zip(mask.missing())
            .map(|(&v, &m)| if m { 0.0 } else { v })
            .collect();
        let observed = Dataset::from_vec(
            format!("{} (missing entries read as 0)", data.name()),
            data.rows(),
            data.cols(),
            x.clone(),
        )?;
        check_dataset(model, &observed)?;
        Ok(Self {
            model,
            mask,
            x,
            n: data.rows(),
            scratch: vec![0.0; M::observed_dim()],
            workers: Workers::new(options.threads).map_err(DlvmError::Device)?,
            row_rngs: (0..data.rows() as u64)
                .map(|i| stream_rng(options.seed, i + 1))
                .collect(),
            device: std::marker::PhantomData,
        })
    }

    /// `f` on each row shard `(start, end)` of the chains, on the workers; the results
    /// concatenated in row order.
    fn by_rows<R: Send + Clone>(&self, f: impl Fn(usize, usize) -> Vec<R> + Sync) -> Vec<R> {
        let shards = row_shards(self.n, self.workers.threads());
        self.workers
            .map(shards, |(start, end)| f(start, end))
            .concat()
    }

    /// The encoder at the current completed points.
    pub fn encode(&self) -> HostPosterior {
        let (model, x, p) = (self.model, &self.x, M::observed_dim());
        let parts = self
            .workers
            .map(row_shards(self.n, self.workers.threads()), |(a, b)| {
                let q = encode_rows(model, &x[a * p..b * p]);
                (q.mean, q.log_variance)
            });
        let (mean, log_variance) = parts.into_iter().unzip::<_, _, Vec<_>, Vec<_>>();
        HostPosterior {
            mean: mean.concat(),
            log_variance: log_variance.concat(),
        }
    }

    /// The decoder's raw outputs at `z`, row-major `(n, raw_width)`.
    pub fn decode(&self, z: &[f32]) -> Vec<f32> {
        let (model, d) = (self.model, M::latent_dim());
        self.by_rows(|a, b| decode_rows(model, z[a * d..b * d].to_vec()))
    }

    /// `log Φ(x | η)` per chain over all coordinates (observed and current imputation), summed
    /// in `f32` by the family's [`log_prob_rows_host`](OutputFamily::log_prob_rows_host) on the
    /// host values (relative error about 10⁻⁶, harmless in the Metropolis ratio) and widened to
    /// `f64`.
    pub fn log_likelihood(&self, raw: &[f32]) -> Vec<f64> {
        let (family, x) = (self.model.family(), &self.x);
        let (p, width) = (M::observed_dim(), raw_width::<M, D>());
        self.by_rows(|a, b| {
            let mut sums = vec![0.0; b - a];
            family.log_prob_rows_host(&raw[a * width..b * width], &x[a * p..b * p], p, &mut sums);
            sums.into_iter().map(f64::from).collect()
        })
    }

    /// Ends a run whose last decoder output is `raw`: the last draw, then the family mean at the
    /// last `z` in the missing entries, handed to `recorder` with the run's wall-clock time.
    pub fn finish(
        mut self,
        recorder: super::result::Recorder,
        raw: &[f32],
        metropolis: bool,
        start: std::time::Instant,
    ) -> super::result::Imputation {
        let last_draw = self.x.clone();
        self.set_missing_to_mean(raw);
        let discrete = <M::Family as OutputFamily>::DISCRETE;
        let seconds = start.elapsed().as_secs_f64();
        recorder.finish(last_draw, self.x, metropolis, seconds, discrete)
    }

    /// `x_miss = E[x_miss | η]`: sets the missing entries to the family mean.
    pub fn set_missing_to_mean(&mut self, raw: &[f32]) {
        let model = self.model;
        self.for_each_incomplete_row(raw, |row, out| model.family().mean_row(row, out));
    }

    fn for_each_incomplete_row(&mut self, raw: &[f32], mut fill: impl FnMut(&[f32], &mut [f32])) {
        let (p, width) = (M::observed_dim(), raw_width::<M, D>());
        for i in 0..self.n {
            let missing = self.mask.row_flags(i);
            if !missing.contains(&true) {
                continue;
            }
            fill(&raw[i * width..(i + 1) * width], &mut self.scratch);
            fill_missing(&mut self.x[i * p..(i + 1) * p], missing, &self.scratch);
        }
    }

    /// One pseudo-Gibbs step for every chain, each worker's row shard in one pass:
    /// `z ~ q(z | x)` and `x_miss ~ Φ(x_miss | f(z))` from the chain's own stream, then
    /// `log Φ(x | f(z))` at the new `x` (the recorder's trace). Returns `(f(z), log Φ)`.
    pub fn pseudo_gibbs_step(&mut self) -> (Vec<f32>, Vec<f64>) {
        let (model, mask) = (self.model, self.mask);
        let p = M::observed_dim();
        let jobs = row_jobs(&self.workers, &mut self.x, &mut self.row_rngs, p);
        let parts = self.workers.map(jobs, |(first, x, rngs)| {
            let rows = x.len() / p;
            let z = encode_rows(model, x).sample_rows(rngs, M::latent_dim());
            let raw = decode_rows(model, z);
            draw_missing_rows(model.family(), mask, first, x, &raw, rngs, p);
            let mut sums = vec![0.0; rows];
            model.family().log_prob_rows_host(&raw, x, p, &mut sums);
            (raw, sums)
        });
        let (raw, sums): (Vec<_>, Vec<_>) = parts.into_iter().unzip();
        let log_lik = sums.concat().into_iter().map(f64::from).collect();
        (raw.concat(), log_lik)
    }

    /// The Metropolis-within-Gibbs proposal for every chain at its current `z` (row-major),
    /// each worker's row shard in one pass: `z̃ ~ q(z | x)` from the chain's own stream, `f(z̃)`,
    /// and the terms of `log ρ` other than the current likelihood `log Φ(x | f(z))`.
    ///
    /// # Formula
    /// `gain = log Φ(x | f(z̃)) + log p(z̃) - log q(z̃ | x) + log q(z | x) - log p(z)` (in f64),
    /// so that `log ρ = gain - log Φ(x | f(z))`.
    pub fn propose(&mut self, z: &[f32]) -> Proposal {
        let model = self.model;
        let (p, d) = (M::observed_dim(), M::latent_dim());
        let jobs = row_jobs(&self.workers, &mut self.x, &mut self.row_rngs, p);
        let parts = self.workers.map(jobs, |(first, x, rngs)| {
            let rows = x.len() / p;
            let q = encode_rows(model, x);
            let current = &z[first * d..(first + rows) * d];
            let proposal = q.sample_rows(rngs, d);
            let raw = decode_rows(model, proposal.clone());
            let mut lik = vec![0.0; rows];
            model.family().log_prob_rows_host(&raw, x, p, &mut lik);
            let terms = [
                log_prior(&proposal, d),
                q.log_density(&proposal, d),
                q.log_density(current, d),
                log_prior(current, d),
            ];
            let gain = (0..rows)
                .map(|r| f64::from(lik[r]) + terms[0][r] - terms[1][r] + terms[2][r] - terms[3][r])
                .collect::<Vec<_>>();
            (proposal, raw, gain)
        });
        let mut all = Proposal::default();
        for (z, raw, gain) in parts {
            all.z.extend(z);
            all.raw.extend(raw);
            all.gain.extend(gain);
        }
        all
    }

    /// `x_miss ~ Φ(x_miss | η)` (the missing entries redrawn from each chain's own stream, the
    /// observed ones left), then [`log_likelihood`](Self::log_likelihood) at the new points,
    /// each worker's row shard in one pass.
    pub fn draw_missing_and_score(&mut self, raw: &[f32]) -> Vec<f64> {
        let (family, mask) = (self.model.family(), self.mask);
        let (p, width) = (M::observed_dim(), raw_width::<M, D>());
        let jobs = row_jobs(&self.workers, &mut self.x, &mut self.row_rngs, p);
        let parts = self.workers.map(jobs, |(first, x, rngs)| {
            let rows = x.len() / p;
            let raw = &raw[first * width..(first + rows) * width];
            draw_missing_rows(family, mask, first, x, raw, rngs, p);
            let mut sums = vec![0.0; rows];
            family.log_prob_rows_host(raw, x, p, &mut sums);
            sums
        });
        parts.concat().into_iter().map(f64::from).collect()
    }

    /// Fills the missing entries as `options.init` says.
    pub fn initialise(&mut self, init: Init) {
        match init {
            Init::Zeros => {}
            Init::FamilyMean => {
                let raw = self.decode(&self.encode().mean);
                self.set_missing_to_mean(&raw);
            }
            Init::PseudoGibbs(steps) => {
                for _ in 0..steps {
                    self.pseudo_gibbs_step();
                }
            }
        }
    }
}

/// The encoder at the completed rows `x` (`p` values each), on the host.
fn encode_rows<M: Dlvm<D>, D: Device<f32>>(model: &M, x: &[f32]) -> HostPosterior {
    let rows = x.len() / M::observed_dim();
    let input = model
        .device()
        .tensor_from_vec(x.to_vec(), (rows, M::Observed::default()));
    let q = model.encode(input);
    HostPosterior {
        mean: to_host(q.mean),
        log_variance: to_host(q.log_variance),
    }
}

/// The decoder's raw outputs at the latent rows `z` (`d` values each), on the host.
fn decode_rows<M: Dlvm<D>, D: Device<f32>>(model: &M, z: Vec<f32>) -> Vec<f32> {
    let rows = z.len() / M::latent_dim();
    let input = model
        .device()
        .tensor_from_vec(z, (rows, M::Latent::default()));
    to_host(model.decode(input))
}

/// The chains split into `workers`' row shards: `(first row, x rows, their streams)` for the
/// completed rows `x` (`p` values each) and the chains' streams.
fn row_jobs<'a>(
    workers: &Workers,
    mut x: &'a mut [f32],
    mut rngs: &'a mut [ChaCha12Rng],
    p: usize,
) -> Vec<(usize, &'a mut [f32], &'a mut [ChaCha12Rng])> {
    let shards = row_shards(rngs.len(), workers.threads());
    let mut jobs = Vec::with_capacity(shards.len());
    for &(a, b) in &shards {
        let (x_part, x_rest) = std::mem::take(&mut x).split_at_mut((b - a) * p);
        let (rng_part, rng_rest) = std::mem::take(&mut rngs).split_at_mut(b - a);
        (x, rngs) = (x_rest, rng_rest);
        jobs.push((a, x_part, rng_part));
    }
    jobs
}

/// `x_miss ~ Φ(x_miss | η)` for the chains `first..` whose completed rows are `x` (`p` values
/// each), decoder rows `raw` and streams `rngs`; rows without a missing entry are skipped.
fn draw_missing_rows<F: OutputFamily>(
    family: &F,
    mask: &Mask,
    first: usize,
    x: &mut [f32],
    raw: &[f32],
    rngs: &mut [ChaCha12Rng],
    p: usize,
) {
    let width = F::raw_width(p);
    let mut draw = vec![0.0; p];
    for (k, (x, rng)) in x.chunks_mut(p).zip(rngs.iter_mut()).enumerate() {
        let missing = mask.row_flags(first + k);
        if !missing.contains(&true) {
            continue;
        }
        family.sample_row(&raw[k * width..(k + 1) * width], rng, &mut draw);
        fill_missing(x, missing, &draw);
    }
}

/// `x_j = values_j` where `missing_j`; observed entries stay.
fn fill_missing(x: &mut [f32], missing: &[bool], values: &[f32]) {
    for ((x, &m), &v) in x.iter_mut().zip(missing).zip(values) {
        if m {
            *x = v;
        }
    }
}

/// The decoder's output width for the model's family.
pub(crate) fn raw_width<M: Dlvm<D>, D: Device<f32>>() -> usize {
    <M::Family as OutputFamily>::raw_width(M::observed_dim())
}

/// A progress bar over the sampler's iterations (hidden unless `options.progress`).
pub(crate) fn progress_bar(name: &str, options: &ImputeOptions) -> ProgressBar {
    if !options.progress {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(options.iterations as u64);
    let template = format!("{name} [{{bar:30}}] {{pos}}/{{len}} {{per_sec}} {{msg}}");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

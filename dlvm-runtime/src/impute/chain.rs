//! The pieces both samplers are made of: a batch of independent chains, one per data point, whose
//! state lives on the host (`x` completed, `z`, the decoder output at `z`), split into row
//! shards that the workers advance in one pass per step.

use super::check::check_observed;
use super::classes::ClassFrequencies;
use super::mask::Mask;
use super::networks::ChainNetworks;
use super::options::{ImputeOptions, Init};
use super::posterior::{log_density, log_prior, sample_rows, HostPosterior};
use crate::data::Dataset;
use crate::error::{DlvmError, Result};
use crate::family::OutputFamily;
use crate::forward::{RowCoordinates, Workspace};
use crate::model::Dlvm;
use crate::parallel::{row_shards, stream_rng, Workers};
use dfdx::prelude::*;
use indicatif::{ProgressBar, ProgressStyle};
use rand_chacha::ChaCha12Rng;

/// A batch of chains: one per row of the data, all advanced together.
pub(crate) struct Chains<'a, M, D: Device<f32>> {
    pub model: &'a M,
    /// Completed points `(x_obs, x_miss)`, row-major `(n, p)`.
    pub x: Vec<f32>,
    /// Number of chains.
    pub n: usize,
    networks: ChainNetworks<'a, M, D>,
    /// Each chain's missing coordinates.
    missing: RowCoordinates,
    /// Workers sharing each step by rows, and their fixed row shards `(start, end)`.
    workers: Workers,
    shards: Vec<(usize, usize)>,
    /// Each shard's buffers and latent state.
    states: Vec<ShardState>,
    /// Chain `i`'s own random stream for its draws of `z` (pseudo-Gibbs draws,
    /// Metropolis-within-Gibbs proposals) and of `x_miss` (ChaCha12 with the run's seed, stream
    /// `i + 1`; stream 0 is the run's main generator, for MWG's first `z` and its acceptance
    /// draws), so the draws do not depend on how rows are shared between workers.
    row_rngs: Vec<ChaCha12Rng>,
    scratch: Vec<f32>,
}

/// One shard's buffers and the latent state of its chains.
#[derive(Debug, Default)]
struct ShardState {
    /// The networks' buffers. `ws.raw` is scratch: it holds `f(z̃)` only between
    /// [`Chains::propose`] and [`Chains::accept_and_redraw`]; elsewhere it is stale (the decoder
    /// output at `z` is `raw`).
    ws: Workspace,
    /// The chains' latent codes, `rows × d`.
    z: Vec<f32>,
    /// The decoder output at `z`, `rows × raw_width`.
    raw: Vec<f32>,
    /// The Metropolis-within-Gibbs proposals `z̃` (their decoder output is `ws.raw`).
    proposal: Vec<f32>,
    /// For the family's draws.
    scratch: Vec<f32>,
    /// The sum of the chains' retained completed points, `rows × p` (empty before the first).
    draw_sum: Vec<f64>,
    /// For a family of class labels, the retained draws of each class at each missing entry,
    /// `entries × classes` in row-major order of the entries (empty before the first).
    votes: Vec<u32>,
}

impl ShardState {
    /// For the chains `first..` whose completed rows are `x` (`p` values each) and streams
    /// `rngs`:
    /// `x_miss ~ Φ(x_miss | η)` from `raw` (rows without a missing entry draw nothing), the new
    /// points added to the sum of retained points when `retain`, and `log Φ(x | η)` per chain.
    #[allow(clippy::too_many_arguments)]
    fn redraw_and_score<F: OutputFamily>(
        &mut self,
        family: &F,
        missing: &RowCoordinates,
        first: usize,
        x: &mut [f32],
        rngs: &mut [ChaCha12Rng],
        p: usize,
        retain: bool,
    ) -> Vec<f64> {
        let width = F::raw_width(p);
        for (k, (x, rng)) in x.chunks_mut(p).zip(rngs.iter_mut()).enumerate() {
            let coordinates = missing.row(first + k);
            if !coordinates.is_empty() {
                let raw = &self.raw[k * width..(k + 1) * width];
                family.sample_coordinates(raw, coordinates, rng, x, &mut self.scratch);
            }
        }
        if retain {
            self.draw_sum.resize(x.len(), 0.0);
            crate::kernels::accumulate_widened(&mut self.draw_sum, x);
            if let Some(classes) = family.class_count() {
                count_classes(&mut self.votes, missing, first, x, p, classes);
            }
        }
        row_log_likelihood(family, &self.raw, x, p)
    }
}

/// One shard's part of a step: its first chain, completed points, streams and state.
struct Job<'s> {
    first: usize,
    x: &'s mut [f32],
    rngs: &'s mut [ChaCha12Rng],
    state: &'s mut ShardState,
}

impl<'a, M: Dlvm<D>, D: Device<f32>> Chains<'a, M, D> {
    /// Checks the inputs and fills the missing entries with their start values (see
    /// [`start_inside_support`](Self::start_inside_support)).
    ///
    /// # Errors
    /// The mask's shape differs from the data's, the data's width is not the model's, or an
    /// observed entry is not finite or not in the family's support (missing entries are not
    /// checked: their values are ignored).
    pub fn new(model: &'a M, data: &Dataset, mask: &Mask, options: &ImputeOptions) -> Result<Self> {
        mask.check_shape(data.rows(), data.cols())?;
        check_observed(model.family(), data, mask, M::observed_dim())?;
        let x: Vec<f32> = data
            .as_slice()
            .iter()
            .zip(mask.missing())
            .map(|(&v, &m)| if m { 0.0 } else { v })
            .collect();
        let missing = RowCoordinates::from_flags(mask.missing(), M::observed_dim());
        let workers = Workers::new(options.threads).map_err(DlvmError::Device)?;
        let shards = row_shards(data.rows(), workers.threads());
        let mut chains = Self {
            model,
            networks: ChainNetworks::new(model, &x, &missing, options.fused),
            x,
            n: data.rows(),
            missing,
            states: shards.iter().map(|_| ShardState::default()).collect(),
            shards,
            workers,
            row_rngs: (0..data.rows() as u64)
                .map(|i| stream_rng(options.seed, i + 1))
                .collect(),
            scratch: vec![0.0; M::observed_dim()],
        };
        chains.start_inside_support(options.seed);
        Ok(chains)
    }

    /// Start values of the missing entries inside the family's support: 0 where 0 is in the
    /// support (every built-in family), else the family's point imputation
    /// ([`point_row`](OutputFamily::point_row), the mean by default) at the decoder output
    /// `f(0)` of the prior mean, and where that is outside the support too, a draw from
    /// `Φ(· | f(0))` (ChaCha12 stream `u64::MAX` of `seed`).
    fn start_inside_support(&mut self, seed: u64) {
        let family = self.model.family();
        if family.in_support(0.0) {
            return;
        }
        let (p, width) = (M::observed_dim(), raw_width::<M, D>());
        let mut ws = Workspace::default();
        self.networks.decode(&vec![0.0; M::latent_dim()], &mut ws);
        let raw = &ws.raw[..width];
        let mut start = vec![0.0; p];
        family.point_row(raw, &mut start);
        if start.iter().any(|&v| !family.in_support(v)) {
            let mut draw = vec![0.0; p];
            family.sample_row(raw, &mut stream_rng(seed, u64::MAX), &mut draw);
            for (s, d) in start.iter_mut().zip(draw) {
                if !family.in_support(*s) {
                    *s = d;
                }
            }
        }
        for i in 0..self.n {
            for &j in self.missing.row(i) {
                self.x[i * p + j as usize] = start[j as usize];
            }
        }
    }

    /// `f` on every shard's job, on the workers; the results in row order.
    fn run<R: Send>(
        &mut self,
        f: impl Fn(&ChainNetworks<'a, M, D>, &RowCoordinates, Job) -> R + Sync,
    ) -> Vec<R> {
        let p = M::observed_dim();
        let (mut x, mut rngs) = (&mut self.x[..], &mut self.row_rngs[..]);
        let mut jobs = Vec::with_capacity(self.shards.len());
        for (&(a, b), state) in self.shards.iter().zip(self.states.iter_mut()) {
            let (x_part, x_rest) = std::mem::take(&mut x).split_at_mut((b - a) * p);
            let (rng_part, rng_rest) = std::mem::take(&mut rngs).split_at_mut(b - a);
            (x, rngs) = (x_rest, rng_rest);
            jobs.push(Job {
                first: a,
                x: x_part,
                rngs: rng_part,
                state,
            });
        }
        let (networks, missing) = (&self.networks, &self.missing);
        self.workers.map(jobs, |job| f(networks, missing, job))
    }

    /// The encoder at the current completed points.
    pub fn encode(&mut self) -> HostPosterior {
        let parts = self.run(|networks, _, job| {
            networks.encode(job.first, job.x, &mut job.state.ws);
            (job.state.ws.mean.clone(), job.state.ws.log_variance.clone())
        });
        let (mean, log_variance): (Vec<_>, Vec<_>) = parts.into_iter().unzip();
        HostPosterior {
            mean: mean.concat(),
            log_variance: log_variance.concat(),
        }
    }

    /// Sets every chain's latent code to its row of `z` (row-major `(n, d)`) and decodes it;
    /// returns `log Φ(x | f(z))` per chain at the current points.
    pub fn set_latent(&mut self, z: &[f32]) -> Vec<f64> {
        let family = self.model.family();
        let (p, d) = (M::observed_dim(), M::latent_dim());
        let parts = self.run(|networks, _, job| {
            let rows = job.x.len() / p;
            let state = job.state;
            state.z.clear();
            state
                .z
                .extend_from_slice(&z[job.first * d..(job.first + rows) * d]);
            networks.decode(&state.z, &mut state.ws);
            std::mem::swap(&mut state.raw, &mut state.ws.raw);
            row_log_likelihood(family, &state.raw, job.x, p)
        });
        parts.concat()
    }

    /// The decoder output at every chain's latent code, row-major `(n, raw_width)`.
    fn raw(&self) -> Vec<f32> {
        let parts: Vec<&[f32]> = self.states.iter().map(|s| &s.raw[..]).collect();
        parts.concat()
    }

    /// Ends a run: the last draw, then the family mean at each chain's last `z` in the missing
    /// entries, handed to `recorder` with the run's wall-clock time.
    pub fn finish(
        mut self,
        recorder: super::result::Recorder,
        metropolis: bool,
        start: std::time::Instant,
    ) -> super::result::Imputation {
        let last_draw = self.x.clone();
        self.set_missing_to_point(true);
        let family_point = self.x.clone();
        self.set_missing_to_point(false);
        let discrete = <M::Family as OutputFamily>::DISCRETE;
        let draw_sum = self.draw_sum();
        let classes = self.class_frequencies(recorder.retained_count());
        let seconds = start.elapsed().as_secs_f64();
        let mut run = recorder.finish(last_draw, self.x, &draw_sum, metropolis, seconds, discrete);
        run.family_point = family_point;
        run.class_frequencies = classes;
        run
    }

    /// For a family of class labels, the fraction of the `retained` draws of each class at each
    /// missing entry; `None` for other families.
    fn class_frequencies(&self, retained: usize) -> Option<ClassFrequencies> {
        let classes = self.model.family().class_count()?;
        let entries: Vec<(usize, usize)> = (0..self.n)
            .flat_map(|i| self.missing.row(i).iter().map(move |&j| (i, j as usize)))
            .collect();
        let mut counts = Vec::with_capacity(entries.len() * classes);
        for (state, &(a, b)) in self.states.iter().zip(&self.shards) {
            let len = self.missing.count(a, b - a) * classes;
            counts.extend_from_slice(&state.votes);
            counts.resize(counts.len() + len - state.votes.len(), 0);
        }
        let scale = 1.0 / retained.max(1) as f64;
        let frequencies = counts
            .iter()
            .map(|&c| (f64::from(c) * scale) as f32)
            .collect();
        Some(ClassFrequencies {
            classes,
            entries,
            frequencies,
        })
    }

    /// `log p(z)` of every chain's latent code: a function of `z` alone, whose effective
    /// sample size measures how often the chains move (a redraw of `x_miss` at a fixed `z`
    /// does not change it).
    pub fn latent_scores(&self) -> Vec<f64> {
        let d = M::latent_dim();
        let parts: Vec<Vec<f64>> = self.states.iter().map(|s| log_prior(&s.z, d)).collect();
        parts.concat()
    }

    /// The sum of every chain's retained completed points, row-major `(n, p)` (zeros when
    /// nothing was retained).
    fn draw_sum(&self) -> Vec<f64> {
        let mut sum = Vec::with_capacity(self.x.len());
        for (state, &(a, b)) in self.states.iter().zip(&self.shards) {
            let len = (b - a) * M::observed_dim();
            sum.extend_from_slice(&state.draw_sum);
            sum.resize(sum.len() + len - state.draw_sum.len(), 0.0);
        }
        sum
    }

    /// `x_miss = E[x_miss | f(z)]` (or, with `point`, the family's point imputation
    /// [`point_row`](OutputFamily::point_row), the most probable class for class labels): sets
    /// the missing entries from each chain's latent code.
    fn set_missing_to_point(&mut self, point: bool) {
        let (p, width) = (M::observed_dim(), raw_width::<M, D>());
        let raw = self.raw();
        for i in 0..self.n {
            let missing = self.missing.row(i);
            if missing.is_empty() {
                continue;
            }
            let row = &raw[i * width..(i + 1) * width];
            let family = self.model.family();
            if point {
                family.point_row(row, &mut self.scratch);
            } else {
                family.mean_row(row, &mut self.scratch);
            }
            let x = &mut self.x[i * p..(i + 1) * p];
            for &j in missing {
                x[j as usize] = self.scratch[j as usize];
            }
        }
    }

    /// One pseudo-Gibbs step for every chain, each worker's row shard in one pass:
    /// `z ~ q(z | x)` and `x_miss ~ Φ(x_miss | f(z))` from the chain's own stream, then
    /// `log Φ(x | f(z))` at the new `x` (the recorder's trace), which it returns. With `retain`
    /// the new points are added to the sum of retained points.
    pub fn pseudo_gibbs_step(&mut self, retain: bool) -> Vec<f64> {
        let family = self.model.family();
        let (p, d) = (M::observed_dim(), M::latent_dim());
        let parts = self.run(|networks, missing, job| {
            let state = job.state;
            networks.encode(job.first, job.x, &mut state.ws);
            let (mean, log_variance) = (&state.ws.mean, &state.ws.log_variance);
            sample_rows(mean, log_variance, job.rngs, d, &mut state.z);
            networks.decode(&state.z, &mut state.ws);
            std::mem::swap(&mut state.raw, &mut state.ws.raw);
            state.redraw_and_score(family, missing, job.first, job.x, job.rngs, p, retain)
        });
        parts.concat()
    }

    /// The Metropolis-within-Gibbs proposal for every chain, each worker's row shard in one
    /// pass: `z̃ ~ q(z | x)` from the chain's own stream, `f(z̃)`, and the terms of `log ρ`
    /// other than the current likelihood `log Φ(x | f(z))`, which it returns.
    ///
    /// # Formula
    /// `gain = log Φ(x | f(z̃)) + log p(z̃) - log q(z̃ | x) + log q(z | x) - log p(z)` (in f64),
    /// so that `log ρ = gain - log Φ(x | f(z))`.
    pub fn propose(&mut self) -> Vec<f64> {
        let family = self.model.family();
        let (p, d) = (M::observed_dim(), M::latent_dim());
        let parts = self.run(|networks, _, job| {
            let state = job.state;
            networks.encode(job.first, job.x, &mut state.ws);
            let (mean, log_variance) = (&state.ws.mean, &state.ws.log_variance);
            sample_rows(mean, log_variance, job.rngs, d, &mut state.proposal);
            let terms = [
                log_prior(&state.proposal, d),
                log_density(&state.proposal, mean, log_variance, d),
                log_density(&state.z, mean, log_variance, d),
                log_prior(&state.z, d),
            ];
            networks.decode(&state.proposal, &mut state.ws);
            let lik = row_log_likelihood(family, &state.ws.raw, job.x, p);
            let gain = |r: usize| lik[r] + terms[0][r] - terms[1][r] + terms[2][r] - terms[3][r];
            (0..lik.len()).map(gain).collect::<Vec<_>>()
        });
        parts.concat()
    }

    /// Moves the chains with `accepted[i]` to their proposal (`z̃` and `f(z̃)` from the last
    /// [`propose`](Self::propose)), then redraws every chain's missing entries,
    /// `x_miss ~ Φ(x_miss | f(z))` from its own stream, and returns `log Φ(x | f(z))` at the
    /// new points, each worker's row shard in one pass. With `retain` the new points are added
    /// to the sum of retained points.
    pub fn accept_and_redraw(&mut self, accepted: &[bool], retain: bool) -> Vec<f64> {
        let family = self.model.family();
        let (p, d, width) = (M::observed_dim(), M::latent_dim(), raw_width::<M, D>());
        let parts = self.run(|_, missing, job| {
            let state = job.state;
            let rows = job.x.len() / p;
            for r in (0..rows).filter(|&r| accepted[job.first + r]) {
                let (z, raw) = (r * d..(r + 1) * d, r * width..(r + 1) * width);
                state.z[z.clone()].copy_from_slice(&state.proposal[z]);
                state.raw[raw.clone()].copy_from_slice(&state.ws.raw[raw]);
            }
            state.redraw_and_score(family, missing, job.first, job.x, job.rngs, p, retain)
        });
        parts.concat()
    }

    /// Fills the missing entries as `options.init` says.
    pub fn initialise(&mut self, init: Init) {
        match init {
            Init::Zeros => {}
            Init::FamilyMean => {
                let mean = self.encode().mean;
                self.set_latent(&mean);
                self.set_missing_to_point(true);
            }
            Init::PseudoGibbs(steps) => {
                for _ in 0..steps {
                    self.pseudo_gibbs_step(false);
                }
            }
        }
    }
}

/// Adds the classes of the missing entries of the rows `first..` of `x` (`p` values each) to
/// `votes` (`entries × classes`, the entries of these rows in row-major order); a value that is
/// not a class (a family whose draws leave its support) counts for none.
fn count_classes(
    votes: &mut Vec<u32>,
    missing: &RowCoordinates,
    first: usize,
    x: &[f32],
    p: usize,
    classes: usize,
) {
    let rows = x.len() / p;
    votes.resize(missing.count(first, rows) * classes, 0);
    let mut entry = 0;
    for (k, x) in x.chunks(p).enumerate() {
        for &j in missing.row(first + k) {
            let v = x[j as usize];
            if v >= 0.0 && v.fract() == 0.0 && (v as usize) < classes {
                votes[entry * classes + v as usize] += 1;
            }
            entry += 1;
        }
    }
}

/// `log Φ(x_r | η_r)` per row, summed in `f32` by the family's
/// [`log_prob_rows_host`](OutputFamily::log_prob_rows_host) on the host values (relative error
/// about 10⁻⁶, harmless in the Metropolis ratio) and widened to `f64`.
fn row_log_likelihood<F: OutputFamily>(family: &F, raw: &[f32], x: &[f32], p: usize) -> Vec<f64> {
    let mut sums = vec![0.0; x.len() / p];
    family.log_prob_rows_host(raw, x, p, &mut sums);
    sums.into_iter().map(f64::from).collect()
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

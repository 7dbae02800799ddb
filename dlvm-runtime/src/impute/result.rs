//! What a sampler returns, and the recorder that builds it step by step.

use super::classes::ClassFrequencies;
use super::ess::effective_sample_size;
use super::options::ImputeOptions;

/// Which single imputation to read from an [`Imputation`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Single {
    /// The chain's final draw `x_miss_T`.
    LastDraw,
    /// The mean of the retained draws; for a family of class labels, their vote (the most
    /// frequent class, [`ClassFrequencies::vote`]).
    DrawMean,
    /// The family's point imputation at the chain's final latent state `z_T`
    /// ([`point_row`](crate::family::OutputFamily::point_row)): the mean `E[x_miss | z_T]`,
    /// or the most probable class for a family of class labels.
    FamilyMean,
}

/// The output of an imputation sampler for `rows` points of `cols` coordinates.
///
/// Every vector of points is row-major `(rows, cols)` and *completed*: observed entries are the
/// data's, missing entries the imputation.
#[derive(Debug, Clone, PartialEq)]
pub struct Imputation {
    /// Number of points (chains).
    pub rows: usize,
    /// Coordinates per point.
    pub cols: usize,
    /// The kept retained draws (the last `keep`, oldest first) of the first chain of each row:
    /// consecutive draws of one chain, autocorrelated (they share `z` whenever
    /// Metropolis-within-Gibbs rejects), for Monte Carlo averages; for multiple imputation use
    /// [`imputations`](Self::imputations).
    pub draws: Vec<Vec<f32>>,
    /// The multiple imputations: the last draw of each of the
    /// [`chains`](super::ImputeOptions::chains) independent chains of each row.
    pub imputations: Vec<Vec<f32>>,
    /// The final draw (of the first chain of each row).
    pub last_draw: Vec<f32>,
    /// The mean of all retained draws of all chains (not rounded; for class labels a mean of
    /// class indices, which means nothing: see [`class_frequencies`](Self::class_frequencies)).
    pub draw_mean: Vec<f32>,
    /// The family mean at the final `z` (not rounded; pixel probabilities for Bernoulli).
    pub family_mean: Vec<f32>,
    /// The family's point imputation at the final `z`
    /// ([`point_row`](crate::family::OutputFamily::point_row): the mean, or the most probable
    /// class for class labels).
    pub family_point: Vec<f32>,
    /// For a family of class labels (`Categorical`), the class frequencies of each missing entry
    /// over the retained draws of all chains; `None` for other families.
    pub class_frequencies: Option<ClassFrequencies>,
    /// Per row, the fraction of accepted proposals (1 for pseudo-Gibbs, which accepts all),
    /// averaged over the row's chains.
    pub acceptance: Vec<f64>,
    /// Per row, the effective sample size of the retained draws: that of the retained values
    /// of `log p(z_t)` (a function of the latent state alone, which moves only when a proposal
    /// is accepted), summed over the row's chains
    /// ([`effective_sample_size`](super::effective_sample_size)).
    pub effective_sample_size: Vec<f64>,
    /// `log Φ(x_obs, x_miss_t | f(z_t))` after each step `t` (first chain of each row),
    /// row-major `(iterations, rows)`.
    pub trace: Vec<f64>,
    /// Number of steps run (after initialisation).
    pub iterations: usize,
    /// Wall-clock seconds of the whole run, initialisation included.
    pub seconds: f64,
    /// Whether the family is discrete (single imputations are then rounded).
    pub discrete: bool,
}

impl Imputation {
    /// A single imputation. For class labels, `DrawMean` is the vote of the retained draws
    /// and `FamilyMean` the most probable class at `z_T`. For another discrete family the
    /// values are rounded to the nearest integer, halves up; for Bernoulli that is
    /// thresholding at 0.5.
    ///
    /// # Formula
    /// class labels: `x̂_e = argmax_k frequency_ek` (`DrawMean`), `argmax_k Φ(k | f(z_T))`
    /// (`FamilyMean`); discrete: `x̂ = ⌊x + ½⌋` (so `x̂ = 1` iff `x >= 0.5` on `[0, 1]`);
    /// continuous: `x̂ = x`.
    pub fn single(&self, kind: Single) -> Vec<f32> {
        if let (Single::DrawMean, Some(classes)) = (kind, &self.class_frequencies) {
            let mut x = self.last_draw.clone();
            for (e, &(i, j)) in classes.entries.iter().enumerate() {
                x[i * self.cols + j] = classes.vote(e) as f32;
            }
            return x;
        }
        let values = match kind {
            Single::LastDraw => &self.last_draw,
            Single::DrawMean => &self.draw_mean,
            Single::FamilyMean => &self.family_point,
        };
        if self.discrete {
            values.iter().map(|v| (v + 0.5).floor()).collect()
        } else {
            values.clone()
        }
    }

    /// The mean effective sample size over rows.
    pub fn mean_effective_sample_size(&self) -> f64 {
        let n = self.effective_sample_size.len().max(1) as f64;
        self.effective_sample_size.iter().sum::<f64>() / n
    }

    /// The mean acceptance rate over chains.
    ///
    /// # Formula
    /// `(1/n) Σ_i acceptance_i`
    pub fn mean_acceptance(&self) -> f64 {
        self.acceptance.iter().sum::<f64>() / self.acceptance.len().max(1) as f64
    }

    /// The trace averaged over chains, one value per step.
    ///
    /// # Formula
    /// `trace_t = (1/n) Σ_i log Φ(x_i,t | f(z_i,t))`
    pub fn mean_trace(&self) -> Vec<f64> {
        self.trace
            .chunks(self.rows.max(1))
            .map(|r| r.iter().sum::<f64>() / r.len() as f64)
            .collect()
    }

    /// Chain-iterations per second: `rows * iterations / seconds`.
    pub fn chain_iterations_per_second(&self) -> f64 {
        (self.rows * self.iterations) as f64 / self.seconds.max(f64::MIN_POSITIVE)
    }
}

/// Keeps the last `keep` retained draws, the trace and the acceptance counts while a sampler
/// runs (the sum of the retained draws is the chains', `Chains::draw_sum`).
pub(crate) struct Recorder {
    options: ImputeOptions,
    retained: usize,
    seen: usize,
    draws: Vec<Vec<f32>>,
    trace: Vec<f64>,
    /// `log p(z_t)` of each chain at the retained steps, row-major `(retained, rows)`.
    latent: Vec<f64>,
    accepted: Vec<usize>,
}

impl Recorder {
    pub fn new(options: &ImputeOptions, retained: usize, rows: usize) -> Self {
        Self {
            options: options.clone(),
            retained,
            seen: 0,
            draws: Vec::with_capacity(options.keep),
            trace: Vec::with_capacity(options.iterations * rows),
            latent: Vec::with_capacity(retained * rows),
            accepted: vec![0; rows],
        }
    }

    /// Records step `t` (1-based): the completed points, their log-likelihood per chain and,
    /// at a retained step, `latent()`, the chains' `log p(z_t)`. The sum of the retained
    /// points is the chains' (see `Chains::draw_sum`).
    pub fn record(
        &mut self,
        t: usize,
        x: &[f32],
        log_likelihood: &[f64],
        latent: impl FnOnce() -> Vec<f64>,
    ) {
        self.trace.extend_from_slice(log_likelihood);
        if !self.options.is_retained(t) {
            return;
        }
        self.latent.extend(latent());
        self.seen += 1;
        if self.seen + self.options.keep > self.retained {
            self.draws.push(x.to_vec());
        }
    }

    /// Counts an accepted proposal of chain `i`.
    pub fn accept(&mut self, i: usize) {
        self.accepted[i] += 1;
    }

    /// The number of retained steps recorded so far.
    pub fn retained_count(&self) -> usize {
        self.seen
    }

    /// The result, with `draw_sum` the sum of the retained points; `acceptance` is `None` for
    /// samplers that accept every step.
    pub fn finish(
        self,
        last_draw: Vec<f32>,
        family_mean: Vec<f32>,
        draw_sum: &[f64],
        metropolis: bool,
        seconds: f64,
        discrete: bool,
    ) -> Imputation {
        let iterations = self.options.iterations;
        let rows = self.accepted.len();
        let acceptance = self
            .accepted
            .iter()
            .map(|&a| {
                if metropolis {
                    a as f64 / iterations as f64
                } else {
                    1.0
                }
            })
            .collect();
        let count = self.seen.max(1) as f64;
        let effective_sample_size = (0..rows)
            .map(|i| {
                let values: Vec<f64> = self
                    .latent
                    .iter()
                    .skip(i)
                    .step_by(rows.max(1))
                    .copied()
                    .collect();
                effective_sample_size(&values)
            })
            .collect();
        Imputation {
            rows,
            cols: last_draw.len() / rows.max(1),
            draws: self.draws,
            imputations: vec![last_draw.clone()],
            last_draw,
            draw_mean: draw_sum.iter().map(|s| (s / count) as f32).collect(),
            family_point: family_mean.clone(),
            family_mean,
            class_frequencies: None,
            acceptance,
            effective_sample_size,
            trace: self.trace,
            iterations,
            seconds,
            discrete,
        }
    }
}

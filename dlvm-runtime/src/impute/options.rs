//! Settings shared by the imputation samplers.

use crate::error::{DlvmError, Result};

/// How the missing entries are filled before the first iteration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Init {
    /// `x_miss = 0` where 0 is in the family's support (every built-in family). For a family
    /// whose support excludes 0 (e.g. a Beta on `(0, 1)`), the family's point imputation at the
    /// decoder output `f(0)` of the prior mean, or a draw from `Φ(· | f(0))` where that point
    /// is outside the support too.
    #[default]
    Zeros,
    /// `x_miss = x̂(z₀)` with `z₀ = m(x_obs, x_start)`, the encoder mean at the point filled as
    /// by `Zeros`, and `x̂` the family's point imputation
    /// ([`point_row`](crate::family::OutputFamily::point_row)): the mean `E[x_miss | z₀]`, or
    /// the most probable class for class labels.
    FamilyMean,
    /// As `Zeros`, then this many pseudo-Gibbs steps (not counted in `iterations`).
    PseudoGibbs(usize),
}

/// Settings of [`pseudo_gibbs`](super::pseudo_gibbs) and
/// [`metropolis_within_gibbs`](super::metropolis_within_gibbs).
///
/// The chain runs `iterations` steps `t = 1..=iterations`. The *retained* draws are those of the
/// steps `t > burn_in` with `(t - burn_in) % thin == 0`; there are
/// `⌊(iterations - burn_in) / thin⌋` of them. Their mean is the "mean of retained draws"
/// single imputation; the last `keep` of them are returned as
/// [`Imputation::draws`](super::Imputation::draws): consecutive draws of one chain, which
/// share their `z` whenever Metropolis-within-Gibbs rejects, so they are for Monte Carlo
/// averages, not for multiple imputation.
///
/// Multiple imputations come from `chains` independent chains per row (each its own random
/// streams and start): [`Imputation::imputations`](super::Imputation::imputations) holds the
/// last draw of each, and the between-imputation variance of Rubin's rules is then that of
/// independent draws (once the chains have converged).
///
/// ```
/// use dlvm_runtime::impute::ImputeOptions;
/// let options = ImputeOptions { iterations: 500, burn_in: 100, thin: 4, ..Default::default() };
/// assert_eq!(options.retained()?, 100);
/// # Ok::<(), dlvm_runtime::DlvmError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ImputeOptions {
    /// Number of sampler steps (>= 1).
    pub iterations: usize,
    /// Steps discarded before retaining draws (< `iterations`).
    pub burn_in: usize,
    /// Keep every `thin`-th step after burn-in (>= 1).
    pub thin: usize,
    /// How many of the retained draws to return (the last ones), for multiple imputation.
    pub keep: usize,
    /// How the missing entries start.
    pub init: Init,
    /// Independent chains per row (>= 1): the multiple imputations are their last draws.
    /// Costs `chains` times one chain; `1` (the default) runs one chain per row as before.
    pub chains: usize,
    /// Seed of all randomness of the run.
    pub seed: u64,
    /// Whether to draw a progress bar on stderr.
    pub progress: bool,
    /// Worker threads that share each batched model call (encoder, decoder, log-likelihood) and
    /// the draws of the missing entries by rows. Metropolis-within-Gibbs' first `z` and its
    /// acceptance draws come from the run's generator on the calling thread, each chain's other
    /// draws (`z` or `z̃`, `x_miss`) from its own stream, so the chains do not depend on this count beyond the rounding of matrix products of different sizes
    /// (and, with [`fused`](Self::fused), of the encoder's first layer, which each worker's
    /// shard computes from the observed part or by the whole product, by its own density).
    pub threads: usize,
    /// Whether the chains run the model's networks on the host, over copies of its weights read
    /// once, with the encoder's first layer at the observed entries computed once per run
    /// ([`forward`](crate::forward); CPU models that describe their architecture, as every
    /// `dlvm!` model does). `false` runs the model's own dfdx networks at every step: the same
    /// chains up to the rounding of sums taken in another order; for comparisons.
    pub fused: bool,
}

impl Default for ImputeOptions {
    /// 500 iterations, no burn-in, no thinning, one kept draw, zeros, one chain per row, seed 0,
    /// no progress bar,
    /// one worker per available core, networks on the host.
    fn default() -> Self {
        Self {
            iterations: 500,
            burn_in: 0,
            thin: 1,
            keep: 1,
            init: Init::Zeros,
            chains: 1,
            seed: 0,
            progress: false,
            threads: crate::parallel::available_threads(),
            fused: true,
        }
    }
}

impl ImputeOptions {
    /// The number of retained draws, after checking the settings.
    ///
    /// # Formula
    /// `retained = ⌊(iterations - burn_in) / thin⌋`
    ///
    /// # Errors
    /// [`DlvmError::Config`] when `iterations` is 0, `burn_in >= iterations`, `thin` is 0,
    /// no draw is retained, `keep` exceeds the retained draws, or `threads` or `chains` is 0.
    pub fn retained(&self) -> Result<usize> {
        let bad = |parameter, reason: String| Err(DlvmError::Config { parameter, reason });
        if self.threads == 0 {
            return bad(
                "threads",
                "must be >= 1 (1 runs on the calling thread), got 0".into(),
            );
        }
        if self.chains == 0 {
            return bad(
                "chains",
                "must be >= 1 (1 chain per row; M > 1 gives M independent imputations), got 0"
                    .into(),
            );
        }
        if self.iterations == 0 {
            return bad("iterations", "must be >= 1, got 0".into());
        }
        if self.burn_in >= self.iterations {
            return bad(
                "burn_in",
                format!(
                    "must be smaller than iterations ({}), got {}",
                    self.iterations, self.burn_in
                ),
            );
        }
        if self.thin == 0 {
            return bad("thin", "must be >= 1 (1 keeps every step), got 0".into());
        }
        let retained = (self.iterations - self.burn_in) / self.thin;
        if retained == 0 {
            return bad(
                "thin",
                format!(
                    "{} steps after burn-in with thin {} retain no draw; lower thin or burn_in",
                    self.iterations - self.burn_in,
                    self.thin
                ),
            );
        }
        if self.keep > retained {
            return bad(
                "keep",
                format!(
                    "at most the {retained} retained draws can be kept, got {}",
                    self.keep
                ),
            );
        }
        Ok(retained)
    }

    /// Whether step `t` (1-based) is retained.
    pub fn is_retained(&self, t: usize) -> bool {
        t > self.burn_in && (t - self.burn_in).is_multiple_of(self.thin.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retained_steps_follow_burn_in_and_thinning() {
        let o = ImputeOptions {
            iterations: 10,
            burn_in: 3,
            thin: 2,
            keep: 3,
            ..Default::default()
        };
        assert_eq!(o.retained().unwrap(), 3);
        let steps: Vec<usize> = (1..=10).filter(|&t| o.is_retained(t)).collect();
        assert_eq!(steps, [5, 7, 9]);
    }

    #[test]
    fn bad_settings_name_the_setting() {
        let name = |o: ImputeOptions| match o.retained() {
            Err(DlvmError::Config { parameter, .. }) => parameter,
            other => panic!("{other:?}"),
        };
        let base = ImputeOptions::default();
        assert_eq!(
            name(ImputeOptions {
                iterations: 0,
                ..base.clone()
            }),
            "iterations"
        );
        assert_eq!(
            name(ImputeOptions {
                burn_in: 500,
                ..base.clone()
            }),
            "burn_in"
        );
        assert_eq!(
            name(ImputeOptions {
                thin: 0,
                ..base.clone()
            }),
            "thin"
        );
        assert_eq!(
            name(ImputeOptions {
                thin: 501,
                ..base.clone()
            }),
            "thin"
        );
        assert_eq!(
            name(ImputeOptions {
                chains: 0,
                ..base.clone()
            }),
            "chains"
        );
        assert_eq!(name(ImputeOptions { keep: 501, ..base }), "keep");
    }
}

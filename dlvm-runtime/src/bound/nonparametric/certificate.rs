//! A proven bound on how far a ξ-floored Gaussian mixture is from the nonparametric maximum.

use crate::bound::log_sum_exp::LogSumExp;
use crate::parallel::{row_shards, Workers};

const LN_2PI: f64 = 1.837_877_066_409_345_5;

/// A certified upper bound on `l(G*) - l(G)`, the distance of a mixture `G` from the maximum.
///
/// The gradient function (Lindsay 1983) is `D(η; G) = S(η) - n` with
/// `S(η) = Σ_i Φ(x_i | η) / p_G(x_i)`, over the atoms `η` the family can reach: Gaussians
/// `N(μ, Σ)` with `Σ` diagonal (or `σ² I`) and every variance `>= ξ`.
///
/// # Proof
/// 1. *Gap from the supremum.* For any mixing law `G*`, with `r_i = p_{G*}(x_i) / p_G(x_i)`,
///    Jensen's inequality (concavity of `log`) gives
///    `l(G*) - l(G) = Σ_i log r_i <= n log((1/n) Σ_i r_i)`, and
///    `Σ_i r_i = ∫ S(η) dG*(η) <= sup_η S(η)`. So `l(G*) - l(G) <= n log(sup S / n)`.
/// 2. *Variance ξ suffices.* If `Σ - ξ I` is positive semi-definite (every variance `>= ξ`),
///    `N(x | μ, Σ) = ∫ N(x | m, ξ I) N(m | μ, Σ - ξ I) dm`, so `S(μ, Σ)` is an average of
///    `S(m, ξ I)` and `sup S = sup_μ S(μ, ξ I)`, for diagonal and isotropic atoms alike.
/// 3. *The mean near a data point.* For any `μ` let `x_j` be its nearest data point. For every
///    `i`, `|x_i - x_j| <= |x_i - μ| + |μ - x_j| <= 2 |x_i - μ|`, so
///    `exp(-|x_i - μ|² / (2ξ)) <= exp(-|x_i - x_j|² / (8ξ))` and
///    `S(μ, ξ I) <= (2πξ)^(-p/2) Σ_i exp(-|x_i - x_j|² / (8ξ)) / p_G(x_i)`.
///
/// Hence `sup S <= (2πξ)^(-p/2) max_j Σ_i exp(-|x_i - x_j|² / (8ξ)) / p_G(x_i)`, computed in
/// `O(n² p)` in logs, and `l(G*) - l(G) <= gap = n max(0, log sup S - log n)` is a proof, not a
/// search. When the points are far apart at scale `√ξ` and `G` has an atom on each, `sup S ≈ n`
/// and the gap is near 0; it is loose when many points lie within a few `√ξ` of each other.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Certificate {
    /// The proven upper bound on `log sup_η S(η) = log sup_η (D(η; G) + n)`.
    pub log_sup_bound: f64,
    /// `n max(0, log_sup_bound - log n)`, nats: a proven upper bound on `l(G*) - l(G)`.
    pub gap: f64,
}

impl std::fmt::Display for Certificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.gap.is_finite() {
            write!(
                f,
                "certified: l(G*) - l(G) <= {:.3} nats (log sup S <= {:.3})",
                self.gap, self.log_sup_bound
            )
        } else {
            write!(f, "no finite certified gap; the closed-form bound applies")
        }
    }
}

/// The certificate of a mixture with `log p_G(x_i) = log_pg[i]` on the rows of `x` (`p` columns),
/// for atoms with every variance `>= xi` (see [`Certificate`] for the proof), on `workers`.
pub(crate) fn certify(
    x: &[f64],
    p: usize,
    log_pg: &[f64],
    xi: f64,
    workers: &Workers,
) -> Certificate {
    let n = log_pg.len();
    let scale = -1.0 / (8.0 * xi);
    let shards = row_shards(n, workers.threads());
    let best = workers
        .map(shards, |(first, end)| {
            (first..end)
                .map(|j| neighbourhood(x, p, log_pg, j, scale))
                .fold(f64::NEG_INFINITY, f64::max)
        })
        .into_iter()
        .fold(f64::NEG_INFINITY, f64::max);
    let log_sup_bound = best - 0.5 * p as f64 * (LN_2PI + xi.ln());
    let gap = n as f64 * (log_sup_bound - (n as f64).ln()).max(0.0);
    Certificate { log_sup_bound, gap }
}

/// `log Σ_i exp(scale |x_i - x_j|² - log p_G(x_i))`.
fn neighbourhood(x: &[f64], p: usize, log_pg: &[f64], j: usize, scale: f64) -> f64 {
    let centre = &x[j * p..(j + 1) * p];
    let mut acc = LogSumExp::default();
    for (row, lp) in x.chunks(p).zip(log_pg) {
        let d2: f64 = row.iter().zip(centre).map(|(a, b)| (a - b) * (a - b)).sum();
        acc.push(scale * d2 - lp);
    }
    acc.value()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_point_with_an_atom_on_it_has_gap_zero() {
        // G = N(x_0, ξ): p_G(x_0) = (2πξ)^(-1/2), so S <= 1 = n and the gap is 0.
        let xi: f64 = 0.5;
        let log_pg = [-0.5 * (2.0 * std::f64::consts::PI * xi).ln()];
        let workers = Workers::new(1).unwrap();
        let c = certify(&[3.0], 1, &log_pg, xi, &workers);
        assert!(c.log_sup_bound.abs() < 1e-12 && c.gap == 0.0, "{c:?}");
    }
}

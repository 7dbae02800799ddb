//! The gradient-function certificate of a mixture's optimality (Lindsay 1983).

use super::mixture::{Atom, Covariance};
use crate::bound::log_sum_exp::log_sum_exp;

/// How far a mixture `G` can be from the nonparametric maximum.
///
/// The gradient function is `D(η; G) = Σ_i Φ(x_i | η) / p_G(x_i) - n`. `G` maximises `l` iff
/// `D <= 0` everywhere, and by concavity and Jensen
/// `l(G*) - l(G) <= n log(1 + sup_η D(η; G) / n) <= sup_η D(η; G)`.
///
/// The supremum is searched over candidate atoms: a spike `(x_j, ξ)` on every data point (the
/// densest place any atom can sit) and every atom of `G`, each improved by a few ascent steps on
/// `log(D + n)`. `sup_d` is therefore the largest value *found*: `sup_d > 0` proves `G` is not
/// optimal (adding that atom raises `l`), and `gap` bounds the distance to the true maximum
/// exactly when the supremum is attained at (or near) a candidate; it is not a proof in general,
/// because `D` is not concave in `η`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Certificate {
    /// The largest `D(η; G)` found over the candidates (may be `+inf` in `f64`).
    pub sup_d: f64,
    /// `n log(1 + sup_d / n)`, nats, clipped at 0: the gap `l(G*) - l(G)` if `sup_d` is the sup.
    pub gap: f64,
    /// How many candidate atoms were evaluated.
    pub candidates: usize,
}

impl std::fmt::Display for Certificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "max D(eta; G) over {} candidates = {:.3e}, so l(G*) - l(G) <= {:.3} nats if the sup is there",
            self.candidates, self.sup_d, self.gap
        )
    }
}

/// Searches `sup_η D(η; G)` over spikes on the data points and the atoms of `G`.
///
/// # Formula
/// `log(D(η) + n) = log Σ_i exp(log Φ(x_i | η) - log p_G(x_i))`; each ascent step is the EM update
/// of `η` for the "mixture over points" `Σ_i c_i Φ(x_i | η)`: `r_i ∝ c_i Φ(x_i | η)`,
/// `η ← Atom::fit(x, r)`, which does not decrease `D`.
pub(crate) fn certify(
    x: &[f64],
    p: usize,
    log_pg: &[f64],
    atoms: &[Atom],
    xi: f64,
    covariance: Covariance,
    steps: usize,
) -> Certificate {
    let n = log_pg.len();
    let width = if covariance == Covariance::Spherical {
        1
    } else {
        p
    };
    let spikes = x.chunks(p).map(|row| Atom {
        log_weight: 0.0,
        mean: row.to_vec(),
        variance: vec![xi; width],
    });
    let mut best = f64::NEG_INFINITY;
    let mut candidates = 0;
    for start in spikes.chain(atoms.iter().cloned()) {
        best = best.max(ascend(x, p, log_pg, start, xi, covariance, steps));
        candidates += 1;
    }
    let ln_n = (n as f64).ln();
    Certificate {
        sup_d: best.exp() - n as f64,
        gap: n as f64 * (best - ln_n).max(0.0),
        candidates,
    }
}

/// The largest `log(D + n)` seen while ascending from `atom`.
fn ascend(
    x: &[f64],
    p: usize,
    log_pg: &[f64],
    mut atom: Atom,
    xi: f64,
    covariance: Covariance,
    steps: usize,
) -> f64 {
    let mut terms = vec![0.0; log_pg.len()];
    let mut best = f64::NEG_INFINITY;
    for step in 0..=steps {
        for ((t, row), lp) in terms.iter_mut().zip(x.chunks(p)).zip(log_pg) {
            *t = atom.log_density(row) - lp;
        }
        let lse = log_sum_exp(&terms);
        best = best.max(lse);
        if step == steps || !lse.is_finite() {
            break;
        }
        let r: Vec<f64> = terms.iter().map(|t| (t - lse).exp()).collect();
        (atom.mean, atom.variance) = Atom::fit(x, p, &r, xi, covariance);
    }
    best
}

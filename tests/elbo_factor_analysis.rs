//! The ELBO against closed forms: a linear decoder with Gaussian output is factor analysis, whose
//! log p(x) and posterior are known exactly.

mod common;

use common::fa_model::{fa_model, reference, Fa};
use common::{kl_diagonal, mean_and_se};
use dlvm::batch::standard_normal;
use dlvm::prelude::*;
use rand::{rngs::StdRng, SeedableRng};

/// `n` single-sample ELBO values at the point `x`.
fn elbo_samples(model: &Fa, x: [f32; 3], n: usize, seed: u64) -> Vec<f64> {
    let dev = Cpu::default();
    let batch: Vec<f32> = (0..n).flat_map(|_| x).collect();
    let xs = dev.tensor_from_vec(batch, (n, Const::<3>));
    let eps = standard_normal(&dev, n, &mut StdRng::seed_from_u64(seed));
    model
        .elbo(xs, eps)
        .as_vec()
        .into_iter()
        .map(f64::from)
        .collect()
}

const X: [f32; 3] = [1.1, -0.7, 0.9];
const N: usize = 20_000;

#[test]
fn elbo_equals_log_marginal_with_the_exact_posterior() {
    let fa = reference();
    let x64: Vec<f64> = X.iter().map(|&v| f64::from(v)).collect();
    let (_, var) = fa.diagonal_posterior(&x64);
    let model = fa_model(&fa, [0.0, 0.0], [var[0].ln(), var[1].ln()]);
    let (mean, se) = mean_and_se(&elbo_samples(&model, X, N, 1));
    let exact = fa.log_marginal(&x64);
    // E[ELBO] = log p(x) exactly when q = p(z|x); 4 standard errors (plus f32 rounding).
    assert!(
        (mean - exact).abs() < 4.0 * se + 1e-4,
        "ELBO {mean} ± {se} vs log p(x) {exact}"
    );
}

#[test]
fn elbo_gap_is_the_kl_to_the_exact_posterior() {
    let fa = reference();
    let x64: Vec<f64> = X.iter().map(|&v| f64::from(v)).collect();
    let (m, var) = fa.diagonal_posterior(&x64);
    let (shift, log_var) = ([0.5, -0.3], [(2.0 * var[0]).ln(), (0.5 * var[1]).ln()]);
    let model = fa_model(&fa, shift, log_var);
    let (mean, se) = mean_and_se(&elbo_samples(&model, X, N, 2));
    let exact = fa.log_marginal(&x64);
    let q_mean = [m[0] + shift[0], m[1] + shift[1]];
    let q_var = [log_var[0].exp(), log_var[1].exp()];
    let gap = kl_diagonal(&q_mean, &q_var, &m, &var);
    assert!(gap > 0.1, "the test needs a visibly wrong q, gap {gap}");
    assert!(
        mean < exact - 10.0 * se,
        "ELBO {mean} ± {se} must be below log p(x) {exact}"
    );
    assert!(
        ((exact - mean) - gap).abs() < 4.0 * se + 1e-4,
        "log p(x) - ELBO = {} but KL(q || p(z|x)) = {gap} (se {se})",
        exact - mean
    );
}

#[test]
fn kl_to_the_prior_matches_its_closed_form() {
    let dev = Cpu::default();
    let (m, v) = ([0.3f32, -1.2, 0.0], [0.5f32, -0.4, 1.1]);
    let q = dlvm::latent::Posterior::<Const<3>, Cpu, NoneTape> {
        mean: dev.tensor_from_vec(m.to_vec(), (1, Const::<3>)),
        log_variance: dev.tensor_from_vec(v.to_vec(), (1, Const::<3>)),
    };
    let got = f64::from(q.kl_to_standard_normal().as_vec()[0]);
    let want = kl_diagonal(
        &m.map(f64::from),
        &v.map(|x| f64::from(x).exp()),
        &[0.0; 3],
        &[1.0; 3],
    );
    assert!((got - want).abs() < 1e-5, "KL {got} vs closed form {want}");
}

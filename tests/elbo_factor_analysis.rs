//! The ELBO against closed forms: a linear decoder with Gaussian output is factor analysis, whose
//! log p(x) and posterior are known exactly.

mod common;

use common::{kl_diagonal, mean_and_se, to_f32, FactorAnalysis};
use dlvm::batch::standard_normal;
use dlvm::prelude::*;
use rand::{rngs::StdRng, SeedableRng};

dlvm! {
    /// Factor analysis: a linear decoder with a diagonal Gaussian output and no floor.
    model Fa {
        latent z: 2 ~ Normal(0, I);
        observed x: 3 ~ Gaussian(linear(z), unconstrained);
        encoder q(z | x) = linear(x);
    }
}

/// `W` has orthogonal columns and `Ψ = 0.3 I`, so the exact posterior is diagonal.
fn reference() -> FactorAnalysis {
    FactorAnalysis {
        w: vec![1.0, 1.0, 1.0, -1.0, 0.5, 0.0],
        mu: vec![0.2, -0.1, 0.4],
        psi: vec![0.3, 0.3, 0.3],
        p: 3,
        d: 2,
    }
}

/// Sets the decoder to the FA model and the encoder to `m(x) = A x + c + shift`, `v = log var`.
fn model_with(fa: &FactorAnalysis, shift: [f64; 2], log_var: [f64; 2]) -> Fa {
    let mut model = Fa::new(&Cpu::default(), 0);
    // Decoder rows 0..3: means W z + μ; rows 3..6: constant log-variances log ψ.
    let mut weight = to_f32(&fa.w);
    weight.extend([0.0f32; 6]);
    let bias: Vec<f32> = fa
        .mu
        .iter()
        .chain(&fa.psi)
        .enumerate()
        .map(|(i, &v)| if i < 3 { v as f32 } else { (v as f32).ln() })
        .collect();
    model.decoder.weight.copy_from(&weight);
    model.decoder.bias.copy_from(&bias);
    let (a, c) = fa.posterior_map();
    model.encoder_mean.weight.copy_from(&to_f32(&a));
    model
        .encoder_mean
        .bias
        .copy_from(&[(c[0] + shift[0]) as f32, (c[1] + shift[1]) as f32]);
    model.encoder_log_variance.weight.copy_from(&[0.0; 6]);
    model
        .encoder_log_variance
        .bias
        .copy_from(&[log_var[0] as f32, log_var[1] as f32]);
    model
}

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
    let model = model_with(&fa, [0.0, 0.0], [var[0].ln(), var[1].ln()]);
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
    let model = model_with(&fa, shift, log_var);
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

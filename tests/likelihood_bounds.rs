//! IWAE-K, the ELBO and the report against the exact log-likelihood of factor analysis.
//!
//! A linear decoder with a Gaussian output is factor analysis: `log p(x)`, the posterior
//! `p(z | x)` and hence `KL(q || p(z|x))` and `χ²(p(z|x) || q)` are known in closed form.

mod common;

use common::fa_model::{fa_model, reference, scaled_log_var, Fa};
use common::{kl_diagonal, FactorAnalysis};
use dlvm::prelude::*;

const X: [f32; 3] = [1.1, -0.7, 0.9];
const SHIFT: [f64; 2] = [0.4, -0.3];
const VAR_SCALE: [f64; 2] = [1.6, 0.6];

/// The FA decoder with a deliberately wrong encoder: `m = m*(x) + SHIFT`, `s² = VAR_SCALE s*²`.
fn model(fa: &FactorAnalysis) -> Fa {
    fa_model(fa, SHIFT, scaled_log_var(fa, VAR_SCALE))
}

/// `n` copies of `X`: every copy gets independent importance samples.
fn copies(n: usize) -> Dataset {
    let values = (0..n).flat_map(|_| X).collect();
    Dataset::from_vec("copies of x", n, 3, values).unwrap()
}

fn x64() -> Vec<f64> {
    X.iter().map(|&v| f64::from(v)).collect()
}

/// `(q mean, q var, posterior mean, posterior var)` at `X`.
fn q_and_posterior(fa: &FactorAnalysis) -> [Vec<f64>; 4] {
    let (m, var) = fa.diagonal_posterior(&x64());
    let q_mean = vec![m[0] + SHIFT[0], m[1] + SHIFT[1]];
    let q_var = vec![VAR_SCALE[0] * var[0], VAR_SCALE[1] * var[1]];
    [q_mean, q_var, m, var]
}

/// `χ²(p || q) = ∫ p² / q - 1` for diagonal Gaussians `p = N(b, B)`, `q = N(a, A)` (needs 2A > B).
///
/// Per coordinate `∫ N(b, B)² / N(a, A) = √(2πA) / (2πB) · √(π / c) · exp(e² / c + f)` with
/// `c = 1/B - 1/(2A)`, `e = b/B - a/(2A)`, `f = a²/(2A) - b²/B`.
fn chi_square(a: &[f64], va: &[f64], b: &[f64], vb: &[f64]) -> f64 {
    let pi = std::f64::consts::PI;
    let product: f64 = (0..a.len())
        .map(|j| {
            let c = 1.0 / vb[j] - 0.5 / va[j];
            let e = b[j] / vb[j] - 0.5 * a[j] / va[j];
            let f = 0.5 * a[j] * a[j] / va[j] - b[j] * b[j] / vb[j];
            (2.0 * pi * va[j]).sqrt() / (2.0 * pi * vb[j]) * (pi / c).sqrt() * (e * e / c + f).exp()
        })
        .product();
    product - 1.0
}

/// The standard error over points (every estimate here has many points).
fn se(e: &Estimate) -> f64 {
    e.std_err.expect("more than one point")
}

fn iwae(model: &Fa, n: usize, k: usize, seed: u64) -> Estimate {
    let config = IwaeConfig {
        k,
        chunk_rows: 8192,
        seed,
        progress: false,
        threads: 2,
        fused: true,
    };
    model.iwae_with(&copies(n), &config).unwrap()
}

#[test]
fn iwae_does_not_depend_on_threads_or_chunking() {
    let fa = reference();
    let model = model(&fa);
    let data = copies(40);
    let run = |threads: usize, chunk_rows: usize, fused: bool| {
        let config = IwaeConfig {
            chunk_rows,
            threads,
            progress: false,
            seed: 7,
            fused,
            ..IwaeConfig::new(64)
        };
        dlvm::bound::iwae_per_point(&model, &data, &config).unwrap()
    };
    let base = run(1, 4096, true);
    // The host networks and the model's own give the same bound.
    for (threads, chunk_rows, fused) in [
        (2, 4096, true),
        (3, 100, true),
        (1, 7, true),
        (2, 100, false),
    ] {
        let other = run(threads, chunk_rows, fused);
        for (a, b) in base.iter().zip(&other) {
            assert!(
                (a - b).abs() < 1e-5,
                "{threads} threads, chunks of {chunk_rows}, fused {fused}: {a} vs {b}"
            );
        }
    }
    // A different seed gives different samples (the comparison above is not vacuous).
    let seeded = IwaeConfig {
        seed: 8,
        progress: false,
        ..IwaeConfig::new(64)
    };
    let other = dlvm::bound::iwae_per_point(&model, &data, &seeded).unwrap();
    assert!(base.iter().zip(&other).any(|(a, b)| (a - b).abs() > 1e-4));
}

#[test]
fn iwae_k_approaches_log_marginal_as_k_grows() {
    let fa = reference();
    let model = model(&fa);
    let exact = fa.log_marginal(&x64());
    let [qm, qv, pm, pv] = q_and_posterior(&fa);
    let kl = kl_diagonal(&qm, &qv, &pm, &pv);
    let chi2 = chi_square(&qm, &qv, &pm, &pv);
    assert!(kl > 0.1, "the test needs a visibly wrong q, KL {kl}");

    // K = 1: E[L_1] = ELBO = log p(x) - KL exactly; 4 standard errors over 20000 points.
    let l1 = iwae(&model, 20_000, 1, 1);
    let gap1 = exact - l1.mean;
    assert!(
        (gap1 - kl).abs() < 4.0 * se(&l1) + 1e-4,
        "gap {gap1} vs KL {kl} ({l1})"
    );

    // L_1 <= L_10 in expectation: the difference must exceed 4 joint standard errors.
    let l10 = iwae(&model, 2_000, 10, 2);
    let joint = se(&l1).hypot(se(&l10));
    assert!(l10.mean > l1.mean + 4.0 * joint, "L_10 {l10} vs L_1 {l1}");

    // K = 1000: 0 <= log p(x) - E[L_K] ≈ χ²(p(z|x) || q) / (2K) (delta method); allow twice the
    // first-order bias for higher-order terms, plus 4 standard errors (and f32 rounding).
    let l1000 = iwae(&model, 200, 1000, 3);
    let gap = exact - l1000.mean;
    let bias = chi2 / 2000.0;
    assert!(
        gap > -4.0 * se(&l1000) - 1e-4,
        "L_1000 {l1000} above log p(x) {exact}"
    );
    assert!(
        gap < 2.0 * bias + 4.0 * se(&l1000) + 1e-4,
        "gap {gap} vs expected bias {bias} ({l1000})"
    );
    assert!(
        gap < gap1 / 20.0,
        "the gap must shrink: K=1 {gap1}, K=1000 {gap}"
    );
}

#[test]
fn the_report_orders_elbo_iwae_and_says_the_gaussian_is_unbounded() {
    let fa = reference();
    let model = model(&fa);
    let exact = fa.log_marginal(&x64());
    let data = copies(2_000);
    let config = IwaeConfig {
        k: 50,
        seed: 4,
        progress: false,
        ..IwaeConfig::new(50)
    };
    let report = model
        .likelihood_report(&data, &config, &MixtureConfig::default())
        .unwrap();
    assert!(report.is_ordered(4.0), "{report}");
    // ELBO <= log p(x): the KL gap (> 0.1 nats) is far beyond 10 standard errors here.
    assert!(
        report.elbo.mean < exact - 10.0 * se(&report.elbo),
        "{report}"
    );
    assert!(
        report.iwae.mean < exact + 4.0 * se(&report.iwae),
        "{report}"
    );
    assert!(report.variational_gap_at_least() > 0.0, "{report}");
    assert_eq!(report.family, FamilyBound::Unbounded);
    let reason = report.nonparametric.as_ref().unwrap_err();
    assert!(reason.contains("unconstrained"), "{reason}");
    assert!(report.to_string().contains("unbounded"), "{report}");
}

#[test]
fn zero_importance_samples_is_a_typed_error() {
    let model = model(&reference());
    let err = model.iwae(&copies(3), 0, 0).unwrap_err();
    match &err {
        DlvmError::Config { parameter, .. } => assert_eq!(*parameter, "k"),
        other => panic!("expected a Config error, got {other}"),
    }
    assert!(err.to_string().contains("k >= 1"), "{err}");
}

#[test]
fn data_of_the_wrong_width_is_a_typed_error() {
    let model = model(&reference());
    let wrong = Dataset::from_vec("two columns", 2, 2, vec![0.0; 4]).unwrap();
    assert!(matches!(model.iwae(&wrong, 5, 0), Err(DlvmError::Data(_))));
}

dlvm! {
    /// Hidden layers on both sides, for sparse binary points.
    model Binary {
        latent z: 3 ~ Normal(0, I);
        observed x: 30 ~ Bernoulli(mlp(z; 12, 10; tanh));
        encoder q(z | x) = mlp(x; 16; relu);
    }
}

#[test]
fn iwae_on_the_host_networks_is_iwae_on_the_model_networks() {
    let model = Binary::new(&Cpu::default(), 5);
    // About 10% ones: the host encoder's first layer takes its sparse path.
    let values = (0..25 * 30)
        .map(|k| f32::from((k * 7919) % 10 == 0))
        .collect();
    let data = Dataset::from_vec("bits", 25, 30, values).unwrap();
    let run = |fused: bool| {
        let config = IwaeConfig {
            chunk_rows: 300,
            threads: 2,
            progress: false,
            fused,
            ..IwaeConfig::new(100)
        };
        dlvm::bound::iwae_per_point(&model, &data, &config).unwrap()
    };
    let (host, own) = (run(true), run(false));
    for (a, b) in host.iter().zip(&own) {
        assert!((a - b).abs() < 1e-4 * b.abs(), "host {a} vs model {b}");
    }
    assert!(host.iter().all(|v| v.is_finite() && *v < 0.0));
}

#[test]
fn iwae_reports_the_monte_carlo_error_beside_the_standard_error_over_points() {
    // Copies of one point: the spread over points is Monte Carlo noise only, so the standard
    // error over points and the delta-method Monte Carlo error estimate the same thing. The
    // encoder is wider than the posterior in both directions, so the weights are light-tailed
    // and their sample variance is reliable (measured: ratio 0.995) (with the narrower `model` encoder the heavy-tailed
    // weights made it read 0.84 of the truth at K = 200: documented in docs/likelihood.md).
    // The sample s.e. over 2000 points has a relative error of 1/√4000 ≈ 1.6%.
    let fa = reference();
    let model = fa_model(&fa, SHIFT, scaled_log_var(&fa, [1.6, 1.3]));
    let estimate = iwae(&model, 2_000, 200, 7);
    let (over_points, mc) = (se(&estimate), estimate.mc_std_err.unwrap());
    assert!(
        (0.85..1.15).contains(&(mc / over_points)),
        "Monte Carlo s.e. {mc} vs s.e. over points {over_points}"
    );
    let text = estimate.to_string();
    assert!(
        text.contains("s.e. over 2000 points") && text.contains("Monte Carlo s.e."),
        "{text}"
    );
    // K = 1 has no per-point Monte Carlo error to estimate.
    assert_eq!(iwae(&model, 10, 1, 7).mc_std_err, None);
}

#[test]
fn an_estimate_from_one_point_has_no_standard_error() {
    let model = model(&reference());
    for estimate in [
        iwae(&model, 1, 50, 3),
        model.evaluate_elbo(&copies(1), 1, 3).unwrap(),
    ] {
        assert_eq!((estimate.std_err, estimate.spread), (None, None));
        let text = estimate.to_string();
        assert!(text.contains("1 point: no standard error"), "{text}");
        assert!(!text.contains("± 0.00"), "{text}");
    }
}

/// Rows of moderate values with row 1 = `(1e30, -1e30, 0)`.
fn huge_row() -> Dataset {
    let values = vec![0.5, -0.2, 0.1, 1e30, -1e30, 0.0, 0.3, 0.3, 0.3];
    Dataset::from_vec("huge", 3, 3, values).unwrap()
}

/// Asserts `result` is finite or a [`DlvmError::NonFiniteEstimate`] naming row 1 and a fix.
fn finite_or_named(result: dlvm::Result<Estimate>, quantity: &str) {
    match result {
        Ok(e) => assert!(e.mean.is_finite(), "{quantity}: Ok({e:?})"),
        Err(err) => {
            match &err {
                DlvmError::NonFiniteEstimate { row, largest, .. } => {
                    assert_eq!((*row, *largest), (1, f64::from(1e30f32)), "{err}");
                }
                other => panic!("{quantity}: expected NonFiniteEstimate, got {other}"),
            }
            let text = err.to_string();
            assert!(
                text.contains(quantity) && text.contains("row 1") && text.contains("rescale"),
                "{text}"
            );
        }
    }
}

#[test]
fn elbo_and_iwae_on_huge_finite_values_are_never_ok_and_non_finite() {
    // Issue 16, item 7: `Ok(-inf ± NaN)` before.
    let model = model(&reference());
    finite_or_named(model.evaluate_elbo(&huge_row(), 3, 0), "ELBO");
    let config = IwaeConfig {
        progress: false,
        ..IwaeConfig::new(10)
    };
    finite_or_named(model.iwae_with(&huge_row(), &config), "IWAE-10 bound");
    let err = model.evaluate_elbo(&huge_row(), 3, 0).unwrap_err();
    assert!(matches!(err, DlvmError::NonFiniteEstimate { .. }), "{err}");
}

dlvm! {
    /// An isotropic Gaussian output with a floor and hidden layers.
    model Iso {
        latent z: 2 ~ Normal(0, I);
        observed x: 3 ~ Gaussian<Isotropic>(mlp(z; 8; tanh), xi = 0.01);
        encoder q(z | x) = mlp(x; 8; tanh);
    }
}

#[test]
fn the_isotropic_gaussian_elbo_on_huge_values_is_finite_or_a_clear_error() {
    // Issue 16, item 20: `Ok(NaN)` before.
    let model = Iso::new(&Cpu::default(), 1);
    let data = Dataset::from_vec("huge", 1, 3, vec![1e30, -1e30, 0.0]).unwrap();
    let result = model.evaluate_elbo(&data, 1, 0);
    match result {
        Ok(e) => assert!(e.mean.is_finite(), "Ok({e:?})"),
        Err(DlvmError::NonFiniteEstimate { row, .. }) => assert_eq!(row, 0),
        Err(other) => panic!("expected NonFiniteEstimate, got {other}"),
    }
}

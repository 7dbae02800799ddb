//! Imputation samplers against closed forms: a linear decoder with a Gaussian output of fixed
//! diagonal variance is factor analysis, whose conditional `p(x_miss | x_obs)` is Gaussian with a
//! known mean and covariance.

mod common;

use common::fa_model::{fa_model, reference, scaled_log_var, Fa};
use common::FactorAnalysis;
use dlvm::impute::{Imputation, ImputeOptions, Init, Mask, Single};
use dlvm::prelude::*;

dlvm! {
    /// A Bernoulli model with hidden layers, for sparse binary points.
    model Sparse {
        latent z: 2 ~ Normal(0, I);
        observed x: 24 ~ Bernoulli(mlp(z; 16; tanh));
        encoder q(z | x) = mlp(x; 16, 12; tanh);
    }
}

dlvm! {
    /// A Gaussian model with hidden layers (two decoder outputs per coordinate).
    model GaussianMlp {
        latent z: 2 ~ Normal(0, I);
        observed x: 6 ~ Gaussian(mlp(z; 5; tanh), xi = 0.01);
        encoder q(z | x) = mlp(x; 7, 4; relu);
    }
}

dlvm! {
    /// A small Bernoulli model, to check the rounding of discrete single imputations.
    model Binary {
        latent z: 2 ~ Normal(0, I);
        observed x: 6 ~ Bernoulli(mlp(z; 8; tanh));
        encoder q(z | x) = mlp(x; 8; tanh);
    }
}

/// The FA decoder; the encoder is `m(x) = A x + c + shift`, `v = log(scale · S)` where
/// `N(A x + c, S)` is the exact posterior (`shift = 0`, `scale = 1` make it exact).
fn model_with(fa: &FactorAnalysis, shift: [f64; 2], scale: [f64; 2]) -> Fa {
    fa_model(fa, shift, scaled_log_var(fa, scale))
}

/// The exact conditional of coordinates 1 and 2 given coordinate 0 = `x0`: (mean, covariance
/// row-major 2 x 2), from `C = W Wᵀ + Ψ`: `μ_m + C_mo C_oo⁻¹ (x0 - μ_o)`, `C_mm - C_mo C_om / C_oo`.
fn exact_conditional(fa: &FactorAnalysis, x0: f64) -> ([f64; 2], [f64; 4]) {
    let c = fa.marginal_covariance();
    let (c_oo, c_mo) = (c[0], [c[3], c[6]]);
    let mean = [
        fa.mu[1] + c_mo[0] / c_oo * (x0 - fa.mu[0]),
        fa.mu[2] + c_mo[1] / c_oo * (x0 - fa.mu[0]),
    ];
    let cov = [
        c[4] - c_mo[0] * c_mo[0] / c_oo,
        c[5] - c_mo[0] * c_mo[1] / c_oo,
        c[7] - c_mo[1] * c_mo[0] / c_oo,
        c[8] - c_mo[1] * c_mo[1] / c_oo,
    ];
    (mean, cov)
}

const X0: f32 = 1.3;
const CHAINS: usize = 400;

/// `CHAINS` copies of the point `(X0, NaN, NaN)`: coordinates 1 and 2 missing.
fn incomplete_points() -> (Dataset, Mask) {
    let data: Vec<f32> = (0..CHAINS).flat_map(|_| [X0, f32::NAN, f32::NAN]).collect();
    let data = Dataset::from_vec("fa", CHAINS, 3, data).unwrap();
    let mask = Mask::from_nan(&data);
    (data, mask)
}

fn long_run(seed: u64) -> ImputeOptions {
    ImputeOptions {
        iterations: 4000,
        burn_in: 1000,
        thin: 1,
        keep: 3000,
        init: Init::Zeros,
        seed,
        progress: false,
        threads: 2,
        fused: true,
    }
}

/// The five statistics whose expectations under the exact conditional are the two means and the
/// three covariance entries: `x1, x2, (x1-μ1)², (x1-μ1)(x2-μ2), (x2-μ2)²` with the exact `μ`.
fn statistics(x: &[f32], mean: [f64; 2]) -> [f64; 5] {
    let (a, b) = (f64::from(x[1]) - mean[0], f64::from(x[2]) - mean[1]);
    [a + mean[0], b + mean[1], a * a, a * b, b * b]
}

/// Per statistic, the grand mean over all retained draws of all chains and its Monte Carlo
/// standard error. The chains are independent, so each chain's average is one independent
/// sample: the standard error is `sd(chain averages) / √CHAINS`. This is the batch-means
/// estimator with chains as batches; it contains the autocorrelation, as
/// `Var(chain average) = σ² τ / draws` with `τ` the integrated autocorrelation time
/// (effective sample size `CHAINS · draws / τ`).
fn estimates(run: &Imputation, mean: [f64; 2]) -> [(f64, f64); 5] {
    let per_chain: Vec<[f64; 5]> = (0..CHAINS)
        .map(|i| {
            let mut acc = [0.0; 5];
            for draw in &run.draws {
                let s = statistics(&draw[i * 3..(i + 1) * 3], mean);
                acc.iter_mut().zip(s).for_each(|(a, v)| *a += v);
            }
            acc.map(|a| a / run.draws.len() as f64)
        })
        .collect();
    std::array::from_fn(|k| {
        let values: Vec<f64> = per_chain.iter().map(|s| s[k]).collect();
        common::mean_and_se(&values)
    })
}

fn exact_expectations(mean: [f64; 2], cov: [f64; 4]) -> [f64; 5] {
    [mean[0], mean[1], cov[0], cov[1], cov[3]]
}

const NAMES: [&str; 5] = ["E x1", "E x2", "Var x1", "Cov x1 x2", "Var x2"];

#[test]
fn metropolis_within_gibbs_with_a_wrong_encoder_draws_from_the_exact_conditional() {
    let fa = reference();
    let model = model_with(&fa, [0.6, -0.5], [2.0, 2.0]);
    let (data, mask) = incomplete_points();
    let run = model
        .metropolis_within_gibbs(&data, &mask, &long_run(11))
        .unwrap();
    let (mean, cov) = exact_conditional(&fa, f64::from(X0));
    let acceptance = run.mean_acceptance();
    assert!(
        acceptance > 0.05 && acceptance < 0.99,
        "acceptance {acceptance}"
    );
    eprintln!("MWG acceptance {acceptance:.3}");
    for ((name, (got, se)), want) in NAMES
        .iter()
        .zip(estimates(&run, mean))
        .zip(exact_expectations(mean, cov))
    {
        // 4.5 standard errors: a false alarm has probability ~7e-6 per statistic (normal chain
        // averages over 400 independent chains); f32 rounding is far below the tolerance.
        eprintln!("{name}: MWG {got:.4} ± {se:.4} vs exact {want:.4}");
        assert!(
            (got - want).abs() < 4.5 * se,
            "{name}: MWG {got} ± {se} vs exact {want}"
        );
    }
}

#[test]
fn pseudo_gibbs_with_the_same_wrong_encoder_is_measurably_off() {
    let fa = reference();
    let model = model_with(&fa, [0.6, -0.5], [2.0, 2.0]);
    let (data, mask) = incomplete_points();
    let run = model.pseudo_gibbs(&data, &mask, &long_run(12)).unwrap();
    let (mean, cov) = exact_conditional(&fa, f64::from(X0));
    let z_scores: Vec<(f64, &str)> = NAMES
        .iter()
        .zip(estimates(&run, mean))
        .zip(exact_expectations(mean, cov))
        .map(|((name, (got, se)), want)| ((got - want).abs() / se, *name))
        .collect();
    eprintln!("pseudo-Gibbs |bias| / se: {z_scores:?}");
    // Off by more than 10 of its own standard errors in at least one statistic: far beyond
    // Monte Carlo noise, so pseudo-Gibbs targets a different distribution.
    assert!(
        z_scores.iter().any(|(z, _)| *z > 10.0),
        "pseudo-Gibbs looks exact: |bias| / se = {z_scores:?}"
    );
}

#[test]
fn metropolis_within_gibbs_with_the_exact_posterior_accepts_every_proposal() {
    let fa = reference();
    let model = model_with(&fa, [0.0, 0.0], [1.0, 1.0]);
    let (data, mask) = incomplete_points();
    let options = ImputeOptions {
        iterations: 300,
        ..Default::default()
    };
    let run = model
        .metropolis_within_gibbs(&data, &mask, &options)
        .unwrap();
    // With q(z | x) = p(z | x) the ratio is exactly 1; f32 rounding leaves |log ρ| ~ 1e-6, so a
    // rejection has probability ~1e-6 per step: allow 1e-4 of the 120 000 steps.
    let acceptance = run.mean_acceptance();
    assert!(acceptance > 0.9999, "acceptance {acceptance}");
}

fn check_observed_unchanged(data: &Dataset, mask: &Mask, run: &Imputation) {
    let mut completed = vec![&run.last_draw, &run.draw_mean, &run.family_mean];
    completed.extend(&run.draws);
    for x in completed {
        for ((&got, &want), &missing) in x.iter().zip(data.as_slice()).zip(mask.missing()) {
            if !missing {
                assert_eq!(got.to_bits(), want.to_bits(), "an observed entry changed");
            }
        }
    }
}

#[test]
fn observed_entries_are_never_changed() {
    let fa = reference();
    let model = model_with(&fa, [0.6, -0.5], [2.0, 2.0]);
    let values: Vec<f32> = (0..60)
        .map(|k| ((k * 37) % 17) as f32 / 7.0 - 1.0)
        .collect();
    let data = Dataset::from_vec("fa", 20, 3, values).unwrap();
    let mask = Mask::mcar(20, 3, 0.5, 3).unwrap();
    for init in [Init::Zeros, Init::FamilyMean, Init::PseudoGibbs(5)] {
        let options = ImputeOptions {
            iterations: 30,
            burn_in: 10,
            thin: 2,
            keep: 4,
            init,
            seed: 5,
            progress: false,
            threads: 1,
            fused: true,
        };
        let pg = model.pseudo_gibbs(&data, &mask, &options).unwrap();
        let mwg = model
            .metropolis_within_gibbs(&data, &mask, &options)
            .unwrap();
        for run in [&pg, &mwg] {
            assert_eq!(run.draws.len(), 4);
            assert_eq!(run.trace.len(), 30 * 20);
            check_observed_unchanged(&data, &mask, run);
            // Missing entries were imputed (continuous draws are almost surely not the data).
            let changed = run
                .last_draw
                .iter()
                .zip(data.as_slice())
                .zip(mask.missing())
                .any(|((a, b), &m)| m && a != b);
            assert!(changed, "no missing entry was imputed");
        }
        assert!(pg.acceptance.iter().all(|&a| a == 1.0));
    }
}

#[test]
fn the_worker_count_does_not_change_the_chains() {
    let fa = reference();
    let model = model_with(&fa, [0.6, -0.5], [2.0, 2.0]);
    let values: Vec<f32> = (0..90)
        .map(|k| ((k * 29) % 13) as f32 / 5.0 - 1.0)
        .collect();
    let data = Dataset::from_vec("fa", 30, 3, values).unwrap();
    let mask = Mask::mcar(30, 3, 0.5, 4).unwrap();
    let run = |threads: usize| {
        let options = ImputeOptions {
            iterations: 25,
            threads,
            seed: 9,
            ..Default::default()
        };
        let pg = model.pseudo_gibbs(&data, &mask, &options).unwrap();
        let mwg = model
            .metropolis_within_gibbs(&data, &mask, &options)
            .unwrap();
        [pg.last_draw, mwg.last_draw]
    };
    let one = run(1);
    for threads in [2, 4] {
        for (a, b) in one.iter().zip(run(threads).iter()) {
            for (x, y) in a.iter().zip(b) {
                assert!((x - y).abs() < 1e-3, "{threads} threads: {x} vs {y}");
            }
        }
    }
}

#[test]
fn binary_single_imputations_are_thresholded_at_one_half() {
    let model = Binary::new(&Cpu::default(), 1);
    let values: Vec<f32> = (0..48).map(|k| ((k * 5) % 3 == 0) as u8 as f32).collect();
    let data = Dataset::from_vec("bits", 8, 6, values).unwrap();
    let mask = Mask::top_half(8, 2, 3).unwrap();
    let options = ImputeOptions {
        iterations: 20,
        ..Default::default()
    };
    let run = model
        .metropolis_within_gibbs(&data, &mask, &options)
        .unwrap();
    check_observed_unchanged(&data, &mask, &run);
    for kind in [Single::LastDraw, Single::DrawMean, Single::FamilyMean] {
        let single = run.single(kind);
        assert!(single.iter().all(|&v| v == 0.0 || v == 1.0), "{kind:?}");
    }
    let rounded = run.single(Single::FamilyMean);
    for (&p, &r) in run.family_mean.iter().zip(&rounded) {
        assert_eq!(r, if p >= 0.5 { 1.0 } else { 0.0 });
    }
}

#[test]
fn bad_inputs_are_typed_errors() {
    let model = model_with(&reference(), [0.0, 0.0], [1.0, 1.0]);
    let (data, mask) = incomplete_points();
    let zero = ImputeOptions {
        iterations: 0,
        ..Default::default()
    };
    assert!(matches!(
        model.pseudo_gibbs(&data, &mask, &zero),
        Err(DlvmError::Config {
            parameter: "iterations",
            ..
        })
    ));
    let wrong = Mask::mcar(CHAINS + 1, 3, 0.5, 0).unwrap();
    let options = ImputeOptions::default();
    assert!(matches!(
        model.metropolis_within_gibbs(&data, &wrong, &options),
        Err(DlvmError::MaskShape { .. })
    ));
    // An observed NaN (the mask says observed) is a data error, not a panic.
    let observed_nan = Mask::from_bools(CHAINS, 3, vec![false; CHAINS * 3]).unwrap();
    assert!(model.pseudo_gibbs(&data, &observed_nan, &options).is_err());
}

/// `a` and `b` are the same chains: at most one in twenty differs (a Metropolis or Bernoulli
/// decision within rounding of its threshold sends a chain its own way, and the two paths
/// round differently), and every other chain agrees in its last draw, family mean and
/// trace to `1e-4` and in its acceptance exactly.
fn assert_same_chains(a: &Imputation, b: &Imputation, what: &str) {
    let (n, p) = (a.rows, a.cols);
    let far = |x: f64, y: f64| (x - y).abs() > 1e-4 * y.abs().max(1.0);
    let differs = |i: usize| {
        let entries = i * p..(i + 1) * p;
        let points = [
            (&a.last_draw, &b.last_draw),
            (&a.family_mean, &b.family_mean),
        ];
        let point = points.iter().any(|(u, v)| {
            entries
                .clone()
                .any(|k| far(f64::from(u[k]), f64::from(v[k])))
        });
        let trace = (0..a.iterations).any(|t| far(a.trace[t * n + i], b.trace[t * n + i]));
        point || trace || a.acceptance[i] != b.acceptance[i]
    };
    assert_eq!((a.rows, a.iterations), (b.rows, b.iterations), "{what}");
    let count = (0..n).filter(|&i| differs(i)).count();
    assert!(count * 20 <= n, "{what}: {count} of {n} chains differ");
}

/// Both samplers on `model`, with the host networks (`fused`) or the model's own, on
/// `threads` workers.
fn both_samplers<M: Dlvm<Cpu>>(
    model: &M,
    data: &Dataset,
    mask: &Mask,
    threads: usize,
    fused: bool,
) -> [Imputation; 2] {
    let options = ImputeOptions {
        iterations: 30,
        init: Init::FamilyMean,
        threads,
        seed: 3,
        fused,
        ..Default::default()
    };
    let pg = dlvm::impute::pseudo_gibbs(model, data, mask, &options).unwrap();
    let mwg = dlvm::impute::metropolis_within_gibbs(model, data, mask, &options).unwrap();
    [pg, mwg]
}

#[test]
fn the_chains_on_the_host_networks_are_those_on_the_model_networks() {
    // Sparse binary points (about 10% ones) with a fifth of the entries missing: the host
    // encoder starts from the observed part and adds the rows of the non-zero missing entries.
    let model = Sparse::new(&Cpu::default(), 7);
    let values: Vec<f32> = (0..40 * 24)
        .map(|k| f32::from((k * 7919) % 10 == 0))
        .collect();
    let data = Dataset::from_vec("bits", 40, 24, values).unwrap();
    let mask = Mask::mcar(40, 24, 0.2, 5).unwrap();
    let own = both_samplers(&model, &data, &mask, 2, false);
    let host = both_samplers(&model, &data, &mask, 2, true);
    for (a, b) in host.iter().zip(&own) {
        assert_same_chains(a, b, "sparse bits");
    }
    let accepted = host[1].mean_acceptance();
    assert!(accepted > 0.0 && accepted < 1.0, "acceptance {accepted}");
}

#[test]
fn the_host_networks_run_a_gaussian_model_on_any_worker_count() {
    // Hidden layers, two decoder outputs per coordinate. A tenth missing takes the first
    // layer from the observed part; six tenths, and everything, fall back to the whole
    // product. Eight workers on 30 chains, and on 3.
    let model = GaussianMlp::new(&Cpu::default(), 2);
    let values: Vec<f32> = (0..30 * 6)
        .map(|k| ((k * 37) % 17) as f32 / 8.0 - 1.0)
        .collect();
    let data = Dataset::from_vec("reals", 30, 6, values).unwrap();
    for rate in [0.1, 0.6, 1.0] {
        let mask = Mask::mcar(30, 6, rate, 3).unwrap();
        let own = both_samplers(&model, &data, &mask, 1, false);
        for threads in [1, 3, 8] {
            let host = both_samplers(&model, &data, &mask, threads, true);
            for (a, b) in host.iter().zip(&own) {
                assert_same_chains(a, b, &format!("{rate} missing, {threads} workers"));
            }
        }
    }
    let few = Dataset::from_vec("three", 3, 6, data.as_slice()[..18].to_vec()).unwrap();
    let mask = Mask::mcar(3, 6, 0.5, 4).unwrap();
    let own = both_samplers(&model, &few, &mask, 1, false);
    let host = both_samplers(&model, &few, &mask, 8, true);
    for (a, b) in host.iter().zip(&own) {
        assert_same_chains(a, b, "3 chains, 8 workers");
    }
}

#[test]
fn the_draw_mean_is_the_mean_of_the_retained_draws() {
    let model = model_with(&reference(), [0.6, -0.5], [2.0, 2.0]);
    let values: Vec<f32> = (0..75)
        .map(|k| ((k * 31) % 11) as f32 / 4.0 - 1.0)
        .collect();
    let data = Dataset::from_vec("fa", 25, 3, values).unwrap();
    let mask = Mask::mcar(25, 3, 0.5, 8).unwrap();
    // Steps 4, 6, …, 12 are retained: five draws, all kept.
    let options = ImputeOptions {
        iterations: 12,
        burn_in: 2,
        thin: 2,
        keep: 5,
        threads: 2,
        seed: 4,
        ..Default::default()
    };
    let pg = model.pseudo_gibbs(&data, &mask, &options).unwrap();
    let mwg = model
        .metropolis_within_gibbs(&data, &mask, &options)
        .unwrap();
    for run in [&pg, &mwg] {
        assert_eq!(run.draws.len(), 5);
        assert_eq!(run.draws.last(), Some(&run.last_draw));
        for (k, &mean) in run.draw_mean.iter().enumerate() {
            let want = run.draws.iter().map(|d| f64::from(d[k])).sum::<f64>() / 5.0;
            assert!(
                (f64::from(mean) - want).abs() < 1e-6,
                "entry {k}: {mean} vs {want}"
            );
        }
    }
}

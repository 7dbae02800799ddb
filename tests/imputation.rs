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
        chains: 1,
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
            chains: 1,
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

dlvm! {
    /// Two categorical coordinates of three classes, linear networks (the logits are set by hand).
    model Classes {
        latent z: 1 ~ Normal(0, I);
        observed x: 2 ~ Categorical<3>(linear(z));
        encoder q(z | x) = linear(x);
    }
}

#[test]
fn categorical_single_imputations_are_the_mode_and_class_probabilities_are_reported() {
    // Logits (0, -30, 0) for both coordinates whatever z: classes 0 and 2 have probability
    // 1/2 each, class 1 has e^-30 / 2. The mean class index is 1; rounding it imputes the one
    // class that never occurs.
    let mut model = Classes::new(&Cpu::default(), 0);
    model.decoder.weight.copy_from(&[0.0; 6]);
    model
        .decoder
        .bias
        .copy_from(&[0.0, 0.0, -30.0, -30.0, 0.0, 0.0]);
    let rows = 60;
    let values: Vec<f32> = (0..rows).flat_map(|_| [2.0, f32::NAN]).collect();
    let data = Dataset::from_vec("classes", rows, 2, values).unwrap();
    let mask = Mask::from_nan(&data);
    for chains in [1, 3] {
        let options = ImputeOptions {
            iterations: 200,
            chains,
            seed: 8,
            threads: 2,
            ..Default::default()
        };
        let mwg = model
            .metropolis_within_gibbs(&data, &mask, &options)
            .unwrap();
        let pg = model.pseudo_gibbs(&data, &mask, &options).unwrap();
        for run in [&mwg, &pg] {
            check_observed_unchanged(&data, &mask, run);
            // The point imputation is the most probable class, the first of the tied 0 and 2.
            let point = run.single(Single::FamilyMean);
            assert!(point.chunks(2).all(|x| x[1] == 0.0), "{point:?}");
            // The vote of the draws is a class that occurs, never the average index 1.
            let vote = run.single(Single::DrawMean);
            assert!(
                vote.chunks(2).all(|x| x[1] == 0.0 || x[1] == 2.0),
                "{vote:?}"
            );
            let classes = run.class_frequencies.as_ref().expect("class frequencies");
            assert_eq!(classes.classes, 3);
            assert_eq!(classes.entries.len(), rows);
            for i in 0..rows {
                let f = classes.get(i, 1).unwrap();
                assert!(((f[0] + f[1] + f[2]) - 1.0).abs() < 1e-5, "{f:?}");
                assert_eq!(f[1], 0.0, "{f:?}");
                // 200 · chains independent fair draws: sd √(1/4 / (200 chains)); 4.5 sd.
                let se = (0.25 / (200 * chains) as f64).sqrt();
                assert!((f64::from(f[0]) - 0.5).abs() < 4.5 * se, "row {i}: {f:?}");
                assert_eq!(run.single(Single::DrawMean)[2 * i + 1], {
                    if f[2] > f[0] {
                        2.0
                    } else {
                        0.0
                    }
                });
            }
            assert!(
                classes.get(0, 0).is_none(),
                "an observed entry has no frequencies"
            );
        }
    }
    // Families of numbers report no class frequencies.
    let fa = model_with(&reference(), [0.0, 0.0], [1.0, 1.0]);
    let (data, mask) = incomplete_points();
    let options = ImputeOptions {
        iterations: 5,
        ..Default::default()
    };
    assert!(fa
        .pseudo_gibbs(&data, &mask, &options)
        .unwrap()
        .class_frequencies
        .is_none());
}

/// Per row, the sample variance of coordinate 1 over `imputations`; averaged over rows.
fn between_imputation_variance(imputations: &[Vec<f32>]) -> f64 {
    let m = imputations.len() as f64;
    let per_row = (0..CHAINS).map(|i| {
        let x: Vec<f64> = imputations
            .iter()
            .map(|d| f64::from(d[i * 3 + 1]))
            .collect();
        let mean = x.iter().sum::<f64>() / m;
        x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (m - 1.0)
    });
    per_row.sum::<f64>() / CHAINS as f64
}

#[test]
fn multiple_imputations_from_independent_chains_have_the_conditional_spread() {
    // A poor proposal (shifted, four times too wide): Metropolis-within-Gibbs accepts rarely,
    // so consecutive draws share z and their spread understates Var(x1 | x0).
    let fa = reference();
    let model = model_with(&fa, [1.0, -1.0], [4.0, 4.0]);
    let (data, mask) = incomplete_points();
    let (_, cov) = exact_conditional(&fa, f64::from(X0));
    let m = 5;
    let one_chain = ImputeOptions {
        iterations: 300,
        burn_in: 100,
        keep: m,
        chains: 1,
        seed: 13,
        threads: 2,
        ..Default::default()
    };
    let consecutive = model
        .metropolis_within_gibbs(&data, &mask, &one_chain)
        .unwrap();
    let independent_options = ImputeOptions {
        keep: 1,
        chains: m,
        ..one_chain.clone()
    };
    let independent = model
        .metropolis_within_gibbs(&data, &mask, &independent_options)
        .unwrap();
    assert_eq!(independent.imputations.len(), m);
    assert_eq!(independent.rows, CHAINS);
    assert_eq!(consecutive.imputations, vec![consecutive.last_draw.clone()]);
    for x in &independent.imputations {
        check_observed_unchanged(
            &data,
            &mask,
            &Imputation {
                last_draw: x.clone(),
                ..independent.clone()
            },
        );
    }
    let acceptance = consecutive.mean_acceptance();
    let var_consecutive = between_imputation_variance(&consecutive.draws);
    let var_independent = between_imputation_variance(&independent.imputations);
    eprintln!(
        "acceptance {acceptance:.3}; Var(x1 | x0) = {:.3}; between-imputation variance: \
         consecutive draws {var_consecutive:.3}, independent chains {var_independent:.3}",
        cov[0]
    );
    // Each row's sample variance of 5 normal draws has variance 2σ⁴/4; over 400 rows the mean
    // has standard error σ² √(1/2 / 400). 4.5 standard errors.
    let se = cov[0] * (0.5 / CHAINS as f64).sqrt();
    assert!(
        (var_independent - cov[0]).abs() < 4.5 * se,
        "independent chains: {var_independent} vs {}",
        cov[0]
    );
    assert!(
        var_consecutive < cov[0] - 4.5 * se,
        "consecutive draws are expected to understate the spread: {var_consecutive}"
    );
    // Per-row diagnostics: acceptance and the effective sample size of the 200 retained draws
    // (summed over the chains of a row), low when the chains rarely move.
    for run in [&consecutive, &independent] {
        assert_eq!(run.acceptance.len(), CHAINS);
        assert_eq!(run.effective_sample_size.len(), CHAINS);
        assert_eq!(run.trace.len(), 300 * CHAINS);
    }
    let retained = 200.0;
    assert!(consecutive
        .effective_sample_size
        .iter()
        .all(|&e| (1.0..=retained).contains(&e)));
    assert!(independent
        .effective_sample_size
        .iter()
        .all(|&e| (1.0..=retained * m as f64).contains(&e)));
    let ess = consecutive.mean_effective_sample_size();
    eprintln!("mean effective sample size {ess:.1} of {retained} retained draws");
    assert!(ess < 0.5 * retained, "{ess}");
    // Pseudo-Gibbs with the exact posterior moves z at every step: a high effective sample
    // size.
    let exact = model_with(&fa, [0.0, 0.0], [1.0, 1.0]);
    let pg = exact.pseudo_gibbs(&data, &mask, &one_chain).unwrap();
    assert!(pg.mean_effective_sample_size() > 2.0 * ess);
}

/// A user-written family on the open interval (0, 1): `x = σ(y)`, `y ~ N(η, 1)` (the
/// logit-normal), whose support excludes 0.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogitNormal;

impl dlvm::family::OutputFamily for LogitNormal {
    const NAME: &'static str = "LogitNormal";
    const PARAMS_PER_COORD: usize = 1;
    type Builder = dlvm::family::NoArguments<LogitNormal>;

    /// `log Φ(x | η) = -½ log 2π - ½ (logit x - η)² - log x - log(1 - x)`.
    fn log_prob<D: Device<f32>, T: dlvm::dfdx::prelude::Tape<f32, D>>(
        &self,
        raw: Tensor<(usize, usize), f32, D, T>,
        x: Tensor<(usize, usize), f32, D>,
    ) -> Tensor<(usize, usize), f32, D, T> {
        use dlvm::dfdx::shapes::HasShape;
        let shape = *x.shape();
        let host = x.as_vec();
        let logit = host.iter().map(|&v| (v / (1.0 - v)).ln()).collect();
        let rest = host
            .iter()
            .map(|&v| -0.918_938_5 - v.ln() - (1.0 - v).ln())
            .collect();
        let dev = x.device().clone();
        let logit = dev.tensor_from_vec(logit, shape);
        let rest = dev.tensor_from_vec(rest, shape);
        (raw - logit).square() * -0.5 + rest
    }

    fn sample_row(&self, raw: &[f32], rng: &mut dyn rand::RngCore, out: &mut [f32]) {
        use rand::Rng;
        for (o, &eta) in out.iter_mut().zip(raw) {
            // Box–Muller.
            let (u, v): (f64, f64) = (1.0 - rng.gen::<f64>(), rng.gen());
            let y = f64::from(eta) + (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos();
            let x = 1.0 / (1.0 + (-y).exp());
            *o = (x as f32).clamp(f32::EPSILON, 1.0 - f32::EPSILON);
        }
    }

    /// `E[σ(y)]` by the midpoint rule over `y ∈ η ± 8` (200 cells).
    fn mean_row(&self, raw: &[f32], out: &mut [f32]) {
        for (o, &eta) in out.iter_mut().zip(raw) {
            let h = 16.0 / 200.0;
            let mean: f64 = (0..200)
                .map(|k| {
                    let e = -8.0 + (k as f64 + 0.5) * h;
                    let density = (-0.5 * e * e).exp() / (std::f64::consts::TAU).sqrt();
                    h * density / (1.0 + (-(f64::from(eta) + e)).exp())
                })
                .sum();
            *o = mean as f32;
        }
    }

    fn in_support(&self, x: f32) -> bool {
        x > 0.0 && x < 1.0
    }

    fn support_description(&self) -> &'static str {
        "the open interval (0, 1)"
    }
}

dlvm! {
    /// A model of proportions in (0, 1) with the user-written family.
    model Proportions {
        latent z: 2 ~ Normal(0, I);
        observed x: 4 ~ LogitNormal(mlp(z; 6; tanh));
        encoder q(z | x) = mlp(x; 6; tanh);
    }
}

#[test]
fn a_family_whose_support_excludes_zero_imputes_from_every_start_and_every_mask() {
    let model = Proportions::new(&Cpu::default(), 3);
    let rows = 12;
    let clean: Vec<f32> = (0..rows * 4)
        .map(|k| 0.05 + 0.9 * ((k * 37) % 19) as f32 / 19.0)
        .collect();
    let explicit = Mask::mcar(rows, 4, 0.4, 2).unwrap();
    // Missing entries as NaN, and as placeholders outside the support (0 and 7).
    let with = |placeholder: f32| -> Dataset {
        let values = clean
            .iter()
            .zip(explicit.missing())
            .map(|(&v, &m)| if m { placeholder } else { v })
            .collect();
        Dataset::from_vec("proportions", rows, 4, values).unwrap()
    };
    let nan = with(f32::NAN);
    let cases = [
        (nan.clone(), Mask::from_nan(&nan)),
        (with(0.0), explicit.clone()),
        (with(7.0), explicit.clone()),
    ];
    for (data, mask) in &cases {
        for init in [Init::Zeros, Init::FamilyMean, Init::PseudoGibbs(3)] {
            let options = ImputeOptions {
                iterations: 20,
                keep: 2,
                init,
                seed: 1,
                threads: 1,
                ..Default::default()
            };
            let pg = model.pseudo_gibbs(data, mask, &options);
            let mwg = model.metropolis_within_gibbs(data, mask, &options);
            for run in [pg, mwg] {
                let run = run.unwrap_or_else(|e| panic!("{init:?}: {e}"));
                let mut points = vec![&run.last_draw, &run.family_mean, &run.draw_mean];
                points.extend(&run.draws);
                for x in points {
                    for (k, (&v, &m)) in x.iter().zip(mask.missing()).enumerate() {
                        if m {
                            assert!(v > 0.0 && v < 1.0, "{init:?}: entry {k} = {v}");
                        } else {
                            assert_eq!(v, clean[k]);
                        }
                    }
                }
                assert!(run.trace.iter().all(|t| t.is_finite()), "{init:?}");
            }
        }
    }
    // An observed entry outside the support is still the data's fault, and named.
    let mut values = clean.clone();
    let observed = explicit.missing().iter().position(|&m| !m).unwrap();
    values[observed] = 1.5;
    let data = Dataset::from_vec("proportions", rows, 4, values).unwrap();
    let err = model
        .metropolis_within_gibbs(&data, &explicit, &ImputeOptions::default())
        .unwrap_err();
    assert!(
        matches!(
            err,
            DlvmError::Data(dlvm::data::DataError::OutOfSupport { row, column, .. })
                if row * 4 + column == observed
        ),
        "{err}"
    );
}

#[test]
fn an_observed_nan_in_an_imputation_input_says_to_mark_it_missing() {
    let model = model_with(&reference(), [0.0, 0.0], [1.0, 1.0]);
    let (data, _) = incomplete_points();
    // The mask marks row 0's NaN at column 1 observed.
    let mut flags = Mask::from_nan(&data).missing().to_vec();
    flags[1] = false;
    let mask = Mask::from_bools(CHAINS, 3, flags).unwrap();
    for err in [
        model
            .pseudo_gibbs(&data, &mask, &ImputeOptions::default())
            .unwrap_err(),
        model
            .metropolis_within_gibbs(&data, &mask, &ImputeOptions::default())
            .unwrap_err(),
    ] {
        assert!(
            matches!(
                err,
                DlvmError::Data(dlvm::data::DataError::ObservedNonFinite {
                    row: 0,
                    column: 1,
                    ..
                })
            ),
            "{err}"
        );
        let message = err.to_string();
        for words in ["row 0, column 1", "marks it observed", "Mask::from_nan"] {
            assert!(message.contains(words), "{message}");
        }
        assert!(!message.contains("not supported"), "{message}");
    }
}

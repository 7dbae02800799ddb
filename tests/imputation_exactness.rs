//! Metropolis-within-Gibbs against an exactly enumerable conditional: a Bernoulli decoder on five
//! coordinates with a one-dimensional latent, `logit P(x_j = 1 | z) = w_j z + b_j`, whose
//! `p(x_miss | x_obs)` is a sum over the `2^|miss|` configurations of integrals over one `z`,
//! computed by quadrature. Many independent chains on copies of one point give independent
//! draws of the chain's state after `T` steps; a chi-square test compares their configurations
//! with the exact probabilities, for a partly missing and a fully missing point and for every
//! initialisation.

use dlvm::impute::{ImputeOptions, Init, Mask};
use dlvm::prelude::*;

dlvm! {
    /// One latent coordinate, five Bernoulli coordinates, linear networks.
    model Bits {
        latent z: 1 ~ Normal(0, I);
        observed x: 5 ~ Bernoulli(linear(z));
        encoder q(z | x) = linear(x);
    }
}

const P: usize = 5;
const W: [f64; P] = [2.0, -1.5, 1.0, 2.5, -1.0];
const B: [f64; P] = [0.3, -0.2, 0.5, 0.0, -0.4];

/// The decoder `η = W z + B`; the encoder `q(z | x) = N(a·x, 1)`, a proposal that is not the
/// posterior (so that Metropolis-within-Gibbs rejects some proposals).
fn bits_model() -> Bits<f32, Cpu> {
    let mut model = Bits::new(&Cpu::default(), 0);
    let f = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
    model.decoder.weight.copy_from(&f(&W));
    model.decoder.bias.copy_from(&f(&B));
    model
        .encoder_mean
        .weight
        .copy_from(&[0.6, -0.4, 0.3, 0.5, -0.2]);
    model.encoder_mean.bias.copy_from(&[0.0]);
    model.encoder_log_variance.weight.copy_from(&[0.0; P]);
    model.encoder_log_variance.bias.copy_from(&[0.0]);
    model
}

/// `log P(x | z)` for a complete binary point.
fn log_likelihood(x: &[f64; P], z: f64) -> f64 {
    (0..P)
        .map(|j| {
            let eta = W[j] * z + B[j];
            // log σ(η) = -log(1 + e^-η), log(1 - σ(η)) = -log(1 + e^η).
            let s = if x[j] == 1.0 { -eta } else { eta };
            -(s.exp().ln_1p())
        })
        .sum()
}

/// `p(x)` for a complete point: `∫ P(x | z) N(z; 0, 1) dz` by the trapezoid rule on
/// `[-12, 12]` with step `10⁻³` (the integrand is smooth and below 10⁻³¹ outside).
fn marginal(x: &[f64; P]) -> f64 {
    let h = 1e-3;
    let n = 24_000;
    (0..=n)
        .map(|k| {
            let z = -12.0 + k as f64 * h;
            let weight = if k == 0 || k == n { 0.5 } else { 1.0 };
            weight * (log_likelihood(x, z) - 0.5 * z * z).exp()
        })
        .sum::<f64>()
        * h
        / (2.0 * std::f64::consts::PI).sqrt()
}

/// The exact `p(x_miss | x_obs)` over the configurations of the missing coordinates `missing`
/// (configuration `c` sets missing coordinate `missing[k]` to bit `k` of `c`).
fn exact_conditional(observed: &[f64; P], missing: &[usize]) -> Vec<f64> {
    let joint: Vec<f64> = (0..1usize << missing.len())
        .map(|c| marginal(&complete(observed, missing, c)))
        .collect();
    let total: f64 = joint.iter().sum();
    joint.iter().map(|p| p / total).collect()
}

fn complete(observed: &[f64; P], missing: &[usize], c: usize) -> [f64; P] {
    let mut x = *observed;
    for (k, &j) in missing.iter().enumerate() {
        x[j] = ((c >> k) & 1) as f64;
    }
    x
}

/// The configuration index of a completed point's missing coordinates.
fn configuration(x: &[f32], missing: &[usize]) -> usize {
    missing
        .iter()
        .enumerate()
        .map(|(k, &j)| usize::from(x[j] == 1.0) << k)
        .sum()
}

/// The chi-square statistic of `counts` against `probabilities`, with the cells of expected
/// count below 5 merged into one (the usual validity rule), and its degrees of freedom.
fn chi_square(counts: &[usize], probabilities: &[f64]) -> (f64, usize) {
    let n = counts.iter().sum::<usize>() as f64;
    let (mut statistic, mut cells) = (0.0, 0);
    let (mut small_observed, mut small_expected) = (0.0, 0.0);
    for (&o, &p) in counts.iter().zip(probabilities) {
        let e = n * p;
        if e < 5.0 {
            small_observed += o as f64;
            small_expected += e;
        } else {
            statistic += (o as f64 - e).powi(2) / e;
            cells += 1;
        }
    }
    if small_expected > 0.0 {
        statistic += (small_observed - small_expected).powi(2) / small_expected;
        cells += 1;
    }
    (statistic, cells - 1)
}

/// The 0.999 quantile of the chi-square distribution with `df` degrees of freedom, by the
/// Wilson–Hilferty approximation `df (1 - 2/(9 df) + z √(2/(9 df)))³` with `z = 3.0902`
/// (relative error below 1 % for `df >= 3`: 24.53 for `df = 7`, exact 24.32; 61.20 for
/// `df = 31`, exact 61.10), slightly lenient where it errs.
fn chi_square_999(df: usize) -> f64 {
    let d = df as f64;
    let a = 2.0 / (9.0 * d);
    d * (1.0 - a + 3.0902 * a.sqrt()).powi(3)
}

const CHAINS: usize = 4000;

/// Runs Metropolis-within-Gibbs on `CHAINS` copies of `observed` with `missing` missing and
/// tests the configurations of the chains' last draws against the exact conditional.
fn check_exact(observed: [f64; P], missing: &[usize], init: Init, seed: u64) {
    let (statistic, threshold) = chi_square_of_sampler(observed, missing, init, seed, true);
    // A false alarm has probability 10⁻³ per call; the seeds are fixed.
    assert!(
        statistic < threshold,
        "{init:?}: chi-square {statistic} exceeds {threshold}"
    );
}

/// The chi-square statistic of the last draws of `CHAINS` chains of Metropolis-within-Gibbs
/// (`metropolis`) or pseudo-Gibbs on copies of `observed` against the exact conditional, and
/// its 0.999 quantile.
fn chi_square_of_sampler(
    observed: [f64; P],
    missing: &[usize],
    init: Init,
    seed: u64,
    metropolis: bool,
) -> (f64, f64) {
    let model = bits_model();
    let mut values = Vec::with_capacity(CHAINS * P);
    let mut flags = Vec::with_capacity(CHAINS * P);
    for _ in 0..CHAINS {
        for (j, &v) in observed.iter().enumerate() {
            let m = missing.contains(&j);
            values.push(if m { f32::NAN } else { v as f32 });
            flags.push(m);
        }
    }
    let data = Dataset::from_vec("bits", CHAINS, P, values).unwrap();
    let mask = Mask::from_bools(CHAINS, P, flags).unwrap();
    let options = ImputeOptions {
        iterations: 150,
        init,
        seed,
        threads: 2,
        ..Default::default()
    };
    let run = if metropolis {
        model.metropolis_within_gibbs(&data, &mask, &options)
    } else {
        model.pseudo_gibbs(&data, &mask, &options)
    };
    let run = run.unwrap();
    let acceptance = run.mean_acceptance();
    assert!(
        !metropolis || (acceptance > 0.1 && acceptance < 0.99),
        "acceptance {acceptance}: the test wants a proposal that is not the posterior"
    );
    let exact = exact_conditional(&observed, missing);
    let mut counts = vec![0usize; exact.len()];
    for x in run.last_draw.chunks(P) {
        counts[configuration(x, missing)] += 1;
    }
    let (statistic, df) = chi_square(&counts, &exact);
    let threshold = chi_square_999(df);
    eprintln!(
        "{init:?}, {} missing: chi-square {statistic:.2} on {df} df (0.999 quantile \
         {threshold:.2}), acceptance {acceptance:.3}",
        missing.len()
    );
    eprintln!("counts {counts:?}, exact {exact:?}");
    (statistic, threshold)
}

const INITS: [Init; 3] = [Init::Zeros, Init::FamilyMean, Init::PseudoGibbs(3)];

#[test]
fn metropolis_within_gibbs_draws_the_exact_conditional_of_a_bernoulli_model_from_every_start() {
    for (k, init) in INITS.into_iter().enumerate() {
        // x0 = 1, x1 = 0 observed; three coordinates missing: 8 configurations.
        check_exact([1.0, 0.0, 0.0, 0.0, 0.0], &[2, 3, 4], init, 21 + k as u64);
    }
}

#[test]
fn metropolis_within_gibbs_draws_the_exact_marginal_of_a_fully_missing_bernoulli_point() {
    for (k, init) in INITS.into_iter().enumerate() {
        // Everything missing: the 32 configurations of the model's marginal p(x).
        check_exact([0.0; P], &[0, 1, 2, 3, 4], init, 31 + k as u64);
    }
}

#[test]
fn the_chi_square_test_rejects_pseudo_gibbs_with_an_encoder_that_is_not_the_posterior() {
    // The test has power: pseudo-Gibbs' stationary distribution is not p(x_miss | x_obs).
    let (statistic, threshold) = chi_square_of_sampler(
        [1.0, 0.0, 0.0, 0.0, 0.0],
        &[2, 3, 4],
        Init::Zeros,
        41,
        false,
    );
    assert!(statistic > threshold, "{statistic} vs {threshold}");
}

#[test]
fn the_quadrature_sums_to_one_over_all_points() {
    let all: f64 = (0..1usize << P)
        .map(|c| marginal(&complete(&[0.0; P], &[0, 1, 2, 3, 4], c)))
        .sum();
    assert!((all - 1.0).abs() < 1e-9, "{all}");
    assert!((chi_square_999(7) / 24.32 - 1.0).abs() < 0.01);
    assert!((chi_square_999(31) / 61.10 - 1.0).abs() < 0.01);
}

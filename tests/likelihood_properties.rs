//! Properties of the likelihood bounds over random parameters (proptest, fixed seed), and the
//! spike-sequence quadrature against brute-force Monte Carlo through the generated decoder.
//!
//! With a one-dimensional latent, `log p(x) = log ∫ Φ(x | f(z)) φ(z) dz` is computed by Simpson's
//! rule through the model's own `decode` and `log_prob`: an (almost) exact log-likelihood for any
//! decoder, against which the bounds must hold.

use dlvm::bound::{empirical_bound, spike_log_likelihood, Spike};
use dlvm::dfdx::prelude::{Axis, SumTo};
use dlvm::prelude::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use rand::{rngs::StdRng, Rng, SeedableRng};
use rand_distr::StandardNormal;

dlvm! {
    /// A floored Gaussian DLVM with a linear decoder in one latent dimension.
    model Floored {
        latent z: 1 ~ Normal(0, I);
        observed x: 2 ~ Gaussian(linear(z), xi = 0.05);
        encoder q(z | x) = linear(x);
    }
}

dlvm! {
    /// A Bernoulli DLVM with a linear decoder (logits) in one latent dimension.
    model Binary {
        latent z: 1 ~ Normal(0, I);
        observed x: 3 ~ Bernoulli(linear(z));
        encoder q(z | x) = linear(x);
    }
}

dlvm! {
    /// The talk's decoder: one tanh hidden unit, isotropic Gaussian output, no floor.
    model Talk {
        latent z: 2 ~ Normal(0, I);
        observed x: 3 ~ Gaussian<Isotropic>(mlp(z; 1; tanh), unconstrained);
        encoder q(z | x) = linear(x);
    }
}

const LN_2PI: f64 = 1.837_877_066_409_345_5;

/// `Σ_i log ∫ Φ(x_i | f(z)) φ(z) dz` by composite Simpson on `[-10, 10]` (4000 intervals).
fn quadrature_log_likelihood<M: Dlvm<Cpu, Latent = Const<1>>>(model: &M, data: &Dataset) -> f64 {
    let (steps, half_width) = (4000usize, 10.0f64);
    let h = 2.0 * half_width / steps as f64;
    let nodes: Vec<f64> = (0..=steps).map(|m| -half_width + m as f64 * h).collect();
    let log_weights: Vec<f64> = nodes
        .iter()
        .enumerate()
        .map(|(m, z)| {
            let simpson = if m == 0 || m == steps {
                1.0
            } else if m % 2 == 1 {
                4.0
            } else {
                2.0
            };
            (simpson * h / 3.0f64).ln() - 0.5 * (LN_2PI + z * z)
        })
        .collect();
    let dev = Cpu::default();
    let z: Vec<f32> = nodes.iter().map(|&z| z as f32).collect();
    let raw = model.decode(dev.tensor_from_vec(z, (nodes.len(), Const::<1>)));
    (0..data.rows())
        .map(|i| {
            let target: Vec<f32> = (0..nodes.len())
                .flat_map(|_| data.row(i).to_vec())
                .collect();
            let x = dev.tensor_from_vec(target, (nodes.len(), data.cols()));
            let log_lik = model.family().log_prob(raw.clone(), x);
            let per_node = log_lik.sum::<(usize,), Axis<1>>().as_vec();
            let terms: Vec<f64> = per_node
                .iter()
                .zip(&log_weights)
                .map(|(l, w)| f64::from(*l) + w)
                .collect();
            dlvm::bound::log_sum_exp(&terms)
        })
        .sum()
}

fn config() -> Config {
    Config {
        cases: 24,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(2018),
        ..Config::default()
    }
}

fn quiet_iwae(k: usize) -> IwaeConfig {
    IwaeConfig {
        progress: false,
        ..IwaeConfig::new(k)
    }
}

fn quiet_mixture() -> MixtureConfig {
    MixtureConfig {
        progress: false,
        ..MixtureConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// For every decoder: IWAE estimate and exact l(θ) <= -(n p / 2) log(2π ξ), and
    /// l(θ) <= the nonparametric (EM mixture) bound.
    #[test]
    fn a_floored_gaussian_never_exceeds_its_bounds(
        weight in prop::collection::vec(-3.0f32..3.0, 4),
        bias in prop::collection::vec(-3.0f32..3.0, 4),
        values in prop::collection::vec(-2.0f32..2.0, 8),
    ) {
        let mut model = Floored::new(&Cpu::default(), 0);
        model.decoder.weight.copy_from(&weight);
        model.decoder.bias.copy_from(&bias);
        let data = Dataset::from_vec("random", 4, 2, values).unwrap();
        let exact = quadrature_log_likelihood(&model, &data);
        let FamilyBound::Finite { total, per_point } = model.family_bound(4) else {
            panic!("a floored Gaussian has a finite bound");
        };
        prop_assert!(exact <= total, "l = {exact} above the closed form {total}");
        let estimate = model.iwae_with(&data, &quiet_iwae(200)).unwrap();
        prop_assert!(estimate.mean <= per_point, "IWAE {estimate} above {per_point}");
        let mixture = model.nonparametric_bound(&data, &quiet_mixture()).unwrap();
        // f32 densities in the quadrature: 1e-3 nats of slack.
        prop_assert!(exact <= mixture.total + 1e-3, "l = {exact} above {mixture}");
        prop_assert!(mixture.total <= total + 1e-9);
    }

    /// For every decoder, l(θ) <= Σ_i log(count(x_i) / n), the empirical distribution.
    #[test]
    fn the_empirical_distribution_bounds_every_bernoulli_dlvm(
        weight in prop::collection::vec(-4.0f32..4.0, 3),
        bias in prop::collection::vec(-4.0f32..4.0, 3),
        bits in prop::collection::vec(0u8..2, 18),
    ) {
        let mut model = Binary::new(&Cpu::default(), 0);
        model.decoder.weight.copy_from(&weight);
        model.decoder.bias.copy_from(&bias);
        let values = bits.iter().map(|&b| f32::from(b)).collect();
        let data = Dataset::from_vec("bits", 6, 3, values).unwrap();
        let exact = quadrature_log_likelihood(&model, &data);
        let empirical = empirical_bound(&Bernoulli, &data).unwrap();
        prop_assert!(exact <= empirical.total + 1e-4, "l = {exact} above {empirical}");
        let via_model = model.nonparametric_bound(&data, &quiet_mixture()).unwrap();
        prop_assert_eq!(via_model.total, empirical.total);
        prop_assert!(model.family_bound(6).per_point() == 0.0);
    }
}

/// Sets `Talk` to `θ_k = (W = α wᵀ, a = 0, V = 0, b = centre, α, β = -α)`.
fn spike_model(alpha: f32, w: [f32; 2], centre: [f32; 3]) -> Talk {
    let mut model = Talk::new(&Cpu::default(), 0);
    model
        .decoder
        .0
        .weight
        .copy_from(&[alpha * w[0], alpha * w[1]]);
    model.decoder.0.bias.copy_from(&[0.0]);
    model.decoder.2.weight.copy_from(&[0.0, 0.0, 0.0, alpha]);
    let mut bias = centre.to_vec();
    bias.push(-alpha);
    model.decoder.2.bias.copy_from(&bias);
    model
}

/// `log p(x)` by brute-force Monte Carlo over `z ~ N(0, I_2)` through the generated decoder, and
/// the delta-method standard error of the log of the mean.
fn monte_carlo(model: &Talk, x: [f32; 3], n: usize, seed: u64) -> (f64, f64) {
    let dev = Cpu::default();
    let mut rng = StdRng::seed_from_u64(seed);
    let z: Vec<f32> = (0..2 * n).map(|_| rng.sample(StandardNormal)).collect();
    let raw = model.decode(dev.tensor_from_vec(z, (n, Const::<2>)));
    let target: Vec<f32> = (0..n).flat_map(|_| x).collect();
    let log_lik = model
        .family()
        .log_prob(raw, dev.tensor_from_vec(target, (n, 3)));
    let per_draw: Vec<f64> = log_lik
        .sum::<(usize,), Axis<1>>()
        .as_vec()
        .into_iter()
        .map(f64::from)
        .collect();
    let max = per_draw.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let scaled: Vec<f64> = per_draw.iter().map(|l| (l - max).exp()).collect();
    let mean = scaled.iter().sum::<f64>() / n as f64;
    let var = scaled.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    (max + mean.ln(), (var / n as f64).sqrt() / mean)
}

#[test]
fn spike_quadrature_matches_monte_carlo_through_the_decoder_at_small_alpha() {
    let centre = [0.5f32, -0.2, 0.1];
    let other = [1.0f32, 0.3, -0.4];
    let data = Dataset::from_vec("two", 2, 3, [centre, other].concat()).unwrap();
    for (alpha, w, seed) in [
        (0.5f32, [0.6f32, -0.8], 1),
        (1.0, [1.2, 0.5], 2),
        (2.0, [0.6, -0.8], 3),
    ] {
        let w_norm = f64::from(w[0].hypot(w[1]));
        let spike = Spike {
            alpha: f64::from(alpha),
            w_norm,
            xi: 0.0,
        };
        let model = spike_model(alpha, w, centre);
        let mut mc_total = 0.0;
        for (j, x) in [centre, other].into_iter().enumerate() {
            let r2: f64 = x
                .iter()
                .zip(&centre)
                .map(|(a, b)| f64::from(a - b).powi(2))
                .sum();
            let quad = spike.log_density(r2, 3);
            let (mc, se) = monte_carlo(&model, x, 200_000, seed * 10 + j as u64);
            // 4 delta-method standard errors of log(mean), plus f32 rounding in the decoder.
            assert!(
                (quad - mc).abs() < 4.0 * se + 1e-4,
                "alpha {alpha}, point {j}: quadrature {quad} vs MC {mc} ± {se}"
            );
            mc_total += mc;
        }
        let total = spike_log_likelihood(&data, 0, &spike).unwrap();
        assert!(
            (total - mc_total).abs() < 0.05,
            "l(theta) {total} vs MC {mc_total}"
        );
    }
}

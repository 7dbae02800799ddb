//! Factor analysis as the linear special case of a DLVM: `x = W z + μ + ε`, `z ~ N(0, I₂)`,
//! `ε ~ N(0, ψ I₅)`, fitted as a VAE with a linear decoder and a linear encoder, and compared with
//! the closed form `log p(x) = log N(x | μ, W Wᵀ + ψ I)` of the generating model.
//!
//! ```text
//! cargo run --release --example factor_analysis -- --out out/factor_analysis
//! ```
//! `W` has orthogonal columns and the noise is isotropic, so the exact posterior is a diagonal
//! Gaussian that the linear encoder can represent: the trained ELBO should approach the exact
//! log-likelihood. Writes `elbo.png` (validation ELBO per epoch and the exact value) and prints
//! the final gap.

#[path = "../tests/common/mod.rs"]
mod common;

use clap::Parser;
use common::FactorAnalysis;
use dlvm::chart::{Chart, Series};
use dlvm::prelude::*;
use rand::{rngs::StdRng, Rng, SeedableRng};
use rand_distr::StandardNormal;
use std::path::PathBuf;

dlvm! {
    /// A linear decoder with a Gaussian output: factor analysis (plus an input-dependent variance
    /// that training should switch off).
    model LinearVae {
        latent z: 2 ~ Normal(0, I);
        observed x: 5 ~ Gaussian<Diagonal>(linear(z), xi = 1e-3);
        encoder q(z | x) = linear(x);
    }
}

/// Fit factor analysis as a linear VAE and compare with the closed-form likelihood.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Passes over the training rows.
    #[arg(long, default_value_t = 200)]
    epochs: usize,
    /// Seed of the data, initialisation and training.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Directory for the chart.
    #[arg(long, default_value = "out/factor_analysis")]
    out: PathBuf,
}

/// The generating model: orthogonal columns of norms 2 and 1, `ψ = 0.25`.
fn truth() -> FactorAnalysis {
    FactorAnalysis {
        w: vec![
            1.0, 0.5, //
            1.0, -0.5, //
            1.0, 0.5, //
            1.0, -0.5, //
            0.0, 0.0,
        ],
        mu: vec![1.0, -1.0, 0.5, 0.0, 2.0],
        psi: vec![0.25; 5],
        p: 5,
        d: 2,
    }
}

/// `rows` draws of the generating model.
fn draw(fa: &FactorAnalysis, rows: usize, seed: u64, name: &str) -> Result<Dataset, DataError> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut data = Vec::with_capacity(rows * fa.p);
    for _ in 0..rows {
        let z: Vec<f64> = (0..fa.d).map(|_| rng.sample(StandardNormal)).collect();
        for i in 0..fa.p {
            let mean: f64 = fa.mu[i] + (0..fa.d).map(|k| fa.w[i * fa.d + k] * z[k]).sum::<f64>();
            let noise: f64 = rng.sample(StandardNormal);
            data.push((mean + fa.psi[i].sqrt() * noise) as f32);
        }
    }
    Dataset::from_vec(name, rows, fa.p, data)
}

fn main() {
    if let Err(e) = run(Args::parse()) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let fa = truth();
    let train = draw(&fa, 5000, args.seed, "factor analysis train")?;
    let valid = draw(&fa, 2000, args.seed + 1, "factor analysis valid")?;
    let exact = (0..valid.rows())
        .map(|i| {
            let x: Vec<f64> = valid.row(i).iter().map(|&v| f64::from(v)).collect();
            fa.log_marginal(&x)
        })
        .sum::<f64>()
        / valid.rows() as f64;

    let mut model = LinearVae::try_new(&Cpu::default(), args.seed)?;
    let config = TrainConfig {
        epochs: args.epochs,
        batch_size: 100,
        learning_rate: 3e-3,
        seed: args.seed,
        ..Default::default()
    };
    let history = Trainer::new(config).fit(&mut model, &train, Some(&valid))?;
    let elbo = model.evaluate_elbo(&valid, 500, args.seed)?;
    let curve: Vec<(f64, f64)> = history
        .epochs
        .iter()
        .filter_map(|r| r.valid_elbo.map(|v| (r.epoch as f64, v)))
        .collect();
    let last = curve.last().map_or(1.0, |c| c.0);
    let path = args.out.join("elbo.png");
    Chart::new("Factor analysis as a linear VAE", "epoch", "nats per row")
        .with(Series::line("validation ELBO of the linear VAE", curve))
        .with(Series::horizontal(
            "exact log p(x) of the generating model",
            exact,
            1.0,
            last,
        ))
        .save(&path)?;
    println!(
        "done: validation ELBO {elbo} nats vs exact log-likelihood of the generating model {exact:.4} \
         nats (gap {:.4}); figure {}",
        exact - elbo.mean,
        path.display()
    );
    Ok(())
}

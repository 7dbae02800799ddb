//! The talk's first example: recover `sin(x)/x` from 20 noisy samples with a one-hidden-layer
//! MLP, `y = W₁ tanh(W₀ x + b₀) + b₁ + ε`, fitted by least squares (Gaussian maximum likelihood)
//! with Adam and backpropagation.
//!
//! ```text
//! cargo run --release --example sinc_regression -- --out out/sinc_regression
//! ```
//! Writes `fit.png` (the 20 samples, the true function and the fitted MLP) and prints the
//! training and test mean squared errors.

use clap::Parser;
use dlvm::dfdx::optim::{Adam, AdamConfig, Optimizer};
use dlvm::dfdx::prelude::*;
use rand::{rngs::StdRng, Rng, SeedableRng};
use rand_distr::StandardNormal;
use std::path::PathBuf;

/// Fit sin(x)/x from 20 noisy samples with a one-hidden-layer tanh MLP.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Number of noisy samples.
    #[arg(long, default_value_t = 20)]
    samples: usize,
    /// Standard deviation of the noise ε.
    #[arg(long, default_value_t = 0.05)]
    noise: f64,
    /// Full-batch Adam steps.
    #[arg(long, default_value_t = 5000)]
    steps: usize,
    /// Seed of the data and the initialisation.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Directory for the figure.
    #[arg(long, default_value = "out/sinc_regression")]
    out: PathBuf,
}

/// `x ↦ W₁ tanh(W₀ x + b₀) + b₁` with 20 hidden units.
type Mlp = (Linear<1, 20>, Tanh, Linear<20, 1>);

/// `sin(x)/x`, 1 at 0.
fn sinc(x: f64) -> f64 {
    if x == 0.0 {
        1.0
    } else {
        x.sin() / x
    }
}

fn main() {
    if let Err(e) = run(Args::parse()) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    if args.samples == 0 || args.steps == 0 {
        return Err("--samples and --steps must be at least 1".into());
    }
    let mut rng = StdRng::seed_from_u64(args.seed);
    let xs: Vec<f64> = (0..args.samples)
        .map(|_| rng.gen_range(-10.0..10.0))
        .collect();
    let ys: Vec<f64> = xs
        .iter()
        .map(|&x| sinc(x) + args.noise * rng.sample::<f64, _>(StandardNormal))
        .collect();

    let dev = Cpu::seed_from_u64(args.seed);
    let mut mlp = dev.build_module::<Mlp, f32>();
    let mut grads = mlp.alloc_grads();
    let mut adam = Adam::new(
        &mlp,
        AdamConfig {
            lr: 1e-2,
            ..Default::default()
        },
    );
    let n = xs.len();
    // Inputs scaled to [-1, 1] so that tanh units start in their linear range.
    let input = dev.tensor_from_vec(
        xs.iter().map(|&x| (x / 10.0) as f32).collect(),
        (n, Const::<1>),
    );
    let target = dev.tensor_from_vec(ys.iter().map(|&y| y as f32).collect(), (n, Const::<1>));
    let bar = indicatif::ProgressBar::new(args.steps as u64);
    let mut train_mse = f32::NAN;
    for _ in 0..args.steps {
        let prediction = mlp.forward_mut(input.clone().traced(grads));
        let loss = mse_loss(prediction, target.clone());
        train_mse = loss.array();
        grads = loss.backward();
        adam.update(&mut mlp, &grads)
            .map_err(|e| format!("{e:?}"))?;
        mlp.zero_grads(&mut grads);
        bar.inc(1);
    }
    bar.finish_and_clear();

    let grid: Vec<f64> = (0..=400).map(|i| -10.0 + 20.0 * i as f64 / 400.0).collect();
    let grid_t = dev.tensor_from_vec(
        grid.iter().map(|&x| (x / 10.0) as f32).collect(),
        (grid.len(), Const::<1>),
    );
    let fitted = mlp.forward(grid_t).as_vec();
    let test_mse = grid
        .iter()
        .zip(&fitted)
        .map(|(&x, &f)| (sinc(x) - f64::from(f)).powi(2))
        .sum::<f64>()
        / grid.len() as f64;

    let path = args.out.join("fit.png");
    Chart::new(
        format!("sin(x)/x from {n} noisy samples, MLP with 20 tanh units"),
        "x",
        "y",
    )
    .with(Series::line(
        "sin(x)/x",
        grid.iter().map(|&x| (x, sinc(x))).collect(),
    ))
    .with(Series::line(
        "MLP fit",
        grid.iter()
            .zip(&fitted)
            .map(|(&x, &f)| (x, f64::from(f)))
            .collect(),
    ))
    .with(Series::points(
        "noisy samples",
        xs.iter().copied().zip(ys.iter().copied()).collect(),
    ))
    .save(&path)?;
    println!(
        "done: {} Adam steps; training MSE {train_mse:.5} (noise variance {:.5}), MSE to sin(x)/x on [-10, 10] {test_mse:.5}; figure {}",
        args.steps,
        args.noise * args.noise,
        path.display()
    );
    Ok(())
}

use dlvm::chart::{Chart, Series};

//! The talk's illustrative non-linear decoder: `z ~ N(0, I₂)`, `f(z) = z/10 + z/‖z‖`, and
//! `x | z ~ N(f(z), σ² I₂)`, sampled through the built-in Gaussian family.
//!
//! ```text
//! cargo run --release --example nonlinear_decoder -- --out out/nonlinear_decoder
//! ```
//! Writes `samples.png`: a scatter plot of the latent draws `z` and of the samples `x`, which lie
//! near the unit circle although `z` is Gaussian. Prints the mean and spread of `‖x‖`.

use clap::Parser;
use dlvm::chart::{Chart, Series};
use dlvm::family::{Gaussian, Isotropic, OutputFamily};
use rand::{rngs::StdRng, Rng, SeedableRng};
use rand_distr::StandardNormal;
use std::path::PathBuf;

/// Sample the non-linear decoder f(z) = z/10 + z/|z| and plot the samples.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Number of draws.
    #[arg(long, default_value_t = 2000)]
    draws: usize,
    /// Output noise standard deviation σ.
    #[arg(long, default_value_t = 0.05)]
    sigma: f32,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Directory for the figure.
    #[arg(long, default_value = "out/nonlinear_decoder")]
    out: PathBuf,
}

/// The decoder's raw outputs for the isotropic Gaussian: `(f₁(z), f₂(z), log σ²)`.
///
/// # Formula
/// `f(z) = z/10 + z/‖z‖`
fn decoder(z: [f32; 2], log_variance: f32) -> [f32; 3] {
    let norm = (z[0] * z[0] + z[1] * z[1]).sqrt().max(f32::MIN_POSITIVE);
    [
        z[0] / 10.0 + z[0] / norm,
        z[1] / 10.0 + z[1] / norm,
        log_variance,
    ]
}

fn main() {
    if let Err(e) = run(Args::parse()) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    // A floor far below σ², so that the variance is σ² up to 10⁻⁹.
    let family = Gaussian::<Isotropic>::with_floor(1e-9)?;
    let log_variance = (args.sigma * args.sigma).ln();
    let mut rng = StdRng::seed_from_u64(args.seed);
    let (mut zs, mut xs) = (Vec::new(), Vec::new());
    let mut x = [0.0f32; 2];
    for _ in 0..args.draws {
        let z = [rng.sample(StandardNormal), rng.sample(StandardNormal)];
        family.sample_row(&decoder(z, log_variance), &mut rng, &mut x);
        zs.push((f64::from(z[0]), f64::from(z[1])));
        xs.push((f64::from(x[0]), f64::from(x[1])));
    }
    let norms: Vec<f64> = xs.iter().map(|(a, b)| a.hypot(*b)).collect();
    let mean = norms.iter().sum::<f64>() / norms.len().max(1) as f64;
    let sd =
        (norms.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / norms.len().max(2) as f64).sqrt();
    let path = args.out.join("samples.png");
    let mut chart = Chart::new(
        "z ~ N(0, I2), x | z ~ N(z/10 + z/|z|, sigma^2 I2)",
        "coordinate 1",
        "coordinate 2",
    )
    .with(Series::points("latent z", zs))
    .with(Series::points("samples x", xs));
    chart.size = (800, 800);
    chart.save(&path)?;
    println!(
        "done: {} draws; |x| has mean {mean:.3} and standard deviation {sd:.3}; figure {}",
        args.draws,
        path.display()
    );
    Ok(())
}

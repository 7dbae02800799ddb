//! Two output families on Frey faces (1965 frames of 28 x 20 grey levels): a diagonal Gaussian
//! with a variance floor ξ on grey levels scaled to [0, 1], and `Categorical<4>` on the grey levels
//! quantised to 4 classes ("products of multinomials").
//!
//! ```text
//! cargo run --release --example frey_faces -- --out out/frey_faces
//! ```
//! Trains both models on the first 1700 frames, reports their validation ELBO on the other 265,
//! and writes `gaussian_samples.png` (100 model means `μ(z)`, `z ~ N(0, I)`),
//! `categorical_samples.png` (100 expected grey levels `E[class]/3`), `categorical_draws.png`
//! (100 sampled images) and `data.png` (100 frames, quantised as the categorical model sees them).

use clap::Parser;
use dlvm::prelude::*;
use std::path::{Path, PathBuf};

/// Frame height and width.
const HEIGHT: usize = 28;
const WIDTH: usize = 20;
/// Grey-level classes of the categorical model.
const CLASSES: usize = 4;

dlvm! {
    /// Frey faces as real numbers in [0, 1]: a diagonal Gaussian whose variance is floored.
    model FreyGaussian {
        latent z: 10 ~ Normal(0, I);
        observed x: 560 ~ Gaussian<Diagonal>(mlp(z; 200; tanh), xi = 1e-3);
        encoder q(z | x) = mlp(x; 200; tanh);
    }
}

dlvm! {
    /// Frey faces as 4 grey-level classes per pixel.
    model FreyCategorical {
        latent z: 10 ~ Normal(0, I);
        observed x: 560 ~ Categorical<4>(mlp(z; 200; tanh));
        encoder q(z | x) = mlp(x; 200; tanh);
    }
}

/// Train a floored Gaussian and a 4-class categorical VAE on Frey faces; write sample grids.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Passes over the 1700 training frames, per model.
    #[arg(long, default_value_t = 100)]
    epochs: usize,
    /// Seed of initialisation, shuffling and sampling.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Directory for the figures.
    #[arg(long, default_value = "out/frey_faces")]
    out: PathBuf,
    /// The Frey faces file.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/data/frey_faces.npy.gz"))]
    data: PathBuf,
}

fn main() {
    if let Err(e) = run(Args::parse()) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

/// Rows `range` of `data` as a new data set.
fn rows(data: &Dataset, range: std::ops::Range<usize>, name: &str) -> Result<Dataset, DataError> {
    let indices: Vec<usize> = range.collect();
    let mut values = Vec::new();
    data.gather(&indices, &mut values);
    Dataset::from_vec(name, indices.len(), data.cols(), values)
}

fn config(args: &Args) -> TrainConfig {
    TrainConfig {
        epochs: args.epochs,
        batch_size: 100,
        learning_rate: 1e-3,
        seed: args.seed,
        ..Default::default()
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let frames = Dataset::from_npy(&args.data)?;
    let split = 1700.min(frames.rows().saturating_sub(1)).max(1);
    // Grey levels 0..255: scaled to [0, 1] for the Gaussian, quantised to 0..3 for the categorical.
    let scaled = frames.clone().map(|v| v / 255.0);
    let classes = frames.map(|v| {
        (v / 256.0 * CLASSES as f32)
            .floor()
            .min(CLASSES as f32 - 1.0)
    });
    let dev = Cpu::default();

    let (train, valid) = (
        rows(&scaled, 0..split, "frey train")?,
        rows(&scaled, split..scaled.rows(), "frey valid")?,
    );
    let mut gaussian = FreyGaussian::try_new(&dev, args.seed)?;
    Trainer::new(config(&args)).fit(&mut gaussian, &train, Some(&valid))?;
    let gaussian_elbo = gaussian.evaluate_elbo(&valid, 265.min(valid.rows()), args.seed)?;
    let draws = gaussian.sample(100, args.seed);
    save_grid(&args.out.join("gaussian_samples.png"), &draws.mean)?;

    let (train, valid) = (
        rows(&classes, 0..split, "frey train")?,
        rows(&classes, split..classes.rows(), "frey valid")?,
    );
    let mut categorical = FreyCategorical::try_new(&dev, args.seed)?;
    Trainer::new(config(&args)).fit(&mut categorical, &train, Some(&valid))?;
    let categorical_elbo = categorical.evaluate_elbo(&valid, 265.min(valid.rows()), args.seed)?;
    let draws = categorical.sample(100, args.seed);
    let as_grey = |v: &[f32]| {
        v.iter()
            .map(|c| c / (CLASSES as f32 - 1.0))
            .collect::<Vec<_>>()
    };
    save_grid(
        &args.out.join("categorical_samples.png"),
        &as_grey(&draws.mean),
    )?;
    save_grid(
        &args.out.join("categorical_draws.png"),
        &as_grey(&draws.sample),
    )?;
    let shown: Vec<usize> = (0..100).map(|i| i * classes.rows() / 100).collect();
    let mut data = Vec::new();
    classes.gather(&shown, &mut data);
    save_grid(&args.out.join("data.png"), &as_grey(&data))?;

    println!(
        "done: validation ELBO Gaussian (xi = 1e-3, grey levels / 255) {gaussian_elbo} nats; \
         Categorical<4> {categorical_elbo} nats (the two are densities on different scales and \
         are not comparable); figures in {}",
        args.out.display()
    );
    Ok(())
}

/// 100 frames as a 10 x 10 grid.
fn save_grid(path: &Path, images: &[f32]) -> Result<(), DlvmError> {
    dlvm::plot::save_image_grid(path, images, HEIGHT, WIDTH, 10)?;
    Ok(())
}

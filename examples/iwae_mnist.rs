//! IWAE-K test log-likelihood of the MNIST VAE (Rezende et al. 2014; Burda et al. 2016).
//!
//! ```text
//! cargo run --release --example iwae_mnist -- --checkpoint out/mnist_vae/model.safetensors --k 5000 --images 1000
//! cargo run --release --example iwae_mnist -- --epochs 10 --k 5000 --images 1000
//! ```
//! Loads a checkpoint of the model declared exactly as in `examples/mnist_vae.rs` (or trains one
//! for `--epochs`), then reports on the first `--images` test images (spread over the file): the
//! ELBO, IWAE-K with its standard error over images and its Monte Carlo error, runtime and images/s, and the empirical-distribution upper
//! bound; writes `iwae_mnist.json`.

use clap::Parser;
use dlvm::prelude::*;
use std::path::PathBuf;
use std::time::Instant;

dlvm! {
    /// The VAE of Rezende et al. (2014) for binarized MNIST: 784-200-200-50, tanh, Bernoulli.
    pub model MnistVae {
        latent z: 50 ~ Normal(0, I);
        observed x: 784 ~ Bernoulli(mlp(z; 200, 200; tanh));
        encoder q(z | x) = mlp(x; 200, 200; tanh);
    }
}

/// IWAE-K test log-likelihood of the MNIST VAE.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// A checkpoint written by `examples/mnist_vae.rs`; without it a model is trained.
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// Epochs to train when no checkpoint is given.
    #[arg(long, default_value_t = 10)]
    epochs: usize,
    /// Importance samples per image.
    #[arg(long, default_value_t = 5000)]
    k: usize,
    /// Test images to evaluate (evenly spaced over the 10000; the file is ordered by digit).
    #[arg(long, default_value_t = 10000)]
    images: usize,
    /// Decoder rows per device call (bounds memory; 1024 is fastest here, see docs/performance.md).
    #[arg(long, default_value_t = 1024)]
    chunk_rows: usize,
    /// Seed of training and of the importance samples.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Replace the model that an earlier run trained into `--out` (without it such a directory
    /// is refused; `--checkpoint <out>/model.safetensors` reuses that model instead).
    #[arg(long)]
    overwrite: bool,
    /// Directory for the results.
    #[arg(long, default_value = "out/iwae_mnist")]
    out: PathBuf,
    /// Directory holding binarized_mnist_{train,valid,test}.npy.gz.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/data"))]
    data: PathBuf,
    /// CPU threads for matrix products (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
}

fn main() {
    if let Err(e) = run(Args::parse()) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> Result<(), DlvmError> {
    if let Some(threads) = args.threads {
        dlvm::threads::use_threads(threads)?;
    }
    let load =
        |split: &str| Dataset::from_npy(args.data.join(format!("binarized_mnist_{split}.npy.gz")));
    let dev = Cpu::default();
    let mut model = MnistVae::try_new(&dev, args.seed)?;
    match &args.checkpoint {
        Some(path) => model.load(path)?,
        None => train(&mut model, &args, &load("train")?, &load("valid")?)?,
    }
    let test = spread(&load("test")?, args.images)?;
    let elbo = model.evaluate_elbo(&test, test.rows().min(500), args.seed)?;
    let config = IwaeConfig {
        chunk_rows: args.chunk_rows,
        seed: args.seed,
        ..IwaeConfig::new(args.k)
    };
    let start = Instant::now();
    let iwae = model.iwae_with(&test, &config)?;
    let seconds = start.elapsed().as_secs_f64();
    let rate = test.rows() as f64 / seconds;
    let empirical = dlvm::bound::empirical_bound(&Bernoulli, &test)?;
    println!("test images: {}", test.rows());
    println!("ELBO            {elbo} nats");
    println!(
        "IWAE-{:<5}      {iwae} nats  ({seconds:.1} s, {rate:.2} images/s)",
        args.k
    );
    println!(
        "empirical bound {:.2} nats per image ({empirical})",
        empirical.per_point()
    );
    println!("closed-form     {}", model.family_bound(test.rows()));
    write_json(&args, &elbo, &iwae, seconds, empirical.per_point())?;
    println!(
        "done: IWAE-{} = {iwae} nats on {} test images in {seconds:.1} s ({rate:.2} images/s); outputs in {}",
        args.k,
        test.rows(),
        args.out.display()
    );
    Ok(())
}

fn train(
    model: &mut MnistVae,
    args: &Args,
    train: &Dataset,
    valid: &Dataset,
) -> Result<(), DlvmError> {
    let config = TrainConfig {
        epochs: args.epochs,
        seed: args.seed,
        checkpoint: Some(args.out.join("model.safetensors")),
        overwrite: args.overwrite,
        ..Default::default()
    };
    Trainer::new(config).fit(model, train, Some(valid))?;
    Ok(())
}

/// `n` rows evenly spaced over `data` (all of it when `n >= rows`).
fn spread(data: &Dataset, n: usize) -> Result<Dataset, DlvmError> {
    if n == 0 {
        return Err(DlvmError::Config {
            parameter: "images",
            reason: "evaluate at least 1 image".into(),
        });
    }
    let n = n.min(data.rows());
    let rows: Vec<usize> = (0..n).map(|i| i * data.rows() / n).collect();
    let mut values = Vec::new();
    data.gather(&rows, &mut values);
    Ok(Dataset::from_vec("test subset", n, data.cols(), values)?)
}

fn write_json(
    args: &Args,
    elbo: &Estimate,
    iwae: &Estimate,
    seconds: f64,
    empirical: f64,
) -> Result<(), DlvmError> {
    let path = args.out.join("iwae_mnist.json");
    let text = serde_json::json!({
        "k": args.k,
        "images": iwae.n,
        "checkpoint": args.checkpoint,
        "epochs_if_trained": args.epochs,
        "elbo": elbo,
        "iwae": iwae,
        "seconds": seconds,
        "empirical_bound_per_image": empirical,
    });
    std::fs::create_dir_all(&args.out)
        .and_then(|()| std::fs::write(&path, text.to_string()))
        .map_err(|source| DlvmError::Io { path, source })
}

//! The main job: train the VAE of Rezende et al. (2014) on the embedded binarized MNIST.
//!
//! ```text
//! cargo run --release --example mnist_vae -- --epochs 10 --out out/mnist_vae
//! ```
//! Prints per-epoch train and validation ELBO and samples/s, the final test ELBO, and writes
//! `samples.png` (100 model samples, pixel probabilities), `reconstructions.png` (rows alternate:
//! 10 test images, then their reconstructions), `history.csv`, `history.json`, `model.safetensors`
//! and `train.state` (the full training state: `--resume` continues from it).
//!
//! The output directory is locked for the whole run (a second run on it fails at once), and a
//! directory holding a saved run is refused unless `--resume` (continue it) or `--overwrite`
//! (replace it) is given. The data, the evaluation batch and the directory are all checked
//! before the first epoch. After a divergence, `--resume --step-override --lr 1e-4` (or with
//! `--clip-grad-norm`) continues from the last good state with the new setting, recorded in
//! `train.state`.

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

/// Train a VAE on binarized MNIST and report its ELBO.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Passes over the 50000 training images.
    #[arg(long, default_value_t = 10)]
    epochs: usize,
    /// Minibatch size.
    #[arg(long, default_value_t = 100)]
    batch_size: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// Seed of initialisation, shuffling and noise.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Directory for figures, history and the checkpoint.
    #[arg(long, default_value = "out/mnist_vae")]
    out: PathBuf,
    /// Rescale each minibatch gradient to at most this Euclidean norm.
    #[arg(long)]
    clip_grad_norm: Option<f64>,
    /// Continue the run saved in `<out>/train.state` (same settings) up to `--epochs`.
    #[arg(long)]
    resume: bool,
    /// With `--resume`: continue with the `--lr` and `--clip-grad-norm` given now even where
    /// they differ from the saved run's (e.g. after a divergence); the change is recorded in
    /// `train.state`.
    #[arg(long, requires = "resume")]
    step_override: bool,
    /// Replace the saved run in `--out` (its state, checkpoint, history and figures) with a new
    /// one.
    #[arg(long, conflicts_with = "resume")]
    overwrite: bool,
    /// Directory holding binarized_mnist_{train,valid,test}.npy.gz.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/data"))]
    data: PathBuf,
    /// CPU threads for matrix products (1 is fastest for this model at batch 100 on 2 cores; see
    /// docs/performance.md).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Threads that share each minibatch (data parallelism; see `TrainConfig::workers`).
    #[arg(long, default_value_t = 2)]
    workers: usize,
}

fn main() {
    if let Err(e) = run(Args::parse()) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

/// The evaluation batch of the test ELBO (at most the test set's rows).
const EVAL_BATCH: usize = 500;

/// The files this job writes into `--out` besides the trainer's checkpoint and state.
const OUTPUTS: [&str; 4] = [
    "history.csv",
    "history.json",
    "samples.png",
    "reconstructions.png",
];

fn run(args: Args) -> Result<(), DlvmError> {
    dlvm::threads::use_threads(args.threads)?;
    // Held until the end: the trainer shares this lock, and the figures are written under it.
    let _lock = dlvm::train::RunLock::acquire(&args.out)?;
    let load =
        |split: &str| Dataset::from_npy(args.data.join(format!("binarized_mnist_{split}.npy.gz")));
    let (train, valid, test) = (load("train")?, load("valid")?, load("test")?);
    println!(
        "binarized MNIST: train {} / valid {} / test {}",
        train.rows(),
        valid.rows(),
        test.rows()
    );

    let dev = Cpu::default();
    let mut model = MnistVae::try_new(&dev, args.seed)?;
    // Everything the end of the run needs is checked before the first epoch.
    dlvm::batch::check_dataset(&model, &test)?;
    let eval_batch = EVAL_BATCH.min(test.rows());
    let config = TrainConfig {
        epochs: args.epochs,
        batch_size: args.batch_size,
        learning_rate: args.lr,
        seed: args.seed,
        checkpoint: Some(args.out.join("model.safetensors")),
        clip_grad_norm: args.clip_grad_norm,
        state: Some(args.out.join("train.state")),
        workers: args.workers,
        overwrite: args.overwrite,
        step_override: args.step_override,
        ..Default::default()
    };
    if args.overwrite {
        remove_outputs(&args.out)?;
    }
    let start = Instant::now();
    let trainer = Trainer::new(config);
    let history = if args.resume {
        trainer.resume(
            &mut model,
            &train,
            Some(&valid),
            args.out.join("train.state"),
        )?
    } else {
        trainer.fit(&mut model, &train, Some(&valid))?
    };
    let seconds = start.elapsed().as_secs_f64();
    history.write_csv(args.out.join("history.csv"))?;
    history.write_json(args.out.join("history.json"))?;

    let test_elbo = model.evaluate_elbo(&test, eval_batch, 1)?;
    let rate: f64 = history
        .epochs
        .iter()
        .map(|r| r.samples_per_sec)
        .sum::<f64>()
        / history.epochs.len().max(1) as f64;
    write_figures(&model, &test, &args.out)?;
    println!(
        "done: {} epochs in {seconds:.1} s ({rate:.0} samples/s); test ELBO {test_elbo} nats; outputs in {}",
        history.epochs.len(),
        args.out.display()
    );
    Ok(())
}

/// Deletes the previous run's history and figures (`--overwrite`), so that the directory never
/// mixes two runs; the trainer deletes the checkpoint and the state.
fn remove_outputs(out: &std::path::Path) -> Result<(), DlvmError> {
    for name in OUTPUTS {
        let path = out.join(name);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(DlvmError::Io { path, source: e })
            }
            _ => {}
        }
    }
    Ok(())
}

fn write_figures(model: &MnistVae, test: &Dataset, out: &std::path::Path) -> Result<(), DlvmError> {
    let samples = model.sample(100, 2);
    dlvm::plot::save_image_grid(out.join("samples.png"), &samples.mean, 28, 28, 10)?;
    // The test file is ordered by digit: take 50 rows spread over it.
    let rows: Vec<usize> = (0..50).map(|i| i * test.rows() / 50).collect();
    let recon = model.reconstruct(test, &rows, 3)?;
    let mut pairs = Vec::with_capacity(100 * 784);
    for (k, chunk) in rows.chunks(10).enumerate() {
        chunk
            .iter()
            .for_each(|&i| pairs.extend_from_slice(test.row(i)));
        let fitted = &recon.mean[k * 10 * 784..(k + 1) * 10 * 784];
        pairs.extend_from_slice(fitted);
    }
    dlvm::plot::save_image_grid(out.join("reconstructions.png"), &pairs, 28, 28, 10)?;
    Ok(())
}

//! Throughput of the hot paths on the MNIST VAE, side by side with the PyTorch figures of
//! issue 7, as a markdown table (printed and written to `<out>/bench.md`).
//!
//! ```text
//! cargo run --release --example bench
//! ```
//! Measures, in one process: training (784-200-200-50, tanh, Bernoulli, batch 100, Adam 1e-3;
//! seconds per epoch of 50000 images and samples/s, training steps only), pseudo-Gibbs and
//! Metropolis-within-Gibbs on 1000 test images with the top half missing (chain-iterations/s,
//! and the time for 500 iterations at that rate), IWAE with K = 1000 (images/s and the time for
//! the 10000 test images at that rate), and the peak resident memory. The samplers and IWAE run
//! on the model just trained. Every figure is a rate over the stated work, not a projection from
//! a warm-up.
//!
//! With `--torch-json out/bench/pytorch.json` (written by `bench/pytorch_reference.py`, the same
//! workloads in PyTorch) the table also compares with PyTorch measured on this machine;
//! `bench/run_all.sh` runs both, one after the other.

use clap::Parser;
use dlvm::prelude::*;
use std::path::PathBuf;
use std::time::Instant;

dlvm! {
    /// The VAE of Rezende et al. (2014) for binarized MNIST.
    pub model MnistVae {
        latent z: 50 ~ Normal(0, I);
        observed x: 784 ~ Bernoulli(mlp(z; 200, 200; tanh));
        encoder q(z | x) = mlp(x; 200, 200; tanh);
    }
}

/// Issue 7's reference figures (PyTorch 2.15, 2 threads, the same 2-core machine).
const TORCH_EPOCH_S: f64 = 2.25;
const TORCH_PG_500_S: f64 = 7.0;
const TORCH_MWG_500_S: f64 = 13.0;
const TORCH_IWAE_10000_S: f64 = 64.0;

/// Measure training, imputation and IWAE throughput and print a table.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Training epochs to time (each over the 50000 training images).
    #[arg(long, default_value_t = 3)]
    epochs: usize,
    /// Sampler iterations to time (1000 chains each).
    #[arg(long, default_value_t = 200)]
    iterations: usize,
    /// Test images for the IWAE timing.
    #[arg(long, default_value_t = 2000)]
    images: usize,
    /// Threads for training shards, IWAE points and sampler calls.
    #[arg(long, default_value_t = dlvm::parallel::available_threads())]
    workers: usize,
    /// Run the model's own dfdx networks instead of the fused CPU passes, to compare the two:
    /// training through dfdx's tape (`TrainConfig::fused = false`), the samplers' model calls
    /// at every step (`ImputeOptions::fused = false`) and IWAE's (`IwaeConfig::fused = false`).
    #[arg(long)]
    tape: bool,
    /// Directory for bench.md.
    #[arg(long, default_value = "out/bench")]
    out: PathBuf,
    /// PyTorch figures measured on this machine by `bench/pytorch_reference.py` (its JSON
    /// output), compared in extra columns.
    #[arg(long)]
    torch_json: Option<PathBuf>,
    /// Directory holding binarized_mnist_{train,test}.npy.gz.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/data"))]
    data: PathBuf,
}

/// One row of the table.
struct Row {
    workload: &'static str,
    ours: String,
    seconds: f64,
    torch_seconds: f64,
    /// The key of this workload's seconds in `pytorch.json`.
    torch_key: &'static str,
}

/// PyTorch's seconds per workload, measured here (`bench/pytorch_reference.py`).
type Measured = serde_json::Map<String, serde_json::Value>;

fn read_torch_json(path: &std::path::Path) -> Result<Measured, Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "cannot read {}: {e} (run bench/pytorch_reference.py)",
            path.display()
        )
    })?;
    match serde_json::from_str(&text)? {
        serde_json::Value::Object(map) => Ok(map),
        _ => Err(format!("{}: expected a JSON object", path.display()).into()),
    }
}

fn main() {
    if let Err(e) = run(Args::parse()) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    dlvm::threads::use_threads(1)?;
    let measured = args
        .torch_json
        .as_deref()
        .map(read_torch_json)
        .transpose()?;
    let load =
        |split: &str| Dataset::from_npy(args.data.join(format!("binarized_mnist_{split}.npy.gz")));
    let (train, test) = (load("train")?, load("test")?);
    let dev = Cpu::default();
    let mut model = MnistVae::try_new(&dev, 0)?;
    let mut rows = vec![train_row(&mut model, &train, &args)?];
    rows.extend(sampler_rows(&model, &test, &args)?);
    rows.push(iwae_row(&model, &test, &args)?);
    let table = render(&rows, &args, measured.as_ref());
    println!("{table}");
    std::fs::create_dir_all(&args.out)?;
    std::fs::write(args.out.join("bench.md"), &table)?;
    println!("written to {}", args.out.join("bench.md").display());
    Ok(())
}

fn train_row(
    model: &mut MnistVae,
    train: &Dataset,
    args: &Args,
) -> Result<Row, Box<dyn std::error::Error>> {
    eprintln!("training {} epochs ...", args.epochs);
    let config = TrainConfig {
        epochs: args.epochs,
        workers: args.workers,
        progress: false,
        fused: !args.tape,
        ..Default::default()
    };
    let history = Trainer::new(config).fit(model, train, None)?;
    let seconds: f64 =
        history.epochs.iter().map(|e| e.seconds).sum::<f64>() / history.epochs.len() as f64;
    let last = history.epochs.last().map_or(f64::NAN, |e| e.train_elbo);
    Ok(Row {
        workload: "training, s per epoch",
        ours: format!(
            "{seconds:.2} s ({:.0} samples/s; train ELBO after {} epochs {last:.2})",
            train.rows() as f64 / seconds,
            args.epochs
        ),
        seconds,
        torch_seconds: TORCH_EPOCH_S,
        torch_key: "epoch_seconds",
    })
}

fn sampler_rows(
    model: &MnistVae,
    test: &Dataset,
    args: &Args,
) -> Result<Vec<Row>, Box<dyn std::error::Error>> {
    let images = first_rows(test, 1000)?;
    let mask = Mask::top_half(images.rows(), 28, 28)?;
    let options = ImputeOptions {
        iterations: args.iterations,
        threads: args.workers,
        fused: !args.tape,
        ..Default::default()
    };
    eprintln!("samplers: {} iterations ...", args.iterations);
    let pg = model.pseudo_gibbs(&images, &mask, &options)?;
    let mwg = model.metropolis_within_gibbs(&images, &mask, &options)?;
    let row = |workload, run: &Imputation, torch, torch_key| {
        let rate = run.chain_iterations_per_second();
        Row {
            workload,
            ours: format!("{rate:.0} chain-iterations/s"),
            seconds: 1000.0 * 500.0 / rate,
            torch_seconds: torch,
            torch_key,
        }
    };
    Ok(vec![
        row(
            "pseudo-Gibbs, 1000 images x 500 iterations",
            &pg,
            TORCH_PG_500_S,
            "pg_500_seconds",
        ),
        row(
            "Metropolis-within-Gibbs, 1000 images x 500 iterations",
            &mwg,
            TORCH_MWG_500_S,
            "mwg_500_seconds",
        ),
    ])
}

fn iwae_row(
    model: &MnistVae,
    test: &Dataset,
    args: &Args,
) -> Result<Row, Box<dyn std::error::Error>> {
    let images = first_rows(test, args.images)?;
    let config = IwaeConfig {
        threads: args.workers,
        progress: false,
        fused: !args.tape,
        ..IwaeConfig::new(1000)
    };
    eprintln!("IWAE-1000 on {} images ...", images.rows());
    let start = Instant::now();
    let estimate = model.iwae_with(&images, &config)?;
    let rate = images.rows() as f64 / start.elapsed().as_secs_f64();
    Ok(Row {
        workload: "IWAE K = 1000, 10000 test images",
        ours: format!("{rate:.1} images/s (L_1000 = {:.2})", estimate.mean),
        seconds: 10_000.0 / rate,
        torch_seconds: TORCH_IWAE_10000_S,
        torch_key: "iwae_10000_seconds",
    })
}

fn first_rows(data: &Dataset, n: usize) -> Result<Dataset, DlvmError> {
    let n = n.min(data.rows());
    let mut values = Vec::new();
    data.gather(&(0..n).collect::<Vec<_>>(), &mut values);
    Ok(Dataset::from_vec(data.name(), n, data.cols(), values)?)
}

/// Peak resident memory of this process (Linux `VmHWM`), if known.
fn peak_memory() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    Some(line.trim_start_matches("VmHWM:").trim().to_string())
}

fn render(rows: &[Row], args: &Args, measured: Option<&Measured>) -> String {
    let mut table =
        String::from("| workload | ours | ours (s) | PyTorch, issue 7 (s) | speed-up vs issue 7 |");
    if measured.is_some() {
        table.push_str(" PyTorch here (s) | speed-up vs PyTorch here |");
    }
    table.push_str("\n| --- | --- | --- | --- | --- |");
    if measured.is_some() {
        table.push_str(" --- | --- |");
    }
    table.push('\n');
    for r in rows {
        table.push_str(&format!(
            "| {} | {} | {:.2} | {:.2} | {:.2}x |",
            r.workload,
            r.ours,
            r.seconds,
            r.torch_seconds,
            r.torch_seconds / r.seconds
        ));
        if let Some(measured) = measured {
            match measured
                .get(r.torch_key)
                .and_then(serde_json::Value::as_f64)
            {
                Some(t) => table.push_str(&format!(" {t:.2} | {:.2}x |", t / r.seconds)),
                None => table.push_str(" — | — |"),
            }
        }
        table.push('\n');
    }
    if let Some(m) = measured {
        let field = |k: &str| m.get(k).map_or_else(|| "?".to_string(), |v| v.to_string());
        table.push_str(&format!(
            "\nPyTorch here: torch {}, {} threads, CPU capability {}\n",
            field("torch_version"),
            field("threads"),
            field("cpu_capability")
        ));
    }
    table.push_str(&format!(
        "\nworkers {}, {} training epochs ({}), {} sampler iterations, {} IWAE images; peak resident memory {}\n",
        args.workers,
        args.epochs,
        if args.tape { "dfdx's networks and tape" } else { "fused passes" },
        args.iterations,
        args.images,
        peak_memory().unwrap_or_else(|| "unknown".into())
    ));
    table
}

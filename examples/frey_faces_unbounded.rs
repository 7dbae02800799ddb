//! Mode collapse on Frey faces: a Gaussian DLVM without a variance floor against floored ones
//! (Mattei & Frellsen 2018, section 2).
//!
//! ```text
//! cargo run --release --example frey_faces_unbounded -- --epochs 250 --out out/frey
//! # the runaway (docs/likelihood.md): 200 training frames, 3000 epochs, about 5 minutes
//! cargo run --release --example frey_faces_unbounded -- --epochs 3000 --lr 2e-3 --eval-every 10 --train-frames 200 --out out/frey200
//! ```
//! Architecture (all three models): latent `d = 5`, `z ~ N(0, I)`; decoder `mlp(z; 200; tanh)`
//! to a diagonal Gaussian over the 560 pixels (grey levels / 255) with variance
//! `ξ + exp(s(z))`, for ξ = 0 (unconstrained), 0.01 and 0.1; encoder `mlp(x; 200; tanh)`.
//! Training: a fixed random split of the 1965 frames into 1565 train and 400 test (seed 0; with
//! `--train-frames n` only the first n training frames are used), Adam (lr `--lr`, betas
//! 0.9/0.999), minibatch `--batch-size`, single-sample reparameterised ELBO. Every
//! `--eval-every` epochs: IWAE-`--k` on (up to) 400 training frames and on the 400 test frames.
//! Writes `frey_faces.csv` and `frey_faces.png` (train and test IWAE per epoch, with the floors'
//! bounds); `--from-csv` redraws the figure from such a CSV.

use clap::Parser;
use dlvm::batch::{rows_to_tensor, standard_normal};
use dlvm::chart::{Chart, Series};
use dlvm::dfdx::optim::{Adam, AdamConfig};
use dlvm::dfdx::prelude::*;
use dlvm::prelude::*;
use indicatif::{ProgressBar, ProgressStyle};
use rand::{rngs::StdRng, seq::SliceRandom, SeedableRng};
use std::path::PathBuf;
use std::time::Instant;

dlvm! {
    /// No variance floor: the likelihood is unbounded above.
    pub model FreeFrey {
        latent z: 5 ~ Normal(0, I);
        observed x: 560 ~ Gaussian(mlp(z; 200; tanh), unconstrained);
        encoder q(z | x) = mlp(x; 200; tanh);
    }
}

dlvm! {
    /// Variance floor ξ = 0.01: l <= -(n p / 2) log(2π ξ), 774.8 nats per frame.
    pub model Frey01 {
        latent z: 5 ~ Normal(0, I);
        observed x: 560 ~ Gaussian(mlp(z; 200; tanh), xi = 0.01);
        encoder q(z | x) = mlp(x; 200; tanh);
    }
}

dlvm! {
    /// Variance floor ξ = 0.1: l <= 130.1 nats per frame.
    pub model Frey1 {
        latent z: 5 ~ Normal(0, I);
        observed x: 560 ~ Gaussian(mlp(z; 200; tanh), xi = 0.1);
        encoder q(z | x) = mlp(x; 200; tanh);
    }
}

/// Train Gaussian DLVMs with and without a variance floor on Frey faces; track train/test IWAE.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Passes over the training frames.
    #[arg(long, default_value_t = 250)]
    epochs: usize,
    /// Minibatch size.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// Importance samples of the per-epoch IWAE.
    #[arg(long, default_value_t = 20)]
    k: usize,
    /// Evaluate train and test IWAE every this many epochs (and after the last).
    #[arg(long, default_value_t = 1)]
    eval_every: usize,
    /// Train on only the first this many frames of the training split (default: all 1565); a
    /// smaller training set makes the spike on one frame worth more.
    #[arg(long)]
    train_frames: Option<usize>,
    /// Only redraw the figure from a CSV this example wrote (into `--out`), without training.
    #[arg(long)]
    from_csv: Option<PathBuf>,
    /// Which models to train, in this order.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [Floor::None, Floor::Xi001, Floor::Xi01])]
    models: Vec<Floor>,
    /// Importance samples of the final report on the training frames.
    #[arg(long, default_value_t = 1000)]
    report_k: usize,
    /// Seed of the split, initialisation, shuffling and noise.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Directory for the CSV and the figure.
    #[arg(long, default_value = "out/frey")]
    out: PathBuf,
    /// Path of frey_faces.npy.gz.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/data/frey_faces.npy.gz"))]
    data: PathBuf,
}

/// The variance floor of one of the three models.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq)]
enum Floor {
    /// `FreeFrey`: no floor.
    None,
    /// `Frey01`: ξ = 0.01.
    Xi001,
    /// `Frey1`: ξ = 0.1.
    Xi01,
}

/// One epoch of one model.
struct Record {
    model: &'static str,
    epoch: usize,
    train_iwae: f64,
    test_iwae: f64,
}

fn main() {
    if let Err(e) = run(Args::parse()) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    if let Some(csv) = &args.from_csv {
        let records = read_csv(csv)?;
        std::fs::create_dir_all(&args.out)?;
        plot(&records, &args, &args.out.join("frey_faces.png"))?;
        println!(
            "redrew {} epochs into {}",
            records.len(),
            args.out.join("frey_faces.png").display()
        );
        return Ok(());
    }
    let faces = Dataset::from_npy(&args.data)?.map(|v| v / 255.0);
    let (train, test) = split(&faces, 400, args.seed)?;
    let train = match args.train_frames {
        Some(n) if n == 0 || n > train.rows() => {
            return Err(format!("--train-frames must be in 1..={}", train.rows()).into())
        }
        Some(n) => subset(&train, &(0..n).collect::<Vec<_>>())?,
        None => train,
    };
    let train_eval = subset(&train, &(0..train.rows().min(400)).collect::<Vec<_>>())?;
    println!(
        "Frey faces: train {} / test {} frames of {} pixels",
        train.rows(),
        test.rows(),
        train.cols()
    );
    let dev = Cpu::default();
    let start = Instant::now();
    let sets = (&train, &train_eval, &test);
    std::fs::create_dir_all(&args.out)?;
    if args.eval_every == 0 {
        return Err("--eval-every must be at least 1".into());
    }
    let mut records = Vec::new();
    for floor in &args.models {
        records.extend(match floor {
            Floor::None => track(FreeFrey::try_new(&dev, args.seed)?, sets, &args)?,
            Floor::Xi001 => track(Frey01::try_new(&dev, args.seed)?, sets, &args)?,
            Floor::Xi01 => track(Frey1::try_new(&dev, args.seed)?, sets, &args)?,
        });
    }
    write_csv(&records, &args.out.join("frey_faces.csv"))?;
    plot(&records, &args, &args.out.join("frey_faces.png"))?;
    let summary: Vec<String> = MODEL_NAMES
        .iter()
        .filter_map(|name| records.iter().rfind(|r| r.model == *name))
        .map(|r| {
            format!(
                "{} epoch {}: train {:.1} / test {:.1}",
                r.model, r.epoch, r.train_iwae, r.test_iwae
            )
        })
        .collect();
    println!(
        "done in {:.0} s; final IWAE-{} nats per frame: {}; outputs in {}",
        start.elapsed().as_secs_f64(),
        args.k,
        summary.join("; "),
        args.out.display()
    );
    Ok(())
}

/// A fixed random split: `test_rows` rows for test, the rest for training.
fn split(data: &Dataset, test_rows: usize, seed: u64) -> Result<(Dataset, Dataset), DlvmError> {
    let mut order: Vec<usize> = (0..data.rows()).collect();
    order.shuffle(&mut StdRng::seed_from_u64(seed));
    let (test, train) = order.split_at(test_rows);
    Ok((subset(data, train)?, subset(data, test)?))
}

fn subset(data: &Dataset, rows: &[usize]) -> Result<Dataset, DlvmError> {
    let mut values = Vec::new();
    data.gather(rows, &mut values);
    Ok(Dataset::from_vec(
        data.name(),
        rows.len(),
        data.cols(),
        values,
    )?)
}

fn name_of<M: Dlvm<Cpu>>(model: &M) -> &'static str {
    match model.family().log_density_bound() {
        None => "unconstrained",
        Some(b) if b > 0.5 => "xi = 0.01",
        Some(_) => "xi = 0.1",
    }
}

/// Trains `model` for `args.epochs` epochs, recording train and test IWAE after each; stops early
/// (and says so) when the loss becomes NaN or infinite.
fn track<M: Dlvm<Cpu>>(
    mut model: M,
    (train, train_eval, test): (&Dataset, &Dataset, &Dataset),
    args: &Args,
) -> Result<Vec<Record>, DlvmError> {
    let name = name_of(&model);
    let adam = AdamConfig {
        lr: args.lr,
        ..Default::default()
    };
    let mut optimiser = Adam::new(&model, adam);
    let mut rng = StdRng::seed_from_u64(args.seed);
    let mut grads = model.alloc_grads();
    let mut order: Vec<usize> = (0..train.rows()).collect();
    let mut buffer = Vec::new();
    let mut records = Vec::new();
    let iwae = IwaeConfig {
        progress: false,
        seed: args.seed,
        ..IwaeConfig::new(args.k)
    };
    let bar = ProgressBar::new(args.epochs as u64);
    if let Ok(style) = ProgressStyle::with_template(&format!(
        "{name:>13} [{{bar:30}}] {{pos}}/{{len}} epochs {{msg}}"
    )) {
        bar.set_style(style.progress_chars("=> "));
    }
    'training: for epoch in 1..=args.epochs {
        order.shuffle(&mut rng);
        for chunk in order.chunks(args.batch_size) {
            let x = rows_to_tensor::<M::Observed, Cpu>(model.device(), train, chunk, &mut buffer);
            let eps = standard_normal::<M::Latent, Cpu>(model.device(), chunk.len(), &mut rng);
            let loss = elbo(&model, x.traced(grads), eps).mean().negate();
            let value = loss.as_vec()[0];
            if !value.is_finite() {
                bar.suspend(|| {
                    println!("{name}: the loss became {value} in epoch {epoch}: training stopped")
                });
                break 'training;
            }
            grads = loss.backward();
            optimiser
                .update(&mut model, &grads)
                .map_err(|e| DlvmError::Device(format!("optimiser update failed: {e:?}")))?;
            model.zero_grads(&mut grads);
        }
        bar.inc(1);
        if epoch % args.eval_every != 0 && epoch != args.epochs {
            continue;
        }
        let record = Record {
            model: name,
            epoch,
            train_iwae: evaluate_iwae(&model, train_eval, &iwae)?.mean,
            test_iwae: evaluate_iwae(&model, test, &iwae)?.mean,
        };
        bar.set_message(format!(
            "train {:.1} / test {:.1}",
            record.train_iwae, record.test_iwae
        ));
        if epoch % (10 * args.eval_every) == 0 || epoch == args.eval_every {
            bar.suspend(|| {
                println!(
                    "{name:>13} epoch {epoch:>3}: train IWAE-{} {:.1}, test {:.1}",
                    args.k, record.train_iwae, record.test_iwae
                )
            });
        }
        records.push(record);
    }
    bar.finish_and_clear();
    report(&model, train, args, name)?;
    Ok(records)
}

/// The chain ELBO <= IWAE-K <= log p(x) <= nonparametric bound on the training frames, printed and
/// written to `report_<model>.json`, and the trained model to `<model>.safetensors`.
fn report<M: Dlvm<Cpu>>(
    model: &M,
    train: &Dataset,
    args: &Args,
    name: &str,
) -> Result<(), DlvmError> {
    let stem = name.replace(" = ", "_").replace('.', "");
    dlvm::train::save_checkpoint(model, args.out.join(format!("{stem}.safetensors")))?;
    let iwae = IwaeConfig {
        seed: args.seed,
        ..IwaeConfig::new(args.report_k)
    };
    let mixture = MixtureConfig {
        max_atoms: train.rows(),
        ..MixtureConfig::default()
    };
    let report = likelihood_report(model, train, &iwae, &mixture)?;
    println!(
        "{name}, training frames after {} epochs:\n{report}",
        args.epochs
    );
    let path = args.out.join(format!("report_{stem}.json"));
    let text = serde_json::to_string_pretty(&report).unwrap_or_default();
    std::fs::write(&path, text).map_err(|source| DlvmError::Io { path, source })
}

fn write_csv(records: &[Record], path: &std::path::Path) -> std::io::Result<()> {
    let mut text = String::from("model,epoch,train_iwae,test_iwae\n");
    for r in records {
        text.push_str(&format!(
            "{},{},{},{}\n",
            r.model, r.epoch, r.train_iwae, r.test_iwae
        ));
    }
    std::fs::write(path, text)
}

/// Records from a CSV written by [`write_csv`].
fn read_csv(path: &std::path::Path) -> Result<Vec<Record>, Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(path)?;
    let mut records = Vec::new();
    for (n, line) in text.lines().enumerate().skip(1) {
        let bad = || {
            format!(
                "{}: line {} is not `model,epoch,train,test`",
                path.display(),
                n + 1
            )
        };
        let fields: Vec<&str> = line.split(',').collect();
        let [model, epoch, train, test] = fields[..] else {
            return Err(bad().into());
        };
        let model = MODEL_NAMES
            .into_iter()
            .find(|m| *m == model)
            .ok_or_else(bad)?;
        records.push(Record {
            model,
            epoch: epoch.parse().map_err(|_| bad())?,
            train_iwae: train.parse().map_err(|_| bad())?,
            test_iwae: test.parse().map_err(|_| bad())?,
        });
    }
    Ok(records)
}

/// The models' names in records, CSV and figure.
const MODEL_NAMES: [&str; 3] = ["unconstrained", "xi = 0.01", "xi = 0.1"];

fn plot(
    records: &[Record],
    args: &Args,
    path: &std::path::Path,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut chart = Chart::new(
        format!(
            "Frey faces: IWAE-{} per epoch (solid: train, dots: test)",
            args.k
        ),
        "epoch",
        "log-likelihood (nats per frame)",
    );
    let present = MODEL_NAMES
        .into_iter()
        .filter(|name| records.iter().any(|r| r.model == *name));
    for name in present {
        let of = |f: fn(&Record) -> f64| -> Vec<(f64, f64)> {
            records
                .iter()
                .filter(|r| r.model == name)
                .map(|r| (r.epoch as f64, f(r)))
                .collect()
        };
        chart = chart
            .with(Series::line(format!("{name}: train"), of(|r| r.train_iwae)))
            .with(Series::points(format!("{name}: test"), of(|r| r.test_iwae)));
    }
    let p = 560.0;
    let last_epoch = records.iter().map(|r| r.epoch).max().unwrap_or(1) as f64;
    for xi in [0.01f64, 0.1] {
        let bound = -0.5 * p * (2.0 * std::f64::consts::PI * xi).ln();
        chart = chart.with(Series::horizontal(
            format!("bound for xi = {xi}: {bound:.1}"),
            bound,
            1.0,
            last_epoch,
        ));
    }
    chart.save(path)?;
    Ok(())
}

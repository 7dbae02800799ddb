//! The seed's imputation experiment (Mattei & Frellsen 2018): impute the top half and the bottom
//! half of test images with pseudo-Gibbs and Metropolis-within-Gibbs from the same trained
//! 784-200-200-50 Bernoulli VAE, 500 iterations each, and score the imputations by F1.
//!
//! ```text
//! cargo run --release --example impute_halves -- --dataset mnist \
//!     --checkpoint out/mnist_vae/model.safetensors --images 1000 --out out/impute_halves/mnist
//! cargo run --release --example impute_halves -- --dataset caltech --epochs 200 \
//!     --out out/impute_halves/caltech
//! ```
//! Prints the halves table (rows: sampler; per missing half: F1 on the missing pixels, F1 on the
//! whole image, MWG acceptance, seconds, chain-iterations/s) and writes `halves.png` (per image:
//! original | observed | pseudo-Gibbs | MWG, for the top then the bottom half; imputations shown
//! as pixel probabilities, missing pixels as grey), `results.csv` and, when it trains,
//! `model.safetensors`.
//!
//! F1 protocol: the single imputation is the family mean at the chain's last `z` thresholded at
//! 0.5; F1 = 2TP / (2TP + FP + FN) pooled over all missing pixels of all images (and over all
//! pixels for "whole"). Caltech 101 Silhouettes is stored with 1 = background: it is scored as
//! `1 - x`, so the object is the positive class as in MNIST.

use clap::{Parser, ValueEnum};
use dlvm::impute::{binary_metrics, BinaryMetrics, Imputation, ImputeOptions, Init, Mask, Single};
use dlvm::prelude::*;
use std::path::{Path, PathBuf};

dlvm! {
    /// The VAE of Rezende et al. (2014): 784-200-200-50, tanh, Bernoulli (as in `mnist_vae`).
    pub model MnistVae {
        latent z: 50 ~ Normal(0, I);
        observed x: 784 ~ Bernoulli(mlp(z; 200, 200; tanh));
        encoder q(z | x) = mlp(x; 200, 200; tanh);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Data {
    /// Binarized MNIST (Larochelle & Murray).
    Mnist,
    /// Caltech 101 Silhouettes 28x28 (1 = background; scored as 1 - x).
    Caltech,
}

/// Impute image halves with pseudo-Gibbs and Metropolis-within-Gibbs and report F1.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Data set.
    #[arg(long, value_enum, default_value_t = Data::Mnist)]
    dataset: Data,
    /// Load this trained MnistVae checkpoint instead of training.
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// Training epochs when no checkpoint is given (early stopping on the validation ELBO with
    /// patience 20).
    #[arg(long, default_value_t = 10)]
    epochs: usize,
    /// Number of test images, spread evenly over the test set.
    #[arg(long, default_value_t = 1000)]
    images: usize,
    /// Sampler iterations per half.
    #[arg(long, default_value_t = 500)]
    iterations: usize,
    /// Pseudo-Gibbs steps that fill the missing pixels before either sampler starts (0: start
    /// from zeros). The same start is used for both samplers.
    #[arg(long, default_value_t = 0)]
    warmup: usize,
    /// Seed of training and sampling.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Replace the model that an earlier run trained into `--out` (without it such a directory
    /// is refused; `--checkpoint <out>/model.safetensors` reuses that model instead).
    #[arg(long)]
    overwrite: bool,
    /// Directory for the figure, the table and the checkpoint.
    #[arg(long, default_value = "out/impute_halves")]
    out: PathBuf,
    /// Directory holding the .npy.gz data files.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/data"))]
    data: PathBuf,
    /// CPU threads for matrix products (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
}

const SIDE: usize = 28;
const SHOWN: usize = 8;

fn main() {
    if let Err(e) = run(Args::parse()) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

/// One sampler's run on one half.
struct Cell {
    metrics: BinaryMetrics,
    /// Pooled F1 on the missing pixels of the last draw and of the thresholded draw mean.
    other_f1: [f64; 2],
    run: Imputation,
}

fn run(args: Args) -> Result<(), DlvmError> {
    if let Some(threads) = args.threads {
        dlvm::threads::use_threads(threads)?;
    }
    let prefix = match args.dataset {
        Data::Mnist => "binarized_mnist",
        Data::Caltech => "caltech101_silhouettes",
    };
    let load = |split: &str| Dataset::from_npy(args.data.join(format!("{prefix}_{split}.npy.gz")));
    let test = load("test")?;
    let model = trained_model(&args, &load)?;
    let rows: Vec<usize> = (0..args.images.min(test.rows()))
        .map(|i| i * test.rows() / args.images.min(test.rows()))
        .collect();
    let mut values = Vec::new();
    test.gather(&rows, &mut values);
    let images = Dataset::from_vec(format!("{prefix} test"), rows.len(), SIDE * SIDE, values)?;
    let options = ImputeOptions {
        iterations: args.iterations,
        // Only the draw-mean column uses the retained draws: the last 80 % of the steps.
        burn_in: args.iterations / 5,
        init: if args.warmup == 0 {
            Init::Zeros
        } else {
            Init::PseudoGibbs(args.warmup)
        },
        seed: args.seed + 1,
        progress: true,
        ..Default::default()
    };
    let flip = args.dataset == Data::Caltech;
    let mut table = Vec::new();
    for (half, mask) in [
        ("top", Mask::top_half(images.rows(), SIDE, SIDE)?),
        ("bottom", Mask::bottom_half(images.rows(), SIDE, SIDE)?),
    ] {
        let pg = score(
            model.pseudo_gibbs(&images, &mask, &options)?,
            &images,
            &mask,
            flip,
        )?;
        let mwg = score(
            model.metropolis_within_gibbs(&images, &mask, &options)?,
            &images,
            &mask,
            flip,
        )?;
        table.push((half, mask, pg, mwg));
    }
    print_table(&args, images.rows(), &table);
    write_csv(&args.out.join("results.csv"), &table)?;
    write_grid(&args.out.join("halves.png"), &images, &table)?;
    let f1 = |c: &Cell| 100.0 * c.metrics.missing_pooled.f1;
    println!(
        "done: {} {} images, {} iterations; F1 missing top PG {:.2} / MWG {:.2}, bottom PG {:.2} / \
         MWG {:.2}; outputs in {}",
        images.rows(),
        prefix,
        args.iterations,
        f1(&table[0].2),
        f1(&table[0].3),
        f1(&table[1].2),
        f1(&table[1].3),
        args.out.display()
    );
    Ok(())
}

fn trained_model(
    args: &Args,
    load: &dyn Fn(&str) -> Result<Dataset, DataError>,
) -> Result<MnistVae, DlvmError> {
    let dev = Cpu::default();
    let mut model = MnistVae::try_new(&dev, args.seed)?;
    if let Some(path) = &args.checkpoint {
        model.load(path)?;
        println!("loaded {}", path.display());
        return Ok(model);
    }
    let (train, valid) = (load("train")?, load("valid")?);
    let config = TrainConfig {
        epochs: args.epochs,
        seed: args.seed,
        patience: Some(20),
        checkpoint: Some(args.out.join("model.safetensors")),
        overwrite: args.overwrite,
        ..Default::default()
    };
    let history = Trainer::new(config).fit(&mut model, &train, Some(&valid))?;
    history.write_csv(args.out.join("history.csv"))?;
    // The trainer's per-epoch checkpoint holds the last epoch; save the restored best one.
    model.save(args.out.join("model.safetensors"))?;
    let best = history.best_epoch.unwrap_or(history.epochs.len());
    println!(
        "trained {} epochs on {} images (best validation epoch {best})",
        history.epochs.len(),
        train.rows()
    );
    Ok(model)
}

/// Scores the thresholded family mean at the last z (object = 1: Caltech is flipped).
fn score(run: Imputation, images: &Dataset, mask: &Mask, flip: bool) -> Result<Cell, DlvmError> {
    let orient = |v: &[f32]| -> Vec<f32> {
        if flip {
            v.iter().map(|x| 1.0 - x).collect()
        } else {
            v.to_vec()
        }
    };
    let truth = orient(images.as_slice());
    let imputed = orient(&run.single(Single::FamilyMean));
    let metrics = binary_metrics(&truth, &imputed, mask)?;
    let mut other_f1 = [0.0; 2];
    for (f1, kind) in other_f1
        .iter_mut()
        .zip([Single::LastDraw, Single::DrawMean])
    {
        let imputed = orient(&run.single(kind));
        *f1 = binary_metrics(&truth, &imputed, mask)?.missing_pooled.f1;
    }
    Ok(Cell {
        metrics,
        other_f1,
        run,
    })
}

type Row = (&'static str, Mask, Cell, Cell);

fn print_table(args: &Args, images: usize, table: &[Row]) {
    println!(
        "\n{:?}, {images} test images, {} iterations after {} pseudo-Gibbs warm-up steps; F1 (%) of \
         the thresholded family mean at the last z, pooled over pixels",
        args.dataset, args.iterations, args.warmup
    );
    println!(
        "| sampler | half | F1 missing | F1 whole | F1 missing per image | F1 missing, last draw | \
         F1 missing, draw mean | acceptance | seconds | chain-iterations/s |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for (half, _, pg, mwg) in table {
        for (name, cell) in [("pseudo-Gibbs", pg), ("Metropolis-within-Gibbs", mwg)] {
            let m = &cell.metrics;
            println!(
                "| {name} | {half} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.3} | {:.1} | {:.0} |",
                100.0 * m.missing_pooled.f1,
                100.0 * m.whole_pooled.f1,
                100.0 * m.missing_per_point.f1,
                100.0 * cell.other_f1[0],
                100.0 * cell.other_f1[1],
                cell.run.mean_acceptance(),
                cell.run.seconds,
                cell.run.chain_iterations_per_second()
            );
        }
    }
}

fn write_csv(path: &Path, table: &[Row]) -> Result<(), DlvmError> {
    let mut csv = String::from(
        "sampler,half,f1_missing,precision_missing,recall_missing,accuracy_missing,\
         f1_whole,f1_missing_per_image,f1_missing_last_draw,f1_missing_draw_mean,acceptance,\
         seconds,chain_iterations_per_s\n",
    );
    for (half, _, pg, mwg) in table {
        for (name, cell) in [("pseudo_gibbs", pg), ("mwg", mwg)] {
            let m = &cell.metrics;
            csv.push_str(&format!(
                "{name},{half},{},{},{},{},{},{},{},{},{},{},{}\n",
                m.missing_pooled.f1,
                m.missing_pooled.precision,
                m.missing_pooled.recall,
                m.missing_pooled.accuracy,
                m.whole_pooled.f1,
                m.missing_per_point.f1,
                cell.other_f1[0],
                cell.other_f1[1],
                cell.run.mean_acceptance(),
                cell.run.seconds,
                cell.run.chain_iterations_per_second()
            ));
        }
    }
    let io = |source| DlvmError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    std::fs::write(path, csv).map_err(io)
}

/// Per shown image, 8 panels: (original | observed | pseudo-Gibbs | MWG) for top, then bottom.
fn write_grid(path: &Path, images: &Dataset, table: &[Row]) -> Result<(), DlvmError> {
    let p = SIDE * SIDE;
    let mut panels = Vec::new();
    let shown = SHOWN.min(images.rows());
    for i in (0..shown).map(|k| k * images.rows() / shown) {
        let range = i * p..(i + 1) * p;
        for (_, mask, pg, mwg) in table {
            panels.extend_from_slice(images.row(i));
            let flags = mask.row(i).unwrap_or(&[]);
            let observed = images.row(i).iter().zip(flags);
            panels.extend(observed.map(|(&v, &m)| if m { 0.5 } else { v }));
            panels.extend_from_slice(&pg.run.family_mean[range.clone()]);
            panels.extend_from_slice(&mwg.run.family_mean[range.clone()]);
        }
    }
    dlvm::plot::save_image_grid(path, &panels, SIDE, SIDE, 4 * table.len())?;
    Ok(())
}

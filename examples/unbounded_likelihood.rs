//! The unboundedness theorem of Mattei & Frellsen (2018), numerically, on Frey faces.
//!
//! ```text
//! cargo run --release --example unbounded_likelihood -- --out out/unbounded
//! ```
//! The talk's decoder with one tanh hidden unit and an isotropic Gaussian output, at
//! `θ_k = (W = α_k wᵀ, a = 0, V = 0, b = x_i, α = α_k, β = -α_k)`, puts a spike of variance
//! `exp(-2 α_k)` on the data point `x_i` over the half-space `wᵀz < 0`. Every `log p(x_j)` is a
//! one-dimensional integral over `u = wᵀz / |w| ~ N(0, 1)`, computed by quadrature in `f64`
//! ([`dlvm::bound::Spike`]); no Monte Carlo. Prints a table of `l(θ_k)` against `α_k` for the
//! unconstrained decoder and for the same decoder with a variance floor ξ, and writes
//! `unbounded_likelihood.png` and `unbounded_likelihood.csv`.

use clap::Parser;
use dlvm::bound::{family_bound, spike_log_likelihood, FamilyBound, Spike};
use dlvm::chart::{Chart, Series};
use dlvm::prelude::*;
use indicatif::ProgressBar;
use std::path::PathBuf;
use std::time::Instant;

dlvm! {
    /// The talk's decoder: `h = tanh(W z + a)`, `μ = V h + b`, `Σ = exp(α h + β) I` (no floor).
    pub model Talk {
        latent z: 2 ~ Normal(0, I);
        observed x: 560 ~ Gaussian<Isotropic>(mlp(z; 1; tanh), unconstrained);
        encoder q(z | x) = linear(x);
    }
}

/// Show l(θ_k) → +∞ for the spike sequence of the unboundedness theorem, and a floored version
/// staying under -(n p / 2) log(2π ξ).
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// The data point x_i the spike sits on (row of Frey faces).
    #[arg(long, default_value_t = 0)]
    point: usize,
    /// |w|, the norm of the direction w (any w != 0 gives the same l).
    #[arg(long, default_value_t = 1.0)]
    w_norm: f64,
    /// The variance floor ξ of the constrained decoder.
    #[arg(long, default_value_t = 0.01)]
    xi: f64,
    /// The values α_k (comma separated).
    #[arg(long, value_delimiter = ',', default_values_t = [1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1e3, 3e3, 1e4, 3e4, 1e5])]
    alphas: Vec<f64>,
    /// Directory for the table and the figure.
    #[arg(long, default_value = "out/unbounded")]
    out: PathBuf,
    /// Path of frey_faces.npy.gz.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/data/frey_faces.npy.gz"))]
    data: PathBuf,
}

/// One row of the table: `l(θ_k)` in nats, summed over points.
struct Row {
    alpha: f64,
    free: f64,
    spike_point: f64,
    floored: f64,
}

fn main() {
    if let Err(e) = run(Args::parse()) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let faces = Dataset::from_npy(&args.data)?.map(|v| v / 255.0);
    let (n, p) = (faces.rows(), faces.cols());
    println!(
        "Frey faces: {n} x {p}, grey levels / 255; spike on point {}",
        args.point
    );
    let bound = match family_bound(&Gaussian::<Isotropic>::with_floor(args.xi as f32)?, n, p) {
        FamilyBound::Finite { total, .. } => total,
        FamilyBound::Unbounded | FamilyBound::NoClosedForm { .. } => f64::INFINITY,
    };
    check_decoder_is_the_talks(&faces, args.point)?;
    let start = Instant::now();
    let bar = ProgressBar::new(args.alphas.len() as u64);
    let mut rows = Vec::new();
    for &alpha in &args.alphas {
        rows.push(evaluate(&faces, &args, alpha)?);
        bar.inc(1);
    }
    bar.finish_and_clear();
    print_table(&rows, n, bound, args.xi);
    std::fs::create_dir_all(&args.out)?;
    write_csv(&rows, &args.out.join("unbounded_likelihood.csv"))?;
    plot(
        &rows,
        n,
        bound,
        args.xi,
        &args.out.join("unbounded_likelihood.png"),
    )?;
    let last = rows.last().ok_or("give at least one alpha")?;
    println!(
        "done: {} values of alpha in {:.1} s; at alpha = {:e} l/n = {:.1} nats unconstrained vs {:.1} floored (bound {:.1}); outputs in {}",
        rows.len(),
        start.elapsed().as_secs_f64(),
        last.alpha,
        last.free / n as f64,
        last.floored / n as f64,
        bound / n as f64,
        args.out.display()
    );
    Ok(())
}

/// `l(θ_k)` without and with the floor, and the spike point's own term.
fn evaluate(faces: &Dataset, args: &Args, alpha: f64) -> Result<Row, DlvmError> {
    let free = Spike {
        alpha,
        w_norm: args.w_norm,
        xi: 0.0,
    };
    let floored = Spike {
        xi: args.xi,
        ..free
    };
    Ok(Row {
        alpha,
        free: spike_log_likelihood(faces, args.point, &free)?,
        spike_point: free.log_density(0.0, faces.cols()),
        floored: spike_log_likelihood(faces, args.point, &floored)?,
    })
}

/// Sets the generated decoder to `θ_k` (α = 1, w = e_1) and checks that it outputs the mean x_i
/// and the variance `exp(tanh(z_1) - 1)` the quadrature integrates.
fn check_decoder_is_the_talks(
    faces: &Dataset,
    point: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let dev = Cpu::default();
    let mut model = Talk::try_new(&dev, 0)?;
    model.decoder.0.weight.copy_from(&[1.0, 0.0]);
    model.decoder.0.bias.copy_from(&[0.0]);
    let mut weight = vec![0.0f32; 561];
    weight[560] = 1.0;
    model.decoder.2.weight.copy_from(&weight);
    let mut bias = faces.row(point).to_vec();
    bias.push(-1.0);
    model.decoder.2.bias.copy_from(&bias);
    let z = dev.tensor_from_vec(vec![-0.7f32, 2.0], (1, Const::<2>));
    let raw = model.decode(z).as_vec();
    let want = ((-0.7f32).tanh() - 1.0).exp();
    let got = raw[560].exp();
    if raw[..560] != *faces.row(point) || (got - want).abs() > 1e-5 {
        return Err(format!("the decoder at theta_k gives variance {got}, expected {want}").into());
    }
    Ok(())
}

fn print_table(rows: &[Row], n: usize, bound: f64, xi: f64) {
    println!(
        "l(theta_k) in nats per point (n = {n}); floored bound -(p/2) log(2 pi xi) = {:.2}",
        bound / n as f64
    );
    println!(
        "{:>10} {:>16} {:>16} {:>18}",
        "alpha_k",
        "unconstrained",
        "log p(x_i)",
        format!("xi = {xi}")
    );
    for r in rows {
        println!(
            "{:>10.0e} {:>16.2} {:>16.1} {:>18.2}",
            r.alpha,
            r.free / n as f64,
            r.spike_point,
            r.floored / n as f64
        );
    }
}

fn write_csv(rows: &[Row], path: &std::path::Path) -> std::io::Result<()> {
    let mut text = String::from("alpha,l_unconstrained,log_p_spike_point,l_floored\n");
    for r in rows {
        text.push_str(&format!(
            "{},{},{},{}\n",
            r.alpha, r.free, r.spike_point, r.floored
        ));
    }
    std::fs::write(path, text)
}

fn plot(
    rows: &[Row],
    n: usize,
    bound: f64,
    xi: f64,
    path: &std::path::Path,
) -> Result<(), Box<dyn std::error::Error>> {
    let per_point = |f: fn(&Row) -> f64| -> Vec<(f64, f64)> {
        rows.iter()
            .map(|r| (r.alpha.log10(), f(r) / n as f64))
            .collect()
    };
    let (x0, x1) = (rows[0].alpha.log10(), rows[rows.len() - 1].alpha.log10());
    Chart::new(
        "Frey faces: l(theta_k) of the spike sequence (Mattei & Frellsen 2018)",
        "log10 alpha_k",
        "l(theta_k) / n  (nats per point)",
    )
    .with(Series::line(
        "unconstrained: grows without bound",
        per_point(|r| r.free),
    ))
    .with(Series::line(
        format!("variance floor xi = {xi}"),
        per_point(|r| r.floored),
    ))
    .with(Series::horizontal(
        format!("bound -(p/2) log(2 pi xi) = {:.1}", bound / n as f64),
        bound / n as f64,
        x0,
        x1,
    ))
    .save(path)?;
    Ok(())
}

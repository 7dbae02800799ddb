//! The fused CPU training pass against dfdx's tape: the same loss and the same gradient in every
//! parameter, for every activation, with and without hidden layers, for a family with its own
//! host gradient (Bernoulli) and families on the default one (Gaussian, Poisson); and the
//! trainer on the fused pass trains the model the tape trains. The host networks the samplers
//! and IWAE run (`dlvm::forward::HostNetworks`) compute the model's encoder and decoder.

use dlvm::dfdx::prelude::{Backward, MeanTo, Trace, ZeroGrads};
use dlvm::prelude::*;
use dlvm::train::{fused_loss_and_gradients, read_gradients, read_tensors, NamedTensor};
use rand::{rngs::StdRng, Rng, SeedableRng};
use rand_distr::StandardNormal;

dlvm! {
    model TanhBernoulli {
        latent z: 3 ~ Normal(0, I);
        observed x: 6 ~ Bernoulli(mlp(z; 5, 4; tanh));
        encoder q(z | x) = mlp(x; 7, 5; tanh);
    }
}

dlvm! {
    model ReluBernoulli {
        latent z: 3 ~ Normal(0, I);
        observed x: 6 ~ Bernoulli(mlp(z; 5; relu));
        encoder q(z | x) = mlp(x; 7; relu);
    }
}

dlvm! {
    model SigmoidGaussian {
        latent z: 2 ~ Normal(0, I);
        observed x: 5 ~ Gaussian(mlp(z; 4; sigmoid), xi = 0.01);
        encoder q(z | x) = mlp(x; 6; sigmoid);
    }
}

dlvm! {
    model SoftplusPoisson {
        latent z: 2 ~ Normal(0, I);
        observed x: 4 ~ Poisson(mlp(z; 6; softplus));
        encoder q(z | x) = mlp(x; 5; softplus);
    }
}

dlvm! {
    /// No hidden layers anywhere: the heads read the data, the decoder is one dense layer.
    model LinearGaussian {
        latent z: 2 ~ Normal(0, I);
        observed x: 4 ~ Gaussian(linear(z), xi = 0.05);
        encoder q(z | x) = linear(x);
    }
}

/// `rows × cols` values drawn by `draw`.
fn data(rows: usize, cols: usize, seed: u64, draw: impl Fn(&mut StdRng) -> f32) -> Dataset {
    let mut rng = StdRng::seed_from_u64(seed);
    let values = (0..rows * cols).map(|_| draw(&mut rng)).collect();
    Dataset::from_vec("test", rows, cols, values).unwrap()
}

fn bits(rows: usize, cols: usize, seed: u64) -> Dataset {
    bits_with(rows, cols, seed, 0.3)
}

/// Bits that are 1 with probability `p`. At most a quarter of the entries non-zero is sparse
/// for the fused pass: its first layer then works from the non-zero entries.
fn bits_with(rows: usize, cols: usize, seed: u64, p: f32) -> Dataset {
    data(rows, cols, seed, |r| {
        f32::from(u8::from(r.gen::<f32>() < p))
    })
}

/// 30 sparse rows (1 with probability 0.05) then 7 dense ones (0.7): sparse as a whole, but
/// the last shard is dense with 2 or 3 workers and takes the dense path.
fn mixed_bits(seed: u64) -> Dataset {
    let mut rng = StdRng::seed_from_u64(seed);
    let values: Vec<f32> = (0..37 * 6)
        .map(|k| {
            let p = if k < 30 * 6 { 0.05 } else { 0.7 };
            f32::from(u8::from(rng.gen::<f32>() < p))
        })
        .collect();
    Dataset::from_vec("mixed", 37, 6, values).unwrap()
}

fn reals(rows: usize, cols: usize, seed: u64) -> Dataset {
    data(rows, cols, seed, |r| {
        2.0 * r.sample::<f32, _>(StandardNormal)
    })
}

fn counts(rows: usize, cols: usize, seed: u64) -> Dataset {
    data(rows, cols, seed, |r| r.gen_range(0..6) as f32)
}

/// The loss `-(1/n) Σ ELBO` and its gradients through dfdx's tape.
fn tape_loss_and_gradients<M: Dlvm<Cpu>>(
    model: &M,
    x: &Dataset,
    eps: &[f32],
) -> (f32, Vec<NamedTensor>) {
    let dev = model.device();
    let n = x.rows();
    let xt = dev.tensor_from_vec(x.as_slice().to_vec(), (n, M::Observed::default()));
    let noise = dev.tensor_from_vec(eps.to_vec(), (n, M::Latent::default()));
    let loss = elbo(model, xt.traced(model.alloc_grads()), noise)
        .mean()
        .negate();
    let value = loss.as_vec()[0];
    let mut grads = loss.backward();
    (value, read_gradients(model, &mut grads).unwrap())
}

/// The fused loss and gradients equal the tape's: the loss to `1e-5` relative, each gradient
/// element to `1e-4` of its tensor's largest gradient (both passes add the same terms in `f32`,
/// in other orders; a wrong factor anywhere in the chain rule is an `O(1)` relative error).
fn assert_fused_matches_tape<M: Dlvm<Cpu>>(model: &M, x: &Dataset, what: &str) {
    let mut rng = StdRng::seed_from_u64(7);
    let eps: Vec<f32> = (0..x.rows() * M::latent_dim())
        .map(|_| rng.sample(StandardNormal))
        .collect();
    let rows: Vec<usize> = (0..x.rows()).collect();
    let (want_loss, want) = tape_loss_and_gradients(model, x, &eps);
    // One thread; two (rows and units split in halves); three (units split unevenly, and
    // layers with fewer units than parts).
    for workers in [1, 2, 3] {
        let what = format!("{what}, {workers} workers");
        let (loss, grads) = fused_loss_and_gradients(model, x, &rows, &eps, workers)
            .unwrap()
            .unwrap_or_else(|| panic!("{what}: the fused pass does not apply"));
        assert_close(loss, &grads, want_loss, &want, &what);
    }
}

fn assert_close(
    loss: f32,
    grads: &[NamedTensor],
    want_loss: f32,
    want: &[NamedTensor],
    what: &str,
) {
    assert!(
        (loss - want_loss).abs() <= 1e-5 * want_loss.abs(),
        "{what}: loss {loss}, tape {want_loss}"
    );
    assert_eq!(grads.len(), want.len(), "{what}: one gradient per tensor");
    for (g, w) in grads.iter().zip(want) {
        assert_eq!(
            (&g.name, &g.shape),
            (&w.name, &w.shape),
            "{what}: same order"
        );
        let largest = w.values.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(largest > 0.0, "{what}: `{}` has a zero gradient", w.name);
        for (k, (a, b)) in g.values.iter().zip(&w.values).enumerate() {
            assert!(
                (a - b).abs() <= 1e-4 * largest,
                "{what}: `{}`[{k}] fused {a}, tape {b} (largest {largest})",
                w.name
            );
        }
    }
}

#[test]
fn the_fused_gradient_is_the_tape_gradient_for_every_activation_and_family() {
    let dev = Cpu::default();
    assert_fused_matches_tape(
        &TanhBernoulli::new(&dev, 1),
        &bits(37, 6, 1),
        "tanh, Bernoulli",
    );
    assert_fused_matches_tape(
        &ReluBernoulli::new(&dev, 2),
        &bits(37, 6, 2),
        "relu, Bernoulli",
    );
    let sparse = bits_with(37, 6, 6, 0.1);
    let tanh = TanhBernoulli::new(&dev, 6);
    assert_fused_matches_tape(&tanh, &sparse, "tanh, Bernoulli, sparse data");
    let relu = ReluBernoulli::new(&dev, 7);
    assert_fused_matches_tape(
        &relu,
        &mixed_bits(7),
        "relu, Bernoulli, sparse and dense shards",
    );
    let gaussian = SigmoidGaussian::new(&dev, 3);
    assert_fused_matches_tape(&gaussian, &reals(37, 5, 3), "sigmoid, Gaussian");
    let poisson = SoftplusPoisson::new(&dev, 4);
    assert_fused_matches_tape(&poisson, &counts(37, 4, 4), "softplus, Poisson");
    let linear = LinearGaussian::new(&dev, 5);
    assert_fused_matches_tape(&linear, &reals(37, 4, 5), "no hidden layers, Gaussian");
}

/// `HostNetworks` gives the model's own encoder and decoder outputs, to `1e-5` relative.
fn assert_host_networks_match<M: Dlvm<Cpu>>(model: &M, x: &Dataset, what: &str) {
    let host = dlvm::forward::HostNetworks::of_model(model)
        .unwrap_or_else(|| panic!("{what}: no host networks"));
    let (n, dev) = (x.rows(), model.device());
    let xt = dev.tensor_from_vec(x.as_slice().to_vec(), (n, M::Observed::default()));
    let q = model.encode(xt);
    let (mean, log_variance) = host.encode(x.as_slice());
    let mut rng = StdRng::seed_from_u64(9);
    let z: Vec<f32> = (0..n * M::latent_dim())
        .map(|_| rng.sample(StandardNormal))
        .collect();
    let raw = host.decode(&z);
    let want_raw = model.decode(dev.tensor_from_vec(z.clone(), (n, M::Latent::default())));
    let pairs = [
        ("mean", mean, q.mean.as_vec()),
        ("log-variance", log_variance, q.log_variance.as_vec()),
        ("decoder", raw, want_raw.as_vec()),
    ];
    for (name, got, want) in pairs {
        assert_eq!(got.len(), want.len(), "{what}, {name}: lengths");
        for (k, (g, w)) in got.iter().zip(&want).enumerate() {
            let close = (g - w).abs() <= 1e-5 * w.abs().max(1.0);
            assert!(close, "{what}, {name}[{k}]: host {g} vs model {w}");
        }
    }
}

#[test]
fn the_host_networks_compute_the_model_networks_for_every_activation_and_family() {
    let dev = Cpu::default();
    let tanh = TanhBernoulli::new(&dev, 1);
    assert_host_networks_match(&tanh, &bits(37, 6, 1), "tanh, Bernoulli");
    assert_host_networks_match(&tanh, &bits_with(37, 6, 6, 0.1), "tanh, sparse data");
    let relu = ReluBernoulli::new(&dev, 2);
    assert_host_networks_match(&relu, &bits(37, 6, 2), "relu, Bernoulli");
    let gaussian = SigmoidGaussian::new(&dev, 3);
    assert_host_networks_match(&gaussian, &reals(37, 5, 3), "sigmoid, Gaussian");
    let poisson = SoftplusPoisson::new(&dev, 4);
    assert_host_networks_match(&poisson, &counts(37, 4, 4), "softplus, Poisson");
    let linear = LinearGaussian::new(&dev, 5);
    assert_host_networks_match(&linear, &reals(37, 4, 5), "no hidden layers, Gaussian");
}

#[test]
fn the_fused_pass_checks_its_input() {
    let model = TanhBernoulli::new(&Cpu::default(), 1);
    let x = bits(4, 6, 1);
    let err = fused_loss_and_gradients(&model, &x, &[0, 1], &[0.0; 5], 1).unwrap_err();
    assert!(
        err.to_string().contains("5 noise values for 2 rows"),
        "{err}"
    );
    let err = fused_loss_and_gradients(&model, &x, &[0, 4], &[0.0; 6], 1).unwrap_err();
    assert!(err.to_string().contains('4'), "{err}");
    let wide = bits(4, 7, 1);
    assert!(fused_loss_and_gradients(&model, &wide, &[0], &[0.0; 3], 1).is_err());
}

/// Trains `TanhBernoulli` for 3 epochs of 10 minibatches (gradients clipped at `clip`) on bits
/// that are 1 with probability `p`; returns the history and the model.
fn train(fused: bool, workers: usize, clip: Option<f64>, p: f32) -> (History, TanhBernoulli) {
    let (train, valid) = (bits_with(400, 6, 10, p), bits_with(100, 6, 11, p));
    let mut model = TanhBernoulli::new(&Cpu::default(), 0);
    let config = TrainConfig {
        epochs: 3,
        batch_size: 40,
        learning_rate: 1e-2,
        progress: false,
        fused,
        workers,
        clip_grad_norm: clip,
        ..Default::default()
    };
    let history = Trainer::new(config)
        .fit(&mut model, &train, Some(&valid))
        .unwrap();
    (history, model)
}

#[test]
fn the_trainer_on_the_fused_pass_trains_the_model_the_tape_trains() {
    let initial = read_tensors(&TanhBernoulli::new(&Cpu::default(), 0)).unwrap();
    // Without clipping Adam's step is proposed part by part as the gradient is written; with
    // clipping (at 0.1, below the gradients' norms here) the whole gradient comes first. With
    // sparse data (p = 0.1) the pass holds the first weight and its moments transposed between
    // the epochs' ends.
    let runs = [
        (1, None, 0.3),
        (2, None, 0.3),
        (2, Some(0.1), 0.3),
        (2, None, 0.1),
        (1, Some(0.1), 0.1),
    ];
    for (workers, clip, p) in runs {
        let (tape, tape_model) = train(false, 1, clip, p);
        let (fused, fused_model) = train(true, workers, clip, p);
        for (a, b) in fused.epochs.iter().zip(&tape.epochs) {
            // The two gradients differ by rounding only (previous test); over 30 Adam steps
            // that moves the ELBO by far less than 0.1%, while one epoch moves it by percents.
            let (fa, ta) = (a.train_elbo, b.train_elbo);
            assert!((fa - ta).abs() < 1e-3 * ta.abs(), "train ELBO {fa} vs {ta}");
            let (fv, tv) = (a.valid_elbo.unwrap(), b.valid_elbo.unwrap());
            assert!((fv - tv).abs() < 1e-3 * tv.abs(), "valid ELBO {fv} vs {tv}");
        }
        let first = fused.epochs[0].train_elbo;
        let last = fused.epochs[2].train_elbo;
        assert!(
            last > first + 0.05 * first.abs(),
            "trained: {first} → {last}"
        );
        // The model received the trained parameters (the fused pass trains a host copy).
        let trained = read_tensors(&fused_model).unwrap();
        let tape_trained = read_tensors(&tape_model).unwrap();
        for ((t, i), w) in trained.iter().zip(&initial).zip(&tape_trained) {
            assert_ne!(t.values, i.values, "`{}` was written back", t.name);
            let gap = t.values.iter().zip(&w.values).map(|(a, b)| (a - b).abs());
            let gap = gap.fold(0.0f32, f32::max);
            assert!(gap < 0.05, "`{}` differs from the tape's by {gap}", t.name);
        }
    }
}

//! Seeded training on small synthetic data: the ELBO improves, runs are reproducible, checkpoints
//! round-trip, and bad input is rejected with a clear error.

use dlvm::prelude::*;
use dlvm::train::read_tensors;
use rand::{rngs::StdRng, Rng, SeedableRng};

dlvm! {
    /// A small Bernoulli VAE for 16-pixel binary vectors.
    model Tiny {
        latent z: 2 ~ Normal(0, I);
        observed x: 16 ~ Bernoulli(mlp(z; 32; tanh));
        encoder q(z | x) = mlp(x; 32; tanh);
    }
}

dlvm! {
    /// Same variables, other widths: its checkpoints must not load into `Tiny`.
    model Wider {
        latent z: 2 ~ Normal(0, I);
        observed x: 16 ~ Bernoulli(mlp(z; 48; tanh));
        encoder q(z | x) = mlp(x; 32; tanh);
    }
}

/// Two prototype patterns with 5% of bits flipped: 400 rows of 16 bits.
fn synthetic(seed: u64, rows: usize) -> Dataset {
    let mut rng = StdRng::seed_from_u64(seed);
    let data = (0..rows)
        .flat_map(|i| (0..16).map(move |j| (i, j)))
        .map(|(i, j)| {
            let bit = if i % 2 == 0 { j < 8 } else { j % 2 == 0 };
            let flip = rng.gen::<f32>() < 0.05;
            f32::from(u8::from(bit != flip))
        })
        .collect();
    Dataset::from_vec("synthetic", rows, 16, data).expect("well-formed synthetic data")
}

fn quiet(epochs: usize) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size: 40,
        learning_rate: 1e-2,
        progress: false,
        ..Default::default()
    }
}

#[test]
fn two_workers_train_the_same_model_as_one_up_to_rounding() {
    let (train, valid) = (synthetic(0, 400), synthetic(1, 200));
    let run = |workers: usize| {
        let mut model = Tiny::new(&Cpu::default(), 0);
        let config = TrainConfig {
            workers,
            ..quiet(5)
        };
        let history = Trainer::new(config)
            .fit(&mut model, &train, Some(&valid))
            .unwrap();
        (history, read_tensors(&model).unwrap())
    };
    let ((one, params_one), (two, params_two)) = (run(1), run(2));
    for (a, b) in one.epochs.iter().zip(&two.epochs) {
        assert!((a.train_elbo - b.train_elbo).abs() < 1e-3, "{a:?} vs {b:?}");
    }
    let mut largest = 0.0f32;
    for (a, b) in params_one.iter().zip(&params_two) {
        for (x, y) in a.values.iter().zip(&b.values) {
            largest = largest.max((x - y).abs());
        }
    }
    // Same noise, same minibatches: only the order of additions differs.
    assert!(largest < 1e-3, "largest parameter difference {largest}");
    // And the difference is not because nothing trained.
    let untrained = read_tensors(&Tiny::new(&Cpu::default(), 0)).unwrap();
    let moved = untrained
        .iter()
        .zip(&params_one)
        .flat_map(|(a, b)| a.values.iter().zip(&b.values))
        .any(|(x, y)| (x - y).abs() > 1e-2);
    assert!(moved, "training did not change the parameters");
}

#[test]
fn training_improves_the_elbo_by_a_wide_margin() {
    let (train, valid) = (synthetic(0, 400), synthetic(1, 200));
    let mut model = Tiny::new(&Cpu::default(), 0);
    let before = model.evaluate_elbo(&valid, 200, 0).unwrap();
    let history = Trainer::new(quiet(30))
        .fit(&mut model, &train, Some(&valid))
        .unwrap();
    let after = model.evaluate_elbo(&valid, 200, 0).unwrap();
    // Before: about 16 ln 2 = 11.1 nats. A model that has learnt the two prototypes needs about
    // 16 H(0.05) + ln 2 = 3.9 nats; we ask for a gain of 4 nats, far beyond the estimates' error.
    assert!(before.mean < -9.0, "untrained ELBO {before}");
    assert!(
        after.mean > before.mean + 4.0,
        "ELBO went from {before} to {after}"
    );
    assert_eq!(history.epochs.len(), 30);
    assert!(history
        .epochs
        .iter()
        .all(|r| r.valid_elbo.is_some() && r.samples_per_sec > 0.0));
}

#[test]
fn the_same_seed_gives_the_same_numbers() {
    let train = synthetic(0, 400);
    let run = || {
        let mut model = Tiny::new(&Cpu::default(), 7);
        let h = Trainer::new(quiet(3))
            .fit(&mut model, &train, None)
            .unwrap();
        h.epochs.iter().map(|r| r.train_elbo).collect::<Vec<_>>()
    };
    assert_eq!(run(), run());
}

#[test]
fn a_checkpoint_round_trips_and_rejects_another_model() {
    let dir = std::env::temp_dir().join(format!("dlvm-ckpt-{}", std::process::id()));
    let path = dir.join("tiny.safetensors");
    let valid = synthetic(1, 200);
    let mut model = Tiny::new(&Cpu::default(), 0);
    Trainer::new(quiet(2))
        .fit(&mut model, &synthetic(0, 400), None)
        .unwrap();
    model.save(&path).unwrap();
    let mut restored = Tiny::new(&Cpu::default(), 99);
    restored.load(&path).unwrap();
    assert_eq!(
        model.evaluate_elbo(&valid, 100, 3).unwrap(),
        restored.evaluate_elbo(&valid, 100, 3).unwrap()
    );
    let mut other = Wider::new(&Cpu::default(), 0);
    let err = other.load(&path).unwrap_err().to_string();
    assert!(err.contains("does not fit model `Wider`"), "{err}");
    let err = restored
        .load(dir.join("missing.safetensors"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("no such file"), "{err}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn data_of_the_wrong_width_or_outside_the_support_is_rejected() {
    let mut model = Tiny::new(&Cpu::default(), 0);
    let trainer = Trainer::new(quiet(1));
    let wide = Dataset::from_vec("wide", 2, 17, vec![0.0; 34]).unwrap();
    let err = trainer
        .fit(&mut model, &wide, None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("17") && err.contains("16"), "{err}");
    let mut values = vec![0.0; 32];
    values[16 + 5] = 0.5;
    let grey = Dataset::from_vec("grey", 2, 16, values).unwrap();
    let err = trainer
        .fit(&mut model, &grey, None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("row 1") && err.contains("column 5") && err.contains("Bernoulli"),
        "{err}"
    );
    let mut values = vec![0.0; 32];
    values[3] = f32::NAN;
    let nan = Dataset::from_vec("nan", 2, 16, values).unwrap();
    let err = trainer.fit(&mut model, &nan, None).unwrap_err().to_string();
    assert!(err.contains("row 0") && err.contains("column 3"), "{err}");
}

#[test]
fn settings_out_of_range_are_rejected_by_name() {
    let mut model = Tiny::new(&Cpu::default(), 0);
    let train = synthetic(0, 40);
    for (config, name) in [
        (
            TrainConfig {
                batch_size: 0,
                ..quiet(1)
            },
            "batch_size",
        ),
        (
            TrainConfig {
                batch_size: 41,
                ..quiet(1)
            },
            "batch_size",
        ),
        (
            TrainConfig {
                epochs: 0,
                ..quiet(1)
            },
            "epochs",
        ),
        (
            TrainConfig {
                learning_rate: f64::NAN,
                ..quiet(1)
            },
            "learning_rate",
        ),
        (
            TrainConfig {
                patience: Some(0),
                ..quiet(1)
            },
            "patience",
        ),
    ] {
        let err = Trainer::new(config)
            .fit(&mut model, &train, None)
            .unwrap_err()
            .to_string();
        assert!(err.contains(name), "{err}");
    }
}

#[test]
fn early_stopping_restores_the_best_epoch() {
    let (train, valid) = (synthetic(0, 400), synthetic(1, 200));
    let mut model = Tiny::new(&Cpu::default(), 0);
    let config = TrainConfig {
        patience: Some(2),
        learning_rate: 0.3,
        ..quiet(25)
    };
    let history = Trainer::new(config)
        .fit(&mut model, &train, Some(&valid))
        .unwrap();
    let best = history.best_epoch.expect("a best epoch");
    let best_valid = history.epochs[best - 1].valid_elbo.unwrap();
    assert!(history
        .epochs
        .iter()
        .all(|r| r.valid_elbo.unwrap() <= best_valid));
    // With this seed and a deliberately large step the validation ELBO oscillates: the run stops.
    assert!(
        history.stopped_early && history.epochs.len() < 25,
        "{history:?}"
    );
    // The trainer validated in minibatches of 100, this evaluates all 200 rows at once: the same
    // parameters and noise, but products of other shapes (from 128 rows a sparse input skips its
    // zeros), so the per-point f32 ELBOs may differ by rounding (relative 1e-7). Restoring a
    // different epoch's parameters moves the ELBO by far more (the validation ELBO oscillates).
    let after = model.evaluate_elbo(&valid, 200, 0).unwrap().mean;
    let same_parameters = model.evaluate_elbo(&valid, 100, 0).unwrap().mean;
    assert!(
        (same_parameters - best_valid).abs() < 1e-9,
        "restored {same_parameters}, best {best_valid} (same batches)"
    );
    assert!(
        (after - best_valid).abs() < 1e-5 * best_valid.abs(),
        "restored {after}, best {best_valid}"
    );
    let other_epochs = history.epochs.iter().map(|r| r.valid_elbo.unwrap());
    let nearest = other_epochs
        .enumerate()
        .filter(|&(k, _)| k + 1 != best)
        .map(|(_, v)| (v - best_valid).abs())
        .fold(f64::INFINITY, f64::min);
    assert!(
        nearest > 1e-3 * best_valid.abs(),
        "epochs too close to tell apart: {nearest}"
    );
}

//! The new families inside `dlvm!` models: a categorical VAE learns, and data outside a family's
//! support is rejected before training with an error naming the family, the row and the column.

use dlvm::prelude::*;
use rand::{rngs::StdRng, Rng, SeedableRng};

dlvm! {
    /// 6 coordinates, each one of 4 classes.
    model Classes {
        latent z: 2 ~ Normal(0, I);
        observed x: 6 ~ Categorical<4>(mlp(z; 32; tanh));
        encoder q(z | x) = mlp(x; 32; tanh);
    }
}

dlvm! {
    /// 3 counts.
    model Counts {
        latent z: 2 ~ Normal(0, I);
        observed x: 3 ~ Poisson(mlp(z; 16; tanh));
        encoder q(z | x) = mlp(x; 16; tanh);
    }
}

/// Two prototypes, `(0, 1, 2, 3, 0, 1)` and `(3, 2, 1, 0, 3, 2)`, each coordinate replaced by a
/// uniform class with probability 0.1.
fn prototypes(rows: usize, seed: u64) -> Dataset {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut data = Vec::with_capacity(rows * 6);
    for i in 0..rows {
        for j in 0..6 {
            let class = if i % 2 == 0 { j % 4 } else { 3 - j % 4 };
            let noisy = if rng.gen::<f32>() < 0.1 {
                rng.gen_range(0..4)
            } else {
                class
            };
            data.push(noisy as f32);
        }
    }
    Dataset::from_vec("prototypes", rows, 6, data).expect("well-formed")
}

fn quiet(epochs: usize) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size: 50,
        learning_rate: 1e-2,
        progress: false,
        ..Default::default()
    }
}

#[test]
fn a_categorical_vae_learns_two_prototypes() {
    let (train, valid) = (prototypes(400, 0), prototypes(200, 1));
    let mut model = Classes::new(&Cpu::default(), 0);
    let before = model.evaluate_elbo(&valid, 200, 0).unwrap();
    Trainer::new(quiet(30))
        .fit(&mut model, &train, Some(&valid))
        .unwrap();
    let after = model.evaluate_elbo(&valid, 200, 0).unwrap();
    // Untrained: about 6 ln 4 = 8.3 nats. A model of the two prototypes needs about
    // 6 H(0.925, 0.025, 0.025, 0.025) + ln 2 = 2.8 nats; we ask for a gain of 3 nats, more than
    // 10 standard errors of either estimate (measured: 0.04 before, 0.21 after, on 200 points).
    println!("before {before}, after {after}");
    assert!(before.mean < -7.0, "untrained ELBO {before}");
    assert!(
        after.mean > before.mean + 3.0,
        "ELBO went from {before} to {after}"
    );
}

#[test]
fn a_non_count_is_rejected_before_training_with_the_family_and_position() {
    let data = Dataset::from_vec("counts", 2, 3, vec![0.0, 1.0, 4.0, 2.0, 2.5, 0.0]).unwrap();
    let mut model = Counts::new(&Cpu::default(), 0);
    let err = Trainer::new(quiet(1))
        .fit(&mut model, &data, None)
        .unwrap_err();
    let message = err.to_string();
    for needle in ["Poisson", "row 1", "column 1", "2.5"] {
        assert!(
            message.contains(needle),
            "`{needle}` missing from: {message}"
        );
    }
}

#[test]
fn a_class_index_out_of_range_is_rejected() {
    let data = Dataset::from_vec("classes", 1, 6, vec![0.0, 1.0, 2.0, 3.0, 4.0, 0.0]).unwrap();
    let model = Classes::new(&Cpu::default(), 0);
    let err = model.evaluate_elbo(&data, 1, 0).unwrap_err().to_string();
    assert!(
        err.contains("Categorical") && err.contains("column 4"),
        "{err}"
    );
}

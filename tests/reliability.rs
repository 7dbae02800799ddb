//! Training that can be trusted: resuming gives the numbers of an uninterrupted run bit for bit,
//! a diverging run stops naming epoch, batch and parameter and leaves the last good files, and a
//! process killed while writing a checkpoint leaves the previous one intact.

#[path = "common/child.rs"]
mod child;
use child::spawn_test;
use dlvm::prelude::*;
use dlvm::train::{read_tensors, write_tensors, DataFingerprint, SettingOverride, TrainState};
use rand::{rngs::StdRng, Rng, SeedableRng};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

dlvm! {
    /// A small Bernoulli VAE for 16-pixel binary vectors.
    model Tiny {
        latent z: 2 ~ Normal(0, I);
        observed x: 16 ~ Bernoulli(mlp(z; 32; tanh));
        encoder q(z | x) = mlp(x; 32; tanh);
    }
}

dlvm! {
    /// Same variables, other widths: its state must not resume `Tiny`.
    model Wider {
        latent z: 2 ~ Normal(0, I);
        observed x: 16 ~ Bernoulli(mlp(z; 48; tanh));
        encoder q(z | x) = mlp(x; 32; tanh);
    }
}

dlvm! {
    /// 1.6 million parameters: each state file is about 19 MB, so writing it takes a while.
    model Big {
        latent z: 8 ~ Normal(0, I);
        observed x: 784 ~ Bernoulli(mlp(z; 1000; tanh));
        encoder q(z | x) = mlp(x; 1000; tanh);
    }
}

/// Two prototype patterns with 5% of bits flipped.
fn synthetic(seed: u64, rows: usize, cols: usize) -> Dataset {
    let mut rng = StdRng::seed_from_u64(seed);
    let data = (0..rows)
        .flat_map(|i| (0..cols).map(move |j| (i, j)))
        .map(|(i, j)| {
            let bit = if i % 2 == 0 { j < cols / 2 } else { j % 2 == 0 };
            let flip = rng.gen::<f32>() < 0.05;
            f32::from(u8::from(bit != flip))
        })
        .collect();
    Dataset::from_vec("synthetic", rows, cols, data).expect("well-formed synthetic data")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dlvm-reliability-{}-{name}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    dir
}

fn config(epochs: usize, state: Option<PathBuf>) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size: 40,
        learning_rate: 1e-2,
        seed: 11,
        patience: Some(10),
        clip_grad_norm: Some(5.0),
        progress: false,
        state,
        ..Default::default()
    }
}

/// Every parameter's bits, in visiting order.
fn bits<M: Dlvm<Cpu>>(model: &M) -> Vec<u32> {
    read_tensors(model)
        .unwrap()
        .iter()
        .flat_map(|t| t.values.iter().map(|v| v.to_bits()))
        .collect()
}

fn elbos(history: &History) -> Vec<(u64, Option<u64>)> {
    history
        .epochs
        .iter()
        .map(|r| (r.train_elbo.to_bits(), r.valid_elbo.map(f64::to_bits)))
        .collect()
}

#[test]
fn an_interrupted_then_resumed_run_equals_an_uninterrupted_one_bit_for_bit() {
    // One worker, and two workers sharing each minibatch (data-parallel gradients).
    for workers in [1, 2] {
        resumed_equals_uninterrupted(workers);
    }
}

fn resumed_equals_uninterrupted(workers: usize) {
    let config = |epochs, state| TrainConfig {
        workers,
        ..config(epochs, state)
    };
    let (train, valid) = (synthetic(0, 400, 16), synthetic(1, 200, 16));
    let dev = Cpu::default();
    let mut straight = Tiny::new(&dev, 3);
    let uninterrupted = Trainer::new(config(6, None))
        .fit(&mut straight, &train, Some(&valid))
        .unwrap();

    let dir = scratch(&format!("resume{workers}"));
    let state = dir.join("run.state");
    let mut first = Tiny::new(&dev, 3);
    Trainer::new(config(2, Some(state.clone())))
        .fit(&mut first, &train, Some(&valid))
        .unwrap();
    // Two interruptions: after epoch 2 and after epoch 4, each time into a freshly built model
    // with other parameters, which `resume` must overwrite.
    let mut second = Tiny::new(&dev, 99);
    Trainer::new(config(4, Some(state.clone())))
        .resume(&mut second, &train, Some(&valid), &state)
        .unwrap();
    let mut third = Tiny::new(&dev, 98);
    let resumed = Trainer::new(config(6, Some(state.clone())))
        .resume(&mut third, &train, Some(&valid), &state)
        .unwrap();

    assert_eq!(elbos(&resumed), elbos(&uninterrupted));
    assert_eq!(resumed.best_epoch, uninterrupted.best_epoch);
    assert_eq!(bits(&third), bits(&straight));
    assert_eq!(TrainState::load(&state).unwrap().epoch, 6);
    // A state at or past the requested epochs trains no further.
    let mut again = Tiny::new(&dev, 97);
    let done = Trainer::new(config(6, None))
        .resume(&mut again, &train, Some(&valid), &state)
        .unwrap();
    assert_eq!(done.epochs.len(), 6);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn resuming_another_model_other_settings_or_a_damaged_file_is_refused() {
    let train = synthetic(0, 400, 16);
    let dev = Cpu::default();
    let dir = scratch("mismatch");
    let state = dir.join("run.state");
    Trainer::new(config(1, Some(state.clone())))
        .fit(&mut Tiny::new(&dev, 0), &train, None)
        .unwrap();
    let resume = |config: TrainConfig, path: &Path| {
        Trainer::new(config)
            .resume(&mut Tiny::new(&dev, 0), &train, None, path)
            .unwrap_err()
    };

    let err = Trainer::new(config(2, None))
        .resume(&mut Wider::new(&dev, 0), &train, None, &state)
        .unwrap_err();
    assert!(matches!(err, DlvmError::Resume { .. }), "{err}");
    assert!(
        err.to_string().contains("model `Tiny`, not `Wider`"),
        "{err}"
    );

    let other = TrainConfig {
        batch_size: 50,
        ..config(2, None)
    };
    let err = resume(other, &state).to_string();
    assert!(
        err.contains("`batch_size` was 40") && err.contains("50"),
        "{err}"
    );

    let other = TrainConfig {
        workers: 2,
        ..config(2, None)
    };
    let err = resume(other, &state).to_string();
    assert!(
        err.contains("`workers` was 1") && err.contains('2'),
        "{err}"
    );

    let mut bytes = std::fs::read(&state).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    let damaged = dir.join("damaged.state");
    std::fs::write(&damaged, &bytes).unwrap();
    let err = resume(config(2, None), &damaged).to_string();
    assert!(
        err.contains("checksum") && err.contains("damaged.state"),
        "{err}"
    );

    let torn = dir.join("torn.state");
    std::fs::write(&torn, &bytes[..middle]).unwrap();
    assert!(resume(config(2, None), &torn)
        .to_string()
        .contains("checksum"));

    let err = resume(config(2, None), &dir.join("missing.state")).to_string();
    assert!(
        err.contains("missing.state") && err.contains("cannot read"),
        "{err}"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_diverging_run_names_its_last_good_state_which_resumes_with_a_recorded_lower_learning_rate() {
    let train = synthetic(0, 400, 16);
    let dev = Cpu::default();
    let dir = scratch("diverge");
    let (checkpoint, state) = (dir.join("model.safetensors"), dir.join("run.state"));
    let mut model = Tiny::new(&dev, 0);
    let good = TrainConfig {
        checkpoint: Some(checkpoint.clone()),
        ..config(2, Some(state.clone()))
    };
    Trainer::new(good.clone())
        .fit(&mut model, &train, None)
        .unwrap();
    let files = (
        std::fs::read(&checkpoint).unwrap(),
        std::fs::read(&state).unwrap(),
    );

    // A step size of 1e30 moves every parameter by about 1e30 (Adam's first step is α sign(g)),
    // after which the logits overflow: the run must stop within its first epoch (epoch 3).
    let reckless = TrainConfig {
        epochs: 4,
        learning_rate: 1e30,
        clip_grad_norm: None,
        step_override: true,
        ..good.clone()
    };
    let before = bits(&model);
    let err = Trainer::new(reckless)
        .resume(&mut model, &train, None, &state)
        .unwrap_err();
    let message = err.to_string();
    let epoch = match &err {
        DlvmError::NonFinite { epoch, .. } | DlvmError::NonFiniteParameter { epoch, .. } => *epoch,
        other => panic!("expected a divergence error, got {other}"),
    };
    assert_eq!(epoch, 3, "{message}");
    assert!(message.contains("epoch 3, batch "), "{message}");
    assert!(message.contains("run.state"), "{message}");
    assert!(message.contains("step_override"), "{message}");
    assert_ne!(bits(&model), before, "the first, finite update was applied");
    assert!(read_tensors(&model)
        .unwrap()
        .iter()
        .all(|t| t.values.iter().all(|v| v.is_finite())));
    assert_eq!(
        (
            std::fs::read(&checkpoint).unwrap(),
            std::fs::read(&state).unwrap()
        ),
        files,
        "the files of the last good epoch are untouched"
    );
    let mut restored = Tiny::new(&dev, 5);
    restored.load(&checkpoint).unwrap();

    // The advice is followable: a changed learning rate without the override is refused with a
    // pointer to it, and with it the run continues and records the change.
    let careful = TrainConfig {
        epochs: 4,
        learning_rate: 1e-3,
        ..good
    };
    let err = Trainer::new(careful.clone())
        .resume(&mut Tiny::new(&dev, 1), &train, None, &state)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`learning_rate`") && err.contains("step_override"),
        "{err}"
    );
    let history = Trainer::new(TrainConfig {
        step_override: true,
        ..careful.clone()
    })
    .resume(&mut Tiny::new(&dev, 1), &train, None, &state)
    .unwrap();
    assert_eq!(history.epochs.len(), 4);
    let saved = TrainState::load(&state).unwrap();
    assert_eq!(saved.epoch, 4);
    assert_eq!(saved.settings.learning_rate, 1e-3);
    assert_eq!(
        saved.overrides,
        vec![SettingOverride {
            from_epoch: 3,
            setting: "learning_rate".into(),
            was: "0.01".into(),
            now: "0.001".into(),
        }]
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_diverging_run_names_no_file_it_did_not_write() {
    let train = synthetic(0, 400, 16);
    let dev = Cpu::default();
    let dir = scratch("older-run");
    let checkpoint = dir.join("model.safetensors");
    // An older run's checkpoint in the directory, replaced on purpose by a run that diverges
    // before writing anything.
    Trainer::new(TrainConfig {
        checkpoint: Some(checkpoint.clone()),
        ..config(1, None)
    })
    .fit(&mut Tiny::new(&dev, 0), &train, None)
    .unwrap();
    let err = Trainer::new(TrainConfig {
        checkpoint: Some(checkpoint.clone()),
        learning_rate: 1e30,
        clip_grad_norm: None,
        overwrite: true,
        ..config(1, None)
    })
    .fit(&mut Tiny::new(&dev, 0), &train, None)
    .unwrap_err();
    let message = err.to_string();
    assert!(message.contains("epoch 1, batch "), "{message}");
    assert!(!message.contains("model.safetensors"), "{message}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn resuming_on_other_data_or_from_a_state_whose_epoch_disagrees_with_its_history_is_refused() {
    let train = synthetic(0, 400, 16);
    let dev = Cpu::default();
    let dir = scratch("other-data");
    let state = dir.join("run.state");
    Trainer::new(config(2, Some(state.clone())))
        .fit(&mut Tiny::new(&dev, 0), &train, None)
        .unwrap();
    let resume = |data: &Dataset, path: &Path| {
        Trainer::new(config(3, None)).resume(&mut Tiny::new(&dev, 0), data, None, path)
    };

    // One value changed: same shape, same support, other data.
    let mut values = train.as_slice().to_vec();
    values[17] = 1.0 - values[17];
    let other = Dataset::from_vec("other", 400, 16, values).unwrap();
    let err = resume(&other, &state).unwrap_err();
    assert!(matches!(err, DlvmError::Resume { .. }), "{err}");
    let (saved, given) = (
        DataFingerprint::of(&train).hash,
        DataFingerprint::of(&other).hash,
    );
    let message = err.to_string();
    assert!(
        message.contains("other data") && message.contains(&saved) && message.contains(&given),
        "{message}"
    );
    // The same rows in another order are other data too (the shuffles would differ).
    let mut rows: Vec<usize> = (0..400).collect();
    rows.swap(0, 1);
    let mut swapped = Vec::new();
    train.gather(&rows, &mut swapped);
    let swapped = Dataset::from_vec("swapped", 400, 16, swapped).unwrap();
    assert!(matches!(
        resume(&swapped, &state),
        Err(DlvmError::Resume { .. })
    ));

    let mut inconsistent = TrainState::load(&state).unwrap();
    inconsistent.epoch = 1;
    let path = dir.join("inconsistent.state");
    inconsistent.save(&path).unwrap();
    let err = resume(&train, &path).unwrap_err();
    assert!(matches!(err, DlvmError::Resume { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("1 completed epochs but a history of 2"),
        "{err}"
    );
    resume(&train, &state).expect("the same data resumes");
    std::fs::remove_dir_all(dir).ok();
}

mod tanh_model {
    use dlvm::prelude::*;
    dlvm! {
        /// The model that writes the checkpoint.
        pub model Small {
            latent z: 2 ~ Normal(0, I);
            observed x: 16 ~ Bernoulli(mlp(z; 8; tanh));
            encoder q(z | x) = mlp(x; 8; tanh);
        }
    }
}

mod relu_model {
    use dlvm::prelude::*;
    dlvm! {
        /// Same name, tensor names and shapes; another activation.
        pub model Small {
            latent z: 2 ~ Normal(0, I);
            observed x: 16 ~ Bernoulli(mlp(z; 8; relu));
            encoder q(z | x) = mlp(x; 8; relu);
        }
    }
}

mod continuous_model {
    use dlvm::prelude::*;
    dlvm! {
        /// Same name, tensor names and shapes; another family.
        pub model Small {
            latent z: 2 ~ Normal(0, I);
            observed x: 16 ~ ContinuousBernoulli(mlp(z; 8; tanh));
            encoder q(z | x) = mlp(x; 8; tanh);
        }
    }
}

#[test]
fn a_checkpoint_loads_only_into_a_model_of_the_same_family_activations_and_widths() {
    let dev = Cpu::default();
    let dir = scratch("identity");
    let path = dir.join("small.safetensors");
    tanh_model::Small::new(&dev, 0).save(&path).unwrap();
    tanh_model::Small::new(&dev, 1)
        .load(&path)
        .expect("the same model loads");

    let mut relu = relu_model::Small::new(&dev, 1);
    let before = bits(&relu);
    let err = relu.load(&path).unwrap_err();
    assert!(matches!(err, DlvmError::Checkpoint { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("mlp(z; 8; tanh)") && message.contains("mlp(z; 8; relu)"),
        "{message}"
    );
    assert_eq!(
        bits(&relu),
        before,
        "a refused load leaves the model as it was"
    );

    let err = continuous_model::Small::new(&dev, 1)
        .load(&path)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("~ Bernoulli") && err.contains("~ ContinuousBernoulli"),
        "{err}"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_checkpoint_with_a_flipped_byte_or_a_non_finite_parameter_is_refused() {
    let dev = Cpu::default();
    let dir = scratch("corrupt");
    let path = dir.join("model.safetensors");
    let model = Tiny::new(&dev, 0);
    model.save(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let flipped = dir.join("flipped.safetensors");
    let mut target = Tiny::new(&dev, 1);
    let before = bits(&target);
    // Every byte of the header, and every 7th byte of the values.
    let header = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    for i in (0..bytes.len()).filter(|&i| i < header || i % 7 == 0) {
        let mut damaged = bytes.clone();
        damaged[i] ^= 0x10;
        std::fs::write(&flipped, &damaged).unwrap();
        let err = target.load(&flipped).unwrap_err();
        assert!(
            matches!(err, DlvmError::Checkpoint { .. }),
            "flip at {i}: {err}"
        );
        assert!(err.to_string().contains("corrupt"), "flip at {i}: {err}");
    }
    assert!(target.load(dir.join("none")).is_err());
    let torn = dir.join("torn.safetensors");
    std::fs::write(&torn, &bytes[..bytes.len() - 1]).unwrap();
    assert!(target
        .load(&torn)
        .unwrap_err()
        .to_string()
        .contains("corrupt"));
    assert_eq!(bits(&target), before, "no refused load changed the model");

    let mut poisoned = Tiny::new(&dev, 0);
    let mut tensors = read_tensors(&poisoned).unwrap();
    let name = tensors[2].name.clone();
    tensors[2].values[5] = f32::NAN;
    write_tensors(&mut poisoned, &tensors, false).unwrap();
    let nan = dir.join("nan.safetensors");
    poisoned.save(&nan).unwrap();
    let err = target.load(&nan).unwrap_err().to_string();
    assert!(
        err.contains(&format!("`{name}`")) && err.contains("NaN") && err.contains("element 5"),
        "{err}"
    );
    assert_eq!(bits(&target), before);
    target.load(&path).expect("the intact checkpoint loads");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_poisoned_parameter_stops_training_at_the_first_batch() {
    let train = synthetic(0, 400, 16);
    let mut model = Tiny::new(&Cpu::default(), 0);
    let mut tensors = read_tensors(&model).unwrap();
    tensors[0].values[3] = f32::NAN;
    write_tensors(&mut model, &tensors, false).unwrap();
    let err = Trainer::new(config(3, None))
        .fit(&mut model, &train, None)
        .unwrap_err();
    assert!(
        matches!(
            err,
            DlvmError::NonFinite {
                epoch: 1,
                batch: 0,
                what: "loss",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("lower the learning rate"), "{err}");
}

/// Environment variable that turns the kill test's binary into the child writing checkpoints.
const CHILD_DIR: &str = "DLVM_KILL_TEST_CHILD_DIR";

/// The child: trains `Big` on two rows for many epochs, writing a ~6 MB checkpoint and a ~19 MB
/// state after each, so that most of its time is spent writing them.
fn child_writes_checkpoints(dir: &Path) {
    let train = synthetic(0, 2, 784);
    let mut model = Big::new(&Cpu::default(), 0);
    let config = TrainConfig {
        epochs: 300,
        batch_size: 2,
        progress: false,
        checkpoint: Some(dir.join("model.safetensors")),
        state: Some(dir.join("run.state")),
        ..Default::default()
    };
    Trainer::new(config).fit(&mut model, &train, None).ok();
}

fn wait_for(path: &Path, limit: Duration) -> bool {
    let start = Instant::now();
    while !path.exists() {
        if start.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    true
}

#[test]
fn a_process_killed_while_writing_a_checkpoint_leaves_the_previous_one_intact() {
    if let Some(dir) = std::env::var_os(CHILD_DIR) {
        child_writes_checkpoints(Path::new(&dir));
        return;
    }
    let (mut interrupted, mut torn) = (0, 0);
    // Three kills while the state is being written, three while the model checkpoint is.
    for (attempt, target) in ["run.state", "model.safetensors"]
        .into_iter()
        .cycle()
        .take(6)
        .enumerate()
    {
        let dir = scratch(&format!("kill-{attempt}"));
        std::fs::create_dir_all(&dir).unwrap();
        let mut child = spawn_test(
            "a_process_killed_while_writing_a_checkpoint_leaves_the_previous_one_intact",
            CHILD_DIR,
            &dir,
        );
        let state = dir.join("run.state");
        assert!(
            wait_for(&state, Duration::from_secs(60)),
            "no state written"
        );
        // Wait for the next write of `target` to begin (its temporary file appears), then kill.
        let temporary = dir.join(format!("{target}.{}.dlvm-tmp", child.0.id()));
        assert!(
            wait_for(&temporary, Duration::from_secs(60)),
            "no write seen"
        );
        child.0.kill().unwrap();
        child.0.wait().unwrap();

        let saved = TrainState::load(&state).expect("the previous state is intact");
        assert!(saved.epoch >= 1 && saved.model == "Big");
        let mut model = Big::new(&Cpu::default(), 1);
        model
            .load(dir.join("model.safetensors"))
            .expect("the previous checkpoint is intact");
        if temporary.exists() {
            interrupted += 1;
            let loads = if target == "run.state" {
                TrainState::load(&temporary).is_ok()
            } else {
                Big::new(&Cpu::default(), 1).load(&temporary).is_ok()
            };
            torn += usize::from(!loads);
        }
        std::fs::remove_dir_all(dir).ok();
    }
    // The kills landed while temporaries existed: at least one write must have been cut short
    // (its temporary fails to load), while the real files above always loaded intact.
    eprintln!("{interrupted} of 6 kills interrupted a write, {torn} left a torn temporary");
    assert!(torn >= 1, "no kill tore a write");
}

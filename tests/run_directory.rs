//! The run directory: a saved run is never replaced by accident, one run at a time holds a
//! directory (a killed run's lock is released by the operating system), stale temporary files are
//! removed, and a directory that cannot be written is reported before the first epoch.

#[path = "common/child.rs"]
mod child;
use child::spawn_test;
use dlvm::prelude::*;
use dlvm::train::{RunLock, LOCK_FILE};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

dlvm! {
    /// A small Bernoulli VAE for 16-pixel binary vectors.
    model Tiny {
        latent z: 2 ~ Normal(0, I);
        observed x: 16 ~ Bernoulli(mlp(z; 16; tanh));
        encoder q(z | x) = mlp(x; 16; tanh);
    }
}

fn data() -> Dataset {
    let values = (0..64 * 16)
        .map(|k| f32::from(u8::from((k / 16 + k) % 3 == 0)))
        .collect();
    Dataset::from_vec("binary", 64, 16, values).unwrap()
}

fn scratch(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("dlvm-run-directory-{}-{name}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    dir
}

/// One quiet epoch writing `dir/model.safetensors` and `dir/train.state`.
fn config(dir: &Path) -> TrainConfig {
    TrainConfig {
        epochs: 1,
        batch_size: 16,
        progress: false,
        checkpoint: Some(dir.join("model.safetensors")),
        state: Some(dir.join("train.state")),
        ..Default::default()
    }
}

fn fit(config: TrainConfig) -> Result<History, DlvmError> {
    Trainer::new(config).fit(&mut Tiny::new(&Cpu::default(), 0), &data(), None)
}

#[test]
fn a_new_run_over_a_saved_run_is_refused_naming_the_directory_and_the_ways_on() {
    let dir = scratch("saved");
    fit(config(&dir)).unwrap();
    let files = |dir: &Path| {
        (
            std::fs::read(dir.join("model.safetensors")).unwrap(),
            std::fs::read(dir.join("train.state")).unwrap(),
        )
    };
    let saved = files(&dir);
    let err = fit(TrainConfig {
        seed: 1,
        ..config(&dir)
    })
    .unwrap_err();
    assert!(matches!(err, DlvmError::RunExists { .. }), "{err}");
    let message = err.to_string();
    for part in [
        dir.display().to_string().as_str(),
        "`train.state`",
        "`model.safetensors`",
        "--resume",
        "--overwrite",
        "another directory",
    ] {
        assert!(message.contains(part), "`{part}` missing from: {message}");
    }
    assert_eq!(files(&dir), saved, "the saved run is untouched");

    // Only the checkpoint left is a saved run too.
    std::fs::remove_file(dir.join("train.state")).unwrap();
    assert!(matches!(
        fit(config(&dir)),
        Err(DlvmError::RunExists { .. })
    ));

    // An explicit overwrite replaces it.
    fit(TrainConfig {
        seed: 1,
        overwrite: true,
        ..config(&dir)
    })
    .unwrap();
    assert_ne!(
        files(&dir).0,
        saved.0,
        "the new run's checkpoint replaced the old one"
    );
    std::fs::remove_dir_all(dir).ok();
}

/// Environment variable that turns this test binary into a child holding a directory's lock.
const CHILD_DIR: &str = "DLVM_LOCK_TEST_CHILD_DIR";

#[test]
fn a_second_run_on_a_locked_directory_fails_at_once_and_a_killed_runs_lock_is_released() {
    if let Some(dir) = std::env::var_os(CHILD_DIR) {
        // The child: a run holding the directory, until it is killed.
        let dir = PathBuf::from(dir);
        let _lock = RunLock::acquire(&dir).unwrap();
        std::fs::write(dir.join("locked"), b"").unwrap();
        std::thread::sleep(Duration::from_secs(120));
        return;
    }
    let dir = scratch("locked");
    std::fs::create_dir_all(&dir).unwrap();
    let mut child = spawn_test(
        "a_second_run_on_a_locked_directory_fails_at_once_and_a_killed_runs_lock_is_released",
        CHILD_DIR,
        &dir,
    );
    let start = Instant::now();
    while !dir.join("locked").exists() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the child never locked"
        );
        std::thread::sleep(Duration::from_millis(5));
    }

    let start = Instant::now();
    let err = fit(config(&dir)).unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "it failed at once"
    );
    assert!(matches!(err, DlvmError::RunDirectory { .. }), "{err}");
    let message = err.to_string();
    let holder = format!("process {}", child.0.id());
    for part in [
        dir.display().to_string().as_str(),
        "another training run",
        holder.as_str(),
        LOCK_FILE,
        "another directory",
    ] {
        assert!(message.contains(part), "`{part}` missing from: {message}");
    }
    assert!(
        !dir.join("train.state").exists(),
        "the second run wrote nothing"
    );

    // SIGKILL: the process cannot release anything itself; the operating system does.
    child.0.kill().unwrap();
    child.0.wait().unwrap();
    fit(config(&dir)).expect("a killed run's lock does not block the next run");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn stale_temporary_files_are_removed_when_a_run_starts() {
    let dir = scratch("stale");
    std::fs::create_dir_all(&dir).unwrap();
    let stale = ["model.safetensors.4242.dlvm-tmp", "train.state.17.dlvm-tmp"];
    for name in stale {
        std::fs::write(dir.join(name), b"torn").unwrap();
    }
    std::fs::write(dir.join("notes.tmp"), b"the user's").unwrap();
    std::fs::write(dir.join("data.123.tmp"), b"the user's").unwrap();
    fit(config(&dir)).unwrap();
    for name in stale {
        assert!(!dir.join(name).exists(), "{name} was left");
    }
    assert!(dir.join("notes.tmp").exists(), "other files are kept");
    assert!(dir.join("data.123.tmp").exists(), "other files are kept");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn an_unwritable_run_directory_is_reported_before_the_first_epoch() {
    let dir = scratch("unwritable");
    std::fs::create_dir_all(&dir).unwrap();
    // A regular file where the directory should be: it cannot be created, even by root.
    let blocked = dir.join("blocked");
    std::fs::write(&blocked, b"a file").unwrap();
    let config = TrainConfig {
        epochs: 1000,
        ..config(&blocked.join("run"))
    };
    let start = Instant::now();
    let err = fit(config).unwrap_err();
    assert!(matches!(err, DlvmError::RunDirectory { .. }), "{err}");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "refused before training"
    );
    assert!(err.to_string().contains("blocked"), "{err}");
    std::fs::remove_dir_all(dir).ok();
}

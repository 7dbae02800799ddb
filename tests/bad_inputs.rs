//! The bad-input catalogue (docs/error-catalogue.md), one test per row: each bad input gives a
//! typed error whose message names the problem, where it is (file, row, column, parameter) and
//! the fix; none panics.

use dlvm::data::{encode_npy_f32, encode_npy_f64};
use dlvm::prelude::*;
use flate2::{write::GzEncoder, Compression};
use std::io::Write;
use std::path::PathBuf;

dlvm! {
    /// A small Bernoulli VAE for 16-pixel binary vectors.
    model Tiny {
        latent z: 2 ~ Normal(0, I);
        observed x: 16 ~ Bernoulli(mlp(z; 8; tanh));
        encoder q(z | x) = mlp(x; 8; tanh);
    }
}

dlvm! {
    /// Other hidden width: its checkpoints must not load into `Tiny`.
    model Other {
        latent z: 2 ~ Normal(0, I);
        observed x: 16 ~ Bernoulli(mlp(z; 12; tanh));
        encoder q(z | x) = mlp(x; 8; tanh);
    }
}

/// The variance floor, given as a constant expression: checked when the model is built.
const NEGATIVE_FLOOR: f32 = -0.5;

dlvm! {
    /// A Gaussian model whose floor is out of range.
    model BadFloor {
        latent z: 2 ~ Normal(0, I);
        observed x: 3 ~ Gaussian(mlp(z; 4; tanh), xi = NEGATIVE_FLOOR);
        encoder q(z | x) = mlp(x; 4; tanh);
    }
}

fn dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dlvm-bad-inputs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// `bytes` with the first occurrence of `from` replaced by `to` (same length).
fn replace_once(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let at = bytes.windows(from.len()).position(|w| w == from).unwrap();
    let mut out = bytes.to_vec();
    out[at..at + to.len()].copy_from_slice(to);
    out
}

fn binary(rows: usize) -> Vec<f32> {
    (0..rows * 16).map(|i| (i % 3 == 0) as u8 as f32).collect()
}

fn assert_names(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(message.contains(part), "`{part}` missing from: {message}");
    }
}

fn quiet(batch_size: usize) -> TrainConfig {
    TrainConfig {
        epochs: 1,
        batch_size,
        progress: false,
        ..Default::default()
    }
}

#[test]
fn data_of_the_wrong_width_names_both_widths_and_the_fix() {
    let path = write("wide.npy", &encode_npy_f32(&[2, 17], &[0.0; 34]));
    let data = Dataset::from_npy(&path).unwrap();
    let err = Trainer::new(quiet(2))
        .fit(&mut Tiny::new(&Cpu::default(), 0), &data, None)
        .unwrap_err();
    assert!(
        matches!(
            err,
            DlvmError::Data(DataError::Width {
                expected: 16,
                found: 17,
                ..
            })
        ),
        "{err}"
    );
    assert_names(
        &err.to_string(),
        &["wide.npy", "17 columns", "16 values per row"],
    );
}

#[test]
fn an_unsupported_dtype_or_fortran_order_names_the_file_and_the_fix() {
    let int64 = replace_once(&encode_npy_f64(&[1, 16], &[0.0; 16]), b"<f8", b"<i8");
    let path = write("int64.npy", &int64);
    let err = Dataset::from_npy(&path).unwrap_err();
    assert!(matches!(err, DataError::UnsupportedDtype { .. }), "{err}");
    assert_names(&err.to_string(), &["int64.npy", "`<i8`", "astype('<f4')"]);

    let fortran = replace_once(&encode_npy_f32(&[1, 16], &[0.0; 16]), b"False", b"True ");
    let path = write("fortran.npy", &fortran);
    let err = Dataset::from_npy(&path).unwrap_err();
    assert!(matches!(err, DataError::FortranOrder { .. }), "{err}");
    assert_names(
        &err.to_string(),
        &["fortran.npy", "Fortran", "ascontiguousarray"],
    );
}

#[test]
fn a_truncated_or_corrupt_file_names_the_file_and_the_fix() {
    let npy = encode_npy_f32(&[4, 16], &binary(4));
    let gz = gzip(&npy);
    let path = write("cut.npy.gz", &gz[..gz.len() / 2]);
    let err = Dataset::from_npy(&path).unwrap_err();
    assert!(matches!(err, DataError::Gzip { .. }), "{err}");
    assert_names(
        &err.to_string(),
        &["cut.npy.gz", "truncated or corrupt", "gzip -t"],
    );

    let mut corrupt = gz.clone();
    let middle = corrupt.len() / 2;
    corrupt[middle] ^= 0xff;
    let path = write("flipped.npy.gz", &corrupt);
    let err = Dataset::from_npy(&path).unwrap_err();
    assert!(matches!(err, DataError::Gzip { .. }), "{err}");

    let path = write("short.npy", &npy[..npy.len() - 8]);
    let err = Dataset::from_npy(&path).unwrap_err();
    assert!(matches!(err, DataError::Truncated { .. }), "{err}");
    assert_names(
        &err.to_string(),
        &["short.npy", "256 bytes", "only 248", "write it again"],
    );

    let path = write("text.npy", b"x,y\n1,2\n");
    let err = Dataset::from_npy(&path).unwrap_err();
    assert!(matches!(err, DataError::NotNpy { .. }), "{err}");
    assert_names(&err.to_string(), &["text.npy", "numpy.save"]);
}

#[test]
fn a_missing_file_names_the_path() {
    let path = dir().join("nowhere").join("train.npy.gz");
    let err = Dataset::from_npy(&path).unwrap_err();
    assert!(matches!(err, DataError::Io { .. }), "{err}");
    assert_names(
        &err.to_string(),
        &["nowhere/train.npy.gz", "check that the path"],
    );
}

#[test]
fn an_empty_or_non_matrix_data_set_is_refused() {
    let path = write("empty.npy", &encode_npy_f32(&[0, 16], &[]));
    let err = Dataset::from_npy(&path).unwrap_err();
    assert!(matches!(err, DataError::Empty { .. }), "{err}");
    assert_names(&err.to_string(), &["empty.npy", "no rows"]);
    let err = Dataset::from_vec("empty", 0, 16, Vec::new()).unwrap_err();
    assert!(matches!(err, DataError::Empty { .. }), "{err}");

    let path = write("flat.npy", &encode_npy_f32(&[16], &[0.0; 16]));
    let err = Dataset::from_npy(&path).unwrap_err();
    assert!(matches!(err, DataError::Shape { .. }), "{err}");
    assert_names(&err.to_string(), &["flat.npy", "[16]", "reshape"]);
}

#[test]
fn nan_or_infinity_in_data_names_row_and_column() {
    for (bad, shown) in [
        (f32::NAN, "NaN"),
        (f32::INFINITY, "inf"),
        (f32::NEG_INFINITY, "-inf"),
    ] {
        let mut values = binary(3);
        values[2 * 16 + 7] = bad;
        let data = Dataset::from_vec("scan", 3, 16, values).unwrap();
        let err = Tiny::new(&Cpu::default(), 0)
            .evaluate_elbo(&data, 3, 0)
            .unwrap_err();
        assert!(
            matches!(
                err,
                DlvmError::Data(DataError::NonFinite {
                    row: 2,
                    column: 7,
                    ..
                })
            ),
            "{err}"
        );
        assert_names(
            &err.to_string(),
            &[shown, "row 2, column 7", "`scan`", "remove or replace"],
        );
    }
}

#[test]
fn values_outside_the_support_name_row_column_and_family() {
    let mut values = binary(3);
    values[16 + 4] = 2.0;
    let data = Dataset::from_vec("counts", 3, 16, values).unwrap();
    let model = Tiny::new(&Cpu::default(), 0);
    let err = model.reconstruct(&data, &[0], 0).unwrap_err();
    assert!(
        matches!(
            err,
            DlvmError::Data(DataError::OutOfSupport {
                row: 1,
                column: 4,
                ..
            })
        ),
        "{err}"
    );
    assert_names(
        &err.to_string(),
        &["row 1, column 4", "Bernoulli", "binarize"],
    );
}

#[test]
fn a_batch_size_of_zero_or_above_the_data_names_the_setting() {
    let data = Dataset::from_vec("ten", 10, 16, binary(10)).unwrap();
    let mut model = Tiny::new(&Cpu::default(), 0);
    for size in [0, 11] {
        let err = Trainer::new(quiet(size))
            .fit(&mut model, &data, None)
            .unwrap_err();
        assert!(
            matches!(
                err,
                DlvmError::Config {
                    parameter: "batch_size",
                    ..
                }
            ),
            "{err}"
        );
        let err = model.evaluate_elbo(&data, size, 0).unwrap_err();
        assert!(
            matches!(
                err,
                DlvmError::Config {
                    parameter: "batch_size",
                    ..
                }
            ),
            "{err}"
        );
        assert_names(&err.to_string(), &["between 1 and the number of rows (10)"]);
    }
}

#[test]
fn out_of_range_hyper_parameters_name_the_parameter() {
    let data = Dataset::from_vec("ten", 10, 16, binary(10)).unwrap();
    let mut model = Tiny::new(&Cpu::default(), 0);
    let cases = [
        (
            TrainConfig {
                learning_rate: f64::NAN,
                ..quiet(5)
            },
            "learning_rate",
        ),
        (
            TrainConfig {
                learning_rate: f64::INFINITY,
                ..quiet(5)
            },
            "learning_rate",
        ),
        (
            TrainConfig {
                learning_rate: -1e-3,
                ..quiet(5)
            },
            "learning_rate",
        ),
        (
            TrainConfig {
                betas: [0.9, 1.0],
                ..quiet(5)
            },
            "betas",
        ),
        (
            TrainConfig {
                betas: [f64::NAN, 0.9],
                ..quiet(5)
            },
            "betas",
        ),
        (
            TrainConfig {
                clip_grad_norm: Some(0.0),
                ..quiet(5)
            },
            "clip_grad_norm",
        ),
        (
            TrainConfig {
                clip_grad_norm: Some(f64::NAN),
                ..quiet(5)
            },
            "clip_grad_norm",
        ),
        (
            TrainConfig {
                epochs: 0,
                ..quiet(5)
            },
            "epochs",
        ),
        (
            TrainConfig {
                patience: Some(0),
                ..quiet(5)
            },
            "patience",
        ),
        (
            TrainConfig {
                workers: 0,
                ..quiet(5)
            },
            "workers",
        ),
    ];
    for (config, parameter) in cases {
        let err = Trainer::new(config)
            .fit(&mut model, &data, None)
            .unwrap_err();
        match &err {
            DlvmError::Config { parameter: p, .. } => assert_eq!(*p, parameter, "{err}"),
            other => panic!("expected a Config error for {parameter}, got {other}"),
        }
        assert_names(&err.to_string(), &[parameter, "must"]);
    }
    // Zero worker threads for IWAE and the samplers.
    let iwae = IwaeConfig {
        threads: 0,
        ..IwaeConfig::new(10)
    };
    let err = model.iwae_with(&data, &iwae).unwrap_err();
    assert!(
        matches!(
            err,
            DlvmError::Config {
                parameter: "threads",
                ..
            }
        ),
        "{err}"
    );
    assert_names(&err.to_string(), &["threads", "must be at least 1"]);
    let options = ImputeOptions {
        threads: 0,
        ..Default::default()
    };
    let mask = Mask::mcar(10, 16, 0.5, 0).unwrap();
    let err = model.pseudo_gibbs(&data, &mask, &options).unwrap_err();
    assert!(
        matches!(
            err,
            DlvmError::Config {
                parameter: "threads",
                ..
            }
        ),
        "{err}"
    );
    assert_names(&err.to_string(), &["threads", "must be >= 1"]);
    // The variance floor, given at run time through a constant expression or directly.
    let err = BadFloor::try_new(&Cpu::default(), 0).unwrap_err();
    assert!(matches!(err, DlvmError::Family(_)), "{err}");
    assert_names(
        &err.to_string(),
        &["`xi`", "Gaussian", "-0.5", "finite number > 0"],
    );
    for xi in [0.0, f32::NAN, f32::INFINITY] {
        let err = Gaussian::<Diagonal>::with_floor(xi).unwrap_err();
        assert_eq!(err.argument, "xi");
    }
}

#[test]
fn a_checkpoint_of_another_model_is_refused_by_name() {
    let path = dir().join("other.safetensors");
    Other::new(&Cpu::default(), 0).save(&path).unwrap();
    let mut model = Tiny::new(&Cpu::default(), 0);
    let before = model.evaluate_elbo(&Dataset::from_vec("d", 4, 16, binary(4)).unwrap(), 4, 0);
    let err = model.load(&path).unwrap_err();
    assert!(matches!(err, DlvmError::Checkpoint { .. }), "{err}");
    assert_names(
        &err.to_string(),
        &["other.safetensors", "does not fit model `Tiny`"],
    );
    let after = model.evaluate_elbo(&Dataset::from_vec("d", 4, 16, binary(4)).unwrap(), 4, 0);
    assert_eq!(
        before.unwrap(),
        after.unwrap(),
        "a refused load leaves the model as it was"
    );
    let err = model
        .load(write("garbage.safetensors", b"not a checkpoint"))
        .unwrap_err();
    assert!(matches!(err, DlvmError::Checkpoint { .. }), "{err}");
}

#[test]
fn row_indices_outside_the_data_are_refused_and_zero_draws_are_empty() {
    let data = Dataset::from_vec("four", 4, 16, binary(4)).unwrap();
    let model = Tiny::new(&Cpu::default(), 0);
    let err = model.reconstruct(&data, &[1, 4], 0).unwrap_err();
    assert!(
        matches!(
            err,
            DlvmError::Data(DataError::RowOutOfRange {
                row: 4,
                rows: 4,
                ..
            })
        ),
        "{err}"
    );
    assert_names(&err.to_string(), &["row 4", "`four`", "4 rows", "below 4"]);
    let none = model.sample(0, 0);
    assert!(none.mean.is_empty() && none.sample.is_empty());
}

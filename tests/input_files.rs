//! Input files that cost memory or hide their values, and errors as `main` prints them
//! (issue 16, items 4, 9 and 20): each gives a typed error naming the file and the fix.

use dlvm::data::{encode_npy_f64, encode_npy_u8, DataError};
use dlvm::prelude::*;
use flate2::{write::GzEncoder, Compression};
use std::io::Write;
use std::path::PathBuf;

fn write(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dlvm-input-files-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Peak resident memory of this process so far, in bytes (Linux; `None` elsewhere).
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[test]
fn a_gzip_bomb_is_refused_without_inflating_it() {
    // A 2x2 array followed by 1 GiB of zeros: about 1 MB compressed. Today's reader inflated it
    // all (and more); now reading stops one byte past the announced 4 bytes.
    let header = encode_npy_u8(&[2, 2], &[1, 0, 0, 1]);
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(&header).unwrap();
    let block = vec![0u8; 1 << 20];
    for _ in 0..1024 {
        encoder.write_all(&block).unwrap();
    }
    let path = write("bomb.npy.gz", &encoder.finish().unwrap());
    let before = peak_rss();
    let err = Dataset::from_npy(&path).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, DataError::TrailingData { .. }), "{message}");
    assert!(
        message.contains("bomb.npy.gz") && message.contains("write it again"),
        "{message}"
    );
    if let (Some(before), Some(after)) = (before, peak_rss()) {
        let grown = after.saturating_sub(before);
        assert!(
            grown < 64 << 20,
            "reading grew the peak memory by {grown} bytes"
        );
    }
}

#[test]
fn a_double_beyond_f32_range_is_named_with_its_value() {
    let path = write(
        "huge.npy",
        &encode_npy_f64(&[2, 2], &[0.0, 1.0, 1e300, 2.0]),
    );
    let err = Dataset::from_npy(&path).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, DataError::BeyondF32 { .. }), "{message}");
    assert!(
        message.contains("1e300") && message.contains("[1, 0]") && !message.contains("inf"),
        "{message}"
    );
}

#[test]
fn taking_zero_rows_is_an_error() {
    let data = Dataset::from_vec("d", 2, 1, vec![0.0, 1.0]).unwrap();
    let err = data.take(0).unwrap_err();
    assert!(matches!(err, DataError::Empty { .. }), "{err}");
}

#[test]
fn the_debug_form_of_an_error_is_its_message() {
    // `fn main() -> Result<(), DlvmError>` prints the error with `{:?}`.
    let data = Dataset::from_vec("my data", 1, 2, vec![0.0, 1.0]).unwrap();
    let err: DlvmError = data.check_width(3).unwrap_err().into();
    let debug = format!("{err:?}");
    assert_eq!(debug, err.to_string());
    assert!(
        debug.contains("`my data` has 2 columns") && !debug.contains("Width {"),
        "{debug}"
    );
    let data_err = data.check_width(3).unwrap_err();
    assert_eq!(format!("{data_err:?}"), data_err.to_string());
}

#[test]
fn shipped_data_files_hold_exactly_their_arrays() {
    // The stricter reader (nothing may follow the announced array) accepts every shipped file.
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    let mut read = 0;
    for entry in std::fs::read_dir(&data).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".npy") || name.ends_with(".npy.gz") {
            let array = dlvm::data::read_npy(&path).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                array.data.len(),
                array.shape.iter().product::<usize>(),
                "{name}"
            );
            read += 1;
        }
    }
    assert!(
        read >= 4,
        "only {read} data files found in {}",
        data.display()
    );
}

//! Fuzzing the `.npy(.gz)` reader: mutated valid files must give an array or a typed error,
//! never a panic, and every array returned must be consistent (values = product of the shape).
//! The committed corpus `tests/corpus/npy/` (`ok-*` parse, `err-*` are refused) is replayed
//! here as a regression test.
//!
//! `PROPTEST_CASES=N cargo test --test fuzz_npy` runs N cases per property (default 256).

use dlvm::data::{encode_npy_f32, encode_npy_f64, encode_npy_u8, parse_npy, NpyArray};
use dlvm::prelude::*;
use flate2::{write::GzEncoder, Compression};
use proptest::prelude::*;
use std::io::Write;
use std::path::{Path, PathBuf};

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/npy")
}

/// The corpus: `(file name, bytes)`, sorted by name.
fn corpus() -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(corpus_dir())
        .expect("tests/corpus/npy exists")
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let name = path.file_name()?.to_str()?.to_owned();
            Some((name, std::fs::read(&path).ok()?))
        })
        .collect();
    files.sort();
    files
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// Parses `bytes`; a returned array must hold exactly the product of its shape.
fn parse_consistently(bytes: &[u8]) -> Option<NpyArray> {
    let array = parse_npy(bytes, Path::new("fuzz.npy")).ok()?;
    let count = array
        .shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d));
    assert_eq!(count, Some(array.data.len()), "shape {:?}", array.shape);
    Some(array)
}

#[test]
fn the_corpus_parses_or_is_refused_as_labelled() {
    let corpus = corpus();
    assert!(corpus.len() >= 25, "corpus has only {} files", corpus.len());
    for (name, bytes) in &corpus {
        let parsed = parse_consistently(bytes);
        if name.starts_with("ok-") {
            assert!(parsed.is_some(), "{name} should parse");
        } else {
            assert!(parsed.is_none(), "{name} should be refused");
        }
        // Through the public entry point too: a data set or a typed error, never a panic.
        let loaded = Dataset::from_npy(corpus_dir().join(name));
        if let Ok(data) = loaded {
            assert_eq!(data.as_slice().len(), data.rows() * data.cols(), "{name}");
        }
    }
}

/// A byte-level mutation.
#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Set(usize, u8),
    Truncate(usize),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    /// Overwrites bytes with header-like text, to reach the literal parser.
    Text(usize, String),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let at = any::<usize>();
    prop_oneof![
        (at, any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (at, any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        at.prop_map(Mutation::Truncate),
        (at, prop::collection::vec(any::<u8>(), 1..16)).prop_map(|(i, b)| Mutation::Insert(i, b)),
        (at, 1..32usize).prop_map(|(i, n)| Mutation::Delete(i, n)),
        (at, "[(){}\\[\\]',:0-9a-zA-Z<|>TrueFalsNoneL -]{1,24}")
            .prop_map(|(i, s)| Mutation::Text(i, s)),
    ]
}

fn mutate(bytes: &mut Vec<u8>, m: &Mutation) {
    let n = bytes.len();
    if n == 0 {
        return;
    }
    match m {
        Mutation::Flip(i, b) => bytes[i % n] ^= b.max(&1),
        Mutation::Set(i, b) => bytes[i % n] = *b,
        Mutation::Truncate(i) => bytes.truncate(i % n),
        Mutation::Insert(i, b) => {
            let at = i % (n + 1);
            bytes.splice(at..at, b.iter().copied());
        }
        Mutation::Delete(i, len) => {
            let at = i % n;
            bytes.drain(at..(at + len).min(n));
        }
        Mutation::Text(i, s) => {
            // Aim inside the header (bytes 10..128) most of the time.
            let at = 8 + i % n.clamp(1, 120);
            for (k, b) in s.bytes().enumerate() {
                if let Some(slot) = bytes.get_mut(at + k) {
                    *slot = b;
                }
            }
        }
    }
}

/// A valid file: random dtype, shape and values, optionally gzip-compressed.
fn valid_file() -> impl Strategy<Value = Vec<u8>> {
    (
        0..3u8,
        prop::collection::vec(0..5usize, 0..4),
        any::<u64>(),
        any::<bool>(),
    )
        .prop_map(|(dtype, shape, seed, compress)| {
            let n: usize = shape.iter().product();
            let value = |i: usize| ((seed.wrapping_mul(i as u64 + 1)) >> 40) as u32;
            let bytes = match dtype {
                0 => encode_npy_u8(&shape, &(0..n).map(|i| value(i) as u8).collect::<Vec<_>>()),
                1 => encode_npy_f32(
                    &shape,
                    &(0..n).map(|i| f32::from_bits(value(i))).collect::<Vec<_>>(),
                ),
                _ => encode_npy_f64(
                    &shape,
                    &(0..n)
                        .map(|i| f64::from(value(i)) / 7.0)
                        .collect::<Vec<_>>(),
                ),
            };
            if compress {
                gzip(&bytes)
            } else {
                bytes
            }
        })
}

proptest! {
    #[test]
    fn valid_files_round_trip(
        shape in prop::collection::vec(0..6usize, 0..4),
        bits in prop::collection::vec(any::<u32>(), 0..216),
        compress in any::<bool>(),
    ) {
        let n: usize = shape.iter().product();
        let values: Vec<f32> = (0..n).map(|i| f32::from_bits(bits.get(i).copied().unwrap_or(0))).collect();
        let mut bytes = encode_npy_f32(&shape, &values);
        if compress {
            bytes = gzip(&bytes);
        }
        let array = parse_consistently(&bytes).expect("a valid file parses");
        prop_assert_eq!(&array.shape, &shape);
        let got: Vec<u32> = array.data.iter().map(|v| v.to_bits()).collect();
        let want: Vec<u32> = values.iter().map(|v| v.to_bits()).collect();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn mutated_files_never_panic(
        base in valid_file(),
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        let mut bytes = base;
        for m in &mutations {
            mutate(&mut bytes, m);
        }
        parse_consistently(&bytes);
    }

    #[test]
    fn mutated_corpus_files_never_panic(
        pick in any::<usize>(),
        mutations in prop::collection::vec(mutation(), 1..6),
        recompress in any::<bool>(),
    ) {
        let corpus = corpus();
        let mut bytes = corpus[pick % corpus.len()].1.clone();
        for m in &mutations {
            mutate(&mut bytes, m);
        }
        if recompress {
            bytes = gzip(&bytes);
        }
        parse_consistently(&bytes);
    }
}

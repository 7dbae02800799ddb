//! Reader and writer for NumPy `.npy` files (format versions 1.0, 2.0 and
//! 3.0), optionally gzip-compressed.
//!
//! Gzip is detected by its magic bytes (`0x1f 0x8b`), not by the file name.
//! Supported element types are `|u1` (also `<u1`, `u1`), `<f4` and `<f8`;
//! values are converted to `f32`. Only C (row-major) order is supported.

use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use flate2::bufread::MultiGzDecoder;

use super::error::DataError;

/// The magic bytes every `.npy` file starts with.
const MAGIC: &[u8; 6] = b"\x93NUMPY";
/// The magic bytes every gzip stream starts with.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// Alignment of the array data written by the encoders.
const ALIGN: usize = 64;
/// Maximum nesting of literals in a header (guards against stack overflow).
const MAX_DEPTH: usize = 16;
/// Longest header accepted, in bytes (numpy writes a few hundred; a larger announcement is a
/// corrupt or hostile file, refused before anything is allocated for it).
pub const MAX_HEADER_BYTES: usize = 1 << 20;
/// Most decompressed bytes read past a format error to tell a damaged gzip stream (reported as
/// such) from a well-formed file that is not a valid array.
const MAX_DRAIN_BYTES: usize = 1 << 26;
/// Most bytes reserved for the array data before any of it has been read (the buffer then
/// grows with the data actually present).
const INITIAL_PAYLOAD_CAPACITY: usize = 1 << 26;

/// An n-dimensional array read from a `.npy` file, in C (row-major) order,
/// with its values converted to `f32`.
#[derive(Clone, Debug, PartialEq)]
pub struct NpyArray {
    /// The array's shape (`[]` for a 0-d array).
    pub shape: Vec<usize>,
    /// The values, row-major; `data.len()` is the product of `shape`.
    pub data: Vec<f32>,
}

/// Reads a `.npy` file, gzip-compressed or not, converting values to `f32`.
///
/// The file is read as a stream: only the bytes that the header announces are kept, so memory
/// stays bounded by the array's own size whatever else the file holds.
///
/// # Errors
///
/// [`DataError::Io`] if the file cannot be read, and every error of
/// [`parse_npy`].
pub fn read_npy(path: impl AsRef<Path>) -> Result<NpyArray, DataError> {
    let path = path.as_ref();
    let file = fs::File::open(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    read_stream(BufReader::new(file), path)
}

/// Parses the bytes of a `.npy` file, decompressing them first if they start
/// with the gzip magic bytes. `path` is only used in error messages.
///
/// # Errors
///
/// - [`DataError::Gzip`] for a truncated or corrupt gzip stream,
/// - [`DataError::NotNpy`] if the bytes lack the `.npy` magic,
/// - [`DataError::Header`] for a malformed header, an unsupported version or a header
///   longer than [`MAX_HEADER_BYTES`],
/// - [`DataError::UnsupportedDtype`] for a dtype other than `|u1`, `<f4`, `<f8`,
/// - [`DataError::FortranOrder`] for column-major arrays,
/// - [`DataError::Truncated`] if fewer data bytes follow than the shape needs,
/// - [`DataError::TrailingData`] if more bytes follow than the shape needs (read no further
///   than one byte past the announced end, so a decompression bomb costs no memory).
pub fn parse_npy(bytes: &[u8], path: &Path) -> Result<NpyArray, DataError> {
    read_stream(bytes, path)
}

/// Reads one array from `reader`, decompressing on the fly when it starts with the gzip magic.
fn read_stream<R: BufRead>(mut reader: R, path: &Path) -> Result<NpyArray, DataError> {
    let start = reader.fill_buf().map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if start.starts_with(&GZIP_MAGIC) {
        let mut stream = Stream {
            reader: MultiGzDecoder::new(reader),
            path,
            gzip: true,
        };
        stream.array().map_err(|e| stream.root_cause(e))
    } else {
        let mut stream = Stream {
            reader,
            path,
            gzip: false,
        };
        stream.array()
    }
}

/// A `.npy` byte stream being parsed, with what its read errors mean.
struct Stream<'p, R> {
    /// The (decompressed) bytes.
    reader: R,
    /// The file, for messages.
    path: &'p Path,
    /// Whether the bytes come out of a gzip decoder (read errors are then [`DataError::Gzip`]).
    gzip: bool,
}

impl<R: Read> Stream<'_, R> {
    /// Reads the preamble, the header, exactly the data it announces, and checks that nothing
    /// follows.
    fn array(&mut self) -> Result<NpyArray, DataError> {
        let text = self.header_text()?;
        let header = parse_header(&text).map_err(|reason| header_error(self.path, reason))?;
        let dtype =
            Dtype::from_descr(&header.descr).ok_or_else(|| DataError::UnsupportedDtype {
                path: self.path.to_path_buf(),
                dtype: header.descr.clone(),
            })?;
        if header.fortran_order {
            return Err(DataError::FortranOrder {
                path: self.path.to_path_buf(),
            });
        }
        let expected_bytes = element_count(&header.shape)
            .and_then(|n| n.checked_mul(dtype.size()))
            .ok_or_else(|| {
                let reason = format!("shape {:?} is too large", header.shape);
                header_error(self.path, reason)
            })?;
        let payload = self.payload(expected_bytes)?;
        self.expect_end(expected_bytes, &header.shape)?;
        let data = dtype
            .convert(&payload)
            .map_err(|(flat, value)| DataError::BeyondF32 {
                path: self.path.to_path_buf(),
                index: unravel(flat, &header.shape),
                value,
            })?;
        Ok(NpyArray {
            shape: header.shape,
            data,
        })
    }

    /// Checks the magic and version and returns the decoded header text.
    fn header_text(&mut self) -> Result<String, DataError> {
        let mut preamble = [0u8; 8];
        let got = self.fill(&mut preamble)?;
        if got < MAGIC.len() || !preamble.starts_with(MAGIC) {
            return Err(DataError::NotNpy {
                path: self.path.to_path_buf(),
            });
        }
        if got < preamble.len() {
            return Err(header_error(self.path, "file ends inside the preamble"));
        }
        let (major, minor) = (preamble[6], preamble[7]);
        let mut len_bytes = match (major, minor) {
            (1, 0) => vec![0u8; 2],
            (2 | 3, 0) => vec![0u8; 4],
            _ => {
                let reason = format!(
                    "format version {major}.{minor} is not supported (supported: 1.0, 2.0, 3.0)"
                );
                return Err(header_error(self.path, reason));
            }
        };
        if self.fill(&mut len_bytes)? < len_bytes.len() {
            return Err(header_error(self.path, "file ends inside the preamble"));
        }
        let header_len = len_bytes
            .iter()
            .rev()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        if header_len > MAX_HEADER_BYTES {
            let reason = format!(
                "the preamble announces a header of {header_len} bytes, more than the {MAX_HEADER_BYTES} \
                 this reader accepts (numpy writes a few hundred)"
            );
            return Err(header_error(self.path, reason));
        }
        let mut raw = vec![0u8; header_len];
        let found = self.fill(&mut raw)?;
        if found < header_len {
            let reason = format!(
                "file ends inside the header (the preamble announces {header_len} header bytes, only {found} follow)"
            );
            return Err(header_error(self.path, reason));
        }
        decode_header(&raw, major).map_err(|reason| header_error(self.path, reason))
    }

    /// Reads exactly `expected_bytes` of array data; the buffer grows only as data arrives, so
    /// a header that announces more than the file holds costs no memory.
    fn payload(&mut self, expected_bytes: usize) -> Result<Vec<u8>, DataError> {
        let mut payload = Vec::with_capacity(expected_bytes.min(INITIAL_PAYLOAD_CAPACITY));
        let limit = u64::try_from(expected_bytes).unwrap_or(u64::MAX);
        (&mut self.reader)
            .take(limit)
            .read_to_end(&mut payload)
            .map_err(|source| self.read_error(source))?;
        if payload.len() < expected_bytes {
            return Err(DataError::Truncated {
                path: self.path.to_path_buf(),
                expected_bytes,
                found_bytes: payload.len(),
            });
        }
        Ok(payload)
    }

    /// Refuses a stream that holds more than the announced array (reading at most one more
    /// byte; reaching the end also makes the gzip decoder verify its checksum).
    fn expect_end(&mut self, expected_bytes: usize, shape: &[usize]) -> Result<(), DataError> {
        let mut probe = [0u8; 1];
        if self.fill(&mut probe)? > 0 {
            return Err(DataError::TrailingData {
                path: self.path.to_path_buf(),
                shape: shape.to_vec(),
                expected_bytes,
            });
        }
        Ok(())
    }

    /// The error to report for `error`, met while parsing a gzip stream: a corrupt stream can
    /// inflate to garbage before its checksum is reached, so a format error is checked against
    /// the rest of the stream (read and discarded, at most [`MAX_DRAIN_BYTES`]), and
    /// [`DataError::Gzip`] is reported when the stream itself is damaged.
    fn root_cause(&mut self, error: DataError) -> DataError {
        if matches!(error, DataError::Gzip { .. } | DataError::Io { .. }) {
            return error;
        }
        let limit = u64::try_from(MAX_DRAIN_BYTES).unwrap_or(u64::MAX);
        match std::io::copy(&mut (&mut self.reader).take(limit), &mut std::io::sink()) {
            Err(source) => self.read_error(source),
            Ok(_) => error,
        }
    }

    /// Reads until `buf` is full or the stream ends; returns the bytes read.
    fn fill(&mut self, buf: &mut [u8]) -> Result<usize, DataError> {
        let mut filled = 0;
        while filled < buf.len() {
            match self.reader.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(source) => return Err(self.read_error(source)),
            }
        }
        Ok(filled)
    }

    /// What a read error means for this stream.
    fn read_error(&self, source: std::io::Error) -> DataError {
        let path = self.path.to_path_buf();
        if self.gzip {
            DataError::Gzip { path, source }
        } else {
            DataError::Io { path, source }
        }
    }
}

/// The C-order multi-index of flat position `flat` in an array of `shape`.
fn unravel(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut index = vec![0; shape.len()];
    for (slot, &dim) in index.iter_mut().zip(shape).rev() {
        if dim > 0 {
            *slot = flat % dim;
            flat /= dim;
        }
    }
    index
}

/// Builds a [`DataError::Header`].
fn header_error(path: &Path, reason: impl Into<String>) -> DataError {
    DataError::Header {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Decodes header bytes: UTF-8 for version 3, Latin-1 for versions 1 and 2.
fn decode_header(raw: &[u8], major: u8) -> Result<String, String> {
    if major >= 3 {
        std::str::from_utf8(raw)
            .map(str::to_owned)
            .map_err(|e| format!("header is not valid UTF-8 ({e})"))
    } else {
        Ok(raw.iter().map(|&b| char::from(b)).collect())
    }
}

/// Product of the shape's dimensions, `None` on overflow.
fn element_count(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
}

/// The element types this reader supports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dtype {
    /// Unsigned 8-bit integers.
    U8,
    /// Little-endian 32-bit floats.
    F32,
    /// Little-endian 64-bit floats.
    F64,
}

impl Dtype {
    /// Maps a NumPy dtype string to a supported type.
    fn from_descr(descr: &str) -> Option<Self> {
        match descr {
            "|u1" | "<u1" | ">u1" | "=u1" | "u1" => Some(Self::U8),
            "<f4" => Some(Self::F32),
            "<f8" => Some(Self::F64),
            _ => None,
        }
    }

    /// Size of one element in bytes.
    fn size(self) -> usize {
        match self {
            Self::U8 => 1,
            Self::F32 => 4,
            Self::F64 => 8,
        }
    }

    /// Converts raw little-endian bytes (a whole number of elements) to `f32`.
    ///
    /// # Errors
    /// The flat index and value of the first `<f8` value that is finite but beyond `f32`'s
    /// range (it would silently become infinite).
    fn convert(self, raw: &[u8]) -> Result<Vec<f32>, (usize, f64)> {
        match self {
            Self::U8 => Ok(raw.iter().map(|&b| f32::from(b)).collect()),
            Self::F32 => Ok(raw
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(le_array(c)))
                .collect()),
            Self::F64 => raw
                .chunks_exact(8)
                .enumerate()
                .map(|(i, c)| {
                    let wide = f64::from_le_bytes(le_array(c));
                    let narrow = wide as f32;
                    if narrow.is_infinite() && wide.is_finite() {
                        Err((i, wide))
                    } else {
                        Ok(narrow)
                    }
                })
                .collect(),
        }
    }
}

/// Copies a chunk of exactly `N` bytes into an array (zeros if the length
/// differs, which `chunks_exact(N)` rules out).
fn le_array<const N: usize>(chunk: &[u8]) -> [u8; N] {
    chunk.try_into().unwrap_or([0; N])
}

/// The three keys of a `.npy` header.
#[derive(Debug, PartialEq)]
struct Header {
    /// The dtype string, or the literal's source text if it is not a string
    /// (e.g. a structured dtype list).
    descr: String,
    /// Whether the data is stored column-major.
    fortran_order: bool,
    /// The array's shape.
    shape: Vec<usize>,
}

/// Parses a header dict literal such as
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`.
fn parse_header(text: &str) -> Result<Header, String> {
    let mut parser = LiteralParser::new(text);
    let entries = parser.top_level_dict()?;
    let mut descr = None;
    let mut fortran_order = None;
    let mut shape = None;
    for entry in entries {
        match entry.key.as_str() {
            "descr" => descr = Some(descr_text(entry.value, entry.raw)),
            "fortran_order" => fortran_order = Some(bool_value(entry.value)?),
            "shape" => shape = Some(shape_value(entry.value)?),
            _ => {}
        }
    }
    Ok(Header {
        descr: descr.ok_or("missing key 'descr'")?,
        fortran_order: fortran_order.ok_or("missing key 'fortran_order'")?,
        shape: shape.ok_or("missing key 'shape'")?,
    })
}

/// The dtype string, or the literal's source text for non-string dtypes.
fn descr_text(value: Literal, raw: &str) -> String {
    match value {
        Literal::Str(s) => s,
        _ => raw.trim().to_owned(),
    }
}

/// Interprets the `fortran_order` value.
fn bool_value(value: Literal) -> Result<bool, String> {
    match value {
        Literal::Bool(b) => Ok(b),
        other => Err(format!(
            "'fortran_order' must be True or False, found {other:?}"
        )),
    }
}

/// Interprets the `shape` value: a tuple of non-negative integers.
fn shape_value(value: Literal) -> Result<Vec<usize>, String> {
    let Literal::Tuple(items) = value else {
        return Err(format!("'shape' must be a tuple, found {value:?}"));
    };
    items
        .into_iter()
        .map(|item| match item {
            Literal::Int(n) => {
                usize::try_from(n).map_err(|_| format!("invalid dimension {n} in 'shape'"))
            }
            other => Err(format!("'shape' must hold integers, found {other:?}")),
        })
        .collect()
}

/// A Python literal, as far as `.npy` headers need them.
#[derive(Debug, PartialEq)]
enum Literal {
    /// A string.
    Str(String),
    /// `True` or `False`.
    Bool(bool),
    /// `None`.
    None,
    /// An integer (Python 2 `L` suffix accepted).
    Int(i128),
    /// A tuple.
    Tuple(Vec<Literal>),
    /// A list.
    List(Vec<Literal>),
    /// A dict.
    Dict(Vec<(Literal, Literal)>),
}

/// An entry of the top-level header dict.
struct Entry<'a> {
    /// The key (header keys are strings).
    key: String,
    /// The parsed value.
    value: Literal,
    /// The value's source text.
    raw: &'a str,
}

/// A small recursive-descent parser for Python literals.
struct LiteralParser<'a> {
    /// The text being parsed.
    text: &'a str,
    /// Byte offset of the next unread character.
    pos: usize,
    /// Current nesting depth.
    depth: usize,
}

impl<'a> LiteralParser<'a> {
    /// Starts parsing `text`.
    fn new(text: &'a str) -> Self {
        Self {
            text,
            pos: 0,
            depth: 0,
        }
    }

    /// The next unread byte, after whitespace.
    fn peek(&mut self) -> Option<u8> {
        let rest = self.text.as_bytes().get(self.pos..).unwrap_or_default();
        let skipped = rest.iter().take_while(|b| b.is_ascii_whitespace()).count();
        self.pos += skipped;
        self.text.as_bytes().get(self.pos).copied()
    }

    /// Consumes `byte` if it comes next (after whitespace).
    fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        if found {
            self.pos += 1;
        }
        found
    }

    /// Consumes `byte` or fails.
    fn expect(&mut self, byte: u8) -> Result<(), String> {
        if self.eat(byte) {
            Ok(())
        } else {
            Err(format!(
                "expected '{}' at offset {}",
                char::from(byte),
                self.pos
            ))
        }
    }

    /// Parses the whole text as one dict with string keys.
    fn top_level_dict(&mut self) -> Result<Vec<Entry<'a>>, String> {
        self.expect(b'{')?;
        let mut entries = Vec::new();
        while !self.eat(b'}') {
            let Literal::Str(key) = self.value()? else {
                return Err("header dict keys must be strings".to_owned());
            };
            self.expect(b':')?;
            self.peek();
            let start = self.pos;
            let value = self.value()?;
            let raw = self.text.get(start..self.pos).unwrap_or_default();
            entries.push(Entry { key, value, raw });
            if !self.eat(b',') {
                self.expect(b'}')?;
                break;
            }
        }
        if self.peek().is_some() {
            return Err(format!(
                "unexpected text after the header dict at offset {}",
                self.pos
            ));
        }
        Ok(entries)
    }

    /// Parses one literal, guarding the nesting depth.
    fn value(&mut self) -> Result<Literal, String> {
        if self.depth >= MAX_DEPTH {
            return Err("header literals are nested too deeply".to_owned());
        }
        self.depth += 1;
        let value = self.value_inner();
        self.depth -= 1;
        value
    }

    /// Parses one literal.
    fn value_inner(&mut self) -> Result<Literal, String> {
        match self.peek() {
            Some(q @ (b'\'' | b'"')) => self.string(q).map(Literal::Str),
            Some(b'(') => self.tuple(),
            Some(b'[') => {
                self.pos += 1;
                self.items(b']').map(|(items, _)| Literal::List(items))
            }
            Some(b'{') => self.dict(),
            Some(b) if b.is_ascii_digit() || b == b'-' || b == b'+' => self.int().map(Literal::Int),
            Some(b) if b.is_ascii_alphabetic() || b == b'_' => self.word(),
            Some(b) => Err(format!(
                "unexpected character '{}' at offset {}",
                char::from(b),
                self.pos
            )),
            None => Err("header ends unexpectedly".to_owned()),
        }
    }

    /// Parses a quoted string starting at the quote `quote`.
    fn string(&mut self, quote: u8) -> Result<String, String> {
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        let mut chars = self.text.get(self.pos..).unwrap_or_default().char_indices();
        while let Some((i, c)) = chars.next() {
            if c == char::from(quote) {
                self.pos += i + 1;
                return Ok(out);
            }
            if c == '\\' {
                match chars.next() {
                    Some((_, escaped)) => out.push(escaped),
                    None => break,
                }
            } else {
                out.push(c);
            }
        }
        Err(format!("unterminated string starting at offset {start}"))
    }

    /// Parses a parenthesised expression: a tuple, or a single value.
    fn tuple(&mut self) -> Result<Literal, String> {
        self.pos += 1;
        let (mut items, saw_comma) = self.items(b')')?;
        match (items.len(), saw_comma) {
            (1, false) => Ok(items.remove(0)),
            _ => Ok(Literal::Tuple(items)),
        }
    }

    /// Parses comma-separated values up to `close`; reports whether a comma
    /// was seen (which makes `(x,)` a tuple).
    fn items(&mut self, close: u8) -> Result<(Vec<Literal>, bool), String> {
        let mut items = Vec::new();
        let mut saw_comma = false;
        while !self.eat(close) {
            items.push(self.value()?);
            if self.eat(b',') {
                saw_comma = true;
            } else {
                self.expect(close)?;
                break;
            }
        }
        Ok((items, saw_comma))
    }

    /// Parses a nested dict.
    fn dict(&mut self) -> Result<Literal, String> {
        self.pos += 1;
        let mut entries = Vec::new();
        while !self.eat(b'}') {
            let key = self.value()?;
            self.expect(b':')?;
            entries.push((key, self.value()?));
            if !self.eat(b',') {
                self.expect(b'}')?;
                break;
            }
        }
        Ok(Literal::Dict(entries))
    }

    /// Parses a decimal integer with an optional sign and `L` suffix.
    fn int(&mut self) -> Result<i128, String> {
        let bytes = self.text.as_bytes();
        let negative = bytes.get(self.pos) == Some(&b'-');
        if matches!(bytes.get(self.pos), Some(b'-' | b'+')) {
            self.pos += 1;
        }
        let start = self.pos;
        let mut value: i128 = 0;
        while let Some(&b) = bytes.get(self.pos).filter(|b| b.is_ascii_digit()) {
            value = value
                .checked_mul(10)
                .and_then(|v| v.checked_add(i128::from(b - b'0')))
                .ok_or_else(|| format!("integer too large at offset {start}"))?;
            self.pos += 1;
        }
        if self.pos == start {
            return Err(format!("expected digits at offset {start}"));
        }
        if matches!(bytes.get(self.pos), Some(b'L' | b'l')) {
            self.pos += 1;
        }
        Ok(if negative { -value } else { value })
    }

    /// Parses `True`, `False`, `None`, or a prefixed string such as `u'x'`.
    fn word(&mut self) -> Result<Literal, String> {
        let start = self.pos;
        let rest = self.text.get(start..).unwrap_or_default();
        let len = rest
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
            .count();
        let word = rest.get(..len).unwrap_or_default();
        self.pos += len;
        match word {
            "True" => Ok(Literal::Bool(true)),
            "False" => Ok(Literal::Bool(false)),
            "None" => Ok(Literal::None),
            "u" | "U" | "b" | "B" | "r" | "R" => match self.text.as_bytes().get(self.pos) {
                Some(&q @ (b'\'' | b'"')) => self.string(q).map(Literal::Str),
                _ => Err(format!("unexpected name `{word}` at offset {start}")),
            },
            _ => Err(format!("unexpected name `{word}` at offset {start}")),
        }
    }
}

/// Writes `data` (row-major, `shape`) as an uncompressed `.npy` file of
/// dtype `<f4`, creating the parent directory if it is missing.
///
/// # Errors
///
/// [`DataError::WriteShape`] if `data.len()` is not the product of `shape`,
/// [`DataError::WriteIo`] if the directory or the file cannot be written.
pub fn write_npy_f32(
    path: impl AsRef<Path>,
    shape: &[usize],
    data: &[f32],
) -> Result<(), DataError> {
    let path = path.as_ref();
    let expected = element_count(shape).unwrap_or(usize::MAX);
    if expected != data.len() {
        return Err(DataError::WriteShape {
            path: path.to_path_buf(),
            shape: shape.to_vec(),
            expected,
            len: data.len(),
        });
    }
    let write_error = |source| DataError::WriteIo {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(write_error)?;
    }
    fs::write(path, encode_npy_f32(shape, data)).map_err(write_error)
}

/// Encodes `data` as a `.npy` file of dtype `|u1`.
///
/// The caller must pass `data.len()` equal to the product of `shape`;
/// otherwise the result does not read back (a short buffer is reported as
/// [`DataError::Truncated`]).
#[must_use]
pub fn encode_npy_u8(shape: &[usize], data: &[u8]) -> Vec<u8> {
    let mut out = encode_header("|u1", shape, data.len());
    out.extend_from_slice(data);
    out
}

/// Encodes `data` as a `.npy` file of dtype `<f4`.
///
/// The caller must pass `data.len()` equal to the product of `shape`.
#[must_use]
pub fn encode_npy_f32(shape: &[usize], data: &[f32]) -> Vec<u8> {
    let mut out = encode_header("<f4", shape, data.len().saturating_mul(4));
    out.extend(data.iter().flat_map(|v| v.to_le_bytes()));
    out
}

/// Encodes `data` as a `.npy` file of dtype `<f8`.
///
/// The caller must pass `data.len()` equal to the product of `shape`.
#[must_use]
pub fn encode_npy_f64(shape: &[usize], data: &[f64]) -> Vec<u8> {
    let mut out = encode_header("<f8", shape, data.len().saturating_mul(8));
    out.extend(data.iter().flat_map(|v| v.to_le_bytes()));
    out
}

/// Magic, version, header length and the header dict padded with spaces and
/// a final newline so that the data starts at a multiple of [`ALIGN`] bytes.
/// Uses version 1.0 unless the header is too long for its 16-bit length.
fn encode_header(descr: &str, shape: &[usize], payload_len: usize) -> Vec<u8> {
    let dict = format!(
        "{{'descr': '{descr}', 'fortran_order': False, 'shape': {}, }}",
        shape_literal(shape)
    );
    let v1_len = (MAGIC.len() + 4 + dict.len() + 1).next_multiple_of(ALIGN) - MAGIC.len() - 4;
    let (version, prefix_len) = if v1_len <= usize::from(u16::MAX) {
        (1u8, MAGIC.len() + 4)
    } else {
        (2u8, MAGIC.len() + 6)
    };
    let total = (prefix_len + dict.len() + 1).next_multiple_of(ALIGN);
    let header_len = total - prefix_len;
    let mut out = Vec::with_capacity(total.saturating_add(payload_len));
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[version, 0]);
    if version == 1 {
        out.extend_from_slice(&u16::try_from(header_len).unwrap_or(u16::MAX).to_le_bytes());
    } else {
        out.extend_from_slice(&u32::try_from(header_len).unwrap_or(u32::MAX).to_le_bytes());
    }
    out.extend_from_slice(dict.as_bytes());
    out.resize(total - 1, b' ');
    out.push(b'\n');
    out
}

/// Python tuple syntax for a shape: `()`, `(n,)`, `(n, m)`.
fn shape_literal(shape: &[usize]) -> String {
    match shape {
        [] => "()".to_owned(),
        [n] => format!("({n},)"),
        _ => {
            let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
            format!("({})", dims.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use flate2::Compression;
    use std::io::Write;
    use std::path::PathBuf;

    fn p() -> &'static Path {
        Path::new("test.npy")
    }

    /// Builds a `.npy` file with a hand-written header.
    fn raw_npy(major: u8, header: &str, data: &[u8]) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&[major, 0]);
        if major == 1 {
            out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        } else {
            out.extend_from_slice(&(header.len() as u32).to_le_bytes());
        }
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        out
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    fn temp_path(name: &str) -> PathBuf {
        std::env::temp_dir()
            .join(format!("dlvm-npy-test-{}", std::process::id()))
            .join(name)
    }

    #[test]
    fn u8_round_trip() {
        let bytes = encode_npy_u8(&[2, 3], &[0, 1, 2, 3, 254, 255]);
        let a = parse_npy(&bytes, p()).unwrap();
        assert_eq!(a.shape, vec![2, 3]);
        assert_eq!(a.data, vec![0.0, 1.0, 2.0, 3.0, 254.0, 255.0]);
    }

    #[test]
    fn f32_round_trip() {
        let data = [0.5f32, -1.25, 1e-40, 3.4e38, -0.0, 7.0];
        let a = parse_npy(&encode_npy_f32(&[3, 2], &data), p()).unwrap();
        assert_eq!(a.shape, vec![3, 2]);
        let bits: Vec<u32> = a.data.iter().map(|v| v.to_bits()).collect();
        let want: Vec<u32> = data.iter().map(|v| v.to_bits()).collect();
        assert_eq!(bits, want);
    }

    #[test]
    fn f64_round_trip() {
        let data = [0.1f64, -2.5, 1e10];
        let a = parse_npy(&encode_npy_f64(&[3], &data), p()).unwrap();
        assert_eq!(a.shape, vec![3]);
        assert_eq!(a.data, vec![0.1f32, -2.5, 1e10]);
    }

    #[test]
    fn encoded_header_is_aligned_and_ends_with_newline() {
        for shape in [vec![], vec![5], vec![50000, 784], vec![1, 2, 3, 4]] {
            let n: usize = shape.iter().product();
            let bytes = encode_npy_u8(&shape, &vec![7; n]);
            let header_len = usize::from(u16::from_le_bytes([bytes[8], bytes[9]]));
            let data_start = 10 + header_len;
            assert_eq!(data_start % 64, 0);
            assert_eq!(bytes[data_start - 1], b'\n');
            assert_eq!(bytes.len(), data_start + n);
            assert_eq!(parse_npy(&bytes, p()).unwrap().shape, shape);
        }
    }

    #[test]
    fn shape_literals_match_python() {
        assert_eq!(shape_literal(&[]), "()");
        assert_eq!(shape_literal(&[4]), "(4,)");
        assert_eq!(shape_literal(&[4, 5]), "(4, 5)");
    }

    #[test]
    fn gzip_round_trip_detected_by_magic() {
        let bytes = gzip(&encode_npy_u8(&[2, 2], &[1, 0, 0, 1]));
        let a = parse_npy(&bytes, Path::new("no-gz-extension.npy")).unwrap();
        assert_eq!(a.shape, vec![2, 2]);
        assert_eq!(a.data, vec![1.0, 0.0, 0.0, 1.0]);
    }

    #[test]
    fn multi_member_gzip_is_concatenated() {
        let full = encode_npy_u8(&[1, 4], &[1, 2, 3, 4]);
        let (a, b) = full.split_at(30);
        let mut bytes = gzip(a);
        bytes.extend(gzip(b));
        assert_eq!(
            parse_npy(&bytes, p()).unwrap().data,
            vec![1.0, 2.0, 3.0, 4.0]
        );
    }

    #[test]
    fn read_and_write_files() {
        let path = temp_path("sub/dir/x.npy");
        write_npy_f32(&path, &[2, 2], &[1.0, 2.0, 3.0, 4.5]).unwrap();
        let a = read_npy(&path).unwrap();
        assert_eq!(a.shape, vec![2, 2]);
        assert_eq!(a.data, vec![1.0, 2.0, 3.0, 4.5]);
        let gz = temp_path("x.npy.gz");
        fs::write(&gz, gzip(&fs::read(&path).unwrap())).unwrap();
        assert_eq!(read_npy(&gz).unwrap(), a);
    }

    #[test]
    fn write_rejects_wrong_length() {
        let err = write_npy_f32(temp_path("bad.npy"), &[2, 3], &[1.0; 5]).unwrap_err();
        assert!(
            matches!(
                err,
                DataError::WriteShape {
                    expected: 6,
                    len: 5,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn missing_file_is_io_error() {
        let err = read_npy(temp_path("does-not-exist.npy")).unwrap_err();
        assert!(matches!(err, DataError::Io { .. }), "{err}");
        assert!(err.to_string().contains("does-not-exist.npy"), "{err}");
    }

    #[test]
    fn header_keys_in_any_order_and_spacing() {
        let header = "{ \"shape\" :(2,2) ,\"fortran_order\":False,'descr':'<u1'}\n";
        let a = parse_npy(&raw_npy(1, header, &[9, 8, 7, 6]), p()).unwrap();
        assert_eq!(a.shape, vec![2, 2]);
        assert_eq!(a.data, vec![9.0, 8.0, 7.0, 6.0]);
    }

    #[test]
    fn header_accepts_python2_long_and_unicode_prefix() {
        let header = "{u'descr': u'|u1', 'fortran_order': False, 'shape': (1L, 2L), }";
        let a = parse_npy(&raw_npy(1, header, &[1, 2]), p()).unwrap();
        assert_eq!(a.shape, vec![1, 2]);
    }

    #[test]
    fn zero_and_one_dimensional_shapes() {
        let h0 = "{'descr': '|u1', 'fortran_order': False, 'shape': (), }";
        let a = parse_npy(&raw_npy(1, h0, &[42]), p()).unwrap();
        assert_eq!((a.shape, a.data), (vec![], vec![42.0]));
        let h1 = "{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }";
        assert_eq!(
            parse_npy(&raw_npy(1, h1, &[1, 2, 3]), p()).unwrap().shape,
            vec![3]
        );
    }

    #[test]
    fn versions_two_and_three() {
        let header = "{'descr': '|u1', 'fortran_order': False, 'shape': (2,), }";
        for major in [2, 3] {
            let a = parse_npy(&raw_npy(major, header, &[5, 6]), p()).unwrap();
            assert_eq!(a.data, vec![5.0, 6.0]);
        }
    }

    #[test]
    fn unsupported_version_is_header_error() {
        let header = "{'descr': '|u1', 'fortran_order': False, 'shape': (2,), }";
        let err = parse_npy(&raw_npy(4, header, &[5, 6]), p()).unwrap_err();
        match err {
            DataError::Header { reason, .. } => assert!(reason.contains("4.0"), "{reason}"),
            other => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn fortran_order_is_rejected() {
        let header = "{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }";
        let err = parse_npy(&raw_npy(1, header, &[0; 4]), p()).unwrap_err();
        assert!(matches!(err, DataError::FortranOrder { .. }), "{err}");
        assert!(err.to_string().contains("ascontiguousarray"));
    }

    #[test]
    fn unsupported_dtypes_are_named() {
        for descr in [">f4", "<i8", "<f2", "|b1"] {
            let header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': (1,), }}");
            let err = parse_npy(&raw_npy(1, &header, &[0; 8]), p()).unwrap_err();
            match err {
                DataError::UnsupportedDtype { dtype, .. } => assert_eq!(dtype, descr),
                other => panic!("unexpected {other}"),
            }
        }
    }

    #[test]
    fn structured_dtype_is_unsupported() {
        let header =
            "{'descr': [('a', '<f4'), ('b', '<i4')], 'fortran_order': False, 'shape': (1,), }";
        let err = parse_npy(&raw_npy(1, header, &[0; 8]), p()).unwrap_err();
        match err {
            DataError::UnsupportedDtype { dtype, .. } => {
                assert_eq!(dtype, "[('a', '<f4'), ('b', '<i4')]")
            }
            other => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn truncated_data() {
        let mut bytes = encode_npy_f32(&[2, 3], &[1.0; 6]);
        bytes.truncate(bytes.len() - 4);
        match parse_npy(&bytes, p()).unwrap_err() {
            DataError::Truncated {
                expected_bytes,
                found_bytes,
                ..
            } => assert_eq!((expected_bytes, found_bytes), (24, 20)),
            other => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn bytes_beyond_the_announced_array_are_refused() {
        let mut bytes = encode_npy_f32(&[2, 3], &[1.0; 6]);
        bytes.extend([0u8; 4]);
        match parse_npy(&bytes, p()).unwrap_err() {
            DataError::TrailingData {
                shape,
                expected_bytes,
                ..
            } => assert_eq!((shape, expected_bytes), (vec![2, 3], 24)),
            other => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn a_decompression_bomb_is_refused_after_the_announced_bytes() {
        // A 2-row array followed by 64 MiB of zeros, compressed to about 64 KiB: the reader
        // stops one byte past the array, before the rest is inflated.
        let mut raw = encode_npy_u8(&[2, 2], &[1, 0, 0, 1]);
        raw.resize(raw.len() + (64 << 20), 0);
        let bomb = gzip(&raw);
        assert!(bomb.len() < 1 << 20, "{}", bomb.len());
        let err = parse_npy(&bomb, p()).unwrap_err();
        assert!(matches!(err, DataError::TrailingData { .. }), "{err}");
        assert!(err
            .to_string()
            .contains("more data than its header announces"));
    }

    #[test]
    fn a_header_announcing_more_data_than_present_allocates_only_what_arrives() {
        // 2^40 elements announced, 4 present: Truncated, without reserving a terabyte.
        let header = "{'descr': '|u1', 'fortran_order': False, 'shape': (1048576, 1048576), }";
        match parse_npy(&raw_npy(1, header, &[1, 2, 3, 4]), p()).unwrap_err() {
            DataError::Truncated { found_bytes, .. } => assert_eq!(found_bytes, 4),
            other => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn an_oversized_header_length_is_refused() {
        let mut bytes = b"\x93NUMPY\x02\x00".to_vec();
        bytes.extend(u32::MAX.to_le_bytes());
        let err = parse_npy(&bytes, p()).unwrap_err();
        match err {
            DataError::Header { reason, .. } => assert!(reason.contains("4294967295"), "{reason}"),
            other => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn a_double_beyond_f32_is_named_not_reported_as_infinity() {
        let values = [1.0, 2.0, 3.0, 1e300];
        let err = parse_npy(&encode_npy_f64(&[2, 2], &values), p()).unwrap_err();
        match &err {
            DataError::BeyondF32 { index, value, .. } => {
                assert_eq!((index.as_slice(), *value), (&[1usize, 1][..], 1e300));
            }
            other => panic!("unexpected {other}"),
        }
        assert!(err.to_string().contains("1e300"), "{err}");
        // Infinity and NaN stored as such stay values (the data checks name them).
        let stored = parse_npy(&encode_npy_f64(&[1, 2], &[f64::INFINITY, f64::NAN]), p()).unwrap();
        assert!(stored.data[0].is_infinite() && stored.data[1].is_nan());
    }

    #[test]
    fn a_flipped_byte_in_a_gzip_stream_is_reported_as_gzip_damage() {
        let gz = gzip(&encode_npy_f32(&[4, 16], &[1.0; 64]));
        for at in (10..gz.len() - 8).step_by(7) {
            let mut corrupt = gz.clone();
            corrupt[at] ^= 0xff;
            if let Err(err) = parse_npy(&corrupt, p()) {
                assert!(matches!(err, DataError::Gzip { .. }), "byte {at}: {err}");
            }
        }
    }

    #[test]
    fn truncated_header() {
        let bytes = encode_npy_u8(&[1], &[1]);
        let err = parse_npy(&bytes[..30], p()).unwrap_err();
        assert!(matches!(err, DataError::Header { .. }), "{err}");
        let err = parse_npy(&bytes[..7], p()).unwrap_err();
        assert!(matches!(err, DataError::Header { .. }), "{err}");
    }

    #[test]
    fn bad_magic() {
        for bytes in [&b""[..], b"\x93NUMP", b"PK\x03\x04 not numpy at all"] {
            let err = parse_npy(bytes, p()).unwrap_err();
            assert!(matches!(err, DataError::NotNpy { .. }), "{err}");
        }
    }

    #[test]
    fn corrupt_gzip() {
        let mut bytes = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];
        bytes.extend([0xff; 32]);
        let err = parse_npy(&bytes, p()).unwrap_err();
        assert!(matches!(err, DataError::Gzip { .. }), "{err}");
    }

    #[test]
    fn truncated_gzip() {
        let full = gzip(&encode_npy_u8(&[100, 100], &[3; 10000]));
        let err = parse_npy(&full[..full.len() / 2], p()).unwrap_err();
        assert!(matches!(err, DataError::Gzip { .. }), "{err}");
    }

    #[test]
    fn gzip_of_non_npy_is_not_npy() {
        let err = parse_npy(&gzip(b"hello"), p()).unwrap_err();
        assert!(matches!(err, DataError::NotNpy { .. }), "{err}");
    }

    #[test]
    fn malformed_headers() {
        let cases = [
            "{'descr': '<f4', 'fortran_order': False}",
            "{'descr': '<f4', 'shape': (1,)}",
            "{'fortran_order': False, 'shape': (1,)}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1, -3), }",
            "{'descr': '<f4', 'fortran_order': False, 'shape': 4, }",
            "{'descr': '<f4', 'fortran_order': 0, 'shape': (1,), }",
            "{'descr': '<f4, 'fortran_order': False, 'shape': (1,), }",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), } junk",
            "{'descr': '<f4' 'fortran_order': False}",
            "['descr']",
            "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1,), }",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999999999999999999999,), }",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296), }",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1,",
            "",
        ];
        for header in cases {
            let err = parse_npy(&raw_npy(1, header, &[0; 4]), p()).unwrap_err();
            assert!(matches!(err, DataError::Header { .. }), "{header}: {err}");
        }
    }

    #[test]
    fn deeply_nested_header_does_not_overflow() {
        let header = format!("{{'x': {}{}, }}", "[".repeat(10_000), "]".repeat(10_000));
        let err = parse_npy(&raw_npy(3, &header, &[]), p()).unwrap_err();
        assert!(matches!(err, DataError::Header { .. }), "{err}");
    }

    #[test]
    fn unknown_keys_are_ignored() {
        let header =
            "{'descr': '|u1', 'extra': {'a': [1, None]}, 'fortran_order': False, 'shape': (1,), }";
        assert_eq!(
            parse_npy(&raw_npy(1, header, &[3]), p()).unwrap().data,
            vec![3.0]
        );
    }

    #[test]
    fn shipped_mnist_validation_file() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/binarized_mnist_valid.npy.gz");
        if !path.exists() {
            eprintln!("skipping: {} not found", path.display());
            return;
        }
        let a = read_npy(&path).unwrap();
        assert_eq!(a.shape, vec![10000, 784]);
        assert!(a.data.iter().all(|&v| v == 0.0 || v == 1.0));
        let mean = a.data.iter().map(|&v| f64::from(v)).sum::<f64>() / a.data.len() as f64;
        assert!((mean - 0.1311).abs() < 5e-4, "{mean}");
    }
}

//! Fuzzing the whole macro pipeline (parse → validate → expand) as a library function over token
//! streams: whatever the tokens, it must not panic and must produce valid Rust (the expansion,
//! or `compile_error!`s plus placeholders). Seeds: the committed corpus `tests/corpus/dsl/`,
//! replayed by [`the_corpus_expands_without_panicking`].
//!
//! `PROPTEST_CASES=N cargo test -p dlvm-macros fuzz` runs N cases per property (default 256).

use crate::expand_tokens;
use proc_macro2::TokenStream;
use proptest::prelude::*;
use std::path::PathBuf;
use std::str::FromStr;

/// Tokens the mutator inserts: the DSL's keywords and punctuation, and values at the edges.
const VOCABULARY: &[&str] = &[
    "model",
    "latent",
    "observed",
    "encoder",
    "mlp",
    "linear",
    "Normal",
    "I",
    "Bernoulli",
    "Gaussian",
    "xi",
    "unconstrained",
    "isotropic",
    "diagonal",
    "tanh",
    "relu",
    "sigmoid",
    "pub",
    "q",
    "x",
    "z",
    "M",
    "~",
    ":",
    ";",
    "=",
    "|",
    ",",
    "(",
    ")",
    "{",
    "}",
    "[",
    "]",
    "#",
    "-",
    "0",
    "1",
    "-1",
    "2.5",
    "1e40",
    "0u8",
    "18446744073709551616",
    "340282366920938463463374607431768211456",
    "usize",
    "\"s\"",
    "'a'",
    "crate",
    "self",
    "::",
    "_",
    "/// doc",
];

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/corpus/dsl")
}

/// The corpus: `(file name, source)`, sorted by name.
fn corpus() -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(corpus_dir())
        .expect("tests/corpus/dsl exists")
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let name = path.file_name()?.to_str()?.to_owned();
            Some((name, std::fs::read_to_string(&path).ok()?))
        })
        .collect();
    files.sort();
    files
}

/// Runs the pipeline on `source`; returns the expansion, or `None` when the text does not even
/// lex as Rust tokens (unbalanced delimiters: the compiler rejects those before the macro).
fn expand_source(source: &str) -> Option<TokenStream> {
    let tokens = TokenStream::from_str(source).ok()?;
    let output = expand_tokens(tokens);
    if let Err(e) = syn::parse2::<syn::File>(output.clone()) {
        panic!("the expansion of\n{source}\nis not valid Rust: {e}");
    }
    Some(output)
}

/// Splits source text into `(leading whitespace, token)` pairs: words, or single characters.
fn lex(source: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = source.chars().peekable();
    while chars.peek().is_some() {
        let mut space = String::new();
        while let Some(c) = chars.next_if(|c| c.is_whitespace()) {
            space.push(c);
        }
        let mut word = String::new();
        while let Some(c) = chars.next_if(|c| c.is_alphanumeric() || *c == '_' || *c == '.') {
            word.push(c);
        }
        if word.is_empty() {
            if let Some(c) = chars.next() {
                word.push(c);
            }
        }
        out.push((space, word));
    }
    out
}

/// One edit of a token list.
#[derive(Debug, Clone)]
enum Edit {
    Delete(usize),
    Insert(usize, usize),
    Replace(usize, usize),
    Swap(usize, usize),
    Duplicate(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let (i, j) = (any::<usize>(), any::<usize>());
    prop_oneof![
        i.prop_map(Edit::Delete),
        (i, j).prop_map(|(i, j)| Edit::Insert(i, j)),
        (i, j).prop_map(|(i, j)| Edit::Replace(i, j)),
        (i, j).prop_map(|(i, j)| Edit::Swap(i, j)),
        (i, j).prop_map(|(i, j)| Edit::Duplicate(i, j)),
    ]
}

fn apply(tokens: &mut Vec<(String, String)>, edit: &Edit) {
    let word = |k: usize| VOCABULARY[k % VOCABULARY.len()].to_owned();
    let n = tokens.len();
    if n == 0 {
        if let Edit::Insert(_, k) = edit {
            tokens.push((" ".into(), word(*k)));
        }
        return;
    }
    match *edit {
        Edit::Delete(i) => {
            tokens.remove(i % n);
        }
        Edit::Insert(i, k) => tokens.insert(i % (n + 1), (" ".into(), word(k))),
        Edit::Replace(i, k) => tokens[i % n].1 = word(k),
        Edit::Swap(i, j) => tokens.swap(i % n, j % n),
        Edit::Duplicate(i, len) => {
            let start = i % n;
            let end = (start + 1 + len % 8).min(n);
            let copy: Vec<_> = tokens[start..end].to_vec();
            tokens.splice(end..end, copy);
        }
    }
}

fn join(tokens: &[(String, String)]) -> String {
    tokens.iter().map(|(s, w)| format!("{s}{w}")).collect()
}

#[test]
fn the_corpus_expands_without_panicking() {
    let corpus = corpus();
    assert!(corpus.len() >= 40, "corpus has only {} files", corpus.len());
    for (name, source) in &corpus {
        let output = expand_source(source).unwrap_or_else(|| panic!("{name} does not lex"));
        let text = output.to_string();
        // `pass-*` declarations are valid: no compile errors. (Some `fail-*` ones fail only
        // when type-checked, so nothing is asserted about them beyond not panicking.)
        if name.starts_with("pass-") {
            assert!(!text.contains("compile_error"), "{name}: {text}");
        }
    }
}

#[test]
fn a_keyword_as_family_argument_is_a_compile_error_not_invalid_code() {
    // Found by `mutated_declarations_never_panic`: `Gaussian(.., pub)` expanded to
    // `builder.pub()`, which is not Rust.
    for keyword in ["pub", "crate", "self", "type", "_"] {
        let source = format!(
            "model M {{ latent z: 2 ~ Normal(0, I); \
             observed x: 3 ~ Gaussian(mlp(z; 4; tanh), xi = 0.1, {keyword}); \
             encoder q(z | x) = mlp(x; 4; tanh); }}"
        );
        let text = expand_source(&source).expect("lexes").to_string();
        assert!(text.contains("is a Rust keyword"), "{keyword}: {text}");
    }
}

#[test]
fn the_lexer_round_trips_the_corpus() {
    for (name, source) in corpus() {
        assert_eq!(join(&lex(&source)), source, "{name}");
    }
}

proptest! {
    #[test]
    fn mutated_declarations_never_panic(
        seed in any::<usize>(),
        edits in prop::collection::vec(edit(), 1..8),
    ) {
        let corpus = corpus();
        let (_, source) = &corpus[seed % corpus.len()];
        let mut tokens = lex(source);
        for e in &edits {
            apply(&mut tokens, e);
        }
        expand_source(&join(&tokens));
    }

    #[test]
    fn random_token_soup_never_panics(
        words in prop::collection::vec(0..VOCABULARY.len(), 0..48),
        wrap in any::<bool>(),
    ) {
        let body: Vec<&str> = words.iter().map(|&k| VOCABULARY[k]).collect();
        let body = body.join(" ");
        let source = if wrap { format!("model M {{ {body} }}") } else { body };
        expand_source(&source);
    }
}

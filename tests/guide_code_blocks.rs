//! The user guide's code is compiled: every page of `docs/` (and the README) is included as a
//! doctest in `src/lib.rs`, and no Rust block opts out with `ignore`. Blocks in another language
//! must say so (`text`, `sh`), since rustdoc compiles an unlabelled block as Rust.

use std::path::{Path, PathBuf};

/// The Markdown pages of the guide and the README.
fn pages() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut pages: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .expect("docs/ exists")
        .map(|entry| entry.expect("readable docs/ entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "md"))
        .collect();
    pages.sort();
    pages.push(root.join("README.md"));
    pages
}

/// The info string of every opening code fence of `text`, with its 1-based line.
fn fences(text: &str) -> Vec<(usize, String)> {
    let mut inside = false;
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let Some(info) = line.trim_start().strip_prefix("```") else {
            continue;
        };
        if !inside {
            found.push((n + 1, info.trim().to_owned()));
        }
        inside = !inside;
    }
    found
}

#[test]
fn every_guide_page_is_compiled_as_a_doctest() {
    let lib = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs"))
        .expect("src/lib.rs");
    for page in pages() {
        let name = page.file_name().unwrap().to_string_lossy().into_owned();
        let included = if name == "README.md" {
            "include_str!(\"../README.md\")".to_owned()
        } else {
            format!("include_str!(\"../docs/{name}\")")
        };
        assert!(
            lib.contains(&included),
            "{name} is not compiled: add `#[doc = {included}]` to the `guide` module of src/lib.rs"
        );
    }
}

#[test]
fn no_rust_block_in_the_guide_is_ignored() {
    for page in pages() {
        let text = std::fs::read_to_string(&page).expect("readable page");
        for (line, info) in fences(&text) {
            let ignored = info.split(',').any(|attr| attr.trim() == "ignore");
            assert!(
                !ignored,
                "{}:{line}: code block `{info}` is not compiled; make it compile (hidden `# ` lines \
                 for context) or mark it as another language",
                page.display()
            );
        }
    }
}

//! The README's Development section against the source tree: it names
//! every file under `src/`, and every file it names is there.
use std::path::Path;

/// Every `.rs` file under `dir`, relative to it, `/`-separated.
fn sources(dir: &Path, prefix: &str, out: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        let rel = format!("{prefix}{name}");
        if e.file_type().unwrap().is_dir() {
            sources(&e.path(), &format!("{rel}/"), out);
        } else if name.ends_with(".rs") {
            out.push(rel);
        }
    }
}

/// The tree of README's "## Development": each top-level entry (a line
/// two spaces in) with its text, continuation lines included.
fn development_tree() -> Vec<(String, String)> {
    let readme = std::fs::read_to_string(crate::util::repo().join("README.md")).unwrap();
    let section = &readme[readme
        .find("\n## Development")
        .expect("README has ## Development")..];
    let start = section
        .find("```text\nsrc/\n")
        .expect("a text block of src/")
        + 13;
    let tree = &section[start..start + section[start..].find("\n```").unwrap()];
    let mut blocks: Vec<(String, String)> = Vec::new();
    for line in tree.lines() {
        if line.starts_with("  ") && !line.starts_with("   ") {
            let head = line.split_whitespace().next().unwrap_or_default();
            blocks.push((head.trim_end_matches(',').to_owned(), line.to_owned()));
        } else if let Some((_, text)) = blocks.last_mut() {
            text.push('\n');
            text.push_str(line);
        }
    }
    blocks
}

/// Whether `text` has `name` as a whole word (not inside a longer name).
fn mentions(text: &str, name: &str) -> bool {
    let word = |c: char| c.is_alphanumeric() || matches!(c, '_' | '-' | '/' | '.');
    text.match_indices(name).any(|(i, _)| {
        !text[..i].ends_with(word)
            && !text[i + name.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_')
    })
}

/// The top-level module a path is in: `check/findings/tests.rs` → `check`.
fn module(rel: &str) -> &str {
    let first = rel.split('/').next().unwrap_or(rel);
    first.strip_suffix(".rs").unwrap_or(first)
}

#[test]
fn readme_development_names_every_source_file() {
    let mut files = Vec::new();
    sources(&crate::util::repo().join("src"), "", &mut files);
    files.sort();
    let blocks = development_tree();
    let block_of = |m: &str| {
        blocks
            .iter()
            .filter(|(head, _)| module(head) == m)
            .map(|(_, text)| text.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let mut missing = Vec::new();
    for rel in &files {
        let text = block_of(module(rel));
        let parts: Vec<&str> = rel.split('/').collect();
        // `a/b/c.rs` may be written `a/b/c.rs`, `b/c.rs` or `c.rs` in a's entry.
        let named = (0..parts.len()).any(|i| mentions(&text, &parts[i..].join("/")));
        if !named {
            missing.push(rel.clone());
        }
    }
    assert!(
        missing.is_empty(),
        "README \"Development\" does not name: {}",
        missing.join(", ")
    );
    // And every file it names is there.
    let mut gone = Vec::new();
    for (head, text) in &blocks {
        let m = module(head);
        for word in
            text.split(|c: char| !(c.is_alphanumeric() || matches!(c, '_' | '-' | '/' | '.')))
        {
            let word = word.trim_end_matches('.');
            if !word.ends_with(".rs") {
                continue;
            }
            let found = files
                .iter()
                .any(|f| f == word || (module(f) == m && f.ends_with(&format!("/{word}"))));
            if !found {
                gone.push(format!("{word} (under {head})"));
            }
        }
    }
    assert!(
        gone.is_empty(),
        "README \"Development\" names files that are not in src/: {}",
        gone.join(", ")
    );
}

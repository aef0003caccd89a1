//! Keeps the documentation true: every crate is on the code map of `docs/ARCHITECTURE.md`,
//! every source file opens with a `//!` doc saying what it is for, and no file grows past
//! what a reader takes in.

use std::path::{Path, PathBuf};

const MAX_LINES: usize = 800;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

fn crates() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(workspace().join("crates"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    names
}

#[test]
fn every_crate_is_on_the_code_map() {
    let map = std::fs::read_to_string(workspace().join("docs/ARCHITECTURE.md")).unwrap();
    for name in crates() {
        assert!(
            map.contains(&format!("### `crates/{name}`")),
            "docs/ARCHITECTURE.md has no code-map entry for crates/{name}"
        );
    }
}

#[test]
fn every_source_file_says_what_it_is_for_and_stays_small() {
    for name in crates() {
        let mut files = Vec::new();
        rust_files(
            &workspace().join("crates").join(&name).join("src"),
            &mut files,
        );
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            assert!(
                text.starts_with("//!"),
                "{} does not open with a `//!` doc",
                file.display()
            );
            let lines = text.lines().count();
            assert!(
                lines <= MAX_LINES,
                "{} has {lines} lines; split it (at most {MAX_LINES})",
                file.display()
            );
        }
    }
}

//! Integration tests are grouped one binary per area: a folder under `testkit/tests/` (and
//! `cli/tests/cli/`) whose `main.rs` names each of its files as a module. Cargo builds only the
//! `main.rs` of such a folder, so a file added there without its `mod` line would compile
//! nowhere and never run; this test fails instead.

#[cfg(test)]
mod tests {
    use std::path::Path;

    fn unnamed_files(folder: &Path) -> Vec<String> {
        let main = std::fs::read_to_string(folder.join("main.rs")).unwrap_or_default();
        let named = |stem: &str| {
            main.lines()
                .any(|l| l.trim_start_matches("pub ").trim() == format!("mod {stem};"))
        };
        let mut missing = Vec::new();
        for entry in std::fs::read_dir(folder).expect("read a test folder") {
            let path = entry.expect("a test folder's entry").path();
            let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
                continue;
            };
            let is_rust = path.extension().is_some_and(|e| e == "rs");
            if is_rust && stem != "main" && !named(stem) {
                missing.push(path.display().to_string());
            }
        }
        missing
    }

    #[test]
    fn every_file_in_a_test_folder_is_a_module_of_its_main() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut folders = Vec::new();
        for tests in ["testkit/tests", "cli/tests"] {
            for entry in std::fs::read_dir(root.join(tests)).expect("read a tests directory") {
                let path = entry.expect("a tests directory's entry").path();
                if path.is_dir() {
                    folders.push(path);
                }
            }
        }
        assert!(
            folders.len() >= 8,
            "the test folders were found: {folders:?}"
        );
        let missing: Vec<String> = folders.iter().flat_map(|f| unnamed_files(f)).collect();
        assert!(
            missing.is_empty(),
            "test files no main.rs names (they would never run): {missing:?}"
        );
        for folder in &folders {
            assert!(
                folder.join("main.rs").is_file(),
                "{} has no main.rs: Cargo would build none of its files",
                folder.display()
            );
        }
    }
}

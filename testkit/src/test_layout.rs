//! Integration tests are grouped one binary per area: a folder under `testkit/tests/` (and
//! `cli/tests/cli/`) whose `main.rs` names each of its files as a module. Cargo builds only the
//! `main.rs` of such a folder, so a file added there without its `mod` line would compile
//! nowhere and never run; this test fails instead.

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// The files of `folder` its `main.rs` does not name as `mod <file>;`.
    fn unnamed_files(folder: &Path) -> Vec<String> {
        let main = std::fs::read_to_string(folder.join("main.rs")).unwrap_or_else(|_| {
            panic!(
                "{} has no main.rs: Cargo builds none of it",
                folder.display()
            )
        });
        let mut unnamed = Vec::new();
        for entry in std::fs::read_dir(folder).expect("read a test folder") {
            let path = entry.expect("a test folder's entry").path();
            let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
                continue;
            };
            let named = main.lines().any(|l| l.trim() == format!("mod {stem};"));
            if path.extension().is_some_and(|e| e == "rs") && stem != "main" && !named {
                unnamed.push(path.display().to_string());
            }
        }
        unnamed
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
        let unnamed: Vec<String> = folders.iter().flat_map(|f| unnamed_files(f)).collect();
        assert!(
            unnamed.is_empty(),
            "test files no main.rs names (they would never run): {unnamed:?}"
        );
    }
}

//! The real test data sets (`../shared/data` beside the repository, with PROVENANCE.md), for
//! tests of any crate. One variable moves them: `TRIBUTARY_TEST_DATA`.
//!
//! Where a data set is absent a test says so and skips, except under `CI=true`, where a missing
//! data set fails the test: CI must never pass by skipping.

use std::path::PathBuf;

/// The folder of the data sets: `TRIBUTARY_TEST_DATA`, or `../shared/data` beside the repository,
/// or the nearest `shared/data` in a folder further up (as `scripts/test` looks for it).
pub fn root() -> PathBuf {
    if let Some(dir) = std::env::var_os("TRIBUTARY_TEST_DATA") {
        return PathBuf::from(dir);
    }
    // crates/test-data → crates → the repository.
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let repo = repo.canonicalize().unwrap_or(repo);
    let beside = repo.join("../shared/data");
    repo.ancestors().skip(1).map(|dir| dir.join("shared/data")).find(|d| d.is_dir()).unwrap_or(beside)
}

/// The path of a data file (e.g. `covid/ecdc_casedistribution_daily_final_2020-12-14.csv`), or
/// `None` after printing why the calling test skips. Panics under `CI=true` if it is missing.
pub fn path(relative: &str) -> Option<PathBuf> {
    let p = root().join(relative);
    if p.is_file() {
        return Some(p);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "test data {} is missing (CI=true: a missing data set fails; set TRIBUTARY_TEST_DATA)",
            p.display()
        );
    }
    eprintln!("skipping: test data {} not found (set TRIBUTARY_TEST_DATA)", p.display());
    None
}

/// The bytes of a data file, or `None` (see [`path`]).
pub fn read(relative: &str) -> Option<Vec<u8>> {
    let p = path(relative)?;
    Some(std::fs::read(&p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display())))
}

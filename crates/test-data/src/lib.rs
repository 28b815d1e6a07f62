//! The real test data sets (`../shared/data` beside the repository, with PROVENANCE.md), for
//! tests of any crate. One variable moves them: `TRIBUTARY_TEST_DATA`.
//!
//! Where a data set is absent a test says so and skips, except under `CI=true`, where a missing
//! data set fails the test: CI must never pass by skipping.

use std::path::PathBuf;

/// The folder of the data sets: `TRIBUTARY_TEST_DATA`, or the nearest `shared/data` in a folder
/// above the crate under test (`../shared/data` beside the repository, or further up).
///
/// The crate is found through `CARGO_MANIFEST_DIR` as cargo sets it when it *runs* a test, not
/// as it was when this crate was compiled: builds share one target folder across checkouts, and
/// a compiled-in path can name a checkout that is gone.
pub fn root() -> PathBuf {
    if let Some(dir) = std::env::var_os("TRIBUTARY_TEST_DATA") {
        return PathBuf::from(dir);
    }
    let start = std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(|| PathBuf::from("."), PathBuf::from);
    let start = start.canonicalize().unwrap_or(start);
    start
        .ancestors()
        .map(|dir| dir.join("shared/data"))
        .find(|d| d.is_dir())
        .unwrap_or_else(|| start.join("../../../shared/data"))
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

/// A service the test suite starts (`scripts/test`), named by an environment variable holding
/// its address, such as `TRIBUTARY_TEST_S3`. `None` after printing why the calling test skips
/// (run through `scripts/test` to have it); panics under `CI=true`, like a missing data set.
pub fn service(variable: &str) -> Option<String> {
    match std::env::var(variable) {
        Ok(value) if !value.is_empty() => Some(value),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("{variable} is not set (CI=true: scripts/test starts the service and sets it)")
        }
        _ => {
            eprintln!("skipping: {variable} is not set (scripts/test starts the service and sets it)");
            None
        }
    }
}

//! Helpers for the end-to-end tests, which run the `tributary` binary as a user would.

#![allow(dead_code)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// The binary under test, built by cargo for this test run.
pub fn tributary(data_dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tributary"));
    cmd.arg("--data-dir").arg(data_dir).env("RUST_LOG", "warn");
    // Tests never reach for the internet: no default pull sources (a test may set its own).
    cmd.args(["--set", "markets.sources=[]"]);
    for (k, _) in std::env::vars() {
        if k.starts_with("TRIBUTARY_") {
            cmd.env_remove(k);
        }
    }
    cmd
}

/// Runs a command with `input` on stdin; returns its output.
pub fn run_with_input(mut cmd: Command, input: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tributary");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().expect("wait for tributary");
    writer.join().unwrap();
    out
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Stops a running `tributary up` with SIGTERM and checks that it exited cleanly.
pub fn stop(mut child: std::process::Child) {
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let status = child.wait().unwrap();
    assert!(status.success(), "up exited with {status}");
}

/// A runtime for the few async calls a test makes (reading the serving store).
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// The final ECDC daily file and the DAX history from the test data (None, after saying so,
/// where they are absent).
pub fn ecdc_and_dax() -> Option<(std::path::PathBuf, std::path::PathBuf)> {
    Some((
        tributary_test_data::path("covid/ecdc_casedistribution_daily_final_2020-12-14.csv")?,
        tributary_test_data::path("markets/DAX_GDAXI_daily_1988-2022_yahoo.csv")?,
    ))
}

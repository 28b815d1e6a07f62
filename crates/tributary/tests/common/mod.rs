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

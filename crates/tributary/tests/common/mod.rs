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
    // Tests run side by side: each `up` takes a free port (it prints the one it got).
    cmd.args(["--set", "api.listen=127.0.0.1:0"]);
    for (k, _) in std::env::vars() {
        if k.starts_with("TRIBUTARY_") {
            cmd.env_remove(k);
        }
    }
    cmd
}

/// `tributary up` on `data_dir` without the generator (stderr to `up.log` there), once it has
/// written its API address to the data directory: ready for the console tools beside it.
pub fn up_with_address(data_dir: &Path) -> std::process::Child {
    let up = tributary(data_dir)
        .args(["--set", "mobile.generator_rate=0", "up"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(data_dir.join("up.log")).unwrap())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !data_dir.join("api-address").exists() {
        let log = std::fs::read_to_string(data_dir.join("up.log")).unwrap_or_default();
        assert!(std::time::Instant::now() < deadline, "up wrote no api-address:\n{log}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    up
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

/// The API address `tributary up` printed to the stdout captured in `file` (waits for it).
pub fn api_address(file: &Path) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let out = std::fs::read_to_string(file).unwrap_or_default();
        if let Some(rest) = out.lines().find_map(|l| l.trim().strip_prefix("HTTP API")) {
            let url = rest.split_whitespace().next().unwrap();
            let address = url.trim_start_matches("http://").split('/').next().unwrap();
            return address.to_string();
        }
        assert!(std::time::Instant::now() < deadline, "up printed no API address:\n{out}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// `GET path` over HTTP/1.1 on a fresh connection: the status and the body.
pub fn http_get(address: &str, path: &str) -> (u16, String) {
    use std::io::Read;
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(std::time::Duration::from_secs(30))).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let chunked = head.to_ascii_lowercase().contains("transfer-encoding: chunked");
    (status, if chunked { unchunk(body) } else { body.to_string() })
}

/// The body of a chunked response.
fn unchunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

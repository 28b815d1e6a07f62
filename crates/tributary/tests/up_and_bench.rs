//! `tributary up` starts, reports itself and stops cleanly on SIGTERM; `tributary bench log` runs
//! end to end on a small scale and prints every figure (values are not checked: machines differ).

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;

#[test]
fn up_runs_until_terminated_and_closes_the_log_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = common::tributary(dir.path()).arg("up").stdout(Stdio::piped()).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.contains("is running"), "{first}");
    let status =
        std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    assert!(rest.iter().any(|l| l.contains("Stopped cleanly")), "{rest:?}");
    assert!(child.wait().unwrap().success());
    // The directory is free again and the log opens without recovery work.
    let out = common::tributary(dir.path()).args(["log", "topics"]).output().unwrap();
    assert!(out.status.success(), "{}", common::stderr(&out));
}

#[test]
fn bench_log_prints_every_figure() {
    let dir = tempfile::tempdir().unwrap();
    let out = common::tributary(dir.path())
        .args(["bench", "log", "--records", "4000", "--batch", "100", "--producers", "2"])
        .args(["--read-mib", "2", "--latency-rate", "2000", "--latency-secs", "1"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().filter(|l| l.contains("records/s")).count(), 5, "{text}");
    assert_eq!(text.lines().filter(|l| l.contains(" p99 ")).count(), 4, "{text}");
    assert!(text.contains("fsync every batch") && text.contains("fsync every 100 ms"), "{text}");
    // The benchmark cleans up after itself.
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.iter().all(|n| !n.to_string_lossy().starts_with("bench-")), "{left:?}");
}

#[test]
fn bench_markets_prints_each_step() {
    let Some((ecdc, dax)) = common::ecdc_and_dax() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = common::tributary(dir.path())
        .args(["bench", "markets", "--runs", "1", "--covid"])
        .arg(&ecdc)
        .arg("--prices")
        .arg(&dax)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("61900 rows") && text.contains("8846 rows"), "{text}");
    for view in
        ["aligned_daily", "correlations", "rolling_correlations", "reference_covid", "reference_prices"]
    {
        assert!(
            text.lines().any(|l| l.trim_start().starts_with(view) && l.contains("publish")),
            "{view}: {text}"
        );
    }
    assert!(text.contains("all views: compute") && text.contains("peak memory"), "{text}");
}

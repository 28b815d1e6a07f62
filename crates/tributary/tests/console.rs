//! The console tools end to end: `log produce` | `log tail` round trips, bad input, `log topics`,
//! configuration errors, and `--help`/`--version`.

mod common;

use common::{run_with_input, stderr, stop, tributary};

#[test]
fn hundred_thousand_lines_round_trip_identically() {
    let dir = tempfile::tempdir().unwrap();
    let mut input = Vec::new();
    for i in 0..100_000u32 {
        // Varied lengths and content, including non-ASCII text and a CR before the LF.
        let line = match i % 5 {
            0 => format!("{i},Curaçao,Bonaire, Sint Eustatius and Saba,{}", "x".repeat((i % 97) as usize)),
            1 => format!("{{\"n\":{i},\"s\":\"ünïcödé ✓\"}}"),
            2 => format!("{i}\r"),
            3 => format!("{i} with\ttabs and \"quotes\""),
            _ => format!("{i}"),
        };
        input.extend_from_slice(line.as_bytes());
        input.push(b'\n');
    }
    let mut produce = tributary(dir.path());
    produce.args(["log", "produce", "lines"]);
    let out = run_with_input(produce, &input);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("produced 100000 records to lines"), "{}", stderr(&out));

    let out = tributary(dir.path())
        .args(["log", "tail", "lines", "--from-beginning", "--max", "100000"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(out.stdout.len(), input.len());
    assert!(out.stdout == input, "tail output differs from the produced lines");
}

#[test]
fn binary_lines_round_trip_and_json_shows_them_as_base64() {
    let dir = tempfile::tempdir().unwrap();
    let mut input = Vec::new();
    for i in 0..300u32 {
        let line: Vec<u8> =
            (0..(i % 40 + 1)).map(|j| ((i * 7 + j * 13) % 256) as u8).filter(|b| *b != b'\n').collect();
        if !line.is_empty() {
            input.extend_from_slice(&line);
            input.push(b'\n');
        }
    }
    let lines = input.iter().filter(|b| **b == b'\n').count();
    let mut produce = tributary(dir.path());
    produce.args(["log", "produce", "bin"]);
    let out = run_with_input(produce, &input);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = tributary(dir.path())
        .args(["log", "tail", "bin", "--from-beginning", "--timeout-ms", "300"])
        .output()
        .unwrap();
    assert!(out.stdout == input);
    let out = tributary(dir.path())
        .args(["log", "tail", "bin", "--from-beginning", "--timeout-ms", "300", "--json"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), lines);
    assert!(text.contains("\"value_base64\""), "non-UTF-8 values are base64-encoded");
    for l in text.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert!(v["offset"].is_u64() && v["partition"] == 0 && v["topic"] == "bin");
    }
}

#[test]
fn empty_and_oversized_lines_are_reported_and_the_rest_goes_through() {
    let dir = tempfile::tempdir().unwrap();
    let mut input = b"first\n\n\nsecond\n".to_vec();
    input.extend(std::iter::repeat_n(b'z', 10 << 20)); // a 10 MB line
    input.extend(b"\nthird\n");
    let mut produce = tributary(dir.path());
    produce.args(["log", "produce", "mixed"]);
    let out = run_with_input(produce, &input);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "a rejected line makes the exit code 1: {err}");
    assert!(err.contains("line 5: 10485760 bytes") && err.contains("max_record_bytes"), "{err}");
    assert!(err.contains("produced 3 records") && err.contains("skipped 2 empty lines"), "{err}");
    let out = tributary(dir.path())
        .args(["log", "tail", "mixed", "--from-beginning", "--timeout-ms", "300"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "first\nsecond\nthird\n");
}

#[test]
fn keys_groups_and_topics() {
    let dir = tempfile::tempdir().unwrap();
    let out =
        tributary(dir.path()).args(["log", "create-topic", "keyed", "--partitions", "3"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let mut produce = tributary(dir.path());
    produce.args(["log", "produce", "keyed", "--key-separator", "|", "--print-offsets"]);
    let input: String = (0..30).map(|i| format!("device-{}|event {i}\n", i % 5)).collect();
    let out = run_with_input(produce, input.as_bytes());
    assert!(out.status.success(), "{}", stderr(&out));
    let acks = String::from_utf8(out.stdout).unwrap();
    assert_eq!(acks.lines().count(), 30);
    for (line, ack) in input.lines().zip(acks.lines()) {
        let key = line.split('|').next().unwrap();
        let partition: u32 = ack.split('\t').next().unwrap().parse().unwrap();
        assert_eq!(partition, tributary_log::partition_for_key(key.as_bytes(), 3), "{line}");
    }

    // A group reads 10, commits, and the next run continues after them.
    let first = tributary(dir.path())
        .args(["log", "tail", "keyed", "--from-beginning", "--group", "g", "--max", "10", "--json"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&first.stdout).lines().count(), 10);
    let rest = tributary(dir.path())
        .args(["log", "tail", "keyed", "--group", "g", "--timeout-ms", "300", "--json"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&rest.stdout).lines().count(), 20);
    let mut seen: Vec<String> = String::from_utf8_lossy(&first.stdout)
        .lines()
        .chain(String::from_utf8_lossy(&rest.stdout).lines())
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["value"].as_str().unwrap().to_string())
        .collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 30, "each record exactly once across the two runs");

    let out = tributary(dir.path()).args(["log", "topics", "--json"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["topics"][0]["name"], "keyed");
    assert_eq!(v["topics"][0]["partitions"].as_array().unwrap().len(), 3);
    let lag: u64 = v["groups"].as_array().unwrap().iter().map(|g| g["lag"].as_u64().unwrap()).sum();
    assert_eq!(lag, 0);
    let out = tributary(dir.path()).args(["log", "topics"]).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("TOPIC") && text.contains("keyed") && text.contains("LAG"), "{text}");
}

#[test]
fn unknown_topics_bad_names_and_bad_config_get_clear_messages() {
    let dir = tempfile::tempdir().unwrap();
    let out = tributary(dir.path()).args(["log", "tail", "missing", "--timeout-ms", "100"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("topic 'missing' does not exist"), "{}", stderr(&out));

    let mut produce = tributary(dir.path());
    produce.args(["log", "produce", "../../etc"]);
    let out = run_with_input(produce, b"x\n");
    assert!(!out.status.success());
    assert!(stderr(&out).contains("invalid topic name"), "{}", stderr(&out));

    let out = tributary(dir.path())
        .args(["--set", "embedded_log.fsync=sometimes", "log", "topics"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("embedded_log.fsync") && err.contains("every-batch"), "{err}");

    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "[embedded_log]\nretention = \"7days\"\n").unwrap();
    let out = tributary(dir.path()).arg("--config").arg(&cfg).args(["log", "topics"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("retention") && stderr(&out).contains("retention_age"), "{}", stderr(&out));

    let out = tributary(dir.path())
        .env("TRIBUTARY_TOPICS_DEFAULT_PARTITIONS", "-3")
        .args(["log", "topics"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("TRIBUTARY_TOPICS_DEFAULT_PARTITIONS"), "{}", stderr(&out));

    let out = tributary(dir.path()).args(["log", "produce", "t", "--batch-size", "0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "clap rejects a bad flag value");
}

#[test]
fn help_lists_every_subcommand_and_version_prints() {
    let dir = tempfile::tempdir().unwrap();
    let out = tributary(dir.path()).arg("--help").output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for cmd in ["up", "log", "bench"] {
        assert!(help.lines().any(|l| l.trim_start().starts_with(cmd)), "{cmd} missing from:\n{help}");
    }
    let out = tributary(dir.path()).arg("--version").output().unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        format!("tributary {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn a_second_process_on_the_same_data_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut holder = tributary(dir.path())
        .args(["log", "produce", "held"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // The holder has the directory once the lock file names its pid.
    let lock = dir.path().join("log/.lock");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::fs::read_to_string(&lock).map(|s| s.trim() != holder.id().to_string()).unwrap_or(true) {
        assert!(std::time::Instant::now() < deadline, "the holder never took the lock");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = tributary(dir.path()).args(["log", "topics"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("in use by another process") && err.contains(&format!("pid {}", holder.id())),
        "{err}"
    );
    drop(holder.stdin.take());
    assert!(holder.wait().unwrap().success());
}

#[test]
fn log_format_json_writes_one_json_object_per_diagnostic_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = tributary(dir.path())
        .env("RUST_LOG", "info")
        .args(["--log-format", "json", "log", "create-topic", "j"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty(), "expected diagnostics at RUST_LOG=info");
    for l in &lines {
        let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
        assert!(v["level"].is_string() && v["fields"]["message"].is_string(), "{l}");
    }
    assert!(err.contains("created topic"), "{err}");
}

/// With `up` running on the data directory, the console tools talk to it (its address and
/// token are in the data directory) and print what they print on the log itself.
#[test]
fn the_console_tools_work_beside_a_running_up() {
    let dir = tempfile::tempdir().unwrap();
    let up = common::up_with_address(dir.path());
    let run = |args: &[&str], input: &[u8]| {
        let mut cmd = tributary(dir.path());
        cmd.args(args);
        let out = run_with_input(cmd, input);
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), stderr(&out))
    };
    let lines = b"device-1|hello\ndevice-2|world\n\ndevice-3|again\n";
    let create = run(&["log", "create-topic", "remote", "--partitions", "2"], b"");
    assert_eq!(create.0, Some(0), "{create:?}");
    let produced = run(&["log", "produce", "remote", "--key-separator", "|"], lines);
    assert_eq!(produced.0, Some(0), "{produced:?}");
    let tail_args = ["log", "tail", "remote", "--from-beginning", "--json", "--timeout-ms", "1000"];
    let remote_tail = run(&tail_args, b"");
    assert_eq!(remote_tail.0, Some(0), "{remote_tail:?}");
    assert_eq!(remote_tail.1.lines().count(), 3, "{remote_tail:?}");
    let grouped = run(&["log", "tail", "remote", "--from-beginning", "--group", "g", "--max", "1"], b"");
    assert_eq!(grouped.0, Some(0), "{grouped:?}");
    let topics = run(&["log", "topics", "--json"], b"");
    assert_eq!(topics.0, Some(0), "{topics:?}");
    assert!(topics.1.contains("\"remote\"") && topics.1.contains("\"g\""), "{}", topics.1);
    let unknown = run(&["log", "tail", "nope", "--timeout-ms", "100"], b"");
    stop(up);

    // The same commands on the log itself, now that `up` is gone: the same answers.
    assert_eq!(run(&tail_args, b""), remote_tail);
    assert_eq!(run(&["log", "tail", "nope", "--timeout-ms", "100"], b""), unknown);
    let create_again = run(&["log", "create-topic", "local", "--partitions", "2"], b"");
    assert_eq!(create_again.1.replace("local", "remote"), create.1);
    let produced_again = run(&["log", "produce", "local", "--key-separator", "|"], lines);
    assert_eq!((produced_again.0, produced_again.1.replace("local", "remote")), (produced.0, produced.1));
    assert!(!dir.path().join("api-address").exists(), "up removes its address when it stops");
}

/// `tributary inspect` explains how files of every kind would be read, importing nothing.
#[test]
fn inspect_explains_how_each_file_would_be_read() {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../sources/fixtures");
    let dir = tempfile::tempdir().unwrap();
    let out = tributary(dir.path())
        .arg("inspect")
        .arg(fixtures.join("markets/ecdc_daily_2020-03-21_semicolon_latin1.csv"))
        .arg(fixtures.join("markets/fse_multi_share_semicolon_decimal_comma.csv"))
        .arg(fixtures.join("mobile/lat_lng_datetime_uid.csv"))
        .arg(fixtures.join("mobile/geolife"))
        .arg(fixtures.join("mobile/taxi_no_header.txt"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(3), "dead letters and an unreadable file: {text}");
    for expected in [
        "format:   ecdc-daily-csv (dataset covid_daily)",
        "dialect:  Windows-1252, ';'-separated, header",
        "rows:     8 usable, 1 dead letters, 0 skipped",
        "line 10: cases 'x' is not an integer",
        "dialect:  UTF-8, ';'-separated, header, decimal comma",
        "series:   ADS, BMW, SAP",
        "read as CSV (UTF-8, ','-separated, header), lat → latitude, lng → longitude, datetime → time, uid → device",
        "lines:    6 — 4 events, 1 dead letters, 0 empty",
        "line 2: {\"timepoint\":\"2020-06-01 12:00:00.000\",\"deviceId\":\"u1\",\"latitude\":52.52,\"longitude\":13.405}",
        "20081024020959.plt",
        "GeoLife trajectory (6 preamble lines)",
        "cannot be read: line 1: the file has no header",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    let columns = tributary(dir.path())
        .args(["inspect", "--columns", "device,time,longitude,latitude", "--time-zone", "Asia/Shanghai"])
        .arg(fixtures.join("mobile/taxi_no_header.txt"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&columns.stdout).into_owned();
    assert!(text.contains("column 1 → device") && text.contains("\"2008-02-02 07:36:08.000\""), "{text}");
    assert!(!dir.path().join("log").exists() && !dir.path().join("lake").exists(), "inspect writes nothing");
    let bad = tributary(dir.path()).args(["inspect", "--time-zone", "Mars", "x.csv"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("--time-zone: 'Mars' is not a time zone"), "{}", stderr(&bad));
}

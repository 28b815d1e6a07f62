//! `tributary import` end to end: the real ECDC and DAX files into the lake, the "dataset
//! updated" events on the log, idempotence, and bad input.

mod common;

use common::{stderr, tributary};

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn importing_the_real_files_fills_the_lake_once_and_announces_each_change() {
    let Some((ecdc, dax)) = common::ecdc_and_dax() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let import = |args: &[&str]| tributary(dir.path()).arg("import").args(args).output().unwrap();

    let out = import(&[ecdc.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("as ecdc-daily-csv into covid_daily"), "{text}");
    assert!(
        text.contains("61900 offered, 61900 new, 0 changed, 0 unchanged; 61900 in the dataset"),
        "{text}"
    );
    assert!(text.contains("version 1: changed 2019-12-31 … 2020-12-14"), "{text}");

    let again = import(&[&format!("file://{}", ecdc.display())]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(stdout(&again).contains("nothing changed: no new version"), "{}", stdout(&again));

    let out = import(&[dax.to_str().unwrap(), "--symbol", "^GDAXI", "--dataset", "prices"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("skipped: 166 rows without a close"), "{}", stdout(&out));

    // Two changes, two events: the first import of each dataset.
    let out = tributary(dir.path())
        .args(["log", "tail", "datasets", "--from-beginning", "--timeout-ms", "500"])
        .output()
        .unwrap();
    let events: Vec<serde_json::Value> =
        stdout(&out).lines().map(|l| serde_json::from_str(l).expect("one JSON event per line")).collect();
    assert_eq!(events.len(), 2, "{}", stdout(&out));
    assert_eq!(
        (events[0]["dataset"].as_str(), events[0]["rows"].as_u64()),
        (Some("covid_daily"), Some(61_900))
    );
    assert_eq!((events[1]["dataset"].as_str(), events[1]["rows"].as_u64()), (Some("prices"), Some(8_846)));
    assert!(dir.path().join("lake/tables/covid_daily/_manifest.json").is_file());

    // The views over what was imported.
    let out = tributary(dir.path()).args(["batch", "run"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = |view: &str| -> u64 {
        let line = stdout(&out).lines().find(|l| l.starts_with(view)).unwrap_or_default().to_string();
        line.split_whitespace()
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{view}: {line}"))
    };
    assert_eq!((rows("reference_covid"), rows("reference_prices")), (61_900, 8_846));
    assert!(rows("aligned_daily") > 40_000, "trading days of 2020 × series with data");
    let out = tributary(dir.path()).args(["batch", "run", "nope"]).output().unwrap();
    assert!(stderr(&out).contains("no view 'nope'; the views are: series_daily"), "{}", stderr(&out));
}

#[test]
fn bad_files_and_arguments_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("garbage.csv");
    std::fs::write(&file, b"\x00\x01\x02 not a dataset\n").unwrap();
    let out = tributary(dir.path()).args(["import", file.to_str().unwrap()]).output().unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("not a known format"), "{}", stderr(&out));

    let out = tributary(dir.path()).args(["import", "/nonexistent/file.csv"]).output().unwrap();
    assert!(
        !out.status.success()
            && stderr(&out).contains("file:///nonexistent/file.csv: No such file or directory"),
        "{}",
        stderr(&out)
    );
    let out = tributary(dir.path()).args(["import", "gopher://example.invalid/x"]).output().unwrap();
    assert!(stderr(&out).contains("scheme gopher:// is not supported"), "{}", stderr(&out));

    let out =
        tributary(dir.path()).args(["import", file.to_str().unwrap(), "--format", "xml"]).output().unwrap();
    assert!(stderr(&out).contains("'xml' is not a format; accepted:"), "{}", stderr(&out));

    let prices = dir.path().join("p.csv");
    std::fs::write(
        &prices,
        b"Date,Open,High,Low,Close,Adj Close,Volume\n2020-01-02,1,1,1,1,1,1\n2020-01-03,1,1,1,oops,1,1\n",
    )
    .unwrap();
    let out = tributary(dir.path())
        .args(["import", prices.to_str().unwrap(), "--dataset", "covid_daily"])
        .output()
        .unwrap();
    assert!(stderr(&out).contains("holds prices (yahoo), not covid_daily"), "{}", stderr(&out));
    let out = tributary(dir.path())
        .args(["import", prices.to_str().unwrap(), "--max-size", "10"])
        .output()
        .unwrap();
    assert!(stderr(&out).contains("larger than the limit of 10 bytes"), "{}", stderr(&out));

    // A user's view that renames a column the API reads is refused before anything runs.
    let views = dir.path().join("views");
    std::fs::create_dir(&views).unwrap();
    std::fs::write(
        views.join("reference_prices.sql"),
        "-- index: symbol, date\nSELECT symbol, date, open, close AS closing_price FROM prices",
    )
    .unwrap();
    let out = tributary(dir.path())
        .args(["batch", "run", "--no-publish", "--views", views.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out)
            .contains("the API reads columns that the views do not have: reference_prices lacks close"),
        "{}",
        stderr(&out)
    );

    // A bad row is a dead letter; the good one is imported.
    let out = tributary(dir.path()).args(["import", prices.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("1 offered, 1 new") && stdout(&out).contains("dead letters: 1 rows"),
        "{}",
        stdout(&out)
    );
    let out = tributary(dir.path())
        .args(["log", "tail", "dead_letters", "--from-beginning", "--timeout-ms", "500"])
        .output()
        .unwrap();
    assert!(
        stdout(&out).contains("Close 'oops' is not a number") && stdout(&out).contains("line 3"),
        "{}",
        stdout(&out)
    );
}

/// The lake on S3 (scripts/test starts an S3-compatible server on loopback): import, then the
/// views over it, by configuration only.
#[test]
fn the_lake_can_be_an_s3_bucket() {
    let (Some(bucket), Some((_, dax))) =
        (tributary_test_data::service("TRIBUTARY_TEST_S3"), common::ecdc_and_dax())
    else {
        return;
    };
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let lake = format!("lake={bucket}/e2e-{}-{nanos}", std::process::id());
    let dir = tempfile::tempdir().unwrap();
    let out = tributary(dir.path())
        .args(["--set", &lake, "import"])
        .arg(&dax)
        .args(["--symbol", "^GDAXI"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("8846 new"), "{}", stdout(&out));
    let out =
        tributary(dir.path()).args(["--set", &lake, "batch", "run", "reference_prices"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let line =
        stdout(&out).lines().find(|l| l.starts_with("reference_prices")).unwrap_or_default().to_string();
    assert_eq!(line.split_whitespace().nth(1), Some("8846"), "{}", stdout(&out));
    assert!(!dir.path().join("lake").exists(), "nothing went to the local lake");
}

/// With `up` running on the data directory, `tributary import` has it import (through its API)
/// and prints what an import on its own prints; files dropped into `up`'s markets inbox are
/// imported too.
#[test]
fn import_beside_a_running_up_and_through_its_markets_inbox() {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../sources/fixtures/markets");
    let latin1 = fixtures.join("ecdc_daily_2020-03-21_semicolon_latin1.csv");
    let fse = fixtures.join("fse_multi_share_semicolon_decimal_comma.csv");
    let dir = tempfile::tempdir().unwrap();
    let up = common::up_with_address(dir.path());
    let import = |args: &[&str]| tributary(dir.path()).arg("import").args(args).output().unwrap();

    let beside = import(&[latin1.to_str().unwrap()]);
    assert!(beside.status.success(), "{}", stderr(&beside));
    assert!(
        stdout(&beside).contains("8 offered, 8 new, 0 changed, 0 unchanged; 8 in the dataset"),
        "{}",
        stdout(&beside)
    );
    assert!(stdout(&beside).contains("dead letters: 1 rows could not be used"), "{}", stdout(&beside));
    let again = import(&[latin1.to_str().unwrap()]);
    assert!(stdout(&again).contains("nothing changed: no new version"), "{}", stdout(&again));
    let shares = import(&[fse.to_str().unwrap(), "--symbol", "BMW=BMW.DE"]);
    assert!(shares.status.success(), "{}", stderr(&shares));
    assert!(stdout(&shares).contains("2 offered, 2 new"), "{}", stdout(&shares));
    let notes = dir.path().join("notes.csv");
    std::fs::write(&notes, "a,b\n1,2\n").unwrap();
    let refused = import(&[notes.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(stderr(&refused).contains("not a known format"), "{}", stderr(&refused));

    // A file dropped into the markets inbox is imported and deleted.
    let inbox = dir.path().join("markets-inbox");
    std::fs::copy(fixtures.join("ecdc_daily_2020-04-14_semicolon_bom.csv"), inbox.join(".ecdc.tmp")).unwrap();
    std::fs::rename(inbox.join(".ecdc.tmp"), inbox.join("ecdc.csv")).unwrap();
    std::fs::write(inbox.join("notes.csv"), "a,b\n1,2\n").unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while inbox.join("ecdc.csv").exists() || !inbox.join("failed/notes.csv").exists() {
        assert!(std::time::Instant::now() < deadline, "the markets inbox was not imported");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    common::stop(up);

    // Three changes, three events: covid_daily twice (8, then 11 rows), prices once.
    let out = tributary(dir.path())
        .args(["log", "tail", "datasets", "--from-beginning", "--timeout-ms", "500"])
        .output()
        .unwrap();
    let events: Vec<(String, u64)> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|e| (e["dataset"].as_str().unwrap().to_string(), e["rows"].as_u64().unwrap()))
        .collect();
    assert_eq!(events, [("covid_daily".into(), 8), ("prices".into(), 2), ("covid_daily".into(), 11)]);

    // The same import without `up`, in a fresh directory: the same report.
    let alone = tempfile::tempdir().unwrap();
    let out = tributary(alone.path()).arg("import").arg(&latin1).output().unwrap();
    let report = |o: &std::process::Output| {
        stdout(o).lines().filter(|l| !l.contains("took ")).map(str::to_string).collect::<Vec<_>>()
    };
    assert_eq!(report(&out), report(&beside));
}

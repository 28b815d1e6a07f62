use chrono::NaiveDate;
use tributary_schema::markets::{CovidDaily, CovidWeekly, Dataset, PriceBar};
use tributary_sources::formats::{ReadOptions, Rows, parse};

use super::*;

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn bar(symbol: &str, d: NaiveDate, close: f64) -> PriceBar {
    PriceBar {
        symbol: symbol.into(),
        date: d,
        open: Some(close - 1.0),
        high: None,
        low: Some(close - 2.0),
        close,
        adj_close: Some(close),
        volume: None,
        turnover: Some(12.5),
    }
}

fn daily_rows(relative: &str) -> Option<Vec<CovidDaily>> {
    let content = tributary_test_data::read(relative)?;
    match parse(&content, relative, &ReadOptions::new(None, ""), 0).unwrap().rows {
        Rows::CovidDaily(rows) => Some(rows),
        other => panic!("{relative}: not daily rows ({} rows of another dataset)", other.len()),
    }
}

#[tokio::test]
async fn rows_round_trip_and_the_same_import_twice_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path().to_str().unwrap()).unwrap();
    let rows = vec![
        bar("^GDAXI", date(2020, 3, 16), 8742.25),
        bar("^GDAXI", date(2019, 12, 30), 13249.01),
        bar("X", date(2020, 3, 16), 1.0),
    ];
    let first = lake.upsert(rows.clone()).await.unwrap();
    assert_eq!((first.version, first.inserted, first.updated, first.total_rows), (Some(1), 3, 0, 3));
    assert_eq!((first.changed_from, first.changed_to), (Some(date(2019, 12, 30)), Some(date(2020, 3, 16))));
    let mut back: Vec<PriceBar> = lake.rows().await.unwrap();
    let mut expected = rows.clone();
    back.sort_by_key(|b| b.key());
    expected.sort_by_key(|b| b.key());
    assert_eq!(back, expected, "every field, NULLs included, round-trips");

    let again = lake.upsert(rows).await.unwrap();
    assert_eq!((again.version, again.unchanged, again.total_rows), (None, 3, 3), "no new version");
    let m = lake.manifest(Dataset::Prices).await.unwrap().unwrap();
    assert_eq!((m.version, m.rows(), m.partitions.len()), (1, 3, 2));
    assert_eq!(m.date_range(), Some((date(2019, 12, 30), date(2020, 3, 16))));
}

#[tokio::test]
async fn a_later_import_replaces_values_and_only_rewrites_the_years_it_touches() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(&format!("file://{}", dir.path().display())).unwrap();
    lake.upsert(vec![bar("S", date(2019, 5, 1), 10.0), bar("S", date(2020, 5, 1), 20.0)]).await.unwrap();
    let before = lake.manifest(Dataset::Prices).await.unwrap().unwrap();
    // A revision of 2020 and a new day; the offer's own repeats keep the last.
    let report = lake
        .upsert(vec![
            bar("S", date(2020, 5, 1), 99.0),
            bar("S", date(2020, 5, 4), 1.0),
            bar("S", date(2020, 5, 4), 21.0),
        ])
        .await
        .unwrap();
    assert_eq!((report.version, report.inserted, report.updated, report.offered), (Some(2), 1, 1, 2));
    let after = lake.manifest(Dataset::Prices).await.unwrap().unwrap();
    assert_eq!(after.partitions[&2019], before.partitions[&2019], "2019 untouched");
    assert_ne!(after.partitions[&2020].path, before.partitions[&2020].path);
    assert!(!dir.path().join(&before.partitions[&2020].path).exists(), "the replaced file is deleted");
    let closes: Vec<f64> = lake.rows::<PriceBar>().await.unwrap().iter().map(|b| b.close).collect();
    assert_eq!(closes, [10.0, 99.0, 21.0]);
}

#[tokio::test]
async fn an_older_then_a_newer_ecdc_snapshot_equal_the_newer_alone() {
    let (Some(april), Some(fin)) = (
        daily_rows("covid/ecdc_casedistribution_2020-04-23.csv"),
        daily_rows("covid/ecdc_casedistribution_daily_final_2020-12-14.csv"),
    ) else {
        return;
    };
    let both = Lake::open("memory://").unwrap();
    both.upsert(april.clone()).await.unwrap();
    let report = both.upsert(fin.clone()).await.unwrap();
    assert_eq!(report.version, Some(2));
    assert_eq!(report.inserted + report.updated + report.unchanged, 61_900);
    // Every April row changes: the final file has popData2019 (April: 2018) and the 14-day rate.
    assert_eq!((report.updated, report.inserted), (12_596, 61_900 - 12_596));
    let alone = Lake::open("memory://").unwrap();
    alone.upsert(fin.clone()).await.unwrap();
    let (a, b): (Vec<CovidDaily>, Vec<CovidDaily>) =
        (both.rows().await.unwrap(), alone.rows().await.unwrap());
    assert_eq!(a.len(), 61_900);
    assert_eq!(a, b);
    assert_eq!(a.iter().map(|r| r.cases).sum::<i64>(), 71_503_614);
    // And the final file again: nothing changes.
    assert_eq!(alone.upsert(fin).await.unwrap().version, None);
}

#[tokio::test]
async fn weekly_rows_round_trip() {
    let rows = vec![CovidWeekly {
        country: "Europe (total)".into(),
        country_code: None,
        continent: "Europe".into(),
        population: Some(1),
        indicator: tributary_schema::markets::Indicator::Deaths,
        year: 2020,
        week: 53,
        week_start: date(2020, 12, 28),
        weekly_count: -4,
        rate_14_day: None,
        cumulative_count: Some(7),
        source: "s, with a comma".into(),
    }];
    let lake = Lake::open("memory://").unwrap();
    lake.upsert(rows.clone()).await.unwrap();
    assert_eq!(lake.rows::<CovidWeekly>().await.unwrap(), rows);
}

#[tokio::test]
async fn raw_payloads_are_kept_once_per_content_with_a_record_per_fetch() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path().to_str().unwrap()).unwrap();
    let fetch = |ms| RawFetch {
        url: "file:///x.csv".into(),
        fetched_ms: ms,
        format: "yahoo".into(),
        etag: None,
        last_modified: None,
    };
    let a = lake.put_raw(Dataset::Prices, b"payload", fetch(1)).await.unwrap();
    let b = lake.put_raw(Dataset::Prices, b"payload", fetch(2)).await.unwrap();
    assert_eq!(a.payload, b.payload);
    assert_eq!(a.sha256, "239f59ed55e737c77147cf55ad0c1b030b6d7ee748a7426952f9b852d5a935e5");
    assert_eq!(std::fs::read(dir.path().join(&a.payload)).unwrap(), b"payload");
    let fetches = lake.raw_fetches(Dataset::Prices).await.unwrap();
    assert_eq!(fetches.iter().map(|f| f.fetch.fetched_ms).collect::<Vec<_>>(), [1, 2]);
}

#[tokio::test]
async fn unusable_locations_and_damaged_manifests_are_clear_errors() {
    let err = Lake::open("gs://bucket/prefix").err().unwrap().to_string();
    assert!(err.contains("s3://bucket/prefix"), "{err}");
    let err = Lake::open("s3:///no-bucket").err().unwrap().to_string();
    assert!(err.contains("an S3 lake is s3://bucket"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path().to_str().unwrap()).unwrap();
    std::fs::create_dir_all(dir.path().join("tables/prices")).unwrap();
    std::fs::write(dir.path().join("tables/prices/_manifest.json"), b"{not json").unwrap();
    let err = lake.manifest(Dataset::Prices).await.unwrap_err().to_string();
    assert!(err.contains("manifest of prices is unreadable"), "{err}");
}

/// The lake on an S3-compatible server (scripts/test starts one on loopback and sets
/// `TRIBUTARY_TEST_S3` to a bucket URL and the `AWS_*` variables to reach it).
#[tokio::test]
async fn the_lake_works_the_same_on_s3() {
    let Some(bucket) = tributary_test_data::service("TRIBUTARY_TEST_S3") else {
        return;
    };
    // A fresh prefix per run: the server outlives test runs.
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let location = format!("{}/lake-test-{}-{nanos}", bucket.trim_end_matches('/'), std::process::id());
    let lake = Lake::open(&location).unwrap();
    assert!(lake.manifest(Dataset::Prices).await.unwrap().is_none());
    let first: Vec<_> = (1..=20).map(|d| bar("^GDAXI", date(2020, 3, d), 100.0 + d as f64)).collect();
    let report = lake.upsert(first.clone()).await.unwrap();
    assert_eq!((report.version, report.inserted), (Some(1), 20));
    // A revision of one day and a new day: one current row per key, a new version.
    let revised = vec![bar("^GDAXI", date(2020, 3, 5), 1.0), bar("^GDAXI", date(2020, 3, 21), 2.0)];
    let report = lake.upsert(revised).await.unwrap();
    assert_eq!((report.version, report.inserted, report.updated), (Some(2), 1, 1));
    assert_eq!(lake.upsert(first[..3].to_vec()).await.unwrap().version, None, "unchanged rows: no version");
    let snapshot = lake.snapshot(Dataset::Prices).await.unwrap();
    assert_eq!(snapshot.version, 2);
    let rows: Vec<PriceBar> = lake.rows().await.unwrap();
    assert_eq!(rows.len(), 21);
    assert_eq!(rows.iter().find(|r| r.date == date(2020, 3, 5)).unwrap().close, 1.0);
    let raw = lake
        .put_raw(
            Dataset::Prices,
            b"payload",
            RawFetch {
                url: "file:///x".into(),
                fetched_ms: 7,
                format: "yahoo".into(),
                etag: None,
                last_modified: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(lake.raw_fetches(Dataset::Prices).await.unwrap(), [raw]);
    // The same location opened again (another process, say) sees the same lake.
    let again = Lake::open(&location).unwrap();
    assert_eq!(again.manifest(Dataset::Prices).await.unwrap().unwrap().version, 2);
}

/// An import killed around its dead letters, then run again: each bad row is one dead letter.
/// The three windows: before the mark, after the mark but before the append, after the append.
#[tokio::test]
async fn the_dead_letters_of_a_payload_are_appended_once_however_an_import_was_cut_short() {
    use tributary_log::{EmbeddedLog, EmbeddedLogConfig, EventLog, ReadLimits, Record};
    use tributary_schema::DeadLetter;
    use tributary_schema::dead_letter::DEAD_LETTER_TOPIC;

    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path().join("lake").to_str().unwrap()).unwrap();
    let config = EmbeddedLogConfig { default_partitions: 3, ..EmbeddedLogConfig::default() };
    let log = EmbeddedLog::open(dir.path().join("log"), config).await.unwrap();
    let fetch = |url: &str| RawFetch {
        url: url.into(),
        fetched_ms: 1,
        format: "yahoo".into(),
        etag: None,
        last_modified: None,
    };
    let letters = |url: &str| -> Vec<DeadLetter> {
        (2..5).map(|line| DeadLetter::new(url, format!("line {line}"), "not a number", b"x", 1)).collect()
    };
    let rows = vec![bar("^GDAXI", date(2020, 1, 2), 1.0)];
    // Imported twice in full: the second appends nothing.
    let payload_a = b"payload a";
    let first = import::import(&lake, &log, payload_a, fetch("a"), rows.clone(), letters("a")).await.unwrap();
    let again = import::import(&lake, &log, payload_a, fetch("a"), rows.clone(), letters("a")).await.unwrap();
    assert_eq!((first.dead_letters_appended, again.dead_letters, again.dead_letters_appended), (3, 3, 0));

    // Killed after the mark, before the append (other letters arrive meanwhile): all three now.
    let payload_b = b"payload b";
    let sha_b = lake.put_raw(Dataset::Prices, payload_b, fetch("b")).await.unwrap().sha256;
    let end = log.offsets(DEAD_LETTER_TOPIC, 0).await.unwrap().end;
    lake.set_dead_letter_mark(Dataset::Prices, &sha_b, DeadLetterMark { partition: 0, from: end })
        .await
        .unwrap();
    let other = Record::new(DeadLetter::new("dir:x.csv", "line 2", "bad", b"y", 1).to_json());
    log.append_to_partition(DEAD_LETTER_TOPIC, 0, vec![other]).await.unwrap();
    let b = import::import(&lake, &log, payload_b, fetch("b"), rows.clone(), letters("b")).await.unwrap();
    assert_eq!(b.dead_letters_appended, 3);

    // Killed after the append, before anything else: nothing again. The same positions from
    // another payload (the same URL, new content) are that payload's own letters.
    let again = import::import(&lake, &log, payload_b, fetch("b"), rows.clone(), letters("b")).await.unwrap();
    assert_eq!(again.dead_letters_appended, 0);
    let c = import::import(&lake, &log, b"payload b, new", fetch("b"), rows, letters("b")).await.unwrap();
    assert_eq!(c.dead_letters_appended, 3);

    let records = log.read(DEAD_LETTER_TOPIC, 0, 0, ReadLimits::default()).await.unwrap();
    let mut positions: Vec<String> = records
        .iter()
        .map(|r| DeadLetter::from_json(&r.record.value).unwrap())
        .map(|l| format!("{} {}", l.source, l.position))
        .collect();
    positions.sort();
    let want: Vec<String> = ["a", "a", "a", "b", "b", "b", "b", "b", "b", "dir:x.csv"]
        .iter()
        .zip(["2", "3", "4", "2", "2", "3", "3", "4", "4", "2"])
        .map(|(s, l)| format!("{s} line {l}"))
        .collect();
    assert_eq!(positions, want);
}

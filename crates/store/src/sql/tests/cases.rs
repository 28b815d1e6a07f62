//! Conformance cases: k-means versions, offsets, dead letters, migrations, source status.

use super::*;
use crate::SourceRun;

fn version(v: u64, x: f64) -> KMeansVersionRow {
    KMeansVersionRow {
        model: "mobile".into(),
        version: v,
        created_ms: 1000 + v as i64,
        // Versions 2 and on come from event-time windows of 5 s in 2020.
        event_time_ms: (v >= 2).then(|| 1_600_000_000_000 + 5000 * v as i64),
        batch_points: 3,
        batches: 1,
        projection: r#"{"kind":"km","lat0":51.0,"lon0":10.0}"#.into(),
        split: if v == 2 { Some((1, 0)) } else { None },
        // Exact binary fractions, so that sums and means in SQL are exact too.
        sum_of_squares: Some(v as f64 * 0.25),
        silhouette: if v == 3 { None } else { Some(0.5 + v as f64 / 64.0) },
        centres: vec![
            CentreRow { cluster: 0, lat: 52.5, lon: 13.4, weight: 2.0, batch_count: 2, x, y: -0.1 },
            CentreRow {
                cluster: 1,
                lat: 48.1,
                lon: 11.6,
                weight: 1.0,
                batch_count: 1,
                x: 1e-300,
                y: f64::MIN_POSITIVE,
            },
        ],
        offsets: vec![OffsetRange {
            topic: "mobile_data".into(),
            partition: 0,
            from: 10 * v,
            to: 10 * v + 3,
        }],
    }
}

fn checkpoint(next: u64) -> Vec<OffsetCheckpoint> {
    vec![OffsetCheckpoint { topic: "mobile_data".into(), partition: 0, next_offset: next }]
}

pub async fn versions_offsets_and_dead_letters_round_trip_exactly(ctx: Ctx) {
    let store = ctx.open().await;
    let x = 0.1 + 0.2; // not representable exactly in decimal: must come back bit-for-bit
    let mut changes = store.subscribe();
    for v in 1..=3 {
        let commit = BatchCommit {
            processor: "kmeans".into(),
            version: Some(version(v, x * v as f64)),
            offsets: checkpoint(10 * v + 3),
            dead_letters: vec![DeadLetter::new("dir:a.csv", format!("line {v} ü"), "bad", b"\xff\x00raw", 7)],
            expected_offsets: None,
            // The third commit leaves the state the second wrote.
            state: (v < 3).then(|| format!("{{\"windows\": {v}}}")),
        };
        store.commit_batch(&commit).await.unwrap();
    }
    for v in 1..=3 {
        assert_eq!(
            changes.try_recv().unwrap(),
            crate::StoreChange::Model { model: "mobile".into(), version: v }
        );
    }
    let latest = store.latest_kmeans("mobile").await.unwrap().unwrap();
    assert_eq!(latest, version(3, x * 3.0));
    assert_eq!((latest.sum_of_squares, latest.silhouette), (Some(0.75), None));
    assert_eq!(store.kmeans_history("mobile", 2, 2, 1).await.unwrap()[0].silhouette, Some(0.5 + 2.0 / 64.0));
    // A quality that is not a number is refused, naming it, and nothing of the batch is written.
    let mut bad = version(4, 1.0);
    bad.silhouette = Some(f64::NAN);
    let commit = BatchCommit {
        processor: "kmeans".into(),
        version: Some(bad),
        offsets: checkpoint(43),
        dead_letters: vec![],
        expected_offsets: None,
        state: None,
    };
    let error = store.commit_batch(&commit).await.unwrap_err().to_string();
    assert!(error.contains("silhouette NaN is not a finite number"), "{error}");
    assert_eq!(latest.centres[0].x.to_bits(), (x * 3.0).to_bits());
    assert_eq!(latest.centres[1].y.to_bits(), f64::MIN_POSITIVE.to_bits());
    let history = store.kmeans_history("mobile", 2, 3, 10).await.unwrap();
    assert_eq!(history.iter().map(|v| v.version).collect::<Vec<_>>(), vec![2, 3]);
    assert_eq!(history[0].split, Some((1, 0)));
    assert_eq!(store.kmeans_history("mobile", 0, u64::MAX, 2).await.unwrap().len(), 2);
    assert_eq!(store.kmeans_points("mobile").await.unwrap(), 9);
    assert_eq!(store.kmeans_points("other").await.unwrap(), 0);
    // Live counts: the versions made at or after a time (versions 2 and 3 here), per cluster.
    let count = |cluster, points, versions| crate::ClusterCount { cluster, points, versions };
    assert_eq!(
        store.kmeans_cluster_counts("mobile", 1002, TimeAxis::Processing).await.unwrap(),
        [count(0, 4, 2), count(1, 2, 2)]
    );
    assert_eq!(
        store.kmeans_cluster_counts("mobile", 0, TimeAxis::Processing).await.unwrap(),
        [count(0, 6, 3), count(1, 3, 3)]
    );
    assert!(store.kmeans_cluster_counts("mobile", 1004, TimeAxis::Processing).await.unwrap().is_empty());
    assert!(store.kmeans_cluster_counts("other", 0, TimeAxis::Processing).await.unwrap().is_empty());
    // … and on event time: the versions whose window ends at or after a time.
    let event = |since| store.kmeans_cluster_counts("mobile", since, TimeAxis::Event);
    assert_eq!(event(1_600_000_015_000).await.unwrap(), [count(0, 2, 1), count(1, 1, 1)]);
    assert_eq!(event(0).await.unwrap(), [count(0, 4, 2), count(1, 2, 2)]);
    assert!(event(1_600_000_015_001).await.unwrap().is_empty());
    assert_eq!(store.processor_state("kmeans").await.unwrap().as_deref(), Some("{\"windows\": 2}"));
    assert_eq!(store.processor_state("other").await.unwrap(), None);
    assert_eq!(store.processor_offsets("kmeans").await.unwrap(), checkpoint(33));
    let all = store.all_processor_offsets().await.unwrap();
    assert_eq!(all, checkpoint(33).into_iter().map(|c| ("kmeans".to_string(), c)).collect::<Vec<_>>());
    assert_eq!(store.dead_letter_count().await.unwrap(), 3);
    let page = store.dead_letters(Some("dir:a.csv"), 2, None).await.unwrap();
    assert_eq!(page.iter().map(|d| d.letter.position.as_str()).collect::<Vec<_>>(), ["line 3 ü", "line 2 ü"]);
    let next = store.dead_letters(None, 2, Some(page[1].id)).await.unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].letter.raw, b"\xff\x00raw");
    assert!(store.dead_letters(Some("other"), 10, None).await.unwrap().is_empty());
    assert!(store.latest_kmeans("other").await.unwrap().is_none());
    store.close().await;
}

/// A first version with no sum of squares or silhouette (k-means++ still gathering, a sample
/// too small), then versions with both: on PostgreSQL a NULL bound the wrong way fixes the
/// prepared statement's parameter type at float4, and the next double fails to bind.
pub async fn a_version_without_quality_first_leaves_the_columns_doubles(ctx: Ctx) {
    let store = ctx.open().await;
    for v in 1..=6u64 {
        let mut row = version(v, 0.5);
        if v % 3 == 1 {
            (row.sum_of_squares, row.silhouette) = (None, None);
        }
        let commit = BatchCommit {
            processor: "kmeans".into(),
            version: Some(row),
            offsets: checkpoint(3 * v),
            dead_letters: vec![],
            expected_offsets: None,
            state: None,
        };
        store.commit_batch(&commit).await.unwrap();
    }
    let history = store.kmeans_history("mobile", 1, 6, 10).await.unwrap();
    let silhouettes: Vec<Option<f64>> = history.iter().map(|v| v.silhouette).collect();
    let expected: Vec<Option<f64>> =
        (1..=6u64).map(|v| if v % 3 == 1 || v == 3 { None } else { Some(0.5 + v as f64 / 64.0) }).collect();
    assert_eq!(silhouettes, expected);
}

pub async fn a_failed_commit_writes_nothing(ctx: Ctx) {
    let store = ctx.open().await;
    let ok = BatchCommit {
        processor: "kmeans".into(),
        version: Some(version(1, 0.5)),
        offsets: checkpoint(13),
        dead_letters: vec![],
        expected_offsets: None,
        state: None,
    };
    store.commit_batch(&ok).await.unwrap();
    // The same version again violates the primary key after the offsets were staged.
    let dup = BatchCommit {
        processor: "kmeans".into(),
        version: Some(version(1, 0.7)),
        offsets: checkpoint(99),
        dead_letters: vec![DeadLetter::new("x", "y", "z", b"", 0)],
        expected_offsets: None,
        state: None,
    };
    assert!(store.commit_batch(&dup).await.is_err());
    assert_eq!(store.processor_offsets("kmeans").await.unwrap(), checkpoint(13));
    assert_eq!(store.dead_letter_count().await.unwrap(), 0);
    assert_eq!(store.latest_kmeans("mobile").await.unwrap().unwrap().centres[0].x, 0.5);
    // A later commit moves the checkpoint (an upsert in every dialect).
    let next = BatchCommit { processor: "kmeans".into(), offsets: checkpoint(20), ..Default::default() };
    store.commit_batch(&next).await.unwrap();
    assert_eq!(store.processor_offsets("kmeans").await.unwrap(), checkpoint(20));
    store.close().await;
}

pub async fn migrations_apply_once_and_a_newer_schema_is_refused(ctx: Ctx) {
    let store = ctx.open().await;
    store.close().await;
    let store = ctx.open().await;
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM schema_migrations").fetch_one(&store.pool).await.unwrap();
    assert_eq!(n, crate::migrations::of(ctx.dialect).len() as i64);
    sqlx::query("INSERT INTO schema_migrations (version, name, applied_ms) VALUES (999, 'future', 0)")
        .execute(&store.pool)
        .await
        .unwrap();
    store.close().await;
    let err = SqlStore::connect(&ctx.url).await.expect_err("newer schema must be refused");
    assert!(err.to_string().contains("newer than this build"), "{err}");
}

pub async fn stores_opened_at_the_same_moment_migrate_once(ctx: Ctx) {
    let opens: Vec<_> = (0..6)
        .map(|_| {
            let url = ctx.url.clone();
            tokio::spawn(async move { SqlStore::connect(&url).await.map(|s| s.dialect()) })
        })
        .collect();
    for o in opens {
        assert_eq!(o.await.unwrap().unwrap(), ctx.dialect);
    }
    let store = ctx.open().await;
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM schema_migrations").fetch_one(&store.pool).await.unwrap();
    assert_eq!(n, crate::migrations::of(ctx.dialect).len() as i64);
    store.close().await;
}

fn run(source: &str, time_ms: i64, rows: u64, errors: u64, failure: Option<&str>) -> SourceRun {
    let kind = source.split(':').next().unwrap().to_string();
    SourceRun { source: source.into(), kind, time_ms, rows, errors, failure: failure.map(Into::into) }
}

pub async fn source_runs_add_up_per_source(ctx: Ctx) {
    let store = ctx.open().await;
    assert!(store.source_statuses().await.unwrap().is_empty());
    let long = format!("pull:file:///{}ü", "x".repeat(300));
    let first = [
        run("pull:a", 10, 100, 1, None),
        run("pull:a", 20, 0, 0, Some("HTTP 503 from a; 'quoted' \"too\"")),
        run("dir:/in", 15, 7, 0, None),
    ];
    let second = [run("pull:a", 30, 5, 2, None), run(&long, 40, 1, 0, None)];
    for runs in [&first[..], &second[..]] {
        let mut by_source: std::collections::BTreeMap<&str, Vec<&SourceRun>> = Default::default();
        for r in runs {
            by_source.entry(&r.source).or_default().push(r);
        }
        let statuses: Vec<SourceStatus> =
            by_source.values().map(|rs| SourceStatus::of_runs(rs.iter().copied()).unwrap()).collect();
        store.add_source_runs(&statuses).await.unwrap();
    }
    let all = store.source_statuses().await.unwrap();
    assert_eq!(all.iter().map(|s| s.source.chars().count()).collect::<Vec<_>>(), [7, 6, 255]);
    let a = &all[1];
    let expected = SourceStatus::of_runs(first[..2].iter().chain(&second[..1])).unwrap();
    assert_eq!(a, &expected);
    assert_eq!((a.runs, a.rows, a.errors, a.failures), (3, 105, 3, 1));
    assert_eq!((a.last_run_ms, a.last_ok_ms, a.last_rows, a.last_failure_ms), (30, Some(30), 5, Some(20)));
    assert_eq!(a.last_failure.as_deref(), Some("HTTP 503 from a; 'quoted' \"too\""));
    assert_eq!((all[0].kind.as_str(), all[0].last_failure.as_deref()), ("dir", None));
    store.close().await;
}

pub async fn fenced_commits_write_only_over_the_offsets_they_continue_from(ctx: Ctx) {
    let store = ctx.open().await;
    let letter = || vec![DeadLetter::new("x", "y", "z", b"", 0)];
    let fenced = |next: u64, expected: Vec<OffsetCheckpoint>| BatchCommit {
        processor: "sink".into(),
        offsets: checkpoint(next),
        dead_letters: letter(),
        expected_offsets: Some(expected),
        state: None,
        ..Default::default()
    };
    // The first commit expects no offsets; a second one that also expected none loses.
    store.commit_batch(&fenced(10, vec![])).await.unwrap();
    let lost = store.commit_batch(&fenced(12, vec![])).await.unwrap_err();
    assert!(matches!(lost, StoreError::Conflict(_)), "{lost}");
    // One that continues from offsets the store no longer has loses too, and writes nothing.
    let stale = store.commit_batch(&fenced(15, checkpoint(7))).await.unwrap_err();
    assert!(matches!(stale, StoreError::Conflict(_)), "{stale}");
    assert_eq!(store.processor_offsets("sink").await.unwrap(), checkpoint(10));
    assert_eq!(store.dead_letter_count().await.unwrap(), 1);
    // Continuing from what is there goes through.
    store.commit_batch(&fenced(20, checkpoint(10))).await.unwrap();
    assert_eq!(store.processor_offsets("sink").await.unwrap(), checkpoint(20));
    assert_eq!(store.dead_letter_count().await.unwrap(), 2);
    // The fence is per partition: a writer of partition 1 neither checks nor needs partition 0.
    let partition_1 =
        |next: u64| OffsetCheckpoint { topic: "mobile_data".into(), partition: 1, next_offset: next };
    let other = |next: u64, expected: Vec<OffsetCheckpoint>| BatchCommit {
        processor: "sink".into(),
        offsets: vec![partition_1(next)],
        dead_letters: letter(),
        expected_offsets: Some(expected),
        state: None,
        ..Default::default()
    };
    store.commit_batch(&other(5, vec![])).await.unwrap();
    store.commit_batch(&other(8, vec![partition_1(5)])).await.unwrap();
    let lost = store.commit_batch(&other(9, vec![partition_1(5)])).await.unwrap_err();
    assert!(matches!(lost, StoreError::Conflict(_)), "{lost}");
    store.commit_batch(&fenced(25, checkpoint(20))).await.unwrap();
    let mut both = checkpoint(25);
    both.push(partition_1(8));
    assert_eq!(store.processor_offsets("sink").await.unwrap(), both);
    assert_eq!(store.dead_letter_count().await.unwrap(), 5);
    store.close().await;
}

pub async fn retention_folds_old_versions_and_keeps_counts_and_ranges_exact(ctx: Ctx) {
    use crate::retention::Retention;
    let store = ctx.open().await;
    let now = 100 * 86_400_000i64;
    // Versions 1..=20 two hours ago, ten a minute (two minutes); 21..=30 in the last minute.
    for v in 1..=30u64 {
        let mut row = version(v, 0.5);
        row.created_ms =
            if v <= 20 { now - 7_200_000 + (v as i64 - 1) * 6_000 } else { now - 60_000 + v as i64 };
        row.split = None;
        row.offsets = vec![
            OffsetRange { topic: "mobile_data".into(), partition: 0, from: 3 * (v - 1), to: 3 * v },
            OffsetRange { topic: "mobile_data".into(), partition: 1, from: v - 1, to: v },
        ];
        let commit = BatchCommit {
            processor: "kmeans".into(),
            version: Some(row),
            offsets: checkpoint(3 * v),
            dead_letters: vec![DeadLetter::new(
                "dir:a.csv",
                format!("line {v}"),
                "bad",
                b"x",
                now - (30 - v as i64) * 86_400_000,
            )],
            expected_offsets: None,
            state: None,
        };
        store.commit_batch(&commit).await.unwrap();
    }
    let retention = Retention {
        dead_letters_age: Some(std::time::Duration::from_secs(10 * 86_400)),
        dead_letters_max: Some(4),
        ..Default::default()
    };
    let report = store.apply_retention(&retention, now).await.unwrap();
    assert_eq!(report.versions_folded, 18, "two minutes of ten versions fold into one each");
    // Age: letters of versions 1..=20 are 10 or more days old; count: 4 of the other 10 stay.
    assert_eq!(report.dead_letters_deleted, 26);
    assert_eq!(store.dead_letter_count().await.unwrap(), 4);
    assert_eq!(store.kmeans_points("mobile").await.unwrap(), 90, "every point still counted once");
    let history = store.kmeans_history("mobile", 1, u64::MAX, 100).await.unwrap();
    assert_eq!(
        history.iter().map(|v| v.version).collect::<Vec<_>>(),
        [10, 20].into_iter().chain(21..=30).collect::<Vec<_>>()
    );
    let folded = &history[0];
    assert_eq!((folded.batches, folded.batch_points), (10, 30));
    // Sums of squares add up; silhouettes are averaged over the versions that have one (3 has none).
    assert_eq!(folded.sum_of_squares, Some((1..=10).map(|v| v as f64 * 0.25).sum()));
    let silhouettes: Vec<f64> = (1..=10).filter(|v| *v != 3).map(|v| 0.5 + v as f64 / 64.0).collect();
    let mean = silhouettes.iter().sum::<f64>() / silhouettes.len() as f64;
    assert!((folded.silhouette.unwrap() - mean).abs() < 1e-12, "{:?} vs {mean}", folded.silhouette);
    assert_eq!(folded.centres.iter().map(|c| c.batch_count).collect::<Vec<_>>(), [20, 10]);
    assert_eq!(folded.centres[0].x, 0.5, "the kept version's model is untouched");
    assert_eq!(
        folded.offsets,
        vec![
            OffsetRange { topic: "mobile_data".into(), partition: 0, from: 0, to: 30 },
            OffsetRange { topic: "mobile_data".into(), partition: 1, from: 0, to: 10 },
        ]
    );
    assert_eq!(
        history[1].offsets[0],
        OffsetRange { topic: "mobile_data".into(), partition: 0, from: 30, to: 60 }
    );
    assert_eq!(history[2].batches, 1);
    // A second pass finds nothing to do; a day later the two minutes fold into their hour.
    assert_eq!(store.apply_retention(&retention, now).await.unwrap().versions_folded, 0);
    assert_eq!(
        store.apply_retention(&retention, now + 86_400_000).await.unwrap().versions_folded,
        1 + 8,
        "21..=29 fold into 29; 30 is the newest"
    );
    let history = store.kmeans_history("mobile", 1, u64::MAX, 100).await.unwrap();
    assert_eq!(history[0].version, 20);
    assert_eq!((history[0].batches, history[0].batch_points), (20, 60));
    assert_eq!(history.last().unwrap().version, 30, "the newest version is never folded away");
    assert_eq!(store.kmeans_points("mobile").await.unwrap(), 90);
}

/// A count or an offset read back that does not fit its type (a row written by hand, or by a
/// broken writer) is an error naming the column, never a wrapped number.
pub async fn values_that_do_not_fit_are_refused_on_read(ctx: Ctx) {
    let store = ctx.open().await;
    let commit = BatchCommit {
        processor: "p".into(),
        version: Some(version(1, 0.5)),
        offsets: checkpoint(10),
        dead_letters: vec![DeadLetter::new("x", "y", "z", b"raw", 0)],
        ..Default::default()
    };
    store.commit_batch(&commit).await.unwrap();
    for statement in [
        "UPDATE dead_letters SET raw_len = -1",
        "UPDATE processor_offsets SET next_offset = -5",
        "UPDATE kmeans_centres SET batch_count = -2",
    ] {
        sqlx::query(statement).execute(&store.pool).await.unwrap();
    }
    let refused = |e: StoreError, column: &str| {
        let message = e.to_string();
        assert!(matches!(e, StoreError::Invalid(_)) && message.contains(column), "{message}");
    };
    refused(store.dead_letters(None, 10, None).await.unwrap_err(), "raw_len");
    refused(store.processor_offsets("p").await.unwrap_err(), "next_offset");
    refused(store.latest_kmeans("mobile").await.unwrap_err(), "batch_count");
}

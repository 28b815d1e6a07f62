use super::*;

fn version(v: u64, x: f64) -> KMeansVersionRow {
    KMeansVersionRow {
        model: "mobile".into(),
        version: v,
        created_ms: 1000 + v as i64,
        batch_points: 3,
        projection: r#"{"kind":"km","lat0":51.0,"lon0":10.0}"#.into(),
        split: if v == 2 { Some((1, 0)) } else { None },
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

#[tokio::test]
async fn versions_offsets_and_dead_letters_round_trip_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("s.sqlite")).await.unwrap();
    let x = 0.1 + 0.2; // not representable exactly in decimal: must come back bit-for-bit
    for v in 1..=3 {
        let commit = BatchCommit {
            processor: "kmeans".into(),
            version: Some(version(v, x * v as f64)),
            offsets: checkpoint(10 * v + 3),
            dead_letters: vec![DeadLetter::new("dir:a.csv", format!("line {v}"), "bad", b"\xff\x00raw", 7)],
        };
        store.commit_batch(&commit).await.unwrap();
    }
    let latest = store.latest_kmeans("mobile").await.unwrap().unwrap();
    assert_eq!(latest, version(3, x * 3.0));
    assert_eq!(latest.centres[0].x.to_bits(), (x * 3.0).to_bits());
    let history = store.kmeans_history("mobile", 2, 3, 10).await.unwrap();
    assert_eq!(history.iter().map(|v| v.version).collect::<Vec<_>>(), vec![2, 3]);
    assert_eq!(history[0].split, Some((1, 0)));
    assert_eq!(store.kmeans_points("mobile").await.unwrap(), 9);
    assert_eq!(store.processor_offsets("kmeans").await.unwrap(), checkpoint(33));
    assert_eq!(store.dead_letter_count().await.unwrap(), 3);
    let page = store.dead_letters(Some("dir:a.csv"), 2, None).await.unwrap();
    assert_eq!(page.iter().map(|d| d.letter.position.as_str()).collect::<Vec<_>>(), ["line 3", "line 2"]);
    let next = store.dead_letters(None, 2, Some(page[1].id)).await.unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].letter.raw, b"\xff\x00raw");
    assert!(store.dead_letters(Some("other"), 10, None).await.unwrap().is_empty());
    assert!(store.latest_kmeans("other").await.unwrap().is_none());
}

#[tokio::test]
async fn a_failed_commit_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("s.sqlite")).await.unwrap();
    let ok = BatchCommit {
        processor: "kmeans".into(),
        version: Some(version(1, 0.5)),
        offsets: checkpoint(13),
        dead_letters: vec![],
    };
    store.commit_batch(&ok).await.unwrap();
    // The same version again violates the primary key after the offsets were staged.
    let dup = BatchCommit {
        processor: "kmeans".into(),
        version: Some(version(1, 0.7)),
        offsets: checkpoint(99),
        dead_letters: vec![DeadLetter::new("x", "y", "z", b"", 0)],
    };
    assert!(store.commit_batch(&dup).await.is_err());
    assert_eq!(store.processor_offsets("kmeans").await.unwrap(), checkpoint(13));
    assert_eq!(store.dead_letter_count().await.unwrap(), 0);
    assert_eq!(store.latest_kmeans("mobile").await.unwrap().unwrap().centres[0].x, 0.5);
}

#[tokio::test]
async fn migrations_apply_once_and_a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite");
    let store = SqliteStore::open(&path).await.unwrap();
    store.close().await;
    let store = SqliteStore::open(&path).await.unwrap();
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM schema_migrations").fetch_one(&store.pool).await.unwrap();
    assert_eq!(n, SQLITE.len() as i64);
    sqlx::query("INSERT INTO schema_migrations (version, name, applied_ms) VALUES (999, 'future', 0)")
        .execute(&store.pool)
        .await
        .unwrap();
    store.close().await;
    let err = SqliteStore::open(&path).await.err().expect("newer schema must be refused");
    assert!(err.to_string().contains("newer than this build"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_opened_at_the_same_moment_migrate_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite");
    let opens: Vec<_> = (0..6)
        .map(|_| {
            let path = path.clone();
            tokio::spawn(async move { SqliteStore::open(&path).await.map(|_| ()) })
        })
        .collect();
    for o in opens {
        o.await.unwrap().unwrap();
    }
}

mod published_views {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use arrow::array::{Date32Array, Float64Array, Int32Array, RecordBatch, StringArray};
    use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

    use super::*;
    use crate::published_views::ColumnKind;

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("series", DataType::Utf8, false),
            Field::new("date", DataType::Date32, true),
            Field::new("lag", DataType::Int32, false),
            Field::new("pearson", DataType::Float64, true),
        ]))
    }

    /// `rows` rows whose `pearson` is `value` (NULL in every third row).
    fn batch(rows: usize, value: f64) -> RecordBatch {
        RecordBatch::try_new(
            schema(),
            vec![
                Arc::new(StringArray::from_iter_values((0..rows).map(|i| format!("S{}", i % 7)))),
                Arc::new(Date32Array::from_iter(
                    (0..rows).map(|i| (i % 5 != 0).then_some(18_322 + i as i32)),
                )),
                Arc::new(Int32Array::from_iter_values((0..rows).map(|i| i as i32 - 28))),
                Arc::new(Float64Array::from_iter((0..rows).map(|i| (i % 3 != 0).then_some(value)))),
            ],
        )
        .unwrap()
    }

    fn publication<'a>(batches: &'a [RecordBatch], lake_version: u64) -> ViewPublication<'a> {
        ViewPublication {
            view: "correlations",
            definition: "d1",
            schema: schema(),
            batches,
            dataset_versions: BTreeMap::from([("covid_daily".into(), lake_version), ("prices".into(), 1)]),
        }
    }

    async fn table_exists(store: &SqliteStore, table: &str) -> bool {
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?")
                .bind(table)
                .fetch_one(&store.pool)
                .await
                .unwrap();
        n == 1
    }

    #[tokio::test]
    async fn versions_are_tables_made_current_in_turn_with_their_dataset_versions() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("s.sqlite")).await.unwrap();
        assert!(store.current_view("correlations").await.unwrap().is_none());

        // More rows than one INSERT and one fill transaction take.
        let first = [batch(30_000, 0.5), batch(31_000, 0.5)];
        let v1 = store.publish_view(&publication(&first, 3)).await.unwrap();
        assert_eq!((v1.version, v1.rows, v1.table.as_str()), (1, 61_000, "view_correlations_v1"));
        assert_eq!(
            v1.columns.iter().map(|c| c.kind).collect::<Vec<_>>(),
            [ColumnKind::Text, ColumnKind::Date, ColumnKind::Integer, ColumnKind::Real]
        );
        assert_eq!(store.current_view("correlations").await.unwrap().unwrap(), v1);

        let row: (i64, String, Option<String>, i64, Option<f64>) = sqlx::query_as(
            "SELECT view_version, series, date, lag, pearson FROM view_correlations_v1 WHERE lag = -27",
        )
        .fetch_one(&store.pool)
        .await
        .unwrap();
        assert_eq!(row, (1, "S1".into(), Some("2020-03-02".into()), -27, Some(0.5)));
        let nulls: (i64, i64) =
            sqlx::query_as("SELECT SUM(date IS NULL), SUM(pearson IS NULL) FROM view_correlations_v1")
                .fetch_one(&store.pool)
                .await
                .unwrap();
        assert_eq!(nulls, (6_000 + 6_200, 10_000 + 10_334));

        let v2 = store.publish_view(&publication(&[batch(10, 0.25)], 4)).await.unwrap();
        assert_eq!((v2.version, v2.rows, v2.dataset_versions["covid_daily"]), (2, 10, 4));
        assert_eq!(store.current_views().await.unwrap(), std::slice::from_ref(&v2));
        assert!(table_exists(&store, "view_correlations_v1").await, "the previous version stays for readers");
        let v3 = store.publish_view(&publication(&[], 5)).await.unwrap();
        assert_eq!((v3.version, v3.rows), (3, 0));
        assert!(!table_exists(&store, "view_correlations_v1").await, "older versions are dropped");
        assert!(table_exists(&store, "view_correlations_v2").await);
    }

    #[tokio::test]
    async fn a_reader_sees_the_old_version_or_the_new_never_a_mix() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("s.sqlite")).await.unwrap();
        store.publish_view(&publication(&[batch(100, 0.5)], 1)).await.unwrap();
        // A reader inside one transaction: it looks the version up, then reads its rows.
        let mut reader = store.pool.begin().await.unwrap();
        let (table,): (String,) =
            sqlx::query_as("SELECT table_name FROM batch_view_versions WHERE view = 'correlations' ORDER BY version DESC LIMIT 1")
                .fetch_one(&mut *reader)
                .await
                .unwrap();
        store.publish_view(&publication(&[batch(40, 0.75)], 2)).await.unwrap();
        let (newest,): (String,) =
            sqlx::query_as("SELECT table_name FROM batch_view_versions WHERE view = 'correlations' ORDER BY version DESC LIMIT 1")
                .fetch_one(&mut *reader)
                .await
                .unwrap();
        assert_eq!(newest, table, "the reader's snapshot still has the old version current");
        let (n, distinct): (i64, i64) =
            sqlx::query_as(&format!("SELECT COUNT(*), COUNT(DISTINCT pearson) FROM \"{table}\""))
                .fetch_one(&mut *reader)
                .await
                .unwrap();
        assert_eq!((n, distinct), (100, 1));
        reader.commit().await.unwrap();
        assert_eq!(store.current_view("correlations").await.unwrap().unwrap().rows, 40);
    }

    #[tokio::test]
    async fn a_fill_left_by_a_crash_is_replaced_and_bad_names_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("s.sqlite")).await.unwrap();
        sqlx::query("CREATE TABLE view_correlations_v1 (junk TEXT)").execute(&store.pool).await.unwrap();
        sqlx::query("INSERT INTO view_correlations_v1 VALUES ('half a fill')")
            .execute(&store.pool)
            .await
            .unwrap();
        let v1 = store.publish_view(&publication(&[batch(5, 0.5)], 1)).await.unwrap();
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM view_correlations_v1")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!((v1.version, n), (1, 5));

        let batches = [batch(1, 0.5)];
        let mut bad = publication(&batches, 1);
        bad.view = "x\"; DROP TABLE batch_view_versions; --";
        assert!(store.publish_view(&bad).await.unwrap_err().to_string().contains("view name"));
        assert!(store.current_view("correlations").await.unwrap().is_some());
    }
}

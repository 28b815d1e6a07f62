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

//! Conformance cases: k-means versions, offsets, dead letters, migrations.

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
    assert_eq!(latest.centres[0].x.to_bits(), (x * 3.0).to_bits());
    assert_eq!(latest.centres[1].y.to_bits(), f64::MIN_POSITIVE.to_bits());
    let history = store.kmeans_history("mobile", 2, 3, 10).await.unwrap();
    assert_eq!(history.iter().map(|v| v.version).collect::<Vec<_>>(), vec![2, 3]);
    assert_eq!(history[0].split, Some((1, 0)));
    assert_eq!(store.kmeans_history("mobile", 0, u64::MAX, 2).await.unwrap().len(), 2);
    assert_eq!(store.kmeans_points("mobile").await.unwrap(), 9);
    assert_eq!(store.kmeans_points("other").await.unwrap(), 0);
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

pub async fn a_failed_commit_writes_nothing(ctx: Ctx) {
    let store = ctx.open().await;
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

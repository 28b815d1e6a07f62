//! Several workers of the scale-out k-means in one process, on the embedded log (whose consumer
//! groups share partitions between members in the process) and a SQLite store. The Kafka runs,
//! with worker processes, are in the binary's tests.

use std::sync::Arc;
use std::time::Duration;
use tributary_store::prelude::*;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tributary_log::{EmbeddedLog, EmbeddedLogConfig, EventLog, Record};
use tributary_schema::MobileEvent;
use tributary_store::SqlStore;

use super::replay::replay_one_process;
use super::*;
use crate::kmeans::TimeUnit;
use crate::mobile_kmeans::{Init, ProjectionMode};

const TOPIC: &str = "mobile_data";

fn config(worker: &str) -> GroupKMeansConfig {
    GroupKMeansConfig {
        name: "mobile".into(),
        topic: TOPIC.into(),
        settings: KMeansSettings {
            k: 4,
            decay: 0.9,
            time_unit: TimeUnit::Batches,
            init: Init::KMeansPlusPlus { seed: 7, min_points: 300 },
            projection: ProjectionMode::Km,
        },
        max_batch_records: 500,
        batch_interval: Duration::from_millis(20),
        worker: worker.into(),
    }
}

/// Events around three cities from 40 devices; every 97th record is not an event.
fn records(from: usize, n: usize) -> Vec<Record> {
    let cities = [[52.52, 13.40], [48.14, 11.58], [50.94, 6.96]];
    (from..from + n)
        .map(|i| {
            let device = format!("device-{}", i % 40);
            if i % 97 == 0 {
                return Record::new(format!("garbage {i}")).with_key(device);
            }
            let c = cities[i % 3];
            let jitter = |k: usize| ((i * 7919 + k * 104_729) % 1000) as f64 / 1000.0 - 0.5;
            let event = MobileEvent {
                timepoint: "2026-11-30 10:00:00.000".into(),
                device_id: device.clone(),
                accelo_x: Some(0.0),
                accelo_y: Some(0.0),
                accelo_z: Some(1.0),
                latitude: c[0] + 0.1 * jitter(1),
                longitude: c[1] + 0.1 * jitter(2),
                locked: Some(false),
            };
            Record::new(event.to_json()).with_key(device)
        })
        .collect()
}

struct Cluster {
    log: Arc<dyn EventLog>,
    store: Arc<SqlStore>,
    _dir: tempfile::TempDir,
}

impl Cluster {
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let log = EmbeddedLog::open(&dir.path().join("log"), EmbeddedLogConfig::default()).await.unwrap();
        log.create_topic(TOPIC, 4).await.unwrap();
        let store = SqlStore::open_sqlite(&dir.path().join("store.sqlite")).await.unwrap();
        Self { log: Arc::new(log), store: Arc::new(store), _dir: dir }
    }

    fn worker(&self, name: &str) -> (watch::Sender<bool>, JoinHandle<Result<(), ProcessorError>>) {
        let (stop_tx, stop) = watch::channel(false);
        let (log, store) = (self.log.clone(), self.store.clone() as Arc<dyn ServingStore>);
        let cfg = config(name);
        (stop_tx, tokio::spawn(async move { run_group_worker(log, store, cfg, stop, |_| {}).await }))
    }

    /// Waits until the store accounts for `n` records (points + dead letters).
    async fn wait_for_records(&self, n: u64) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let points = self.store.kmeans_points("mobile").await.unwrap();
            let dead = self.store.dead_letter_count().await.unwrap();
            if points + dead == n {
                return;
            }
            assert!(points + dead < n, "counted {points} points and {dead} dead letters for {n} records");
            assert!(tokio::time::Instant::now() < deadline, "only {points} + {dead} of {n} after 60 s");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn expected_dead(n: usize) -> u64 {
    (0..n).filter(|i| i % 97 == 0).count() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_count_every_event_once_and_equal_one_process() {
    let c = Cluster::new().await;
    let workers: Vec<_> = ["a", "b", "c"].iter().map(|w| c.worker(w)).collect();
    for chunk in 0..12 {
        c.log.append(TOPIC, records(chunk * 500, 500)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
    c.wait_for_records(6000).await;
    assert_eq!(c.store.dead_letter_count().await.unwrap(), expected_dead(6000));
    let report = replay_one_process(&*c.log, &*c.store, "mobile", &config("x").settings, 1e-9).await.unwrap();
    assert_eq!(report.points, 6000 - expected_dead(6000));
    assert!(report.versions >= 2, "{report:?}");
    for (stop, task) in workers {
        stop.send(true).unwrap();
        task.await.unwrap().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rounds_and_shares_topics_with_several_partitions_lose_no_round() {
    // A cluster whose default partition count is above 1 (or an operator) may create the control
    // topics with several partitions: rounds and shares must still meet on partition 0.
    let c = Cluster::new().await;
    c.log.create_topic(&rounds_topic("mobile"), 3).await.unwrap();
    c.log.create_topic(&shares_topic("mobile"), 3).await.unwrap();
    let workers: Vec<_> = ["a", "b"].iter().map(|w| c.worker(w)).collect();
    for chunk in 0..6 {
        c.log.append(TOPIC, records(chunk * 500, 500)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
    c.wait_for_records(3000).await;
    let report = replay_one_process(&*c.log, &*c.store, "mobile", &config("x").settings, 1e-9).await.unwrap();
    assert_eq!(report.points, 3000 - expected_dead(3000));
    for (stop, task) in workers {
        stop.send(true).unwrap();
        task.await.unwrap().unwrap();
    }

    // Store retention folds all but the newest versions (one per minute): the replay checks
    // the folded ones by ranges and counts and still accounts for every point.
    let all_old = tributary_store::Retention { versions_all: Duration::ZERO, ..Default::default() };
    let now = tributary_log::now_ms() + 1;
    let folded = c.store.apply_retention(&all_old, now).await.unwrap().versions_folded;
    assert!(folded > 0 && folded < report.versions, "{folded} of {} versions folded", report.versions);
    let after = replay_one_process(&*c.log, &*c.store, "mobile", &config("x").settings, 1e-9).await.unwrap();
    assert_eq!(after.points, report.points);
    assert_eq!(after.versions, report.versions - folded);
    assert!(after.folded > 0, "{after:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_stopped_mid_run_hands_over_its_partitions_and_nothing_is_lost() {
    let c = Cluster::new().await;
    let mut workers: Vec<_> = ["a", "b", "c"].iter().map(|w| c.worker(w)).collect();
    c.log.append(TOPIC, records(0, 2000)).await.unwrap();
    c.wait_for_records(2000).await;
    // Stop the first worker (it started first, so it is likely the coordinator as well).
    let (stop, task) = workers.remove(0);
    stop.send(true).unwrap();
    task.await.unwrap().unwrap();
    for chunk in 0..8 {
        c.log.append(TOPIC, records(2000 + chunk * 500, 500)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    c.wait_for_records(6000).await;
    // A restarted worker joins again and the rest keep counting exactly.
    workers.push(c.worker("a"));
    c.log.append(TOPIC, records(6000, 1000)).await.unwrap();
    c.wait_for_records(7000).await;
    assert_eq!(c.store.dead_letter_count().await.unwrap(), expected_dead(7000));
    replay_one_process(&*c.log, &*c.store, "mobile", &config("x").settings, 1e-9).await.unwrap();
    for (stop, task) in workers {
        stop.send(true).unwrap();
        task.await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn bad_share_messages_become_dead_letters_and_do_not_stop_the_round() {
    let c = Cluster::new().await;
    let (stop, task) = c.worker("a");
    c.log.append(TOPIC, records(1, 400)).await.unwrap();
    c.wait_for_records(400).await;
    let shares = shares_topic("mobile");
    let hostile = [
        &b"not json"[..],
        br#"{"round":1,"worker":"x","shares":[{"partition":0,"from":5,"to":2}]}"#,
        br#"{"round":1,"worker":"x","shares":[{"partition":0,"from":0,"to":3,"counts":[1]}]}"#,
    ];
    for h in hostile {
        c.log.append(&shares, vec![Record::new(h.to_vec())]).await.unwrap();
    }
    c.log.append(TOPIC, records(401, 400)).await.unwrap();
    // 800 records, 8 of them garbage, plus the one unparseable shares message (the other two
    // are for a round long closed, so ignored).
    let dead_events = (1..801).filter(|i| i % 97 == 0).count() as u64;
    c.wait_for_records(800 + 1).await;
    assert_eq!(c.store.dead_letter_count().await.unwrap(), dead_events + 1);
    stop.send(true).unwrap();
    task.await.unwrap().unwrap();
}

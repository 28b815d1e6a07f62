//! The processors pass the component contract's compliance test (`tributary_component::compliance`):
//! each round's events or letters are counted once, across the restart.

use std::time::Duration;

use tributary_component::compliance::{self, Environment, Fixture};
use tributary_component::{BoxError, Component};
use tributary_log::Record;
use tributary_processors::components::{DeadLetterSink, GroupKMeansWorker, KMeansProcessor, StoreRetention};
use tributary_processors::dead_letter_sink::sink_group;
use tributary_processors::event_time::EventTimeSettings;
use tributary_processors::group_kmeans::GroupKMeansConfig;
use tributary_processors::kmeans::TimeUnit;
use tributary_processors::kmeans_processor::KMeansProcessorConfig;
use tributary_processors::mobile_kmeans::{Init, KMeansSettings, ProjectionMode};
use tributary_schema::dead_letter::DEAD_LETTER_TOPIC;
use tributary_schema::{DeadLetter, MobileEvent};
use tributary_store::Retention;

const TOPIC: &str = "mobile_data";
const MODEL: &str = "mobile";
/// Events (or letters) fed per round.
const PER_ROUND: u64 = 400;

fn settings() -> KMeansSettings {
    KMeansSettings {
        k: 3,
        decay: 0.9,
        time_unit: TimeUnit::Batches,
        init: Init::KMeansPlusPlus { seed: 7, min_points: 100 },
        projection: ProjectionMode::Km,
    }
}

/// `PER_ROUND` events around three cities; round 1's devices differ from round 0's.
async fn feed_events(env: &Environment, round: u32) -> Result<(), BoxError> {
    let cities = [[52.52, 13.40], [48.14, 11.58], [50.94, 6.96]];
    let records = (0..PER_ROUND as usize)
        .map(|i| {
            let c = cities[i % 3];
            let jitter = ((i * 7919) % 1000) as f64 / 10_000.0;
            let event = MobileEvent {
                timepoint: "2026-11-30 10:00:00.000".into(),
                device_id: format!("r{round}-{}", i % 40),
                accelo_x: Some(0.0),
                accelo_y: Some(0.0),
                accelo_z: Some(1.0),
                latitude: c[0] + jitter,
                longitude: c[1] - jitter,
                locked: Some(false),
            };
            Record::new(event.to_json()).with_key(event.device_id)
        })
        .collect();
    env.log.append(TOPIC, records).await?;
    Ok(())
}

async fn check_points(env: &Environment) -> Result<(), BoxError> {
    let points = env.store.kmeans_points(MODEL).await?;
    if points != 2 * PER_ROUND {
        return Err(format!("{points} points in model '{MODEL}', expected {}", 2 * PER_ROUND).into());
    }
    Ok(())
}

struct OneProcess;

#[async_trait::async_trait]
impl Fixture for OneProcess {
    async fn build(&self, _: &Environment) -> Result<Box<dyn Component>, BoxError> {
        Ok(Box::new(KMeansProcessor::new(KMeansProcessorConfig {
            name: MODEL.into(),
            topic: TOPIC.into(),
            settings: settings(),
            max_batch_records: 1000,
            batch_interval: Duration::from_millis(20),
            event_time: None,
        })?))
    }
    async fn feed(&self, env: &Environment, round: u32) -> Result<(), BoxError> {
        feed_events(env, round).await
    }
    async fn check(&self, env: &Environment) -> Result<(), BoxError> {
        check_points(env).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kmeans_processor_is_a_component() {
    compliance::check(&OneProcess).await.unwrap();
}

/// The k-means on event time: each round's events carry times in one 5 s window of 2020, out
/// of order, with 20 exact duplicates; round 1 also brings 10 events of round 0's window,
/// which arrive too late. Every other event is counted once, across the restart.
struct OnEventTime;

#[async_trait::async_trait]
impl Fixture for OnEventTime {
    async fn build(&self, _: &Environment) -> Result<Box<dyn Component>, BoxError> {
        Ok(Box::new(KMeansProcessor::new(KMeansProcessorConfig {
            name: MODEL.into(),
            topic: TOPIC.into(),
            settings: settings(),
            max_batch_records: 100,
            batch_interval: Duration::from_millis(20),
            event_time: Some(EventTimeSettings {
                window: Duration::from_secs(5),
                allowed_lateness: Duration::from_millis(500),
                drop_duplicates: true,
                max_waiting: 100_000,
            }),
        })?))
    }
    async fn feed(&self, env: &Environment, round: u32) -> Result<(), BoxError> {
        let event = |i: u64, window: u32| {
            let ms = 1_600_000_000_000 + i64::from(window) * 10_000 + (i * 7919 % 4000) as i64;
            let c = [[52.52, 13.40], [48.14, 11.58], [50.94, 6.96]][i as usize % 3];
            MobileEvent {
                timepoint: tributary_schema::mobile::time::write_timepoint(ms),
                device_id: format!("r{round}-{}", i % 40),
                accelo_x: None,
                accelo_y: None,
                accelo_z: None,
                latitude: c[0] + (i % 10) as f64 / 1000.0,
                longitude: c[1],
                locked: None,
            }
        };
        let mut events: Vec<MobileEvent> = (0..PER_ROUND).map(|i| event(i, round)).collect();
        events.extend((0..20).map(|i| event(i, round)));
        if round == 1 {
            events.extend((1000..1010).map(|i| event(i, 0)));
        }
        let records = events.iter().map(|e| Record::new(e.to_json()).with_key(e.device_id.clone())).collect();
        env.log.append(TOPIC, records).await?;
        Ok(())
    }
    async fn check(&self, env: &Environment) -> Result<(), BoxError> {
        check_points(env).await?;
        let late = env.store.dead_letter_count().await?;
        if late != 10 {
            return Err(format!("{late} dead letters, expected the 10 late events").into());
        }
        let versions = env.store.kmeans_history(MODEL, 0, u64::MAX, 10).await?;
        let windows: Vec<Option<i64>> = versions.iter().map(|v| v.event_time_ms).collect();
        if windows != [Some(1_600_000_005_000), Some(1_600_000_015_000)] {
            return Err(format!("versions dated {windows:?}, expected the two windows' ends").into());
        }
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kmeans_processor_on_event_time_is_a_component() {
    compliance::check(&OnEventTime).await.unwrap();
}

struct GroupWorker;

#[async_trait::async_trait]
impl Fixture for GroupWorker {
    async fn build(&self, _: &Environment) -> Result<Box<dyn Component>, BoxError> {
        Ok(Box::new(GroupKMeansWorker::new(GroupKMeansConfig {
            name: MODEL.into(),
            topic: TOPIC.into(),
            settings: settings(),
            max_batch_records: 1000,
            batch_interval: Duration::from_millis(20),
            worker: "w1".into(),
        })?))
    }
    async fn feed(&self, env: &Environment, round: u32) -> Result<(), BoxError> {
        feed_events(env, round).await
    }
    async fn check(&self, env: &Environment) -> Result<(), BoxError> {
        check_points(env).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kmeans_group_worker_is_a_component() {
    compliance::check(&GroupWorker).await.unwrap();
}

struct Letters;

#[async_trait::async_trait]
impl Fixture for Letters {
    async fn build(&self, _: &Environment) -> Result<Box<dyn Component>, BoxError> {
        Ok(Box::new(DeadLetterSink::new(sink_group(MODEL))))
    }
    async fn feed(&self, env: &Environment, round: u32) -> Result<(), BoxError> {
        let letters = (0..PER_ROUND)
            .map(|i| {
                let letter = DeadLetter::new(
                    "test",
                    format!("round {round} line {i}"),
                    "malformed",
                    b"x,y",
                    1_700_000_000_000,
                );
                Record::new(letter.to_json())
            })
            .collect();
        env.log.append(DEAD_LETTER_TOPIC, letters).await?;
        Ok(())
    }
    async fn check(&self, env: &Environment) -> Result<(), BoxError> {
        let n = env.store.dead_letter_count().await?;
        if n != 2 * PER_ROUND {
            return Err(format!("{n} dead letters stored, expected {}", 2 * PER_ROUND).into());
        }
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dead_letter_sink_is_a_component() {
    compliance::check(&Letters).await.unwrap();
}

#[test]
fn bad_kmeans_settings_are_refused_when_built() {
    let cfg = KMeansProcessorConfig {
        name: MODEL.into(),
        topic: TOPIC.into(),
        settings: KMeansSettings { k: 0, ..settings() },
        max_batch_records: 1000,
        batch_interval: Duration::from_millis(20),
        event_time: None,
    };
    assert!(KMeansProcessor::new(cfg.clone()).is_err());
    assert!(
        KMeansProcessor::new(KMeansProcessorConfig { max_batch_records: 0, settings: settings(), ..cfg })
            .is_err()
    );
}

/// Retention passes every 20 ms over an empty store: each pass is a run.
struct Passes;

#[async_trait::async_trait]
impl Fixture for Passes {
    async fn build(&self, _: &Environment) -> Result<Box<dyn Component>, BoxError> {
        let retention = Retention { check_interval: Duration::from_millis(20), ..Default::default() };
        Ok(Box::new(StoreRetention::new(retention)?))
    }
    async fn feed(&self, _: &Environment, _: u32) -> Result<(), BoxError> {
        Ok(())
    }
    async fn check(&self, env: &Environment) -> Result<(), BoxError> {
        env.store.dead_letter_count().await?;
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_retention_is_a_component() {
    compliance::check(&Passes).await.unwrap();
    assert!(StoreRetention::new(Retention { check_interval: Duration::ZERO, ..Default::default() }).is_err());
}

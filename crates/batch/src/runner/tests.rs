use std::time::Duration;

use tributary_log::{EmbeddedLog, EmbeddedLogConfig, Record};
use tributary_store::SqlStore;

use super::*;
use crate::test_support::{bar, date, lake_with, row};

/// Forty days of one country and the trading days among them.
fn rows(
    cases_offset: i64,
) -> (Vec<tributary_schema::markets::CovidDaily>, Vec<tributary_schema::markets::PriceBar>) {
    let start = date(2020, 3, 1);
    let covid = (0..40u64)
        .map(|i| {
            row("IT", "Europe", start + chrono::Days::new(i), cases_offset + (i * i % 17) as i64, Some(1000))
        })
        .collect();
    let prices = (0..40u64)
        .filter(|i| i % 7 < 5)
        .map(|i| bar(start + chrono::Days::new(i), Some(100.0), 100.0 + (i * 5 % 11) as f64))
        .collect();
    (covid, prices)
}

async fn store(dir: &tempfile::TempDir) -> Arc<dyn ServingStore> {
    Arc::new(SqlStore::open_sqlite(&dir.path().join("store.sqlite")).await.unwrap())
}

fn names(report: &RunReport) -> Vec<&str> {
    report.views.iter().filter(|v| v.published.is_some()).map(|v| v.name.as_str()).collect()
}

#[tokio::test]
async fn stale_views_are_those_whose_sql_or_datasets_changed() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let (covid, prices) = rows(100);
    let lake = lake_with(covid, prices).await;
    let runner = Runner::new(lake.clone(), Some(store.clone()), views::load(None).unwrap());

    let first = runner.run(&Selection::Stale).await.unwrap();
    assert_eq!(
        names(&first),
        [
            "series_daily",
            "series_catalogue",
            "aligned_daily",
            "correlations",
            "rolling_correlations",
            "reference_covid",
            "reference_prices"
        ]
    );
    let correlations = store.current_view("correlations").await.unwrap().unwrap();
    assert_eq!(
        correlations.dataset_versions,
        BTreeMap::from([("covid_daily".into(), 1), ("prices".into(), 1)])
    );
    assert!(correlations.rows > 0);
    assert_eq!(
        store.current_view("reference_prices").await.unwrap().unwrap().dataset_versions,
        BTreeMap::from([("prices".into(), 1)])
    );

    let again = runner.run(&Selection::Stale).await.unwrap();
    assert!(again.views.is_empty(), "nothing changed: {:?}", names(&again));

    // New COVID numbers: every view that reads covid_daily, and only those.
    lake.upsert(rows(200).0).await.unwrap();
    let after_import = runner.run(&Selection::Stale).await.unwrap();
    assert_eq!(
        names(&after_import),
        [
            "series_daily",
            "series_catalogue",
            "aligned_daily",
            "correlations",
            "rolling_correlations",
            "reference_covid"
        ]
    );
    let v2 = store.current_view("correlations").await.unwrap().unwrap();
    assert_eq!((v2.version, v2.dataset_versions["covid_daily"]), (2, 2));

    // An edited view: it and the views reading it.
    let mut edited = views::load(None).unwrap();
    edited.iter_mut().find(|v| v.name == "trading_days").unwrap().sql.push_str(" -- edited");
    let runner = Runner::new(lake, Some(store.clone()), edited);
    let after_edit = runner.run(&Selection::Stale).await.unwrap();
    assert_eq!(names(&after_edit), ["aligned_daily", "correlations", "rolling_correlations"]);

    // Asked for by name: published even when up to date.
    let forced = runner.run(&Selection::Views(vec!["reference_prices".into()])).await.unwrap();
    assert_eq!(names(&forced), ["reference_prices"]);
    assert_eq!(store.current_view("reference_prices").await.unwrap().unwrap().version, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_runs_at_start_and_after_a_burst_of_dataset_events() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let log: Arc<dyn EventLog> =
        Arc::new(EmbeddedLog::open(dir.path().join("log"), EmbeddedLogConfig::default()).await.unwrap());
    let (covid, prices) = rows(100);
    let lake = lake_with(covid, prices).await;
    let runner = Arc::new(Runner::new(lake.clone(), Some(store.clone()), views::load(None).unwrap()));
    let (stop_tx, stop) = watch::channel(false);
    let (reports_tx, mut reports) = tokio::sync::mpsc::unbounded_channel();
    let config =
        FollowConfig { debounce: Duration::from_millis(300), interval: None, ..FollowConfig::default() };
    let (r, l) = (runner.clone(), log.clone());
    let task = tokio::spawn(async move {
        follow(&r, l, config, stop, move |report| {
            let _ = reports_tx.send(report.views.iter().filter(|v| v.published.is_some()).count());
        })
        .await
    });
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(30), reports.recv()).await.unwrap(),
        Some(7),
        "the first run publishes every view"
    );

    // Three events in a burst (one of them garbage: events are only triggers) → one run.
    lake.upsert(rows(300).0).await.unwrap();
    for value in [&b"{\"not\": \"an event\"}"[..], b"x", b"{}"] {
        append_event(&*log, value).await;
    }
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(30), reports.recv()).await.unwrap(),
        Some(6),
        "the views reading covid_daily"
    );
    assert!(
        tokio::time::timeout(Duration::from_millis(1500), reports.recv()).await.is_err(),
        "one run per burst"
    );
    assert_eq!(
        store.current_view("reference_covid").await.unwrap().unwrap().dataset_versions["covid_daily"],
        2
    );

    stop_tx.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(30), task).await.unwrap().unwrap().unwrap();
    // The events were committed: a new follower does not run for them again (and finds nothing stale).
    let committed = log.committed("batch-runner").await.unwrap();
    assert_eq!(committed.iter().map(|(_, o)| *o).sum::<u64>(), 3);
}

async fn append_event(log: &dyn EventLog, value: &[u8]) {
    log.append(DATASETS_TOPIC, vec![Record::new(value.to_vec())]).await.unwrap();
}

/// The batch runner as a component: each round's import is published, the second after a
/// restart (the compliance procedure of `tributary-component`).
struct Recompute {
    lake: Lake,
}

#[async_trait::async_trait]
impl tributary_component::compliance::Fixture for Recompute {
    async fn build(
        &self,
        _: &tributary_component::compliance::Environment,
    ) -> Result<Box<dyn tributary_component::Component>, tributary_component::BoxError> {
        let cfg =
            FollowConfig { debounce: Duration::from_millis(50), interval: None, ..FollowConfig::default() };
        Ok(Box::new(crate::BatchViews::new(self.lake.clone(), views::load(None)?, cfg)))
    }

    async fn feed(
        &self,
        env: &tributary_component::compliance::Environment,
        round: u32,
    ) -> Result<(), tributary_component::BoxError> {
        // covid_daily v1 came with the lake and each round adds one. The runner's first run (at
        // its first start) must have published v1 before this round imports, or that run would
        // already see the import and the event would find nothing stale.
        published(env, 1 + round as u64).await?;
        self.lake.upsert(rows(200 + 100 * round as i64).0).await?;
        append_event(&*env.log, b"{}").await;
        published(env, 2 + round as u64).await
    }

    async fn check(
        &self,
        env: &tributary_component::compliance::Environment,
    ) -> Result<(), tributary_component::BoxError> {
        // Three recomputations of the view that reads covid_daily: at the first start and after
        // each import (a restart finds the views current and publishes nothing new).
        let current = env.store.current_view("correlations").await?.ok_or("correlations not published")?;
        if current.version != 3 {
            return Err(format!("correlations at version {}, expected 3", current.version).into());
        }
        Ok(())
    }
}

/// Waits until `correlations` is published from covid_daily version `covid_version`.
async fn published(
    env: &tributary_component::compliance::Environment,
    covid_version: u64,
) -> Result<(), tributary_component::BoxError> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let current = env.store.current_view("correlations").await?;
        let version = current.and_then(|v| v.dataset_versions.get("covid_daily").copied());
        if version == Some(covid_version) {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            return Err(format!("covid_daily v{covid_version} not published: v{version:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_batch_runner_is_a_component() {
    let (covid, prices) = rows(100);
    let fixture = Recompute { lake: lake_with(covid, prices).await };
    tributary_component::compliance::check(&fixture).await.unwrap();
}

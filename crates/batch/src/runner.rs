//! The batch runner: computes views over one snapshot of the lake and publishes each published
//! view's rows to the serving store as a new version, recording the lake versions it read.
//!
//! [`follow`] keeps the views current inside `tributary up`: it consumes the `datasets` topic
//! (debounced: a burst of imports causes one run), runs on a schedule as well, and at start. Each
//! of those runs the *stale* views only: those whose current version was made from other SQL or
//! other dataset versions than the lake now holds. So a run that finds nothing new costs one
//! snapshot of the lake and no writes, and an event lost between the lake and the log (a crash
//! right after an import) is made up for by the next scheduled run.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tributary_lake::Lake;
use tributary_log::{EventLog, OffsetReset};
use tributary_schema::markets::{DATASETS_TOPIC, DatasetUpdated};
use tributary_store::{ServingStore, ViewPublication, ViewVersionRow};

use crate::engine::{BatchError, DatasetVersion, Engine};
use crate::views::{self, View};

/// Which views a run computes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// These views (with the views they read), published if they are published views, whether
    /// or not they were up to date.
    Views(Vec<String>),
    /// Every published view that is not up to date.
    Stale,
}

/// What one run did.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// Time to take the lake's snapshot.
    pub load: Duration,
    /// The dataset versions of that snapshot.
    pub dataset_versions: Vec<DatasetVersion>,
    /// Each view computed, in order (the views they read first).
    pub views: Vec<ViewRun>,
    /// Wall time of computing them all (views that do not read each other run at once, so this
    /// is less than the sum of their times).
    pub compute: Duration,
    pub total: Duration,
}

/// One view of a run.
#[derive(Debug, Clone)]
pub struct ViewRun {
    pub name: String,
    pub rows: usize,
    /// The rows themselves.
    pub batches: Vec<crate::engine::RecordBatch>,
    pub compute: Duration,
    /// The version published, if the view is published and publishing was asked for.
    pub published: Option<ViewVersionRow>,
    pub publish: Duration,
}

/// Computes and publishes views (see the module documentation).
pub struct Runner {
    lake: Lake,
    store: Option<Arc<dyn ServingStore>>,
    views: Vec<View>,
}

impl Runner {
    /// A runner that publishes to `store`; without a store it only computes.
    pub fn new(lake: Lake, store: Option<Arc<dyn ServingStore>>, views: Vec<View>) -> Self {
        Self { lake, store, views }
    }

    /// The views it runs.
    pub fn views(&self) -> &[View] {
        &self.views
    }

    /// Runs the selected views over a fresh snapshot of the lake.
    pub async fn run(&self, selection: &Selection) -> Result<RunReport, BatchError> {
        let started = Instant::now();
        let engine = Engine::new(&self.lake, self.views.clone()).await?;
        let load = started.elapsed();
        let targets = match selection {
            Selection::Views(names) => names.clone(),
            Selection::Stale => self.stale(&engine).await?,
        };
        let computing = Instant::now();
        let results = engine.compute_concurrently(&targets).await?;
        let compute_wall = computing.elapsed();
        let mut runs = Vec::new();
        for result in results {
            let mut run = ViewRun {
                name: result.name.clone(),
                rows: result.rows,
                batches: result.batches.clone(),
                compute: result.elapsed,
                published: None,
                publish: Duration::ZERO,
            };
            let view = self.views.iter().find(|v| v.name == result.name).expect("computed views exist");
            if let (Some(store), true, true) = (&self.store, view.published, targets.contains(&result.name)) {
                let publish_started = Instant::now();
                let definition = views::definition(&self.views, &view.name);
                let publication = ViewPublication {
                    view: &view.name,
                    definition: &definition,
                    schema: result.schema.clone(),
                    batches: &result.batches,
                    dataset_versions: read_versions(view, engine.dataset_versions()),
                    index: &view.index,
                };
                run.published = Some(store.publish_view(&publication).await?);
                run.publish = publish_started.elapsed();
                metrics::histogram!("tributary_batch_publish_seconds", "view" => view.name.clone())
                    .record(run.publish.as_secs_f64());
                tracing::info!(view = %view.name, version = run.published.as_ref().map(|p| p.version), rows = result.rows, "batch view published");
            }
            metrics::histogram!("tributary_batch_compute_seconds", "view" => run.name.clone())
                .record(run.compute.as_secs_f64());
            runs.push(run);
        }
        metrics::histogram!("tributary_batch_run_seconds").record(started.elapsed().as_secs_f64());
        Ok(RunReport {
            load,
            dataset_versions: engine.dataset_versions().to_vec(),
            views: runs,
            compute: compute_wall,
            total: started.elapsed(),
        })
    }

    /// The published views whose current version is missing or was made from other SQL or other
    /// dataset versions than `engine` holds.
    async fn stale(&self, engine: &Engine) -> Result<Vec<String>, BatchError> {
        let Some(store) = &self.store else {
            return Ok(self.views.iter().filter(|v| v.published).map(|v| v.name.clone()).collect());
        };
        let current: BTreeMap<String, ViewVersionRow> =
            store.current_views().await?.into_iter().map(|r| (r.view.clone(), r)).collect();
        Ok(self
            .views
            .iter()
            .filter(|v| v.published)
            .filter(|v| {
                current.get(&v.name).is_none_or(|c| {
                    c.definition != views::definition(&self.views, &v.name)
                        || c.dataset_versions != read_versions(v, engine.dataset_versions())
                })
            })
            .map(|v| v.name.clone())
            .collect())
    }
}

/// The versions of the datasets a view reads, by dataset name.
fn read_versions(view: &View, versions: &[DatasetVersion]) -> BTreeMap<String, u64> {
    versions
        .iter()
        .filter(|d| view.reads.contains(&d.dataset))
        .map(|d| (d.dataset.name().to_string(), d.version))
        .collect()
}

/// How [`follow`] runs: the `batch_*` keys of `[markets]` in `tributary.toml`.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FollowConfig {
    /// The consumer group on topic `datasets` (`batch_group`): one runner per deployment reads
    /// the events (two deployments on one Kafka cluster need two names).
    #[serde(rename = "batch_group")]
    pub group: String,
    /// After an event, wait this long for more before running (`batch_debounce`; a burst causes
    /// one run) …
    #[serde(rename = "batch_debounce", deserialize_with = "tributary_settings::human_duration")]
    pub debounce: Duration,
    /// … but never longer than this after the first event of a burst.
    #[serde(skip)]
    pub max_delay: Duration,
    /// Also run this often (`batch_interval`; `None`: only on events and at start).
    #[serde(rename = "batch_interval", deserialize_with = "every")]
    pub interval: Option<Duration>,
}

fn every<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    tributary_settings::human_duration(d).map(Some)
}

impl FollowConfig {
    /// Checks what serde cannot; the error names the key.
    pub fn validate(&self) -> Result<(), tributary_settings::KeyError> {
        use tributary_settings::KeyError;
        if self.group.trim().is_empty() {
            return Err(KeyError::new("batch_group", "must name a consumer group"));
        }
        if self.interval.is_some_and(|i| i.is_zero()) {
            return Err(KeyError::new("batch_interval", "must be longer than 0"));
        }
        Ok(())
    }
}

impl Default for FollowConfig {
    fn default() -> Self {
        Self {
            group: "batch-runner".into(),
            debounce: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            interval: Some(Duration::from_secs(3600)),
        }
    }
}

/// Keeps the published views current until `stop` turns true (see the module documentation).
/// A failed run is logged and retried at the next trigger: a broken view or a store outage never
/// stops the platform. `on_run` sees every report.
pub async fn follow(
    runner: &Runner,
    log: Arc<dyn EventLog>,
    config: FollowConfig,
    mut stop: watch::Receiver<bool>,
    mut on_run: impl FnMut(&RunReport) + Send,
) -> Result<(), BatchError> {
    let mut consumer = log.subscribe(&config.group, &[DATASETS_TOPIC], OffsetReset::Earliest).await?;
    // A failed run (a full disk, a database out of reach) is tried again after a doubling pause
    // (5 s to 5 min), not only at the next event or schedule.
    const RETRY_MIN: Duration = Duration::from_secs(5);
    let mut retry_pause = RETRY_MIN;
    let mut retry_at = None;
    let mut after_run = |ok: bool, retry_at: &mut Option<tokio::time::Instant>| {
        if ok {
            retry_pause = RETRY_MIN;
            *retry_at = None;
        } else {
            *retry_at = Some(tokio::time::Instant::now() + retry_pause);
            retry_pause = (retry_pause * 2).min(Duration::from_secs(300));
        }
    };
    after_run(run_stale(runner, "start", &mut on_run).await, &mut retry_at);
    let mut next_scheduled = config.interval.map(|i| tokio::time::Instant::now() + i);
    let mut burst_started: Option<tokio::time::Instant> = None;
    loop {
        let timeout = match burst_started {
            Some(_) => config.debounce,
            None => Duration::from_secs(1),
        };
        let records = tokio::select! {
            _ = stop.changed() => return Ok(()),
            polled = consumer.poll(1000, timeout) => polled?,
        };
        if *stop.borrow() {
            return Ok(());
        }
        for r in &records {
            match serde_json::from_slice::<DatasetUpdated>(&r.record.value) {
                Ok(e) => tracing::debug!(dataset = %e.dataset, version = e.version, "dataset updated"),
                // Only a trigger: the run reads the lake itself, so a malformed event loses nothing.
                Err(e) => {
                    tracing::warn!(offset = r.offset, error = %e, "a malformed dataset-updated event; running anyway")
                }
            }
        }
        let now = tokio::time::Instant::now();
        if !records.is_empty() && burst_started.is_none() {
            burst_started = Some(now);
        }
        let burst_over =
            burst_started.is_some_and(|t| records.is_empty() || now.duration_since(t) >= config.max_delay);
        if burst_over {
            after_run(run_stale(runner, "datasets", &mut on_run).await, &mut retry_at);
            // Not being able to record the group's position (a full disk) costs one more run
            // after a restart, nothing else: the runs read the lake, not the events.
            if let Err(e) = consumer.commit().await {
                if !e.is_transient() {
                    return Err(e.into());
                }
                tracing::warn!(error = %e, "could not record the batch runner's position in the log");
            }
            burst_started = None;
        } else if next_scheduled.is_some_and(|t| now >= t) {
            after_run(run_stale(runner, "schedule", &mut on_run).await, &mut retry_at);
        } else if retry_at.is_some_and(|t| now >= t) {
            after_run(run_stale(runner, "retry", &mut on_run).await, &mut retry_at);
        }
        if next_scheduled.is_some_and(|t| now >= t) {
            next_scheduled = config.interval.map(|i| now + i);
        }
    }
}

/// One run of the stale views; a failure is logged and counted, not returned. Whether it
/// succeeded.
async fn run_stale(runner: &Runner, trigger: &str, on_run: &mut impl FnMut(&RunReport)) -> bool {
    match runner.run(&Selection::Stale).await {
        Ok(report) => {
            tracing::info!(
                trigger,
                views = report.views.len(),
                ms = report.total.as_millis() as u64,
                "batch run"
            );
            on_run(&report);
            true
        }
        Err(e) => {
            metrics::counter!("tributary_batch_failed_runs_total").increment(1);
            tracing::error!(trigger, error = %e, "batch run failed; trying again after a pause, at the next event or on schedule");
            false
        }
    }
}

#[cfg(test)]
mod tests;

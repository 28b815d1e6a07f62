//! The processors as [`Component`]s (the contract in `tributary-component`): what `up` and
//! `worker` run, and store retention beside them.

use std::time::{Duration, Instant};

use tributary_component::{BoxError, Component, Context, Info, Kind, Reporter, Run};
use tributary_store::Retention;

use crate::dead_letter_sink::run_dead_letter_sink;
use crate::group_kmeans::{GroupKMeansConfig, run_group_worker};
use crate::kmeans_processor::{KMeansProcessorConfig, run_kmeans_processor};
use crate::mobile_kmeans::{KMeansSettings, ModelVersion};

/// The streaming k-means in one process (the embedded log): see [`crate::kmeans_processor`].
/// Reports one run per committed model version: the points of its micro-batch.
pub struct KMeansProcessor {
    cfg: KMeansProcessorConfig,
}

impl KMeansProcessor {
    /// The settings are checked here, so a bad one stops the process before it starts.
    pub fn new(cfg: KMeansProcessorConfig) -> Result<Self, BoxError> {
        check_batches(&cfg.settings, cfg.max_batch_records)?;
        Ok(Self { cfg })
    }
}

/// The k-means settings and the micro-batch size, checked where a k-means is built.
fn check_batches(settings: &KMeansSettings, max_batch_records: usize) -> Result<(), BoxError> {
    settings.validate()?;
    if max_batch_records == 0 {
        return Err("a micro-batch must hold at least one record".into());
    }
    Ok(())
}

/// The banner line of a k-means model.
fn model_line(name: &str, k: usize, topic: &str, interval: Duration, records: usize) -> String {
    format!("model '{name}', k = {k}, topic {topic}, batches of {interval:?} or {records} events")
}

#[async_trait::async_trait]
impl Component for KMeansProcessor {
    fn info(&self) -> Info {
        Info::new("k-means", Kind::Processor, format!("k-means:{}", self.cfg.name))
    }

    fn describe(&self) -> Vec<(&'static str, String)> {
        let c = &self.cfg;
        let line = match &c.event_time {
            Some(e) => format!(
                "model '{}', k = {}, topic {}, on event time: windows of {}, lateness {}{}",
                c.name,
                c.settings.k,
                c.topic,
                humantime::format_duration(e.window),
                humantime::format_duration(e.allowed_lateness),
                if e.drop_duplicates { ", duplicates dropped" } else { "" }
            ),
            None => model_line(&c.name, c.settings.k, &c.topic, c.batch_interval, c.max_batch_records),
        };
        vec![("k-means", line)]
    }

    async fn run(self: Box<Self>, cx: Context) -> Result<(), BoxError> {
        let mut versions = VersionLog::new(cx.report().clone());
        // Ready as it starts: it restores the stored model, then reads from the stored offsets,
        // so events appended from now on are in a coming version.
        cx.report().ready();
        run_kmeans_processor(cx.log()?, cx.store()?, self.cfg, cx.stop_signal(), |v| versions.report(v))
            .await?;
        Ok(())
    }
}

/// One worker of a group that shares the streaming k-means over Kafka: see
/// [`crate::group_kmeans`]. Reports one run per model version it committed as coordinator.
pub struct GroupKMeansWorker {
    cfg: GroupKMeansConfig,
}

impl GroupKMeansWorker {
    pub fn new(cfg: GroupKMeansConfig) -> Result<Self, BoxError> {
        check_batches(&cfg.settings, cfg.max_batch_records)?;
        Ok(Self { cfg })
    }
}

#[async_trait::async_trait]
impl Component for GroupKMeansWorker {
    fn info(&self) -> Info {
        Info::new("k-means", Kind::Processor, format!("k-means:{}/{}", self.cfg.name, self.cfg.worker))
    }

    fn describe(&self) -> Vec<(&'static str, String)> {
        let c = &self.cfg;
        let line = model_line(&c.name, c.settings.k, &c.topic, c.batch_interval, c.max_batch_records);
        vec![("k-means", format!("{line}, consumer group '{}'", c.name))]
    }

    async fn run(self: Box<Self>, cx: Context) -> Result<(), BoxError> {
        let mut versions = VersionLog::new(cx.report().clone());
        cx.report().ready();
        run_group_worker(cx.log()?, cx.store()?, self.cfg, cx.stop_signal(), |v| versions.report(v)).await?;
        Ok(())
    }
}

/// Dead letters from the log into the store: see [`crate::dead_letter_sink`]. Reports one run
/// per transaction: the letters it stored.
pub struct DeadLetterSink {
    group: String,
}

impl DeadLetterSink {
    /// A sink in consumer group `group` ([`crate::dead_letter_sink::sink_group`]).
    pub fn new(group: String) -> Self {
        Self { group }
    }
}

#[async_trait::async_trait]
impl Component for DeadLetterSink {
    fn info(&self) -> Info {
        Info::new("dead-letter", Kind::Sink, format!("dead-letters:{}", self.group))
    }

    async fn run(self: Box<Self>, cx: Context) -> Result<(), BoxError> {
        let report = cx.report().clone();
        report.ready();
        run_dead_letter_sink(cx.log()?, cx.store()?, self.group, cx.stop_signal(), |n| {
            report.run(Run { rows: n, ..Run::default() })
        })
        .await?;
        Ok(())
    }
}

/// Store retention: every `check_interval`, old model versions are folded into younger ones and
/// old dead letters deleted (`tributary_store::Retention`). Runs where models are written (`up`,
/// each `worker`); passes from several processes at once are safe. A failed pass is logged and
/// tried again at the next interval. Reports one run per pass: what it folded and deleted.
pub struct StoreRetention {
    retention: Retention,
}

impl StoreRetention {
    /// The part, if the policy is valid.
    pub fn new(retention: Retention) -> Result<Self, BoxError> {
        retention.validate()?;
        Ok(Self { retention })
    }
}

#[async_trait::async_trait]
impl Component for StoreRetention {
    fn info(&self) -> Info {
        Info::new("retention", Kind::Service, "retention")
    }

    async fn run(self: Box<Self>, cx: Context) -> Result<(), BoxError> {
        let store = cx.store()?;
        let mut stop = cx.stop_signal();
        cx.report().ready();
        loop {
            tokio::select! {
                _ = tokio::time::sleep(self.retention.check_interval) => {}
                _ = stop.wait_for(|stopping| *stopping) => return Ok(()),
            }
            match store.apply_retention(&self.retention, tributary_log::now_ms()).await {
                Ok(r) => cx
                    .report()
                    .run(Run { rows: r.versions_folded + r.dead_letters_deleted, ..Run::default() }),
                Err(e) => {
                    tracing::warn!(error = %e, "store retention failed; trying again at the next interval");
                    cx.report().run(Run { failure: Some(e.to_string()), ..Run::default() });
                }
            }
        }
    }
}

/// Reports each model version as a run, logs it at debug level, and the newest at info level at
/// most once a second.
struct VersionLog {
    report: Reporter,
    last_info: Option<Instant>,
    points_since: u64,
}

impl VersionLog {
    fn new(report: Reporter) -> Self {
        Self { report, last_info: None, points_since: 0 }
    }

    fn report(&mut self, v: &ModelVersion) {
        self.report.run(Run { rows: v.batch_points, ..Run::default() });
        self.points_since += v.batch_points;
        tracing::debug!(version = v.version, points = v.batch_points, "model version");
        if self.last_info.is_some_and(|t| t.elapsed() < Duration::from_secs(1)) {
            return;
        }
        let centres: Vec<String> =
            v.centres.iter().map(|c| format!("({:.3}, {:.3}) w={:.0}", c.lat, c.lon, c.weight)).collect();
        tracing::info!(version = v.version, points = self.points_since, centres = %centres.join(" "), "model version");
        self.points_since = 0;
        self.last_info = Some(Instant::now());
    }
}

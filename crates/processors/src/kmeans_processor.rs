//! The streaming k-means processor: `mobile_data` in micro-batches → model versions in the
//! serving store, each committed together with the log offsets it covers.
//!
//! Effectively-once: a version, its centres, the offsets it covers, the processor's next offsets
//! and the batch's dead letters are one transaction. After a crash the processor restores the last
//! committed model bit for bit and continues from the committed offsets, so every event is counted
//! in exactly one version. While k-means++ is still gathering its first points nothing is
//! committed; after a crash those points are simply read again.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tributary_log::{Backoff, EventLog, TopicPartition};
use tributary_schema::DeadLetter;
use tributary_store::{BatchCommit, CentreRow, KMeansVersionRow, OffsetRange, ServingStore};

use crate::event_time::EventTimeSettings;
use crate::kmeans::{KMeansModel, Projection};
use crate::micro_batch::{MicroBatch, MicroBatchReader};
use crate::mobile_kmeans::{KMeansSettings, MobileKMeans, ModelVersion, Snapshot};

/// Settings of one k-means processor.
#[derive(Debug, Clone)]
pub struct KMeansProcessorConfig {
    /// Name of the model and of the processor (its offsets and consumer group).
    pub name: String,
    /// Topic of mobile events.
    pub topic: String,
    pub settings: KMeansSettings,
    /// A micro-batch closes at this many records …
    pub max_batch_records: usize,
    /// … or this long after its first record.
    pub batch_interval: Duration,
    /// Micro-batches on the events' own clock instead ([`crate::event_time`]); the reads above
    /// then only pace how often windows are looked at.
    pub event_time: Option<EventTimeSettings>,
}

/// Errors that stop the processor.
#[derive(Debug, thiserror::Error)]
pub enum ProcessorError {
    #[error(transparent)]
    Log(#[from] tributary_log::LogError),
    #[error(transparent)]
    Store(#[from] tributary_store::StoreError),
    /// The settings are refused (the key is named).
    #[error("setting {0}")]
    Config(#[from] tributary_settings::KeyError),
    /// A stored model version cannot be continued from.
    #[error("stored model '{model}': {reason}")]
    StoredModel { model: String, reason: String },
    /// The processor cannot go on (its reader or its stop signal went away).
    #[error("the processor stopped: {0}")]
    Stopped(&'static str),
}

/// Runs until `stop` turns true; calls `on_version` after each committed version.
pub async fn run_kmeans_processor(
    log: Arc<dyn EventLog>,
    store: Arc<dyn ServingStore>,
    cfg: KMeansProcessorConfig,
    mut stop: watch::Receiver<bool>,
    mut on_version: impl FnMut(&ModelVersion) + Send,
) -> Result<(), ProcessorError> {
    if let Some(event_time) = cfg.event_time.clone() {
        return crate::event_time_processor::run(log, store, cfg, event_time, stop, on_version).await;
    }
    let mut kmeans = load_model(&*store, &cfg.name, &cfg.settings).await?;
    let checkpoints = store.processor_offsets(&cfg.name).await?;
    let reader = MicroBatchReader::open(log.clone(), &cfg.topic, &checkpoints).await?;
    // The positions after the last batch processed (the reader runs one batch ahead).
    let mut done_to = reader.checkpoints();
    let mut batches = reader.prefetch(cfg.max_batch_records, cfg.batch_interval, stop.clone());
    let mut uncommitted_ranges: Vec<OffsetRange> = Vec::new();
    let mut dead: Vec<DeadLetter> = Vec::new();
    let source = format!("processor:{}", cfg.name);
    let mut last_group_commit = std::time::Instant::now();
    loop {
        if *stop.borrow() {
            record_group_offsets(&*log, &cfg.name, &done_to).await;
            return Ok(());
        }
        let Some(batch) = next_prefetched(&mut batches, &mut stop).await? else { continue };
        if batch.is_empty() {
            continue;
        }
        let now = tributary_log::now_ms();
        let records = batch.len();
        let mut positions = Vec::with_capacity(records);
        for r in batch.records() {
            match crate::mobile_record::position(r.record) {
                Ok(p) => positions.push(p),
                Err(reason) => {
                    let at = format!("{}/{}@{}", r.topic, r.partition, r.offset);
                    dead.push(DeadLetter::new(source.clone(), at, reason, r.record.value, now));
                }
            }
        }
        merge_ranges(&mut uncommitted_ranges, batch.ranges);
        let version = if positions.is_empty() { None } else { kmeans.process(&positions) };
        if kmeans.snapshot().is_none() {
            done_to = batch.checkpoints;
            continue; // still gathering points to initialise: nothing to commit yet
        }
        let row = version
            .as_ref()
            .map(|v| version_row(&cfg.name, v, kmeans.snapshot().expect("model"), &uncommitted_ranges, now));
        let commit = BatchCommit {
            processor: cfg.name.clone(),
            version: row,
            offsets: batch.checkpoints,
            dead_letters: std::mem::take(&mut dead),
            expected_offsets: None,
            state: None,
        };
        if !commit_retrying(&*store, &commit, &mut stop).await? {
            return Ok(()); // stopped while the store was failing: a restart redoes this batch
        }
        done_to = commit.offsets.clone();
        uncommitted_ranges.clear();
        metrics::counter!("tributary_processor_records_total", "processor" => cfg.name.clone())
            .increment(records as u64);
        // For `log topics` and lag: the log's own record of the group's position, at most once a
        // second (it costs fsyncs; the store's offsets are the ones the processor resumes from).
        if last_group_commit.elapsed() >= Duration::from_secs(1) {
            record_group_offsets(&*log, &cfg.name, &commit.offsets).await;
            last_group_commit = std::time::Instant::now();
        }
        if let Some(v) = &version {
            on_version(v);
        }
    }
}

/// Commits, trying again while the store's failure is transient (a full disk, a database out of
/// reach): the batch is not acknowledged until it is committed, so the processor waits
/// (backpressure) instead of stopping. Returns `false` if `stop` turned true first.
pub(crate) async fn commit_retrying(
    store: &dyn ServingStore,
    commit: &BatchCommit,
    stop: &mut watch::Receiver<bool>,
) -> Result<bool, ProcessorError> {
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(10));
    loop {
        match store.commit_batch(commit).await {
            Ok(()) => return Ok(true),
            Err(e) if e.is_transient() => {
                tracing::warn!(
                    processor = %commit.processor,
                    error = %e,
                    retry_in_ms = backoff.next_pause().as_millis() as u64,
                    "commit to the store failed; trying again"
                );
                metrics::counter!("tributary_processor_commit_retries_total", "processor" => commit.processor.clone())
                    .increment(1);
                if !backoff.wait(stop).await {
                    return Ok(false);
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// The next batch of a [`MicroBatchReader::prefetch`], or `None` when `stop` turned true.
pub(crate) async fn next_prefetched(
    batches: &mut mpsc::Receiver<tributary_log::Result<MicroBatch>>,
    stop: &mut watch::Receiver<bool>,
) -> Result<Option<MicroBatch>, ProcessorError> {
    tokio::select! {
        batch = batches.recv() => match batch {
            Some(batch) => Ok(Some(batch?)),
            // The reader ends only when stopped (or after sending its error).
            None if *stop.borrow() => Ok(None),
            None => Err(ProcessorError::Stopped("the micro-batch reader ended unexpectedly")),
        },
        changed = stop.changed() => match changed {
            Ok(()) => Ok(None),
            // Nobody can stop this processor any more: stop now.
            Err(_) => Err(ProcessorError::Stopped("the stop signal was dropped")),
        },
    }
}

pub(crate) async fn record_group_offsets(
    log: &dyn EventLog,
    group: &str,
    checkpoints: &[tributary_store::OffsetCheckpoint],
) {
    let offsets: Vec<(TopicPartition, u64)> = checkpoints
        .iter()
        .map(|c| (TopicPartition::new(c.topic.clone(), c.partition), c.next_offset))
        .collect();
    if let Err(e) = log.commit(group, &offsets).await {
        tracing::debug!(error = %e, "could not record group offsets in the log");
    }
}

fn merge_ranges(acc: &mut Vec<OffsetRange>, new: Vec<OffsetRange>) {
    for r in new {
        match acc.iter_mut().find(|a| a.topic == r.topic && a.partition == r.partition) {
            Some(a) => a.to = r.to,
            None => acc.push(r),
        }
    }
}

pub(crate) fn version_row(
    name: &str,
    v: &ModelVersion,
    s: &Snapshot,
    ranges: &[OffsetRange],
    now: i64,
) -> KMeansVersionRow {
    KMeansVersionRow {
        model: name.to_string(),
        version: v.version,
        created_ms: now,
        event_time_ms: None,
        batch_points: v.batch_points,
        batches: 1,
        projection: serde_json::to_string(&s.projection).expect("projection serialises"),
        split: v.split.map(|[a, b]| (a as u32, b as u32)),
        sum_of_squares: Some(v.sum_of_squares),
        silhouette: v.silhouette,
        centres: v
            .centres
            .iter()
            .map(|c| {
                let xy = s.model.centre(c.cluster);
                CentreRow {
                    cluster: c.cluster as u32,
                    lat: c.lat,
                    lon: c.lon,
                    weight: c.weight,
                    batch_count: c.count,
                    x: xy[0],
                    y: xy[1],
                }
            })
            .collect(),
        offsets: ranges.to_vec(),
    }
}

/// The model `name` as last stored (bit for bit), or a new one; an error if the stored one has
/// another k than `settings`.
pub(crate) async fn load_model(
    store: &dyn ServingStore,
    name: &str,
    settings: &KMeansSettings,
) -> Result<MobileKMeans, ProcessorError> {
    let Some(row) = store.latest_kmeans(name).await? else { return Ok(MobileKMeans::new(settings.clone())) };
    let snapshot = snapshot_from_row(&row)?;
    if snapshot.model.k() != settings.k {
        // A new model starts on the next events (its first version follows the stored ones);
        // the old model's versions stay in the history.
        tracing::warn!(
            model = %name,
            stored_k = snapshot.model.k(),
            k = settings.k,
            after_version = snapshot.version,
            "k changed: a new model starts"
        );
        return Ok(MobileKMeans::replacing(settings.clone(), snapshot.version));
    }
    tracing::info!(model = %name, version = snapshot.version, "resuming k-means model");
    Ok(MobileKMeans::restore(settings.clone(), snapshot))
}

/// Rebuilds the exact model state from a stored version.
pub fn snapshot_from_row(row: &KMeansVersionRow) -> Result<Snapshot, ProcessorError> {
    let stored = |reason: String| ProcessorError::StoredModel { model: row.model.clone(), reason };
    let projection: Projection = serde_json::from_str(&row.projection)
        .map_err(|e| stored(format!("the projection is unreadable: {e}")))?;
    let mut centres = Vec::with_capacity(row.centres.len() * 2);
    let mut weights = Vec::with_capacity(row.centres.len());
    for c in &row.centres {
        centres.extend([c.x, c.y]);
        weights.push(c.weight);
    }
    if weights.is_empty() {
        return Err(stored(format!("version {} has no centres", row.version)));
    }
    Ok(Snapshot { version: row.version, projection, model: KMeansModel::new(2, centres, weights) })
}

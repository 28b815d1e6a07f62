//! The streaming k-means on event time: each closed window of [`EventWindows`] is one
//! micro-batch of Spark's update rule, and its version is dated by the window's end.
//!
//! Each version is committed with the windows' [`WindowState`] and, as offsets to resume from,
//! the oldest offset still waiting per partition (see [`crate::event_time`] for why that is
//! exactly once). After each read the state is committed even when no window closed, so that
//! dead letters are written and the resume offsets move on.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tributary_log::EventLog;
use tributary_schema::{DeadLetter, mobile::time::write_timepoint};
use tributary_store::{BatchCommit, OffsetCheckpoint, OffsetRange, ServingStore};

use crate::event_time::{ClosedWindow, EventTimeSettings, EventWindows, Placed, WindowState};
use crate::kmeans_processor::{
    KMeansProcessorConfig, ProcessorError, commit_retrying, load_model, next_prefetched,
    record_group_offsets, version_row,
};
use crate::micro_batch::MicroBatchReader;
use crate::mobile_kmeans::{MobileKMeans, ModelVersion};

/// What one processor carries between reads.
struct Run<'a> {
    store: &'a dyn ServingStore,
    cfg: &'a KMeansProcessorConfig,
    kmeans: MobileKMeans,
    windows: EventWindows,
    /// Dead letters not yet committed.
    dead: Vec<DeadLetter>,
    /// Offsets of the windows given to the model since its last version (k-means++ gathers
    /// several windows before its first).
    ranges: Vec<OffsetRange>,
}

/// Runs the processor of `cfg` on event time until `stop` turns true.
pub(crate) async fn run(
    log: Arc<dyn EventLog>,
    store: Arc<dyn ServingStore>,
    cfg: KMeansProcessorConfig,
    settings: EventTimeSettings,
    mut stop: watch::Receiver<bool>,
    mut on_version: impl FnMut(&ModelVersion) + Send,
) -> Result<(), ProcessorError> {
    let kmeans = load_model(&*store, &cfg.name, &cfg.settings).await?;
    let checkpoints = store.processor_offsets(&cfg.name).await?;
    let partitions = log.ensure_topic(&cfg.topic).await? as usize;
    let state = match store.processor_state(&cfg.name).await? {
        Some(json) => WindowState::from_json(&json)
            .map_err(|reason| ProcessorError::StoredModel { model: cfg.name.clone(), reason })?,
        None => WindowState::default(),
    };
    let idle = settings.idle_close();
    let lateness = settings.allowed_lateness;
    let windows = EventWindows::restore(settings, state, partitions);
    let reader = MicroBatchReader::open(log.clone(), &cfg.topic, &checkpoints).await?;
    let mut batches = reader.prefetch(cfg.max_batch_records, cfg.batch_interval, stop.clone());
    let source = format!("processor:{}", cfg.name);
    let mut run = Run { store: &*store, cfg: &cfg, kmeans, windows, dead: Vec::new(), ranges: Vec::new() };
    let mut last_group_commit = Instant::now();
    loop {
        if *stop.borrow() {
            // For `log topics` and lag: the log's own record of where the processor resumes.
            if let Some(resume) = run.resume() {
                record_group_offsets(&*log, &cfg.name, &resume).await;
            }
            return Ok(());
        }
        let batch = match tokio::time::timeout(idle, next_prefetched(&mut batches, &mut stop)).await {
            Ok(batch) => batch?,
            Err(_) => {
                // The log has been quiet for a window: close what waits.
                let mut closed = false;
                while let Some(window) = run.windows.pop_any() {
                    closed = true;
                    if !run.close(window, &mut stop, &mut on_version).await? {
                        return Ok(());
                    }
                }
                metrics::gauge!("tributary_processor_waiting_events", "processor" => cfg.name.clone())
                    .set(run.windows.waiting() as f64);
                if closed && let Some(resume) = run.resume() {
                    record_group_offsets(&*log, &cfg.name, &resume).await;
                }
                continue;
            }
        };
        let Some(batch) = batch else { continue };
        if batch.is_empty() {
            continue;
        }
        let now = tributary_log::now_ms();
        let mut duplicates = 0u64;
        for r in batch.records() {
            let at = || format!("{}/{}@{}", r.topic, r.partition, r.offset);
            match crate::mobile_record::timed_position(r.record) {
                Ok(event) => match run.windows.offer(r.partition, r.offset, event) {
                    Placed::Waiting | Placed::AlreadyDecided => {}
                    Placed::Duplicate => duplicates += 1,
                    Placed::Late { window_end_ms, closed_before_ms } => {
                        let reason = format!(
                            "late: its event-time window (ending {}) was closed when windows up to {} were (allowed lateness {})",
                            write_timepoint(window_end_ms),
                            write_timepoint(closed_before_ms),
                            humantime::format_duration(lateness),
                        );
                        run.dead.push(DeadLetter::new(source.clone(), at(), reason, r.record.value, now));
                    }
                },
                Err(reason) if !run.windows.was_decided(r.partition, r.offset) => {
                    run.dead.push(DeadLetter::new(source.clone(), at(), reason, r.record.value, now));
                }
                Err(_) => {} // dead-lettered before the restart
            }
        }
        if duplicates > 0 {
            metrics::counter!("tributary_processor_duplicates_dropped_total", "processor" => cfg.name.clone())
                .increment(duplicates);
        }
        for c in &batch.checkpoints {
            run.windows.read_to(c.partition, c.next_offset);
        }
        let caught_up = caught_up(&*log, &batch.checkpoints).await?;
        for (p, done) in caught_up.iter().enumerate() {
            if *done {
                run.windows.read_to_end(p as u32);
            }
        }
        let mut closed = false;
        while let Some(window) = run.windows.pop_ready(&caught_up) {
            closed = true;
            if !run.close(window, &mut stop, &mut on_version).await? {
                return Ok(());
            }
        }
        if !closed && !run.commit(None, &mut stop).await? {
            return Ok(());
        }
        metrics::counter!("tributary_processor_records_total", "processor" => cfg.name.clone())
            .increment(batch.len() as u64);
        metrics::gauge!("tributary_processor_waiting_events", "processor" => cfg.name.clone())
            .set(run.windows.waiting() as f64);
        if last_group_commit.elapsed() >= Duration::from_secs(1)
            && let Some(resume) = run.resume()
        {
            record_group_offsets(&*log, &cfg.name, &resume).await;
            last_group_commit = Instant::now();
        }
    }
}

impl Run<'_> {
    /// The offsets to resume from, once there is something to commit.
    fn resume(&self) -> Option<Vec<OffsetCheckpoint>> {
        let resume = self.windows.resume_offsets()?;
        Some(
            resume
                .into_iter()
                .enumerate()
                .map(|(p, next_offset)| OffsetCheckpoint {
                    topic: self.cfg.topic.clone(),
                    partition: p as u32,
                    next_offset,
                })
                .collect(),
        )
    }

    /// Gives a closed window to the model and commits its version. Returns false if `stop`
    /// turned true while the store was failing.
    async fn close(
        &mut self,
        window: ClosedWindow,
        stop: &mut watch::Receiver<bool>,
        on_version: &mut (impl FnMut(&ModelVersion) + Send),
    ) -> Result<bool, ProcessorError> {
        if window.forced {
            tracing::warn!(
                processor = %self.cfg.name,
                window_end = %write_timepoint(window.end_ms),
                "more events wait than max_waiting_events: the oldest window closes before the watermark"
            );
        }
        for (partition, from, to) in &window.ranges {
            let range =
                OffsetRange { topic: self.cfg.topic.clone(), partition: *partition, from: *from, to: *to };
            match self.ranges.iter_mut().find(|r| r.partition == *partition) {
                Some(r) => {
                    r.from = r.from.min(range.from);
                    r.to = r.to.max(range.to);
                }
                None => self.ranges.push(range),
            }
        }
        let Some(version) = self.kmeans.process(&window.positions) else {
            return Ok(true); // k-means++ is still gathering its first points: nothing to commit
        };
        let snapshot = self.kmeans.snapshot().expect("a version comes from a model");
        let mut row = version_row(&self.cfg.name, &version, snapshot, &self.ranges, tributary_log::now_ms());
        row.event_time_ms = Some(window.end_ms);
        if !self.commit(Some(row), stop).await? {
            return Ok(false);
        }
        self.ranges.clear();
        on_version(&version);
        Ok(true)
    }

    /// Commits `version` (or none) with the windows' state, the offsets to resume from and the
    /// dead letters so far. Nothing while the model is not made yet or a restart's events are
    /// still being read again: a crash then reads them all again.
    async fn commit(
        &mut self,
        version: Option<tributary_store::KMeansVersionRow>,
        stop: &mut watch::Receiver<bool>,
    ) -> Result<bool, ProcessorError> {
        if self.kmeans.snapshot().is_none() {
            return Ok(true);
        }
        let Some(offsets) = self.resume() else { return Ok(true) };
        let commit = BatchCommit {
            processor: self.cfg.name.clone(),
            version,
            offsets,
            dead_letters: std::mem::take(&mut self.dead),
            expected_offsets: None,
            state: Some(self.windows.state().to_json()),
        };
        if !commit_retrying(self.store, &commit, stop).await? {
            return Ok(false);
        }
        Ok(true)
    }
}

/// Per partition, whether the processor has read everything the log holds.
async fn caught_up(log: &dyn EventLog, read: &[OffsetCheckpoint]) -> Result<Vec<bool>, ProcessorError> {
    let mut out = Vec::with_capacity(read.len());
    for c in read {
        out.push(c.next_offset >= log.offsets(&c.topic, c.partition).await?.end);
    }
    Ok(out)
}

//! [`SourceRuns`]: sources report their runs without waiting for the store.
//!
//! A source reports from wherever it is (a synchronous per-file callback, a request handler, a
//! generator loop); runs are summed per source in memory and added to the store once a second
//! in one transaction, so that a source reporting thousands of runs a second (an HTTP ingest
//! under load) costs the store one upsert per source and second. What is pending when the
//! recorder stops is written before it ends. Status is bookkeeping, never data: a store that
//! fails a write is warned about and the runs are kept for the next try.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::{ServingStore, SourceRun, SourceStatus};

/// How often pending runs are written.
const FLUSH_INTERVAL: Duration = Duration::from_secs(1);
/// Sources held in memory at most while the store is failing; runs of further sources are
/// dropped (and counted) rather than grow without bound.
const MAX_PENDING_SOURCES: usize = 10_000;

/// A handle that sources report their runs through; cheap to clone.
///
/// ```no_run
/// # async fn example(store: std::sync::Arc<dyn tributary_store::ServingStore>) {
/// use tributary_store::{SourceRun, SourceRuns};
/// let (_stop_tx, stop) = tokio::sync::watch::channel(false);
/// let runs = SourceRuns::start(store, stop);
/// runs.record(SourceRun {
///     source: "dir:/srv/inbox".into(),
///     kind: "directory".into(),
///     time_ms: 1_700_000_000_000,
///     rows: 5000,
///     errors: 2,
///     failure: None,
/// });
/// # }
/// ```
#[derive(Clone)]
pub struct SourceRuns {
    pending: Arc<parking_lot::Mutex<BTreeMap<String, SourceStatus>>>,
}

impl SourceRuns {
    /// Starts the task that writes reported runs to `store` every second until `stop` turns
    /// true, then once more.
    pub fn start(store: Arc<dyn ServingStore>, mut stop: watch::Receiver<bool>) -> Self {
        let runs = Self { pending: Arc::default() };
        let writer = runs.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(FLUSH_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                let stopping = tokio::select! {
                    _ = tick.tick() => false,
                    _ = stop.wait_for(|s| *s) => true,
                };
                writer.flush(&*store).await;
                if stopping {
                    return;
                }
            }
        });
        runs
    }

    /// Reports a run; it reaches the store within a second.
    pub fn record(&self, run: SourceRun) {
        let mut pending = self.pending.lock();
        if let Some(status) = pending.get_mut(&run.source) {
            status.add(&run);
        } else if pending.len() < MAX_PENDING_SOURCES {
            if let Some(status) = SourceStatus::of_runs([&run]) {
                pending.insert(run.source, status);
            }
        } else {
            metrics::counter!("tributary_source_runs_dropped_total").increment(1);
        }
    }

    /// Writes what is pending; on failure keeps it (merged with what arrives meanwhile).
    async fn flush(&self, store: &dyn ServingStore) {
        let batch = std::mem::take(&mut *self.pending.lock());
        if batch.is_empty() {
            return;
        }
        let statuses: Vec<SourceStatus> = batch.values().cloned().collect();
        if let Err(e) = store.add_source_runs(&statuses).await {
            tracing::warn!(error = %e, sources = statuses.len(), "cannot record source runs; retrying in a second");
            let mut pending = self.pending.lock();
            let newer = std::mem::replace(&mut *pending, batch);
            for (source, status) in newer {
                match pending.get_mut(&source) {
                    Some(older) => older.merge(&status),
                    None => {
                        pending.insert(source, status);
                    }
                }
            }
        }
    }
}

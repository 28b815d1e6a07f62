//! Reading a topic in micro-batches: by count or by interval, whichever comes first.
//!
//! A batch opens when its first record is read and closes `interval` later or at `max_records`.
//! An idle reader waits on the log's notifications (no polling) until records arrive or it is
//! told to stop.

use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use tokio::sync::{mpsc, watch};
use tributary_log::{EventLog, LogError, ReadLimits, RecordRef, RecordsView};
use tributary_store::{OffsetCheckpoint, OffsetRange};

/// Reads all partitions of one topic from given positions.
pub struct MicroBatchReader {
    log: Arc<dyn EventLog>,
    topic: String,
    /// Next offset per partition.
    positions: Vec<u64>,
    next_first: usize,
}

/// One micro-batch: records in per-partition offset order, and the ranges they cover.
///
/// The records stay in the batches the log read ([`RecordsView`]): a processor looks at each
/// once, so taking them apart (a vector of headers and reference counts per record) would cost
/// more than reading them.
#[derive(Debug, Default)]
pub struct MicroBatch {
    /// The reads the batch is made of, each of one partition.
    pub views: Vec<RecordsView>,
    pub ranges: Vec<OffsetRange>,
    /// The reader's positions after this batch: what a consumer commits once it is done with it.
    pub checkpoints: Vec<OffsetCheckpoint>,
}

/// A record of a micro-batch, with its position.
#[derive(Debug, Clone, Copy)]
pub struct BatchRecord<'a> {
    pub topic: &'a str,
    pub partition: u32,
    pub offset: u64,
    pub record: RecordRef<'a>,
}

impl MicroBatch {
    /// Number of records.
    pub fn len(&self) -> usize {
        self.views.iter().map(RecordsView::len).sum()
    }

    /// True without records.
    pub fn is_empty(&self) -> bool {
        self.views.iter().all(RecordsView::is_empty)
    }

    /// The records, in per-partition offset order.
    pub fn records(&self) -> impl Iterator<Item = BatchRecord<'_>> {
        self.views.iter().flat_map(|v| {
            v.iter().map(move |(offset, record)| BatchRecord {
                topic: v.topic(),
                partition: v.partition(),
                offset,
                record,
            })
        })
    }
}

impl MicroBatchReader {
    /// Starts at `start` (committed positions; partitions without one start at their beginning).
    pub async fn open(
        log: Arc<dyn EventLog>,
        topic: &str,
        start: &[OffsetCheckpoint],
    ) -> tributary_log::Result<Self> {
        let partitions = log.ensure_topic(topic).await?;
        let mut positions = Vec::with_capacity(partitions as usize);
        for p in 0..partitions {
            let committed =
                start.iter().find(|c| c.topic == topic && c.partition == p).map(|c| c.next_offset);
            let position = match committed {
                Some(o) => o,
                None => log.offsets(topic, p).await?.start,
            };
            positions.push(position);
        }
        Ok(Self { log, topic: topic.to_string(), positions, next_first: 0 })
    }

    /// The positions after everything returned so far.
    pub fn checkpoints(&self) -> Vec<OffsetCheckpoint> {
        self.positions
            .iter()
            .enumerate()
            .map(|(p, o)| OffsetCheckpoint {
                topic: self.topic.clone(),
                partition: p as u32,
                next_offset: *o,
            })
            .collect()
    }

    /// The next micro-batch; empty only when `stop` turned true while waiting.
    pub async fn next_batch(
        &mut self,
        max_records: usize,
        interval: Duration,
        stop: &mut watch::Receiver<bool>,
    ) -> tributary_log::Result<MicroBatch> {
        let start_positions = self.positions.clone();
        let mut views = Vec::new();
        let mut read = 0;
        let mut deadline = None;
        loop {
            read += self.read_available(max_records - read, &mut views).await?;
            if read > 0 && deadline.is_none() {
                deadline = Some(tokio::time::Instant::now() + interval);
            }
            if read >= max_records || *stop.borrow() {
                break;
            }
            let waits: Vec<_> = self
                .positions
                .iter()
                .enumerate()
                .map(|(p, o)| {
                    let (log, topic, o) = (self.log.clone(), self.topic.clone(), *o);
                    async move { log.wait_for(&topic, p as u32, o, Duration::from_secs(3600)).await }.boxed()
                })
                .collect();
            let sleep = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => futures::future::pending().await,
                }
            };
            tokio::select! {
                (result, ..) = futures::future::select_all(waits) => { result?; }
                _ = sleep => break,
                _ = stop.changed() => {}
            }
        }
        let ranges = start_positions
            .iter()
            .zip(&self.positions)
            .enumerate()
            .filter(|(_, (from, to))| to > from)
            .map(|(p, (from, to))| OffsetRange {
                topic: self.topic.clone(),
                partition: p as u32,
                from: *from,
                to: *to,
            })
            .collect();
        Ok(MicroBatch { views, ranges, checkpoints: self.checkpoints() })
    }

    /// Reads ahead on a task of its own, one batch in advance, so that reading the next batch
    /// overlaps processing this one. The receiver yields batches in order; an error ends it. It
    /// ends when `stop` turns true (after an empty batch) or when the receiver is dropped.
    pub fn prefetch(
        mut self,
        max_records: usize,
        interval: Duration,
        mut stop: watch::Receiver<bool>,
    ) -> mpsc::Receiver<tributary_log::Result<MicroBatch>> {
        let (tx, rx) = mpsc::channel(1);
        tokio::spawn(async move {
            loop {
                let batch = self.next_batch(max_records, interval, &mut stop).await;
                let last = batch.as_ref().map_or(true, MicroBatch::is_empty);
                if tx.send(batch).await.is_err() || (last && *stop.borrow()) {
                    return;
                }
            }
        });
        rx
    }

    /// Reads what the partitions hold, up to `room` records, into `out`; returns how many.
    async fn read_available(
        &mut self,
        mut room: usize,
        out: &mut Vec<RecordsView>,
    ) -> tributary_log::Result<usize> {
        let n = self.positions.len();
        let mut read = 0;
        for k in 0..n {
            if room == 0 {
                break;
            }
            let p = (self.next_first + k) % n;
            let limits = ReadLimits { max_records: room, max_bytes: 4 << 20 };
            match self.log.read_view(&self.topic, p as u32, self.positions[p], limits).await {
                Ok(view) => {
                    if let Some(last) = view.last_offset() {
                        self.positions[p] = last + 1;
                    }
                    room -= view.len();
                    read += view.len();
                    if !view.is_empty() {
                        out.push(view);
                    }
                }
                Err(LogError::OffsetOutOfRange { start, requested, end, .. }) => {
                    // Retention deleted what was not yet read, or a tail was cut after a power loss.
                    let to = if requested < start { start } else { end };
                    tracing::warn!(topic = %self.topic, partition = p, requested, start, end, "offset out of range; continuing at {to}");
                    self.positions[p] = to;
                }
                Err(e) => return Err(e),
            }
        }
        self.next_first = (self.next_first + 1) % n.max(1);
        Ok(read)
    }
}

//! A consumer-group member of the embedded log.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::FutureExt;
use tokio::sync::watch;

use super::partition::Partition;
use super::{Inner, Topic};
use crate::error::{LogError, Result};
use crate::event_log::{Consumer, ReadLimits};
use crate::record::{ConsumedRecord, OffsetReset, TopicPartition};

struct Assigned {
    partition: Arc<Partition>,
    /// Next offset to return.
    position: u64,
}

pub(crate) struct EmbeddedConsumer {
    inner: Arc<Inner>,
    group: String,
    member: u64,
    topics: Vec<Arc<Topic>>,
    reset: OffsetReset,
    generation: watch::Receiver<u64>,
    assigned: Vec<Assigned>,
    /// Partition to read first on the next poll, for fairness.
    next_first: usize,
    joined: bool,
    /// Left the group (see `leave`): reads nothing more.
    left: bool,
}

impl EmbeddedConsumer {
    pub fn new(inner: Arc<Inner>, group: &str, topics: Vec<Arc<Topic>>, reset: OffsetReset) -> Self {
        let names = topics.iter().map(|t| t.name.to_string()).collect();
        let member = inner.groups.join(group, names);
        let generation = inner.groups.watch_generation();
        Self {
            inner,
            group: group.to_string(),
            member,
            topics,
            reset,
            generation,
            assigned: Vec::new(),
            next_first: 0,
            joined: false,
            left: false,
        }
    }

    /// Recomputes the assignment after a membership change, keeping positions of partitions
    /// this member still owns and starting new ones at the committed offset.
    fn refresh_assignment(&mut self) {
        if self.left || (self.joined && !self.generation.has_changed().unwrap_or(false)) {
            return;
        }
        self.generation.borrow_and_update();
        self.joined = true;
        let mut next = Vec::new();
        for topic in &self.topics {
            let count = topic.partitions.len() as u32;
            for p in self.inner.groups.assigned(&self.group, self.member, &topic.name, count) {
                let partition = topic.partitions[p as usize].clone();
                let kept =
                    self.assigned.iter().find(|a| Arc::ptr_eq(&a.partition, &partition)).map(|a| a.position);
                let position = kept.unwrap_or_else(|| {
                    let tp = TopicPartition::new(topic.name.to_string(), p);
                    match self.inner.groups.committed_offset(&self.group, &tp) {
                        Some(o) => o,
                        None => match self.reset {
                            OffsetReset::Earliest => partition.offsets().start,
                            OffsetReset::Latest => partition.offsets().end,
                        },
                    }
                });
                next.push(Assigned { partition, position });
            }
        }
        tracing::debug!(group = %self.group, member = self.member, partitions = next.len(), "assignment");
        self.assigned = next;
    }

    fn read_available(&mut self, max_records: usize) -> Result<Vec<ConsumedRecord>> {
        let mut out = Vec::new();
        let n = self.assigned.len();
        for k in 0..n {
            if out.len() >= max_records {
                break;
            }
            let a = &mut self.assigned[(self.next_first + k) % n];
            let limits = ReadLimits { max_records: max_records - out.len(), max_bytes: 1 << 20 };
            match a.partition.read(a.position, limits) {
                Ok(records) => {
                    if let Some(last) = records.last() {
                        a.position = last.offset + 1;
                    }
                    out.extend(records);
                }
                Err(LogError::OffsetOutOfRange { start, end, requested, .. }) => {
                    // Below the start: retention deleted it. Beyond the end: recovery cut a tail
                    // that had been read before a power loss. Either way, continue where data is.
                    let to = if requested < start { start } else { end };
                    tracing::warn!(
                        group = %self.group, topic = %a.partition.topic, partition = a.partition.id,
                        requested, start, end, "offset out of range; resetting to {to}"
                    );
                    metrics::counter!("tributary_log_offset_resets_total").increment(1);
                    a.position = to;
                }
                Err(e) => return Err(e),
            }
        }
        self.next_first = (self.next_first + 1) % n.max(1);
        Ok(out)
    }
}

#[async_trait]
impl Consumer for EmbeddedConsumer {
    async fn poll(&mut self, max_records: usize, timeout: Duration) -> Result<Vec<ConsumedRecord>> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            self.refresh_assignment();
            let records = self.read_available(max_records.max(1))?;
            if !records.is_empty() {
                return Ok(records);
            }
            let waits: Vec<_> = self
                .assigned
                .iter()
                .map(|a| {
                    let mut rx = a.partition.watch_end();
                    let position = a.position;
                    async move {
                        let _ = rx.wait_for(|end| *end > position).await;
                    }
                    .boxed()
                })
                .collect();
            let any_partition = async {
                if waits.is_empty() {
                    futures::future::pending::<()>().await
                } else {
                    futures::future::select_all(waits).await;
                }
            };
            tokio::select! {
                _ = any_partition => {}
                // Waiting marked the new generation seen: recompute the assignment regardless.
                _ = self.generation.changed() => self.joined = false,
                _ = tokio::time::sleep_until(deadline) => return Ok(Vec::new()),
            }
        }
    }

    async fn commit(&mut self) -> Result<()> {
        // A partition that moved to another member since the last poll is not committed: its
        // new owner resumes at the previous commit, so records are repeated, never skipped.
        self.refresh_assignment();
        let offsets: Vec<(TopicPartition, u64)> = self
            .assigned
            .iter()
            .map(|a| (TopicPartition::new(a.partition.topic.to_string(), a.partition.id), a.position))
            .collect();
        self.inner.groups.commit(&self.group, &offsets).await
    }

    fn assignment(&self) -> Vec<TopicPartition> {
        self.assigned
            .iter()
            .map(|a| TopicPartition::new(a.partition.topic.to_string(), a.partition.id))
            .collect()
    }

    async fn membership(&mut self, timeout: Duration) -> Result<Vec<TopicPartition>> {
        if self.joined && tokio::time::timeout(timeout, self.generation.changed()).await.is_ok() {
            // Membership lives in this process. Waiting marked the new generation seen:
            // recompute the assignment regardless.
            self.joined = false;
        }
        self.refresh_assignment();
        Ok(self.assignment())
    }

    async fn leave(&mut self) -> Result<()> {
        if !self.left {
            self.left = true;
            self.inner.groups.leave(&self.group, self.member);
            self.assigned.clear();
        }
        Ok(())
    }

    async fn commit_offsets(&mut self, offsets: &[(TopicPartition, u64)]) -> Result<()> {
        self.refresh_assignment();
        let assigned = self.assignment();
        let mine: Vec<(TopicPartition, u64)> =
            offsets.iter().filter(|(tp, _)| assigned.contains(tp)).cloned().collect();
        if mine.is_empty() {
            return Ok(());
        }
        self.inner.groups.commit(&self.group, &mine).await
    }
}

impl Drop for EmbeddedConsumer {
    fn drop(&mut self) {
        if !self.left {
            self.inner.groups.leave(&self.group, self.member);
        }
    }
}

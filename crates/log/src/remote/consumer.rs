//! A consumer-group member and a partition reader over the remote log.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::RemoteLog;
use crate::event_log::{Consumer, EventLog, PartitionReader, ReadLimits};
use crate::record::{ConsumedRecord, OffsetReset, TopicPartition};
use crate::{LogError, Result};

/// The longest a server is asked to hold one read open.
const LONG_POLL: Duration = Duration::from_millis(500);

/// The one member of its group as far as this client knows: assigned every partition of its
/// topics, starting at the group's committed offsets (else per its reset).
pub(super) struct RemoteConsumer {
    log: RemoteLog,
    group: String,
    /// Next offset to read, per partition.
    positions: BTreeMap<TopicPartition, u64>,
    /// The partition to read first at the next poll (round robin).
    next: usize,
}

impl RemoteConsumer {
    pub(super) async fn join(
        log: RemoteLog,
        group: &str,
        topics: &[&str],
        reset: OffsetReset,
    ) -> Result<Self> {
        let described = log.describe_topics().await?;
        let committed: BTreeMap<TopicPartition, u64> = log.committed(group).await?.into_iter().collect();
        let mut positions = BTreeMap::new();
        for topic in topics {
            let t = described
                .iter()
                .find(|t| t.name == *topic)
                .ok_or_else(|| LogError::UnknownTopic(topic.to_string()))?;
            for p in &t.partitions {
                let tp = TopicPartition::new(*topic, p.partition);
                let start = match (committed.get(&tp), reset) {
                    (Some(&o), _) => o.clamp(p.offsets.start, p.offsets.end),
                    (None, OffsetReset::Earliest) => p.offsets.start,
                    (None, OffsetReset::Latest) => p.offsets.end,
                };
                positions.insert(tp, start);
            }
        }
        Ok(Self { log, group: group.to_string(), positions, next: 0 })
    }
}

#[async_trait]
impl Consumer for RemoteConsumer {
    async fn poll(&mut self, max_records: usize, timeout: Duration) -> Result<Vec<ConsumedRecord>> {
        let deadline = Instant::now() + timeout;
        let partitions: Vec<TopicPartition> = self.positions.keys().cloned().collect();
        if partitions.is_empty() || max_records == 0 {
            tokio::time::sleep(timeout.min(LONG_POLL)).await;
            return Ok(Vec::new());
        }
        loop {
            let mut out = Vec::new();
            for i in 0..partitions.len() {
                let tp = &partitions[(self.next + i) % partitions.len()];
                let at = self.positions[tp];
                let limits = ReadLimits { max_records: max_records - out.len(), ..ReadLimits::default() };
                let records = self.log.read(&tp.topic, tp.partition, at, limits).await?;
                if let Some(last) = records.last() {
                    self.positions.insert(tp.clone(), last.offset + 1);
                }
                out.extend(records);
                if out.len() >= max_records {
                    break;
                }
            }
            self.next = (self.next + 1) % partitions.len();
            let now = Instant::now();
            if !out.is_empty() || now >= deadline {
                return Ok(out);
            }
            // Nothing anywhere: let the server hold a read of the first partition open.
            let tp = &partitions[self.next];
            self.log
                .wait_for(&tp.topic, tp.partition, self.positions[tp], (deadline - now).min(LONG_POLL))
                .await?;
        }
    }

    async fn commit(&mut self) -> Result<()> {
        let offsets: Vec<(TopicPartition, u64)> =
            self.positions.iter().map(|(tp, o)| (tp.clone(), *o)).collect();
        self.log.commit(&self.group, &offsets).await
    }

    fn assignment(&self) -> Vec<TopicPartition> {
        self.positions.keys().cloned().collect()
    }

    async fn membership(&mut self, _timeout: Duration) -> Result<Vec<TopicPartition>> {
        Ok(self.assignment())
    }

    async fn commit_offsets(&mut self, offsets: &[(TopicPartition, u64)]) -> Result<()> {
        let mine: Vec<(TopicPartition, u64)> =
            offsets.iter().filter(|(tp, _)| self.positions.contains_key(tp)).cloned().collect();
        self.log.commit(&self.group, &mine).await
    }

    async fn leave(&mut self) -> Result<()> {
        Ok(())
    }
}

/// A reader of one partition that keeps its place.
pub(super) struct RemoteReader {
    log: RemoteLog,
    topic: String,
    partition: u32,
    position: u64,
}

impl RemoteReader {
    pub(super) fn new(log: RemoteLog, topic: &str, partition: u32, position: u64) -> Self {
        Self { log, topic: topic.to_string(), partition, position }
    }
}

#[async_trait]
impl PartitionReader for RemoteReader {
    async fn read(&mut self, max_records: usize, wait: Duration) -> Result<Vec<ConsumedRecord>> {
        if !wait.is_zero() {
            self.log.wait_for(&self.topic, self.partition, self.position, wait).await?;
        }
        let limits = ReadLimits { max_records, ..ReadLimits::default() };
        let records = self.log.read(&self.topic, self.partition, self.position, limits).await?;
        if let Some(last) = records.last() {
            self.position = last.offset + 1;
        }
        Ok(records)
    }

    fn position(&self) -> u64 {
        self.position
    }
}

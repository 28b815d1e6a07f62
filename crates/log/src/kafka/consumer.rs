//! [`KafkaConsumer`]: a member of a Kafka consumer group behind the log's [`Consumer`] trait.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer as _};
use rdkafka::{Offset, TopicPartitionList};

use super::{blocking, consumed, kafka};
use crate::error::Result;
use crate::event_log::Consumer;
use crate::record::{ConsumedRecord, TopicPartition};

/// A group member: Kafka assigns it partitions (and moves them when members come and go); it
/// commits the position after what it has returned when asked to, never on its own.
pub struct KafkaConsumer {
    consumer: Arc<BaseConsumer>,
    group: String,
    /// The next offset per partition, after the records `poll` returned.
    positions: BTreeMap<(String, u32), u64>,
}

impl KafkaConsumer {
    pub(super) fn subscribe(config: ClientConfig, group: &str, topics: &[&str]) -> Result<Self> {
        let consumer: BaseConsumer =
            config.create().map_err(|e| kafka(format!("joining group {group}"), e))?;
        consumer.subscribe(topics).map_err(|e| kafka(format!("joining group {group}"), e))?;
        Ok(Self { consumer: Arc::new(consumer), group: group.to_string(), positions: BTreeMap::new() })
    }
}

#[async_trait]
impl Consumer for KafkaConsumer {
    async fn poll(&mut self, max_records: usize, timeout: Duration) -> Result<Vec<ConsumedRecord>> {
        let (consumer, group) = (self.consumer.clone(), self.group.clone());
        let records = blocking(move || {
            let deadline = Instant::now() + timeout;
            let mut out = Vec::new();
            while out.len() < max_records {
                // Wait for the first record; then take what is already there. A poll also
                // returns empty-handed after serving a rebalance, so only the deadline ends
                // the wait.
                let wait = if out.is_empty() {
                    deadline.saturating_duration_since(Instant::now())
                } else {
                    Duration::ZERO
                };
                match consumer.poll(wait) {
                    Some(message) => {
                        let m = message.map_err(|e| kafka(format!("polling for group {group}"), e))?;
                        out.push(consumed(&m));
                    }
                    None if out.is_empty() && Instant::now() < deadline => {}
                    None => break,
                }
            }
            Ok(out)
        })
        .await?;
        for r in &records {
            self.positions.insert((r.topic.to_string(), r.partition), r.offset + 1);
        }
        Ok(records)
    }

    async fn commit(&mut self) -> Result<()> {
        // Only the partitions still assigned: a revoked one belongs to another member now.
        let assigned = self.assignment();
        let mut tpl = TopicPartitionList::new();
        for ((topic, partition), next) in &self.positions {
            if assigned.iter().any(|tp| &tp.topic == topic && tp.partition == *partition) {
                tpl.add_partition_offset(topic, *partition as i32, Offset::Offset(*next as i64))
                    .map_err(|e| kafka(format!("committing for group {}", self.group), e))?;
            }
        }
        if tpl.count() == 0 {
            return Ok(());
        }
        let (consumer, group) = (self.consumer.clone(), self.group.clone());
        blocking(move || {
            consumer
                .commit(&tpl, CommitMode::Sync)
                .map_err(|e| kafka(format!("committing for group {group}"), e))
        })
        .await
    }

    fn assignment(&self) -> Vec<TopicPartition> {
        self.consumer
            .assignment()
            .map(|tpl| {
                tpl.elements().iter().map(|e| TopicPartition::new(e.topic(), e.partition() as u32)).collect()
            })
            .unwrap_or_default()
    }
}

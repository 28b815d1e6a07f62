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
    /// `membership` paused partitions. librdkafka keeps a partition's pause across a revoke
    /// and a later assignment, so once a member has paused any, `poll` resumes what it holds.
    paused: bool,
}

impl KafkaConsumer {
    pub(super) fn subscribe(config: ClientConfig, group: &str, topics: &[&str]) -> Result<Self> {
        let consumer: BaseConsumer =
            config.create().map_err(|e| kafka(format!("joining group {group}"), e))?;
        consumer.subscribe(topics).map_err(|e| kafka(format!("joining group {group}"), e))?;
        Ok(Self {
            consumer: Arc::new(consumer),
            group: group.to_string(),
            positions: BTreeMap::new(),
            paused: false,
        })
    }
}

#[async_trait]
impl Consumer for KafkaConsumer {
    async fn poll(&mut self, max_records: usize, timeout: Duration) -> Result<Vec<ConsumedRecord>> {
        let (consumer, group, paused) = (self.consumer.clone(), self.group.clone(), self.paused);
        let records = blocking(move || {
            let deadline = Instant::now() + timeout;
            let mut out = Vec::new();
            while out.len() < max_records {
                if paused && out.is_empty() {
                    // Partitions handed over during this poll may come paused from an earlier
                    // assignment; the waits stay short so that those are resumed at once.
                    let held = consumer
                        .assignment()
                        .map_err(|e| kafka(format!("assignment in group {group}"), e))?;
                    if held.count() > 0 {
                        consumer
                            .resume(&held)
                            .map_err(|e| kafka(format!("resuming for group {group}"), e))?;
                    }
                }
                // Wait for the first record; then take what is already there. A poll also
                // returns empty-handed after serving a rebalance, so only the deadline ends
                // the wait.
                let wait = if out.is_empty() {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if paused { left.min(Duration::from_millis(50)) } else { left }
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
        // Only the partitions still assigned (`commit_offsets` skips the others): a revoked one
        // belongs to another member now.
        let offsets: Vec<(TopicPartition, u64)> = self
            .positions
            .iter()
            .map(|((topic, partition), next)| (TopicPartition::new(topic, *partition), *next))
            .collect();
        self.commit_offsets(&offsets).await
    }

    async fn membership(&mut self, timeout: Duration) -> Result<Vec<TopicPartition>> {
        self.paused = true;
        let (consumer, group) = (self.consumer.clone(), self.group.clone());
        blocking(move || {
            // librdkafka serves joins and rebalances inside poll. Assigned partitions are paused
            // so that nothing is fetched for them; a record fetched before the pause took effect
            // is dropped (this member reads elsewhere, at its own positions).
            let before = consumer.assignment().map(|a| a.to_topic_map()).ok();
            let deadline = Instant::now() + timeout;
            loop {
                let wait = deadline.saturating_duration_since(Instant::now()).min(Duration::from_millis(50));
                if let Some(Err(e)) = consumer.poll(wait) {
                    return Err(kafka(format!("taking part in group {group}"), e));
                }
                let now =
                    consumer.assignment().map_err(|e| kafka(format!("assignment in group {group}"), e))?;
                if now.count() > 0 {
                    consumer.pause(&now).map_err(|e| kafka(format!("pausing for group {group}"), e))?;
                }
                if Some(now.to_topic_map()) != before || Instant::now() >= deadline {
                    return Ok(());
                }
            }
        })
        .await?;
        Ok(self.assignment())
    }

    async fn leave(&mut self) -> Result<()> {
        let (consumer, group) = (self.consumer.clone(), self.group.clone());
        blocking(move || {
            // Unsubscribing sends LeaveGroup once the partitions are given up, also for a static
            // member (librdkafka skips it only when the consumer is closed); serving events
            // until the assignment is empty lets that happen before the consumer is dropped.
            consumer.unsubscribe();
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Some(Err(e)) = consumer.poll(Duration::from_millis(50)) {
                    tracing::debug!(group = %group, error = %e, "while leaving");
                }
                if consumer.assignment().map(|a| a.count() == 0).unwrap_or(true) {
                    // One more turn for the LeaveGroup request itself.
                    consumer.poll(Duration::from_millis(100));
                    break;
                }
            }
            Ok(())
        })
        .await
    }

    async fn commit_offsets(&mut self, offsets: &[(TopicPartition, u64)]) -> Result<()> {
        let assigned = self.assignment();
        let mut tpl = TopicPartitionList::new();
        for (tp, next) in offsets.iter().filter(|(tp, _)| assigned.contains(tp)) {
            tpl.add_partition_offset(&tp.topic, tp.partition as i32, Offset::Offset(*next as i64))
                .map_err(|e| kafka(format!("committing for group {}", self.group), e))?;
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

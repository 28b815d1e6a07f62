//! [`KafkaPartitionReader`]: one partition through an assign-only librdkafka consumer that
//! stays assigned, so its fetches run ahead of the reads.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Message, Offset, TopicPartitionList};

use super::{KafkaLog, blocking, consumed, kafka};
use crate::error::{LogError, Result};
use crate::event_log::PartitionReader;
use crate::record::ConsumedRecord;

pub(crate) struct KafkaPartitionReader {
    /// For the partition's range when the position fell out of it.
    log: KafkaLog,
    consumer: Arc<BaseConsumer>,
    topic: String,
    partition: u32,
    position: u64,
}

impl KafkaPartitionReader {
    /// `config` is a reader's configuration (no automatic commits; the group id is never used).
    pub(super) fn open(
        log: KafkaLog,
        mut config: ClientConfig,
        topic: &str,
        partition: u32,
        offset: u64,
    ) -> Result<Self> {
        let context = || format!("reading {topic}/{partition} from {offset}");
        // Out of range is an error to report (retention deleted what was to be read), never a
        // silent jump.
        config.set("auto.offset.reset", "error");
        let consumer: BaseConsumer = config.create().map_err(|e| kafka(context(), e))?;
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(topic, partition as i32, Offset::Offset(offset as i64))
            .map_err(|e| kafka(context(), e))?;
        consumer.assign(&tpl).map_err(|e| kafka(context(), e))?;
        Ok(Self { log, consumer: Arc::new(consumer), topic: topic.to_string(), partition, position: offset })
    }
}

#[async_trait]
impl PartitionReader for KafkaPartitionReader {
    async fn read(&mut self, max_records: usize, wait: Duration) -> Result<Vec<ConsumedRecord>> {
        if max_records == 0 {
            return Ok(Vec::new());
        }
        let (consumer, topic, partition, position) =
            (self.consumer.clone(), self.topic.clone(), self.partition, self.position);
        let records = blocking(move || {
            let deadline = Instant::now() + wait;
            let mut out: Vec<ConsumedRecord> = Vec::new();
            let mut next = position;
            while out.len() < max_records {
                // Wait for the first record; then take what the fetcher has already brought.
                let timeout = if out.is_empty() {
                    deadline.saturating_duration_since(Instant::now())
                } else {
                    Duration::ZERO
                };
                match consumer.poll(timeout) {
                    Some(Ok(m)) => {
                        if m.offset() < 0 || (m.offset() as u64) < next {
                            continue;
                        }
                        next = m.offset() as u64 + 1;
                        out.push(consumed(&m));
                    }
                    Some(Err(KafkaError::MessageConsumption(RDKafkaErrorCode::OffsetOutOfRange))) => {
                        // Filled in with the partition's range below.
                        return Err(LogError::OffsetOutOfRange {
                            topic: topic.clone(),
                            partition,
                            requested: next,
                            start: 0,
                            end: 0,
                        });
                    }
                    Some(Err(e)) => return Err(kafka(format!("reading {topic}/{partition}"), e)),
                    None if out.is_empty() && Instant::now() < deadline => {}
                    None => break,
                }
            }
            Ok(out)
        })
        .await;
        let records = match records {
            Err(LogError::OffsetOutOfRange { requested, .. }) => {
                let range = self.log.watermarks(&self.topic, self.partition).await?;
                return Err(LogError::OffsetOutOfRange {
                    topic: self.topic.clone(),
                    partition: self.partition,
                    requested,
                    start: range.start,
                    end: range.end,
                });
            }
            other => other?,
        };
        if let Some(last) = records.last() {
            self.position = last.offset + 1;
        }
        Ok(records)
    }

    fn position(&self) -> u64 {
        self.position
    }
}

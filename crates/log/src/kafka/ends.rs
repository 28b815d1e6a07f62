//! [`EndProbe`]: the true ends of partitions on brokers that report less.
//!
//! Kafka reports a partition's true end (the offset the next record will get). Some
//! Kafka-protocol brokers (tansu 0.6) report one past the *first* offset of the last batch
//! instead. Reading that last batch gives the true end on both: on Kafka it finds exactly the
//! record below the end (or later ones, appended since, which are acknowledged too). A read is a
//! fetch, so the probe reads many partitions at once, and remembers what it found for the end
//! the broker reported: a partition whose reported end has not moved is not read again.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::{Message, Offset, TopicPartitionList};

use super::kafka;
use crate::error::Result;

/// A partition whose end is wanted: topic, partition, start and the end the broker reported.
pub(super) struct Reported<'a> {
    pub topic: &'a str,
    pub partition: u32,
    pub start: u64,
    pub reported: u64,
}

pub(super) struct EndProbe {
    consumer: BaseConsumer,
    /// (topic, partition) → (reported end, true end) as last found.
    found: HashMap<(String, u32), (u64, u64)>,
}

impl EndProbe {
    pub fn new(consumer: BaseConsumer) -> Self {
        Self { consumer, found: HashMap::new() }
    }

    /// The true end of each partition, in the order given.
    pub fn ends(&mut self, partitions: &[Reported<'_>], timeout: Duration) -> Result<Vec<u64>> {
        let mut ends: Vec<u64> = partitions.iter().map(|p| p.reported).collect();
        let mut tpl = TopicPartitionList::new();
        let mut wanted: HashMap<(String, i32), usize> = HashMap::new();
        for (i, p) in partitions.iter().enumerate() {
            if p.reported == 0 || p.reported <= p.start {
                continue; // empty: nothing to read
            }
            match self.found.get(&(p.topic.to_string(), p.partition)) {
                Some((reported, end)) if *reported == p.reported => ends[i] = *end,
                _ => {
                    tpl.add_partition_offset(
                        p.topic,
                        p.partition as i32,
                        Offset::Offset(p.reported as i64 - 1),
                    )
                    .map_err(|e| kafka(format!("the end of {}/{}", p.topic, p.partition), e))?;
                    wanted.insert((p.topic.to_string(), p.partition as i32), i);
                }
            }
        }
        if wanted.is_empty() {
            return Ok(ends);
        }
        self.consumer.assign(&tpl).map_err(|e| kafka("probing partition ends", e))?;
        let mut pending = wanted.len();
        let mut seen = vec![false; partitions.len()];
        let deadline = Instant::now() + timeout;
        // Wait for a record of every partition; once all have come, take what else is there.
        loop {
            let wait =
                if pending > 0 { deadline.saturating_duration_since(Instant::now()) } else { Duration::ZERO };
            let Some(message) = self.consumer.poll(wait) else {
                if pending == 0 || Instant::now() >= deadline {
                    break;
                }
                continue;
            };
            let m = message.map_err(|e| kafka("probing partition ends", e))?;
            if let Some(&i) = wanted.get(&(m.topic().to_string(), m.partition())) {
                ends[i] = ends[i].max(m.offset() as u64 + 1);
                if !seen[i] {
                    seen[i] = true;
                    pending -= 1;
                }
            }
        }
        self.consumer.unassign().map_err(|e| kafka("probing partition ends", e))?;
        for (&(ref topic, partition), &i) in &wanted {
            if seen[i] {
                self.found.insert((topic.clone(), partition as u32), (partitions[i].reported, ends[i]));
            }
        }
        Ok(ends)
    }
}

//! Records and positions: what producers append and consumers receive.

use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch, as in Kafka's record timestamps.
pub type TimestampMs = i64;

/// One record as a producer hands it to [`EventLog::append`](crate::EventLog::append).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Partitioning key; records with equal keys land on the same partition.
    pub key: Option<Bytes>,
    /// The payload. The log never looks inside it.
    pub value: Bytes,
    /// Named metadata, kept in order (Kafka headers).
    pub headers: Vec<Header>,
    /// Creation time in milliseconds since the Unix epoch.
    pub timestamp: TimestampMs,
}

impl Record {
    /// An unkeyed record stamped with the current time.
    ///
    /// ```
    /// let r = tributary_log::Record::new("hello").with_key("device-7");
    /// assert_eq!(&r.value[..], b"hello");
    /// assert_eq!(r.key.as_deref(), Some(&b"device-7"[..]));
    /// ```
    pub fn new(value: impl Into<Bytes>) -> Self {
        Self { key: None, value: value.into(), headers: Vec::new(), timestamp: now_ms() }
    }

    /// Sets the key.
    pub fn with_key(mut self, key: impl Into<Bytes>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Adds a header.
    pub fn with_header(mut self, name: impl Into<Arc<str>>, value: impl Into<Bytes>) -> Self {
        self.headers.push(Header { name: name.into(), value: value.into() });
        self
    }

    /// Sets the timestamp.
    pub fn with_timestamp(mut self, timestamp: TimestampMs) -> Self {
        self.timestamp = timestamp;
        self
    }
}

/// A record header: a name and opaque bytes. Names are shared (`Arc<str>`): a reader interns
/// them per batch instead of allocating one per record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub name: Arc<str>,
    pub value: Bytes,
}

/// A record as read back from the log, with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumedRecord {
    pub topic: Arc<str>,
    pub partition: u32,
    pub offset: u64,
    pub record: Record,
}

/// A topic and one of its partitions.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TopicPartition {
    pub topic: String,
    pub partition: u32,
}

impl TopicPartition {
    pub fn new(topic: impl Into<String>, partition: u32) -> Self {
        Self { topic: topic.into(), partition }
    }
}

impl std::fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.topic, self.partition)
    }
}

/// Where an appended record landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordPosition {
    pub partition: u32,
    pub offset: u64,
}

/// The readable range of a partition: offsets `start..end` exist; `end` is the next to be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionOffsets {
    pub start: u64,
    pub end: u64,
}

/// Where a consumer without a committed offset starts (Kafka's `auto.offset.reset`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OffsetReset {
    /// The oldest record still retained.
    #[default]
    Earliest,
    /// Only records appended after the consumer started.
    Latest,
}

/// What a topic looks like from the outside.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicDescription {
    pub name: String,
    pub partitions: Vec<PartitionDescription>,
}

/// One partition of a [`TopicDescription`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionDescription {
    pub partition: u32,
    pub offsets: PartitionOffsets,
    /// Bytes on disk (0 where a backend cannot tell).
    pub size_bytes: u64,
    pub segments: usize,
}

/// The current wall-clock time in milliseconds since the Unix epoch.
pub fn now_ms() -> TimestampMs {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

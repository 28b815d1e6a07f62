//! The event log of Tributary: a durable, ordered, replayable record of everything that came in.
//!
//! [`EventLog`] is the contract (topics, partitions, offsets, consumer groups — Kafka's model);
//! [`EmbeddedLog`] is its single-process backend on segmented files. A Kafka backend implements
//! the same trait. Nothing outside this crate knows which backend it talks to.

mod backoff;
pub mod config;
pub mod embedded;
mod error;
mod event_log;
#[cfg(feature = "kafka")]
pub mod kafka;
mod names;
mod partitioner;
mod record;
pub mod remote;
mod view;

pub use backoff::Backoff;
pub use config::{EmbeddedLogConfig, FsyncPolicy, TopicsConfig};
pub use embedded::{EmbeddedLog, RecoveryReport, Truncation};
pub use error::{LogError, Result};
pub use event_log::{Consumer, EventLog, GroupOffsets, PartitionReader, ReadLimits};
pub use names::validate_topic_name;
pub use partitioner::{Partitioner, murmur2, partition_for_key};
pub use record::{
    ConsumedRecord, Header, OffsetReset, PartitionDescription, PartitionOffsets, Record, RecordPosition,
    TimestampMs, TopicDescription, TopicPartition, now_ms,
};
pub use view::{HeadersRef, RecordRef, RecordsView};

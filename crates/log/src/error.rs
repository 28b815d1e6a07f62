//! Errors of the event log.

use std::path::PathBuf;

/// Everything that can go wrong in the event log. Messages name the topic, partition, file and
/// offset involved, so that an operator can act on them without reading code.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("topic '{0}' does not exist")]
    UnknownTopic(String),
    #[error("topic '{topic}' has {partitions} partitions; partition {partition} does not exist")]
    UnknownPartition { topic: String, partition: u32, partitions: u32 },
    #[error("topic '{topic}' already exists with {partitions} partitions")]
    TopicExists { topic: String, partitions: u32 },
    #[error("invalid topic name '{name}': {reason}")]
    InvalidTopicName { name: String, reason: &'static str },
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    #[error("offset {requested} is out of range for {topic}/{partition} (available: {start}..{end})")]
    OffsetOutOfRange { topic: String, partition: u32, requested: u64, start: u64, end: u64 },
    #[error("record of {size} bytes is larger than the limit of {limit} bytes (max_record_bytes)")]
    RecordTooLarge { size: usize, limit: usize },
    #[error("corrupt log data in {file} at byte {position} (offset {offset}): {reason}")]
    Corrupt { file: PathBuf, position: u64, offset: u64, reason: String },
    #[error(
        "data directory {dir} is in use by another process{holder}; stop it first, or use another --data-dir"
    )]
    Locked { dir: PathBuf, holder: String },
    #[error("partition {topic}/{partition} is unusable after an earlier write failure: {reason}")]
    Failed { topic: String, partition: u32, reason: String },
    #[error("the log is closed")]
    Closed,
    /// The Kafka cluster refused or failed a request: what was being done, and librdkafka's
    /// error, whose code ([`LogError::kafka_code`]) says which failure it was.
    #[cfg(feature = "kafka")]
    #[error("{context}: {source}")]
    Kafka {
        context: String,
        #[source]
        source: rdkafka::error::KafkaError,
    },
    /// A request to the Kafka cluster could not be made (the message says why).
    #[error("{0}")]
    KafkaRequest(String),
    /// The running `tributary up` whose log this is (see [`crate::remote`]) failed or refused
    /// a request; the message is its own, or says why it could not be reached.
    #[error("{0}")]
    Remote(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl LogError {
    /// Wraps an I/O error with what was being done, for example "reading /data/…/0.log".
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io { context: context.into(), source }
    }

    /// Whether the same request may succeed if made again later: an I/O failure (a full disk,
    /// for one) or a Kafka cluster that failed the request. What failed was not acknowledged;
    /// writers retry it with a [`Backoff`](crate::Backoff) instead of stopping. A partition
    /// made unusable by an earlier failure ([`LogError::Failed`]) is not transient: only a
    /// restart, which runs recovery, makes it writable again.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Io { .. } | Self::KafkaRequest(_) => true,
            #[cfg(feature = "kafka")]
            Self::Kafka { .. } => true,
            _ => false,
        }
    }

    /// librdkafka's code of a Kafka failure (`UnknownTopicOrPartition`, `RequestTimedOut`, …),
    /// where the cluster or the client gave one.
    #[cfg(feature = "kafka")]
    pub fn kafka_code(&self) -> Option<rdkafka::types::RDKafkaErrorCode> {
        match self {
            Self::Kafka { source, .. } => source.rdkafka_error_code(),
            _ => None,
        }
    }
}

/// Result alias for the event log.
pub type Result<T, E = LogError> = std::result::Result<T, E>;

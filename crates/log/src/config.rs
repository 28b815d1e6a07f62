//! Configuration of the log: `[topics]` (any backend) and `[embedded_log]` in `tributary.toml`.
//!
//! Every field has a default and a range; `validate` rejects values outside it with a
//! [`KeyError`] that names the key and what is accepted.

use std::time::Duration;

use serde::{Deserialize, Deserializer, de};
use tributary_settings::{ByteSize, KeyError, Limit, human_duration};

/// How topics are made, on any backend (`[topics]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TopicsConfig {
    /// Partitions of a topic created on first use (the embedded log, and Kafka when this
    /// process creates the topic).
    pub default_partitions: u32,
}

impl Default for TopicsConfig {
    fn default() -> Self {
        Self { default_partitions: 1 }
    }
}

impl TopicsConfig {
    /// Checks ranges; the error names the key.
    pub fn validate(&self) -> Result<(), KeyError> {
        if !(1..=MAX_PARTITIONS).contains(&self.default_partitions) {
            return Err(KeyError::new(
                "default_partitions",
                format!("= {} is out of range: accepted 1 to {MAX_PARTITIONS}", self.default_partitions),
            ));
        }
        Ok(())
    }
}

/// Settings of the embedded, file-based event log.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmbeddedLogConfig {
    /// Partitions of a topic created on first use: `[topics]`'s, which the process sets (it is
    /// not a key of `[embedded_log]`).
    #[serde(skip)]
    pub default_partitions: u32,
    /// Create a topic when a producer or consumer first names it.
    pub auto_create_topics: bool,
    /// When appended records are forced to disk before `append` returns.
    pub fsync: FsyncPolicy,
    /// A segment file is closed and a new one started at this size.
    pub segment_bytes: ByteSize,
    /// … or when the active segment is this old (so that age retention can delete it).
    #[serde(deserialize_with = "human_duration")]
    pub segment_age: Duration,
    /// Whole segments whose newest write is older than this are deleted.
    pub retention_age: Limit<Duration>,
    /// Oldest segments are deleted while a partition is larger than this.
    pub retention_bytes: Limit<ByteSize>,
    /// How often retention runs.
    #[serde(deserialize_with = "human_duration")]
    pub retention_check_interval: Duration,
    /// One sparse-index entry per this many bytes of a segment.
    pub index_interval_bytes: ByteSize,
    /// The largest record (key + value + headers) accepted.
    pub max_record_bytes: ByteSize,
}

impl Default for EmbeddedLogConfig {
    fn default() -> Self {
        Self {
            default_partitions: 1,
            auto_create_topics: true,
            fsync: FsyncPolicy::Interval(Duration::from_millis(100)),
            segment_bytes: ByteSize(64 << 20),
            segment_age: Duration::from_secs(24 * 3600),
            retention_age: Limit::Limited(Duration::from_secs(7 * 24 * 3600)),
            // A partition of mobile events at 200 a second holds about a day in 4 GiB.
            retention_bytes: Limit::Limited(ByteSize(4 << 30)),
            retention_check_interval: Duration::from_secs(60),
            index_interval_bytes: ByteSize(4096),
            max_record_bytes: ByteSize(1 << 20),
        }
    }
}

impl EmbeddedLogConfig {
    /// Checks ranges. The error names the key (relative to the section) and the accepted range.
    pub fn validate(&self) -> Result<(), KeyError> {
        TopicsConfig { default_partitions: self.default_partitions }.validate()?;
        let in_range = |key: &str, v: u64, lo: u64, hi: u64, what: &str| {
            if v < lo || v > hi {
                Err(KeyError::new(key, format!("= {v} is out of range: accepted {what}")))
            } else {
                Ok(())
            }
        };
        in_range("segment_bytes", self.segment_bytes.0, 4096, 1 << 30, "4 KiB to 1 GiB")?;
        in_range("index_interval_bytes", self.index_interval_bytes.0, 64, 1 << 20, "64 B to 1 MiB")?;
        in_range("max_record_bytes", self.max_record_bytes.0, 1, 256 << 20, "1 B to 256 MiB")?;
        if self.max_record_bytes.0 + 1024 > self.segment_bytes.0 {
            return Err(KeyError::new(
                "max_record_bytes",
                format!(
                    "({}) must be at least 1 KiB below segment_bytes ({})",
                    self.max_record_bytes.0, self.segment_bytes.0
                ),
            ));
        }
        if let FsyncPolicy::Interval(d) = self.fsync
            && (d.is_zero() || d > Duration::from_secs(60))
        {
            return Err(KeyError::new("fsync", "interval must be between 1ms and 60s (or \"every-batch\")"));
        }
        if self.retention_check_interval < Duration::from_millis(10) {
            return Err(KeyError::new("retention_check_interval", "must be at least 10ms"));
        }
        if self.segment_age < Duration::from_secs(1) {
            return Err(KeyError::new("segment_age", "must be at least 1s"));
        }
        Ok(())
    }
}

/// The most partitions one topic may have.
pub const MAX_PARTITIONS: u32 = 10_000;

/// When the embedded log forces appended data to stable storage.
///
/// In both modes a record becomes visible to readers exactly when its `append` is acknowledged,
/// so no reader ever sees a record that a crash could take back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// `append` returns after an fsync covering its records (concurrent appends share one fsync).
    /// Survives power loss.
    EveryBatch,
    /// `append` returns once the records are written to the operating system; a background task
    /// fsyncs at this interval. Survives a killed process; power loss can lose the last interval.
    Interval(Duration),
}

impl<'de> Deserialize<'de> for FsyncPolicy {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(de::Error::custom)
    }
}

impl std::str::FromStr for FsyncPolicy {
    type Err = tributary_settings::InvalidValue;
    fn from_str(s: &str) -> Result<Self, tributary_settings::InvalidValue> {
        match s.trim() {
            "every-batch" | "batch" => Ok(Self::EveryBatch),
            other => humantime::parse_duration(other).map(Self::Interval).map_err(|_| {
                tributary_settings::InvalidValue(format!(
                    "'{s}' is not an fsync policy: accepted \"every-batch\" or an interval such as \"100ms\""
                ))
            }),
        }
    }
}

impl std::fmt::Display for FsyncPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::EveryBatch => f.write_str("every-batch"),
            Self::Interval(d) => write!(f, "every {}", humantime::format_duration(*d)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fsync_policies_parse() {
        assert_eq!("every-batch".parse::<FsyncPolicy>().unwrap(), FsyncPolicy::EveryBatch);
        assert_eq!(
            "100ms".parse::<FsyncPolicy>().unwrap(),
            FsyncPolicy::Interval(Duration::from_millis(100))
        );
        let err = "sometimes".parse::<FsyncPolicy>().unwrap_err();
        assert!(err.0.contains("every-batch"), "{err}");
    }

    #[test]
    fn defaults_are_valid_and_ranges_are_checked() {
        EmbeddedLogConfig::default().validate().unwrap();
        let bad = EmbeddedLogConfig { default_partitions: 0, ..Default::default() };
        assert_eq!(bad.validate().unwrap_err().key, "default_partitions");
        let bad = EmbeddedLogConfig { segment_bytes: ByteSize(10), ..Default::default() };
        assert_eq!(bad.validate().unwrap_err().key, "segment_bytes");
        assert_eq!(
            TopicsConfig { default_partitions: 10_001 }.validate().unwrap_err().key,
            "default_partitions"
        );
    }
}

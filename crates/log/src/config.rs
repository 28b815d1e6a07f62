//! Configuration of the embedded log (`[embedded_log]` in `tributary.toml`).
//!
//! Every field has a default and a range; [`EmbeddedLogConfig::validate`] rejects values outside
//! it with a message that names the key and what is accepted.

use std::time::Duration;

use serde::{Deserialize, Deserializer, de};

/// Settings of the embedded, file-based event log.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmbeddedLogConfig {
    /// Partitions of a topic created on first use.
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
    pub fn validate(&self) -> Result<(), String> {
        let in_range = |key: &str, v: u64, lo: u64, hi: u64, what: &str| {
            if v < lo || v > hi {
                Err(format!("{key} = {v} is out of range: accepted {what}"))
            } else {
                Ok(())
            }
        };
        in_range(
            "default_partitions",
            self.default_partitions.into(),
            1,
            MAX_PARTITIONS.into(),
            "1 to 10000",
        )?;
        in_range("segment_bytes", self.segment_bytes.0, 4096, 1 << 30, "4 KiB to 1 GiB")?;
        in_range("index_interval_bytes", self.index_interval_bytes.0, 64, 1 << 20, "64 B to 1 MiB")?;
        in_range("max_record_bytes", self.max_record_bytes.0, 1, 256 << 20, "1 B to 256 MiB")?;
        if self.max_record_bytes.0 + 1024 > self.segment_bytes.0 {
            return Err(format!(
                "max_record_bytes ({}) must be at least 1 KiB below segment_bytes ({})",
                self.max_record_bytes.0, self.segment_bytes.0
            ));
        }
        if let FsyncPolicy::Interval(d) = self.fsync
            && (d.is_zero() || d > Duration::from_secs(60))
        {
            return Err("fsync interval must be between 1ms and 60s (or \"every-batch\")".into());
        }
        if self.retention_check_interval < Duration::from_millis(10) {
            return Err("retention_check_interval must be at least 10ms".into());
        }
        if self.segment_age < Duration::from_secs(1) {
            return Err("segment_age must be at least 1s".into());
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
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "every-batch" | "batch" => Ok(Self::EveryBatch),
            other => humantime::parse_duration(other).map(Self::Interval).map_err(|_| {
                format!(
                    "'{s}' is not an fsync policy: accepted \"every-batch\" or an interval such as \"100ms\""
                )
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

/// A size in bytes, written in TOML as an integer or a string such as `"64MiB"` or `"1.5GB"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

impl std::str::FromStr for ByteSize {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "k" | "kb" => 1_000,
            "kib" => 1 << 10,
            "m" | "mb" => 1_000_000,
            "mib" => 1 << 20,
            "g" | "gb" => 1_000_000_000,
            "gib" => 1 << 30,
            "t" | "tb" => 1_000_000_000_000,
            "tib" => 1 << 40,
            _ => return Err(format!("'{s}' is not a size: use bytes or a unit such as \"64MiB\", \"10GB\"")),
        };
        let n: f64 = num.parse().map_err(|_| format!("'{s}' is not a size: no number"))?;
        let bytes = n * factor as f64;
        if !(0.0..1.8e19).contains(&bytes) {
            return Err(format!("'{s}' is out of range"));
        }
        Ok(Self(bytes as u64))
    }
}

/// A size as TOML gives it: an integer or a string.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawSize {
    Int(i64),
    Text(String),
}

impl RawSize {
    fn into_size<E: de::Error>(self) -> Result<ByteSize, E> {
        match self {
            Self::Int(n) if n >= 0 => Ok(ByteSize(n as u64)),
            Self::Int(n) => Err(E::custom(format!("size {n} is negative"))),
            Self::Text(s) => s.parse().map_err(E::custom),
        }
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        RawSize::deserialize(d)
            .map_err(|_| {
                de::Error::custom("expected a size: bytes as an integer, or a string such as \"64MiB\"")
            })?
            .into_size()
    }
}

/// A bound that can be switched off: `"forever"` / `"unlimited"` in TOML, or a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit<T> {
    Unlimited,
    Limited(T),
}

impl<T: Copy> Limit<T> {
    /// The bound, if there is one.
    pub fn get(&self) -> Option<T> {
        match self {
            Self::Unlimited => None,
            Self::Limited(v) => Some(*v),
        }
    }
}

impl<'de> Deserialize<'de> for Limit<Duration> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.trim() {
            "forever" | "unlimited" => Ok(Self::Unlimited),
            t => humantime::parse_duration(t).map(Self::Limited).map_err(|_| {
                de::Error::custom(format!(
                    "'{s}' is not a duration: accepted \"forever\" or a duration such as \"7days\", \"12h\""
                ))
            }),
        }
    }
}

impl<'de> Deserialize<'de> for Limit<ByteSize> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match RawSize::deserialize(d)
            .map_err(|_| de::Error::custom("expected \"unlimited\" or a size such as \"10GiB\""))?
        {
            RawSize::Text(s) if matches!(s.trim(), "unlimited" | "forever") => Ok(Self::Unlimited),
            raw => raw.into_size().map(Self::Limited),
        }
    }
}

/// Deserializes a duration written like `"100ms"`, `"7days"` (humantime syntax).
pub fn human_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    humantime::parse_duration(s.trim()).map_err(|_| {
        de::Error::custom(format!("'{s}' is not a duration: use a form such as \"500ms\", \"30s\", \"1h\""))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_units() {
        assert_eq!("64MiB".parse::<ByteSize>().unwrap(), ByteSize(64 << 20));
        assert_eq!("1.5 GB".parse::<ByteSize>().unwrap(), ByteSize(1_500_000_000));
        assert_eq!("4096".parse::<ByteSize>().unwrap(), ByteSize(4096));
        assert!("lots".parse::<ByteSize>().is_err());
        assert!("12 parsecs".parse::<ByteSize>().is_err());
    }

    #[test]
    fn fsync_policies_parse() {
        assert_eq!("every-batch".parse::<FsyncPolicy>().unwrap(), FsyncPolicy::EveryBatch);
        assert_eq!(
            "100ms".parse::<FsyncPolicy>().unwrap(),
            FsyncPolicy::Interval(Duration::from_millis(100))
        );
        let err = "sometimes".parse::<FsyncPolicy>().unwrap_err();
        assert!(err.contains("every-batch"), "{err}");
    }

    #[test]
    fn defaults_are_valid_and_ranges_are_checked() {
        EmbeddedLogConfig::default().validate().unwrap();
        let bad = EmbeddedLogConfig { default_partitions: 0, ..Default::default() };
        assert!(bad.validate().unwrap_err().contains("default_partitions"));
        let bad = EmbeddedLogConfig { segment_bytes: ByteSize(10), ..Default::default() };
        assert!(bad.validate().unwrap_err().contains("segment_bytes"));
    }
}

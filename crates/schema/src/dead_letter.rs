//! Dead letters: input that could not be used, kept with its source, position, reason and raw
//! bytes (truncated), so that nothing bad is ever silently dropped.

use base64::Engine;
use serde::{Deserialize, Serialize};

/// The topic sources publish dead letters to; a sink copies them into the serving store.
pub const DEAD_LETTER_TOPIC: &str = "dead_letters";

/// Raw bytes kept per dead letter.
pub const MAX_RAW_BYTES: usize = 1024;

/// One piece of bad input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// Where it came from, e.g. `dir:inbox/mobile-1.csv` or `processor:kmeans`.
    pub source: String,
    /// Where in the source, e.g. `line 17` or `mobile_data/3@1042`.
    pub position: String,
    /// Why it was rejected.
    pub reason: String,
    /// The first [`MAX_RAW_BYTES`] bytes of the input, base64 in JSON.
    #[serde(with = "base64_bytes")]
    pub raw: Vec<u8>,
    /// Size of the whole input in bytes (the raw bytes may be cut).
    pub raw_len: u64,
    /// When it was rejected, in milliseconds since the Unix epoch.
    pub time_ms: i64,
}

impl DeadLetter {
    /// A dead letter keeping at most [`MAX_RAW_BYTES`] of `raw`.
    pub fn new(
        source: impl Into<String>,
        position: impl Into<String>,
        reason: impl Into<String>,
        raw: &[u8],
        time_ms: i64,
    ) -> Self {
        Self {
            source: source.into(),
            position: position.into(),
            reason: reason.into(),
            raw: raw[..raw.len().min(MAX_RAW_BYTES)].to_vec(),
            raw_len: raw.len() as u64,
            time_ms,
        }
    }

    /// JSON encoding for the log.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("dead letters serialise")
    }

    /// Decodes a dead letter from the log.
    pub fn from_json(bytes: &[u8]) -> Result<Self, crate::Invalid> {
        serde_json::from_slice(bytes).map_err(|e| format!("not a dead letter: {e}").into())
    }
}

mod base64_bytes {
    use super::*;
    pub fn serialize<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(v))
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD.decode(s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_bytes_are_truncated_and_round_trip_through_json() {
        let raw = vec![0xffu8; 5000];
        let d = DeadLetter::new("dir:x.csv", "line 3", "not UTF-8", &raw, 42);
        assert_eq!(d.raw.len(), MAX_RAW_BYTES);
        assert_eq!(d.raw_len, 5000);
        assert_eq!(DeadLetter::from_json(&d.to_json()).unwrap(), d);
        assert!(DeadLetter::from_json(b"{}").is_err());
    }
}

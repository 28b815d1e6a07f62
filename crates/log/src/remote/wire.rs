//! The log protocol's messages (`/api/v1/log/…`), shared by the client and the server.
//!
//! | request | body | answer |
//! |---|---|---|
//! | `GET /topics` | | `[TopicDescription]` |
//! | `POST /topics` | [`CreateTopicRequest`] | partitions (`u32`) |
//! | `POST /topics/{topic}/records` | [`AppendRequest`] | [`AppendResponse`] |
//! | `GET /topics/{topic}/partitions/{p}?offset=&max_records=&max_bytes=&wait_ms=` | | [`PartitionResponse`] |
//! | `GET /groups` | | [`GroupsResponse`] |
//! | `POST /groups/{group}/offsets` | [`CommitRequest`] | `{}` |

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::record::{ConsumedRecord, Header, PartitionOffsets, Record, TopicPartition};
use crate::{LogError, Result};

/// Creates a topic with `partitions`, or (`None`) makes sure it exists with the default count;
/// answers its partition count.
#[derive(Debug, Serialize, Deserialize)]
pub struct CreateTopicRequest {
    pub topic: String,
    #[serde(default)]
    pub partitions: Option<u32>,
}

/// Records to append: to the partitions their keys choose, or all to `partition`.
#[derive(Debug, Serialize, Deserialize)]
pub struct AppendRequest {
    #[serde(default)]
    pub partition: Option<u32>,
    pub records: Vec<WireRecord>,
}

/// Where each appended record landed: (partition, offset), in request order.
#[derive(Debug, Serialize, Deserialize)]
pub struct AppendResponse {
    pub positions: Vec<(u32, u64)>,
}

/// A partition's offsets and, when an offset was asked for, its records from there.
#[derive(Debug, Serialize, Deserialize)]
pub struct PartitionResponse {
    pub offsets: PartitionOffsets,
    #[serde(default)]
    pub records: Vec<(u64, WireRecord)>,
}

impl PartitionResponse {
    /// The records as read from `topic`/`partition`.
    pub fn records(self, topic: &str, partition: u32) -> Result<Vec<ConsumedRecord>> {
        let topic: Arc<str> = Arc::from(topic);
        self.records
            .into_iter()
            .map(|(offset, r)| {
                Ok(ConsumedRecord { topic: topic.clone(), partition, offset, record: r.into_record()? })
            })
            .collect()
    }
}

/// Every group with its committed offsets.
#[derive(Debug, Serialize, Deserialize)]
pub struct GroupsResponse {
    pub groups: Vec<WireGroup>,
}

/// One group's committed offsets.
#[derive(Debug, Serialize, Deserialize)]
pub struct WireGroup {
    pub group: String,
    pub offsets: Vec<(TopicPartition, u64)>,
}

/// Offsets to commit for a group.
#[derive(Debug, Serialize, Deserialize)]
pub struct CommitRequest {
    pub offsets: Vec<(TopicPartition, u64)>,
}

/// A record on the wire: key, value and header values in base64.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireRecord {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub value: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<(String, String)>,
    pub timestamp: i64,
}

impl WireRecord {
    pub fn from_record(r: &Record) -> Self {
        Self {
            key: r.key.as_ref().map(|k| STANDARD.encode(k)),
            value: STANDARD.encode(&r.value),
            headers: r.headers.iter().map(|h| (h.name.to_string(), STANDARD.encode(&h.value))).collect(),
            timestamp: r.timestamp,
        }
    }

    /// The record; an error names the field that is not base64.
    pub fn into_record(self) -> Result<Record> {
        let bytes = |text: &str, what: &str| {
            STANDARD
                .decode(text)
                .map(Bytes::from)
                .map_err(|e| LogError::InvalidArgument(format!("record {what} is not base64: {e}")))
        };
        Ok(Record {
            key: self.key.as_deref().map(|k| bytes(k, "key")).transpose()?,
            value: bytes(&self.value, "value")?,
            headers: self
                .headers
                .iter()
                .map(|(n, v)| Ok(Header { name: Arc::from(n.as_str()), value: bytes(v, "header")? }))
                .collect::<Result<_>>()?,
            timestamp: self.timestamp,
        })
    }
}

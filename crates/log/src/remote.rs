//! The event log of a running `tributary up`, over its HTTP API: what the console tools and
//! `tributary import` use when another process owns the data directory (the embedded log
//! belongs to one process: its files, its lock).
//!
//! The protocol ([`wire`]) is defined here, beside the client ([`RemoteLog`]); the API crate
//! serves it under `/api/v1/log/…`, behind the write token, by calling the [`EventLog`] it
//! runs on. Records travel as JSON with keys, values and header values in base64.
//!
//! Consumer groups are kept simple: a [`RemoteLog::subscribe`] member is assigned every
//! partition of its topics (a console tool is one member), starts at the group's committed
//! offsets, and commits them back through the server.

mod consumer;
pub mod wire;

use std::time::Duration;

use async_trait::async_trait;
use reqwest::StatusCode;

use crate::event_log::{Consumer, EventLog, GroupOffsets, PartitionReader, ReadLimits};
use crate::record::{
    ConsumedRecord, OffsetReset, PartitionOffsets, Record, RecordPosition, TopicDescription, TopicPartition,
};
use crate::{LogError, Result};
use wire::{
    AppendRequest, AppendResponse, CommitRequest, CreateTopicRequest, GroupsResponse, PartitionResponse,
    WireRecord,
};

/// About the most bytes of records one append request carries.
const APPEND_REQUEST_BYTES: usize = 16 << 20;

/// The event log of a running `tributary up`, reached at `base` (`http://127.0.0.1:8080`) with
/// its write token.
#[derive(Clone)]
pub struct RemoteLog {
    base: String,
    token: String,
    client: reqwest::Client,
}

impl RemoteLog {
    /// A client of the server at `base`; nothing is sent until the first call.
    pub fn new(base: &str, token: &str) -> Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| LogError::Remote(format!("cannot make an HTTP client: {e}")))?;
        Ok(Self { base: base.trim_end_matches('/').to_string(), token: token.to_string(), client })
    }

    /// The server's address.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/v1/log{path}", self.base)
    }

    /// Sends a request; an error status becomes a [`LogError`]: 404 on a topic path is
    /// `UnknownTopic`, anything else carries the server's message.
    async fn send<T: serde::de::DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
        topic: Option<&str>,
    ) -> Result<T> {
        let response = request
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| LogError::Remote(format!("the running `tributary up` at {}: {e}", self.base)))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| LogError::Remote(format!("the running `tributary up` at {}: {e}", self.base)))?;
        if status.is_success() {
            return serde_json::from_slice(&body).map_err(|e| {
                LogError::Remote(format!("{}: an answer that is not the log protocol: {e}", self.base))
            });
        }
        let detail = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("detail").and_then(|d| d.as_str()).map(str::to_string))
            .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
        Err(match (status, topic) {
            (StatusCode::NOT_FOUND, Some(t))
                if detail.contains("does not exist") && !detail.contains("partition") =>
            {
                LogError::UnknownTopic(t.to_string())
            }
            (StatusCode::UNAUTHORIZED, _) => LogError::Remote(format!(
                "the running `tributary up` at {} refused the token ({detail}); set api.token or use the data directory's api-token",
                self.base
            )),
            _ => LogError::Remote(detail),
        })
    }

    async fn partition(
        &self,
        topic: &str,
        partition: u32,
        query: &[(&str, String)],
    ) -> Result<PartitionResponse> {
        let url = self.url(&format!("/topics/{}/partitions/{partition}", encode(topic)));
        self.send(self.client.get(url).query(query), Some(topic)).await
    }

    /// Appends in requests of at most about [`APPEND_REQUEST_BYTES`] (the server takes 64 MiB):
    /// a large batch is several appends, its positions in order.
    async fn append_request(
        &self,
        topic: &str,
        partition: Option<u32>,
        records: Vec<Record>,
    ) -> Result<AppendResponse> {
        let url = self.url(&format!("/topics/{}/records", encode(topic)));
        let mut positions = Vec::with_capacity(records.len());
        let mut chunk: Vec<WireRecord> = Vec::new();
        let mut chunk_bytes = 0usize;
        let wire_size = |r: &Record| {
            let raw = r.value.len()
                + r.key.as_ref().map_or(0, |k| k.len())
                + r.headers.iter().map(|h| h.name.len() + h.value.len()).sum::<usize>();
            raw * 4 / 3 + 64
        };
        let mut records = records.into_iter().peekable();
        while let Some(r) = records.next() {
            chunk_bytes += wire_size(&r);
            chunk.push(WireRecord::from_record(&r));
            let last = match records.peek() {
                None => true,
                Some(next) => chunk_bytes + wire_size(next) > APPEND_REQUEST_BYTES,
            };
            if last {
                let body = AppendRequest { partition, records: std::mem::take(&mut chunk) };
                let request =
                    self.client.post(&url).header(reqwest::header::CONTENT_TYPE, "application/json");
                let answer: AppendResponse = self.send(request.body(json_body(&body)), Some(topic)).await?;
                positions.extend(answer.positions);
                chunk_bytes = 0;
            }
        }
        Ok(AppendResponse { positions })
    }
}

/// A request body as JSON (the wire types always serialise).
fn json_body<T: serde::Serialize>(body: &T) -> Vec<u8> {
    serde_json::to_vec(body).expect("wire types serialise")
}

/// A topic name as one path segment (names are `[A-Za-z0-9._-]`, but a name the server refuses
/// must still reach it intact).
fn encode(topic: &str) -> String {
    topic
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"._-".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[async_trait]
impl EventLog for RemoteLog {
    async fn create_topic(&self, topic: &str, partitions: u32) -> Result<()> {
        let body = CreateTopicRequest { topic: topic.to_string(), partitions: Some(partitions) };
        let _: u32 = self
            .send(
                self.client
                    .post(self.url("/topics"))
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(json_body(&body)),
                None,
            )
            .await?;
        Ok(())
    }

    async fn describe_topics(&self) -> Result<Vec<TopicDescription>> {
        self.send(self.client.get(self.url("/topics")), None).await
    }

    async fn partition_count(&self, topic: &str) -> Result<u32> {
        self.describe_topics()
            .await?
            .into_iter()
            .find(|t| t.name == topic)
            .map(|t| t.partitions.len() as u32)
            .ok_or_else(|| LogError::UnknownTopic(topic.to_string()))
    }

    async fn ensure_topic(&self, topic: &str) -> Result<u32> {
        let body = CreateTopicRequest { topic: topic.to_string(), partitions: None };
        self.send(
            self.client
                .post(self.url("/topics"))
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(json_body(&body)),
            None,
        )
        .await
    }

    async fn append(&self, topic: &str, records: Vec<Record>) -> Result<Vec<RecordPosition>> {
        let response = self.append_request(topic, None, records).await?;
        Ok(response
            .positions
            .into_iter()
            .map(|(partition, offset)| RecordPosition { partition, offset })
            .collect())
    }

    async fn append_to_partition(&self, topic: &str, partition: u32, records: Vec<Record>) -> Result<u64> {
        let response = self.append_request(topic, Some(partition), records).await?;
        Ok(response.positions.first().map_or(0, |p| p.1))
    }

    async fn read(
        &self,
        topic: &str,
        partition: u32,
        offset: u64,
        limits: ReadLimits,
    ) -> Result<Vec<ConsumedRecord>> {
        let query = [
            ("offset", offset.to_string()),
            ("max_records", limits.max_records.to_string()),
            ("max_bytes", limits.max_bytes.to_string()),
        ];
        self.partition(topic, partition, &query).await?.records(topic, partition)
    }

    async fn wait_for(&self, topic: &str, partition: u32, offset: u64, timeout: Duration) -> Result<bool> {
        let query = [
            ("offset", offset.to_string()),
            ("max_records", "1".to_string()),
            ("wait_ms", timeout.as_millis().min(30_000).to_string()),
        ];
        Ok(!self.partition(topic, partition, &query).await?.records.is_empty())
    }

    async fn offsets(&self, topic: &str, partition: u32) -> Result<PartitionOffsets> {
        Ok(self.partition(topic, partition, &[]).await?.offsets)
    }

    async fn commit(&self, group: &str, offsets: &[(TopicPartition, u64)]) -> Result<()> {
        let body = CommitRequest { offsets: offsets.to_vec() };
        let url = self.url(&format!("/groups/{}/offsets", encode(group)));
        let _: serde_json::Value = self
            .send(
                self.client
                    .post(url)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(json_body(&body)),
                None,
            )
            .await?;
        Ok(())
    }

    async fn committed(&self, group: &str) -> Result<Vec<(TopicPartition, u64)>> {
        Ok(self
            .group_offsets()
            .await?
            .into_iter()
            .find(|g| g.group == group)
            .map(|g| g.offsets)
            .unwrap_or_default())
    }

    async fn groups(&self) -> Result<Vec<String>> {
        Ok(self.group_offsets().await?.into_iter().map(|g| g.group).collect())
    }

    async fn group_offsets(&self) -> Result<Vec<GroupOffsets>> {
        let response: GroupsResponse = self.send(self.client.get(self.url("/groups")), None).await?;
        Ok(response.groups.into_iter().map(|g| GroupOffsets { group: g.group, offsets: g.offsets }).collect())
    }

    async fn partition_reader(
        &self,
        topic: &str,
        partition: u32,
        offset: u64,
    ) -> Result<Box<dyn PartitionReader>> {
        self.partition_count(topic).await?;
        Ok(Box::new(consumer::RemoteReader::new(self.clone(), topic, partition, offset)))
    }

    async fn subscribe(&self, group: &str, topics: &[&str], reset: OffsetReset) -> Result<Box<dyn Consumer>> {
        Ok(Box::new(consumer::RemoteConsumer::join(self.clone(), group, topics, reset).await?))
    }
}

#[cfg(test)]
mod tests;

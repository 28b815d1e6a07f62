//! The event log over HTTP (`/api/v1/log/…`, behind the token): what `tributary log …` and
//! `tributary import` use beside a running `up`, which owns the embedded log. The protocol is
//! the log crate's (`tributary_log::remote::wire`); errors carry the log's own messages, so the
//! console tools print what they would print on the log itself.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use tributary_log::remote::wire::{
    AppendRequest, AppendResponse, CommitRequest, CreateTopicRequest, GroupsResponse, PartitionResponse,
    WireGroup, WireRecord,
};
use tributary_log::{EventLog, LogError, ReadLimits};

use crate::error::ApiError;
use crate::json::json;
use crate::state::AppState;

/// The most records one read returns.
const MAX_READ_RECORDS: usize = 10_000;
/// About the most bytes one read returns.
const MAX_READ_BYTES: usize = 8 << 20;
/// The longest a read is held open waiting for a record.
const MAX_WAIT: Duration = Duration::from_secs(30);

fn log(state: &AppState) -> Result<Arc<dyn EventLog>, ApiError> {
    state.log.clone().ok_or_else(|| ApiError::not_found("this server has no event log"))
}

/// A log error with its own message and a status that says what kind it is.
fn refused(e: LogError) -> ApiError {
    let status = match &e {
        LogError::UnknownTopic(_) | LogError::UnknownPartition { .. } => StatusCode::NOT_FOUND,
        LogError::TopicExists { .. } => StatusCode::CONFLICT,
        LogError::InvalidTopicName { .. }
        | LogError::InvalidArgument(_)
        | LogError::OffsetOutOfRange { .. }
        | LogError::RecordTooLarge { .. } => StatusCode::BAD_REQUEST,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    };
    ApiError { status, detail: e.to_string() }
}

/// Every topic with its partitions' offsets and sizes.
pub async fn topics(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    json(&log(&state)?.describe_topics().await.map_err(refused)?)
}

/// Creates a topic (or, without a partition count, makes sure it exists); answers its
/// partition count.
pub async fn create_topic(
    State(state): State<Arc<AppState>>,
    Json(request): Json<CreateTopicRequest>,
) -> Result<Response, ApiError> {
    let log = log(&state)?;
    let partitions = match request.partitions {
        Some(n) => {
            log.create_topic(&request.topic, n).await.map_err(refused)?;
            n
        }
        None => log.ensure_topic(&request.topic).await.map_err(refused)?,
    };
    json(&partitions)
}

/// Appends records to a topic.
pub async fn append(
    State(state): State<Arc<AppState>>,
    Path(topic): Path<String>,
    Json(request): Json<AppendRequest>,
) -> Result<Response, ApiError> {
    let log = log(&state)?;
    let records = request
        .records
        .into_iter()
        .map(WireRecord::into_record)
        .collect::<Result<Vec<_>, _>>()
        .map_err(refused)?;
    let positions = match request.partition {
        None => log
            .append(&topic, records)
            .await
            .map_err(refused)?
            .into_iter()
            .map(|p| (p.partition, p.offset))
            .collect(),
        Some(partition) => {
            let n = records.len() as u64;
            let first = log.append_to_partition(&topic, partition, records).await.map_err(refused)?;
            (first..first + n).map(|o| (partition, o)).collect()
        }
    };
    json(&AppendResponse { positions })
}

/// How a partition is read.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadQuery {
    offset: Option<u64>,
    max_records: Option<usize>,
    max_bytes: Option<usize>,
    wait_ms: Option<u64>,
}

/// A partition's offsets and, from `offset` on, its records (held open up to `wait_ms` for the
/// first).
pub async fn partition(
    State(state): State<Arc<AppState>>,
    Path((topic, partition)): Path<(String, u32)>,
    Query(q): Query<ReadQuery>,
) -> Result<Response, ApiError> {
    let log = log(&state)?;
    let mut records = Vec::new();
    if let Some(offset) = q.offset {
        let wait = Duration::from_millis(q.wait_ms.unwrap_or(0)).min(MAX_WAIT);
        if !wait.is_zero() {
            log.wait_for(&topic, partition, offset, wait).await.map_err(refused)?;
        }
        let limits = ReadLimits {
            max_records: q.max_records.unwrap_or(MAX_READ_RECORDS).clamp(1, MAX_READ_RECORDS),
            max_bytes: q.max_bytes.unwrap_or(MAX_READ_BYTES).clamp(1, MAX_READ_BYTES),
        };
        records = log
            .read(&topic, partition, offset, limits)
            .await
            .map_err(refused)?
            .into_iter()
            .map(|r| (r.offset, WireRecord::from_record(&r.record)))
            .collect();
    }
    let offsets = log.offsets(&topic, partition).await.map_err(refused)?;
    json(&PartitionResponse { offsets, records })
}

/// Every consumer group with its committed offsets.
pub async fn groups(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let groups = log(&state)?.group_offsets().await.map_err(refused)?;
    json(&GroupsResponse {
        groups: groups.into_iter().map(|g| WireGroup { group: g.group, offsets: g.offsets }).collect(),
    })
}

/// Commits a group's next offsets.
pub async fn commit(
    State(state): State<Arc<AppState>>,
    Path(group): Path<String>,
    Json(request): Json<CommitRequest>,
) -> Result<Response, ApiError> {
    log(&state)?.commit(&group, &request.offsets).await.map_err(refused)?;
    json(&serde_json::json!({}))
}

//! Ingest over HTTP: NDJSON records appended to a topic of the event log, behind the token.
//! Records of `mobile_data` are validated as mobile events; other topics take any JSON value
//! per line. A line that fails goes to the dead letters with its position and reason; the rest
//! of the body still goes through.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use bytes::Bytes;
use serde::Serialize;
use tributary_log::Record;
use tributary_schema::dead_letter::{DEAD_LETTER_TOPIC, DeadLetter};
use tributary_schema::mobile::MobileEvent;
use tributary_store::SourceRun;

use crate::error::ApiError;
use crate::json::json;
use crate::state::AppState;

/// What an ingest request did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IngestReport {
    pub topic: String,
    /// Records appended to the topic.
    pub accepted: u64,
    /// Lines sent to the dead letters instead (with their reasons).
    pub dead_letters: u64,
}

/// Appends the NDJSON body's records to `topic` (which must exist and not be internal).
/// Needs `Authorization: Bearer <token>`; bodies are limited to 8 MiB.
#[utoipa::path(post, path = "/api/v1/topics/{topic}/records", tag = "ingest",
    params(("topic" = String, Path, description = "an existing topic, such as mobile_data")),
    request_body(content = String, content_type = "application/x-ndjson", description = "one JSON record per line"),
    responses(
        (status = 200, body = IngestReport),
        (status = 400, body = crate::Problem, content_type = "application/problem+json"),
        (status = 401, body = crate::Problem, content_type = "application/problem+json"),
        (status = 403, description = "an internal topic (its name starts with _)", body = crate::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::Problem, content_type = "application/problem+json"),
        (status = 413, description = "the body is over 8 MiB"),
    ),
    security(("token" = [])),
)]
pub async fn records(
    State(state): State<Arc<AppState>>,
    Path(topic): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let log = state
        .log
        .clone()
        .ok_or_else(|| ApiError::not_found("this server has no event log to ingest into"))?;
    // A name the log would refuse never reaches it (nor the file system under it).
    if let Err(e) = tributary_log::validate_topic_name(&topic) {
        let reason = match e {
            tributary_log::LogError::InvalidTopicName { reason, .. } => reason,
            _ => "it is not a topic name",
        };
        return Err(ApiError::bad_request(format!("not a topic name: {reason}")));
    }
    if topic.starts_with('_') || topic == DEAD_LETTER_TOPIC {
        return Err(ApiError {
            status: axum::http::StatusCode::FORBIDDEN,
            detail: format!("topic {topic} is internal"),
        });
    }
    // Only an existing topic: a look-up, not a description of every topic.
    match log.partition_count(&topic).await {
        Ok(_) => {}
        Err(tributary_log::LogError::UnknownTopic(_)) => {
            return Err(ApiError::not_found(format!(
                "no topic {topic:?} (topics are created by their sources)"
            )));
        }
        Err(e) => {
            tracing::warn!(error = %e, topic, "ingest cannot reach the event log");
            return Err(ApiError::unavailable("the event log is not answering; try again shortly"));
        }
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("the body holds no records: send one JSON record per line"));
    }
    let source = format!("http:{topic}");
    let now = chrono::Utc::now().timestamp_millis();
    let mut records = Vec::new();
    let mut dead = Vec::new();
    for (i, line) in body.split(|b| *b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let position = format!("line {}", i + 1);
        let record = if topic == state.config.mobile_topic {
            MobileEvent::encode_json_line(line, state.config.mobile_encoding).map(|e| {
                let header = e.encoding.header();
                let r = Record::new(Bytes::from(e.value)).with_key(e.device_id);
                match header {
                    Some((name, value)) => r.with_header(name, Bytes::from_static(value)),
                    None => r,
                }
            })
        } else {
            serde_json::from_slice::<serde::de::IgnoredAny>(line)
                .map(|_| Record::new(Bytes::copy_from_slice(line)))
                .map_err(|e| tributary_schema::Invalid::from(format!("not JSON: {e}")))
        };
        match record {
            Ok(r) => records.push(r),
            Err(reason) => dead.push(Record::new(Bytes::from(
                DeadLetter::new(&source, position, reason, line, now).to_json(),
            ))),
        }
    }
    let (accepted, dead_letters) = (records.len() as u64, dead.len() as u64);
    let appended = async {
        if !records.is_empty() {
            log.append(&topic, records).await?;
        }
        if !dead.is_empty() {
            log.append(DEAD_LETTER_TOPIC, dead).await?;
        }
        Ok::<_, tributary_log::LogError>(())
    }
    .await;
    let mut run = SourceRun {
        source: source.clone(),
        kind: "http".into(),
        time_ms: now,
        rows: accepted,
        errors: dead_letters,
        failure: None,
    };
    if let Err(e) = appended {
        run.failure = Some(format!("the event log: {e}"));
        state.source_runs.record(run);
        return Err(e.into());
    }
    state.source_runs.record(run);
    metrics::counter!("tributary_source_records_total", "source" => source.clone(), "result" => "accepted")
        .increment(accepted);
    metrics::counter!("tributary_source_records_total", "source" => source, "result" => "dead_letter")
        .increment(dead_letters);
    json(&IngestReport { topic, accepted, dead_letters })
}

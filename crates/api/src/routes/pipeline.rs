//! The pipeline's state: published views and dead letters.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::response::Response;
use base64::Engine;
use serde::Serialize;

use crate::error::ApiError;
use crate::json::json;
use crate::params::{MAX_INTEGER, Params};
use crate::state::AppState;

/// The current version of a published view.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PublishedView {
    pub view: String,
    pub version: u64,
    pub published_ms: i64,
    pub rows: u64,
    /// The lake version of each dataset it was computed from.
    pub dataset_versions: BTreeMap<String, u64>,
    pub columns: Vec<String>,
}

/// The published views, each at its current version.
#[utoipa::path(get, path = "/api/v1/views", tag = "pipeline", responses((status = 200, body = [PublishedView])))]
pub async fn views(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    Params::parse(query.as_deref(), &[])?;
    let views: Vec<PublishedView> = state
        .store
        .current_views()
        .await?
        .into_iter()
        .map(|v| PublishedView {
            view: v.view,
            version: v.version,
            published_ms: v.published_ms,
            rows: v.rows,
            dataset_versions: v.dataset_versions,
            columns: v.columns.into_iter().map(|c| c.name).collect(),
        })
        .collect();
    json(&views)
}

/// A page of dead letters, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeadLetterPage {
    pub dead_letters: Vec<DeadLetter>,
    /// Pass as `before` for the next (older) page; absent on the last page.
    pub next_before: Option<i64>,
    /// All dead letters in the store.
    pub total: u64,
}

/// A record that could not be processed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeadLetter {
    pub id: i64,
    pub source: String,
    pub position: String,
    pub reason: String,
    /// The raw bytes (truncated), base64.
    pub raw_base64: String,
    /// The raw bytes as text where they are UTF-8.
    pub raw_text: Option<String>,
    /// The length of the whole original record.
    pub raw_len: u64,
    pub time_ms: i64,
}

/// Dead letters, newest first, paged, optionally of one source.
#[utoipa::path(get, path = "/api/v1/dead-letters", tag = "pipeline",
    params(
        ("source" = Option<String>, Query, max_length = 200, pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$", description = "only this source"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 500, description = "at most this many (default 50)"),
        ("before" = Option<i64>, Query, minimum = 1, maximum = 9007199254740991.0, description = "only ids below this (the previous page's next_before)"),
    ),
    responses((status = 200, body = DeadLetterPage), (status = 400, body = crate::Problem, content_type = "application/problem+json")),
)]
pub async fn dead_letters(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let p = Params::parse(query.as_deref(), &["source", "limit", "before"])?;
    let limit = p.int("limit", 1, 500, Some(50))?.unwrap_or(50) as u32;
    let before = p.int("before", 1, MAX_INTEGER, None)?;
    let letters = state.store.dead_letters(p.text("source"), limit, before).await?;
    let next_before = (letters.len() == limit as usize).then(|| letters.last().map(|d| d.id)).flatten();
    let total = state.store.dead_letter_count().await?;
    let dead_letters = letters
        .into_iter()
        .map(|d| DeadLetter {
            id: d.id,
            raw_base64: base64::engine::general_purpose::STANDARD.encode(&d.letter.raw),
            raw_text: String::from_utf8(d.letter.raw).ok(),
            source: d.letter.source,
            position: d.letter.position,
            reason: d.letter.reason,
            raw_len: d.letter.raw_len,
            time_ms: d.letter.time_ms,
        })
        .collect();
    json(&DeadLetterPage { dead_letters, next_before, total })
}

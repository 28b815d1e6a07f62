//! The pipeline's state: published views and dead letters.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::response::Response;
use base64::Engine;
use serde::Serialize;

use crate::error::ApiError;
use crate::json::json;
use crate::params::Params;
use crate::query::{self, FreeText, Id, Int};
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

/// The parameters of `/dead-letters`.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeadLettersQuery {
    /// only this source
    #[param(inline)]
    source: Option<FreeText>,
    /// at most this many (default 50)
    #[param(inline)]
    limit: Option<Int<1, 500>>,
    /// only ids below this (the previous page's next_before)
    #[param(inline)]
    before: Option<Id>,
}

/// Dead letters, newest first, paged, optionally of one source.
#[utoipa::path(get, path = "/api/v1/dead-letters", tag = "pipeline",
    params(DeadLettersQuery),
    responses((status = 200, body = DeadLetterPage), (status = 400, body = crate::Problem, content_type = "application/problem+json")),
)]
pub async fn dead_letters(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let (q, _) = query::parse::<DeadLettersQuery>(query.as_deref())?;
    let limit = q.limit.map_or(50, |l| l.0) as u32;
    let source = q.source.as_ref().and_then(FreeText::given);
    let letters = state.store.dead_letters(source, limit, q.before.map(|b| b.0)).await?;
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

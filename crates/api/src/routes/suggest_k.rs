//! A suggested number of clusters over the live stream's newest events: the same computation as
//! `tributary kmeans --suggest-k` (`processors::kmeans::suggest`), in the current model's
//! projection so that its sums of squares are in the model's km².

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::response::Response;
use serde::Serialize;
use tributary_cache::CacheKey;
use tributary_processors::kmeans::suggest::{Candidate, suggest_k};
use tributary_schema::projection::Projection;

use super::mobile::newest_events;
use crate::error::ApiError;
use crate::json::cached_json;
use crate::query::{self, Int};
use crate::state::AppState;

/// Silhouettes are computed on at most this many of the events (O(n²) per k).
const SILHOUETTE_POINTS: usize = 1000;

/// One suggestion is computed at a time: the largest (20,000 events, k = 2..30) takes about a
/// second of CPU, and the endpoint is public, so concurrent requests with different parameters
/// queue here instead of taking every core from the pipeline.
static ONE_AT_A_TIME: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

/// Which k the newest events suggest.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SuggestedK {
    /// The events clustered: the newest of the mobile topic.
    pub events: usize,
    /// Of them, the ones the silhouettes were computed on (an even stride).
    pub silhouette_events: usize,
    /// The k of the current model, if there is one.
    pub current_k: Option<usize>,
    /// The model version the events were read at (the answer is cached per version).
    pub model_version: Option<u64>,
    /// The suggested k; NULL if no candidate has a silhouette.
    pub suggested_k: Option<usize>,
    /// How the suggestion was chosen.
    pub rule: String,
    #[schema(value_type = Vec<Object>)]
    pub candidates: Vec<Candidate>,
}

/// The parameters of `/mobile/suggest-k`.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SuggestQuery {
    /// smallest k (default 2)
    #[param(inline)]
    from: Option<Int<2, 30>>,
    /// largest k (default 12; below from: no candidates)
    #[param(inline)]
    to: Option<Int<2, 30>>,
    /// newest events clustered (default 5000)
    #[param(inline)]
    events: Option<Int<100, 20_000>>,
}

/// Clusters the newest events of the stream for each k from `from` to `to` (batch k-means:
/// k-means++ seeds, then Lloyd's iterations) and suggests the smallest k whose silhouette is
/// within 0.01 of the highest.
/// Each candidate has its within-cluster sum of squares (km², in the current model's
/// projection) and its silhouette.
#[utoipa::path(get, path = "/api/v1/mobile/suggest-k", tag = "mobile",
    params(SuggestQuery),
    responses(
        (status = 200, body = SuggestedK),
        (status = 400, body = crate::Problem, content_type = "application/problem+json"),
        (status = 404, description = "no event log or no events yet", body = crate::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn suggest(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let (q, p) = query::parse::<SuggestQuery>(query.as_deref())?;
    let from = q.from.map_or(2, |k| k.0) as usize;
    // `to` below `from` is an empty range: no candidates (as a date range before its start).
    let to = q.to.map_or(12, |k| k.0) as usize;
    let limit = q.events.map_or(5000, |n| n.0) as usize;
    let model_version = state.versions.now().model;
    let key = CacheKey::new("mobile/suggest-k")
        .param("query", p.canonical())
        .version("model", model_version.unwrap_or(0));
    cached_json(&state, key, || async {
        let events = newest_events(&state, limit).await?;
        if events.is_empty() {
            return Err(ApiError::not_found("no mobile events in the log yet"));
        }
        let model = state.store.latest_kmeans(&state.config.model).await?;
        let current_k = model.as_ref().map(|m| m.centres.len());
        let positions: Vec<[f64; 2]> = events.iter().map(|e| [e.lat, e.lon]).collect();
        let projection = match model.as_ref().map(|m| serde_json::from_str::<Projection>(&m.projection)) {
            Some(Ok(projection)) => projection,
            _ => Projection::centred_on(positions.iter().copied())
                .ok_or_else(|| ApiError::not_found("no valid positions among the newest events"))?,
        };
        let points: Vec<f64> = positions.iter().flat_map(|p| projection.forward(p[0], p[1])).collect();
        // About a second of CPU at most: off the async threads, one at a time.
        let _permit = ONE_AT_A_TIME.acquire().await.map_err(|e| ApiError::internal(e.to_string()))?;
        let s = tokio::task::spawn_blocking(move || suggest_k(&points, 2, from..=to, 1, SILHOUETTE_POINTS))
            .await
            .map_err(|e| ApiError::internal(format!("suggest-k failed: {e}")))?;
        Ok(SuggestedK {
            events: s.points,
            silhouette_events: s.silhouette_points,
            current_k,
            model_version,
            suggested_k: s.suggested,
            rule: s.rule.to_string(),
            candidates: s.candidates,
        })
    })
    .await
}

//! The routes, one module per area, and the router that mounts them with the request limits.

pub(crate) mod dashboard;
pub(crate) mod events;
pub(crate) mod import;
pub(crate) mod ingest;
pub(crate) mod log;
pub(crate) mod markets;
pub(crate) mod mobile;
pub(crate) mod ops;
pub(crate) mod pipeline;
pub(crate) mod regions;
pub(crate) mod status;
pub(crate) mod suggest_k;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::State;
use axum::extract::{MatchedPath, Request};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::state::AppState;

/// The largest request body an endpoint reads, but ingest.
const MAX_BODY_BYTES: usize = 1 << 20;
/// The largest body of an ingest request.
const MAX_INGEST_BYTES: usize = 8 << 20;
/// The largest payload imported through the API (`tributary import`'s default limit).
const MAX_IMPORT_BYTES: usize = 256 << 20;
/// The largest body of an append to the log over HTTP (records in base64).
const MAX_LOG_APPEND_BYTES: usize = 64 << 20;

/// The API's router: `/api/v1/…`, `/metrics`, `/healthz`, `/readyz`; problem details for
/// unknown paths (404) and wrong methods (405); bodies over 1 MiB refused (413); requests cut off
/// after the configured timeout (503).
pub fn router(state: Arc<AppState>) -> Router {
    let timeout = state.config.request_timeout;
    Router::new()
        .route("/", get(dashboard::index))
        .route("/assets/{*path}", get(dashboard::asset))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/api/v1/openapi.json", get(ops::openapi))
        .route("/api/v1/events", get(events::events))
        .route(
            "/api/v1/topics/{topic}/records",
            post(ingest::records)
                .route_layer(middleware::from_fn_with_state(state.clone(), require_token))
                .layer(axum::extract::DefaultBodyLimit::max(MAX_INGEST_BYTES)),
        )
        .merge(log_routes(state.clone()))
        .route("/api/v1/pipeline", get(status::pipeline))
        .route("/api/v1/views", get(pipeline::views))
        .route("/api/v1/dead-letters", get(pipeline::dead_letters))
        .route("/api/v1/mobile/clusters", get(mobile::latest))
        .route("/api/v1/mobile/clusters/history", get(mobile::history))
        .route("/api/v1/mobile/recent", get(mobile::recent))
        .route("/api/v1/mobile/suggest-k", get(suggest_k::suggest))
        .route("/api/v1/mobile/assign", get(regions::assign))
        .route("/api/v1/mobile/counts", get(regions::counts))
        .route("/api/v1/markets/catalogue", get(markets::catalogue))
        .route("/api/v1/markets/series", get(markets::series))
        .route("/api/v1/markets/aligned", get(markets::aligned))
        .route("/api/v1/markets/correlations", get(markets::correlations))
        .route("/api/v1/markets/correlations/strongest", get(markets::strongest))
        .route("/api/v1/markets/rolling-correlations", get(markets::rolling))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn(observe))
        .layer(middleware::from_fn(move |request: Request, next: Next| async move {
            match tokio::time::timeout(timeout, next.run(request)).await {
                Ok(response) => response,
                Err(_) => {
                    ApiError::unavailable(format!("the request took longer than {timeout:?}")).into_response()
                }
            }
        }))
        .with_state(state)
}

/// Lets a request through only with `Authorization: Bearer <the token>`, compared in constant
/// time; checked before the body is read.
async fn require_token(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let expected = state.config.token.as_bytes();
    let given = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "))
        .unwrap_or_default();
    if expected.is_empty() || !bool::from(given.ct_eq(expected)) {
        metrics::counter!("tributary_http_unauthorized_total").increment(1);
        let mut response = ApiError::unauthorized().into_response();
        response
            .headers_mut()
            .insert(axum::http::header::WWW_AUTHENTICATE, axum::http::HeaderValue::from_static("Bearer"));
        return response;
    }
    next.run(request).await
}

/// The event log over HTTP, every route behind the token (see [`log`]).
fn log_routes(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/log/topics", get(log::topics).post(log::create_topic))
        .route(
            "/api/v1/log/topics/{topic}/records",
            post(log::append).layer(axum::extract::DefaultBodyLimit::max(MAX_LOG_APPEND_BYTES)),
        )
        .route("/api/v1/log/topics/{topic}/partitions/{partition}", get(log::partition))
        .route("/api/v1/log/groups", get(log::groups))
        .route("/api/v1/log/groups/{group}/offsets", post(log::commit))
        .route(
            "/api/v1/markets/import",
            post(import::import).layer(axum::extract::DefaultBodyLimit::max(MAX_IMPORT_BYTES)),
        )
        .route_layer(middleware::from_fn_with_state(state, require_token))
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint; the endpoints are listed in /api/v1/openapi.json")
}

async fn method_not_allowed() -> ApiError {
    ApiError {
        status: StatusCode::METHOD_NOT_ALLOWED,
        detail: "this endpoint does not take that method".into(),
    }
}

/// Counts requests and their latency per route: `tributary_http_requests_total{route, status}`
/// and `tributary_http_request_duration_seconds{route}`.
async fn observe(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("tributary_http_requests_total", "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("tributary_http_request_duration_seconds", "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

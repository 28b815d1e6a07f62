//! Operations: liveness, readiness, metrics, the OpenAPI document.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::json::json;
use crate::state::AppState;

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "alive")))]
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// Readiness: the serving store answers.
#[utoipa::path(get, path = "/readyz", tag = "operations", responses(
    (status = 200, description = "the store answers"),
    (status = 503, description = "the store does not answer", body = crate::Problem, content_type = "application/problem+json"),
))]
pub async fn readyz(State(state): State<Arc<AppState>>) -> Result<&'static str, ApiError> {
    store_ready(state.store.as_ref()).await
}

/// Readiness, wherever it is asked: the serving store answers a query.
pub(crate) async fn store_ready(store: &dyn tributary_store::ServingStore) -> Result<&'static str, ApiError> {
    store.dead_letter_count().await.map_err(|e| {
        tracing::warn!(error = %e, "not ready: the store does not answer");
        ApiError::unavailable("the serving store does not answer")
    })?;
    Ok("ready\n")
}

/// Metrics in Prometheus's text format.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    // Consumer lag is measured when scraped.
    match crate::routes::status::topics_and_consumers(&state).await {
        Ok((_, consumers)) => {
            for c in consumers {
                metrics::gauge!("tributary_consumer_lag_records", "consumer" => c.name, "kind" => c.kind)
                    .set(c.lag as f64);
            }
        }
        Err(e) => tracing::debug!(error = %e.detail, "no consumer lag for /metrics"),
    }
    prometheus_text(state.metrics.as_ref())
}

/// What the recorder holds, in Prometheus's text format (empty without a recorder).
pub(crate) fn prometheus_text(handle: Option<&metrics_exporter_prometheus::PrometheusHandle>) -> Response {
    let mut response = handle.map(|h| h.render()).unwrap_or_default().into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    response
}

/// This API's OpenAPI 3.1 document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "operations", responses((status = 200, description = "the OpenAPI document")))]
pub async fn openapi() -> Result<Response, ApiError> {
    json(&crate::openapi::document())
}

//! `POST /api/v1/markets/import`: a payload into the lake through the process's [`Importer`].

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use bytes::Bytes;

use crate::error::ApiError;
use crate::importer::{ImportOptions, ImportRefused};
use crate::json::json;
use crate::state::AppState;

/// Imports the body (an ECDC or price file) into the lake as `tributary import` does, and
/// answers what the import did. Needs the token; only a process with a lake (`up`, `ingest`)
/// takes imports.
#[utoipa::path(post, path = "/api/v1/markets/import", tag = "ingest",
    params(ImportOptions),
    request_body(content = String, content_type = "application/octet-stream", description = "the file's bytes"),
    responses(
        (status = 200, description = "what the import did"),
        (status = 400, body = crate::Problem, content_type = "application/problem+json"),
        (status = 401, body = crate::Problem, content_type = "application/problem+json"),
        (status = 404, description = "this process takes no imports", body = crate::Problem, content_type = "application/problem+json"),
        (status = 503, body = crate::Problem, content_type = "application/problem+json"),
    ),
    security(("token" = [])),
)]
pub async fn import(
    State(state): State<Arc<AppState>>,
    Query(options): Query<ImportOptions>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let importer = state.importer.get().cloned().ok_or_else(|| {
        ApiError::not_found("this process has no lake to import into (run `tributary up` or `ingest`)")
    })?;
    match importer.import(body, options).await {
        Ok(report) => json(&report),
        Err(ImportRefused::Unusable(detail)) => Err(ApiError::bad_request(detail)),
        Err(ImportRefused::Failed(detail)) => {
            Err(ApiError { status: StatusCode::SERVICE_UNAVAILABLE, detail })
        }
    }
}

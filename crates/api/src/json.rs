//! JSON answers, through the cache.

use std::future::Future;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Serialize;
use tributary_cache::CacheKey;

use crate::error::ApiError;
use crate::state::AppState;

/// `value` as a JSON answer.
pub fn json<T: Serialize>(value: &T) -> Result<Response, ApiError> {
    let body =
        serde_json::to_vec(value).map_err(|e| ApiError::unavailable(format!("encoding the answer: {e}")))?;
    Ok(respond(Bytes::from(body), None))
}

/// The answer under `key` from the cache, or `compute`'s, encoded as JSON and stored. The
/// `x-cache` header says which (`hit`, `miss`, `bypass`).
pub async fn cached_json<T, F, Fut>(state: &AppState, key: CacheKey, compute: F) -> Result<Response, ApiError>
where
    T: Serialize,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    let (body, lookup) = state
        .cache
        .get_or_compute(&key, || async {
            let value = compute().await?;
            serde_json::to_vec(&value)
                .map(Bytes::from)
                .map_err(|e| ApiError::unavailable(format!("encoding the answer: {e}")))
        })
        .await?;
    Ok(respond(body, Some(lookup.label())))
}

fn respond(body: Bytes, cache: Option<&'static str>) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(cache) = cache {
        headers.insert("x-cache", HeaderValue::from_static(cache));
    }
    response
}

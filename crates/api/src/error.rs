//! Errors as RFC 9457 problem details (`application/problem+json`): a status, a title and the
//! reason in `detail`, never a stack trace or a database message.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tributary_store::StoreError;

/// An error answer of the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub detail: String,
}

impl ApiError {
    /// 400: a parameter is missing, malformed or out of range; `detail` says which and why.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self { status: StatusCode::BAD_REQUEST, detail: detail.into() }
    }

    /// 404: nothing here, or nothing published yet.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self { status: StatusCode::NOT_FOUND, detail: detail.into() }
    }

    /// 401: a write or admin endpoint without the right token.
    pub fn unauthorized() -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            detail: "this endpoint needs the token: send `Authorization: Bearer <token>`".into(),
        }
    }

    /// 500: the store holds something this server cannot use (a damaged model, say). The
    /// detail goes to the server's log; the client learns only that, not the internals.
    pub fn internal(detail: impl Into<String>) -> Self {
        let detail = detail.into();
        tracing::error!(%detail, "cannot answer");
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            detail: "the server cannot use what it has stored for this answer; its log says why".into(),
        }
    }

    /// 503: the store cannot answer now; the reason is logged, not shown.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self { status: StatusCode::SERVICE_UNAVAILABLE, detail: detail.into() }
    }
}

/// The body of an error answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// Always `about:blank`: the status says what kind of problem it is.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub title: String,
    pub status: u16,
    /// What was wrong, in words, naming the parameter.
    pub detail: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Problem {
            kind: "about:blank",
            title: self.status.canonical_reason().unwrap_or("Error").to_string(),
            status: self.status.as_u16(),
            detail: self.detail,
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        response
    }
}

impl From<tributary_log::LogError> for ApiError {
    fn from(e: tributary_log::LogError) -> Self {
        match e {
            tributary_log::LogError::UnknownTopic(topic) => Self::not_found(format!("no topic {topic:?}")),
            e => {
                tracing::warn!(error = %e, "event log error");
                Self::unavailable("the event log is not answering; try again shortly")
            }
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(detail) => Self::not_found(detail),
            // The API builds its queries from validated parameters: an invalid one is our bug
            // or a user view without the columns the endpoint needs.
            StoreError::Invalid(detail) => {
                tracing::error!(%detail, "store refused a query of the API");
                Self {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    detail: "the query could not be answered".into(),
                }
            }
            StoreError::Conflict(detail) => Self { status: StatusCode::CONFLICT, detail },
            e @ (StoreError::Database(_) | StoreError::Sqlite { .. }) => {
                tracing::warn!(error = %e, "store error");
                Self::unavailable("the serving store is not answering; try again shortly")
            }
        }
    }
}

//! The operations port of the roles that serve no API (`ingest`, `worker`, `batch follow`):
//! `/healthz`, `/readyz` and `/metrics`, so that an orchestrator can probe them and Prometheus
//! can scrape them like the API's replicas.
//!
//! ```no_run
//! # async fn run(store: std::sync::Arc<dyn tributary_store::ServingStore>) -> std::io::Result<()> {
//! let router = tributary_api::operations_router(store, None);
//! let listener = tokio::net::TcpListener::bind("0.0.0.0:9090").await?;
//! let stop = async { let _ = tokio::signal::ctrl_c().await; };
//! tributary_api::serve(listener, router, Default::default(), stop).await
//! # }
//! ```

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use tributary_store::ServingStore;

struct Operations {
    store: Arc<dyn ServingStore>,
    metrics: Option<PrometheusHandle>,
}

/// A router with `/healthz` (the process answers), `/readyz` (the serving store answers) and
/// `/metrics` (Prometheus text format, from `metrics`), the same answers as the API's.
pub fn operations_router(store: Arc<dyn ServingStore>, metrics: Option<PrometheusHandle>) -> Router {
    Router::new()
        .route("/healthz", get(crate::routes::ops::healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(render_metrics))
        .with_state(Arc::new(Operations { store, metrics }))
}

async fn readyz(State(ops): State<Arc<Operations>>) -> Result<&'static str, crate::ApiError> {
    crate::routes::ops::store_ready(ops.store.as_ref()).await
}

async fn render_metrics(State(ops): State<Arc<Operations>>) -> Response {
    crate::routes::ops::prometheus_text(ops.metrics.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    async fn get_status(router: Router, path: &str) -> (StatusCode, String) {
        let response = router.oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn answers_probes_and_turns_unready_when_the_store_closes() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            Arc::new(tributary_store::SqlStore::open_sqlite(&dir.path().join("store.sqlite")).await.unwrap());
        let router = operations_router(store.clone(), None);
        assert_eq!(get_status(router.clone(), "/healthz").await, (StatusCode::OK, "ok\n".into()));
        assert_eq!(get_status(router.clone(), "/readyz").await, (StatusCode::OK, "ready\n".into()));
        assert_eq!(get_status(router.clone(), "/metrics").await.0, StatusCode::OK);
        assert_eq!(get_status(router.clone(), "/api/v1/openapi.json").await.0, StatusCode::NOT_FOUND);
        store.close().await;
        assert_eq!(get_status(router.clone(), "/readyz").await.0, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(get_status(router, "/healthz").await.0, StatusCode::OK);
    }
}

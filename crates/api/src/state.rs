//! What every handler shares.

use std::sync::Arc;
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusHandle;
use tokio::sync::watch;
use tributary_cache::Cache;
use tributary_log::EventLog;
use tributary_store::{ServingStore, SourceRuns};

use crate::versions::Versions;

/// How the API behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiConfig {
    /// The k-means model the mobile endpoints serve.
    pub model: String,
    /// The topic of mobile events: ingest validates what goes there as events, and
    /// `/mobile/recent` reads it.
    pub mobile_topic: String,
    /// How ingest writes events into `mobile_topic`.
    pub mobile_encoding: tributary_schema::mobile::Encoding,
    /// The longest a request may take before it is answered 503.
    pub request_timeout: Duration,
    /// How often the API looks for versions published by other processes (its own process
    /// announces them at once).
    pub version_poll: Duration,
    /// The token of the write and admin endpoints (`Authorization: Bearer <token>`); empty
    /// refuses them all.
    pub token: String,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").field("model", &self.config.model).finish_non_exhaustive()
    }
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            model: "mobile".into(),
            mobile_topic: "mobile_data".into(),
            mobile_encoding: Default::default(),
            request_timeout: Duration::from_secs(10),
            version_poll: Duration::from_secs(1),
            token: String::new(),
        }
    }
}

/// The state behind the router.
pub struct AppState {
    pub store: Arc<dyn ServingStore>,
    /// The event log, for ingest (and pipeline status); `None` serves reads only.
    pub log: Option<Arc<dyn EventLog>>,
    pub cache: Cache,
    pub versions: Versions,
    /// Records per second into each topic (sampled when there is a log).
    pub throughput: Option<Arc<crate::throughput::Throughput>>,
    pub config: ApiConfig,
    /// Renders `/metrics`; `None` when no Prometheus recorder is installed.
    pub metrics: Option<PrometheusHandle>,
    /// Where HTTP ingest reports its requests as source runs.
    pub source_runs: SourceRuns,
    /// Imports into the lake, where the process has one (set once, by its server).
    pub importer: std::sync::OnceLock<Arc<dyn crate::importer::Importer>>,
}

impl AppState {
    /// The state, with its version tracker running until `stop` turns true.
    pub async fn start(
        store: Arc<dyn ServingStore>,
        log: Option<Arc<dyn EventLog>>,
        cache: Cache,
        config: ApiConfig,
        metrics: Option<PrometheusHandle>,
        stop: watch::Receiver<bool>,
    ) -> Arc<Self> {
        let throughput = log.clone().map(|log| crate::throughput::Throughput::start(log, stop.clone()));
        let source_runs = SourceRuns::start(store.clone(), stop.clone());
        warn_of_missing_columns(&*store).await;
        let versions = Versions::start(store.clone(), config.model.clone(), config.version_poll, stop).await;
        let importer = std::sync::OnceLock::new();
        Arc::new(Self { store, log, cache, versions, throughput, config, metrics, source_runs, importer })
    }
}

/// Warns when views published (by another process, perhaps an older or changed one) lack columns
/// the API reads: their endpoints answer errors until the views are republished.
async fn warn_of_missing_columns(store: &dyn ServingStore) {
    let Ok(views) = store.current_views().await else { return };
    let published = views.iter().map(|v| (v.view.as_str(), v.columns.iter().map(|c| c.name.as_str())));
    if let Err(e) = crate::views_read::check(published) {
        tracing::warn!("{e}; the endpoints reading them fail until the views are published again");
    }
}

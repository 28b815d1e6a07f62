//! The HTTP servers as [`Component`]s (the contract in `tributary-component`): the API that
//! `up` and `serve` run, and the operations port of the roles without it.

use std::net::SocketAddr;

use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tributary_cache::Cache;
use tributary_component::{BoxError, Component, Context, Info, Kind};

use std::sync::Arc;

use crate::importer::Importer;
use crate::{ApiConfig, AppState, ServeLimits};

/// The JSON API and the dashboard over the store (through the cache), with the log where the
/// process has one (ingest, topics, throughput). Bound when built, so the address is known
/// (and a taken port fails) before anything runs.
pub struct ApiServer {
    listener: TcpListener,
    address: SocketAddr,
    cache: Cache,
    config: ApiConfig,
    limits: ServeLimits,
    metrics: Option<PrometheusHandle>,
    importer: Option<Arc<dyn Importer>>,
}

impl ApiServer {
    /// Binds `listen`; the server runs once started as a component.
    pub async fn bind(
        listen: SocketAddr,
        cache: Cache,
        config: ApiConfig,
        limits: ServeLimits,
        metrics: Option<PrometheusHandle>,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(listen).await?;
        let address = listener.local_addr()?;
        Ok(Self { listener, address, cache, config, limits, metrics, importer: None })
    }

    /// Takes imports into the lake (`POST /api/v1/markets/import`) through `importer`.
    pub fn with_importer(mut self, importer: Arc<dyn Importer>) -> Self {
        self.importer = Some(importer);
        self
    }

    /// The address it listens on (the port the system chose for port 0).
    pub fn address(&self) -> SocketAddr {
        self.address
    }
}

#[async_trait::async_trait]
impl Component for ApiServer {
    fn info(&self) -> Info {
        Info::new("HTTP API", Kind::Service, format!("api:{}", self.address))
    }

    fn describe(&self) -> Vec<(&'static str, String)> {
        let a = self.address;
        vec![
            ("dashboard", format!("http://{a}/")),
            ("HTTP API", format!("http://{a}/api/v1/openapi.json   (/metrics, /healthz, /readyz)")),
            (
                "cache",
                format!(
                    "{}, entries live {}",
                    self.cache.backend(),
                    humantime::format_duration(self.cache.ttl())
                ),
            ),
        ]
    }

    async fn run(self: Box<Self>, cx: Context) -> Result<(), BoxError> {
        let state = AppState::start(
            cx.store()?,
            cx.log_if_any(),
            self.cache,
            self.config,
            self.metrics,
            cx.stop_signal(),
        )
        .await;
        if let Some(importer) = self.importer {
            let _ = state.importer.set(importer);
        }
        cx.report().ready();
        crate::serve(self.listener, crate::router(state), self.limits, cx.stopped()).await?;
        Ok(())
    }
}

/// `/healthz`, `/readyz` and `/metrics` alone, for the roles that serve no API (`ingest`,
/// `worker`, `batch follow`). Bound when built.
pub struct OperationsServer {
    listener: TcpListener,
    address: SocketAddr,
    metrics: Option<PrometheusHandle>,
}

impl OperationsServer {
    pub async fn bind(listen: SocketAddr, metrics: Option<PrometheusHandle>) -> std::io::Result<Self> {
        let listener = TcpListener::bind(listen).await?;
        let address = listener.local_addr()?;
        Ok(Self { listener, address, metrics })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }
}

#[async_trait::async_trait]
impl Component for OperationsServer {
    fn info(&self) -> Info {
        Info::new("operations", Kind::Service, format!("ops:{}", self.address))
    }

    fn describe(&self) -> Vec<(&'static str, String)> {
        vec![("operations", format!("http://{}/metrics   (/healthz, /readyz)", self.address))]
    }

    async fn run(self: Box<Self>, cx: Context) -> Result<(), BoxError> {
        let router = crate::operations_router(cx.store()?, self.metrics);
        cx.report().ready();
        crate::serve(self.listener, router, ServeLimits::default(), cx.stopped()).await?;
        Ok(())
    }
}

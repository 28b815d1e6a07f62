//! `tributary serve`: the HTTP API and the dashboard alone, over the serving store.
//!
//! This is the role that scales by replicas: each `serve` reads the store through its cache
//! (shared through memcached or Redis when configured), learns of new model and view versions
//! from the store (within a second), and answers like the `up` that wrote them. With
//! the log on Kafka it also shows topics and lag and takes ingest requests; the embedded log
//! belongs to the one process that owns the data directory, so a `serve` beside it has none
//! (ingest answers 404 there, the pipeline status shows the store's processors).
//!
//! `up` starts the same API through [`start_api`].

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use tokio::sync::watch;
use tributary_log::EventLog;
use tributary_store::ServingStore;

use super::running::{ShutdownSignals, Tasks, stopped, supervise};
use crate::cli::ServeArgs;
use crate::config::{Config, LogBackend};

/// What [`start_api`] started, for the lines a command prints.
pub struct StartedApi {
    pub address: SocketAddr,
    /// Where the write endpoints' token comes from (the token itself only when just made).
    pub token_note: String,
    pub cache_backend: &'static str,
}

impl StartedApi {
    /// The lines `up` and `serve` print about the API.
    pub fn print(&self, config: &Config) {
        println!("  dashboard       http://{}/", self.address);
        println!(
            "  HTTP API        http://{}/api/v1/openapi.json   (/metrics, /healthz, /readyz)",
            self.address
        );
        println!("  API token       {}", self.token_note);
        println!(
            "  cache           {}, entries live {}",
            self.cache_backend,
            humantime::format_duration(config.cache.ttl)
        );
    }
}

/// Binds `listen` (or `api.listen`) and serves the API on a task of `tasks` until `stop`.
pub async fn start_api(
    config: &Config,
    listen: Option<SocketAddr>,
    store: Arc<dyn ServingStore>,
    log: Option<Arc<dyn EventLog>>,
    stop: &watch::Receiver<bool>,
    tasks: &mut Tasks,
) -> anyhow::Result<StartedApi> {
    let listen = listen.unwrap_or(config.api.listen);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen} (use --listen ADDRESS:PORT)"))?;
    let address = listener.local_addr()?;
    let cache =
        tributary_cache::Cache::new(tributary_cache::open(&config.cache.to_cache())?, config.cache.ttl);
    let (token, token_note) = api_token(config)?;
    let api_config = tributary_api::ApiConfig {
        model: config.mobile.model.clone(),
        mobile_topic: config.mobile.topic.clone(),
        request_timeout: config.api.request_timeout,
        token,
        ..tributary_api::ApiConfig::default()
    };
    let cache_backend = cache.backend();
    let state =
        tributary_api::AppState::start(store, log, cache, api_config, super::metrics_handle(), stop.clone())
            .await;
    let mut s = stop.clone();
    let (header_timeout, max_connections) = (config.api.header_timeout, config.api.max_connections);
    tasks.spawn(async move {
        let shutdown = async move {
            let _ = s.wait_for(|stopped| *stopped).await;
        };
        let limits = tributary_api::ServeLimits {
            header_timeout,
            max_connections,
            ..tributary_api::ServeLimits::default()
        };
        let served = tributary_api::serve(listener, tributary_api::router(state), limits, shutdown).await;
        ("HTTP API", served.map_err(Into::into))
    });
    Ok(StartedApi { address, token_note, cache_backend })
}

/// Serves `/healthz`, `/readyz` and `/metrics` on `api.ops_listen`, when it is set, for the
/// roles that serve no API (`ingest`, `worker`, `batch follow`): returns the bound address.
pub async fn start_operations(
    config: &Config,
    store: Arc<dyn ServingStore>,
    stop: &watch::Receiver<bool>,
    tasks: &mut Tasks,
) -> anyhow::Result<Option<SocketAddr>> {
    let Some(listen) = config.api.ops_listen else { return Ok(None) };
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen} (api.ops_listen)"))?;
    let address = listener.local_addr()?;
    let router = tributary_api::operations_router(store, super::metrics_handle());
    let mut s = stop.clone();
    tasks.spawn(async move {
        let shutdown = async move {
            let _ = s.wait_for(|stopped| *stopped).await;
        };
        let served =
            tributary_api::serve(listener, router, tributary_api::ServeLimits::default(), shutdown).await;
        ("operations port", served.map_err(Into::into))
    });
    println!("  operations      http://{address}/metrics   (/healthz, /readyz)");
    Ok(Some(address))
}

/// `tributary serve`.
pub async fn run(config: &Config, args: &ServeArgs) -> anyhow::Result<ExitCode> {
    let mut signals = ShutdownSignals::install()?;
    let opened = match config.log {
        LogBackend::Kafka(_) => Some(super::open_log(config).await?),
        _ => None,
    };
    let sql = super::open_store(config).await?;
    let (stop_tx, stop) = watch::channel(false);
    let mut tasks = Tasks::new();
    let log = opened.as_ref().map(|o| o.shared());
    let api = start_api(config, args.listen, Arc::new(sql.clone()), log, &stop, &mut tasks).await?;

    println!("Tributary {} is serving.", env!("CARGO_PKG_VERSION"));
    api.print(config);
    println!("  serving store   {} ({})", config.store_description(), sql.dialect().name());
    match &opened {
        Some(o) => println!("  event log       {}", o.description()),
        None => println!("  event log       none (the embedded log belongs to `tributary up`)"),
    }
    println!("Ctrl-C stops.");

    let failure = supervise(&mut tasks, &mut signals, &stop_tx).await;
    if let Some(o) = &opened {
        o.close().await?;
    }
    sql.close().await;
    stopped(failure)
}

/// The token of the API's write endpoints: `api.token` if configured; otherwise the one kept in
/// `<data_dir>/api-token`, made (random, readable by the owner only) at the first start. Returns
/// it with what the command prints about it (the token itself only when it was just made).
/// Replicas on other machines need `api.token` to accept the same token.
fn api_token(config: &Config) -> anyhow::Result<(String, String)> {
    if let Some(token) = config.api.token.clone().filter(|t| !t.is_empty()) {
        return Ok((token, "configured (api.token)".into()));
    }
    let path = config.data_dir.join("api-token");
    match std::fs::read_to_string(&path) {
        Ok(token) if !token.trim().is_empty() => {
            Ok((token.trim().to_string(), format!("in {}", path.display())))
        }
        _ => {
            let token: String = rand::random::<[u8; 24]>().iter().map(|b| format!("{b:02x}")).collect();
            std::fs::create_dir_all(&config.data_dir)?;
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(&path).with_context(|| format!("cannot write {}", path.display()))?;
            std::io::Write::write_all(&mut file, format!("{token}\n").as_bytes())?;
            let note = format!("{token}   (new; kept in {})", path.display());
            Ok((token, note))
        }
    }
}

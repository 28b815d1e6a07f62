//! `tributary serve`: the HTTP API and the dashboard alone, over the serving store.
//!
//! This is the role that scales by replicas: each `serve` reads the store through its cache
//! (shared through memcached or Redis when configured), learns of new model and view versions
//! from the store (within a second), and answers like the `up` that wrote them. With
//! the log on Kafka it also shows topics and lag and takes ingest requests; the embedded log
//! belongs to the one process that owns the data directory, so a `serve` beside it has none
//! (ingest answers 404 there, the pipeline status shows the store's processors).
//!
//! `up` runs the same API part, built by [`api_server`].

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context;
use tributary_api::{ApiServer, OperationsServer};
use tributary_component::Component;

use super::roles::Parts;
use super::running::{Process, ShutdownSignals, run_process};
use crate::cli::ServeArgs;
use crate::config::{Config, LogBackend};

/// The HTTP API on `listen` (or `api.listen`), bound now, taking imports through `importer`
/// where the process has a lake: the part, the address it listens on, and the banner line about
/// its token.
pub async fn api_server(
    config: &Config,
    listen: Option<SocketAddr>,
    importer: Option<std::sync::Arc<dyn tributary_api::importer::Importer>>,
) -> anyhow::Result<(Box<dyn Component>, SocketAddr, (&'static str, String))> {
    let listen = listen.unwrap_or(config.api.listen);
    let cache = tributary_cache::Cache::new(tributary_cache::open(&config.cache)?, config.cache.ttl);
    let (token, token_note) = api_token(config)?;
    let api_config = tributary_api::ApiConfig {
        model: config.mobile.kmeans.model.clone(),
        mobile_topic: config.mobile.topic.clone(),
        mobile_encoding: config.mobile.topic_encoding,
        request_timeout: config.api.request_timeout,
        token,
        ..tributary_api::ApiConfig::default()
    };
    let server = ApiServer::bind(listen, cache, api_config, config.api.limits(), super::metrics_handle())
        .await
        .with_context(|| format!("cannot listen on {listen} (use --listen ADDRESS:PORT)"))?;
    let address = server.address();
    let server = match importer {
        Some(importer) => server.with_importer(importer),
        None => server,
    };
    Ok((Box::new(server), address, ("API token", token_note)))
}

/// `/healthz`, `/readyz` and `/metrics` on `api.ops_listen`, when it is set, for the roles that
/// serve no API (`ingest`, `worker`, `batch follow`); bound now.
pub async fn operations_server(config: &Config) -> anyhow::Result<Parts> {
    let Some(listen) = config.api.ops_listen else { return Ok(Vec::new()) };
    let server = OperationsServer::bind(listen, super::metrics_handle())
        .await
        .with_context(|| format!("cannot listen on {listen} (api.ops_listen)"))?;
    Ok(vec![Box::new(server)])
}

/// `tributary serve`.
pub async fn run(config: &Config, args: &ServeArgs) -> anyhow::Result<ExitCode> {
    let signals = ShutdownSignals::install()?;
    let log = match config.log {
        LogBackend::Kafka(_) => Some(super::open_log(config).await?),
        _ => None,
    };
    let store = super::open_store(config).await?;
    let (api, _, token_line) = api_server(config, args.listen, None).await?;
    let no_log = log.is_none();
    let headline = format!("Tributary {} is serving.", env!("CARGO_PKG_VERSION"));
    let mut process = Process::new(config, headline, log, store, vec![api]).lines_first(vec![token_line]);
    if no_log {
        process = process.line("event log", "none (the embedded log belongs to `tributary up`)".into());
    }
    run_process(process, signals).await
}

/// The token a client of a running `up` on this data directory sends: `api.token` if configured,
/// else the one `up` keeps in `<data_dir>/api-token`.
pub fn client_token(config: &Config) -> anyhow::Result<String> {
    if let Some(token) = config.api.token.clone().filter(|t| !t.is_empty()) {
        return Ok(token);
    }
    let path = config.data_dir.join("api-token");
    std::fs::read_to_string(&path).map(|t| t.trim().to_string()).with_context(|| {
        format!("no api.token configured and none in {} (where `tributary up` keeps it)", path.display())
    })
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

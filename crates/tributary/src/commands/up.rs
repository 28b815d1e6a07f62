//! `tributary up`: everything in one process with embedded defaults.
//!
//! Runs every part: the directory source on the inbox and, unless `mobile.generator_rate = 0`,
//! a generator feeding the log, so a fresh start shows live clusters with no other step; the
//! streaming k-means (on Kafka, as a worker of a group that `tributary worker`s can join), the
//! dead-letter sink and store retention; the Markets × COVID pulls into the lake and the batch
//! runner that republishes the views when a dataset changed; and the HTTP API. Stops cleanly on
//! Ctrl-C or SIGTERM: the parts finish their current batch, then the log is closed.

use std::process::ExitCode;

use super::roles;
use super::running::{Process, ShutdownSignals, run_process};
use super::worker::default_worker_id;
use crate::cli::UpArgs;
use crate::config::Config;

pub async fn run(config: &Config, args: &UpArgs) -> anyhow::Result<ExitCode> {
    let signals = ShutdownSignals::install()?;
    let log = super::open_log(config).await?;
    let store = super::open_store(config).await?;
    let lake = tributary_lake::Lake::open(&config.lake_location())?;
    let (api, token_line) = super::serve::api_server(config, args.listen).await?;

    let mut parts = vec![api];
    parts.extend(roles::mobile_sources(config)?);
    // On Kafka the k-means runs as a worker of a group that other processes can join.
    parts.push(roles::kmeans(config, log.is_shared().then(|| default_worker_id("up")))?);
    parts.extend(roles::beside_kmeans(config)?);
    parts.extend(roles::pulls(config, &lake)?);
    parts.push(roles::batch_views(config, None, &lake).await?);

    let headline = format!("Tributary {} is running.", env!("CARGO_PKG_VERSION"));
    let process = Process::new(config, headline, Some(log), store, parts)
        .lines_first(vec![token_line, ("data directory", config.data_dir.display().to_string())]);
    run_process(process, signals).await
}

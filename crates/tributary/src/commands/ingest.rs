//! `tributary ingest`: the sources alone — the inbox's directory source, the generator (unless
//! `mobile.generator_rate = 0`) and the Markets × COVID pulls into the lake — publishing to the
//! event log. On a Kafka cluster the rest runs elsewhere: `tributary worker`s process the
//! events, `serve` replicas answer, an `up` (or none) runs the batch views.

use std::process::ExitCode;

use super::roles;
use super::running::{Process, ShutdownSignals, run_process};
use crate::config::Config;

pub async fn run(config: &Config) -> anyhow::Result<ExitCode> {
    let signals = ShutdownSignals::install()?;
    let log = super::open_log(config).await?;
    // The store only for the sources' runs (the pipeline status shows them).
    let store = super::open_store(config).await?;
    let lake = tributary_lake::Lake::open(&config.lake_location())?;
    let mut parts = roles::mobile_sources(config)?;
    parts.extend(roles::pulls(config, &lake)?);
    parts.extend(super::serve::operations_server(config).await?);
    let shared = log.is_shared();
    let headline = format!("Tributary {} is ingesting.", env!("CARGO_PKG_VERSION"));
    let mut process = Process::new(config, headline, Some(log), store, parts);
    if !shared {
        process = process.line(
            "",
            "(the embedded log belongs to this process: `tributary up` processes what it holds once this stops)".into(),
        );
    }
    run_process(process, signals).await
}

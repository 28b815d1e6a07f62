//! `tributary ingest`: the sources alone — the inbox's directory source, the generator (unless
//! `mobile.generator_rate = 0`) and the Markets × COVID pulls into the lake — publishing to the
//! event log. On a Kafka cluster the rest runs elsewhere: `tributary worker`s process the
//! events, `serve` replicas answer, an `up` (or none) runs the batch views.

use std::process::ExitCode;
use std::sync::Arc;

use tokio::sync::watch;
use tributary_store::{ServingStore, SourceRuns};

use super::roles;
use super::running::{ShutdownSignals, Tasks, stopped, supervise};
use crate::config::Config;

pub async fn run(config: &Config) -> anyhow::Result<ExitCode> {
    let mut signals = ShutdownSignals::install()?;
    let opened = super::open_log(config).await?;
    let log = opened.shared();
    // The store only for the sources' runs (the pipeline status shows them).
    let sql = super::open_store(config).await?;
    let store: Arc<dyn ServingStore> = Arc::new(sql.clone());
    let (stop_tx, stop) = watch::channel(false);
    let source_runs = SourceRuns::start(store.clone(), stop.clone());
    let mut tasks = Tasks::new();
    roles::spawn_mobile_sources(config, &log, &source_runs, &stop, &mut tasks)?;
    let lake = tributary_lake::Lake::open(&config.lake_location())?;
    let pulls = roles::spawn_pulls(config, &lake, &log, &source_runs, &stop, &mut tasks)?;

    let m = &config.mobile;
    println!("Tributary {} is ingesting.", env!("CARGO_PKG_VERSION"));
    println!("  event log       {}", opened.description());
    roles::print_inbox(config);
    if m.generator_rate > 0.0 {
        println!("  generator       {} events/s into {}", m.generator_rate, m.topic);
    }
    for src in &pulls {
        println!(
            "  pull            {} every {} into {}",
            src.url,
            humantime::format_duration(config.markets.pull_interval),
            lake.location()
        );
    }
    if !opened.is_shared() {
        println!(
            "  (the embedded log belongs to this process: `tributary up` processes what it holds once this stops)"
        );
    }
    super::serve::start_operations(config, store.clone(), &stop, &mut tasks).await?;
    println!("Ctrl-C stops.");

    let failure = supervise(&mut tasks, &mut signals, &stop_tx).await;
    opened.close().await?;
    sql.close().await;
    stopped(failure)
}

//! `tributary up`: everything in one process on embedded defaults.
//!
//! Runs the event log, the serving store (SQLite), the directory source on the inbox, the
//! streaming k-means processor, the dead-letter sink and, unless `mobile.generator_rate = 0`, a
//! generator feeding the log, so a fresh start shows live clusters with no other step; and the
//! Markets × COVID pipeline: the pull sources on their schedule into the lake, and the batch
//! runner that republishes the views when a dataset changed. Stops
//! cleanly on Ctrl-C or SIGTERM: the tasks finish their current batch, then the log is closed.

use std::process::ExitCode;
use std::sync::Arc;

use tokio::sync::watch;
use tributary_log::EventLog;
use tributary_processors::dead_letter_sink::{run_dead_letter_sink, sink_group};
use tributary_processors::group_kmeans::run_group_worker;
use tributary_processors::kmeans_processor::{KMeansProcessorConfig, run_kmeans_processor};
use tributary_store::{ServingStore, SourceRuns};

use super::running::{ShutdownSignals, Tasks, VersionReporter, stopped, supervise};
use super::worker::default_worker_id;
use crate::cli::UpArgs;
use crate::config::Config;

pub async fn run(config: &Config, args: &UpArgs) -> anyhow::Result<ExitCode> {
    let mut signals = ShutdownSignals::install()?;
    let opened = super::open_log(config).await?;
    let log: Arc<dyn EventLog> = opened.shared();
    let sqlite = super::open_store(config).await?;
    let store: Arc<dyn ServingStore> = Arc::new(sqlite.clone());
    let m = &config.mobile;
    let settings = m.kmeans_settings().map_err(|e| anyhow::anyhow!("config section `mobile`: {e}"))?;
    let (stop_tx, stop) = watch::channel(false);
    // Every source reports its runs (the pipeline status shows them).
    let source_runs = SourceRuns::start(store.clone(), stop.clone());
    let mut tasks = Tasks::new();

    super::roles::spawn_mobile_sources(config, &log, &source_runs, &stop, &mut tasks)?;

    let (l, st, s) = (log.clone(), store.clone(), stop.clone());
    if opened.is_shared() {
        // On Kafka, the k-means runs as a worker of a group that `tributary worker` processes
        // can join to share the load.
        let group_cfg = m.group_kmeans(default_worker_id("up")).map_err(anyhow::Error::msg)?;
        tasks.spawn(async move {
            let mut reporter = VersionReporter::default();
            let result = run_group_worker(l, st, group_cfg, s, |v| reporter.report(v)).await;
            ("k-means worker", result.map_err(Into::into))
        });
    } else {
        let processor_cfg = KMeansProcessorConfig {
            name: m.model.clone(),
            topic: m.topic.clone(),
            settings,
            max_batch_records: m.batch_max_records,
            batch_interval: m.batch_interval,
        };
        tasks.spawn(async move {
            let mut reporter = VersionReporter::default();
            let result = run_kmeans_processor(l, st, processor_cfg, s, |v| reporter.report(v)).await;
            ("k-means processor", result.map_err(Into::into))
        });
    }

    super::roles::spawn_store_retention(config, &store, &stop, &mut tasks);

    let (l, st, s, g) = (log.clone(), store.clone(), stop.clone(), sink_group(&m.model));
    tasks.spawn(
        async move { ("dead-letter sink", run_dead_letter_sink(l, st, g, s).await.map_err(Into::into)) },
    );

    // Markets × COVID: pull sources into the lake; the batch runner keeps the views current.
    let mk = &config.markets;
    let lake = tributary_lake::Lake::open(&config.lake_location())?;
    let sources = super::roles::spawn_pulls(config, &lake, &log, &source_runs, &stop, &mut tasks)?;
    super::roles::spawn_batch_runner(config, None, &lake, &log, &store, &stop, &mut tasks)?;

    // The HTTP API: the store through the cache; metrics from the global recorder.
    let api =
        super::serve::start_api(config, args.listen, store.clone(), Some(log.clone()), &stop, &mut tasks)
            .await?;

    println!("Tributary {} is running.", env!("CARGO_PKG_VERSION"));
    api.print(config);
    println!("  data directory  {}", config.data_dir.display());
    println!("  event log       {}", opened.description());
    println!("  serving store   {} ({})", config.store_description(), sqlite.dialect().name());
    super::roles::print_inbox(config);
    println!(
        "  k-means         model '{}', k = {}, topic {}, batches of {:?} or {} events",
        m.model, m.k, m.topic, m.batch_interval, m.batch_max_records
    );
    println!("  lake            {}", lake.location());
    for src in &sources {
        println!("  pull            {} every {}", src.url, humantime::format_duration(mk.pull_interval));
    }
    println!(
        "  batch views     on topic datasets (debounce {}) and every {}; `tributary batch list`",
        humantime::format_duration(mk.batch_debounce),
        humantime::format_duration(mk.batch_interval)
    );
    if m.generator_rate > 0.0 {
        println!("  generator       {} events/s into {}", m.generator_rate, m.topic);
    }
    println!("Ctrl-C stops.");

    let failure = supervise(&mut tasks, &mut signals, &stop_tx).await;
    opened.close().await?;
    sqlite.close().await;
    stopped(failure)
}

//! One module per subcommand. Each takes the loaded [`Config`] and its own arguments.

mod batch;
mod bench_history;
mod bench_log;
mod bench_markets;
mod bench_mobile;
mod bench_stages;
mod generate;
mod import;
mod ingest;
mod input_args;
mod inspect;
mod kmeans;
mod kmeans_suggest;
mod log_tools;
mod produce;
mod roles;
mod running;
mod serve;
mod tail;
mod up;
mod worker;

use std::process::ExitCode;

use anyhow::Context;
use std::sync::Arc;

use tributary_log::{EmbeddedLog, EventLog, LogError};

use crate::cli::{BatchCommand, BenchCommand, Command, LogCommand};
use crate::config::{Config, LogBackend, StoreBackend};

/// Runs a subcommand; the exit code says whether everything went through.
pub async fn run(command: Command, config: Config) -> anyhow::Result<ExitCode> {
    match command {
        Command::Up(args) => up::run(&config, &args).await,
        Command::Log(LogCommand::Topics { json }) => log_tools::topics(&config, json).await,
        Command::Log(LogCommand::CreateTopic { topic, partitions }) => {
            log_tools::create_topic(&config, &topic, partitions).await
        }
        Command::Log(LogCommand::Produce(args)) => produce::run(&config, args).await,
        Command::Log(LogCommand::Tail(args)) => tail::run(&config, args).await,
        Command::Generate(args) => generate::run(&config, args).await,
        Command::Kmeans(args) => kmeans::run(&config, args),
        Command::Inspect(args) => inspect::run(&config, args),
        Command::Worker(args) => worker::run(&config, &args).await,
        Command::Ingest => ingest::run(&config).await,
        Command::Serve(args) => serve::run(&config, &args).await,
        Command::Replay(args) => worker::replay(&config, &args).await,
        Command::Import(args) => import::run(&config, args).await,
        Command::Batch(BatchCommand::List(args)) => batch::list(args),
        Command::Batch(BatchCommand::Follow(args)) => {
            return_freed_memory_at_once();
            batch::follow(&config, args).await
        }
        Command::Batch(BatchCommand::Run(args)) => {
            return_freed_memory_at_once();
            batch::run(&config, args).await
        }
        Command::Bench(BenchCommand::Log(args)) => bench_log::run(&config, args).await,
        Command::Bench(BenchCommand::Mobile(args)) => bench_mobile::run(&config, args).await,
        Command::Bench(BenchCommand::History(args)) => bench_history::run(&config, args).await,
        Command::Bench(BenchCommand::Markets(args)) => {
            return_freed_memory_at_once();
            bench_markets::run(&config, args).await
        }
    }
}

/// mimalloc's `mi_option_purge_delay` (the same in its v2 and v3 headers; libmimalloc-sys does
/// not name it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// For the batch commands only: freed memory goes back to the system at once instead of after
/// mimalloc's default 10 ms. A recomputation of the views frees hundreds of MiB on one thread
/// while another allocates; with the delay its peak resident memory rose from about 440 to over
/// 600 MiB (`bench markets`). Streaming pays for eager purging instead (`bench mobile` lost about
/// a quarter of its throughput), so `up` keeps the default. `MIMALLOC_PURGE_DELAY` in the
/// environment still wins.
fn return_freed_memory_at_once() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets one integer option of the allocator, which it reads at each purge.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
    }
}

/// Opens the configured event log, with a hint when another process owns the data directory.
/// The Prometheus recorder's handle, installed as the global metrics recorder at the first call
/// (`None` if another recorder was installed first).
pub fn metrics_handle() -> Option<metrics_exporter_prometheus::PrometheusHandle> {
    static HANDLE: std::sync::OnceLock<Option<metrics_exporter_prometheus::PrometheusHandle>> =
        std::sync::OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let latency_buckets =
                [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
            metrics_exporter_prometheus::PrometheusBuilder::new()
                .set_buckets_for_metric(
                    metrics_exporter_prometheus::Matcher::Suffix("_seconds".into()),
                    &latency_buckets,
                )
                .ok()?
                .install_recorder()
                .map_err(|e| tracing::warn!(error = %e, "no metrics recorder"))
                .ok()
        })
        .clone()
}

/// Opens the configured serving store (migrating it).
pub async fn open_store(config: &Config) -> anyhow::Result<tributary_store::SqlStore> {
    let opened = match &config.store {
        StoreBackend::Embedded => {
            // With the log elsewhere (Kafka), nothing else may have made the data directory.
            std::fs::create_dir_all(&config.data_dir)
                .with_context(|| format!("cannot create the data directory {}", config.data_dir.display()))?;
            tributary_store::SqlStore::open_sqlite(&config.data_dir.join("store.sqlite")).await
        }
        StoreBackend::Url(url) => tributary_store::SqlStore::connect(url).await,
    };
    opened.with_context(|| format!("cannot open the serving store {}", config.store_description()))
}

/// The event log the configuration names: the embedded one in the data directory, or a Kafka
/// cluster. Derefs to the [`EventLog`] every command uses.
pub struct OpenedLog {
    log: Arc<dyn EventLog>,
    /// The embedded log, which must be closed (its last fsync, its lock).
    embedded: Option<EmbeddedLog>,
    /// The log of the `up` that owns the data directory, when this is it.
    remote: Option<tributary_log::remote::RemoteLog>,
    description: String,
}

impl OpenedLog {
    /// The log, to share between tasks.
    pub fn shared(&self) -> Arc<dyn EventLog> {
        self.log.clone()
    }

    /// Whether other processes can use this log too (Kafka): then the stream processors run as
    /// workers of a group, which `tributary worker` processes can join.
    pub fn is_shared(&self) -> bool {
        self.embedded.is_none() && self.remote.is_none()
    }

    /// The running `up` whose log this is, when another process owns the data directory.
    pub fn running_up(&self) -> Option<&tributary_log::remote::RemoteLog> {
        self.remote.as_ref()
    }

    /// What `up` prints about it.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Closes the log: the embedded one fsyncs and lets go of its directory.
    pub async fn close(&self) -> anyhow::Result<()> {
        if let Some(embedded) = &self.embedded {
            embedded.close().await?;
        }
        Ok(())
    }
}

impl std::ops::Deref for OpenedLog {
    type Target = dyn EventLog;

    fn deref(&self) -> &Self::Target {
        &*self.log
    }
}

pub async fn open_log(config: &Config) -> anyhow::Result<OpenedLog> {
    open_log_beside(config, false).await
}

/// [`open_log`] for the console tools and `import`: where a running `tributary up` owns the
/// data directory, its log over its API (see `tributary_log::remote`).
pub async fn open_log_or_running_up(config: &Config) -> anyhow::Result<OpenedLog> {
    open_log_beside(config, true).await
}

async fn open_log_beside(config: &Config, beside_up: bool) -> anyhow::Result<OpenedLog> {
    match &config.log {
        LogBackend::Embedded => {
            let dir = config.log_dir();
            match EmbeddedLog::open(&dir, config.embedded_log()).await {
                Ok(log) => {
                    for t in &log.recovery_report().truncations {
                        tracing::warn!(file = %t.file.display(), position = t.position, bytes = t.bytes_dropped, reason = %t.reason, "recovery truncated a torn tail");
                    }
                    let description =
                        format!("embedded, {}, fsync {}", log.dir().display(), config.embedded_log.fsync);
                    Ok(OpenedLog {
                        log: Arc::new(log.clone()),
                        embedded: Some(log),
                        remote: None,
                        description,
                    })
                }
                Err(e @ LogError::Locked { .. }) => match running_up(config, beside_up).await {
                    Some(remote) => {
                        let description = format!("the running `tributary up` at {}", remote.base());
                        tracing::debug!(%description, "the data directory is in use; using the log of its process");
                        Ok(OpenedLog {
                            log: Arc::new(remote.clone()),
                            embedded: None,
                            remote: Some(remote),
                            description,
                        })
                    }
                    None if beside_up => Err(anyhow::anyhow!(
                        "{e}\nhint: no running `tributary up` answers at the address in {} (the console tools and `import` talk to one that does)",
                        config.data_dir.join(API_ADDRESS_FILE).display()
                    )),
                    None => Err(e.into()),
                },
                Err(e) => Err(e).with_context(|| format!("cannot open the event log in {}", dir.display())),
            }
        }
        LogBackend::Kafka(kafka) => {
            let mut kafka = kafka.clone();
            kafka.default_partitions = config.topics.default_partitions;
            let log = tributary_log::kafka::KafkaLog::connect(kafka.clone())
                .await
                .with_context(|| format!("cannot reach the Kafka cluster at {}", kafka.brokers))?;
            let description = format!("Kafka at {}", kafka.brokers);
            Ok(OpenedLog { log: Arc::new(log), embedded: None, remote: None, description })
        }
    }
}

/// The file in the data directory where a running `up` writes its API address.
pub const API_ADDRESS_FILE: &str = "api-address";

/// The log of the `tributary up` that owns the data directory, over its API, if one answers at
/// the address it wrote (with the token of this configuration).
async fn running_up(config: &Config, wanted: bool) -> Option<tributary_log::remote::RemoteLog> {
    if !wanted {
        return None;
    }
    let address = std::fs::read_to_string(config.data_dir.join(API_ADDRESS_FILE)).ok()?;
    let token = serve::client_token(config).ok()?;
    let remote = tributary_log::remote::RemoteLog::new(address.trim(), &token).ok()?;
    match remote.describe_topics().await {
        Ok(_) => Some(remote),
        Err(e) => {
            tracing::warn!(address = address.trim(), error = %e, "the data directory's `up` does not answer");
            None
        }
    }
}

/// This process's peak resident memory in MiB (`VmHWM`), where the OS tells it.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

/// "took N ms, peak memory M MiB" for a step that started at `started`.
pub fn timing_line(started: std::time::Instant) -> String {
    let ms = started.elapsed().as_secs_f64() * 1e3;
    match peak_rss_mib() {
        Some(mib) => format!("took {ms:.0} ms, peak memory {mib:.0} MiB"),
        None => format!("took {ms:.0} ms"),
    }
}

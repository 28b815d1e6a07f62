//! `tributary worker`: the stream processors as one worker of a group that shares the work.
//!
//! Workers (and `tributary up`, when its log is Kafka) that name the same model join one Kafka
//! consumer group: the group shares the partitions of the events topic between them, and one
//! of them coordinates the streaming k-means (see `tributary_processors::group_kmeans`). Start
//! more to take more load; stop one (Ctrl-C, SIGTERM) and the others take over its partitions.
//! Each also runs a dead-letter sink; the sinks share the partitions of the dead-letter topic
//! through a consumer group of their own (see `tributary_processors::dead_letter_sink`).

use std::process::ExitCode;

use tributary_processors::group_kmeans::replay::replay_one_process;

use super::roles;
use super::running::{Process, ShutdownSignals, run_process};
use crate::cli::{ReplayArgs, WorkerArgs};
use crate::config::{Config, LogBackend};

pub async fn run(config: &Config, args: &WorkerArgs) -> anyhow::Result<ExitCode> {
    let signals = ShutdownSignals::install()?;
    let id = args.id.clone().unwrap_or_else(|| default_worker_id("worker"));
    // A worker with a name of its own is a static member of its groups: restarted under the
    // same name (after a crash, say), it takes its partitions back at once.
    let mut config = config.clone();
    if let (Some(name), LogBackend::Kafka(kafka)) = (&args.id, &mut config.log) {
        kafka.member_name = Some(name.clone());
    }
    let config = &config;
    let log = super::open_log(config).await?;
    if !log.is_shared() {
        anyhow::bail!(
            "a worker shares its work with other processes through Kafka: set log = \"kafka://HOST:PORT\" \
             (the embedded log belongs to one process, and `tributary up` runs the processors itself)"
        );
    }
    let store = super::open_store(config).await?;
    let mut parts = vec![roles::kmeans(config, Some(id.clone()))?];
    parts.extend(roles::beside_kmeans(config)?);
    parts.extend(super::serve::operations_server(config).await?);
    let mut process =
        Process::new(config, format!("Tributary worker {id} is running."), Some(log), store, parts);
    process.footer = "Ctrl-C stops; the other workers take over.";
    run_process(process, signals).await
}

/// `tributary replay`: the stored model against one process replaying its micro-batches.
pub async fn replay(config: &Config, args: &ReplayArgs) -> anyhow::Result<ExitCode> {
    if !(args.tolerance >= 0.0 && args.tolerance.is_finite()) {
        anyhow::bail!("--tolerance {}: must be a number ≥ 0", args.tolerance);
    }
    let settings =
        config.mobile.kmeans.settings().map_err(|e| anyhow::anyhow!("config {}", e.within("mobile")))?;
    let model = args.model.clone().unwrap_or_else(|| config.mobile.kmeans.model.clone());
    let opened = super::open_log(config).await?;
    let sql = super::open_store(config).await?;
    let result = replay_one_process(&*opened, &sql, &model, &settings, args.tolerance).await;
    opened.close().await?;
    sql.close().await;
    match result {
        Ok(report) => {
            println!(
                "{}",
                serde_json::json!({
                    "model": model,
                    "versions": report.versions,
                    "points": report.points,
                    "folded_versions": report.folded,
                    "max_centre_error": report.max_centre_error,
                    "max_weight_error": report.max_weight_error,
                })
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("error: model '{model}' differs from one process: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// `<role>-<host>-<pid>`: unique among the processes of a cluster.
pub fn default_worker_id(role: &str) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into());
    format!("{role}-{host}-{}", std::process::id())
}

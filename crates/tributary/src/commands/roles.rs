//! The roles a process runs, each as tasks of its own: `up` runs every role; `ingest`,
//! `batch follow`, `worker` and `serve` run one each, so that on a Kafka cluster each can be
//! started (and scaled) apart. Here are the sources, the pulls and the batch runner (the API is
//! `serve::start_api`, the processors `worker`'s). Each function spawns its role's tasks onto
//! the process's [`Tasks`], which stop through the process's stop signal.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tributary_batch::{FollowConfig, Runner, follow};
use tributary_log::EventLog;
use tributary_sources::directory::{DirectorySourceConfig, run_directory_source};
use tributary_sources::generator::{Generator, GeneratorConfig, default_hotspots, publish_to_log};
use tributary_sources::mobile_file::ParseOptions;
use tributary_sources::pull::Puller;
use tributary_store::{ServingStore, SourceRun, SourceRuns};

use super::running::Tasks;
use crate::config::Config;
use crate::pull_import::{PullSchedule, PullSource, run_schedule};

/// The mobile pipeline's sources: the directory source on the inbox and, unless
/// `mobile.generator_rate = 0`, the generator, both publishing to `mobile.topic`.
pub fn spawn_mobile_sources(
    config: &Config,
    log: &Arc<dyn EventLog>,
    source_runs: &SourceRuns,
    stop: &watch::Receiver<bool>,
    tasks: &mut Tasks,
) -> anyhow::Result<()> {
    let m = &config.mobile;
    let inbox = config.inbox();
    let source_cfg = DirectorySourceConfig {
        dir: inbox.clone(),
        topic: m.topic.clone(),
        archive_dir: m.archive_dir.clone(),
        min_file_age: m.file_min_age,
        poll_interval: m.poll_interval,
        parse: ParseOptions { swap_lat_lon: m.swap_lat_lon, ..Default::default() },
        format: None,
        batch_records: 10_000,
        parallel_files: m.parallel_files,
    };
    let (l, s, runs) = (log.clone(), stop.clone(), source_runs.clone());
    let dir_source = format!("dir:{}", inbox.display());
    tasks.spawn(async move {
        let result = run_directory_source(l, source_cfg, s, |f| {
            tracing::info!(file = %f.name, events = f.events, dead_letters = f.dead_letters, failed = f.failed, "inbox file published");
            runs.record(SourceRun {
                source: dir_source.clone(),
                kind: "directory".into(),
                time_ms: tributary_log::now_ms(),
                rows: f.events,
                errors: f.dead_letters,
                failure: f.refused.clone().or_else(|| {
                    f.failed.then(|| format!("{}: not readable as events; moved to failed/", f.name))
                }),
            });
        })
        .await;
        ("directory source", result.map_err(Into::into))
    });

    if m.generator_rate > 0.0 {
        let gen_cfg = GeneratorConfig {
            seed: m.generator_seed,
            devices: m.generator_devices,
            hotspots: default_hotspots(),
            noise_share: 0.02,
            relocation_chance: 0.001,
            start_ms: tributary_log::now_ms(),
            step_ms: 1000.0 / m.generator_rate,
        };
        gen_cfg.validate().map_err(|e| anyhow::anyhow!("generator: {e}"))?;
        let (l, mut s, topic, rate) = (log.clone(), stop.clone(), m.topic.clone(), m.generator_rate);
        let runs = source_runs.clone();
        tasks.spawn(async move {
            let mut generator = Generator::new(gen_cfg);
            // One run a second: the events generated in it.
            let (source, mut since, mut events) = (format!("generator:{topic}"), Instant::now(), 0);
            let on_append = |n: u64| {
                events += n;
                if since.elapsed() >= Duration::from_secs(1) {
                    runs.record(SourceRun {
                        source: source.clone(),
                        kind: "generator".into(),
                        time_ms: tributary_log::now_ms(),
                        rows: std::mem::take(&mut events),
                        errors: 0,
                        failure: None,
                    });
                    since = Instant::now();
                }
            };
            let result =
                publish_to_log(&*l, &topic, &mut generator, Some(rate), None, &mut s, on_append).await;
            ("generator", result.map(|_| ()).map_err(Into::into))
        });
    }
    Ok(())
}

/// The line about the inbox that `up` and `ingest` print.
pub fn print_inbox(config: &Config) {
    let inbox = config.inbox();
    println!(
        "  inbox           {}   (tributary generate --out dir:{} adds files)",
        inbox.display(),
        inbox.display()
    );
}

/// The Markets × COVID pull sources (`markets.sources`), fetched into the lake on their
/// schedule; returns them (none: nothing spawned).
pub fn spawn_pulls(
    config: &Config,
    lake: &tributary_lake::Lake,
    log: &Arc<dyn EventLog>,
    source_runs: &SourceRuns,
    stop: &watch::Receiver<bool>,
    tasks: &mut Tasks,
) -> anyhow::Result<Vec<PullSource>> {
    let mk = &config.markets;
    let sources: Vec<PullSource> =
        mk.sources.iter().map(PullSource::from_config).collect::<anyhow::Result<_>>()?;
    if !sources.is_empty() {
        let schedule = PullSchedule {
            puller: Puller::new(mk.pull_limits())?,
            sources: sources.clone(),
            interval: mk.pull_interval,
            state_path: config.data_dir.join("pull-state.json"),
        };
        let (l, lk, s, runs) = (log.clone(), lake.clone(), stop.clone(), source_runs.clone());
        tasks.spawn(async move { ("pull sources", run_schedule(schedule, lk, l, runs, s).await) });
    }
    Ok(sources)
}

/// The batch runner: recomputes the published views that a "dataset updated" event on
/// `datasets` (consumer group `markets.batch_group`) or the schedule made stale, and publishes
/// them to the store. `views` overrides `markets.views`.
pub fn spawn_batch_runner(
    config: &Config,
    views: Option<&Path>,
    lake: &tributary_lake::Lake,
    log: &Arc<dyn EventLog>,
    store: &Arc<dyn ServingStore>,
    stop: &watch::Receiver<bool>,
    tasks: &mut Tasks,
) -> anyhow::Result<()> {
    let mk = &config.markets;
    let views = tributary_batch::views::load(views.or(mk.views.as_deref())).map_err(anyhow::Error::msg)?;
    let follow_cfg = FollowConfig {
        group: mk.batch_group.clone(),
        debounce: mk.batch_debounce,
        interval: Some(mk.batch_interval),
        ..FollowConfig::default()
    };
    let (l, s) = (log.clone(), stop.clone());
    let runner = Runner::new(lake.clone(), Some(store.clone()), views);
    tasks.spawn(async move {
        let result = follow(&runner, l, follow_cfg, s, |report| {
            for v in report.views.iter().filter(|v| v.published.is_some()) {
                tracing::info!(view = %v.name, rows = v.rows, compute_ms = v.compute.as_millis() as u64, publish_ms = v.publish.as_millis() as u64, "view published");
            }
        })
        .await;
        ("batch runner", result.map_err(Into::into))
    });
    Ok(())
}

/// Store retention (`[retention]`): every `check_interval`, old model versions are folded into
/// younger ones and old dead letters deleted. Runs where models are written (`up`, each
/// `worker`); passes from several processes at once are safe. A failed pass is logged and
/// tried again at the next interval.
pub fn spawn_store_retention(
    config: &Config,
    store: &Arc<dyn ServingStore>,
    stop: &watch::Receiver<bool>,
    tasks: &mut Tasks,
) {
    let (retention, every) = (config.retention.to_store(), config.retention.check_interval);
    let (store, mut stop) = (store.clone(), stop.clone());
    tasks.spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop.changed() => return ("store retention", Ok(())),
            }
            if let Err(e) = store.apply_retention(&retention, tributary_log::now_ms()).await {
                tracing::warn!(error = %e, "store retention failed; trying again at the next interval");
            }
        }
    });
}

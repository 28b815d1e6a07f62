//! The parts a process runs, built from the configuration: each is a [`Component`] (the
//! contract in `tributary-component`). `up` runs them all; `ingest`, `worker`, `batch follow`
//! and `serve` the parts of their role, so that on a Kafka cluster each role can be started
//! (and scaled) apart. [`super::running::run_process`] runs such a list.

use std::path::Path;

use tributary_batch::{BatchViews, FollowConfig};
use tributary_component::Component;
use tributary_processors::components::{DeadLetterSink, GroupKMeansWorker, KMeansProcessor, StoreRetention};
use tributary_processors::dead_letter_sink::sink_group;
use tributary_processors::kmeans_processor::KMeansProcessorConfig;
use tributary_sources::components::{DirectorySource, GeneratorSource};
use tributary_sources::directory::DirectorySourceConfig;
use tributary_sources::generator::{GeneratorConfig, default_hotspots};
use tributary_sources::mobile_file::ParseOptions;
use tributary_sources::pull::Puller;

use crate::config::Config;
use crate::pull_import::{PullSchedule, PullSource};

/// A list of parts.
pub type Parts = Vec<Box<dyn Component>>;

/// Records per log append of the directory source.
const INBOX_BATCH_RECORDS: usize = 10_000;

/// The mobile pipeline's sources: the directory source on the inbox and, unless
/// `mobile.generator_rate = 0`, the generator, both publishing to `mobile.topic`.
pub fn mobile_sources(config: &Config) -> anyhow::Result<Parts> {
    let m = &config.mobile;
    let mut parts: Parts = vec![Box::new(DirectorySource::new(DirectorySourceConfig {
        dir: config.inbox(),
        topic: m.topic.clone(),
        archive_dir: m.archive_dir.clone(),
        min_file_age: m.file_min_age,
        poll_interval: m.poll_interval,
        parse: ParseOptions { swap_lat_lon: m.swap_lat_lon, ..Default::default() },
        format: None,
        batch_records: INBOX_BATCH_RECORDS,
        parallel_files: m.parallel_files,
    }))];
    if m.generator_rate > 0.0 {
        let generator = GeneratorConfig {
            seed: m.generator_seed,
            devices: m.generator_devices,
            hotspots: default_hotspots(),
            start_ms: tributary_log::now_ms(),
            step_ms: 1000.0 / m.generator_rate,
            ..GeneratorConfig::default()
        };
        let source = GeneratorSource::new(generator, m.topic.clone(), m.generator_rate)
            .map_err(|e| anyhow::anyhow!("config section `mobile` (generator): {e}"))?;
        parts.push(Box::new(source));
    }
    Ok(parts)
}

/// The streaming k-means: in this process alone on the embedded log, or as a worker of a
/// consumer group (named `worker`) that other processes can join on Kafka.
pub fn kmeans(config: &Config, worker: Option<String>) -> anyhow::Result<Box<dyn Component>> {
    let m = &config.mobile;
    let failed = |e| anyhow::anyhow!("config section `mobile`: {e}");
    Ok(match worker {
        Some(id) => {
            Box::new(GroupKMeansWorker::new(m.group_kmeans(id).map_err(anyhow::Error::msg)?).map_err(failed)?)
        }
        None => Box::new(
            KMeansProcessor::new(KMeansProcessorConfig {
                name: m.model.clone(),
                topic: m.topic.clone(),
                settings: m.kmeans_settings().map_err(anyhow::Error::msg)?,
                max_batch_records: m.batch_max_records,
                batch_interval: m.batch_interval,
            })
            .map_err(failed)?,
        ),
    })
}

/// The parts that run beside the k-means wherever models are written: the dead-letter sink
/// (consumer group named after the model) and store retention (`[retention]`).
pub fn beside_kmeans(config: &Config) -> anyhow::Result<Parts> {
    let retention = StoreRetention::new(config.retention.to_store(), config.retention.check_interval)
        .map_err(|e| anyhow::anyhow!("config section `retention`: {e}"))?;
    Ok(vec![Box::new(DeadLetterSink::new(sink_group(&config.mobile.model))), Box::new(retention)])
}

/// The Markets × COVID pull sources (`markets.sources`), fetched into the lake on their
/// schedule; none when no source is configured.
pub fn pulls(config: &Config, lake: &tributary_lake::Lake) -> anyhow::Result<Parts> {
    let mk = &config.markets;
    let sources: Vec<PullSource> =
        mk.sources.iter().map(PullSource::from_config).collect::<anyhow::Result<_>>()?;
    if sources.is_empty() {
        return Ok(Vec::new());
    }
    Ok(vec![Box::new(PullSchedule {
        puller: Puller::new(mk.pull_limits())?,
        sources,
        interval: mk.pull_interval,
        state_path: config.data_dir.join("pull-state.json"),
        lake: lake.clone(),
    })])
}

/// The batch runner: recomputes the published views that a "dataset updated" event on
/// `datasets` (consumer group `markets.batch_group`) or the schedule made stale, and publishes
/// them to the store. `views` overrides `markets.views`.
pub fn batch_views(
    config: &Config,
    views: Option<&Path>,
    lake: &tributary_lake::Lake,
) -> anyhow::Result<Box<dyn Component>> {
    let mk = &config.markets;
    let views = tributary_batch::views::load(views.or(mk.views.as_deref())).map_err(anyhow::Error::msg)?;
    let follow = FollowConfig {
        group: mk.batch_group.clone(),
        debounce: mk.batch_debounce,
        interval: Some(mk.batch_interval),
        ..FollowConfig::default()
    };
    Ok(Box::new(BatchViews::new(lake.clone(), views, follow)))
}

//! The parts a process runs, built from the configuration: each is a [`Component`] (the
//! contract in `tributary-component`). `up` runs them all; `ingest`, `worker`, `batch follow`
//! and `serve` the parts of their role, so that on a Kafka cluster each role can be started
//! (and scaled) apart. [`super::running::run_process`] runs such a list.

use std::path::Path;

use tributary_batch::BatchViews;
use tributary_batch::engine::Engine;
use tributary_batch::views::View;
use tributary_component::Component;
use tributary_processors::components::{DeadLetterSink, GroupKMeansWorker, KMeansProcessor, StoreRetention};
use tributary_processors::dead_letter_sink::sink_group;
use tributary_sources::components::{DirectorySource, GeneratorSource};
use tributary_sources::pull::Puller;

use crate::config::Config;
use crate::markets_inbox::MarketsInbox;
use crate::pull_import::{PullSchedule, PullSource};

/// A list of parts.
pub type Parts = Vec<Box<dyn Component>>;

/// Records per log append of the directory source.
const INBOX_BATCH_RECORDS: usize = 10_000;

/// The mobile pipeline's sources: the directory source on the inbox and, unless
/// `mobile.generator_rate = 0`, the generator, both publishing to `mobile.topic`.
pub fn mobile_sources(config: &Config) -> anyhow::Result<Parts> {
    let m = &config.mobile;
    let inbox = m.directory.source(config.inbox(), &m.topic, m.topic_encoding, INBOX_BATCH_RECORDS);
    let mut parts: Parts = vec![Box::new(DirectorySource::new(inbox))];
    if let Some(generator) = m.generator.generator(tributary_log::now_ms()) {
        let source = GeneratorSource::new(generator, m.topic.clone(), m.generator.rate)
            .map_err(|e| anyhow::anyhow!("config section `mobile` (generator): {e}"))?
            .with_encoding(m.topic_encoding);
        parts.push(Box::new(source));
    }
    Ok(parts)
}

/// The streaming k-means: in this process alone on the embedded log, or as a worker of a
/// consumer group (named `worker`) that other processes can join on Kafka.
pub fn kmeans(config: &Config, worker: Option<String>) -> anyhow::Result<Box<dyn Component>> {
    let (kmeans, topic) = (&config.mobile.kmeans, &config.mobile.topic);
    let failed = |e: tributary_settings::KeyError| anyhow::anyhow!("config {}", e.within("mobile"));
    let built = |e| anyhow::anyhow!("config section `mobile`: {e}");
    Ok(match worker {
        Some(id) => {
            Box::new(GroupKMeansWorker::new(kmeans.group(topic, id).map_err(failed)?).map_err(built)?)
        }
        None => Box::new(KMeansProcessor::new(kmeans.processor(topic).map_err(failed)?).map_err(built)?),
    })
}

/// The parts that run beside the k-means wherever models are written: the dead-letter sink
/// (consumer group named after the model) and store retention (`[retention]`).
pub fn beside_kmeans(config: &Config) -> anyhow::Result<Parts> {
    let retention = StoreRetention::new(config.retention.clone())
        .map_err(|e| anyhow::anyhow!("config section `retention`: {e}"))?;
    Ok(vec![Box::new(DeadLetterSink::new(sink_group(&config.mobile.kmeans.model))), Box::new(retention)])
}

/// The Markets × COVID sources: the pulls of `markets.sources`, fetched into the lake on their
/// schedule (none when no source is configured), and the markets inbox.
pub fn pulls(config: &Config, lake: &tributary_lake::Lake) -> anyhow::Result<Parts> {
    let mk = &config.markets;
    let mut parts: Parts = vec![Box::new(MarketsInbox {
        dir: config.markets_inbox(),
        puller: Puller::new(mk.pull.clone())?,
        lake: lake.clone(),
        poll_interval: std::time::Duration::from_secs(1),
    })];
    let sources: Vec<PullSource> = mk.sources.clone();
    if !sources.is_empty() {
        parts.push(Box::new(PullSchedule {
            puller: Puller::new(mk.pull.clone())?,
            sources,
            interval: mk.pull_interval,
            state_path: config.data_dir.join("pull-state.json"),
            lake: lake.clone(),
        }));
    }
    Ok(parts)
}

/// The batch runner: recomputes the published views that a "dataset updated" event on
/// `datasets` (consumer group `markets.batch_group`) or the schedule made stale, and publishes
/// them to the store. `views` overrides `markets.views`.
pub async fn batch_views(
    config: &Config,
    views: Option<&Path>,
    lake: &tributary_lake::Lake,
) -> anyhow::Result<Box<dyn Component>> {
    let mk = &config.markets;
    let views = load_views(config, views).await?;
    Ok(Box::new(BatchViews::new(lake.clone(), views, mk.batch.clone())))
}

/// The views (from `views`, else `markets.views`, over the built-in ones), checked against what
/// the API reads of them (`tributary_api::views_read`): a published view that lacks a column an
/// endpoint needs is an error now, not at request time.
pub async fn load_views(config: &Config, views: Option<&Path>) -> anyhow::Result<Vec<View>> {
    let folder = views.or(config.markets.views.as_deref());
    let views = tributary_batch::views::load(folder).map_err(anyhow::Error::msg)?;
    let columns = Engine::output_columns(&views).await?;
    let published = columns
        .iter()
        .filter(|(name, _)| views.iter().any(|v| &v.name == name && v.published))
        .map(|(name, columns)| (name.as_str(), columns));
    tributary_api::views_read::check(published).map_err(|e| match folder {
        Some(folder) => anyhow::anyhow!("views of {}: {e}", folder.display()),
        None => anyhow::anyhow!("built-in views: {e}"),
    })?;
    Ok(views)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_built_in_views_have_every_column_the_api_reads() {
        let views = load_views(&Config::default(), None).await.unwrap();
        assert!(views.iter().any(|v| v.name == "correlations" && v.published));
    }
}

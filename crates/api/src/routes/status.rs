//! The pipeline's state: sources with their last run, rows and errors; topics with their offsets, consumer groups and processors with their
//! lag, dead letters, and the published views.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::response::Response;
use serde::Serialize;

use crate::error::ApiError;
use crate::json::json;
use crate::params::Params;
use crate::state::AppState;

/// The pipeline at one moment.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PipelineStatus {
    pub time_ms: i64,
    /// Every source that has run: pulls, inbox directories, HTTP ingest, generators.
    pub sources: Vec<SourceState>,
    pub topics: Vec<TopicStatus>,
    /// Log consumer groups (such as the batch runner) and processors that keep their offsets
    /// in the store (the k-means processor, the dead-letter sink).
    pub consumers: Vec<ConsumerStatus>,
    pub dead_letters: u64,
    /// The current version of each published view.
    pub views: BTreeMap<String, u64>,
    /// The newest version of the served model.
    pub model_version: Option<u64>,
    /// Per topic, records per second in each of the last (up to 119) seconds, oldest first.
    pub throughput: BTreeMap<String, Vec<f64>>,
}

/// A source: its runs added up (a pull, an inbox file, an ingest request, a stretch of generated
/// events), and the last of them.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SourceState {
    /// `kind:name`, such as `pull:file:///data/ecdc.csv`, `dir:/srv/inbox`, `http:mobile_data`.
    pub source: String,
    /// `pull`, `directory`, `http` or `generator`.
    pub kind: String,
    pub runs: u64,
    /// Records brought in, over all runs.
    pub rows: u64,
    /// Records sent to the dead letters, over all runs.
    pub errors: u64,
    /// Runs that failed as a whole.
    pub failures: u64,
    pub last_run_ms: i64,
    pub last_ok_ms: Option<i64>,
    pub last_rows: u64,
    pub last_errors: u64,
    pub last_failure: Option<String>,
    pub last_failure_ms: Option<i64>,
}

impl From<tributary_store::SourceStatus> for SourceState {
    fn from(s: tributary_store::SourceStatus) -> Self {
        Self {
            source: s.source,
            kind: s.kind,
            runs: s.runs,
            rows: s.rows,
            errors: s.errors,
            failures: s.failures,
            last_run_ms: s.last_run_ms,
            last_ok_ms: s.last_ok_ms,
            last_rows: s.last_rows,
            last_errors: s.last_errors,
            last_failure: s.last_failure,
            last_failure_ms: s.last_failure_ms,
        }
    }
}

/// A topic and its partitions' offsets.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TopicStatus {
    pub topic: String,
    pub partitions: Vec<PartitionStatus>,
    /// Records in the topic's retained range.
    pub records: u64,
}

/// One partition's retained range of offsets.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PartitionStatus {
    pub partition: u32,
    pub start_offset: u64,
    pub end_offset: u64,
    pub size_bytes: u64,
}

/// Where a consumer is, and how far behind the end of its topics.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConsumerStatus {
    pub name: String,
    /// `group` (offsets in the log) or `processor` (offsets in the store).
    pub kind: &'static str,
    /// Records between its committed offsets and the ends of the partitions it has read.
    pub lag: u64,
    pub positions: Vec<ConsumerPosition>,
}

/// A consumer's next offset on one partition.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConsumerPosition {
    pub topic: String,
    pub partition: u32,
    pub next_offset: u64,
    pub lag: u64,
}

/// Sources with their runs, topics with offsets, consumer groups and processors with lag, dead letters, view versions.
#[utoipa::path(get, path = "/api/v1/pipeline", tag = "pipeline", responses(
    (status = 200, body = PipelineStatus),
    (status = 503, body = crate::Problem, content_type = "application/problem+json"),
))]
pub async fn pipeline(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    Params::parse(query.as_deref(), &[])?;
    let (topics, consumers) = topics_and_consumers(&state).await?;
    let versions = state.versions.now();
    let sources = state.store.source_statuses().await?.into_iter().map(SourceState::from).collect();
    json(&PipelineStatus {
        time_ms: chrono::Utc::now().timestamp_millis(),
        sources,
        topics,
        consumers,
        dead_letters: state.store.dead_letter_count().await?,
        views: versions.views.clone(),
        model_version: versions.model,
        throughput: state.throughput.as_ref().map(|t| t.rates()).unwrap_or_default(),
    })
}

/// The topics with their offsets, and every consumer with its lag.
pub(crate) async fn topics_and_consumers(
    state: &AppState,
) -> Result<(Vec<TopicStatus>, Vec<ConsumerStatus>), ApiError> {
    let mut topics = Vec::new();
    let mut ends: BTreeMap<(String, u32), u64> = BTreeMap::new();
    let mut consumers = Vec::new();
    if let Some(log) = &state.log {
        for t in log.describe_topics().await? {
            let partitions: Vec<PartitionStatus> = t
                .partitions
                .iter()
                .map(|p| {
                    ends.insert((t.name.clone(), p.partition), p.offsets.end);
                    PartitionStatus {
                        partition: p.partition,
                        start_offset: p.offsets.start,
                        end_offset: p.offsets.end,
                        size_bytes: p.size_bytes,
                    }
                })
                .collect();
            let records = partitions.iter().map(|p| p.end_offset - p.start_offset).sum();
            topics.push(TopicStatus { topic: t.name, partitions, records });
        }
        for g in log.group_offsets().await? {
            let positions =
                g.offsets.into_iter().map(|(tp, next)| (tp.topic.to_string(), tp.partition, next));
            consumers.push(consumer(g.group, "group", positions, &ends));
        }
    }
    let mut processors: BTreeMap<String, Vec<(String, u32, u64)>> = BTreeMap::new();
    for (processor, c) in state.store.all_processor_offsets().await? {
        processors.entry(processor).or_default().push((c.topic, c.partition, c.next_offset));
    }
    for (name, positions) in processors {
        consumers.push(consumer(name, "processor", positions.into_iter(), &ends));
    }
    Ok((topics, consumers))
}

fn consumer(
    name: String,
    kind: &'static str,
    positions: impl Iterator<Item = (String, u32, u64)>,
    ends: &BTreeMap<(String, u32), u64>,
) -> ConsumerStatus {
    let positions: Vec<ConsumerPosition> = positions
        .map(|(topic, partition, next_offset)| {
            let end = ends.get(&(topic.clone(), partition)).copied().unwrap_or(next_offset);
            ConsumerPosition { topic, partition, next_offset, lag: end.saturating_sub(next_offset) }
        })
        .collect();
    let lag = positions.iter().map(|p| p.lag).sum();
    ConsumerStatus { name, kind, lag, positions }
}

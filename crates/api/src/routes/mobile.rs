//! The streaming k-means model: the newest version, the history, and the newest events.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tributary_cache::CacheKey;
use tributary_store::KMeansVersionRow;

use crate::error::ApiError;
use crate::json::cached_json;
use crate::params::Params;
use crate::query::{self, Id, Int, Millis};
use crate::state::AppState;

/// A model version: its centres in lat/lon with their weights and the points of its batch.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ModelVersion {
    pub model: String,
    pub version: u64,
    /// When the version was made, in milliseconds since the Unix epoch.
    pub created_ms: i64,
    /// For a model on event time (`mobile.time = "event"`): the end (exclusive) of the
    /// event-time window this version was made from, in milliseconds since the Unix epoch, on
    /// the events' own clock; NULL on processing time.
    pub event_time_ms: Option<i64>,
    /// Points in the micro-batches this version stands for.
    pub batch_points: u64,
    /// How many micro-batches this version stands for: 1, or more where store retention folded
    /// older versions into it (one per minute after 10 minutes, per hour after a day …).
    pub batches: u64,
    /// The clusters split by this version (largest, smallest), if any.
    pub split: Option<(u32, u32)>,
    /// How well the clusters fit the batch: the within-cluster sum of squared distances of its
    /// points to the centres they were assigned to, in km² (with `projection = "none"`, in
    /// degrees²); summed over the batches of a folded version. Divide by `batch_points` for the
    /// mean squared distance. NULL for versions made before it was kept.
    pub sum_of_squares: Option<f64>,
    /// The silhouette (−1 to 1; near 1: tight clusters well apart, near 0: overlapping) of up to
    /// 250 of the batch's points taken at an even stride through it, against this version's
    /// centres; the mean over the batches of a folded version. NULL where the sample falls in
    /// fewer than two clusters.
    pub silhouette: Option<f64>,
    pub centres: Vec<Centre>,
}

/// One cluster centre.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Centre {
    pub cluster: u32,
    pub lat: f64,
    pub lon: f64,
    /// The decayed weight (Spark's rule).
    pub weight: f64,
    /// The weight as a share of all centres' weights.
    pub share: f64,
    /// Points of this version's batches assigned to the cluster.
    pub count: u64,
}

impl From<KMeansVersionRow> for ModelVersion {
    fn from(v: KMeansVersionRow) -> Self {
        let total: f64 = v.centres.iter().map(|c| c.weight).sum();
        let centres = v
            .centres
            .into_iter()
            .map(|c| Centre {
                cluster: c.cluster,
                lat: c.lat,
                lon: c.lon,
                weight: c.weight,
                share: if total > 0.0 { c.weight / total } else { 0.0 },
                count: c.batch_count,
            })
            .collect();
        Self {
            model: v.model,
            version: v.version,
            created_ms: v.created_ms,
            event_time_ms: v.event_time_ms,
            batch_points: v.batch_points,
            batches: v.batches,
            split: v.split,
            sum_of_squares: v.sum_of_squares,
            silhouette: v.silhouette,
            centres,
        }
    }
}

/// The newest version of the model.
#[utoipa::path(get, path = "/api/v1/mobile/clusters", tag = "mobile", responses(
    (status = 200, body = ModelVersion),
    (status = 404, description = "no model version yet", body = crate::Problem, content_type = "application/problem+json"),
))]
pub async fn latest(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    Params::parse(query.as_deref(), &[])?;
    let (model, version) = newest_version(&state)?;
    let key = CacheKey::new("mobile/clusters").param("model", &model).version("model", version);
    cached_json(&state, key, || async {
        Ok(ModelVersion::from(model_version(&state, &model, version).await?))
    })
    .await
}

/// The model's name and its newest version.
pub(crate) fn newest_version(state: &AppState) -> Result<(String, u64), ApiError> {
    let model = state.config.model.clone();
    match state.versions.now().model {
        Some(version) => Ok((model, version)),
        None => Err(ApiError::not_found(format!("model {model:?} has no version yet"))),
    }
}

/// One stored version of the model.
pub(crate) async fn model_version(
    state: &AppState,
    model: &str,
    version: u64,
) -> Result<KMeansVersionRow, ApiError> {
    let mut rows = state.store.kmeans_history(model, version, version, 1).await?;
    rows.pop().ok_or_else(|| ApiError::not_found(format!("model {model:?} has no version {version}")))
}

/// The parameters of `/mobile/clusters/history`.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// first version (default 1)
    #[param(inline)]
    from_version: Option<Id>,
    /// last version (default: the newest; before from_version: nothing)
    #[param(inline)]
    to_version: Option<Id>,
    /// only versions made at or after this time (ms since the epoch)
    #[param(inline)]
    since_ms: Option<Millis>,
    /// only versions made at or before this time
    #[param(inline)]
    until_ms: Option<Millis>,
    /// at most this many versions (default 100)
    #[param(inline)]
    limit: Option<Int<1, 1000>>,
}

/// The parameters of `/mobile/recent`.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecentQuery {
    /// at most this many events (default 500)
    #[param(inline)]
    limit: Option<Int<1, 5000>>,
}

/// Versions of the model, oldest first.
#[utoipa::path(get, path = "/api/v1/mobile/clusters/history", tag = "mobile",
    params(HistoryQuery),
    responses((status = 200, body = [ModelVersion]), (status = 400, body = crate::Problem, content_type = "application/problem+json")),
)]
pub async fn history(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let (q, _) = query::parse::<HistoryQuery>(query.as_deref())?;
    let from = q.from_version.map_or(1, |v| v.0 as u64);
    let newest = state.versions.now().model.unwrap_or(0);
    let to = q.to_version.map_or(newest, |v| v.0 as u64);
    let (since, until) = (q.since_ms.map(|t| t.0), q.until_ms.map(|t| t.0));
    let limit = q.limit.map_or(100, |l| l.0) as u32;
    if from > to {
        // An empty range (no model yet, say): nothing, as the document says.
        return Ok(axum::Json(Vec::<ModelVersion>::new()).into_response());
    }
    let model = state.config.model.clone();
    let key = CacheKey::new("mobile/clusters/history")
        .param("model", &model)
        .param("from", from)
        .param("to", to)
        .param("since", format!("{since:?}"))
        .param("until", format!("{until:?}"))
        .param("limit", limit)
        .version("model", newest);
    cached_json(&state, key, || async {
        // Versions are made in time order, so a time range is a version range: its ends are
        // found by filtering one page of versions.
        let rows = state
            .store
            .kmeans_history(
                &model,
                from,
                to,
                limit.saturating_mul(if since.is_some() || until.is_some() { 10 } else { 1 }).min(10_000),
            )
            .await?;
        let versions: Vec<ModelVersion> = rows
            .into_iter()
            .filter(|v| since.is_none_or(|s| v.created_ms >= s) && until.is_none_or(|u| v.created_ms <= u))
            .take(limit as usize)
            .map(ModelVersion::from)
            .collect();
        Ok(versions)
    })
    .await
}

/// The newest events of the mobile topic: where devices were lately (for the map).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RecentEvents {
    pub topic: String,
    /// Newest first.
    pub events: Vec<RecentEvent>,
}

/// One event's position.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RecentEvent {
    pub partition: u32,
    pub offset: u64,
    /// When the event entered the log, in milliseconds since the Unix epoch.
    pub log_time_ms: i64,
    pub device: String,
    pub lat: f64,
    pub lon: f64,
}

/// The newest events of the mobile topic, read from the end of each partition of the log (not
/// cached: always the log's newest).
#[utoipa::path(get, path = "/api/v1/mobile/recent", tag = "mobile",
    params(RecentQuery),
    responses(
        (status = 200, body = RecentEvents),
        (status = 400, body = crate::Problem, content_type = "application/problem+json"),
        (status = 404, description = "no event log, or no mobile topic yet", body = crate::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn recent(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let (q, _) = query::parse::<RecentQuery>(query.as_deref())?;
    let limit = q.limit.map_or(500, |l| l.0) as usize;
    let events = newest_events(&state, limit).await?;
    crate::json::json(&RecentEvents { topic: state.config.mobile_topic.clone(), events })
}

/// The newest `limit` mobile events of the log's topic, newest first: each partition's newest
/// `limit / partitions` (rounded up), since partitions keyed by device fill at about the same
/// pace. Records that are not mobile events are skipped.
pub(crate) async fn newest_events(state: &AppState, limit: usize) -> Result<Vec<RecentEvent>, ApiError> {
    let log = state.log.as_ref().ok_or_else(|| ApiError::not_found("this server has no event log"))?;
    let topic = &state.config.mobile_topic;
    let log_error = |e: tributary_log::LogError| match e {
        tributary_log::LogError::UnknownTopic(_) => ApiError::not_found(format!("no topic {topic:?} yet")),
        e => ApiError::from(e),
    };
    let partitions = log.partition_count(topic).await.map_err(log_error)?;
    let per_partition = limit.div_ceil(partitions.max(1) as usize);
    let mut events = Vec::with_capacity(limit);
    for partition in 0..partitions {
        let offsets = log.offsets(topic, partition).await.map_err(log_error)?;
        let from = offsets.end.saturating_sub(per_partition as u64).max(offsets.start);
        if from >= offsets.end {
            continue;
        }
        let limits = tributary_log::ReadLimits { max_records: per_partition, max_bytes: 4 << 20 };
        let read = match log.read(topic, partition, from, limits).await {
            // Retention removed the range meanwhile: nothing recent to show there.
            Err(tributary_log::LogError::OffsetOutOfRange { .. }) => continue,
            other => other.map_err(log_error)?,
        };
        // Records other producers put there that are not mobile events are skipped.
        events.extend(read.into_iter().filter_map(|r| {
            let e = tributary_processors::mobile_record::event(&r.record).ok()?;
            Some(RecentEvent {
                partition,
                offset: r.offset,
                log_time_ms: r.record.timestamp,
                device: e.device_id,
                lat: e.latitude,
                lon: e.longitude,
            })
        }));
    }
    events.sort_by(|a, b| b.log_time_ms.cmp(&a.log_time_ms).then(b.offset.cmp(&a.offset)));
    events.truncate(limit);
    Ok(events)
}

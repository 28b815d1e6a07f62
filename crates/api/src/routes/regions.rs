//! Regions: which cluster a position belongs to, and how many events each cluster took lately.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::response::Response;
use serde::Serialize;
use tributary_cache::CacheKey;
use tributary_schema::projection::{Projection, haversine_km};
use tributary_store::{KMeansVersionRow, TimeAxis};

use super::mobile::{Centre, ModelVersion, model_version, newest_version};
use crate::error::ApiError;
use crate::json::{cached_json, json};
use crate::query::{self, Int, Latitude, Longitude};
use crate::state::AppState;

/// The cluster a position belongs to in the newest model version.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Assignment {
    pub model: String,
    pub version: u64,
    pub lat: f64,
    pub lon: f64,
    /// The nearest centre in the model's space (ties to the lowest cluster number), as the
    /// processor assigns an event.
    pub cluster: u32,
    /// The great-circle distance from the position to that centre.
    pub distance_km: f64,
    pub centre: Centre,
}

/// The parameters of `/mobile/assign`.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PositionQuery {
    /// latitude in degrees
    #[param(inline)]
    lat: Latitude,
    /// longitude in degrees
    #[param(inline)]
    lon: Longitude,
}

/// The parameters of `/mobile/counts`.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CountsQuery {
    /// seconds (default 60)
    #[param(inline)]
    window: Option<Int<1, 86_400>>,
}

/// Which cluster a position (an event's latitude and longitude) belongs to, in the newest
/// version of the model.
#[utoipa::path(get, path = "/api/v1/mobile/assign", tag = "mobile",
    params(PositionQuery),
    responses(
        (status = 200, body = Assignment),
        (status = 400, body = crate::Problem, content_type = "application/problem+json"),
        (status = 404, description = "no model version yet", body = crate::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn assign(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let (q, _) = query::parse::<PositionQuery>(query.as_deref())?;
    let (lat, lon) = (q.lat.0, q.lon.0);
    let (model, version) = newest_version(&state)?;
    let key = CacheKey::new("mobile/assign")
        .param("model", &model)
        .param("lat", lat.to_bits())
        .param("lon", lon.to_bits())
        .version("model", version);
    cached_json(&state, key, || async { nearest(model_version(&state, &model, version).await?, lat, lon) })
        .await
}

/// The centre of `row` nearest to (lat, lon), measured as the model measures: in its projection.
fn nearest(row: KMeansVersionRow, lat: f64, lon: f64) -> Result<Assignment, ApiError> {
    let projection: Projection = serde_json::from_str(&row.projection).map_err(|e| {
        ApiError::internal(format!(
            "model {:?} version {}: unreadable projection: {e}",
            row.model, row.version
        ))
    })?;
    let [x, y] = projection.forward(lat, lon);
    let squared = |c: &tributary_store::CentreRow| (c.x - x).powi(2) + (c.y - y).powi(2);
    let best = row
        .centres
        .iter()
        .enumerate()
        .min_by(|(i, a), (j, b)| squared(a).total_cmp(&squared(b)).then(i.cmp(j)))
        .map(|(i, _)| i)
        .ok_or_else(|| {
            ApiError::internal(format!("model {:?} version {} has no centres", row.model, row.version))
        })?;
    let (model, version) = (row.model.clone(), row.version);
    let centre = ModelVersion::from(row).centres.swap_remove(best);
    Ok(Assignment {
        model,
        version,
        lat,
        lon,
        cluster: centre.cluster,
        distance_km: haversine_km([lat, lon], [centre.lat, centre.lon]),
        centre,
    })
}

/// Events per cluster over the last `window` seconds: the live counts per region.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RegionCounts {
    pub model: String,
    /// The newest version, whose centres say where each cluster is.
    pub version: u64,
    pub window_s: u64,
    /// The versions at or after this time (ms since the epoch) are counted: made at or after
    /// it, or, for a model on event time, whose event-time window ends at or after it (the
    /// window then ends at the newest version's window end, not now).
    pub since_ms: i64,
    /// Events in the window, all clusters.
    pub points: u64,
    pub regions: Vec<RegionCount>,
}

/// One cluster's events in the window.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RegionCount {
    pub cluster: u32,
    /// Where the cluster's centre is in the newest version.
    pub lat: f64,
    pub lon: f64,
    pub points: u64,
    /// `points` over the window.
    pub per_second: f64,
    /// Model versions (micro-batches) in the window.
    pub versions: u64,
}

/// Events per cluster over the last seconds (not cached: the window moves with the clock).
#[utoipa::path(get, path = "/api/v1/mobile/counts", tag = "mobile",
    params(CountsQuery),
    responses(
        (status = 200, body = RegionCounts),
        (status = 400, body = crate::Problem, content_type = "application/problem+json"),
        (status = 404, description = "no model version yet", body = crate::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn counts(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let (q, _) = query::parse::<CountsQuery>(query.as_deref())?;
    let window_s = q.window.map_or(60, |w| w.0) as u64;
    let (model, version) = newest_version(&state)?;
    let newest = model_version(&state, &model, version).await?;
    // A model on event time counts the last seconds of the events' own clock (a replay of last
    // year's traces shows last year's counts); one on processing time, the last seconds now.
    let (axis, until_ms) = match newest.event_time_ms {
        Some(t) => (TimeAxis::Event, t),
        None => (TimeAxis::Processing, tributary_log::now_ms()),
    };
    let since_ms = until_ms - (window_s as i64) * 1000;
    let counted = state.store.kmeans_cluster_counts(&model, since_ms, axis).await?;
    let regions: Vec<RegionCount> = newest
        .centres
        .iter()
        .map(|c| {
            let found = counted.iter().find(|n| n.cluster == c.cluster);
            let points = found.map_or(0, |n| n.points);
            RegionCount {
                cluster: c.cluster,
                lat: c.lat,
                lon: c.lon,
                points,
                per_second: points as f64 / window_s as f64,
                versions: found.map_or(0, |n| n.versions),
            }
        })
        .collect();
    let points = regions.iter().map(|r| r.points).sum();
    json(&RegionCounts { model, version, window_s, since_ms, points, regions })
}

#[cfg(test)]
mod tests {
    use tributary_store::CentreRow;

    use super::*;

    fn row(centres: &[(f64, f64)], projection: &str) -> KMeansVersionRow {
        KMeansVersionRow {
            model: "m".into(),
            version: 3,
            created_ms: 0,
            event_time_ms: None,
            batch_points: 0,
            batches: 1,
            projection: projection.into(),
            split: None,
            sum_of_squares: None,
            silhouette: None,
            centres: centres
                .iter()
                .enumerate()
                .map(|(i, &(lat, lon))| CentreRow {
                    cluster: i as u32,
                    lat,
                    lon,
                    weight: 1.0,
                    batch_count: 0,
                    x: lat,
                    y: lon,
                })
                .collect(),
            offsets: vec![],
        }
    }

    #[test]
    fn the_nearest_centre_wins_and_a_tie_goes_to_the_lower_cluster() {
        let raw = r#"{"kind":"none"}"#;
        let a = nearest(row(&[(50.0, 10.0), (52.0, 10.0), (52.0, 10.0)], raw), 51.9, 10.0).unwrap();
        assert_eq!(a.cluster, 1);
        let tie = nearest(row(&[(50.0, 10.0), (52.0, 10.0)], raw), 51.0, 10.0).unwrap();
        assert_eq!(tie.cluster, 0);
        assert!((tie.distance_km - 111.2).abs() < 0.1, "{}", tie.distance_km);
    }

    #[test]
    fn a_damaged_model_is_an_error_not_a_panic() {
        let bad = nearest(row(&[(50.0, 10.0)], "{}"), 50.0, 10.0).unwrap_err();
        assert_eq!(bad.status, axum::http::StatusCode::INTERNAL_SERVER_ERROR);
        let empty = nearest(row(&[], r#"{"kind":"none"}"#), 50.0, 10.0).unwrap_err();
        // The reason goes to the server's log; the client is told only that it is there.
        assert_eq!(empty.status, axum::http::StatusCode::INTERNAL_SERVER_ERROR);
        assert!(
            empty.detail.contains("its log says why") && !empty.detail.contains("centres"),
            "{}",
            empty.detail
        );
    }
}

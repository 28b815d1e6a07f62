//! Markets × COVID: the daily series (with week and month buckets) and the correlations, read
//! from the published batch views.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::response::Response;
use chrono::{Datelike, NaiveDate};
use serde::Serialize;
use serde_json::{Map, Value as Json};
use tributary_cache::CacheKey;
use tributary_store::{Filter, OrderBy, Value, ViewQuery, ViewRows};

use crate::choices::{self, Aggregation, Bucket, Coefficient, Kind, Measure, Metric, SeriesKind};
use crate::error::ApiError;
use crate::json::cached_json;
use crate::params::Params;
use crate::state::AppState;

/// Rows of one version of a view.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ViewPage {
    pub view: String,
    pub version: u64,
    pub published_ms: i64,
    /// One object per row, by column name (the view's SQL file documents its columns).
    #[schema(value_type = Vec<Object>)]
    pub rows: Vec<Map<String, Json>>,
}

impl From<ViewRows> for ViewPage {
    fn from(r: ViewRows) -> Self {
        let rows = r
            .rows
            .into_iter()
            .map(|row| r.columns.iter().zip(row).map(|(c, v)| (c.name.clone(), json_value(v))).collect())
            .collect();
        Self { view: r.version.view, version: r.version.version, published_ms: r.version.published_ms, rows }
    }
}

fn json_value(v: Value) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Integer(i) => i.into(),
        // Non-finite floats have no JSON form.
        Value::Real(r) => serde_json::Number::from_f64(r).map_or(Json::Null, Json::Number),
        Value::Text(t) => t.into(),
        Value::Boolean(b) => b.into(),
    }
}

/// A daily series, bucketed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Series {
    pub series: String,
    pub metric: String,
    pub bucket: String,
    /// How a bucket's value is made from its days: `sum`, `mean` or `last`.
    pub aggregation: String,
    pub view: String,
    pub version: u64,
    pub points: Vec<Point>,
}

/// One bucket of a series.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Point {
    /// The first day of the bucket (a Monday for weeks).
    pub date: String,
    pub value: Option<f64>,
    /// Days with a value in the bucket.
    pub days: u32,
}

/// The current version of a view, or 404.
fn view_version(state: &AppState, view: &str) -> Result<u64, ApiError> {
    state
        .versions
        .now()
        .views
        .get(view)
        .copied()
        .ok_or_else(|| ApiError::not_found(format!("view {view} has not been published yet")))
}

/// A series id: a geoId, WORLD, EU27 or CONTINENT:<name>; `default` when not given, required
/// when there is none. The OpenAPI document's pattern, `^[A-Za-z0-9:_ -]{1,64}$`, says the same.
fn series_id(p: &Params, name: &str, default: Option<&str>) -> Result<String, ApiError> {
    let v = match (p.non_empty(name, "a series")?, default) {
        (Some(v), _) => v,
        (None, Some(default)) => default,
        (None, None) => return Err(ApiError::bad_request(format!("parameter {name} is required"))),
    };
    if v.len() <= 64 && v.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '-' | ' ')) {
        Ok(v.to_string())
    } else {
        Err(ApiError::bad_request(format!(
            "parameter {name}: {v:?} is not a series (a geoId such as IT, WORLD, EU27 or CONTINENT:Europe)"
        )))
    }
}

/// A price series' symbol (default `^GDAXI`, the DAX): printable ASCII without spaces, as the
/// document's pattern `^[!-~]{1,32}$` says.
fn symbol(p: &Params) -> Result<String, ApiError> {
    let v = p.non_empty("symbol", "a price symbol")?.unwrap_or("^GDAXI");
    if !v.is_empty() && v.len() <= 32 && v.chars().all(|c| c.is_ascii_graphic()) {
        Ok(v.to_string())
    } else {
        Err(ApiError::bad_request(format!("parameter symbol: {v:?} is not a price symbol (such as ^GDAXI)")))
    }
}

/// The dates from `from` to `to`, both included (`from` after `to` is an empty range).
fn date_range(p: &Params) -> Result<Filter, ApiError> {
    let (from, to) = (p.date("from")?, p.date("to")?);
    Ok(Filter::Range {
        column: "date".into(),
        min: from.map(|d| Value::Text(d.to_string())),
        max: to.map(|d| Value::Text(d.to_string())),
    })
}

/// A daily series of one country or aggregate (or the index close), in day, week or month
/// buckets.
#[utoipa::path(get, path = "/api/v1/markets/series", tag = "markets",
    params(
        ("series" = Option<String>, Query, pattern = "^[A-Za-z0-9:_ -]{1,64}$", description = "geoId, WORLD, EU27 or CONTINENT:<name> (default WORLD; not used for metric=close)"),
        ("metric" = inline(Option<Metric>), Query, description = "the column (default cases); close is the price series'"),
        ("symbol" = Option<String>, Query, pattern = "^[!-~]{1,32}$", description = "price series for metric=close (default ^GDAXI)"),
        ("from" = Option<String>, Query, format = Date, description = "first date, YYYY-MM-DD"),
        ("to" = Option<String>, Query, format = Date, description = "last date, YYYY-MM-DD (before from: nothing)"),
        ("bucket" = inline(Option<Bucket>), Query, description = "day, week or month (default day)"),
    ),
    responses((status = 200, body = Series), (status = 400, body = crate::Problem, content_type = "application/problem+json"), (status = 404, body = crate::Problem, content_type = "application/problem+json")),
)]
pub async fn series(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let p = Params::parse(query.as_deref(), &["series", "metric", "symbol", "from", "to", "bucket"])?;
    let metric = p.choice("metric")?.unwrap_or(Metric::Cases);
    let (view, aggregation) = (metric.view(), metric.aggregation());
    let bucket = p.choice("bucket")?.unwrap_or(Bucket::Day);
    // Both are checked whichever the metric uses, so that a bad one is never silently ignored.
    let (series, symbol) = (series_id(&p, "series", Some("WORLD"))?, symbol(&p)?);
    let (key_column, id) = if metric == Metric::Close { ("symbol", symbol) } else { ("series", series) };
    let (metric, bucket_name) = (choices::name(&metric), choices::name(&bucket));
    let range = date_range(&p)?;
    let version = view_version(&state, view)?;
    let key = CacheKey::new("markets/series")
        .param("id", &id)
        .param("metric", &metric)
        .param("bucket", &bucket_name)
        .param("range", format!("{range:?}"))
        .version(view, version);
    cached_json(&state, key, || async {
        let mut q = ViewQuery::new(view)
            .select(&["date", metric.as_str()])
            .filter(Filter::Eq(key_column.into(), Value::Text(id.clone())))
            .filter(range)
            .order(OrderBy::asc("date"))
            .limit(100_000);
        q.version = Some(version);
        let rows = state.store.query_view(&q).await?;
        if rows.rows.is_empty() {
            return Err(ApiError::not_found(format!(
                "no {metric} for {key_column} {id:?} in {view} version {version}"
            )));
        }
        let days: Vec<(NaiveDate, Option<f64>)> = rows
            .rows
            .iter()
            .filter_map(|r| match (&r[0], &r[1]) {
                (Value::Text(d), v) => Some((NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()?, number(v))),
                _ => None,
            })
            .collect();
        Ok(Series {
            series: id.clone(),
            metric: metric.clone(),
            bucket: bucket_name.clone(),
            aggregation: choices::name(&aggregation),
            view: view.to_string(),
            version,
            points: buckets(&days, bucket, aggregation),
        })
    })
    .await
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(i) => Some(*i as f64),
        Value::Real(r) if r.is_finite() => Some(*r),
        _ => None,
    }
}

/// Days (in date order) grouped into buckets: the sum, mean or last of the values present.
fn buckets(days: &[(NaiveDate, Option<f64>)], bucket: Bucket, aggregation: Aggregation) -> Vec<Point> {
    let start = |d: NaiveDate| match bucket {
        Bucket::Week => d - chrono::Duration::days(i64::from(d.weekday().num_days_from_monday())),
        Bucket::Month => d.with_day(1).expect("day 1 exists"),
        Bucket::Day => d,
    };
    let mut points: Vec<Point> = Vec::new();
    let mut values: Vec<f64> = Vec::new();
    let mut current: Option<NaiveDate> = None;
    let flush = |date: Option<NaiveDate>, values: &mut Vec<f64>, points: &mut Vec<Point>| {
        if let Some(date) = date {
            let value = match (aggregation, values.is_empty()) {
                (_, true) => None,
                (Aggregation::Sum, _) => Some(values.iter().sum()),
                (Aggregation::Mean, _) => Some(values.iter().sum::<f64>() / values.len() as f64),
                (Aggregation::Last, _) => values.last().copied(),
            };
            points.push(Point { date: date.to_string(), value, days: values.len() as u32 });
            values.clear();
        }
    };
    for (d, v) in days {
        let b = start(*d);
        if current != Some(b) {
            flush(current, &mut values, &mut points);
            current = Some(b);
        }
        values.extend(v);
    }
    flush(current, &mut values, &mut points);
    points
}

fn measure_filters(p: &Params, mut q: ViewQuery) -> Result<ViewQuery, ApiError> {
    if let Some(m) = p.choice::<Measure>("measure")? {
        q = q.filter(Filter::Eq("measure".into(), Value::Text(choices::name(&m))));
    }
    if let Some(k) = p.choice::<Kind>("kind")? {
        q = q.filter(Filter::Eq("kind".into(), Value::Text(choices::name(&k))));
    }
    Ok(q)
}

/// The COVID series there are (every country, continent, the EU-27 and the world): id, name,
/// kind, the dates covered and the totals; for pickers.
#[utoipa::path(get, path = "/api/v1/markets/catalogue", tag = "markets",
    params(
        ("kind" = inline(Option<SeriesKind>), Query, description = "only series of this kind"),
    ),
    responses((status = 200, body = ViewPage), (status = 400, body = crate::Problem, content_type = "application/problem+json"), (status = 404, body = crate::Problem, content_type = "application/problem+json")),
)]
pub async fn catalogue(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let p = Params::parse(query.as_deref(), &["kind"])?;
    let mut q = ViewQuery::new("series_catalogue")
        .order(OrderBy::asc("kind"))
        .order(OrderBy::asc("series_name"))
        .limit(10_000);
    if let Some(kind) = p.choice::<SeriesKind>("kind")? {
        q = q.filter(Filter::Eq("kind".into(), Value::Text(choices::name(&kind))));
    }
    view_page(&state, "markets/catalogue", q, &p).await
}

/// Lagged correlations of one series: Pearson and Spearman with n and p-values, per measure,
/// kind and lag (the correlogram).
///
/// Columns (the `correlations` view): `n`, `pearson`, `pearson_p`, `spearman`, `spearman_p` and
/// `reason` (why a statistic is NULL) as SciPy computes them, assuming independent pairs; and the
/// inference that holds for autocorrelated series: `n_eff` (the effective number of pairs,
/// n / (1 + 2·Σ_{k≤n/5} ((n−k)/n)·r_x(k)·r_y(k)), clamped to [3, n]; `spearman_n_eff` the same on
/// the ranks), `pearson_p_adj` and `spearman_p_adj` (the p-values with n_eff − 2 degrees of
/// freedom), and `pearson_q`, `spearman_q` (Benjamini–Hochberg q-values of the adjusted p-values
/// over the whole table per measure and kind). Significant at a 5 % false discovery rate: q < 0.05.
#[utoipa::path(get, path = "/api/v1/markets/correlations", tag = "markets",
    params(
        ("series" = String, Query, pattern = "^[A-Za-z0-9:_ -]{1,64}$", description = "geoId, WORLD, EU27 or CONTINENT:<name>"),
        ("measure" = inline(Option<Measure>), Query, description = "only this measure"),
        ("kind" = inline(Option<Kind>), Query, description = "only this kind"),
        ("lag" = Option<i64>, Query, minimum = -28, maximum = 28, description = "only this lag in days; > 0: COVID leads the market"),
    ),
    responses((status = 200, body = ViewPage), (status = 400, body = crate::Problem, content_type = "application/problem+json")),
)]
pub async fn correlations(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let p = Params::parse(query.as_deref(), &["series", "measure", "kind", "lag"])?;
    let series = series_id(&p, "series", None)?;
    let lag = p.int("lag", -28, 28, None)?;
    let mut q = measure_filters(&p, ViewQuery::new("correlations"))?
        .filter(Filter::Eq("series".into(), Value::Text(series.clone())))
        .order(OrderBy::asc("measure"))
        .order(OrderBy::asc("kind"))
        .order(OrderBy::asc("lag"))
        .limit(10_000);
    if let Some(lag) = lag {
        q = q.filter(Filter::Eq("lag".into(), Value::Integer(lag)));
    }
    view_page(&state, "markets/correlations", q, &p).await
}

/// The strongest correlations across series at one measure, kind and lag, by absolute value;
/// rows as in `/api/v1/markets/correlations`, with `n_eff`, the adjusted p-values and q-values.
#[utoipa::path(get, path = "/api/v1/markets/correlations/strongest", tag = "markets",
    params(
        ("measure" = inline(Option<Measure>), Query, description = "default cases"),
        ("kind" = inline(Option<Kind>), Query, description = "default levels"),
        ("lag" = Option<i64>, Query, minimum = -28, maximum = 28, description = "days (default 0)"),
        ("by" = inline(Option<Coefficient>), Query, description = "the coefficient to rank by (default pearson)"),
        ("min_n" = Option<i64>, Query, minimum = 3, maximum = 100000, description = "only results from at least this many pairs (default 30)"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 250, description = "at most this many rows (default 20)"),
    ),
    responses((status = 200, body = ViewPage), (status = 400, body = crate::Problem, content_type = "application/problem+json")),
)]
pub async fn strongest(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let p = Params::parse(query.as_deref(), &["measure", "kind", "lag", "by", "min_n", "limit"])?;
    let measure = choices::name(&p.choice("measure")?.unwrap_or(Measure::Cases));
    let kind = choices::name(&p.choice("kind")?.unwrap_or(Kind::Levels));
    let lag = p.int("lag", -28, 28, Some(0))?.unwrap_or(0);
    let by = choices::name(&p.choice("by")?.unwrap_or(Coefficient::Pearson));
    let min_n = p.int("min_n", 3, 100_000, Some(30))?.unwrap_or(30);
    let limit = p.int("limit", 1, 250, Some(20))?.unwrap_or(20) as u32;
    let q = ViewQuery::new("correlations")
        .filter(Filter::Eq("measure".into(), Value::Text(measure)))
        .filter(Filter::Eq("kind".into(), Value::Text(kind)))
        .filter(Filter::Eq("lag".into(), Value::Integer(lag)))
        .filter(Filter::Range { column: "n".into(), min: Some(Value::Integer(min_n)), max: None })
        .filter(Filter::NotNull(by.clone()))
        .order(OrderBy::strongest(&by))
        .order(OrderBy::asc("series"))
        .limit(limit);
    view_page(&state, "markets/correlations/strongest", q, &p).await
}

/// Rolling 30-, 60- or 90-trading-day correlations of one series at lag 0.
///
/// Columns as in `/api/v1/markets/correlations`, per window end (`date`): `n_eff` and the adjusted
/// p-values over the window's pairs in trading-day order, and q-values over the whole table per
/// measure, kind and window.
#[utoipa::path(get, path = "/api/v1/markets/rolling-correlations", tag = "markets",
    params(
        ("series" = String, Query, pattern = "^[A-Za-z0-9:_ -]{1,64}$", description = "geoId, WORLD, EU27 or CONTINENT:<name>"),
        ("measure" = inline(Option<Measure>), Query, description = "only this measure"),
        ("kind" = inline(Option<Kind>), Query, description = "only this kind"),
        ("window" = Option<i64>, Query, minimum = 30, maximum = 90, multiple_of = 30, description = "30, 60 or 90 trading days (default 30)"),
        ("from" = Option<String>, Query, format = Date, description = "first window end, YYYY-MM-DD"),
        ("to" = Option<String>, Query, format = Date, description = "last window end, YYYY-MM-DD (before from: nothing)"),
    ),
    responses((status = 200, body = ViewPage), (status = 400, body = crate::Problem, content_type = "application/problem+json")),
)]
pub async fn rolling(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let p = Params::parse(query.as_deref(), &["series", "measure", "kind", "window", "from", "to"])?;
    let series = series_id(&p, "series", None)?;
    let window = p.int("window", 30, 90, Some(30))?.unwrap_or(30);
    if window % 30 != 0 {
        return Err(ApiError::bad_request(format!("parameter window: {window} is not 30, 60 or 90")));
    }
    let q = measure_filters(&p, ViewQuery::new("rolling_correlations"))?
        .filter(Filter::Eq("series".into(), Value::Text(series)))
        .filter(Filter::Eq("window_days".into(), Value::Integer(window)))
        .filter(date_range(&p)?)
        .order(OrderBy::asc("measure"))
        .order(OrderBy::asc("kind"))
        .order(OrderBy::asc("date"))
        .limit(100_000);
    view_page(&state, "markets/rolling-correlations", q, &p).await
}

/// The market beside one COVID series, per trading day (the `aligned_daily` view): close and log
/// return, cases and deaths (daily, 7-day average, growth, per 100k). The pairs of the
/// correlations at lag 0.
#[utoipa::path(get, path = "/api/v1/markets/aligned", tag = "markets",
    params(
        ("series" = String, Query, pattern = "^[A-Za-z0-9:_ -]{1,64}$", description = "geoId, WORLD, EU27 or CONTINENT:<name>"),
        ("symbol" = Option<String>, Query, pattern = "^[!-~]{1,32}$", description = "price series (default ^GDAXI)"),
        ("from" = Option<String>, Query, format = Date, description = "first date, YYYY-MM-DD"),
        ("to" = Option<String>, Query, format = Date, description = "last date, YYYY-MM-DD (before from: nothing)"),
    ),
    responses((status = 200, body = ViewPage), (status = 400, body = crate::Problem, content_type = "application/problem+json")),
)]
pub async fn aligned(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let p = Params::parse(query.as_deref(), &["series", "symbol", "from", "to"])?;
    let series = series_id(&p, "series", None)?;
    let symbol = symbol(&p)?;
    let q = ViewQuery::new("aligned_daily")
        .filter(Filter::Eq("series".into(), Value::Text(series)))
        .filter(Filter::Eq("symbol".into(), Value::Text(symbol)))
        .filter(date_range(&p)?)
        .order(OrderBy::asc("date"))
        .limit(100_000);
    view_page(&state, "markets/aligned", q, &p).await
}

/// Runs `q` on the current version of its view, through the cache.
async fn view_page(
    state: &AppState,
    endpoint: &str,
    mut q: ViewQuery,
    p: &Params,
) -> Result<Response, ApiError> {
    let version = view_version(state, &q.view)?;
    q.version = Some(version);
    let key = CacheKey::new(endpoint).param("query", p.canonical()).version(&q.view, version);
    cached_json(state, key, || async { Ok(ViewPage::from(state.store.query_view(&q).await?)) }).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_bucketed_by_week_and_month() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        // 2020-03-01 is a Sunday: it closes the week of Monday 2020-02-24.
        let days = [
            (d("2020-03-01"), Some(1.0)),
            (d("2020-03-02"), Some(2.0)),
            (d("2020-03-03"), None),
            (d("2020-03-08"), Some(4.0)),
            (d("2020-04-01"), Some(8.0)),
        ];
        let weeks = buckets(&days, Bucket::Week, Aggregation::Sum);
        let summary: Vec<_> = weeks.iter().map(|p| (p.date.as_str(), p.value, p.days)).collect();
        assert_eq!(
            summary,
            [("2020-02-24", Some(1.0), 1), ("2020-03-02", Some(6.0), 2), ("2020-03-30", Some(8.0), 1)]
        );
        let months = buckets(&days, Bucket::Month, Aggregation::Mean);
        let summary: Vec<_> = months.iter().map(|p| (p.date.as_str(), p.value)).collect();
        assert_eq!(summary, [("2020-03-01", Some(7.0 / 3.0)), ("2020-04-01", Some(8.0))]);
        assert_eq!(buckets(&days, Bucket::Month, Aggregation::Last)[0].value, Some(4.0));
        assert_eq!(buckets(&days[2..3], Bucket::Day, Aggregation::Sum)[0].value, None);
    }
}

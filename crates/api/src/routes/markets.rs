//! Markets × COVID: the daily series (with week and month buckets) and the correlations, read
//! from the published batch views.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::response::Response;
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};
use tributary_cache::CacheKey;
use tributary_store::{Filter, OrderBy, Value, ViewQuery, ViewRows};
use utoipa::IntoParams;

use crate::choices::{self, Aggregation, Bucket, Coefficient, Kind, Measure, Metric, SeriesKind};
use crate::error::ApiError;
use crate::json::cached_json;
use crate::params::Params;
use crate::query::{self, Day, Int, Multiple, SeriesId, Symbol};
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

/// The dates from `from` to `to`, both included (`from` after `to` is an empty range).
fn date_range(from: Option<Day>, to: Option<Day>) -> Filter {
    Filter::Range {
        column: "date".into(),
        min: from.map(|d| Value::Text(d.0.to_string())),
        max: to.map(|d| Value::Text(d.0.to_string())),
    }
}

/// The parameters of `/markets/series`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SeriesQuery {
    /// geoId, WORLD, EU27 or CONTINENT:<name> (default WORLD; not used for metric=close)
    #[param(inline)]
    series: Option<SeriesId>,
    /// the column (default cases); close is the price series'
    #[param(inline)]
    metric: Option<Metric>,
    /// price series for metric=close (default ^GDAXI)
    #[param(inline)]
    symbol: Option<Symbol>,
    /// first date, YYYY-MM-DD
    #[param(inline)]
    from: Option<Day>,
    /// last date, YYYY-MM-DD (before from: nothing)
    #[param(inline)]
    to: Option<Day>,
    /// day, week or month (default day)
    #[param(inline)]
    bucket: Option<Bucket>,
}

/// A daily series of one country or aggregate (or the index close), in day, week or month
/// buckets.
#[utoipa::path(get, path = "/api/v1/markets/series", tag = "markets",
    params(SeriesQuery),
    responses((status = 200, body = Series), (status = 400, body = crate::Problem, content_type = "application/problem+json"), (status = 404, body = crate::Problem, content_type = "application/problem+json")),
)]
pub async fn series(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let (q, _) = query::parse::<SeriesQuery>(query.as_deref())?;
    let metric = q.metric.unwrap_or(Metric::Cases);
    let (view, aggregation) = (metric.view(), metric.aggregation());
    let bucket = q.bucket.unwrap_or(Bucket::Day);
    // Both are checked whichever the metric uses, so that a bad one is never silently ignored.
    let series = q.series.map_or_else(|| "WORLD".to_string(), |s| s.0);
    let symbol = q.symbol.map_or_else(|| "^GDAXI".to_string(), |s| s.0);
    let (key_column, id) = if metric == Metric::Close { ("symbol", symbol) } else { ("series", series) };
    let (metric, bucket_name) = (choices::name(&metric), choices::name(&bucket));
    let range = date_range(q.from, q.to);
    let version = view_version(&state, view)?;
    let key = CacheKey::new("markets/series")
        .param("id", &id)
        .param("metric", &metric)
        .param("bucket", &bucket_name)
        .param("range", format!("{range:?}"))
        .version(view, version);
    cached_json(&state, key, || async {
        let mut view_query = ViewQuery::new(view)
            .select(&["date", metric.as_str()])
            .filter(Filter::Eq(key_column.into(), Value::Text(id.clone())))
            .filter(range)
            .order(OrderBy::asc("date"))
            .limit(100_000);
        view_query.version = Some(version);
        let rows = state.store.query_view(&view_query).await?;
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

fn measure_filters(measure: Option<Measure>, kind: Option<Kind>, mut q: ViewQuery) -> ViewQuery {
    if let Some(m) = measure {
        q = q.filter(Filter::Eq("measure".into(), Value::Text(choices::name(&m))));
    }
    if let Some(k) = kind {
        q = q.filter(Filter::Eq("kind".into(), Value::Text(choices::name(&k))));
    }
    q
}

/// The parameters of `/markets/catalogue`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CatalogueQuery {
    /// only series of this kind
    #[param(inline)]
    kind: Option<SeriesKind>,
}

/// The parameters of `/markets/correlations`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CorrelationsQuery {
    /// geoId, WORLD, EU27 or CONTINENT:<name>
    #[param(inline)]
    series: SeriesId,
    /// only this measure
    #[param(inline)]
    measure: Option<Measure>,
    /// only this kind
    #[param(inline)]
    kind: Option<Kind>,
    /// only this lag in days; > 0: COVID leads the market
    #[param(inline)]
    lag: Option<Int<-28, 28>>,
}

/// The parameters of `/markets/correlations/strongest`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StrongestQuery {
    /// default cases
    #[param(inline)]
    measure: Option<Measure>,
    /// default levels
    #[param(inline)]
    kind: Option<Kind>,
    /// days (default 0)
    #[param(inline)]
    lag: Option<Int<-28, 28>>,
    /// the coefficient to rank by (default pearson)
    #[param(inline)]
    by: Option<Coefficient>,
    /// only results from at least this many pairs (default 30)
    #[param(inline)]
    min_n: Option<Int<3, 100_000>>,
    /// at most this many rows (default 20)
    #[param(inline)]
    limit: Option<Int<1, 250>>,
}

/// The parameters of `/markets/rolling-correlations`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RollingQuery {
    /// geoId, WORLD, EU27 or CONTINENT:<name>
    #[param(inline)]
    series: SeriesId,
    /// only this measure
    #[param(inline)]
    measure: Option<Measure>,
    /// only this kind
    #[param(inline)]
    kind: Option<Kind>,
    /// 30, 60 or 90 trading days (default 30)
    #[param(inline)]
    window: Option<Multiple<30, 30, 90>>,
    /// first window end, YYYY-MM-DD
    #[param(inline)]
    from: Option<Day>,
    /// last window end, YYYY-MM-DD (before from: nothing)
    #[param(inline)]
    to: Option<Day>,
}

/// The parameters of `/markets/aligned`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlignedQuery {
    /// geoId, WORLD, EU27 or CONTINENT:<name>
    #[param(inline)]
    series: SeriesId,
    /// price series (default ^GDAXI)
    #[param(inline)]
    symbol: Option<Symbol>,
    /// first date, YYYY-MM-DD
    #[param(inline)]
    from: Option<Day>,
    /// last date, YYYY-MM-DD (before from: nothing)
    #[param(inline)]
    to: Option<Day>,
}

/// The COVID series there are (every country, continent, the EU-27 and the world): id, name,
/// kind, the dates covered and the totals; for pickers.
#[utoipa::path(get, path = "/api/v1/markets/catalogue", tag = "markets",
    params(CatalogueQuery),
    responses((status = 200, body = ViewPage), (status = 400, body = crate::Problem, content_type = "application/problem+json"), (status = 404, body = crate::Problem, content_type = "application/problem+json")),
)]
pub async fn catalogue(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let (params, p) = query::parse::<CatalogueQuery>(query.as_deref())?;
    let mut q = ViewQuery::new("series_catalogue")
        .order(OrderBy::asc("kind"))
        .order(OrderBy::asc("series_name"))
        .limit(10_000);
    if let Some(kind) = params.kind {
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
    params(CorrelationsQuery),
    responses((status = 200, body = ViewPage), (status = 400, body = crate::Problem, content_type = "application/problem+json")),
)]
pub async fn correlations(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let (params, p) = query::parse::<CorrelationsQuery>(query.as_deref())?;
    let lag = params.lag.map(|l| l.0);
    let mut q = measure_filters(params.measure, params.kind, ViewQuery::new("correlations"))
        .filter(Filter::Eq("series".into(), Value::Text(params.series.0)))
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
    params(StrongestQuery),
    responses((status = 200, body = ViewPage), (status = 400, body = crate::Problem, content_type = "application/problem+json")),
)]
pub async fn strongest(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let (params, p) = query::parse::<StrongestQuery>(query.as_deref())?;
    let measure = choices::name(&params.measure.unwrap_or(Measure::Cases));
    let kind = choices::name(&params.kind.unwrap_or(Kind::Levels));
    let lag = params.lag.map_or(0, |l| l.0);
    let by = choices::name(&params.by.unwrap_or(Coefficient::Pearson));
    let min_n = params.min_n.map_or(30, |n| n.0);
    let limit = params.limit.map_or(20, |l| l.0) as u32;
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
    params(RollingQuery),
    responses((status = 200, body = ViewPage), (status = 400, body = crate::Problem, content_type = "application/problem+json")),
)]
pub async fn rolling(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let (params, p) = query::parse::<RollingQuery>(query.as_deref())?;
    let window = params.window.map_or(30, |w| w.0);
    let q = measure_filters(params.measure, params.kind, ViewQuery::new("rolling_correlations"))
        .filter(Filter::Eq("series".into(), Value::Text(params.series.0)))
        .filter(Filter::Eq("window_days".into(), Value::Integer(window)))
        .filter(date_range(params.from, params.to))
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
    params(AlignedQuery),
    responses((status = 200, body = ViewPage), (status = 400, body = crate::Problem, content_type = "application/problem+json")),
)]
pub async fn aligned(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let (params, p) = query::parse::<AlignedQuery>(query.as_deref())?;
    let symbol = params.symbol.map_or_else(|| "^GDAXI".to_string(), |s| s.0);
    let q = ViewQuery::new("aligned_daily")
        .filter(Filter::Eq("series".into(), Value::Text(params.series.0)))
        .filter(Filter::Eq("symbol".into(), Value::Text(symbol)))
        .filter(date_range(params.from, params.to))
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

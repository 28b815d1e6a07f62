//! API contract tests: every endpoint through the router, on a SQLite store holding small
//! published views and model versions, with the in-process cache.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tributary_store::prelude::*;

use arrow::array::{ArrayRef, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{Field, Schema};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::Value as Json;
use tower::ServiceExt;
use tributary_schema::DeadLetter;
use tributary_schema::projection::Projection;
use tributary_store::{BatchCommit, CentreRow, KMeansVersionRow, SqlStore, ViewPublication};

use crate::{ApiConfig, AppState, router};

struct Fixture {
    _dir: tempfile::TempDir,
    store: Arc<SqlStore>,
    log: Arc<tributary_log::EmbeddedLog>,
    state: Arc<AppState>,
    _stop: tokio::sync::watch::Sender<bool>,
}

const TOKEN: &str = "test-token-0123456789";

/// 2020-03-01 as days since the epoch.
const MARCH_1: i32 = 18_322;

fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
    let schema = Schema::new(
        columns.iter().map(|(name, a)| Field::new(*name, a.data_type().clone(), true)).collect::<Vec<_>>(),
    );
    RecordBatch::try_new(Arc::new(schema), columns.into_iter().map(|(_, a)| a).collect()).unwrap()
}

fn texts(values: impl IntoIterator<Item = String>) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(values))
}

async fn publish(store: &SqlStore, view: &str, b: RecordBatch) {
    let index: Vec<String> = Vec::new();
    store
        .publish_view(&ViewPublication {
            view,
            definition: "test",
            schema: b.schema(),
            batches: std::slice::from_ref(&b),
            dataset_versions: BTreeMap::from([("covid_daily".into(), 1)]),
            index: &index,
        })
        .await
        .unwrap();
}

/// 40 days of IT and WORLD; correlations at lags −2..2; rolling windows; prices.
async fn series_daily(store: &SqlStore, scale: f64) {
    let n = 40;
    let series = (0..2 * n).map(|i| if i < n { "IT".to_string() } else { "WORLD".to_string() });
    let dates = Date32Array::from_iter_values((0..2 * n).map(|i| MARCH_1 + (i % n)));
    let cases: Vec<i64> = (0..2 * n).map(|i| ((i % n) as f64 * scale) as i64).collect();
    let c7 =
        Float64Array::from_iter((0..2 * n).map(|i| (i % n >= 6).then_some((i % n) as f64 * scale - 3.0)));
    publish(
        store,
        "series_daily",
        batch(vec![
            ("series", texts(series)),
            ("date", Arc::new(dates)),
            ("cases", Arc::new(Int64Array::from(cases))),
            ("c7", Arc::new(c7)),
        ]),
    )
    .await;
}

async fn fixture() -> Fixture {
    fixture_timed(Duration::from_secs(10)).await
}

/// The fixture, with requests cut off after `request_timeout`.
async fn fixture_timed(request_timeout: Duration) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqlStore::open_sqlite(&dir.path().join("store.sqlite")).await.unwrap());
    series_daily(&store, 1.0).await;
    let rows: Vec<(String, String, String, i64, f64)> = ["IT", "DE", "WORLD"]
        .iter()
        .flat_map(|s| {
            ["levels", "changes"].iter().flat_map(move |k| {
                (-2..=2).map(move |lag| {
                    let r = match *s {
                        "IT" => 0.9,
                        "DE" => -0.95,
                        _ => 0.1,
                    } - 0.01 * lag as f64;
                    (s.to_string(), "cases".to_string(), k.to_string(), lag, r)
                })
            })
        })
        .collect();
    publish(
        &store,
        "correlations",
        batch(vec![
            ("series", texts(rows.iter().map(|r| r.0.clone()))),
            ("measure", texts(rows.iter().map(|r| r.1.clone()))),
            ("kind", texts(rows.iter().map(|r| r.2.clone()))),
            ("lag", Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.3)))),
            ("n", Arc::new(Int64Array::from_iter_values(rows.iter().map(|_| 100)))),
            ("pearson", Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.4)))),
            ("spearman", Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.4 / 2.0)))),
        ]),
    )
    .await;
    let days = 10;
    publish(
        &store,
        "rolling_correlations",
        batch(vec![
            ("series", texts((0..days).map(|_| "IT".to_string()))),
            ("measure", texts((0..days).map(|_| "cases".to_string()))),
            ("kind", texts((0..days).map(|_| "levels".to_string()))),
            ("window_days", Arc::new(Int64Array::from_iter_values((0..days).map(|_| 30)))),
            ("date", Arc::new(Date32Array::from_iter_values((0..days).map(|i| MARCH_1 + 30 + i)))),
            ("pearson", Arc::new(Float64Array::from_iter_values((0..days).map(|i| f64::from(i) / 10.0)))),
        ]),
    )
    .await;
    publish(
        &store,
        "reference_prices",
        batch(vec![
            ("symbol", texts((0..5).map(|_| "^GDAXI".to_string()))),
            ("date", Arc::new(Date32Array::from_iter_values((0..5).map(|i| MARCH_1 + i)))),
            ("close", Arc::new(Float64Array::from_iter_values((0..5).map(|i| 12_000.0 + f64::from(i))))),
        ]),
    )
    .await;
    commit_model(&store, 1).await;
    store
        .commit_batch(&BatchCommit {
            processor: "kmeans".into(),
            dead_letters: (0..3)
                .map(|i| {
                    DeadLetter::new(
                        if i == 0 { "dir:b.csv" } else { "dir:a.csv" },
                        format!("line {i}"),
                        "bad latitude",
                        b"\xffraw",
                        4,
                    )
                })
                .collect(),
            ..Default::default()
        })
        .await
        .unwrap();
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let cache = tributary_cache::Cache::new(
        Arc::new(tributary_cache::InProcessCache::new(1 << 20, Duration::from_secs(60))),
        Duration::from_secs(60),
    );
    let log = Arc::new(
        tributary_log::EmbeddedLog::open(dir.path().join("log"), tributary_log::EmbeddedLogConfig::default())
            .await
            .unwrap(),
    );
    for topic in ["mobile_data", "dead_letters", "notes"] {
        tributary_log::EventLog::create_topic(&*log, topic, 1).await.unwrap();
    }
    let config = ApiConfig {
        version_poll: Duration::from_secs(3600),
        token: TOKEN.into(),
        request_timeout,
        ..ApiConfig::default()
    };
    let dyn_log: Arc<dyn tributary_log::EventLog> = log.clone();
    let state = AppState::start(store.clone(), Some(dyn_log), cache, config, None, stop).await;
    Fixture { _dir: dir, store, log, state, _stop: stop_tx }
}

async fn commit_model(store: &SqlStore, version: u64) {
    commit_model_at(store, version, 1_600_000_000_000 + version as i64).await;
}

async fn commit_model_at(store: &SqlStore, version: u64, created_ms: i64) {
    commit_model_version(store, version, created_ms, None).await;
}

async fn commit_model_version(store: &SqlStore, version: u64, created_ms: i64, event_time_ms: Option<i64>) {
    let projection = Projection::Km { lat0: 52.5, lon0: 13.0 };
    let centre = |cluster: u32, weight: f64| {
        let (lat, lon) = (52.0 + f64::from(cluster), 13.0 + version as f64);
        let [x, y] = projection.forward(lat, lon);
        CentreRow { cluster, lat, lon, weight, batch_count: 2, x, y }
    };
    let v = KMeansVersionRow {
        model: "mobile".into(),
        version,
        created_ms,
        event_time_ms,
        batch_points: 4,
        batches: 1,
        projection: serde_json::to_string(&projection).unwrap(),
        split: None,
        sum_of_squares: Some(12.5),
        silhouette: Some(0.625),
        centres: vec![centre(0, 3.0), centre(1, 1.0)],
        offsets: vec![],
    };
    store
        .commit_batch(&BatchCommit {
            processor: "kmeans".into(),
            version: Some(v),
            offsets: vec![tributary_store::OffsetCheckpoint {
                topic: "mobile_data".into(),
                partition: 0,
                next_offset: 0,
            }],
            ..Default::default()
        })
        .await
        .unwrap();
}

/// Sends a request; the status, the content type and the body (JSON where it parses).
async fn call(f: &Fixture, method: &str, uri: &str) -> (StatusCode, String, Json) {
    let request = Request::builder().method(method).uri(uri).body(Body::empty()).unwrap();
    let response = router(f.state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let content_type =
        response.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    let body = axum::body::to_bytes(response.into_body(), 10 << 20).await.unwrap();
    let json =
        serde_json::from_slice(&body).unwrap_or_else(|_| Json::String(String::from_utf8_lossy(&body).into()));
    (status, content_type, json)
}

async fn ok(f: &Fixture, uri: &str) -> Json {
    let (status, content_type, body) = call(f, "GET", uri).await;
    assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    assert_eq!(content_type, "application/json", "{uri}");
    body
}

async fn problem(f: &Fixture, method: &str, uri: &str, expected: StatusCode) -> String {
    let (status, content_type, body) = call(f, method, uri).await;
    assert_eq!(status, expected, "{method} {uri}: {body}");
    assert_eq!(content_type, "application/problem+json", "{uri}");
    assert_eq!(body["status"], expected.as_u16(), "{uri}");
    body["detail"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_position_is_placed_in_the_nearest_cluster_of_the_newest_model() {
    let f = fixture().await;
    // Version 1: centres at (52, 14) and (53, 14).
    let near_second = ok(&f, "/api/v1/mobile/assign?lat=52.7&lon=14.1").await;
    assert_eq!((near_second["cluster"].as_u64(), near_second["version"].as_u64()), (Some(1), Some(1)));
    assert_eq!(
        (near_second["centre"]["lat"].as_f64(), near_second["centre"]["lon"].as_f64()),
        (Some(53.0), Some(14.0))
    );
    let km = near_second["distance_km"].as_f64().unwrap();
    assert!((km - 34.0).abs() < 0.5, "{km}");
    assert_eq!(ok(&f, "/api/v1/mobile/assign?lat=51.1&lon=12").await["cluster"], 0);
    // A newer version is used at once.
    commit_model(&f.store, 2).await;
    assert_eq!(ok(&f, "/api/v1/mobile/assign?lat=52.7&lon=14.1").await["version"], 2);
    for bad in [
        "lat=52.7",
        "lat=91&lon=13",
        "lat=NaN&lon=13",
        "lat=52&lon=13&lat=53",
        "lat=x&lon=1",
        "lat=1&lon=1&k=2",
    ] {
        let (status, _, body) = call(&f, "GET", &format!("/api/v1/mobile/assign?{bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
}

#[tokio::test]
async fn live_counts_per_region_sum_the_versions_of_the_window() {
    let f = fixture().await;
    // The fixture's version 1 is from 2020; a version made now counts, per cluster.
    let now = tributary_log::now_ms();
    commit_model_at(&f.store, 2, now).await;
    let counts = ok(&f, "/api/v1/mobile/counts?window=60").await;
    assert_eq!((counts["version"].as_u64(), counts["points"].as_u64()), (Some(2), Some(4)));
    let regions = counts["regions"].as_array().unwrap();
    assert_eq!(regions.len(), 2);
    assert_eq!((regions[1]["cluster"].as_u64(), regions[1]["points"].as_u64()), (Some(1), Some(2)));
    assert_eq!((regions[1]["lat"].as_f64(), regions[1]["versions"].as_u64()), (Some(53.0), Some(1)));
    assert!((regions[0]["per_second"].as_f64().unwrap() - 2.0 / 60.0).abs() < 1e-12);
    for bad in ["window=0", "window=86401", "window=x", "span=5"] {
        let (status, _, body) = call(&f, "GET", &format!("/api/v1/mobile/counts?{bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
}

#[tokio::test]
async fn on_event_time_live_counts_follow_the_events_clock() {
    let f = fixture().await;
    // A replay of 2008: versions made now, for windows ending 5 s apart in October 2008.
    let now = tributary_log::now_ms();
    for (version, end) in [(2, 1_224_730_385_000), (3, 1_224_730_390_000), (4, 1_224_730_395_000)] {
        commit_model_version(&f.store, version, now, Some(end)).await;
    }
    let newest = ok(&f, "/api/v1/mobile/clusters").await;
    assert_eq!(newest["event_time_ms"].as_i64(), Some(1_224_730_395_000));
    // The last 6 s of event time hold versions 3 and 4, not all three made in the last minute.
    let counts = ok(&f, "/api/v1/mobile/counts?window=6").await;
    assert_eq!(counts["since_ms"].as_i64(), Some(1_224_730_389_000));
    assert_eq!(counts["points"].as_u64(), Some(8));
    assert_eq!(counts["regions"][0]["versions"].as_u64(), Some(2));
}

#[tokio::test]
async fn every_endpoint_answers_with_its_shape() {
    let f = fixture().await;
    assert_eq!(call(&f, "GET", "/healthz").await.0, StatusCode::OK);
    assert_eq!(call(&f, "GET", "/readyz").await.0, StatusCode::OK);
    assert_eq!(call(&f, "GET", "/metrics").await.0, StatusCode::OK);

    let clusters = ok(&f, "/api/v1/mobile/clusters").await;
    assert_eq!((clusters["version"].as_u64(), clusters["centres"].as_array().unwrap().len()), (Some(1), 2));
    assert_eq!(clusters["centres"][0]["share"], 0.75);
    assert_eq!(clusters["centres"][1]["count"], 2);
    let history = ok(&f, "/api/v1/mobile/clusters/history?from_version=1&limit=10").await;
    assert_eq!(history.as_array().unwrap().len(), 1);

    let days = ok(&f, "/api/v1/markets/series?series=IT&metric=cases&from=2020-03-02&to=2020-03-08").await;
    let points = days["points"].as_array().unwrap();
    assert_eq!(points.len(), 7);
    assert_eq!((points[0]["date"].as_str(), points[0]["value"].as_f64()), (Some("2020-03-02"), Some(1.0)));
    let weeks = ok(&f, "/api/v1/markets/series?series=IT&metric=cases&bucket=week").await;
    // Sunday 2020-03-01 alone, then full weeks from Monday 2020-03-02: 1+…+7 = 28.
    assert_eq!(weeks["points"][1]["value"], 28.0);
    assert_eq!(weeks["aggregation"], "sum");
    let close = ok(&f, "/api/v1/markets/series?metric=close&bucket=month").await;
    assert_eq!(close["points"][0]["value"], 12_004.0);

    let correlogram = ok(&f, "/api/v1/markets/correlations?series=IT&measure=cases&kind=levels").await;
    let lags: Vec<i64> =
        correlogram["rows"].as_array().unwrap().iter().map(|r| r["lag"].as_i64().unwrap()).collect();
    assert_eq!(lags, [-2, -1, 0, 1, 2]);
    assert_eq!(correlogram["view"], "correlations");
    let strongest = ok(&f, "/api/v1/markets/correlations/strongest?lag=0&limit=2").await;
    let top: Vec<&str> =
        strongest["rows"].as_array().unwrap().iter().map(|r| r["series"].as_str().unwrap()).collect();
    assert_eq!(top, ["DE", "IT"]);
    let rolling = ok(&f, "/api/v1/markets/rolling-correlations?series=IT&window=30&from=2020-04-05").await;
    // Window ends 2020-03-31 … 2020-04-09; from 2020-04-05: five of them.
    assert_eq!(rolling["rows"].as_array().unwrap().len(), 5);

    let views = ok(&f, "/api/v1/views").await;
    assert_eq!(views.as_array().unwrap().len(), 4);
    let page = ok(&f, "/api/v1/dead-letters?limit=2").await;
    assert_eq!((page["total"].as_u64(), page["dead_letters"].as_array().unwrap().len()), (Some(3), 2));
    let older = ok(&f, &format!("/api/v1/dead-letters?limit=2&before={}", page["next_before"])).await;
    assert_eq!(older["dead_letters"].as_array().unwrap().len(), 1);
    let only_b = ok(&f, "/api/v1/dead-letters?source=dir:b.csv").await;
    assert_eq!(only_b["dead_letters"][0]["raw_base64"], "/3Jhdw==");

    let status = ok(&f, "/api/v1/pipeline").await;
    let topics: Vec<&str> =
        status["topics"].as_array().unwrap().iter().map(|t| t["topic"].as_str().unwrap()).collect();
    assert_eq!(topics, ["dead_letters", "mobile_data", "notes"]);
    assert_eq!((status["dead_letters"].as_u64(), status["model_version"].as_u64()), (Some(3), Some(1)));
    assert_eq!(status["views"]["correlations"], 1);
    assert!(status["throughput"].is_object(), "{status}");
    let kmeans = &status["consumers"].as_array().unwrap()[0];
    assert_eq!((kmeans["name"].as_str(), kmeans["kind"].as_str()), (Some("kmeans"), Some("processor")));

    let openapi = ok(&f, "/api/v1/openapi.json").await;
    for path in
        ["/api/v1/mobile/clusters", "/api/v1/markets/series", "/api/v1/dead-letters", "/metrics", "/readyz"]
    {
        assert!(openapi["paths"].get(path).is_some(), "{path} is documented");
    }
    // The document states the handlers' constraints: enumerations, ranges, patterns, formats.
    let parameter = |path: &str, name: &str| {
        let parameters = openapi["paths"][path]["get"]["parameters"].as_array().unwrap().clone();
        parameters.into_iter().find(|p| p["name"] == name).unwrap_or_else(|| panic!("{path} {name}"))["schema"]
            .clone()
    };
    let metric = parameter("/api/v1/markets/series", "metric");
    assert_eq!(metric["enum"].as_array().map(Vec::len), Some(9), "{metric}");
    assert!(metric["enum"].as_array().unwrap().contains(&"c7_per_100k".into()));
    let lag = parameter("/api/v1/markets/correlations", "lag");
    assert_eq!((lag["minimum"].as_f64(), lag["maximum"].as_f64()), (Some(-28.0), Some(28.0)), "{lag}");
    assert_eq!(parameter("/api/v1/markets/aligned", "from")["format"], "date");
    assert_eq!(parameter("/api/v1/markets/aligned", "series")["pattern"], "^[A-Za-z0-9:_ -]{1,64}$");
    assert_eq!(parameter("/api/v1/markets/rolling-correlations", "window")["multipleOf"], 30.0);
}

#[tokio::test]
async fn bad_parameters_unknown_paths_and_wrong_methods_are_problems() {
    let f = fixture().await;
    for (uri, reason) in [
        ("/api/v1/markets/series?series=IT&metric=price", "unknown variant `price`, expected one of `cases`"),
        ("/api/v1/markets/series?series=IT&bucket=year", "bucket"),
        ("/api/v1/markets/correlations?measure=cases", "series is required"),
        ("/api/v1/markets/series?series=IT&from=2020-02-30", "YYYY-MM-DD"),
        ("/api/v1/markets/series?series=IT&from=20200-01-01", "YYYY-MM-DD"),
        ("/api/v1/markets/rolling-correlations?series=IT&window=45", "30, 60 or 90"),
        ("/api/v1/markets/series?series=IT'%20OR%20'1'='1", "is not a series"),
        ("/api/v1/markets/series?series=%FF%FE", "UTF-8"),
        ("/api/v1/markets/correlations?series=IT&lag=29", "from -28 to 28"),
        ("/api/v1/markets/correlations/strongest?limit=100000000000", "from 1 to 250"),
        ("/api/v1/mobile/clusters/history?from_version=9007199254740992", "from 1 to 9007199254740991"),
        ("/api/v1/mobile/clusters?x=1", "unknown parameter"),
        ("/api/v1/dead-letters?limit=-1", "from 1 to 500"),
    ] {
        let detail = problem(&f, "GET", uri, StatusCode::BAD_REQUEST).await;
        assert!(detail.contains(reason), "{uri}: {detail}");
    }
    problem(&f, "GET", "/api/v1/nope", StatusCode::NOT_FOUND).await;
    problem(&f, "GET", "/api/v1/markets/series?series=XX", StatusCode::NOT_FOUND).await;
    // An empty range is no error: nothing is in it.
    assert_eq!(
        ok(&f, "/api/v1/mobile/clusters/history?from_version=5&to_version=2").await,
        serde_json::json!([])
    );
    let inverted = "/api/v1/markets/rolling-correlations?series=IT&from=2020-04-09&to=2020-04-01";
    assert_eq!(ok(&f, inverted).await["rows"], serde_json::json!([]));
    problem(&f, "POST", "/api/v1/mobile/clusters", StatusCode::METHOD_NOT_ALLOWED).await;
    problem(&f, "DELETE", "/api/v1/views", StatusCode::METHOD_NOT_ALLOWED).await;
    // Nothing was written or dropped by any of it.
    assert_eq!(ok(&f, "/api/v1/views").await.as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn a_new_version_is_served_at_once_not_the_cached_one() {
    let f = fixture().await;
    let uri = "/api/v1/markets/series?series=IT&metric=cases&from=2020-03-10&to=2020-03-10";
    assert_eq!(ok(&f, uri).await["points"][0]["value"], 9.0);
    assert_eq!(ok(&f, uri).await["points"][0]["value"], 9.0, "now from the cache");
    series_daily(&f.store, 10.0).await;
    // The very next request, with no wait: the new version, not the cached answer.
    let fresh = ok(&f, uri).await;
    assert_eq!((&fresh["version"], &fresh["points"][0]["value"]), (&Json::from(2), &Json::from(90.0)));

    assert_eq!(ok(&f, "/api/v1/mobile/clusters").await["version"], 1);
    commit_model(&f.store, 2).await;
    let fresh = ok(&f, "/api/v1/mobile/clusters").await;
    assert_eq!((&fresh["version"], &fresh["centres"][0]["lon"]), (&Json::from(2), &Json::from(15.0)));
}

#[tokio::test]
async fn live_updates_announce_new_versions() {
    use futures::StreamExt;
    let f = fixture().await;
    let request = Request::builder().uri("/api/v1/events").body(Body::empty()).unwrap();
    let response = router(f.state.clone()).oneshot(request).await.unwrap();
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut body = response.into_body().into_data_stream();
    let mut text = String::new();
    let mut read_until = async |needle: &str, text: &mut String| {
        while !text.contains(needle) {
            let chunk =
                tokio::time::timeout(Duration::from_secs(10), body.next()).await.unwrap().unwrap().unwrap();
            text.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    };
    // First the current versions.
    read_until("\"view\":\"series_daily\"", &mut text).await;
    assert!(text.contains("event: model\ndata: {\"model\":\"mobile\",\"version\":1}"), "{text}");
    // Then each new one.
    commit_model(&f.store, 2).await;
    read_until("\"version\":2}", &mut text).await;
    assert!(text.contains("event: model\ndata: {\"model\":\"mobile\",\"version\":2}"), "{text}");
    series_daily(&f.store, 2.0).await;
    read_until("{\"view\":\"series_daily\",\"version\":2}", &mut text).await;
}

/// POSTs `body` to `uri` with `token`; the status and the body as JSON.
async fn post(f: &Fixture, uri: &str, token: Option<&str>, body: Vec<u8>) -> (StatusCode, Json) {
    let mut request = Request::builder().method("POST").uri(uri);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = router(f.state.clone()).oneshot(request.body(Body::from(body)).unwrap()).await.unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    (status, serde_json::from_slice(&body).unwrap_or(Json::Null))
}

async fn topic_records(f: &Fixture, topic: &str) -> Vec<Vec<u8>> {
    let read = tributary_log::EventLog::read(&*f.log, topic, 0, 0, tributary_log::ReadLimits::default());
    read.await.unwrap().into_iter().map(|r| r.record.value.to_vec()).collect()
}

#[tokio::test]
async fn ingest_needs_the_token_and_sends_bad_lines_to_the_dead_letters() {
    let f = fixture().await;
    let uri = "/api/v1/topics/mobile_data/records";
    let good = r#"{"timepoint":"2020-06-01 12:00:00.000","deviceId":"d1","acceloX":0.1,"acceloY":0.2,"acceloZ":9.8,"latitude":52.5,"longitude":13.4,"locked":false}"#;
    let body = format!("{good}\n{{\"deviceId\": 7}}\n\n{good}\r\n\u{FFFD}garbage\n").into_bytes();
    for token in [None, Some("wrong"), Some(&TOKEN[..TOKEN.len() - 1]), Some("")] {
        let (status, problem) = post(&f, uri, token, body.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{token:?}");
        assert!(problem["detail"].as_str().unwrap().contains("token"));
    }
    assert!(topic_records(&f, "mobile_data").await.is_empty(), "nothing written without the token");

    let (status, report) = post(&f, uri, Some(TOKEN), body).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!((report["accepted"].as_u64(), report["dead_letters"].as_u64()), (Some(2), Some(2)));
    assert_eq!(topic_records(&f, "mobile_data").await.len(), 2);
    // Written in the topic's encoding (binary by default), labelled, and read back as sent.
    let read =
        tributary_log::EventLog::read(&*f.log, "mobile_data", 0, 0, tributary_log::ReadLimits::default());
    let ingested = read.await.unwrap();
    let sent = tributary_schema::MobileEvent::from_json(good.as_bytes()).unwrap();
    assert_eq!(tributary_processors::mobile_record::event(&ingested[0].record).unwrap(), sent);
    assert_eq!(
        tributary_processors::mobile_record::encoding(&ingested[0].record).unwrap(),
        tributary_schema::mobile::Encoding::Binary
    );
    let dead = topic_records(&f, "dead_letters").await;
    let first = DeadLetter::from_json(&dead[0]).unwrap();
    assert_eq!((first.source.as_str(), first.position.as_str()), ("http:mobile_data", "line 2"));

    // Other topics take any JSON per line.
    let (status, report) =
        post(&f, "/api/v1/topics/notes/records", Some(TOKEN), b"[1,2]\n\"x\"\n{bad\n".to_vec()).await;
    assert_eq!((status, report["accepted"].as_u64()), (StatusCode::OK, Some(2)));

    // Hostile and wrong requests: 4xx, nothing written.
    let before = topic_records(&f, "mobile_data").await.len();
    let huge = good.repeat((10 << 20) / good.len() + 1).into_bytes();
    assert_eq!(post(&f, uri, Some(TOKEN), huge).await.0, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(post(&f, uri, None, vec![b'x'; 10 << 20]).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        post(&f, "/api/v1/topics/nope/records", Some(TOKEN), body_of(good)).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        post(&f, "/api/v1/topics/_tributary_sources/records", Some(TOKEN), body_of(good)).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post(&f, "/api/v1/topics/dead_letters/records", Some(TOKEN), body_of(good)).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(post(&f, uri, Some(TOKEN), b"\n \n".to_vec()).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(post(&f, uri, Some(TOKEN), vec![0xff, 0xfe, b'\n']).await.1["dead_letters"], 1);
    assert_eq!(call(&f, "GET", uri).await.0, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(topic_records(&f, "mobile_data").await.len(), before);

    // The pipeline status shows each topic's ingest as a source (runs reach the store within
    // a second): the two accepted requests to mobile_data and the one with a dead letter only.
    let mut sources = Json::Null;
    for _ in 0..100 {
        sources = ok(&f, "/api/v1/pipeline").await["sources"].clone();
        if sources.as_array().is_some_and(|s| s.len() == 2 && s[0]["runs"] == 2) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mobile = &sources[0];
    assert_eq!(mobile["source"], "http:mobile_data", "{sources}");
    assert_eq!(
        (&mobile["kind"], &mobile["runs"], &mobile["rows"], &mobile["errors"], &mobile["last_errors"]),
        (&Json::from("http"), &Json::from(2), &Json::from(2), &Json::from(3), &Json::from(1)),
        "{sources}"
    );
    assert_eq!((&sources[1]["source"], &sources[1]["rows"]), (&Json::from("http:notes"), &Json::from(2)));
}

fn body_of(line: &str) -> Vec<u8> {
    format!("{line}\n").into_bytes()
}

#[tokio::test]
async fn the_catalogue_the_aligned_days_and_the_recent_events() {
    let f = fixture().await;
    problem(&f, "GET", "/api/v1/markets/catalogue", StatusCode::NOT_FOUND).await;
    publish(
        &f.store,
        "series_catalogue",
        batch(vec![
            ("series", texts(["WORLD", "IT", "DE"].map(String::from))),
            ("series_name", texts(["World", "Italy", "Germany"].map(String::from))),
            ("kind", texts(["world", "country", "country"].map(String::from))),
        ]),
    )
    .await;
    let all = ok(&f, "/api/v1/markets/catalogue").await;
    let names: Vec<&str> =
        all["rows"].as_array().unwrap().iter().map(|r| r["series_name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Germany", "Italy", "World"], "by kind, then name");
    let countries = ok(&f, "/api/v1/markets/catalogue?kind=country").await;
    assert_eq!(countries["rows"].as_array().unwrap().len(), 2);
    let detail = problem(&f, "GET", "/api/v1/markets/catalogue?kind=planet", StatusCode::BAD_REQUEST).await;
    assert!(detail.contains("expected one of `country`"), "{detail}");

    publish(
        &f.store,
        "aligned_daily",
        batch(vec![
            ("symbol", texts((0..4).map(|i| if i < 3 { "^GDAXI" } else { "X" }.to_string()))),
            ("series", texts((0..4).map(|i| if i == 1 { "DE" } else { "IT" }.to_string()))),
            ("date", Arc::new(Date32Array::from_iter_values((0..4).map(|i| MARCH_1 + i)))),
            ("close", Arc::new(Float64Array::from_iter_values((0..4).map(|i| 100.0 + f64::from(i))))),
        ]),
    )
    .await;
    let aligned = ok(&f, "/api/v1/markets/aligned?series=IT").await;
    let closes: Vec<f64> =
        aligned["rows"].as_array().unwrap().iter().map(|r| r["close"].as_f64().unwrap()).collect();
    assert_eq!(closes, [100.0, 102.0], "IT and the DAX only");
    assert_eq!(ok(&f, "/api/v1/markets/aligned?series=IT&symbol=X").await["rows"][0]["close"], 103.0);
    let detail =
        problem(&f, "GET", "/api/v1/markets/aligned?series=IT&symbol=%20or%201", StatusCode::BAD_REQUEST)
            .await;
    assert!(detail.contains("symbol"), "{detail}");

    assert!(ok(&f, "/api/v1/mobile/recent").await["events"].as_array().unwrap().is_empty());
    let event = |device: &str, lat: f64| {
        format!(
            r#"{{"timepoint":"2020-06-01 12:00:00.000","deviceId":"{device}","acceloX":0.1,"acceloY":0.2,"acceloZ":9.8,"latitude":{lat},"longitude":13.4,"locked":false}}"#
        )
    };
    for (device, lat) in [("a", 50.0), ("b", 51.0), ("c", 52.0)] {
        let record = tributary_log::Record::new(bytes::Bytes::from(event(device, lat)));
        tributary_log::EventLog::append(&*f.log, "mobile_data", vec![record]).await.unwrap();
    }
    let not_an_event = tributary_log::Record::new(bytes::Bytes::from_static(b"[1, 2]"));
    tributary_log::EventLog::append(&*f.log, "mobile_data", vec![not_an_event]).await.unwrap();
    let recent = ok(&f, "/api/v1/mobile/recent?limit=3").await;
    let devices: Vec<&str> =
        recent["events"].as_array().unwrap().iter().map(|e| e["device"].as_str().unwrap()).collect();
    assert_eq!(devices, ["c", "b"], "newest first; what is no event is skipped");
    assert_eq!(
        (recent["events"][0]["lat"].as_f64(), recent["events"][0]["offset"].as_u64()),
        (Some(52.0), Some(2))
    );
    problem(&f, "GET", "/api/v1/mobile/recent?limit=0", StatusCode::BAD_REQUEST).await;
    problem(&f, "GET", "/api/v1/mobile/recent?limit=5001", StatusCode::BAD_REQUEST).await;
}

#[tokio::test]
async fn a_suggested_k_over_the_newest_events() {
    let f = fixture().await;
    problem(&f, "GET", "/api/v1/mobile/suggest-k", StatusCode::NOT_FOUND).await;
    // Three tight groups of events, 100 km and more apart.
    let mut records = Vec::new();
    for (i, (lat, lon)) in [(50.0, 8.0), (52.5, 13.4), (48.1, 11.6)].iter().enumerate() {
        for j in 0..40 {
            let d = f64::from(j % 7) * 0.002;
            let event = format!(
                r#"{{"timepoint":"2020-06-01 12:00:00.000","deviceId":"d{i}-{j}","acceloX":0.1,"acceloY":0.2,"acceloZ":9.8,"latitude":{},"longitude":{},"locked":false}}"#,
                lat + d,
                lon - d
            );
            records.push(tributary_log::Record::new(bytes::Bytes::from(event)));
        }
    }
    tributary_log::EventLog::append(&*f.log, "mobile_data", records).await.unwrap();
    let s = ok(&f, "/api/v1/mobile/suggest-k?from=2&to=5").await;
    assert_eq!(s["events"], 120);
    assert_eq!(s["suggested_k"], 3, "{s}");
    assert_eq!(s["current_k"], 2, "the fixture's model has two centres");
    let ks: Vec<u64> = s["candidates"].as_array().unwrap().iter().map(|c| c["k"].as_u64().unwrap()).collect();
    assert_eq!(ks, [2, 3, 4, 5]);
    assert!(s["rule"].as_str().unwrap().contains("within 0.01 of the highest"));
    // An empty range has no candidates; a k below 2 is refused by name.
    let empty = ok(&f, "/api/v1/mobile/suggest-k?from=5&to=3").await;
    assert!(empty["candidates"].as_array().unwrap().is_empty() && empty["suggested_k"].is_null());
    let detail = problem(&f, "GET", "/api/v1/mobile/suggest-k?from=1", StatusCode::BAD_REQUEST).await;
    assert!(detail.contains("from"), "{detail}");
}

#[tokio::test]
async fn the_dashboard_is_served_at_the_root() {
    let f = fixture().await;
    let request = Request::builder().uri("/").body(Body::empty()).unwrap();
    let response = router(f.state.clone()).oneshot(request).await.unwrap();
    let built = response.status() == StatusCode::OK;
    let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    let page = String::from_utf8_lossy(&body);
    if !built {
        // Without dashboard/dist the root says how to build it (and is no 404).
        assert!(page.contains("not built"), "{page}");
        return;
    }
    let script = page.split("src=\"").nth(1).and_then(|s| s.split('"').next()).expect("a script");
    assert!(script.starts_with("/assets/") && script.ends_with(".js"), "{script}");
    let (status, content_type, _) = call(&f, "GET", script).await;
    assert_eq!((status, content_type.as_str()), (StatusCode::OK, "text/javascript; charset=utf-8"));
    problem(&f, "GET", "/assets/nope.js", StatusCode::NOT_FOUND).await;
    problem(&f, "GET", "/assets/../Cargo.toml", StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn topic_names_cannot_reach_outside_the_log_and_errors_leak_no_internals() {
    let f = fixture().await;
    let log_dir = f._dir.path().join("log");
    let before: Vec<_> = std::fs::read_dir(&log_dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    let long = "a".repeat(300);
    for topic in ["..", "..%2F..%2Fetc", "a%2Fb", "a%00b", "%2E%2E", "a%20b", long.as_str()] {
        let uri = format!("/api/v1/topics/{topic}/records");
        let (status, problem) = post(&f, &uri, Some(TOKEN), body_of("{}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{topic}: {problem}");
        assert!(problem["detail"].as_str().unwrap().starts_with("not a topic name"), "{problem}");
    }
    let after: Vec<_> = std::fs::read_dir(&log_dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(before, after, "nothing was created in the log's folder");
    assert!(!f._dir.path().join("etc").exists());

    // With the store gone, answers are 503s that say so, without the database's own words.
    f.store.close().await;
    for uri in ["/api/v1/dead-letters", "/api/v1/mobile/clusters/history?from_version=1&to_version=1"] {
        let (status, content_type, body) = call(&f, "GET", uri).await;
        assert_eq!(
            (status, content_type.as_str()),
            (StatusCode::SERVICE_UNAVAILABLE, "application/problem+json")
        );
        let text = body.to_string().to_lowercase();
        for internal in ["sqlite", "sqlx", "pool", "closed", "/tmp", "select ", ".rs:", "panicked"] {
            assert!(!text.contains(internal), "{uri} leaks {internal:?}: {text}");
        }
    }
}

#[tokio::test]
async fn a_body_that_never_ends_is_cut_off_by_the_request_timeout() {
    let f = fixture_timed(Duration::from_millis(300)).await;
    let never = futures::stream::pending::<Result<bytes::Bytes, std::io::Error>>();
    let request = Request::builder()
        .method("POST")
        .uri("/api/v1/topics/mobile_data/records")
        .header("authorization", format!("Bearer {TOKEN}"))
        .body(Body::from_stream(never))
        .unwrap();
    // Generous: this waits for the cut, it does not time it.
    let response = tokio::time::timeout(Duration::from_secs(30), router(f.state.clone()).oneshot(request))
        .await
        .expect("the request was cut off")
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(topic_records(&f, "mobile_data").await.is_empty());
}

/// Every markets endpoint answers from views that have only the columns `views_read` lists: the
/// list names every column the endpoints use.
#[tokio::test]
async fn the_markets_endpoints_need_only_the_columns_they_declare() {
    let f = fixture().await;
    let declared = crate::views_read::views_read();
    let before = f.state.versions.now().views.clone();
    for (view, columns) in &declared {
        let column = |name: &str| -> ArrayRef {
            match name {
                "date" | "first_date" | "last_date" => Arc::new(Date32Array::from(vec![MARCH_1])),
                "series" => texts(["IT".to_string()]),
                "symbol" => texts(["^GDAXI".to_string()]),
                "measure" => texts(["cases".to_string()]),
                "kind" if *view == "series_catalogue" => texts(["country".to_string()]),
                "kind" => texts(["levels".to_string()]),
                "series_name" | "reason" => texts(["x".to_string()]),
                "lag" => Arc::new(Int64Array::from(vec![0])),
                "n" => Arc::new(Int64Array::from(vec![40])),
                "window_days" => Arc::new(Int64Array::from(vec![30])),
                _ => Arc::new(Float64Array::from(vec![0.5])),
            }
        };
        publish(&f.store, view, batch(columns.iter().map(|c| (c.as_str(), column(c))).collect())).await;
    }
    // The new versions reach the API (the store announces them).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let published = |v: &str| f.state.versions.now().views.get(v).copied().unwrap_or(0);
    while declared.keys().any(|v| published(v) <= before.get(*v).copied().unwrap_or(0)) {
        assert!(tokio::time::Instant::now() < deadline, "{:?}", f.state.versions.now().views);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut uris: Vec<String> = crate::choices::Metric::ALL
        .iter()
        .map(|m| format!("/api/v1/markets/series?series=IT&metric={}", crate::choices::name(m)))
        .collect();
    uris.extend(
        [
            "/api/v1/markets/catalogue?kind=country",
            "/api/v1/markets/correlations?series=IT&measure=cases&kind=levels&lag=0",
            "/api/v1/markets/correlations/strongest?by=spearman&min_n=3",
            "/api/v1/markets/rolling-correlations?series=IT&measure=cases&kind=levels&from=2020-03-01",
            "/api/v1/markets/aligned?series=IT&from=2020-03-01&to=2020-03-01",
        ]
        .map(String::from),
    );
    for uri in uris {
        let body = ok(&f, &uri).await;
        let rows = body["rows"].as_array().or(body["points"].as_array()).map_or(0, Vec::len);
        assert_eq!(rows, 1, "{uri}: {body}");
    }
}

/// The event log over HTTP: `tributary_log::remote::RemoteLog` against this router on a real
/// port reads and writes what the log underneath holds, with the log's own errors.
#[tokio::test]
async fn the_log_over_http_is_the_log_underneath() {
    use tributary_log::remote::RemoteLog;
    use tributary_log::{EventLog, LogError, OffsetReset, ReadLimits, Record, TopicPartition};

    let f = fixture().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = router(f.state.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let remote = RemoteLog::new(&base, TOKEN).unwrap();

    remote.create_topic("greetings", 3).await.unwrap();
    let exists = remote.create_topic("greetings", 3).await.unwrap_err().to_string();
    assert_eq!(exists, "topic 'greetings' already exists with 3 partitions");
    assert_eq!(remote.ensure_topic("greetings").await.unwrap(), 3);
    let records: Vec<Record> = (0..30u8)
        .map(|i| Record::new(vec![i, 0xff]).with_key(format!("k{}", i % 5)).with_header("h", vec![i]))
        .collect();
    let positions = remote.append("greetings", records.clone()).await.unwrap();
    assert_eq!(positions.len(), 30);
    // What the server's own log holds, record for record.
    for (r, p) in records.iter().zip(&positions) {
        let here = f
            .log
            .read("greetings", p.partition, p.offset, ReadLimits { max_records: 1, max_bytes: 1 << 20 })
            .await
            .unwrap();
        assert_eq!(here[0].record, *r);
        let there = remote
            .read("greetings", p.partition, p.offset, ReadLimits { max_records: 1, max_bytes: 1 << 20 })
            .await
            .unwrap();
        assert_eq!(there, here);
    }
    let described = remote.describe_topics().await.unwrap();
    assert_eq!(described, f.log.describe_topics().await.unwrap());
    assert_eq!(
        remote.append_to_partition("greetings", 1, vec![Record::new("x"), Record::new("y")]).await.unwrap(),
        f.log.offsets("greetings", 1).await.unwrap().end - 2
    );

    // A batch larger than one request carries goes as several, its positions in order.
    let big: Vec<Record> = (0..24u8).map(|i| Record::new(vec![i; 900 << 10])).collect();
    let positions = remote.append_to_partition("greetings", 2, big).await.unwrap();
    let end = f.log.offsets("greetings", 2).await.unwrap().end;
    assert_eq!(positions, end - 24);
    let last =
        f.log.read("greetings", 2, end - 1, ReadLimits { max_records: 1, max_bytes: 1 << 20 }).await.unwrap();
    assert_eq!(last[0].record.value[0], 23);
    let described = remote.describe_topics().await.unwrap();

    // A group member reads every record once, commits, and a second member starts after them.
    let mut member = remote.subscribe("readers", &["greetings"], OffsetReset::Earliest).await.unwrap();
    let expected: u64 = described
        .iter()
        .filter(|t| t.name == "greetings")
        .flat_map(|t| &t.partitions)
        .map(|p| p.offsets.end)
        .sum();
    let mut seen = 0;
    while (seen as u64) < expected {
        let got = member.poll(7, Duration::from_secs(5)).await.unwrap();
        assert!(!got.is_empty(), "only {seen} of {expected} records came");
        seen += got.len();
    }
    member.commit().await.unwrap();
    let committed: u64 = remote.committed("readers").await.unwrap().iter().map(|(_, o)| o).sum();
    assert_eq!(committed, expected);
    assert_eq!(f.log.committed("readers").await.unwrap(), remote.committed("readers").await.unwrap());
    let mut next = remote.subscribe("readers", &["greetings"], OffsetReset::Earliest).await.unwrap();
    assert!(next.poll(10, Duration::from_millis(200)).await.unwrap().is_empty());
    // A record appended while it waits arrives within the poll.
    let appender = remote.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        appender.append("greetings", vec![Record::new("late")]).await.unwrap();
    });
    let late = next.poll(10, Duration::from_secs(10)).await.unwrap();
    assert_eq!(&late[0].record.value[..], b"late");
    let mut reader = remote.partition_reader("greetings", 0, 0).await.unwrap();
    assert!(!reader.read(100, Duration::ZERO).await.unwrap().is_empty());
    assert!(remote.groups().await.unwrap().contains(&"readers".to_string()));
    remote.commit("other", &[(TopicPartition::new("greetings", 0), 1)]).await.unwrap();
    assert_eq!(f.log.committed("other").await.unwrap(), vec![(TopicPartition::new("greetings", 0), 1)]);

    // The log's errors, as the log words them.
    assert!(matches!(remote.partition_count("nope").await, Err(LogError::UnknownTopic(t)) if t == "nope"));
    assert!(matches!(remote.read("nope", 0, 0, ReadLimits::default()).await, Err(LogError::UnknownTopic(_))));
    let bad = remote.create_topic("bad/name", 1).await.unwrap_err().to_string();
    assert!(bad.starts_with("invalid topic name 'bad/name'"), "{bad}");
    let far = remote.read("greetings", 0, 1_000_000, ReadLimits::default()).await.unwrap_err().to_string();
    assert!(far.starts_with("offset 1000000 is out of range"), "{far}");
    let stranger = RemoteLog::new(&base, "wrong-token").unwrap();
    let refused = stranger.describe_topics().await.unwrap_err().to_string();
    assert!(refused.contains("refused the token"), "{refused}");
}

/// The import endpoint: behind the token, 404 where the process has no lake, its parameters
/// documented with the values they take.
#[tokio::test]
async fn imports_need_the_token_and_a_process_with_a_lake() {
    let f = fixture().await;
    let (status, _) = post(&f, "/api/v1/markets/import?name=x.csv", None, b"a,b\n".to_vec()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = post(&f, "/api/v1/markets/import?name=x.csv", Some(TOKEN), b"a,b\n".to_vec()).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let openapi = ok(&f, "/api/v1/openapi.json").await;
    let parameters =
        openapi["paths"]["/api/v1/markets/import"]["post"]["parameters"].as_array().unwrap().clone();
    let dataset = parameters.iter().find(|p| p["name"] == "dataset").unwrap();
    assert_eq!(dataset["schema"]["pattern"], "^(covid_daily|covid_weekly|prices)$");
}

//! The Markets × COVID pipeline end to end, run as a user would: `tributary up` pulls the real
//! ECDC and DAX files by `file://` URL into the lake, the batch runner computes the views and
//! publishes them to the serving store (SQLite), where this test reads the rows. A second start
//! finds both files unchanged and publishes nothing new.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};
use tributary_store::prelude::*;

use tributary_store::{SqlStore, ViewVersionRow};

const VIEWS: [&str; 7] = [
    "aligned_daily",
    "correlations",
    "reference_covid",
    "reference_prices",
    "rolling_correlations",
    "series_catalogue",
    "series_daily",
];

fn up(data: &Path, sources: &str, log_name: &str) -> Child {
    common::tributary(data)
        .args(["--set", "mobile.generator_rate=0", "--set", "markets.batch_debounce=300ms"])
        .args(["--set", &format!("markets.sources={sources}")])
        .arg("up")
        .env("RUST_LOG", "info")
        .stdout(std::fs::File::create(data.join(format!("{log_name}.out"))).unwrap())
        .stderr(std::fs::File::create(data.join(log_name)).unwrap())
        .spawn()
        .unwrap()
}

/// The current version of every published view, once all seven are there and were computed from
/// `covid_version` of the ECDC data.
fn wait_for_views(
    data: &Path,
    covid_version: u64,
    child: &mut Child,
    log_name: &str,
) -> BTreeMap<String, ViewVersionRow> {
    let rt = common::runtime();
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let log = std::fs::read_to_string(data.join(log_name)).unwrap_or_default();
            panic!("up exited early ({status}):\n{log}");
        }
        let current = rt.block_on(async {
            let store = SqlStore::open_sqlite(&data.join("store.sqlite")).await.ok()?;
            let views = store.current_views().await.ok();
            store.close().await;
            views
        });
        if let Some(views) = current {
            let done = views.len() == VIEWS.len()
                && views
                    .iter()
                    .filter(|v| v.view != "reference_prices")
                    .all(|v| v.dataset_versions.get("covid_daily") == Some(&covid_version))
                && views
                    .iter()
                    .filter(|v| {
                        !["reference_covid", "series_daily", "series_catalogue"].contains(&v.view.as_str())
                    })
                    .all(|v| v.dataset_versions.get("prices") == Some(&1));
            if done {
                return views.into_iter().map(|v| (v.view.clone(), v)).collect();
            }
        }
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(data.join(log_name)).unwrap_or_default();
            panic!("the views were not published in time; up's log:\n{log}");
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn up_pulls_file_urls_and_publishes_every_view_to_the_store() {
    let Some((ecdc, dax)) = common::ecdc_and_dax() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let sources = format!(
        "[{{url = \"file://{}\", dataset = \"covid_daily\"}}, {{url = \"file://{}\", dataset = \"prices\", symbol = \"^GDAXI\"}}]",
        ecdc.display(),
        dax.display()
    );
    let mut child = up(data, &sources, "up-1.log");
    let views = wait_for_views(data, 1, &mut child, "up-1.log");
    let api = common::api_address(&data.join("up-1.log.out"));

    assert_eq!(views.keys().map(String::as_str).collect::<Vec<_>>(), VIEWS);
    assert_eq!((views["reference_covid"].rows, views["reference_prices"].rows), (61_900, 8_846));
    let correlations = &views["correlations"];
    assert_eq!(
        correlations.dataset_versions,
        BTreeMap::from([("covid_daily".into(), 1), ("prices".into(), 1)])
    );

    // The rows, as the API will read them: Italy's cases against the DAX at lag 0.
    let rt = common::runtime();
    rt.block_on(async {
        let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", data.join("store.sqlite").display())).await.unwrap();
        let sql = format!(
            "SELECT view_version, n, pearson, pearson_p, spearman, reason FROM \"{}\" WHERE series = 'IT' AND measure = 'cases' AND kind = 'levels' AND lag = 0",
            correlations.table
        );
        let (version, n, pearson, p, spearman, reason): (i64, i64, Option<f64>, Option<f64>, Option<f64>, Option<String>) =
            sqlx::query_as(&sql).fetch_one(&pool).await.unwrap();
        assert_eq!(version as u64, correlations.version);
        assert!(n > 200, "trading days of 2020 with a 7-day average: {n}");
        let (pearson, p, spearman) = (pearson.unwrap(), p.unwrap(), spearman.unwrap());
        assert!((-1.0..=1.0).contains(&pearson) && (0.0..=1.0).contains(&p) && (-1.0..=1.0).contains(&spearman));
        assert_eq!(reason, None);
        let lags: i64 = sqlx::query_scalar(&format!(
            "SELECT COUNT(DISTINCT lag) FROM \"{}\" WHERE series = 'WORLD'",
            correlations.table
        ))
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(lags, 57);
        let windows: Vec<i64> = sqlx::query_scalar(&format!(
            "SELECT DISTINCT window_days FROM \"{}\" WHERE series = 'EU27' ORDER BY 1",
            views["rolling_correlations"].table
        ))
        .fetch_all(&pool)
        .await
        .unwrap();
        assert_eq!(windows, [30, 60, 90]);

        // The same row through the HTTP API: the same numbers, from the same version.
        let (status, body) = common::http_get(&api, "/api/v1/markets/correlations?series=IT&measure=cases&kind=levels&lag=0");
        assert_eq!(status, 200, "{body}");
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["version"].as_u64(), Some(correlations.version));
        assert_eq!(body["rows"][0]["n"].as_i64(), Some(n));
        assert_eq!(body["rows"][0]["pearson"].as_f64(), Some(pearson));
        assert_eq!(body["rows"][0]["spearman"].as_f64(), Some(spearman));
        pool.close().await;
    });
    let (status, body) = common::http_get(
        &api,
        "/api/v1/markets/series?series=IT&metric=c7&bucket=month&from=2020-03-01&to=2020-03-31",
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"date\":\"2020-03-01\"") && body.contains("\"days\":31"), "{body}");
    let (status, body) = common::http_get(&api, "/api/v1/markets/series?series=IT'--&metric=c7");
    assert_eq!(status, 400, "{body}");
    let (status, metrics) = common::http_get(&api, "/metrics");
    assert_eq!(status, 200);
    assert!(metrics.contains("tributary_http_requests_total"), "{metrics}");
    common::stop(child);

    // A second start: both files unchanged (not fetched again), so nothing new is published.
    let mut child = up(data, &sources, "up-2.log");
    let again = wait_for_views(data, 1, &mut child, "up-2.log");
    std::thread::sleep(Duration::from_secs(2));
    // The pipeline status has both pulls of each source: the import, then "not modified".
    let api = common::api_address(&data.join("up-2.log.out"));
    let (status, body) = common::http_get(&api, "/api/v1/pipeline");
    assert_eq!(status, 200, "{body}");
    let pipeline: serde_json::Value = serde_json::from_str(&body).unwrap();
    let ecdc_source = format!("pull:file://{}", ecdc.display());
    let pull = pipeline["sources"].as_array().unwrap().iter().find(|s| s["source"] == ecdc_source.as_str());
    let pull = pull.unwrap_or_else(|| panic!("{ecdc_source} in {body}"));
    assert_eq!(
        (&pull["kind"], &pull["runs"], &pull["rows"], &pull["last_rows"], &pull["failures"]),
        (&"pull".into(), &2.into(), &61_900.into(), &0.into(), &0.into()),
        "{body}"
    );
    common::stop(child);
    let log = std::fs::read_to_string(data.join("up-2.log")).unwrap();
    assert_eq!(log.matches("pull: not modified").count(), 2, "{log}");
    assert!(again.values().all(|v| v.version == views[&v.view].version), "no new versions: {again:?}");
}

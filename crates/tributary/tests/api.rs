//! The HTTP API as a user meets it: `tributary up` serves it on the address it prints, with a
//! token it makes at the first start; `tributary generate --out http:URL` feeds the mobile
//! pipeline through it; the clusters and the pipeline's state come back over HTTP.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

#[test]
fn generate_over_http_feeds_the_clusters_that_the_api_serves() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let child = common::tributary(data)
        .args(["--set", "mobile.generator_rate=0", "--set", "mobile.init_min_points=500"])
        .arg("up")
        .stdout(std::fs::File::create(data.join("up.out")).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let api = common::api_address(&data.join("up.out"));
    let mut out = String::new();
    for _ in 0..100 {
        out = std::fs::read_to_string(data.join("up.out")).unwrap();
        if out.contains("Ctrl-C stops") {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(out.contains("API token") && out.contains("(new; kept in"), "{out}");
    let token = std::fs::read_to_string(data.join("api-token")).unwrap();
    assert!(token.trim().len() >= 32);
    #[cfg(unix)]
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(data.join("api-token")).unwrap().permissions()
        ) & 0o777,
        0o600
    );

    assert_eq!(common::http_get(&api, "/healthz").0, 200);
    assert_eq!(common::http_get(&api, "/readyz").0, 200);
    assert_eq!(common::http_get(&api, "/api/v1/mobile/clusters").0, 404, "no model yet");

    let generated = common::tributary(data)
        .args(["generate", "--count", "20000", "--out", &format!("http:http://{api}")])
        .output()
        .unwrap();
    assert!(generated.status.success(), "{}", common::stderr(&generated));

    // The model appears and its history covers every generated event.
    let deadline = Instant::now() + Duration::from_secs(120);
    let covered = loop {
        let (status, body) = common::http_get(&api, "/api/v1/mobile/clusters/history?limit=1000");
        if status == 200 {
            let versions: serde_json::Value = serde_json::from_str(&body).unwrap();
            let points: u64 =
                versions.as_array().unwrap().iter().map(|v| v["batch_points"].as_u64().unwrap()).sum();
            if points >= 20_000 || Instant::now() > deadline {
                break points;
            }
        }
        assert!(Instant::now() < deadline, "no model over HTTP: {status} {body}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(covered, 20_000, "every event in exactly one model version");
    let (status, body) = common::http_get(&api, "/api/v1/mobile/clusters");
    assert_eq!(status, 200, "{body}");
    let latest: serde_json::Value = serde_json::from_str(&body).unwrap();
    let centres = latest["centres"].as_array().unwrap();
    assert_eq!(centres.len(), 8);
    let share: f64 = centres.iter().map(|c| c["share"].as_f64().unwrap()).sum();
    assert!((share - 1.0).abs() < 1e-9, "{share}");
    assert!(centres.iter().all(|c| (35.0..72.0).contains(&c["lat"].as_f64().unwrap())), "{centres:?}");

    // Nothing was a dead letter; a wrong token is refused.
    let (status, body) = common::http_get(&api, "/api/v1/dead-letters");
    assert_eq!(status, 200);
    assert!(body.contains("\"total\":0"), "{body}");
    let refused = common::tributary(data)
        .args([
            "--set",
            "api.token=wrong",
            "generate",
            "--count",
            "10",
            "--out",
            &format!("http:http://{api}"),
        ])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(common::stderr(&refused).contains("401"), "{}", common::stderr(&refused));
    let (_, metrics) = common::http_get(&api, "/metrics");
    assert!(metrics.contains("tributary_http_request_duration_seconds_bucket"), "{metrics}");
    assert!(
        metrics.contains("tributary_consumer_lag_records{consumer=\"mobile\",kind=\"processor\"} 0"),
        "{metrics}"
    );
    // The ingest is a source of the pipeline status (its runs reach the store within a second).
    let mut pipeline = serde_json::Value::Null;
    for _ in 0..50 {
        let (status, body) = common::http_get(&api, "/api/v1/pipeline");
        assert_eq!(status, 200, "{body}");
        pipeline = serde_json::from_str(&body).unwrap();
        if pipeline["sources"].as_array().unwrap().iter().any(|s| s["rows"] == 20_000) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(pipeline["topics"].as_array().unwrap().iter().any(|t| t["topic"] == "mobile_data"), "{pipeline}");
    let http = pipeline["sources"].as_array().unwrap().iter().find(|s| s["source"] == "http:mobile_data");
    let http = http.unwrap_or_else(|| panic!("no http:mobile_data source in {pipeline}"));
    assert_eq!((&http["kind"], &http["rows"], &http["errors"]), (&"http".into(), &20_000.into(), &0.into()));
    assert!(
        metrics.contains(
            "tributary_source_records_total{source=\"http:mobile_data\",result=\"accepted\"} 20000"
        ),
        "{metrics}"
    );
    a_replica_answers_as_up_does(data, &api);
    common::stop(child);
}

/// `tributary serve` beside the running `up`: the same answers from the same store, without the
/// log that `up` owns.
fn a_replica_answers_as_up_does(data: &std::path::Path, api: &str) {
    let replica = common::tributary(data)
        .arg("serve")
        .stdout(std::fs::File::create(data.join("serve.out")).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let replica_api = common::api_address(&data.join("serve.out"));
    assert_ne!(replica_api, api);
    let out = std::fs::read_to_string(data.join("serve.out")).unwrap();
    assert!(out.contains("API token       in "), "the token that up made: {out}");
    for path in
        ["/api/v1/mobile/clusters", "/api/v1/mobile/clusters/history?limit=1000", "/api/v1/dead-letters"]
    {
        let (status, from_up) = common::http_get(api, path);
        assert_eq!(status, 200, "{path}: {from_up}");
        let (status, from_replica) = common::http_get(&replica_api, path);
        assert_eq!(status, 200, "{path}: {from_replica}");
        let parsed = |body: &str| serde_json::from_str::<serde_json::Value>(body).unwrap();
        assert_eq!(parsed(&from_replica), parsed(&from_up), "{path}");
    }
    // The pipeline status from the store alone: the processor's offsets and the sources, no topics.
    let (status, body) = common::http_get(&replica_api, "/api/v1/pipeline");
    assert_eq!(status, 200, "{body}");
    let pipeline: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(pipeline["topics"], serde_json::json!([]), "{pipeline}");
    assert!(
        pipeline["sources"].as_array().unwrap().iter().any(|s| s["source"] == "http:mobile_data"),
        "{pipeline}"
    );
    assert_eq!(
        common::http_get(&replica_api, "/api/v1/mobile/recent").0,
        404,
        "no log to read recent events from"
    );
    common::stop(replica);
}

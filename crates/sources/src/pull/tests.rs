//! Against a real HTTP/1.1 server on loopback that answers from a script, one response per
//! connection, and records the requests it got.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;

/// What the server does with one connection.
enum Reply {
    /// Status line, headers and body, sent at once.
    Full(&'static str, Vec<(&'static str, String)>, Vec<u8>),
    /// Accept the request and say nothing (for timeouts).
    Silent,
}

struct Server {
    url: String,
    requests: Arc<Mutex<Vec<String>>>,
}

async fn server(script: Vec<Reply>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/data.csv", listener.local_addr().unwrap());
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = requests.clone();
    tokio::spawn(async move {
        for reply in script {
            let (mut socket, _) = listener.accept().await.unwrap();
            let seen = seen.clone();
            // Each connection on its own task, so that a silent one does not hold up the next.
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = socket.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    request.extend_from_slice(&buf[..n]);
                }
                seen.lock().unwrap().push(String::from_utf8_lossy(&request).into_owned());
                match reply {
                    Reply::Full(status, headers, body) => {
                        let mut head = format!("HTTP/1.1 {status}\r\nconnection: close\r\n");
                        for (k, v) in headers {
                            head.push_str(&format!("{k}: {v}\r\n"));
                        }
                        head.push_str("\r\n");
                        socket.write_all(head.as_bytes()).await.ok();
                        socket.write_all(&body).await.ok();
                        socket.shutdown().await.ok();
                    }
                    Reply::Silent => tokio::time::sleep(Duration::from_secs(5)).await,
                }
            });
        }
    });
    Server { url, requests }
}

fn ok(body: &str, headers: Vec<(&'static str, String)>) -> Reply {
    let mut headers = headers;
    headers.push(("content-length", body.len().to_string()));
    Reply::Full("200 OK", headers, body.as_bytes().to_vec())
}

fn quick(retries: u32) -> Puller {
    Puller::new(PullLimits {
        timeout: Duration::from_millis(500),
        max_bytes: 1000,
        retries,
        backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(40),
    })
    .unwrap()
}

fn payload(f: Fetched) -> Payload {
    match f {
        Fetched::Payload(p) => p,
        Fetched::NotModified => panic!("expected a payload"),
    }
}

#[tokio::test]
async fn validators_are_sent_back_and_not_modified_is_reported() {
    let s = server(vec![
        ok(
            "Date,Close\n",
            vec![("etag", "\"v1\"".into()), ("last-modified", "Mon, 14 Dec 2020 10:00:00 GMT".into())],
        ),
        Reply::Full("304 Not Modified", vec![], vec![]),
    ])
    .await;
    let puller = quick(0);
    let mut seen = Vec::new();
    let first = payload(
        puller.fetch(&s.url, &Validators::default(), &mut |n, total| seen.push((n, total))).await.unwrap(),
    );
    assert_eq!(first.bytes, b"Date,Close\n");
    assert_eq!(first.validators.etag.as_deref(), Some("\"v1\""));
    assert_eq!(seen.last(), Some(&(11, Some(11))), "progress reaches the announced total");
    let second = puller.fetch(&s.url, &first.validators, &mut |_, _| {}).await.unwrap();
    assert_eq!(second, Fetched::NotModified);
    let requests = s.requests.lock().unwrap();
    assert!(!requests[0].to_ascii_lowercase().contains("if-none-match"));
    let conditional = requests[1].to_ascii_lowercase();
    assert!(conditional.contains("if-none-match: \"v1\""), "{conditional}");
    assert!(conditional.contains("if-modified-since: mon, 14 dec 2020 10:00:00 gmt"), "{conditional}");
}

#[tokio::test]
async fn transient_failures_are_retried_with_backoff_and_final_ones_are_not() {
    let s = server(vec![
        Reply::Full("503 Service Unavailable", vec![("content-length", "0".into())], vec![]),
        Reply::Silent,
        ok("x", vec![]),
    ])
    .await;
    let got = payload(quick(2).fetch(&s.url, &Validators::default(), &mut |_, _| {}).await.unwrap());
    assert_eq!(got.bytes, b"x");
    assert_eq!(s.requests.lock().unwrap().len(), 3, "503, then a timeout, then success");

    let s = server(vec![Reply::Full("404 Not Found", vec![("content-length", "0".into())], vec![])]).await;
    let error = quick(3).fetch(&s.url, &Validators::default(), &mut |_, _| {}).await.unwrap_err();
    assert!(matches!(error, PullError::Status { status: 404, .. }), "{error}");
    assert_eq!(s.requests.lock().unwrap().len(), 1, "a 404 is not retried");

    let s = server(vec![Reply::Silent, Reply::Silent]).await;
    let error = quick(1).fetch(&s.url, &Validators::default(), &mut |_, _| {}).await.unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains(&s.url) && text.contains("after 2 attempts") && text.contains("timed out"),
        "{text}"
    );
}

#[tokio::test]
async fn payloads_over_the_limit_are_refused_announced_or_not() {
    let big = "y".repeat(1001);
    let s = server(vec![
        ok(&big, vec![]),
        // No content-length: the limit is found while reading.
        Reply::Full("200 OK", vec![], big.as_bytes().to_vec()),
    ])
    .await;
    for _ in 0..2 {
        let error = quick(0).fetch(&s.url, &Validators::default(), &mut |_, _| {}).await.unwrap_err();
        assert!(matches!(error, PullError::TooLarge { limit: 1000, .. }), "{error}");
    }
}

#[tokio::test]
async fn files_are_pulled_by_url_and_unchanged_files_are_not_modified() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prices.csv");
    std::fs::write(&path, "Date,Close\n2020-01-02,1\n").unwrap();
    let url = url::Url::from_file_path(&path).unwrap().to_string();
    let puller = quick(0);
    let first = payload(puller.fetch(&url, &Validators::default(), &mut |_, _| {}).await.unwrap());
    assert_eq!(first.bytes.len(), 24);
    assert_eq!(puller.fetch(&url, &first.validators, &mut |_, _| {}).await.unwrap(), Fetched::NotModified);
    std::fs::write(&path, "Date,Close\n2020-01-02,1\n2020-01-03,2\n").unwrap();
    assert!(matches!(
        puller.fetch(&url, &first.validators, &mut |_, _| {}).await.unwrap(),
        Fetched::Payload(_)
    ));

    std::fs::write(&path, "z".repeat(1001)).unwrap();
    assert!(matches!(
        puller.fetch(&url, &Validators::default(), &mut |_, _| {}).await,
        Err(PullError::TooLarge { .. })
    ));
    let missing = url.replace("prices.csv", "missing.csv");
    let error = puller.fetch(&missing, &Validators::default(), &mut |_, _| {}).await.unwrap_err();
    assert!(matches!(error, PullError::File { .. }) && error.to_string().contains("missing.csv"), "{error}");
    for (bad, says) in [
        ("ftp://x/y", "not supported"),
        ("not a url", "not a URL"),
        ("file://host/relative", "absolute path"),
    ] {
        let error = puller.fetch(bad, &Validators::default(), &mut |_, _| {}).await.unwrap_err().to_string();
        assert!(error.contains(says), "{bad}: {error}");
    }
}

//! Scale-out on Kafka (`TRIBUTARY_TEST_KAFKA`): `tributary worker` processes in one consumer
//! group share the partitions of the events topic while a generator publishes; the model they
//! build together counts every event once and equals one process replaying the same
//! micro-batches (`tributary replay`). Workers stop cleanly or are killed mid-run and restarted.
//!
//! The workers share the data directory's SQLite store (several processes on one machine); the
//! log is the broker. Each test uses its own topic, model and consumer groups.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tributary_store::prelude::*;

use common::{api_address, http_get, run_with_input, runtime, stderr, tributary};

/// A child process that is killed when the test ends, also when it fails half-way.
struct Process(Option<Child>);

impl Process {
    fn spawn(mut cmd: Command) -> Self {
        Self(Some(cmd.spawn().unwrap()))
    }

    /// Waits for it to exit by itself.
    fn finish(mut self) -> std::process::Output {
        self.0.take().unwrap().wait_with_output().unwrap()
    }
}

impl std::ops::Deref for Process {
    type Target = Child;
    fn deref(&self) -> &Child {
        self.0.as_ref().unwrap()
    }
}

impl std::ops::DerefMut for Process {
    fn deref_mut(&mut self) -> &mut Child {
        self.0.as_mut().unwrap()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

struct Setup {
    url: String,
    dir: tempfile::TempDir,
    topic: String,
    model: String,
}

impl Setup {
    fn new(url: String) -> Self {
        let suffix = format!("{}-{:08x}", std::process::id(), rand::random::<u32>());
        Self {
            url,
            dir: tempfile::tempdir().unwrap(),
            topic: format!("mobile-{suffix}"),
            model: format!("m-{suffix}"),
        }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = tributary(self.dir.path());
        for setting in [
            format!("log={}", self.url),
            format!("mobile.topic={}", self.topic),
            format!("mobile.model={}", self.model),
            "mobile.k=5".into(),
            "mobile.decay=0.95".into(),
            "mobile.init_min_points=300".into(),
            "mobile.batch_interval=100ms".into(),
            "mobile.batch_max_records=2000".into(),
        ] {
            cmd.args(["--set", &setting]);
        }
        cmd.args(args);
        cmd
    }

    fn run(&self, args: &[&str]) -> String {
        let out = self.cmd(args).output().unwrap();
        assert!(out.status.success(), "tributary {args:?}: {}", stderr(&out));
        String::from_utf8(out.stdout).unwrap()
    }

    /// A long-running command, its output in `<name>.out` and its log in `<name>.log`.
    fn spawn(&self, name: &str, args: &[&str]) -> Process {
        let mut cmd = self.cmd(args);
        cmd.env("RUST_LOG", "info")
            .stdout(std::fs::File::create(self.dir.path().join(format!("{name}.out"))).unwrap())
            .stderr(std::fs::File::create(self.dir.path().join(format!("{name}.log"))).unwrap());
        Process::spawn(cmd)
    }

    /// `events` generated events as files of 1,000 in the inbox.
    fn drop_files(&self, events: u64) {
        let inbox = format!("dir:{}", self.dir.path().join("inbox").display());
        self.run(&["generate", "--out", &inbox, "--count", &events.to_string(), "--file-records", "1000"]);
    }

    fn worker(&self, id: &str) -> Process {
        let log = std::fs::File::create(self.dir.path().join(format!("{id}.log"))).unwrap();
        let mut cmd = self.cmd(&["worker", "--id", id]);
        cmd.env("RUST_LOG", "info").stdout(Stdio::null()).stderr(log);
        Process::spawn(cmd)
    }

    /// Waits until each of these workers holds some of the topic's partitions (the group has
    /// formed), as their logs say.
    fn wait_until_assigned(&self, ids: &[&str]) {
        wait_until("the consumer group to share the partitions", || {
            ids.iter().all(|id| {
                let text =
                    std::fs::read_to_string(self.dir.path().join(format!("{id}.log"))).unwrap_or_default();
                text.lines()
                    .rev()
                    .find(|l| l.contains("partitions assigned"))
                    .is_some_and(|l| !l.contains("partitions=[]"))
            })
        });
    }

    fn generator(&self, count: u64, rate: u32) -> Process {
        let out = format!("log:{}", self.topic);
        let mut cmd = self.cmd(&[
            "generate",
            "--out",
            &out,
            "--count",
            &count.to_string(),
            "--rate",
            &rate.to_string(),
        ]);
        cmd.stdout(Stdio::null()).stderr(Stdio::piped());
        Process::spawn(cmd)
    }

    /// Records that are not events, published to the events topic.
    fn garbage(&self, n: usize) {
        let lines: String = (0..n).map(|i| format!("device-{i}|this is not an event #{i}\n")).collect();
        let out = run_with_input(
            self.cmd(&["log", "produce", &self.topic, "--key-separator", "|"]),
            lines.as_bytes(),
        );
        assert!(out.status.success(), "{}", stderr(&out));
    }

    /// Waits until the shared store counts `points` events and `dead` dead letters of the model;
    /// fails at once if it counts more.
    fn wait_for_counts(&self, points: u64, dead: u64, workers: &[(&str, &Process)]) {
        let rt = runtime();
        let store = rt
            .block_on(tributary_store::SqlStore::open_sqlite(&self.dir.path().join("store.sqlite")))
            .unwrap();
        let source = format!("processor:{}", self.model);
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            let (p, d) = rt.block_on(async {
                let p = store.kmeans_points(&self.model).await.unwrap();
                let d = store.dead_letters(Some(&source), 10_000, None).await.unwrap().len() as u64;
                (p, d)
            });
            if (p, d) == (points, dead) {
                break;
            }
            assert!(
                p <= points && d <= dead,
                "counted {p} points and {d} dead letters; expected {points} and {dead}"
            );
            if Instant::now() > deadline {
                panic!(
                    "after 180 s: {p} of {points} points, {d} of {dead} dead letters\n{}",
                    self.logs(workers)
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        rt.block_on(store.close());
    }

    /// Waits until the store holds as many dead letters as the dead-letter topic, and at least
    /// `at_least`; fails at once if it holds more.
    fn wait_for_dead_letters(&self, at_least: u64) {
        let rt = runtime();
        let store = rt
            .block_on(tributary_store::SqlStore::open_sqlite(&self.dir.path().join("store.sqlite")))
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            // The store first: what it holds then was published before the topic is read.
            let stored = rt.block_on(store.dead_letter_count()).unwrap();
            let topics: serde_json::Value =
                serde_json::from_str(&self.run(&["log", "topics", "--json"])).unwrap();
            let published: u64 = topics["topics"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|t| t["name"] == "dead_letters")
                .flat_map(|t| t["partitions"].as_array().unwrap())
                .map(|p| p["offsets"]["end"].as_u64().unwrap() - p["offsets"]["start"].as_u64().unwrap())
                .sum();
            assert!(stored <= published, "{stored} dead letters stored, {published} published");
            if stored == published && stored >= at_least {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "after 120 s: {stored} dead letters stored, {published} published"
            );
            std::thread::sleep(Duration::from_millis(300));
        }
        rt.block_on(store.close());
    }

    fn logs(&self, workers: &[(&str, &Process)]) -> String {
        workers
            .iter()
            .map(|(id, _)| {
                let text =
                    std::fs::read_to_string(self.dir.path().join(format!("{id}.log"))).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(30).collect();
                format!(
                    "--- {id} (last lines) ---\n{}",
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// One process replays every stored version; returns (versions, points).
    fn replay(&self) -> (u64, u64) {
        let out = self.run(&["replay"]);
        let report: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        (report["versions"].as_u64().unwrap(), report["points"].as_u64().unwrap())
    }
}

fn terminate(child: &mut Process) {
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let status = child.wait().unwrap();
    assert!(status.success(), "a worker stopped with {status}");
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn points_of(dir: &Path, model: &str) -> u64 {
    let rt = runtime();
    rt.block_on(async {
        let store = tributary_store::SqlStore::open_sqlite(&dir.join("store.sqlite")).await.unwrap();
        let n = store.kmeans_points(model).await.unwrap();
        store.close().await;
        n
    })
}

#[test]
fn three_workers_and_a_generator_count_every_event_once_and_equal_one_process() {
    let Some(url) = tributary_test_data::service("TRIBUTARY_TEST_KAFKA") else { return };
    let s = Setup::new(url);
    s.run(&["log", "create-topic", &s.topic, "--partitions", "3"]);
    let mut workers: Vec<(String, Process)> =
        ["w1", "w2", "w3"].iter().map(|id| (id.to_string(), s.worker(id))).collect();
    s.wait_until_assigned(&["w1", "w2", "w3"]);
    let generator = s.generator(6000, 1500).finish();
    assert!(generator.status.success(), "{}", stderr(&generator));
    s.garbage(25);
    let view: Vec<(&str, &Process)> = workers.iter().map(|(id, c)| (id.as_str(), c)).collect();
    s.wait_for_counts(6000, 25, &view);
    for (_, child) in &mut workers {
        terminate(child);
    }
    let (versions, points) = s.replay();
    assert_eq!(points, 6000);
    assert!(versions >= 3, "{versions} versions: the events should span several micro-batches");
    // Every worker took part: each read some partition and sent shares.
    for (id, _) in &workers {
        let text = std::fs::read_to_string(s.dir.path().join(format!("{id}.log"))).unwrap();
        assert!(!text.contains("ERROR"), "{id}:\n{text}");
    }
}

#[test]
fn workers_stopped_or_killed_mid_run_lose_nothing_and_count_nothing_twice() {
    let Some(url) = tributary_test_data::service("TRIBUTARY_TEST_KAFKA") else { return };
    let s = Setup::new(url);
    s.run(&["log", "create-topic", &s.topic, "--partitions", "4"]);
    let mut w1 = s.worker("w1");
    let mut w2 = s.worker("w2");
    let mut w3 = s.worker("w3");
    s.wait_until_assigned(&["w1", "w2", "w3"]);
    let generator = s.generator(9000, 1000);
    let dir = s.dir.path().to_path_buf();
    wait_until("the first 1500 points", || points_of(&dir, &s.model) >= 1500);
    // A clean stop: its partitions (and perhaps the coordinator's role) move to the others.
    terminate(&mut w1);
    let after_stop = points_of(&dir, &s.model);
    wait_until("progress after the stop", || points_of(&dir, &s.model) >= after_stop + 1500);
    // SIGKILL, then the same worker again: it resumes from the committed offsets.
    w2.kill().unwrap();
    w2.wait().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let mut w2 = s.worker("w2");
    let generator = generator.finish();
    assert!(generator.status.success(), "{}", stderr(&generator));
    s.wait_for_counts(9000, 0, &[("w1", &w3), ("w2", &w2), ("w3", &w3)]);
    terminate(&mut w2);
    terminate(&mut w3);
    let (_, points) = s.replay();
    assert_eq!(points, 9000);
}

#[test]
fn up_on_kafka_takes_inbox_files_and_a_worker_joins_it() {
    let Some(url) = tributary_test_data::service("TRIBUTARY_TEST_KAFKA") else { return };
    let s = Setup::new(url);
    s.run(&["log", "create-topic", &s.topic, "--partitions", "2"]);
    // Two partitions of dead letters for the sinks of `up` and the worker to share (unless an
    // earlier test made the topic already).
    let _ = s.cmd(&["log", "create-topic", "dead_letters", "--partitions", "2"]).output();
    let mut up =
        s.spawn("up", &["--set", "mobile.generator_rate=0", "--set", "mobile.file_min_age=0s", "up"]);
    let address = api_address(&s.dir.path().join("up.out"));
    let mut worker = s.worker("w1");
    s.wait_until_assigned(&["up", "w1"]);
    // Files dropped into the inbox go through the directory source to Kafka.
    s.drop_files(4000);
    let inbox = s.dir.path().join("inbox");
    s.wait_for_counts(4000, 0, &[("up", &up), ("w1", &worker)]);
    // Bad lines in a file become dead letters on the log; the two sinks store each exactly once.
    let mut bad = b"timepoint,deviceId,acceloX,acceloY,acceloZ,latitude,longitude,locked\r\n".to_vec();
    for i in 0..40 {
        bad.extend(format!("2020-06-01 12:00:00.000,dev-{i},zero,0,9.8,52.5,13.4,false\r\n").as_bytes());
    }
    std::fs::write(s.dir.path().join(".bad.tmp"), &bad).unwrap();
    std::fs::rename(s.dir.path().join(".bad.tmp"), inbox.join("bad.csv")).unwrap();
    s.wait_for_dead_letters(40);
    let (status, body) = http_get(&address, "/api/v1/pipeline");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(&s.topic), "the pipeline status lists the Kafka topic: {body}");
    terminate(&mut worker);
    terminate(&mut up);
    assert_eq!(s.replay().1, 4000);
}

/// The roles apart, as on a cluster: `ingest` publishes the inbox's files to Kafka, a worker
/// makes the model, a `serve` replica answers; no `up` anywhere.
#[test]
fn ingest_a_worker_and_serve_run_the_mobile_pipeline_without_up() {
    let Some(url) = tributary_test_data::service("TRIBUTARY_TEST_KAFKA") else { return };
    let s = Setup::new(url);
    s.run(&["log", "create-topic", &s.topic, "--partitions", "2"]);
    let mut ingest =
        s.spawn("ingest", &["--set", "mobile.generator_rate=0", "--set", "mobile.file_min_age=0s", "ingest"]);
    let mut worker = s.worker("w1");
    s.wait_until_assigned(&["w1"]);
    s.drop_files(3000);
    s.wait_for_counts(3000, 0, &[("ingest", &ingest), ("w1", &worker)]);
    let mut serve = s.spawn("serve", &["serve"]);
    let address = api_address(&s.dir.path().join("serve.out"));
    let (status, body) = http_get(&address, "/api/v1/mobile/clusters/history?limit=1000");
    assert_eq!(status, 200, "{body}");
    let versions: serde_json::Value = serde_json::from_str(&body).unwrap();
    let points: u64 = versions.as_array().unwrap().iter().map(|v| v["batch_points"].as_u64().unwrap()).sum();
    assert_eq!(points, 3000);
    // The replica reads the Kafka log too: the topic and the inbox's runs are in its status.
    let (status, body) = http_get(&address, "/api/v1/pipeline");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(&s.topic), "{body}");
    assert!(body.contains("\"kind\":\"directory\""), "the inbox's runs: {body}");
    for child in [&mut serve, &mut worker, &mut ingest] {
        terminate(child);
    }
}

/// The Markets × COVID side apart: `ingest` pulls the real files into the lake and announces
/// them on Kafka; `batch follow` (its own consumer group) publishes every view; no `up`.
#[test]
fn ingest_and_batch_follow_publish_the_markets_views_without_up() {
    let Some(url) = tributary_test_data::service("TRIBUTARY_TEST_KAFKA") else { return };
    let Some((ecdc, dax)) = common::ecdc_and_dax() else { return };
    let s = Setup::new(url);
    let group = format!("markets.batch_group=batch-{}", s.model);
    let mut batch =
        s.spawn("batch", &["--set", &group, "--set", "markets.batch_debounce=300ms", "batch", "follow"]);
    let sources = format!(
        "markets.sources=[{{url = \"file://{}\", dataset = \"covid_daily\"}}, {{url = \"file://{}\", dataset = \"prices\", symbol = \"^GDAXI\"}}]",
        ecdc.display(),
        dax.display()
    );
    let mut ingest = s.spawn("ingest", &["--set", "mobile.generator_rate=0", "--set", &sources, "ingest"]);
    let rt = runtime();
    let store =
        rt.block_on(tributary_store::SqlStore::open_sqlite(&s.dir.path().join("store.sqlite"))).unwrap();
    wait_until("the seven views", || {
        let views = rt.block_on(store.current_views()).unwrap();
        views.len() == 7
            && views.iter().all(|v| v.dataset_versions.values().all(|version| *version == 1))
            && views.iter().any(|v| v.view == "correlations" && v.dataset_versions.len() == 2)
    });
    let views = rt.block_on(store.current_views()).unwrap();
    let reference = views.iter().find(|v| v.view == "reference_covid").unwrap();
    assert_eq!(reference.rows, 61_900);
    rt.block_on(store.close());
    terminate(&mut ingest);
    terminate(&mut batch);
}

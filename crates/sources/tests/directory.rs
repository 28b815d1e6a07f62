//! The directory source across crashes: a file interrupted at any append, at any partition count,
//! is resumed exactly (no line twice, none lost) when the source starts again.
//!
//! A crash is simulated by [`CrashingLog`], which lets a given number of appends through, writes
//! only part of the next one, and fails from then on, as a process killed in the middle of an
//! append leaves the log. The source is then started again on the reopened log directory.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::watch;
use tributary_log::{
    ConsumedRecord, Consumer, EmbeddedLog, EmbeddedLogConfig, EventLog, LogError, OffsetReset,
    PartitionOffsets, PartitionReader, ReadLimits, Record, RecordPosition, Result, TopicDescription,
    TopicPartition,
};
use tributary_schema::DeadLetter;
use tributary_schema::dead_letter::DEAD_LETTER_TOPIC;
use tributary_settings::{ByteSize, Limit};
use tributary_sources::directory::{DirectorySourceConfig, FileReport, STATE_TOPIC, run_directory_source};

const TOPIC: &str = "mobile_data";
const FILES: usize = 3;
const LINES: usize = 240;

/// A log that fails after `appends_left` appends; the failing one writes its first half.
struct CrashingLog {
    inner: Arc<dyn EventLog>,
    appends_left: AtomicU64,
}

impl CrashingLog {
    fn crashed() -> LogError {
        LogError::Failed { topic: "any".into(), partition: 0, reason: "simulated crash".into() }
    }

    /// Whether this append may go through; on the one that crashes, writes its first half.
    async fn pass(&self, topic: &str, partition: Option<u32>, records: &[Record]) -> Result<()> {
        match self.appends_left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)) {
            Ok(_) => Ok(()),
            Err(_) => {
                // Only the first failing append writes a part; later ones write nothing.
                if self.appends_left.swap(u64::MAX, Ordering::SeqCst) == 0 {
                    let half = records[..records.len() / 2].to_vec();
                    if !half.is_empty() {
                        match partition {
                            Some(p) => drop(self.inner.append_to_partition(topic, p, half).await?),
                            None => drop(self.inner.append(topic, half).await?),
                        }
                    }
                }
                Err(Self::crashed())
            }
        }
    }

    fn is_down(&self) -> bool {
        self.appends_left.load(Ordering::SeqCst) == u64::MAX
    }
}

#[async_trait]
impl EventLog for CrashingLog {
    async fn create_topic(&self, topic: &str, partitions: u32) -> Result<()> {
        self.inner.create_topic(topic, partitions).await
    }
    async fn describe_topics(&self) -> Result<Vec<TopicDescription>> {
        self.inner.describe_topics().await
    }
    async fn partition_count(&self, topic: &str) -> Result<u32> {
        self.inner.partition_count(topic).await
    }
    async fn ensure_topic(&self, topic: &str) -> Result<u32> {
        self.inner.ensure_topic(topic).await
    }
    async fn append(&self, topic: &str, records: Vec<Record>) -> Result<Vec<RecordPosition>> {
        if self.is_down() {
            return Err(Self::crashed());
        }
        self.pass(topic, None, &records).await?;
        self.inner.append(topic, records).await
    }
    async fn append_to_partition(&self, topic: &str, partition: u32, records: Vec<Record>) -> Result<u64> {
        if self.is_down() {
            return Err(Self::crashed());
        }
        self.pass(topic, Some(partition), &records).await?;
        self.inner.append_to_partition(topic, partition, records).await
    }
    async fn read(
        &self,
        topic: &str,
        partition: u32,
        offset: u64,
        limits: ReadLimits,
    ) -> Result<Vec<ConsumedRecord>> {
        self.inner.read(topic, partition, offset, limits).await
    }
    async fn wait_for(&self, topic: &str, partition: u32, offset: u64, timeout: Duration) -> Result<bool> {
        self.inner.wait_for(topic, partition, offset, timeout).await
    }
    async fn offsets(&self, topic: &str, partition: u32) -> Result<PartitionOffsets> {
        self.inner.offsets(topic, partition).await
    }
    async fn commit(&self, group: &str, offsets: &[(TopicPartition, u64)]) -> Result<()> {
        self.inner.commit(group, offsets).await
    }
    async fn committed(&self, group: &str) -> Result<Vec<(TopicPartition, u64)>> {
        self.inner.committed(group).await
    }
    async fn groups(&self) -> Result<Vec<String>> {
        self.inner.groups().await
    }
    async fn partition_reader(
        &self,
        topic: &str,
        partition: u32,
        offset: u64,
    ) -> Result<Box<dyn PartitionReader>> {
        self.inner.partition_reader(topic, partition, offset).await
    }
    async fn subscribe(&self, group: &str, topics: &[&str], reset: OffsetReset) -> Result<Box<dyn Consumer>> {
        self.inner.subscribe(group, topics, reset).await
    }
}

/// Three CSV files with one device per line (`f<file>-l<line>`), every 17th line malformed.
fn drop_files(inbox: &Path) -> (Vec<String>, Vec<(String, String)>) {
    let (mut good, mut bad) = (Vec::new(), Vec::new());
    for f in 0..FILES {
        let name = format!("events-{f}.csv");
        let mut text =
            String::from("timepoint,deviceId,acceloX,acceloY,acceloZ,latitude,longitude,locked\r\n");
        for l in 0..LINES {
            let line = l as u64 + 2; // line 1 is the header
            let device = format!("f{f}-l{line}");
            if l % 17 == 5 {
                text.push_str(&format!(
                    "2020-01-01 00:00:00.000,{device},0,0,9.8,not-a-number,13.4,true\r\n"
                ));
                bad.push((format!("dir:{name}"), format!("line {line}")));
            } else {
                let lat = 48.0 + (l as f64) / 1000.0;
                text.push_str(&format!("2020-01-01 00:00:00.000,{device},0,0,9.8,{lat},11.5,false\r\n"));
                good.push(device);
            }
        }
        let tmp = inbox.join(format!("{name}.tmp"));
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, inbox.join(&name)).unwrap();
    }
    good.sort();
    bad.sort();
    (good, bad)
}

fn config(inbox: &Path) -> DirectorySourceConfig {
    DirectorySourceConfig {
        dir: inbox.to_path_buf(),
        topic: TOPIC.into(),
        archive_dir: None,
        min_file_age: Duration::ZERO,
        poll_interval: Duration::from_millis(20),
        parse: Default::default(),
        format: None,
        batch_records: 23, // many appends per file: many places to crash
        parallel_files: 2,
    }
}

/// Opens the log. After a simulated crash the dropped source's last write may still be running on
/// a blocking thread, holding the old log (and its directory lock) for a moment: a real process's
/// death releases it at once, so the reopen waits for that rather than failing.
async fn open(dir: &Path, partitions: u32) -> Arc<dyn EventLog> {
    let cfg = EmbeddedLogConfig { default_partitions: partitions, ..Default::default() };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match EmbeddedLog::open(dir, cfg.clone()).await {
            Ok(log) => return Arc::new(log),
            Err(LogError::Locked { .. }) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            Err(e) => panic!("opening the log: {e}"),
        }
    }
}

/// Runs the source until every file has left the inbox (`Ok`) or the log fails (`Err`).
async fn run_until_empty(
    log: Arc<dyn EventLog>,
    inbox: &Path,
) -> std::result::Result<Vec<FileReport>, String> {
    let (stop_tx, stop) = watch::channel(false);
    let inbox_owned = inbox.to_path_buf();
    let mut reports = Vec::new();
    let source = run_directory_source(log, config(inbox), stop, |r| {
        reports.push(r.clone());
        let left = std::fs::read_dir(&inbox_owned).unwrap().flatten().filter(|e| e.path().is_file()).count();
        if left == 0 {
            let _ = stop_tx.send(true);
        }
    });
    match tokio::time::timeout(Duration::from_secs(60), source).await {
        Ok(Ok(())) => Ok(reports),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => panic!("the source did not finish within a minute"),
    }
}

async fn read_all(log: &dyn EventLog, topic: &str) -> Vec<ConsumedRecord> {
    let mut out = Vec::new();
    let Ok(partitions) = log.partition_count(topic).await else { return out };
    for p in 0..partitions {
        let mut next = log.offsets(topic, p).await.unwrap().start;
        loop {
            let batch = log.read(topic, p, next, ReadLimits::default()).await.unwrap();
            let Some(last) = batch.last() else { break };
            next = last.offset + 1;
            out.extend(batch);
        }
    }
    out
}

/// The devices in the events topic and the (source, position) of every dead letter, sorted.
async fn contents(log: &dyn EventLog) -> (Vec<String>, Vec<(String, String)>) {
    let mut devices: Vec<String> = read_all(log, TOPIC)
        .await
        .iter()
        .map(|r| String::from_utf8(r.record.key.as_ref().unwrap().to_vec()).unwrap())
        .collect();
    devices.sort();
    let mut letters: Vec<(String, String)> = read_all(log, DEAD_LETTER_TOPIC)
        .await
        .iter()
        .map(|r| DeadLetter::from_json(&r.record.value).unwrap())
        .map(|d| (d.source, d.position))
        .collect();
    letters.sort();
    (devices, letters)
}

/// Crashes after `crash_after` appends, restarts, and checks the log holds each line once.
async fn crash_and_resume(partitions: u32, crash_after: u64) -> bool {
    let data = tempfile::tempdir().unwrap();
    let (log_dir, inbox) = (data.path().join("log"), data.path().join("inbox"));
    std::fs::create_dir_all(&inbox).unwrap();
    let (good, bad) = drop_files(&inbox);

    let crashing =
        Arc::new(CrashingLog { inner: open(&log_dir, partitions).await, appends_left: crash_after.into() });
    let crashed = run_until_empty(crashing.clone(), &inbox).await.is_err();
    drop(crashing); // the process is gone: the log directory is free again

    let log = open(&log_dir, partitions).await;
    let reports = run_until_empty(log.clone(), &inbox).await.unwrap();
    assert!(reports.iter().all(|r| r.refused.is_none()), "{reports:?}");
    let (devices, letters) = contents(&*log).await;
    let duplicates: BTreeMap<&String, usize> = devices.iter().fold(BTreeMap::new(), |mut m, d| {
        *m.entry(d).or_default() += 1;
        m
    });
    let twice: Vec<_> = duplicates.iter().filter(|(_, n)| **n > 1).map(|(d, _)| *d).take(5).collect();
    let ctx = format!("{partitions} partitions, crash after {crash_after} appends");
    assert!(twice.is_empty(), "{ctx}: events in the log twice, e.g. {twice:?}");
    assert_eq!(devices.len(), good.len(), "{ctx}: events lost");
    assert_eq!(devices, good, "{ctx}");
    assert_eq!(letters, bad, "{ctx}: dead letters");
    crashed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_file_resumes_exactly_at_any_partition_count() {
    for partitions in [1, 4, 16] {
        // Three files of 240 lines in appends of 23 records: about 50 appends with the marks.
        let mut crashes = 0;
        for crash_after in (0..60).step_by(3) {
            crashes += crash_and_resume(partitions, crash_after).await as u32;
        }
        assert!(crashes >= 15, "{partitions} partitions: only {crashes} runs crashed before the end");
    }
}

#[tokio::test]
async fn a_file_whose_published_records_retention_removed_is_refused_and_named() {
    let data = tempfile::tempdir().unwrap();
    let (log_dir, inbox) = (data.path().join("log"), data.path().join("inbox"));
    std::fs::create_dir_all(&inbox).unwrap();
    drop_files(&inbox);
    // Small segments and a tiny size limit: retention (run by hand below) removes the first
    // records of the events, which the interrupted files published, so what they published can
    // no longer be known.
    let cfg = EmbeddedLogConfig {
        segment_bytes: ByteSize(4096),
        max_record_bytes: ByteSize(2048),
        retention_bytes: Limit::Limited(ByteSize(4096)),
        retention_check_interval: Duration::from_secs(3600),
        ..Default::default()
    };
    let first = Arc::new(EmbeddedLog::open(&log_dir, cfg.clone()).await.unwrap());
    let crashing = Arc::new(CrashingLog { inner: first, appends_left: 12.into() });
    assert!(run_until_empty(crashing.clone(), &inbox).await.is_err());
    drop(crashing);

    let log = EmbeddedLog::open(&log_dir, cfg).await.unwrap();
    assert!(log.apply_retention().unwrap() > 0, "retention removed nothing");
    assert!(log.offsets(TOPIC, 0).await.unwrap().start > 0);
    let log: Arc<dyn EventLog> = Arc::new(log);
    let (stop_tx, stop) = watch::channel(false);
    let mut reports = Vec::new();
    let source = run_directory_source(log.clone(), config(&inbox), stop, |r| reports.push(r.clone()));
    let stopper = async {
        tokio::time::sleep(Duration::from_millis(800)).await;
        let _ = stop_tx.send(true);
    };
    let (result, ()) = tokio::join!(source, stopper);
    result.unwrap();
    let refused: Vec<&String> = reports.iter().filter_map(|r| r.refused.as_ref()).collect();
    assert!(!refused.is_empty(), "no file was refused: {reports:?}");
    for reason in &refused {
        assert!(
            reason.contains("events-") && reason.contains(STATE_TOPIC) && reason.contains("retention"),
            "{reason}"
        );
    }
    // A refused file stays in the folder, untouched, and is refused once per start; the others
    // go through.
    let mut left: Vec<String> = std::fs::read_dir(&inbox)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    let mut names: Vec<String> =
        reports.iter().filter(|r| r.refused.is_some()).map(|r| r.name.clone()).collect();
    names.sort();
    assert_eq!(left, names, "exactly the refused files stay, each refused once");
    assert!(left.len() < FILES, "the file that was not begun went through");
}

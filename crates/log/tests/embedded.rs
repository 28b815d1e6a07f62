//! Behaviour of the embedded log through the public `EventLog` API: ordering, density, segments,
//! recovery, corruption, retention, consumer groups and the directory lock. The cases every
//! backend shares (partitioning among them) are in `contract.rs`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tributary_log::{
    EmbeddedLog, EmbeddedLogConfig, EventLog, FsyncPolicy, LogError, OffsetReset, ReadLimits, Record,
    TopicPartition,
};
use tributary_settings::{ByteSize, Limit};

fn small_segments() -> EmbeddedLogConfig {
    EmbeddedLogConfig {
        segment_bytes: ByteSize(64 << 10),
        index_interval_bytes: ByteSize(512),
        max_record_bytes: ByteSize(16 << 10),
        ..Default::default()
    }
}

fn rec(i: u64) -> Record {
    Record::new(format!("record-{i:08}-{}", "x".repeat((i % 37) as usize))).with_timestamp(i as i64)
}

async fn read_all(log: &dyn EventLog, topic: &str, partition: u32, from: u64) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    let mut next = from;
    loop {
        let batch = log
            .read(topic, partition, next, ReadLimits { max_records: 777, max_bytes: 10_000 })
            .await
            .unwrap();
        if batch.is_empty() {
            return out;
        }
        for r in batch {
            assert_eq!(r.offset, next, "offsets are dense and in order");
            next += 1;
            out.push((r.offset, String::from_utf8(r.record.value.to_vec()).unwrap()));
        }
    }
}

fn segment_files(dir: &Path, topic: &str, partition: u32) -> Vec<PathBuf> {
    let pdir = dir.join("topics").join(topic).join(partition.to_string());
    let mut files: Vec<PathBuf> = std::fs::read_dir(pdir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    files.sort();
    files
}

#[tokio::test]
async fn appends_are_read_back_in_order_across_segments_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(dir.path(), small_segments()).await.unwrap();
    for chunk in 0..50u64 {
        let records: Vec<Record> = (chunk * 100..chunk * 100 + 100).map(rec).collect();
        let positions = log.append("t", records).await.unwrap();
        assert_eq!(positions.first().unwrap().offset, chunk * 100);
    }
    assert!(segment_files(dir.path(), "t", 0).len() > 3, "small segments roll");
    let all = read_all(&log, "t", 0, 0).await;
    assert_eq!(all.len(), 5000);
    for (o, v) in &all {
        assert_eq!(v, &String::from_utf8(rec(*o).value.to_vec()).unwrap());
    }
    // Reads from any offset start exactly there, through the sparse index.
    for from in [1, 99, 100, 1234, 4999, 5000] {
        let tail = read_all(&log, "t", 0, from).await;
        assert_eq!(tail.len() as u64, 5000 - from);
    }
    let err = log.read("t", 0, 5001, ReadLimits::default()).await.unwrap_err();
    assert!(matches!(err, LogError::OffsetOutOfRange { .. }), "{err}");
    log.close().await.unwrap();
    drop(log);

    let log = EmbeddedLog::open(dir.path(), small_segments()).await.unwrap();
    assert!(log.recovery_report().truncations.is_empty());
    assert_eq!(log.offsets("t", 0).await.unwrap().end, 5000);
    let next = log.append("t", vec![rec(5000)]).await.unwrap();
    assert_eq!(next[0].offset, 5000);
    assert_eq!(read_all(&log, "t", 0, 0).await.len(), 5001);
}

#[tokio::test]
async fn reopening_after_a_drop_without_close_keeps_every_acknowledged_record() {
    for fsync in [FsyncPolicy::EveryBatch, FsyncPolicy::Interval(Duration::from_millis(5))] {
        let dir = tempfile::tempdir().unwrap();
        let cfg = EmbeddedLogConfig { fsync, ..small_segments() };
        let log = EmbeddedLog::open(dir.path(), cfg.clone()).await.unwrap();
        for i in 0..300 {
            log.append("t", vec![rec(i)]).await.unwrap();
        }
        drop(log);
        let log = EmbeddedLog::open(dir.path(), cfg).await.unwrap();
        assert_eq!(read_all(&log, "t", 0, 0).await.len(), 300, "{fsync}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_producers_and_waiting_readers_see_each_record_once_in_order() {
    for fsync in [FsyncPolicy::EveryBatch, FsyncPolicy::Interval(Duration::from_millis(20))] {
        let dir = tempfile::tempdir().unwrap();
        let cfg = EmbeddedLogConfig { fsync, ..small_segments() };
        let log = Arc::new(EmbeddedLog::open(dir.path(), cfg).await.unwrap());
        log.create_topic("c", 1).await.unwrap();
        const PRODUCERS: u64 = 4;
        const PER_PRODUCER: u64 = 2000;
        let total = PRODUCERS * PER_PRODUCER;
        let mut readers = Vec::new();
        for _ in 0..2 {
            let log = log.clone();
            readers.push(tokio::spawn(async move {
                let mut next = 0u64;
                let mut seen = vec![0u64; PRODUCERS as usize];
                while next < total {
                    if !log.wait_for("c", 0, next, Duration::from_secs(20)).await.unwrap() {
                        panic!("no record at offset {next} within 20 s");
                    }
                    for r in log.read("c", 0, next, ReadLimits::default()).await.unwrap() {
                        assert_eq!(r.offset, next);
                        next += 1;
                        let text = String::from_utf8(r.record.value.to_vec()).unwrap();
                        let (p, i) = text.split_once(':').unwrap();
                        let (p, i): (usize, u64) = (p.parse().unwrap(), i.parse().unwrap());
                        assert_eq!(seen[p], i, "producer {p}'s records arrive in its order");
                        seen[p] += 1;
                    }
                }
                seen
            }));
        }
        let mut producers = Vec::new();
        for p in 0..PRODUCERS {
            let log = log.clone();
            producers.push(tokio::spawn(async move {
                let mut i = 0;
                while i < PER_PRODUCER {
                    let n = 1 + (i % 7);
                    let batch: Vec<Record> =
                        (i..(i + n).min(PER_PRODUCER)).map(|j| Record::new(format!("{p}:{j}"))).collect();
                    i += batch.len() as u64;
                    log.append("c", batch).await.unwrap();
                }
            }));
        }
        for p in producers {
            p.await.unwrap();
        }
        for r in readers {
            assert_eq!(r.await.unwrap(), vec![PER_PRODUCER; PRODUCERS as usize], "{fsync}");
        }
    }
}

#[tokio::test]
async fn a_torn_tail_is_truncated_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_segments();
    {
        let log = EmbeddedLog::open(dir.path(), cfg.clone()).await.unwrap();
        log.append("t", (0..10).map(rec).collect()).await.unwrap();
        log.sync().await.unwrap();
        // Written after the last fsync: the region where a crash can tear a write.
        log.append("t", (10..20).map(rec).collect()).await.unwrap();
    }
    let file = segment_files(dir.path(), "t", 0).pop().unwrap();
    let len = std::fs::metadata(&file).unwrap().len();
    // Tear the second batch in half and add garbage, as a crash mid-write would.
    let f = std::fs::OpenOptions::new().append(true).open(&file).unwrap();
    f.set_len(len - 50).unwrap();
    use std::io::Write;
    (&f).write_all(&[0xAB; 13]).unwrap();
    drop(f);

    let log = EmbeddedLog::open(dir.path(), cfg.clone()).await.unwrap();
    let report = log.recovery_report();
    assert_eq!(report.truncations.len(), 1, "{report:?}");
    let t = &report.truncations[0];
    assert_eq!(t.file, file);
    assert_eq!(t.offset, 10);
    assert_eq!(log.offsets("t", 0).await.unwrap().end, 10);
    assert_eq!(read_all(&log, "t", 0, 0).await.len(), 10);
    // The log goes on from the cut.
    assert_eq!(log.append("t", vec![rec(10)]).await.unwrap()[0].offset, 10);
    drop(log);
    let log = EmbeddedLog::open(dir.path(), cfg).await.unwrap();
    assert!(log.recovery_report().truncations.is_empty());
    assert_eq!(read_all(&log, "t", 0, 0).await.len(), 11);
}

#[tokio::test]
async fn damage_inside_fsynced_data_is_an_error_naming_file_and_position() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_segments();
    {
        let log = EmbeddedLog::open(dir.path(), cfg.clone()).await.unwrap();
        for i in 0..40 {
            log.append("t", (i * 100..i * 100 + 100).map(rec).collect()).await.unwrap();
        }
        log.close().await.unwrap();
    }
    let files = segment_files(dir.path(), "t", 0);
    assert!(files.len() >= 3);
    // A flipped byte in the middle of a sealed segment: found when read, never skipped.
    let victim = &files[1];
    let mut bytes = std::fs::read(victim).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x40;
    std::fs::write(victim, &bytes).unwrap();

    let log = EmbeddedLog::open(dir.path(), cfg.clone()).await.unwrap();
    let mut next = 0;
    let err = loop {
        match log.read("t", 0, next, ReadLimits::default()).await {
            Ok(batch) if batch.is_empty() => panic!("read past damaged data without an error"),
            Ok(batch) => next = batch.last().unwrap().offset + 1,
            Err(e) => break e,
        }
    };
    match &err {
        LogError::Corrupt { file, position, .. } => {
            assert_eq!(file, victim);
            assert!(*position <= at as u64, "position {position} is the batch holding byte {at}");
        }
        other => panic!("expected Corrupt, got {other}"),
    }
    let text = err.to_string();
    assert!(text.contains(&victim.display().to_string()) && text.contains("at byte"), "{text}");
    drop(log);

    // After a crash the active segment is checked at open: damage before its recovery point
    // (data that was fsynced) stops the open instead of being cut off as a torn tail.
    let dir2 = tempfile::tempdir().unwrap();
    {
        let log = EmbeddedLog::open(dir2.path(), cfg.clone()).await.unwrap();
        log.append("t", (0..50).map(rec).collect()).await.unwrap();
        log.sync().await.unwrap();
        // dropped without close: as after kill -9
    }
    let file = segment_files(dir2.path(), "t", 0).pop().unwrap();
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&file, &bytes).unwrap();
    let err = EmbeddedLog::open(dir2.path(), cfg).await.err().expect("open must fail");
    assert!(matches!(err, LogError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains(&file.display().to_string()), "{err}");
}

#[tokio::test]
async fn retention_deletes_whole_old_segments_by_size_and_by_age() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = EmbeddedLogConfig { retention_bytes: Limit::Limited(ByteSize(200 << 10)), ..small_segments() };
    let log = EmbeddedLog::open(dir.path(), cfg).await.unwrap();
    for i in 0..100 {
        log.append("t", (i * 100..i * 100 + 100).map(rec).collect()).await.unwrap();
    }
    let before = segment_files(dir.path(), "t", 0).len();
    let deleted = log.apply_retention().unwrap();
    assert!(deleted > 0);
    assert_eq!(segment_files(dir.path(), "t", 0).len(), before - deleted);
    let offsets = log.offsets("t", 0).await.unwrap();
    assert!(offsets.start > 0 && offsets.end == 10_000);
    let desc = log.describe_topics().await.unwrap();
    assert!(desc[0].partitions[0].size_bytes <= 200 << 10);
    assert_eq!(read_all(&log, "t", 0, offsets.start).await.len() as u64, 10_000 - offsets.start);
    let err = log.read("t", 0, 0, ReadLimits::default()).await.unwrap_err();
    assert!(matches!(err, LogError::OffsetOutOfRange { .. }));
    drop(log);

    let dir = tempfile::tempdir().unwrap();
    let cfg =
        EmbeddedLogConfig { retention_age: Limit::Limited(Duration::from_millis(300)), ..small_segments() };
    let log = EmbeddedLog::open(dir.path(), cfg).await.unwrap();
    for i in 0..20 {
        log.append("t", (i * 100..i * 100 + 100).map(rec).collect()).await.unwrap();
    }
    assert_eq!(log.apply_retention().unwrap(), 0, "nothing is old yet");
    tokio::time::sleep(Duration::from_millis(400)).await;
    let deleted = log.apply_retention().unwrap();
    assert!(deleted > 0);
    assert_eq!(segment_files(dir.path(), "t", 0).len(), 1, "only the active segment stays");
}

#[tokio::test]
async fn consumer_groups_share_partitions_and_resume_from_committed_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_segments();
    let log = EmbeddedLog::open(dir.path(), cfg.clone()).await.unwrap();
    log.create_topic("g", 4).await.unwrap();
    let records = (0..400).map(|i| rec(i).with_key(format!("key-{i}"))).collect();
    log.append("g", records).await.unwrap();

    let mut a = log.subscribe("grp", &["g"], OffsetReset::Earliest).await.unwrap();
    let mut b = log.subscribe("grp", &["g"], OffsetReset::Earliest).await.unwrap();
    let mut got_a = a.poll(1000, Duration::from_millis(200)).await.unwrap();
    let got_b = b.poll(1000, Duration::from_millis(200)).await.unwrap();
    let (pa, pb) = (a.assignment(), b.assignment());
    assert_eq!(pa.len() + pb.len(), 4);
    assert!(pa.iter().all(|tp| !pb.contains(tp)), "no partition has two owners");
    while let Ok(more) = a.poll(1000, Duration::from_millis(50)).await {
        if more.is_empty() {
            break;
        }
        got_a.extend(more);
    }
    assert_eq!(got_a.len() + got_b.len(), 400);
    a.commit().await.unwrap();
    drop(b); // b leaves without committing: its records come again to whoever owns them next.
    let again = a.poll(1000, Duration::from_millis(200)).await.unwrap();
    assert_eq!(a.assignment().len(), 4);
    assert_eq!(again.len(), got_b.len(), "uncommitted records are delivered again");
    a.commit().await.unwrap();
    drop(a);
    log.close().await.unwrap();
    drop(log);

    let log = EmbeddedLog::open(dir.path(), cfg).await.unwrap();
    let committed = log.committed("grp").await.unwrap();
    assert_eq!(committed.len(), 4);
    assert_eq!(committed.iter().map(|(_, o)| o).sum::<u64>(), 400);
    assert_eq!(log.groups().await.unwrap(), vec!["grp".to_string()]);
    let mut c = log.subscribe("grp", &["g"], OffsetReset::Earliest).await.unwrap();
    assert!(c.poll(100, Duration::from_millis(50)).await.unwrap().is_empty(), "all committed");
    log.append("g", vec![rec(1).with_key("key-1")]).await.unwrap();
    let fresh = c.poll(100, Duration::from_secs(5)).await.unwrap();
    assert_eq!(fresh.len(), 1);
    let tp = TopicPartition::new("g", fresh[0].partition);
    let err = log.commit("grp", &[(tp, 10_000)]).await.unwrap_err();
    assert!(matches!(err, LogError::InvalidArgument(_)));
}

#[tokio::test]
async fn a_waiting_consumer_wakes_on_append_and_latest_skips_history() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(EmbeddedLog::open(dir.path(), small_segments()).await.unwrap());
    log.append("w", (0..5).map(rec).collect()).await.unwrap();
    let mut c = log.subscribe("late", &["w"], OffsetReset::Latest).await.unwrap();
    let writer = {
        let log = log.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            log.append("w", vec![rec(99)]).await.unwrap();
        })
    };
    let got = c.poll(10, Duration::from_secs(10)).await.unwrap();
    writer.await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].offset, 5);
}

#[tokio::test]
async fn a_second_owner_of_the_directory_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let _log = EmbeddedLog::open(dir.path(), small_segments()).await.unwrap();
    let err = EmbeddedLog::open(dir.path(), small_segments()).await.err().expect("second open must fail");
    assert!(matches!(err, LogError::Locked { .. }), "{err}");
    assert!(err.to_string().contains(&format!("pid {}", std::process::id())), "{err}");
}

#[tokio::test]
async fn keys_headers_and_timestamps_come_back_as_appended() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(dir.path(), small_segments()).await.unwrap();
    let sent = vec![
        Record::new("v1")
            .with_key("k1")
            .with_header("source", "file:a.csv")
            .with_header("line", "7")
            .with_timestamp(-5),
        Record::new(vec![0u8, 255, 10]).with_timestamp(i64::MAX),
        Record::new("").with_key("").with_header("empty", "").with_timestamp(1_600_000_000_000),
    ];
    log.append("h", sent.clone()).await.unwrap();
    drop(log);
    let log = EmbeddedLog::open(dir.path(), small_segments()).await.unwrap();
    let got: Vec<Record> =
        log.read("h", 0, 0, ReadLimits::default()).await.unwrap().into_iter().map(|r| r.record).collect();
    assert_eq!(got, sent);
}

#[tokio::test]
async fn oversized_and_empty_appends_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(dir.path(), small_segments()).await.unwrap();
    let err = log.append("t", vec![Record::new(vec![0u8; 20 << 10])]).await.unwrap_err();
    assert!(matches!(err, LogError::RecordTooLarge { .. }), "{err}");
    assert!(log.append("t", vec![]).await.is_err());
    assert!(matches!(log.read("nope", 0, 0, ReadLimits::default()).await, Err(LogError::UnknownTopic(_))));
    assert!(matches!(
        log.read("t", 3, 0, ReadLimits::default()).await,
        Err(LogError::UnknownPartition { .. })
    ));
}

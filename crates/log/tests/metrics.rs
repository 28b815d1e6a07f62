//! Recovery reports a cut tail as a metric as well as in the report and the log. A test binary of
//! its own, because it installs the process-wide metrics recorder.

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use tributary_log::{EmbeddedLog, EmbeddedLogConfig, EventLog, Record};
use tributary_settings::ByteSize;

fn counter(snapshotter: &metrics_util::debugging::Snapshotter, name: &str) -> u64 {
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter(|(key, ..)| key.key().name() == name)
        .map(|(.., value)| match value {
            DebugValue::Counter(n) => n,
            other => panic!("{name} is not a counter: {other:?}"),
        })
        .sum()
}

#[tokio::test]
async fn a_torn_tail_increments_the_truncation_counter() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder.install().expect("no other recorder in this test binary");

    let dir = tempfile::tempdir().unwrap();
    let cfg = EmbeddedLogConfig { segment_bytes: ByteSize(4 << 20), ..Default::default() };
    {
        let log = EmbeddedLog::open(dir.path(), cfg.clone()).await.unwrap();
        log.append("m", vec![Record::new("kept")]).await.unwrap();
        log.sync().await.unwrap();
        log.append("m", vec![Record::new("torn")]).await.unwrap();
    }
    assert_eq!(counter(&snapshotter, "tributary_log_appended_records_total"), 2);
    let segment = dir.path().join("topics/m/0/00000000000000000000.log");
    let len = std::fs::metadata(&segment).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(&segment).unwrap().set_len(len - 3).unwrap();

    let log = EmbeddedLog::open(dir.path(), cfg).await.unwrap();
    assert_eq!(log.recovery_report().truncations.len(), 1);
    assert_eq!(counter(&snapshotter, "tributary_log_truncated_tails_total"), 1);
    assert_eq!(log.offsets("m", 0).await.unwrap().end, 1);
}

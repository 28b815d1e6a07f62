//! The embedded log opened over a damaged segment (recovery after a crash or a bad disk): any
//! bytes as the last segment of a partition give an open log or an error naming the file, never
//! a panic; what an opened log holds reads back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tributary_log::{EmbeddedLog, EmbeddedLogConfig, EventLog, ReadLimits};

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let partition = dir.path().join("topics/fuzz/0");
    std::fs::create_dir_all(&partition).expect("the partition folder");
    std::fs::write(partition.join("00000000000000000000.log"), data).expect("the segment");
    let runtime = tokio_runtime();
    runtime.block_on(async {
        let Ok(log) = EmbeddedLog::open(dir.path(), EmbeddedLogConfig::default()).await else { return };
        let Ok(range) = log.offsets("fuzz", 0).await else { return };
        let mut at = range.start;
        while at < range.end {
            match log.read("fuzz", 0, at, ReadLimits::default()).await {
                Ok(records) if !records.is_empty() => at = records.last().expect("not empty").offset + 1,
                _ => break,
            }
        }
    });
});

fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime")
}

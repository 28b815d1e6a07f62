//! Property tests of the embedded log: for any sequence of appends, any read from any offset with
//! any limits returns exactly the records at those offsets, dense and in order; and any flipped
//! byte in a segment is reported, never returned as a record.

use std::time::Duration;

use proptest::prelude::*;
use tributary_log::{EmbeddedLog, EmbeddedLogConfig, EventLog, LogError, ReadLimits, Record};
use tributary_settings::ByteSize;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

fn config(segment_kib: u64) -> EmbeddedLogConfig {
    EmbeddedLogConfig {
        segment_bytes: ByteSize(segment_kib << 10),
        index_interval_bytes: ByteSize(256),
        max_record_bytes: ByteSize(2048),
        fsync: tributary_log::FsyncPolicy::Interval(Duration::from_secs(60)),
        ..Default::default()
    }
}

fn value(offset: u64, len: usize) -> Vec<u8> {
    let mut v = offset.to_le_bytes().to_vec();
    v.resize(8 + len, (offset % 251) as u8);
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn reads_return_exactly_the_records_at_their_offsets(
        batches in proptest::collection::vec(proptest::collection::vec(0usize..700, 1..40), 1..40),
        reads in proptest::collection::vec((any::<proptest::sample::Index>(), 1usize..300, 1usize..20_000), 1..30),
        segment_kib in 8u64..64,
        reopen in any::<bool>(),
    ) {
        runtime().block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let mut log = EmbeddedLog::open(dir.path(), config(segment_kib)).await.unwrap();
            let mut lens = Vec::new();
            for batch in &batches {
                let first = lens.len() as u64;
                let records = batch.iter().enumerate()
                    .map(|(i, len)| Record::new(value(first + i as u64, *len)).with_timestamp(first as i64))
                    .collect();
                let positions = log.append("p", records).await.unwrap();
                prop_assert_eq!(positions[0].offset, first);
                lens.extend(batch.iter().copied());
            }
            if reopen {
                drop(log);
                log = EmbeddedLog::open(dir.path(), config(segment_kib)).await.unwrap();
            }
            let total = lens.len() as u64;
            prop_assert_eq!(log.offsets("p", 0).await.unwrap().end, total);
            for (at, max_records, max_bytes) in reads {
                let from = at.index(total as usize + 1) as u64;
                let got = log.read("p", 0, from, ReadLimits { max_records, max_bytes }).await.unwrap();
                if from < total {
                    prop_assert!(!got.is_empty(), "a read before the end returns something");
                }
                prop_assert!(got.len() <= max_records);
                for (i, r) in got.iter().enumerate() {
                    let offset = from + i as u64;
                    prop_assert_eq!(r.offset, offset);
                    prop_assert_eq!(&r.record.value[..], &value(offset, lens[offset as usize])[..]);
                }
            }
            Ok(())
        })?;
    }

    #[test]
    fn flipped_bytes_are_detected_never_returned(
        flips in proptest::collection::vec((any::<proptest::sample::Index>(), any::<proptest::sample::Index>(), 1u8..=255), 1..4),
        crash in any::<bool>(),
    ) {
        runtime().block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let cfg = config(16);
            let total = 600u64;
            {
                let log = EmbeddedLog::open(dir.path(), cfg.clone()).await.unwrap();
                for chunk in 0..(total / 20) {
                    let records = (chunk * 20..chunk * 20 + 20).map(|o| Record::new(value(o, 100))).collect();
                    log.append("p", records).await.unwrap();
                }
                log.sync().await.unwrap();
                if !crash {
                    log.close().await.unwrap();
                }
            }
            let pdir = dir.path().join("topics/p/0");
            let mut files: Vec<_> = std::fs::read_dir(&pdir).unwrap().map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|e| e == "log")).collect();
            files.sort();
            for (file_at, byte_at, mask) in &flips {
                let file = &files[file_at.index(files.len())];
                let mut bytes = std::fs::read(file).unwrap();
                let i = byte_at.index(bytes.len());
                bytes[i] ^= mask;
                std::fs::write(file, &bytes).unwrap();
            }
            let log = match EmbeddedLog::open(dir.path(), cfg).await {
                Err(LogError::Corrupt { .. }) => return Ok(()), // detected at open
                Err(e) => panic!("unexpected error {e}"),
                Ok(log) => log,
            };
            // Everything was fsynced, so nothing may be cut off as a torn tail.
            prop_assert!(log.recovery_report().truncations.is_empty(), "{:?}", log.recovery_report());
            let mut next = 0;
            loop {
                match log.read("p", 0, next, ReadLimits::default()).await {
                    Ok(batch) if batch.is_empty() => {
                        prop_assert!(false, "all {} records read although bytes were flipped", next);
                    }
                    Ok(batch) => {
                        for r in batch {
                            prop_assert_eq!(r.offset, next);
                            prop_assert_eq!(&r.record.value[..], &value(next, 100)[..]);
                            next += 1;
                        }
                    }
                    Err(LogError::Corrupt { .. }) => return Ok(()),
                    Err(e) => panic!("unexpected error {e}"),
                }
            }
        })?;
    }
}

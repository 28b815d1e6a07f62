//! Kill -9 at random moments: every acknowledged record survives, in order, and nothing else
//! appears. The child is the real binary (`tributary log produce --print-offsets`), which prints
//! an offset only after `append` returned, i.e. after the record was acknowledged.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::time::Duration;

use rand::{Rng, SeedableRng, rngs::StdRng};
use tributary_log::{EmbeddedLog, EmbeddedLogConfig, EventLog, ReadLimits};

const ROUNDS: u32 = 50;
const MAX_LINES_PER_ROUND: u64 = 30_000;

fn read_values(dir: &std::path::Path, from: u64) -> (Vec<String>, usize) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let log = EmbeddedLog::open(dir, EmbeddedLogConfig::default()).await.unwrap();
        let truncations = log.recovery_report().truncations.len();
        let mut out = Vec::new();
        let mut next = from;
        loop {
            let batch = log.read("crash", 0, next, ReadLimits::default()).await.unwrap();
            let Some(last) = batch.last() else { break };
            assert_eq!(batch[0].offset, next);
            next = last.offset + 1;
            out.extend(batch.into_iter().map(|r| String::from_utf8(r.record.value.to_vec()).unwrap()));
        }
        (out, truncations)
    })
}

#[test]
fn acknowledged_records_survive_sigkill_at_random_moments() {
    let dir = tempfile::tempdir().unwrap();
    let seed: u64 =
        std::env::var("CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(rand::random);
    println!("crash test seed {seed} (set CRASH_SEED to repeat)");
    let mut rng = StdRng::seed_from_u64(seed);
    let out = common::tributary(dir.path()).args(["log", "create-topic", "crash"]).output().unwrap();
    assert!(out.status.success());

    let mut kept_per_round = Vec::new();
    let mut end = 0u64;
    let mut rounds_with_acks = 0;
    let mut truncations = 0;
    let mut rounds_killed_while_sending = 0;
    for round in 0..ROUNDS {
        let fsync = if round % 2 == 0 { "every-batch" } else { "5ms" };
        let batch_size = rng.random_range(1..800).to_string();
        let stderr_path = dir.path().join("child-stderr.txt");
        let mut child = common::tributary(dir.path())
            .args(["--set", &format!("embedded_log.fsync={fsync}")])
            .args([
                "--set",
                "embedded_log.segment_bytes=256KiB",
                "--set",
                "embedded_log.max_record_bytes=64KiB",
            ])
            .args(["log", "produce", "crash", "--print-offsets", "--batch-size", &batch_size])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr_path).unwrap())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        // Paced (about 50 lines per millisecond) so that the kill lands while lines are still
        // flowing; returns how many lines went into the pipe.
        let writer = std::thread::spawn(move || {
            let mut chunk = String::new();
            for i in 0..MAX_LINES_PER_ROUND {
                chunk.push_str(&format!("r{round}-{i}\n"));
                if i % 50 == 49 {
                    if stdin.write_all(chunk.as_bytes()).is_err() {
                        return i + 1 - 50;
                    }
                    chunk.clear();
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            MAX_LINES_PER_ROUND
        });
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut acked = Vec::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let (p, o) = line.split_once('\t').expect("partition<TAB>offset");
                assert_eq!(p, "0");
                acked.push(o.parse::<u64>().unwrap());
            }
            acked
        });
        std::thread::sleep(Duration::from_millis(rng.random_range(20..400)));
        if let Some(status) = child.try_wait().unwrap() {
            let err = std::fs::read_to_string(&stderr_path).unwrap_or_default();
            panic!("round {round}: the producer exited by itself ({status}) before the kill: {err}");
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let acked = reader.join().unwrap();
        let sent = writer.join().unwrap();
        if sent < MAX_LINES_PER_ROUND {
            rounds_killed_while_sending += 1;
        }

        // Acknowledged offsets are dense and start where the last round's records end.
        for (i, o) in acked.iter().enumerate() {
            assert_eq!(*o, end + i as u64, "round {round}: acknowledged offsets are dense");
        }
        let (values, cut) = read_values(&dir.path().join("log"), end);
        truncations += cut;
        assert!(
            values.len() >= acked.len(),
            "round {round}: {} records acknowledged but only {} in the log",
            acked.len(),
            values.len()
        );
        for (i, v) in values.iter().enumerate() {
            assert_eq!(v, &format!("r{round}-{i}"), "round {round}: record {i} is not the one written");
        }
        if !acked.is_empty() {
            rounds_with_acks += 1;
        }
        end += values.len() as u64;
        kept_per_round.push(values.len());
    }

    // The whole log, once more from the start: every round's records, in order, nothing else.
    let (all, _) = read_values(&dir.path().join("log"), 0);
    assert_eq!(all.len() as u64, end);
    let mut i = 0;
    for (round, kept) in kept_per_round.iter().enumerate() {
        for j in 0..*kept {
            assert_eq!(all[i], format!("r{round}-{j}"));
            i += 1;
        }
    }
    println!(
        "{ROUNDS} rounds: {rounds_with_acks} with acknowledged records, {rounds_killed_while_sending} killed while input was still flowing, {end} records kept, {truncations} torn tails cut"
    );
    assert!(
        rounds_with_acks >= ROUNDS / 2,
        "most rounds must append before the kill (got {rounds_with_acks})"
    );
    assert!(
        rounds_killed_while_sending >= ROUNDS / 2,
        "most kills must land mid-stream (got {rounds_killed_while_sending})"
    );
}

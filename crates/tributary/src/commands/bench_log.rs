//! `tributary bench log`: the event log's throughput and latency figures.
//!
//! Records are 100 bytes of value, unkeyed, on a one-partition topic; MB/s counts record values
//! (10^6 bytes). The benchmark runs in its own log under the data directory (a real disk, where
//! fsync means something), removed afterwards unless `--dir` is given.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use tributary_log::{EmbeddedLog, EmbeddedLogConfig, EventLog, FsyncPolicy, ReadLimits, Record};

use crate::cli::BenchLogArgs;
use crate::config::Config;

const RECORD_BYTES: usize = 100;

pub async fn run(config: &Config, args: BenchLogArgs) -> anyhow::Result<ExitCode> {
    let (root, _cleanup) = match &args.dir {
        Some(d) => (d.clone(), None),
        None => {
            std::fs::create_dir_all(&config.data_dir)?;
            let t = tempfile::Builder::new().prefix("bench-").tempdir_in(&config.data_dir)?;
            (t.path().to_path_buf(), Some(t))
        }
    };
    let cfg = config.embedded_log();
    println!(
        "event log benchmark: {RECORD_BYTES}-byte records, 1 partition, {} producers x {}-record appends, in {}",
        args.producers,
        args.batch,
        root.display()
    );
    for (name, policy) in [
        ("fsync every batch", FsyncPolicy::EveryBatch),
        ("fsync every 100 ms", FsyncPolicy::Interval(Duration::from_millis(100))),
    ] {
        let dir = root.join(format!("append-{}", name.replace(' ', "-")));
        let r = append_run(&dir, EmbeddedLogConfig { fsync: policy, ..cfg.clone() }, &args).await?;
        println!(
            "append, {name:<20} {:>12.0} records/s {:>8.1} MB/s   append call p50 {:>8} p99 {:>8}",
            r.records as f64 / r.elapsed.as_secs_f64(),
            (r.records as f64 * RECORD_BYTES as f64) / 1e6 / r.elapsed.as_secs_f64(),
            fmt_us(r.call_latency_us.value_at_quantile(0.5)),
            fmt_us(r.call_latency_us.value_at_quantile(0.99)),
        );
    }
    let (reads, elapsed, mib) = read_run(&root.join("read"), cfg.clone(), &args).await?;
    println!(
        "read from the start of a {mib} MiB topic {:>12.0} records/s {:>8.1} MB/s   (page cache warm)",
        reads as f64 / elapsed.as_secs_f64(),
        (reads as f64 * RECORD_BYTES as f64) / 1e6 / elapsed.as_secs_f64(),
    );
    for (name, policy) in [
        ("fsync every 100 ms", FsyncPolicy::Interval(Duration::from_millis(100))),
        ("fsync every batch", FsyncPolicy::EveryBatch),
    ] {
        let dir = root.join(format!("latency-{}", name.replace(' ', "-")));
        let h = latency_run(&dir, EmbeddedLogConfig { fsync: policy, ..cfg.clone() }, &args).await?;
        println!(
            "append -> waiting reader at {} records/s, {name}: p50 {} p99 {} p99.9 {} max {} ({} records)",
            args.latency_rate,
            fmt_us(h.value_at_quantile(0.5)),
            fmt_us(h.value_at_quantile(0.99)),
            fmt_us(h.value_at_quantile(0.999)),
            fmt_us(h.max()),
            h.len(),
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn fmt_us(us: u64) -> String {
    if us >= 10_000 { format!("{:.1} ms", us as f64 / 1000.0) } else { format!("{us} µs") }
}

fn payload(i: u64) -> Bytes {
    let mut v = vec![b'x'; RECORD_BYTES];
    v[..8].copy_from_slice(&i.to_le_bytes());
    Bytes::from(v)
}

struct AppendResult {
    records: u64,
    elapsed: Duration,
    call_latency_us: Histogram<u64>,
}

async fn append_run(dir: &Path, cfg: EmbeddedLogConfig, args: &BenchLogArgs) -> anyhow::Result<AppendResult> {
    let log = Arc::new(EmbeddedLog::open(dir, cfg).await?);
    log.create_topic("bench", 1).await?;
    let batch: Vec<Record> = (0..args.batch as u64).map(|i| Record::new(payload(i))).collect();
    let calls_per_producer = (args.records / args.batch as u64 / args.producers as u64).max(1);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..args.producers {
        let (log, batch) = (log.clone(), batch.clone());
        tasks.push(tokio::spawn(async move {
            let mut h = latency_histogram()?;
            for _ in 0..calls_per_producer {
                let t = Instant::now();
                log.append("bench", batch.clone()).await?;
                h.saturating_record(t.elapsed().as_micros() as u64);
            }
            anyhow::Ok(h)
        }));
    }
    let mut call_latency_us = latency_histogram()?;
    for t in tasks {
        call_latency_us.add(t.await??)?;
    }
    let elapsed = started.elapsed();
    log.close().await?;
    let records = calls_per_producer * args.producers as u64 * args.batch as u64;
    Ok(AppendResult { records, elapsed, call_latency_us })
}

async fn read_run(
    dir: &Path,
    cfg: EmbeddedLogConfig,
    args: &BenchLogArgs,
) -> anyhow::Result<(u64, Duration, u64)> {
    let cfg = EmbeddedLogConfig { fsync: FsyncPolicy::Interval(Duration::from_millis(100)), ..cfg };
    let log = EmbeddedLog::open(dir, cfg.clone()).await?;
    log.create_topic("read", 1).await?;
    let target = args.read_mib << 20;
    let per_batch = 10_000u64;
    let mut written = 0u64;
    let mut i = 0u64;
    let mut last_report = Instant::now();
    while log.describe_topics().await?[0].partitions[0].size_bytes < target {
        let batch: Vec<Record> = (i..i + per_batch).map(|j| Record::new(payload(j))).collect();
        log.append("read", batch).await?;
        i += per_batch;
        written += per_batch;
        if last_report.elapsed() > Duration::from_secs(2) {
            eprintln!("  filling the read topic: {written} records");
            last_report = Instant::now();
        }
    }
    log.close().await?;
    drop(log);
    let log = EmbeddedLog::open(dir, cfg).await?;
    let started = Instant::now();
    let mut next = 0u64;
    loop {
        let records =
            log.read("read", 0, next, ReadLimits { max_records: 10_000, max_bytes: 4 << 20 }).await?;
        let Some(last) = records.last() else { break };
        next = last.offset + 1;
    }
    let elapsed = started.elapsed();
    anyhow::ensure!(next == written, "read {next} records, wrote {written}");
    Ok((next, elapsed, args.read_mib))
}

async fn latency_run(
    dir: &Path,
    cfg: EmbeddedLogConfig,
    args: &BenchLogArgs,
) -> anyhow::Result<Histogram<u64>> {
    let log = Arc::new(EmbeddedLog::open(dir, cfg).await?);
    log.create_topic("latency", 1).await?;
    let epoch = Instant::now();
    let total = args.latency_rate * args.latency_secs;
    let per_tick = (args.latency_rate / 1000).max(1);
    let reader = {
        let log = log.clone();
        tokio::spawn(async move {
            let mut h = latency_histogram()?;
            let mut next = 0u64;
            while next < total {
                if !log.wait_for("latency", 0, next, Duration::from_secs(30)).await? {
                    anyhow::bail!("no record at offset {next} within 30 s");
                }
                for r in log.read("latency", 0, next, ReadLimits::default()).await? {
                    let sent_ns = u64::from_le_bytes(r.record.value[..8].try_into()?);
                    let now_ns = epoch.elapsed().as_nanos() as u64;
                    h.saturating_record(now_ns.saturating_sub(sent_ns) / 1000);
                    next = r.offset + 1;
                }
            }
            Ok(h)
        })
    };
    let mut ticker = tokio::time::interval(Duration::from_millis(1));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut sent = 0u64;
    while sent < total {
        ticker.tick().await;
        let n = per_tick.min(total - sent);
        let now_ns = epoch.elapsed().as_nanos() as u64;
        let batch: Vec<Record> = (0..n).map(|_| Record::new(payload(now_ns))).collect();
        log.append("latency", batch).await?;
        sent += n;
    }
    let h = reader.await??;
    log.close().await?;
    Ok(h)
}

/// A histogram of microseconds from 1 µs to one hour, 3 significant digits. Fixed bounds: an
/// auto-resizing histogram would clamp in `saturating_record` instead of growing.
pub fn latency_histogram() -> anyhow::Result<Histogram<u64>> {
    Ok(Histogram::new_with_bounds(1, 3_600_000_000, 3)?)
}

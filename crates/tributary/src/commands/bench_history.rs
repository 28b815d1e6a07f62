//! `tributary bench history`: a simulated day (or more) of model versions committed to the
//! serving store as fast as the machine allows, with store retention applied every simulated
//! minute, as `up` does every real one. Prints how many versions were committed and kept, the
//! store's size over time, and the latency of the store reads behind the history and clusters
//! endpoints on the final store.

use std::process::ExitCode;
use std::time::Instant;
use tributary_store::prelude::*;

use rand::{Rng, SeedableRng, rngs::StdRng};
use tributary_store::{BatchCommit, CentreRow, KMeansVersionRow, OffsetCheckpoint, OffsetRange, SqlStore};

use crate::cli::BenchHistoryArgs;
use crate::config::Config;

pub async fn run(config: &Config, args: BenchHistoryArgs) -> anyhow::Result<ExitCode> {
    if !(args.rate > 0.0 && args.rate.is_finite()) || args.hours <= 0.0 {
        anyhow::bail!("--rate and --hours must be positive");
    }
    let dir = tempfile::Builder::new().prefix("bench-history-").tempdir()?;
    let path = dir.path().join("store.sqlite");
    let store = SqlStore::open_sqlite(&path).await?;
    let retention = config.retention.clone();
    let size = || -> u64 {
        ["", "-wal"]
            .iter()
            .filter_map(|s| std::fs::metadata(format!("{}{s}", path.display())).ok())
            .map(|m| m.len())
            .sum()
    };
    let step_ms = 1000.0 / args.rate;
    let total = (args.hours * 3600.0 * args.rate) as u64;
    let start_ms = tributary_log::now_ms() - (args.hours * 3_600_000.0) as i64;
    println!(
        "Model history: {total} versions ({} h at {} versions/s, k = {}, {} partitions), retention every simulated minute",
        args.hours, args.rate, args.k, args.partitions
    );
    let mut rng = StdRng::seed_from_u64(1);
    let started = Instant::now();
    let (mut folded, mut next_retention, mut next_report) = (0u64, start_ms + 60_000, start_ms + 3_600_000);
    let mut retention_ms = 0.0;
    for v in 1..=total {
        let now = start_ms + (v as f64 * step_ms) as i64;
        let points = rng.random_range(5..15u64);
        let per = (0..args.partitions).map(|p| (p, v - 1)).collect::<Vec<_>>();
        let row = KMeansVersionRow {
            model: "mobile".into(),
            version: v,
            created_ms: now,
            event_time_ms: None,
            batch_points: points,
            batches: 1,
            projection: r#"{"kind":"km","lat0":51.0,"lon0":10.0}"#.into(),
            split: None,
            sum_of_squares: Some(1234.5),
            silhouette: Some(0.5),
            centres: (0..args.k)
                .map(|c| CentreRow {
                    cluster: c as u32,
                    lat: 48.0 + rng.random::<f64>(),
                    lon: 9.0 + rng.random::<f64>(),
                    weight: rng.random::<f64>() * 1000.0,
                    batch_count: if c == 0 { points } else { 0 },
                    x: rng.random(),
                    y: rng.random(),
                })
                .collect(),
            offsets: per
                .iter()
                .map(|&(p, o)| OffsetRange { topic: "mobile_data".into(), partition: p, from: o, to: o + 1 })
                .collect(),
        };
        let commit = BatchCommit {
            processor: "mobile".into(),
            version: Some(row),
            offsets: per
                .iter()
                .map(|&(p, o)| OffsetCheckpoint {
                    topic: "mobile_data".into(),
                    partition: p,
                    next_offset: o + 1,
                })
                .collect(),
            dead_letters: Vec::new(),
            expected_offsets: None,
            state: None,
        };
        store.commit_batch(&commit).await?;
        if now >= next_retention {
            let t = Instant::now();
            folded += store.apply_retention(&retention, now).await?.versions_folded;
            retention_ms += t.elapsed().as_secs_f64() * 1e3;
            next_retention += 60_000;
        }
        if now >= next_report {
            println!(
                "  simulated {:>5.1} h: {v:>9} versions committed, {:>7} kept, store {:>6.1} MB, {:>6.0} versions/s",
                (now - start_ms) as f64 / 3.6e6,
                v - folded,
                size() as f64 / 1e6,
                v as f64 / started.elapsed().as_secs_f64()
            );
            next_report += 3_600_000;
        }
    }
    let wall = started.elapsed().as_secs_f64();
    println!(
        "committed {total} versions in {wall:.0} s ({:.0}/s; retention {:.1} s of it); kept {}; store {:.1} MB",
        total as f64 / wall,
        retention_ms / 1e3,
        total - folded,
        size() as f64 / 1e6
    );
    let points = store.kmeans_points("mobile").await?;
    println!("points counted: {points} (retention keeps the sum)");

    // The reads behind /api/v1/mobile/clusters/history (a page of 100 from a random version)
    // and /api/v1/mobile/clusters (the newest version).
    let kept: Vec<u64> = {
        let mut all = Vec::new();
        let mut from = 1;
        loop {
            let page = store.kmeans_history("mobile", from, u64::MAX, 1000).await?;
            let Some(last) = page.last() else { break };
            from = last.version + 1;
            all.extend(page.iter().map(|v| v.version));
        }
        all
    };
    for (name, latest) in [("history page of 100", false), ("newest version", true)] {
        let mut times = Vec::with_capacity(args.requests);
        for _ in 0..args.requests {
            let t = Instant::now();
            if latest {
                store.latest_kmeans("mobile").await?;
            } else {
                let from = kept[rng.random_range(0..kept.len())];
                store.kmeans_history("mobile", from, u64::MAX, 100).await?;
            }
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        times.sort_by(f64::total_cmp);
        let q = |p: f64| times[((times.len() - 1) as f64 * p) as usize];
        println!(
            "store read, {name:<20} p50 {:.2} ms  p99 {:.2} ms  ({} reads)",
            q(0.5),
            q(0.99),
            times.len()
        );
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

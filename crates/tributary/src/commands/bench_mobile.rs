//! `tributary bench mobile`: the figures of the mobile pipeline.
//!
//! 1. The k-means update alone (assign + apply), k = 8, 2-D, one core, on generated positions.
//! 2. End to end: files of generated events (CSV, then NDJSON) renamed into the inbox of a real
//!    `tributary up` (a child process of this binary, generator off); events/s from the moment the
//!    files land to the moment the serving store holds model versions counting all of them.
//! 3. Latency: files of 1/100 s of events land every 10 ms at the given rate; for each, the time
//!    until a committed model version counts its events (the store is polled every millisecond).
//!
//! Everything runs under a temporary folder in the data directory, removed afterwards.

use std::path::{Path, PathBuf};
use std::process::{Child, ExitCode, Stdio};
use std::time::{Duration, Instant};
use tributary_store::prelude::*;

use hdrhistogram::Histogram;

use super::bench_log::latency_histogram;
use super::bench_stages::{layout_rates, stage_rates};
use tributary_processors::kmeans::{KMeansModel, Projection, TimeUnit, kmeans_plus_plus};
use tributary_schema::MobileEvent;
use tributary_schema::mobile::{CSV_HEADER, Encoding};
use tributary_sources::generator::{Generator, GeneratorConfig, default_hotspots};
use tributary_store::SqlStore;

use crate::cli::BenchMobileArgs;
use crate::config::Config;

pub async fn run(config: &Config, args: BenchMobileArgs) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&config.data_dir)?;
    let tmp = tempfile::Builder::new().prefix("bench-mobile-").tempdir_in(&config.data_dir)?;
    println!("mobile pipeline benchmark in {}", tmp.path().display());

    for batch in [10_000usize, 100_000] {
        let (points_per_sec, batches) = update_rate(batch, args.update_secs);
        println!(
            "k-means update alone, k = 8, 2-D, batches of {batch:>7}: {:>12.0} points/s (one core, {batches} batches)",
            points_per_sec
        );
    }

    let (mut g_csv, mut g_ndjson) = (generator(4), generator(4));
    let csv: Vec<_> = (0..50).map(|_| file_contents(&mut g_csv, "csv", 10_000)).collect();
    let ndjson: Vec<_> = (0..50).map(|_| file_contents(&mut g_ndjson, "ndjson", 10_000)).collect();
    let mut stages = Vec::new();
    for (encoding, dir) in [(Encoding::Binary, "stages-binary"), (Encoding::Json, "stages-json")] {
        stages.extend(stage_rates(&tmp.path().join(dir), &csv, &ndjson, encoding).await?);
    }
    for s in &stages {
        println!(
            "stage alone (one thread), {:<36} {:>12.0} events/s, {:.3} µs/event",
            format!("{}:", s.stage),
            s.events as f64 / s.secs,
            s.micros_per_event()
        );
    }

    let mut g_layouts = generator(5);
    let chunks: Vec<Vec<_>> =
        (0..20).map(|_| (0..10_000).map(|_| g_layouts.next_event()).collect()).collect();
    for s in layout_rates(&chunks)? {
        println!(
            "parse alone (one thread), {:<38} {:>12.0} events/s, {:.3} µs/event",
            format!("{}:", s.stage),
            s.events as f64 / s.secs,
            s.micros_per_event()
        );
    }

    for encoding in ["binary", "json"] {
        for format in ["csv", "ndjson"] {
            let data = tmp.path().join(format!("e2e-{format}-{encoding}"));
            let (events, secs) = end_to_end(&data, format, encoding, args.events).await?;
            println!(
                "end to end, {format:<6} files -> {encoding:<6} log -> models committed in SQLite: {:>10.0} events/s ({events} events in {secs:.2} s)",
                events as f64 / secs
            );
        }
    }

    let h = latency(&tmp.path().join("latency"), args.latency_rate, args.latency_secs).await?;
    println!(
        "file landing -> events in a committed model at {} events/s (50 ms batches): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} files)",
        args.latency_rate,
        h.value_at_quantile(0.5) as f64 / 1000.0,
        h.value_at_quantile(0.99) as f64 / 1000.0,
        h.max() as f64 / 1000.0,
        h.len()
    );
    Ok(ExitCode::SUCCESS)
}

fn generator(seed: u64) -> Generator {
    Generator::new(GeneratorConfig {
        seed,
        devices: 1000,
        hotspots: default_hotspots(),
        noise_share: 0.02,
        relocation_chance: 0.001,
        start_ms: tributary_log::now_ms(),
        step_ms: 1.0,
    })
}

/// Points per second of assign + apply on batches of `batch` points. The batches are distinct
/// (a pool of 2 M generated positions, used in turn), so neither the caches nor the branch
/// predictor can learn one batch by heart.
fn update_rate(batch: usize, secs: f64) -> (f64, u64) {
    let pool_batches = (2_000_000 / batch).max(2);
    let mut g = generator(1);
    let positions: Vec<[f64; 2]> =
        (0..batch * pool_batches).map(|_| g.next_event()).map(|e| [e.latitude, e.longitude]).collect();
    let projection = Projection::centred_on(positions.iter().copied()).expect("points");
    let points: Vec<f64> = positions.iter().flat_map(|p| projection.forward(p[0], p[1])).collect();
    let centres = kmeans_plus_plus(&points[..2 * batch], 2, 8, 1).expect("enough points");
    let mut model = KMeansModel::new(2, centres, vec![0.0; 8]);
    let started = Instant::now();
    let mut batches = 0u64;
    while started.elapsed().as_secs_f64() < secs || batches < 3 {
        let i = batches as usize % pool_batches;
        let stats = model.assign(std::hint::black_box(&points[2 * batch * i..2 * batch * (i + 1)]));
        model.apply(&stats, 0.9, TimeUnit::Batches);
        batches += 1;
    }
    (batches as f64 * batch as f64 / started.elapsed().as_secs_f64(), batches)
}

/// Writes `events` generated events as files of 50 000 into `dir`; returns their paths.
fn write_files(
    dir: &Path,
    format: &str,
    events: u64,
    seed: u64,
    per_file: u64,
) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut g = generator(seed);
    let mut files = Vec::new();
    let mut written = 0;
    while written < events {
        let n = per_file.min(events - written);
        let buf = file_contents(&mut g, format, n);
        let path = dir.join(format!("bench-{:06}.{format}", files.len()));
        // On disk before the clock starts: the kernel writing them back during the run would
        // take CPU from the pipeline and make the figure depend on what ran before.
        let mut file = std::fs::File::create(&path)?;
        std::io::Write::write_all(&mut file, &buf)?;
        file.sync_all()?;
        files.push(path);
        written += n;
    }
    Ok(files)
}

/// The contents of a file of `n` events from `g` in `format` (`csv` or `ndjson`).
fn file_contents(g: &mut Generator, format: &str, n: u64) -> Vec<u8> {
    let mut buf = Vec::new();
    if format == "csv" {
        buf.extend_from_slice(CSV_HEADER.as_bytes());
        buf.extend_from_slice(b"\r\n");
    }
    for _ in 0..n {
        let e: MobileEvent = g.next_event();
        if format == "csv" {
            e.write_csv_line(&mut buf);
        } else {
            buf.extend_from_slice(&e.to_json());
            buf.push(b'\n');
        }
    }
    buf
}

/// `tributary up` on `data`, without the generator, writing events into the log in `encoding`.
fn spawn_up(data: &Path, encoding: &str) -> anyhow::Result<Child> {
    let exe = std::env::current_exe()?;
    Ok(std::process::Command::new(exe)
        .arg("--data-dir")
        .arg(data)
        .args(["--set", "mobile.generator_rate=0", "--set", "mobile.init_min_points=1000"])
        .args(["--set", &format!("mobile.topic_encoding=\"{encoding}\"")])
        .arg("up")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?)
}

fn stop_up(mut child: Child) {
    let _ = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let _ = child.wait();
}

async fn open_store_when_ready(data: &Path) -> anyhow::Result<SqlStore> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if data.join("store.sqlite").exists()
            && let Ok(s) = SqlStore::open_sqlite(&data.join("store.sqlite")).await
        {
            return Ok(s);
        }
        anyhow::ensure!(Instant::now() < deadline, "tributary up did not create its store");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn end_to_end(data: &Path, format: &str, encoding: &str, events: u64) -> anyhow::Result<(u64, f64)> {
    let staging = data.join("staging");
    eprintln!("  writing {events} {format} events …");
    let files = write_files(&staging, format, events, 2, 50_000)?;
    let inbox = data.join("inbox");
    std::fs::create_dir_all(&inbox)?;
    let child = spawn_up(data, encoding)?;
    let store = open_store_when_ready(data).await?;
    tokio::time::sleep(Duration::from_millis(300)).await; // let `up` finish starting
    let started = Instant::now();
    for f in &files {
        std::fs::rename(f, inbox.join(f.file_name().expect("file name")))?;
    }
    let deadline = started + Duration::from_secs(600);
    loop {
        let seen = store.kmeans_points("mobile").await?;
        if seen >= events {
            break;
        }
        if Instant::now() > deadline {
            stop_up(child);
            anyhow::bail!("only {seen} of {events} events counted after 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let secs = started.elapsed().as_secs_f64();
    store.close().await;
    stop_up(child);
    Ok((events, secs))
}

async fn latency(data: &Path, rate: u64, secs: u64) -> anyhow::Result<Histogram<u64>> {
    let per_file = (rate / 100).max(1);
    let files = rate * secs / per_file;
    let staging = data.join("staging");
    // Enough events first for k-means++ to start, so that the run measures steady state.
    let mut paths = write_files(&staging, "csv", per_file * files + 1000, 3, per_file)?;
    let warmup: Vec<PathBuf> = paths.drain(..(1000 / per_file as usize).max(1)).collect();
    let warmup_events = per_file * warmup.len() as u64;
    let inbox = data.join("inbox");
    std::fs::create_dir_all(&inbox)?;
    let child = spawn_up(data, "binary")?;
    let store = open_store_when_ready(data).await?;
    for f in &warmup {
        std::fs::rename(f, inbox.join(f.file_name().expect("file name")))?;
    }
    while store.kmeans_points("mobile").await? < warmup_events {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut h = latency_histogram()?;
    let mut landed: Vec<(Instant, u64)> = Vec::with_capacity(paths.len());
    let started = Instant::now();
    let mut next = 0usize;
    let mut done = 0usize;
    let mut cumulative = warmup_events;
    while done < paths.len() {
        // Land the files that are due (one every 10 ms).
        while next < paths.len() && started.elapsed() >= Duration::from_millis(10 * next as u64) {
            let f = &paths[next];
            std::fs::rename(f, inbox.join(f.file_name().expect("file name")))?;
            cumulative += per_file;
            landed.push((Instant::now(), cumulative));
            next += 1;
        }
        let seen = store.kmeans_points("mobile").await?;
        let now = Instant::now();
        while done < landed.len() && landed[done].1 <= seen {
            h.saturating_record(now.duration_since(landed[done].0).as_micros() as u64);
            done += 1;
        }
        if started.elapsed() > Duration::from_secs(secs + 60) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    store.close().await;
    stop_up(child);
    anyhow::ensure!(done == paths.len(), "only {done} of {} files were counted in time", paths.len());
    Ok(h)
}

//! `tributary generate`: synthetic mobile events into a directory (files) or the event log.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tributary_schema::MobileEvent;
use tributary_schema::mobile::CSV_HEADER;
use tributary_sources::generator::{Generator, GeneratorConfig, default_hotspots, publish_to_log};

use crate::cli::{EventFormat, GenerateArgs};
use crate::config::Config;

/// Files of `file_records` events, each written under a hidden temporary name and renamed.
struct DirOutput {
    dir: PathBuf,
    format: EventFormat,
    file_records: u64,
    name_prefix: String,
    buf: Vec<u8>,
    in_file: u64,
    files: u64,
}

impl DirOutput {
    fn push(&mut self, e: &MobileEvent) -> anyhow::Result<()> {
        if self.in_file == 0 && self.format == EventFormat::Csv {
            self.buf.extend_from_slice(CSV_HEADER.as_bytes());
            self.buf.extend_from_slice(b"\r\n");
        }
        match self.format {
            EventFormat::Csv => e.write_csv_line(&mut self.buf),
            EventFormat::Ndjson => {
                self.buf.extend_from_slice(&e.to_json());
                self.buf.push(b'\n');
            }
        }
        self.in_file += 1;
        if self.in_file >= self.file_records {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> anyhow::Result<()> {
        if self.in_file == 0 {
            return Ok(());
        }
        let ext = if self.format == EventFormat::Csv { "csv" } else { "ndjson" };
        let name = format!("{}-{:06}.{ext}", self.name_prefix, self.files);
        write_then_rename(&self.dir, &name, &self.buf)?;
        self.buf.clear();
        self.in_file = 0;
        self.files += 1;
        Ok(())
    }
}

/// Writes `.name.tmp`, fsyncs it, and renames it to `name`: readers see whole files only.
fn write_then_rename(dir: &Path, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut f = std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    f.write_all(bytes).and_then(|()| f.sync_all()).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, dir.join(name))
        .with_context(|| format!("renaming {} into place", tmp.display()))?;
    Ok(())
}

pub async fn run(config: &Config, args: GenerateArgs) -> anyhow::Result<ExitCode> {
    if let Some(rate) = args.rate
        && !(rate > 0.0 && rate.is_finite())
    {
        bail!("--rate {rate}: must be a positive number of events per second");
    }
    let start_ms = tributary_log::now_ms();
    let hotspots = match &args.hotspots {
        None => default_hotspots(),
        Some(path) => {
            let text =
                std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            serde_json::from_str(&text).with_context(|| {
                format!(
                    "{}: expected [{{\"name\", \"lat\", \"lon\", \"spread_km\", \"weight\"}}, …]",
                    path.display()
                )
            })?
        }
    };
    let cfg = GeneratorConfig {
        seed: args.seed,
        devices: args.devices,
        hotspots,
        noise_share: args.noise,
        start_ms,
        step_ms: args.rate.map_or(1.0, |r| 1000.0 / r),
        ..GeneratorConfig::default()
    };
    cfg.validate().map_err(|e| anyhow::anyhow!("--{} {}", e.key.replace('_', "-"), e.message))?;
    let mut generator = Generator::new(cfg);
    let count = args.count.or(if args.rate.is_some() { None } else { Some(100_000) });
    if let Some(path) = &args.truth {
        let json = serde_json::to_vec_pretty(&generator.truth())?;
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
    }
    let mut out = match args.out.split_once(':') {
        Some(("dir", path)) if !path.is_empty() => {
            let dir = PathBuf::from(path);
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            DirOutput {
                dir,
                format: args.format,
                file_records: args.file_records,
                name_prefix: format!("mobile-{}-{start_ms}", args.seed),
                buf: Vec::new(),
                in_file: 0,
                files: 0,
            }
        }
        Some(("log", topic)) if !topic.is_empty() => {
            let log = super::open_log(config).await?;
            let (stop_tx, mut stop) = tokio::sync::watch::channel(false);
            tokio::spawn(async move {
                let _ = tokio::signal::ctrl_c().await;
                let _ = stop_tx.send(true);
            });
            let started = Instant::now();
            let encoding = config.mobile.topic_encoding;
            let produced =
                publish_to_log(&*log, topic, encoding, &mut generator, args.rate, count, &mut stop, |_| {})
                    .await?;
            log.close().await?;
            report(produced, started, &args.out);
            return Ok(ExitCode::SUCCESS);
        }
        Some(("http", url)) if !url.is_empty() => {
            let started = Instant::now();
            let produced = publish_http(config, url, &mut generator, args.rate, count).await?;
            report(produced, started, &args.out);
            return Ok(ExitCode::SUCCESS);
        }
        _ => bail!("--out {}: accepted dir:PATH, log:TOPIC or http:URL", args.out),
    };
    let started = Instant::now();
    let mut produced = 0u64;
    let mut last_report = Instant::now();
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    // Paced in 10 ms ticks when --rate is given; what is due is computed from the start.
    let mut ticker = tokio::time::interval(Duration::from_millis(10));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_flush = Instant::now();
    loop {
        let remaining = count.map_or(u64::MAX, |c| c - produced);
        if remaining == 0 {
            break;
        }
        let chunk = match args.rate {
            Some(rate) => {
                tokio::select! {
                    _ = ticker.tick() => {}
                    _ = &mut ctrl_c => break,
                }
                let due = (started.elapsed().as_secs_f64() * rate) as u64;
                due.saturating_sub(produced).min(remaining)
            }
            None => remaining.min(10_000),
        };
        for _ in 0..chunk {
            out.push(&generator.next_event())?;
        }
        produced += chunk;
        if args.rate.is_some() && last_flush.elapsed() >= Duration::from_secs(1) {
            out.flush()?;
            last_flush = Instant::now();
        }
        if last_report.elapsed() >= Duration::from_secs(2) {
            eprintln!(
                "generated {produced} events ({:.0}/s)",
                produced as f64 / started.elapsed().as_secs_f64()
            );
            last_report = Instant::now();
        }
    }
    out.flush()?;
    report(produced, started, &args.out);
    Ok(ExitCode::SUCCESS)
}

/// Events per HTTP request.
const EVENTS_PER_REQUEST: u64 = 2_000;

/// POSTs events as NDJSON to the ingest endpoint of a running `tributary up`, paced to `rate`
/// (events per second) if given, until `count` (or Ctrl-C).
async fn publish_http(
    config: &Config,
    url: &str,
    generator: &mut Generator,
    rate: Option<f64>,
    count: Option<u64>,
) -> anyhow::Result<u64> {
    let mut endpoint = url::Url::parse(url).with_context(|| format!("--out http:{url}: not a URL"))?;
    if !matches!(endpoint.scheme(), "http" | "https") {
        bail!("--out http:{url}: the URL must be http:// or https://");
    }
    if matches!(endpoint.path(), "" | "/") {
        endpoint.set_path("/api/v1/topics/mobile_data/records");
    }
    let token = super::serve::client_token(config)?;
    let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(30)).build()?;
    let started = Instant::now();
    let mut produced = 0u64;
    let mut body = Vec::new();
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    while count.is_none_or(|c| produced < c) {
        let mut n = count.map_or(EVENTS_PER_REQUEST, |c| (c - produced).min(EVENTS_PER_REQUEST));
        if let Some(rate) = rate {
            // What is due since the start, in 10 ms steps: no drift accumulates.
            let due = ((started.elapsed().as_secs_f64() * rate) as u64).saturating_sub(produced);
            if due == 0 {
                tokio::select! {
                    _ = tokio::time::sleep(std::time::Duration::from_millis(10)) => continue,
                    _ = &mut ctrl_c => break,
                }
            }
            n = n.min(due);
        }
        body.clear();
        for _ in 0..n {
            body.extend_from_slice(&generator.next_event().to_json());
            body.push(b'\n');
        }
        let response = client
            .post(endpoint.clone())
            .bearer_auth(&token)
            .header("content-type", "application/x-ndjson")
            .body(body.clone())
            .send()
            .await
            .with_context(|| format!("POST {endpoint}"))?;
        let status = response.status();
        if !status.is_success() {
            let detail = response.text().await.unwrap_or_default();
            bail!("POST {endpoint}: {status}: {detail}");
        }
        produced += n;
    }
    Ok(produced)
}

fn report(produced: u64, started: Instant, out: &str) {
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "generated {produced} events in {secs:.1} s ({:.0}/s) to {out}",
        produced as f64 / secs.max(1e-9)
    );
}

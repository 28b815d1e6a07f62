//! `tributary bench markets`: the Markets × COVID batch path on real files, in a fresh temporary
//! data directory: the import of the ECDC daily file and of a daily price history (fetch, parse,
//! raw payload, Parquet, event), then full recomputations of every view with their publication to
//! the serving store (SQLite). Prints the wall time of each step and the process's peak memory
//! after it (peak memory only grows, so the last figure is the whole run's).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use tributary_batch::{Runner, Selection, views};
use tributary_lake::Lake;
use tributary_log::{EmbeddedLog, EmbeddedLogConfig};
use tributary_sources::pull::{PullLimits, Puller, Validators};
use tributary_store::{ServingStore, SqlStore};

use super::peak_rss_mib;
use crate::cli::BenchMarketsArgs;
use crate::config::Config;
use crate::pull_import::{PullOutcome, PullSource, pull_and_import};

pub async fn run(_config: &Config, args: BenchMarketsArgs) -> anyhow::Result<ExitCode> {
    let dir = tempfile::Builder::new().prefix("bench-markets-").tempdir()?;
    let lake = Lake::open(&dir.path().join("lake").display().to_string())?;
    let log = EmbeddedLog::open(dir.path().join("log"), EmbeddedLogConfig::default()).await?;
    let puller = Puller::new(PullLimits::default())?;
    let peak = || peak_rss_mib().map_or("?".into(), |m| format!("{m:.0} MiB"));
    println!("Markets × COVID batch path (data directory {})", dir.path().display());

    let mut import_total = Duration::ZERO;
    for (path, symbol) in [(&args.covid, None), (&args.prices, Some(args.symbol.clone()))] {
        let absolute = std::path::absolute(path)?;
        let url = url::Url::from_file_path(&absolute)
            .map_err(|()| anyhow::anyhow!("{}: not a file path", path.display()))?
            .to_string();
        let source = PullSource { symbol, ..PullSource::new(url) };
        let started = Instant::now();
        let (outcome, _) =
            pull_and_import(&puller, &source, &Validators::default(), &lake, &log, &mut |_, _| {})
                .await
                .with_context(|| format!("importing {}", path.display()))?;
        let took = started.elapsed();
        import_total += took;
        let PullOutcome::Imported { report, .. } = outcome else {
            anyhow::bail!("{}: not imported", path.display())
        };
        println!(
            "import {:<55} {:>7} rows  {:>8.1} ms  peak memory {}",
            path.file_name().unwrap_or_default().to_string_lossy(),
            report.upsert.total_rows,
            took.as_secs_f64() * 1e3,
            peak()
        );
    }
    println!("import, both files: {:.1} ms", import_total.as_secs_f64() * 1e3);
    log.close().await?;

    let store = SqlStore::open_sqlite(&dir.path().join("store.sqlite")).await?;
    let store: Arc<dyn ServingStore> = Arc::new(store);
    let views = views::load(None).map_err(anyhow::Error::msg)?;
    let published: Vec<String> = views.iter().filter(|v| v.published).map(|v| v.name.clone()).collect();
    let runner = Runner::new(lake, Some(store), views);
    for run in 1..=args.runs.max(1) {
        let report = runner.run(&Selection::Views(published.clone())).await?;
        println!("views, run {run}: lake snapshot {:.1} ms", report.load.as_secs_f64() * 1e3);
        for v in &report.views {
            println!(
                "  {:<22} {:>8} rows  compute {:>8.1} ms  publish {:>8.1} ms",
                v.name,
                v.rows,
                v.compute.as_secs_f64() * 1e3,
                v.publish.as_secs_f64() * 1e3
            );
        }
        let publish: Duration = report.views.iter().map(|v| v.publish).sum();
        println!(
            "  all views: compute {:.1} ms (+ snapshot {:.1} ms), publish {:.1} ms, total {:.1} ms; peak memory {}",
            report.compute.as_secs_f64() * 1e3,
            report.load.as_secs_f64() * 1e3,
            publish.as_secs_f64() * 1e3,
            report.total.as_secs_f64() * 1e3,
            peak()
        );
    }
    Ok(ExitCode::SUCCESS)
}

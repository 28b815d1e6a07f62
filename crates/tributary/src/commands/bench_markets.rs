//! `tributary bench markets`: the Markets × COVID batch path on real files, in a fresh temporary
//! data directory: the import of the ECDC daily file and of a daily price history (fetch, parse,
//! raw payload, Parquet, event), then full recomputations of every view with their publication to
//! the serving store (SQLite, or `--store URL`), then what `up` does when a new vintage of the
//! ECDC file arrives: import, the batch runner woken by the dataset event (after its debounce),
//! the views that read it recomputed and republished. Prints the wall time of each step and the
//! process's peak memory after it (peak memory only grows, so the last figure is the whole run's).

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use tributary_batch::{RunReport, Runner, Selection, follow, views};
use tributary_lake::Lake;
use tributary_log::{EmbeddedLog, EmbeddedLogConfig, EventLog};
use tributary_sources::pull::{PullLimits, Puller, Validators};
use tributary_store::{ServingStore, SqlStore};

use super::peak_rss_mib;
use crate::cli::BenchMarketsArgs;
use crate::config::Config;
use crate::pull_import::{PullOutcome, PullSource, pull_and_import};

pub async fn run(config: &Config, args: BenchMarketsArgs) -> anyhow::Result<ExitCode> {
    let dir = tempfile::Builder::new().prefix("bench-markets-").tempdir()?;
    let lake = Lake::open(&dir.path().join("lake").display().to_string())?;
    let log = EmbeddedLog::open(dir.path().join("log"), EmbeddedLogConfig::default()).await?;
    let puller = Puller::new(PullLimits::default())?;
    let peak = || peak_rss_mib().map_or("?".into(), |m| format!("{m:.0} MiB"));
    println!("Markets × COVID batch path (data directory {})", dir.path().display());

    let mut import_total = Duration::ZERO;
    for (path, symbol) in [(&args.covid, None), (&args.prices, Some(args.symbol.clone()))] {
        let started = Instant::now();
        let rows = import(&puller, &lake, &log, path, symbol).await?;
        let took = started.elapsed();
        import_total += took;
        println!(
            "import {:<55} {:>7} rows  {:>8.1} ms  peak memory {}",
            path.file_name().unwrap_or_default().to_string_lossy(),
            rows,
            took.as_secs_f64() * 1e3,
            peak()
        );
    }
    println!("import, both files: {:.1} ms", import_total.as_secs_f64() * 1e3);

    let store = match &args.store {
        Some(url) => SqlStore::connect(url).await?,
        None => SqlStore::open_sqlite(&dir.path().join("store.sqlite")).await?,
    };
    println!("views published to {}", store.dialect().name());
    let store: Arc<dyn ServingStore> = Arc::new(store);
    let views = views::load(None).map_err(anyhow::Error::msg)?;
    let published: Vec<String> = views.iter().filter(|v| v.published).map(|v| v.name.clone()).collect();
    let runner = Runner::new(lake.clone(), Some(store), views);
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
    republish_after_import(&runner, &log, &puller, &lake, config, &args, dir.path()).await?;
    log.close().await?;
    Ok(ExitCode::SUCCESS)
}

/// Imports one file as `up`'s pulls and markets inbox do; returns the rows it upserted.
async fn import(
    puller: &Puller,
    lake: &Lake,
    log: &EmbeddedLog,
    path: &Path,
    symbol: Option<String>,
) -> anyhow::Result<u64> {
    let absolute = std::path::absolute(path)?;
    let url = url::Url::from_file_path(&absolute)
        .map_err(|()| anyhow::anyhow!("{}: not a file path", path.display()))?
        .to_string();
    let source = PullSource { symbol, ..PullSource::new(url) };
    let (outcome, _) = pull_and_import(puller, &source, &Validators::default(), lake, log, &mut |_, _| {})
        .await
        .with_context(|| format!("importing {}", path.display()))?;
    match outcome {
        PullOutcome::Imported { report, .. } => Ok(report.upsert.total_rows),
        _ => anyhow::bail!("{}: not imported", path.display()),
    }
}

/// `up`'s path from a new ECDC vintage to republished views: the batch runner follows topic
/// `datasets` with the configured debounce (`markets.batch_debounce`) while a copy of the ECDC
/// file with one count changed is imported; timed from the import's start to the end of the
/// run it causes.
async fn republish_after_import(
    runner: &Runner,
    log: &EmbeddedLog,
    puller: &Puller,
    lake: &Lake,
    config: &Config,
    args: &BenchMarketsArgs,
    dir: &Path,
) -> anyhow::Result<()> {
    let vintage = dir.join(args.covid.file_name().unwrap_or_default());
    std::fs::write(&vintage, one_count_changed(&std::fs::read_to_string(&args.covid)?)?)?;
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let (runs_tx, mut runs) = tokio::sync::mpsc::unbounded_channel();
    let follow_config = config.markets.batch.clone();
    let debounce = follow_config.debounce;
    let log_dyn: Arc<dyn EventLog> = Arc::new(log.clone());
    let on_run = move |report: &RunReport| {
        let _ = runs_tx.send(report.clone());
    };
    let measured = async {
        let measured = async {
            // The run at start finds every view current (they were just published).
            let at_start = runs.recv().await.context("the batch runner stopped")?;
            anyhow::ensure!(at_start.views.is_empty(), "views were stale after the full runs");
            let started = Instant::now();
            let rows = import(puller, lake, log, &vintage, None).await?;
            let imported = started.elapsed();
            let report = runs.recv().await.context("the batch runner stopped")?;
            anyhow::Ok((rows, imported, report, started.elapsed()))
        }
        .await;
        let _ = stop_tx.send(true); // also after a failure: the runner must not wait forever
        measured
    };
    let (followed, measured) = tokio::join!(follow(runner, log_dyn, follow_config, stop, on_run), measured);
    followed?;
    let (rows, imported, report, total) = measured?;
    let publish: Duration = report.views.iter().map(|v| v.publish).sum();
    println!(
        "new ECDC vintage ({rows} rows, one count changed) → {} views republished: {:.1} ms \
         (import {:.1} ms, batch debounce {:.0} ms, snapshot {:.1} ms, compute {:.1} ms, publish {:.1} ms)",
        report.views.len(),
        total.as_secs_f64() * 1e3,
        imported.as_secs_f64() * 1e3,
        debounce.as_secs_f64() * 1e3,
        report.load.as_secs_f64() * 1e3,
        report.compute.as_secs_f64() * 1e3,
        publish.as_secs_f64() * 1e3,
    );
    Ok(())
}

/// The ECDC file with the `cases` of its first unquoted data row one higher: a new vintage that
/// the lake stores as a new version.
fn one_count_changed(csv: &str) -> anyhow::Result<String> {
    let mut lines = csv.split_inclusive('\n');
    let header = lines.next().context("an empty ECDC file")?;
    let delimiter = if header.contains(';') { ';' } else { ',' };
    let cases = header
        .trim_end()
        .split(delimiter)
        .position(|c| c.trim_matches('"') == "cases")
        .context("the ECDC file has no column 'cases'")?;
    let mut out = String::with_capacity(csv.len() + 1);
    out.push_str(header);
    let mut changed = false;
    for line in lines {
        if !changed && !line.contains('"') {
            let fields: Vec<&str> = line.trim_end().split(delimiter).collect();
            if let Some(n) = fields.get(cases).and_then(|f| f.parse::<i64>().ok()) {
                let bumped = (n + 1).to_string();
                let mut fields = fields;
                fields[cases] = &bumped;
                out.push_str(&fields.join(&delimiter.to_string()));
                out.push_str(&line[line.trim_end().len()..]);
                changed = true;
                continue;
            }
        }
        out.push_str(line);
    }
    anyhow::ensure!(changed, "no row of the ECDC file has a count to change");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::one_count_changed;

    #[test]
    fn a_new_vintage_changes_one_count_of_an_unquoted_row_and_keeps_the_rest() {
        let csv = "dateRep,cases,countriesAndTerritories\r\n\
                   14/12/2020,\"7\",\"Bonaire, Saint Eustatius and Saba\"\r\n\
                   14/12/2020,746,Afghanistan\r\n\
                   13/12/2020,298,Afghanistan\r\n";
        let changed = one_count_changed(csv).unwrap();
        assert_eq!(changed, csv.replace("746,", "747,"));
        assert!(one_count_changed("dateRep;cases\n01/01/2020;x\n").is_err(), "no count to change");
        assert!(one_count_changed("dateRep,deaths\n01/01/2020,1\n").is_err(), "no cases column");
    }
}

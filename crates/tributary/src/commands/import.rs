//! `tributary import FILE_OR_URL`: one file of a Markets × COVID dataset into the lake.
//!
//! Parses the file (format recognised from the content, or forced), keeps the raw bytes, merges
//! the rows into the lake and, if that changed the dataset, appends a "dataset updated" event to
//! topic `datasets`; rows that could not be used go to the dead letters. Prints what happened.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use tributary_lake::import::{ImportReport, import};
use tributary_lake::{Lake, RawFetch};
use tributary_schema::markets::Dataset;
use tributary_sources::formats::{Format, Rows, parse};

use crate::cli::ImportArgs;
use crate::config::Config;

pub async fn run(config: &Config, args: ImportArgs) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    let path = match args.source.strip_prefix("file://") {
        Some(p) => PathBuf::from(p),
        None if args.source.contains("://") => {
            anyhow::bail!(
                "'{}': import reads files (a path or file://); HTTP sources are planned",
                args.source
            )
        }
        None => PathBuf::from(&args.source),
    };
    let format = args.format.as_deref().map(Format::from_name).transpose().map_err(anyhow::Error::msg)?;
    let dataset = args
        .dataset
        .as_deref()
        .map(|d| {
            Dataset::from_name(d).ok_or_else(|| {
                anyhow::anyhow!(
                    "--dataset '{d}' is not a dataset; accepted: covid_daily, covid_weekly, prices"
                )
            })
        })
        .transpose()?;
    let content = read_bounded(&path, args.max_size.0)?;
    let symbol = args
        .symbol
        .clone()
        .unwrap_or_else(|| path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default());
    let url = format!("file://{}", std::fs::canonicalize(&path).unwrap_or(path.clone()).display());
    let now = tributary_log::now_ms();
    let parsed = parse(&content, format, &url, &symbol, now)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    if let Some(d) = dataset
        && d != parsed.format.dataset()
    {
        anyhow::bail!("{} holds {} ({}), not {d}", path.display(), parsed.format.dataset(), parsed.format);
    }

    let lake = Lake::open(&config.lake_location())?;
    let log = super::open_log(config).await?;
    let fetch = RawFetch {
        url,
        fetched_ms: now,
        format: parsed.format.name().into(),
        etag: None,
        last_modified: None,
    };
    let (skipped, dead) = (parsed.skipped, parsed.dead_letters);
    let report = match parsed.rows {
        Rows::CovidDaily(rows) => import(&lake, &log, &content, fetch, rows, dead).await,
        Rows::CovidWeekly(rows) => import(&lake, &log, &content, fetch, rows, dead).await,
        Rows::Prices(rows) => import(&lake, &log, &content, fetch, rows, dead).await,
    };
    log.close().await?;
    let report = report.context("import failed")?;
    print_report(&report, parsed.format, skipped);
    println!("  {}", super::timing_line(started));
    Ok(ExitCode::SUCCESS)
}

/// The file's bytes, refusing files over `max` bytes without reading them whole.
fn read_bounded(path: &std::path::Path, max: u64) -> anyhow::Result<Vec<u8>> {
    let file = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut content = Vec::new();
    file.take(max + 1)
        .read_to_end(&mut content)
        .with_context(|| format!("cannot read {}", path.display()))?;
    if content.len() as u64 > max {
        anyhow::bail!("{} is larger than --max-size ({max} bytes)", path.display());
    }
    Ok(content)
}

fn print_report(r: &ImportReport, format: Format, skipped: u64) {
    let u = &r.upsert;
    println!("imported {} as {format} into {}", r.raw.fetch.url, u.dataset);
    println!(
        "  rows: {} offered, {} new, {} changed, {} unchanged; {} in the dataset",
        u.offered, u.inserted, u.updated, u.unchanged, u.total_rows
    );
    if skipped > 0 {
        println!("  skipped: {skipped} rows without a close (holidays)");
    }
    if r.dead_letters > 0 {
        println!("  dead letters: {} rows could not be used (see topic dead_letters)", r.dead_letters);
    }
    match (&r.event, u.changed_from, u.changed_to) {
        (Some(e), Some(from), Some(to)) => {
            println!("  version {}: changed {from} … {to}; announced on topic datasets", e.version)
        }
        _ => println!("  nothing changed: no new version"),
    }
    println!("  raw payload: {} ({} bytes, sha256 {})", r.raw.payload, r.raw.bytes, r.raw.sha256);
}

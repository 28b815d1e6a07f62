//! `tributary import FILE_OR_URL`: one payload of a Markets × COVID dataset into the lake, from a
//! path, a `file://` URL or an HTTP(S) URL (with a progress bar).
//!
//! Parses the file (format recognised from the content, or forced), keeps the raw bytes, merges
//! the rows into the lake and, if that changed the dataset, appends a "dataset updated" event to
//! topic `datasets`; rows that could not be used go to the dead letters. Prints what happened.

use std::process::ExitCode;

use tributary_lake::Lake;
use tributary_schema::markets::Dataset;
use tributary_sources::formats::Format;
use tributary_sources::pull::{PullLimits, Puller, Validators};

use crate::cli::ImportArgs;
use crate::config::Config;
use crate::pull_import::{PullOutcome, PullSource, print_report, pull_and_import};

pub async fn run(config: &Config, args: ImportArgs) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    let url = if args.source.contains("://") {
        args.source.clone()
    } else {
        let path = std::path::Path::new(&args.source);
        let absolute = std::path::absolute(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        url::Url::from_file_path(&absolute)
            .map_err(|()| anyhow::anyhow!("{}: not a file path", path.display()))?
            .to_string()
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
    let source = PullSource {
        dataset,
        format,
        symbol: args.symbol.clone(),
        encoding: args.encoding.into(),
        delimiter: args.delimiter.into(),
        ..PullSource::new(url)
    };
    let puller = Puller::new(PullLimits { max_bytes: args.max_size.0, ..config.markets.pull.clone() })?;
    let lake = Lake::open(&config.lake_location())?;
    let log = super::open_log(config).await?;
    let bar = progress_bar();
    let mut progress = |done: u64, total: Option<u64>| {
        if let Some(t) = total {
            bar.set_length(t);
        }
        bar.set_position(done);
    };
    let result = pull_and_import(&puller, &source, &Validators::default(), &lake, &*log, &mut progress).await;
    bar.finish_and_clear();
    log.close().await?;
    match result? {
        (PullOutcome::Imported { report, format, skipped }, _) => print_report(&report, format, skipped),
        (PullOutcome::NotModified, _) => println!("{}: not modified", source.url),
    }
    println!("  {}", super::timing_line(started));
    Ok(ExitCode::SUCCESS)
}

/// A byte progress bar on stderr (drawn only where stderr is a terminal).
fn progress_bar() -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(0);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} {bytes}/{total_bytes} {bytes_per_sec} {wide_bar} {eta}",
    ) {
        bar.set_style(style);
    }
    bar
}

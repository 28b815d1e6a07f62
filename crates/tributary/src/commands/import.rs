//! `tributary import FILE_OR_URL`: one payload of a Markets × COVID dataset into the lake, from a
//! path, a `file://` URL or an HTTP(S) URL (with a progress bar).
//!
//! Parses the file (format recognised from the content, or forced), keeps the raw bytes, merges
//! the rows into the lake and, if that changed the dataset, appends a "dataset updated" event to
//! topic `datasets`; rows that could not be used go to the dead letters. Prints what happened.
//!
//! Beside a running `tributary up` (which owns the data directory) the payload is fetched here
//! and imported by `up`, through its API (`POST /api/v1/markets/import`): the same import, the
//! same output.

use std::process::ExitCode;

use tributary_lake::Lake;
use tributary_schema::markets::Dataset;
use tributary_sources::formats::Format;
use tributary_sources::pull::{PullLimits, Puller, Validators};

use tributary_api::importer::ImportOptions;

use crate::cli::ImportArgs;
use crate::config::Config;
use crate::lake_importer::ImportAnswer;
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
    let log = super::open_log_or_running_up(config).await?;
    let bar = progress_bar();
    let mut progress = |done: u64, total: Option<u64>| {
        if let Some(t) = total {
            bar.set_length(t);
        }
        bar.set_position(done);
    };
    if let Some(up) = log.running_up() {
        let result = import_through(config, up.base(), &puller, &args, &source, &mut progress).await;
        bar.finish_and_clear();
        let answer = result?;
        let format = Format::from_name(&answer.format).map_err(anyhow::Error::msg)?;
        print_report(&answer.report, format, answer.skipped);
        println!("  {}", super::timing_line(started));
        return Ok(ExitCode::SUCCESS);
    }
    let lake = Lake::open(&config.lake_location())?;
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

/// Fetches the payload here and has the running `up` at `base` import it.
async fn import_through(
    config: &Config,
    base: &str,
    puller: &Puller,
    args: &ImportArgs,
    source: &PullSource,
    progress: &mut tributary_sources::pull::Progress<'_>,
) -> anyhow::Result<ImportAnswer> {
    let payload = match puller.fetch(&source.url, &Validators::default(), progress).await? {
        tributary_sources::pull::Fetched::Payload(p) => p,
        tributary_sources::pull::Fetched::NotModified => anyhow::bail!("{}: not modified", source.url),
    };
    let options = ImportOptions {
        name: source.url.clone(),
        dataset: args.dataset.clone(),
        format: args.format.clone(),
        symbol: args.symbol.clone(),
        encoding: args.encoding.map(|e| e.name().to_ascii_lowercase()),
        delimiter: args
            .delimiter
            .map(|d| if d.0 == b'\t' { "tab".into() } else { (d.0 as char).to_string() }),
    };
    let token = super::serve::client_token(config)?;
    let response = reqwest::Client::new()
        .post(format!("{base}/api/v1/markets/import"))
        .query(&options)
        .bearer_auth(token)
        .body(payload.bytes)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("the running `tributary up` at {base}: {e}"))?;
    let status = response.status();
    let body = response.bytes().await?;
    if !status.is_success() {
        let detail = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["detail"].as_str().map(str::to_string))
            .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
        anyhow::bail!("{detail}");
    }
    serde_json::from_slice(&body)
        .map_err(|e| anyhow::anyhow!("the running `tributary up` at {base} answered: {e}"))
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

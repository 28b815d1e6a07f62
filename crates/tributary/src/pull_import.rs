//! A pull source into the lake: fetch (HTTP(S) or `file://`, see `tributary_sources::pull`),
//! parse (format recognised or forced), import (raw payload, rows, "dataset updated" event, dead
//! letters). Used by `tributary import` and by the pull schedule of `tributary up`, which also
//! remembers each URL's validators in `<data_dir>/pull-state.json` so that an unchanged payload
//! is neither fetched again (HTTP 304) nor imported again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use tributary_component::{BoxError, Component, Info, Kind, Reporter, Run};
use tributary_lake::import::{ImportReport, import};
use tributary_lake::{Lake, RawFetch};
use tributary_log::EventLog;
use tributary_schema::markets::Dataset;
use tributary_settings::Auto;
use tributary_sources::dialect::{Delimiter, DialectSettings, Encoding};
use tributary_sources::formats::{Format, ReadOptions, Rows, parse};
use tributary_sources::pull::{Fetched, Progress, Puller, Validators};

/// One pull source (an item of `markets.sources`, or `tributary import`'s argument).
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PullSource {
    /// `https://…`, `http://…` or `file:///…`.
    pub url: String,
    /// The dataset it must hold (`covid_daily`, `covid_weekly`, `prices`); any, if not given.
    #[serde(default)]
    pub dataset: Option<Dataset>,
    /// Force a format instead of recognising it from the content.
    #[serde(default)]
    pub format: Option<Format>,
    /// The name of a single price series (default: the URL's file name); of a multi-share file,
    /// the share to keep (`SHARE`, or `SHARE=NAME` to rename it; default: every share).
    #[serde(default)]
    pub symbol: Option<String>,
    /// The encoding, where detection is not to be trusted: `utf-8`, `windows-1252`.
    #[serde(default)]
    pub encoding: Auto<Encoding>,
    /// The delimiter, where detection is not to be trusted: `","`, `";"`, `"tab"`, `"|"`.
    #[serde(default)]
    pub delimiter: Auto<Delimiter>,
}

impl PullSource {
    /// A source of `url` with everything else found from the content.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            dataset: None,
            format: None,
            symbol: None,
            encoding: Auto::Detect,
            delimiter: Auto::Detect,
        }
    }

    /// How to read the payload: as configured, a single price series named by the URL's file
    /// name without extension unless a symbol is given.
    fn read_options(&self) -> ReadOptions {
        let name = self.url.rsplit('/').next().unwrap_or_default();
        let name = name.split(['?', '#']).next().unwrap_or_default();
        ReadOptions {
            format: self.format,
            dialect: DialectSettings {
                encoding: self.encoding,
                delimiter: self.delimiter,
                ..Default::default()
            },
            symbol: self.symbol.clone(),
            default_symbol: name.rsplit_once('.').map_or(name, |(stem, _)| stem).to_string(),
        }
    }
}

/// What one pull did.
pub enum PullOutcome {
    /// The source said the payload is unchanged.
    NotModified,
    Imported {
        report: Box<ImportReport>,
        format: Format,
        skipped: u64,
    },
}

/// Fetches `source` unless it still matches `previous`, then imports it. Returns the outcome and
/// the validators to send next time.
pub async fn pull_and_import(
    puller: &Puller,
    source: &PullSource,
    previous: &Validators,
    lake: &Lake,
    log: &dyn EventLog,
    progress: &mut Progress<'_>,
) -> anyhow::Result<(PullOutcome, Validators)> {
    let payload = match puller.fetch(&source.url, previous, progress).await? {
        Fetched::NotModified => return Ok((PullOutcome::NotModified, previous.clone())),
        Fetched::Payload(p) => p,
    };
    let (report, format, skipped) =
        import_payload(&payload.bytes, source, &payload.validators, lake, log).await?;
    Ok((PullOutcome::Imported { report, format, skipped }, payload.validators))
}

/// Why a payload was not imported.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    /// The payload cannot be imported as it is (not a known format, a missing column, the wrong
    /// dataset).
    #[error("{0}")]
    Unusable(String),
    /// The lake or the log failed.
    #[error("{0:#}")]
    Failed(anyhow::Error),
}

/// Parses a fetched payload of `source` and imports it: the report, the format it was read as
/// and the rows skipped on purpose (holidays, other shares).
pub async fn import_payload(
    bytes: &[u8],
    source: &PullSource,
    validators: &Validators,
    lake: &Lake,
    log: &dyn EventLog,
) -> Result<(Box<ImportReport>, Format, u64), PayloadError> {
    let now = tributary_log::now_ms();
    let parsed = parse(bytes, &source.url, &source.read_options(), now)
        .map_err(|e| PayloadError::Unusable(format!("{}: {e}", source.url)))?;
    if let Some(d) = source.dataset
        && d != parsed.format.dataset()
    {
        return Err(PayloadError::Unusable(format!(
            "{} holds {} ({}), not {d}",
            source.url,
            parsed.format.dataset(),
            parsed.format
        )));
    }
    let fetch = RawFetch {
        url: source.url.clone(),
        fetched_ms: now,
        format: parsed.format.name().into(),
        etag: validators.etag.clone(),
        last_modified: validators.last_modified.clone(),
    };
    let (format, skipped, dead) = (parsed.format, parsed.skipped, parsed.dead_letters);
    let report = match parsed.rows {
        Rows::CovidDaily(rows) => import(lake, log, bytes, fetch, rows, dead).await,
        Rows::CovidWeekly(rows) => import(lake, log, bytes, fetch, rows, dead).await,
        Rows::Prices(rows) => import(lake, log, bytes, fetch, rows, dead).await,
    }
    .with_context(|| format!("import of {} failed", source.url))
    .map_err(PayloadError::Failed)?;
    Ok((Box::new(report), format, skipped))
}

/// Each URL's validators from its last successful pull, kept in a small JSON file (replaced
/// atomically: written to a temporary name, then renamed).
pub struct PullState {
    path: PathBuf,
    by_url: BTreeMap<String, Validators>,
}

impl PullState {
    /// Loads the file; a missing file is an empty state, an unreadable one is reported and
    /// ignored (the cost is one unconditional fetch per source).
    pub fn load(path: &Path) -> Self {
        let by_url = match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!(path = %path.display(), error = %e, "pull state unreadable; fetching every source afresh");
                BTreeMap::new()
            }),
            Err(_) => BTreeMap::new(),
        };
        Self { path: path.to_path_buf(), by_url }
    }

    pub fn get(&self, url: &str) -> Validators {
        self.by_url.get(url).cloned().unwrap_or_default()
    }

    pub fn set(&mut self, url: &str, validators: Validators) -> anyhow::Result<()> {
        self.by_url.insert(url.to_string(), validators);
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        serde_json::to_writer_pretty(&mut tmp, &self.by_url)?;
        tmp.persist(&self.path).with_context(|| format!("cannot write {}", self.path.display()))?;
        Ok(())
    }
}

/// Prints what an import did (for the CLI).
pub fn print_report(r: &ImportReport, format: Format, skipped: u64) {
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
        let before = r.dead_letters - r.dead_letters_appended;
        let note = if before > 0 {
            format!("; {before} recorded by an earlier import of this payload")
        } else {
            String::new()
        };
        println!("  dead letters: {} rows could not be used (see topic dead_letters){note}", r.dead_letters);
    }
    match (&r.event, u.changed_from, u.changed_to) {
        (Some(e), Some(from), Some(to)) => {
            println!("  version {}: changed {from} … {to}; announced on topic datasets", e.version)
        }
        _ => println!("  nothing changed: no new version"),
    }
    println!("  raw payload: {} ({} bytes, sha256 {})", r.raw.payload, r.raw.bytes, r.raw.sha256);
}

/// The pull sources of `up` and `ingest` as one component: what it pulls, with what, how often,
/// into which lake, and where it keeps the validators. Each pull is reported as a run of its
/// URL (`pull:<url>`, credentials redacted).
pub struct PullSchedule {
    pub puller: Puller,
    pub sources: Vec<PullSource>,
    pub interval: Duration,
    pub state_path: PathBuf,
    pub lake: Lake,
}

#[async_trait::async_trait]
impl Component for PullSchedule {
    fn info(&self) -> Info {
        Info::new("pull", Kind::Source, "pulls")
    }

    fn describe(&self) -> Vec<(&'static str, String)> {
        let every = humantime::format_duration(self.interval);
        self.sources
            .iter()
            .map(|s| ("pull", format!("{} every {every} into {}", s.url, self.lake.location())))
            .collect()
    }

    async fn run(self: Box<Self>, cx: tributary_component::Context) -> Result<(), BoxError> {
        let log = cx.log()?;
        cx.report().ready();
        run_schedule(*self, log, cx.report(), cx.stop_signal()).await?;
        Ok(())
    }
}

/// Pulls every source now and then every `interval`, until `stop`. A failed pull is logged with
/// its reason and tried again at the next interval.
async fn run_schedule(
    schedule: PullSchedule,
    log: std::sync::Arc<dyn EventLog>,
    report: &Reporter,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let PullSchedule { puller, sources, interval, state_path, lake } = schedule;
    let mut state = PullState::load(&state_path);
    // After a failed pull (a server down, a full disk) the round comes again after a doubling
    // pause of 30 s up to the interval, rather than a whole interval later.
    let mut retry = tributary_log::Backoff::new(std::time::Duration::from_secs(30).min(interval), interval);
    loop {
        let mut failed = false;
        for source in &sources {
            let previous = state.get(&source.url);
            let mut no_progress = |_, _| {};
            let pull = pull_and_import(&puller, source, &previous, &lake, &*log, &mut no_progress);
            let result = tokio::select! {
                _ = stop.changed() => return Ok(()),
                r = pull => r,
            };
            let mut run = Run::default();
            match &result {
                Ok((PullOutcome::Imported { report, .. }, _)) => {
                    (run.rows, run.errors) = (report.upsert.offered, report.dead_letters);
                }
                Ok((PullOutcome::NotModified, _)) => {}
                Err(e) => run.failure = Some(format!("{e:#}")),
            }
            report.run_for(&format!("pull:{}", tributary_store::redacted(&source.url)), run);
            match result {
                Ok((PullOutcome::NotModified, _)) => tracing::info!(url = %source.url, "pull: not modified"),
                Ok((PullOutcome::Imported { report, .. }, validators)) => {
                    let u = &report.upsert;
                    tracing::info!(url = %source.url, dataset = %u.dataset, version = ?u.version, new = u.inserted, changed = u.updated, dead_letters = report.dead_letters, "pull imported");
                    if let Err(e) = state.set(&source.url, validators) {
                        tracing::warn!(error = %e, "cannot save the pull state; the next pull fetches afresh");
                    }
                }
                Err(e) => {
                    metrics::counter!("tributary_pull_failures_total").increment(1);
                    tracing::error!(url = %source.url, error = %format!("{e:#}"), retry_in = ?retry.next_pause(), "pull failed");
                    failed = true;
                }
            }
        }
        if failed {
            if !retry.wait(&mut stop).await {
                return Ok(());
            }
            continue;
        }
        retry.reset();
        tokio::select! {
            _ = stop.changed() => return Ok(()),
            _ = tokio::time::sleep(interval) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use tributary_component::compliance::{self, Environment, Fixture};

    use super::*;

    /// A price file pulled from a `file://` URL every 50 ms: 10 trading days in round 0, 15 in
    /// round 1 (5 new).
    struct PricesFile;

    fn prices_path(env: &Environment) -> PathBuf {
        env.dir().join("DAX.csv")
    }

    #[async_trait::async_trait]
    impl Fixture for PricesFile {
        async fn build(&self, env: &Environment) -> Result<Box<dyn Component>, BoxError> {
            let url = format!("file://{}", prices_path(env).display());
            Ok(Box::new(PullSchedule {
                puller: Puller::new(Default::default())?,
                sources: vec![PullSource { dataset: Some(Dataset::Prices), ..PullSource::new(url) }],
                interval: Duration::from_millis(50),
                state_path: env.dir().join("pull-state.json"),
                lake: Lake::open(&env.dir().join("lake").display().to_string())?,
            }))
        }

        async fn feed(&self, env: &Environment, round: u32) -> Result<(), BoxError> {
            let days = 10 + 5 * round as usize;
            let mut text = String::from("Date,Open,High,Low,Close,Adj Close,Volume\n");
            for d in 0..days {
                let close = 10_000.0 + d as f64;
                text.push_str(&format!("2020-03-{:02},{close},{close},{close},{close},{close},100\n", d + 1));
            }
            let tmp = env.dir().join("DAX.csv.tmp");
            std::fs::write(&tmp, text)?;
            std::fs::rename(&tmp, prices_path(env))?;
            // Until the pull imported it.
            let lake = Lake::open(&env.dir().join("lake").display().to_string())?;
            let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
            loop {
                let rows: usize =
                    lake.snapshot(Dataset::Prices).await?.batches.iter().map(|b| b.num_rows()).sum();
                if rows == days {
                    return Ok(());
                }
                if tokio::time::Instant::now() > deadline {
                    return Err(
                        format!("round {round}: {rows} price rows in the lake, expected {days}").into()
                    );
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }

        async fn check(&self, env: &Environment) -> Result<(), BoxError> {
            // Two imports that changed something; the pulls in between found nothing new.
            let lake = Lake::open(&env.dir().join("lake").display().to_string())?;
            let version = lake.snapshot(Dataset::Prices).await?.version;
            if version != 2 {
                return Err(format!("prices at version {version}, expected 2").into());
            }
            Ok(())
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_pull_schedule_is_a_component() {
        compliance::check(&PricesFile).await.unwrap();
    }
}

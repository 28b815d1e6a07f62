//! What the long-running commands (`up`, `worker`, `ingest`, `serve`, `batch follow`) share:
//! each is a [`Process`] — a list of parts with the log and store they run on — run by
//! [`run_process`] until a shutdown signal.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use tributary_component::{Context, Supervisor};
use tributary_store::{ServingStore, SourceRuns, SqlStore};

use super::OpenedLog;
use super::roles::Parts;
use crate::config::Config;

/// A long-running command as what it is made of: the log and store it opened, its parts, and
/// what it says when it starts.
pub struct Process {
    /// The first line: `Tributary 0.1.0 is running.`
    pub headline: String,
    /// The event log, where the role has one (`serve` beside an embedded log has none).
    pub log: Option<OpenedLog>,
    pub store: SqlStore,
    /// Banner lines before the parts' own (the data directory, the log, the store).
    pub lines: Vec<(&'static str, String)>,
    pub parts: Parts,
    /// The last line: what Ctrl-C does.
    pub footer: &'static str,
}

impl Process {
    /// `parts` over `log` and `store`, announced by `headline` and the lines about the log and
    /// the store; Ctrl-C stops it.
    pub fn new(
        config: &Config,
        headline: String,
        log: Option<OpenedLog>,
        store: SqlStore,
        parts: Parts,
    ) -> Self {
        let lines = Self::storage_lines(config, log.as_ref(), &store);
        Self { headline, log, store, lines, parts, footer: "Ctrl-C stops." }
    }

    /// Banner lines before the ones about the log and the store.
    pub fn lines_first(mut self, mut lines: Vec<(&'static str, String)>) -> Self {
        lines.append(&mut self.lines);
        self.lines = lines;
        self
    }

    /// A banner line after the ones about the log and the store.
    pub fn line(mut self, label: &'static str, text: String) -> Self {
        self.lines.push((label, text));
        self
    }

    /// The banner lines every role prints about the log and the store.
    fn storage_lines(
        config: &Config,
        log: Option<&OpenedLog>,
        store: &SqlStore,
    ) -> Vec<(&'static str, String)> {
        let mut lines = Vec::new();
        if let Some(log) = log {
            lines.push(("event log", log.description().to_string()));
        }
        lines.push(("serving store", format!("{} ({})", config.store_description(), store.dialect().name())));
        lines
    }
}

/// Runs `process`: prints its banner, runs its parts until SIGINT, SIGTERM or the first part
/// that fails, stops them all, closes the log and the store. Sources' runs are written to the
/// store (`SourceRuns`) for the pipeline status.
pub async fn run_process(process: Process, mut signals: ShutdownSignals) -> anyhow::Result<ExitCode> {
    let Process { headline, log, store, lines, parts, footer } = process;
    let mut supervisor = Supervisor::new();
    let stop = supervisor.stop_signal();
    let shared_store: Arc<dyn ServingStore> = Arc::new(store.clone());
    let runs = SourceRuns::start(shared_store.clone(), stop.clone());
    let mut cx = Context::new(stop).with_store(shared_store).with_runs(Arc::new(runs));
    if let Some(log) = &log {
        cx = cx.with_log(log.shared());
    }
    println!("{headline}");
    let described = parts.iter().flat_map(|p| p.describe());
    for (label, text) in lines.into_iter().chain(described) {
        println!("  {label:<15} {text}");
    }
    println!("{footer}");
    for part in parts {
        supervisor.spawn(part, &cx);
    }
    let outcome = supervisor.run_until(signals.wait()).await;
    if let Some(log) = &log {
        log.close().await?;
    }
    store.close().await;
    outcome?;
    println!("Stopped cleanly.");
    Ok(ExitCode::SUCCESS)
}

/// SIGINT and SIGTERM, registered when created: a signal that arrives while a command is still
/// starting is held until it is awaited, instead of killing the process uncleanly.
pub struct ShutdownSignals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl ShutdownSignals {
    pub fn install() -> anyhow::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            interrupt: signal(SignalKind::interrupt()).context("cannot handle SIGINT")?,
            terminate: signal(SignalKind::terminate()).context("cannot handle SIGTERM")?,
        })
    }

    pub async fn wait(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }
}

//! What the long-running commands (`up`, `worker`, `ingest`, `serve`) share: shutdown signals,
//! supervising their tasks, how they end, and reporting model versions.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tributary_processors::mobile_kmeans::ModelVersion;

/// The tasks of a long-running command: each returns its name and how it ended.
pub type Tasks = JoinSet<(&'static str, anyhow::Result<()>)>;

/// How a long-running command ends once its tasks stopped and it closed what it opened: with
/// the failure that stopped it, or "Stopped cleanly."
pub fn stopped(failure: Option<anyhow::Error>) -> anyhow::Result<ExitCode> {
    if let Some(e) = failure {
        return Err(e);
    }
    println!("Stopped cleanly.");
    Ok(ExitCode::SUCCESS)
}

/// Runs until SIGINT or SIGTERM, or until a task ends (which is a failure: tasks run until
/// stopped); then tells every task to stop and waits up to 15 s for them. Returns the failure
/// that ended the run, if one did.
pub async fn supervise(
    tasks: &mut Tasks,
    signals: &mut ShutdownSignals,
    stop: &watch::Sender<bool>,
) -> Option<anyhow::Error> {
    let mut failure = None;
    tokio::select! {
        _ = signals.wait() => {}
        Some(done) = tasks.join_next() => {
            match done {
                Ok((name, Err(e))) => failure = Some(anyhow::anyhow!("{name} failed: {e:#}")),
                Ok((name, Ok(()))) => failure = Some(anyhow::anyhow!("{name} stopped unexpectedly")),
                Err(e) => failure = Some(anyhow::anyhow!("a task panicked: {e}")),
            }
        }
    }
    tracing::info!("shutting down");
    let _ = stop.send(true);
    let deadline = tokio::time::sleep(Duration::from_secs(15));
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            next = tasks.join_next() => match next {
                None => break,
                Some(Ok((name, Err(e)))) => tracing::error!("{name} failed while stopping: {e:#}"),
                Some(_) => {}
            },
            _ = &mut deadline => {
                tracing::warn!("tasks did not stop within 15 s; aborting them");
                tasks.abort_all();
                break;
            }
        }
    }
    failure
}

/// Logs model versions: each at debug level, and the newest at info level at most once a second.
#[derive(Default)]
pub struct VersionReporter {
    last_info: Option<Instant>,
    points_since: u64,
}

impl VersionReporter {
    pub fn report(&mut self, v: &ModelVersion) {
        self.points_since += v.batch_points;
        tracing::debug!(version = v.version, points = v.batch_points, "model version");
        if self.last_info.is_some_and(|t| t.elapsed() < Duration::from_secs(1)) {
            return;
        }
        let centres: Vec<String> =
            v.centres.iter().map(|c| format!("({:.3}, {:.3}) w={:.0}", c.lat, c.lon, c.weight)).collect();
        tracing::info!(version = v.version, points = self.points_since, centres = %centres.join(" "), "model version");
        self.points_since = 0;
        self.last_info = Some(Instant::now());
    }
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

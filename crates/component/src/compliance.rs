//! The shared compliance test: every component passes it (feature `compliance`).
//!
//! Like the log's `tests/contract.rs`, one procedure for every implementation. A crate that
//! defines a component writes a [`Fixture`] — how to build it, give it work and check its
//! output — and calls [`check`] from a test. The procedure, over an embedded log and a SQLite
//! store in a temporary directory ([`Environment`]):
//!
//! 1. build the component and run it; it must say it is ready;
//! 2. feed it work (round 0); it must report a run (unless the fixture says it only serves);
//! 3. it must still be running, then stop within 15 s of the stop signal, with `Ok(())`;
//! 4. build a second instance from the same configuration over the same log and store, and
//!    repeat with new work (round 1): it must start, report and stop the same way;
//! 5. the fixture checks the output of both rounds: each piece of work taken exactly once.
//!
//! ```no_run
//! # use tributary_component::{BoxError, Component, compliance::{Environment, Fixture}};
//! struct MySource;
//! #[async_trait::async_trait]
//! impl Fixture for MySource {
//!     async fn build(&self, env: &Environment) -> Result<Box<dyn Component>, BoxError> { todo!() }
//!     async fn feed(&self, env: &Environment, round: u32) -> Result<(), BoxError> { Ok(()) }
//!     async fn check(&self, env: &Environment) -> Result<(), BoxError> { Ok(()) }
//! }
//! # async fn t() { tributary_component::compliance::check(&MySource).await.unwrap(); }
//! ```

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tributary_log::{EmbeddedLog, EmbeddedLogConfig, EventLog};
use tributary_store::{ServingStore, SqlStore};

use crate::{BoxError, Component, Context, Recorded};

/// How long a component may take to say it is ready, to report a run, or to stop. Generous:
/// the test machines are shared and slow; a component that is merely slow still passes.
const PATIENCE: Duration = Duration::from_secs(60);
/// How long stopping may take (the supervisor's grace period).
const STOP_WITHIN: Duration = Duration::from_secs(15);

/// The process a component runs in under test: an embedded log and a SQLite store in a
/// temporary directory, which also has room for the fixture's own files.
pub struct Environment {
    dir: tempfile::TempDir,
    /// The event log.
    pub log: Arc<dyn EventLog>,
    /// The serving store.
    pub store: Arc<dyn ServingStore>,
}

impl Environment {
    /// A fresh log and store.
    pub async fn new() -> Result<Self, BoxError> {
        let dir = tempfile::tempdir()?;
        let log = EmbeddedLog::open(dir.path().join("log"), EmbeddedLogConfig::default()).await?;
        let store = SqlStore::open_sqlite(&dir.path().join("store.db")).await?;
        Ok(Self { dir, log: Arc::new(log), store: Arc::new(store) })
    }

    /// A directory for the fixture's files (inboxes, lakes, state).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// How many records `topic` holds (none if it does not exist).
    pub async fn records_in(&self, topic: &str) -> Result<u64, BoxError> {
        if !self.log.describe_topics().await?.iter().any(|t| t.name == topic) {
            return Ok(0);
        }
        let mut n = 0;
        for p in 0..self.log.partition_count(topic).await? {
            let o = self.log.offsets(topic, p).await?;
            n += o.end - o.start;
        }
        Ok(n)
    }
}

/// A component under test: how to build it, give it work and check what it did.
#[async_trait::async_trait]
pub trait Fixture: Send + Sync {
    /// A new instance, configured the same every time (the restart builds a second one).
    async fn build(&self, env: &Environment) -> Result<Box<dyn Component>, BoxError>;

    /// Gives the running component work: round 0 before the restart, round 1 after.
    async fn feed(&self, env: &Environment, round: u32) -> Result<(), BoxError>;

    /// Whether the component reports runs for the work it was fed. Services that answer
    /// requests (the HTTP API) say only that they are ready.
    fn reports_runs(&self) -> bool {
        true
    }

    /// After both rounds: the work of both was taken, each piece once.
    async fn check(&self, env: &Environment) -> Result<(), BoxError>;
}

/// Runs the compliance procedure (see the module documentation) on `fixture`.
pub async fn check(fixture: &dyn Fixture) -> Result<(), BoxError> {
    let env = Environment::new().await?;
    for round in 0..2 {
        run_round(fixture, &env, round).await.map_err(|e| format!("round {round}: {e}"))?;
    }
    fixture.check(&env).await.map_err(|e| format!("after a restart: {e}"))?;
    Ok(())
}

async fn run_round(fixture: &dyn Fixture, env: &Environment, round: u32) -> Result<(), BoxError> {
    let recorded = Arc::new(Recorded::default());
    let (stop_tx, stop) = watch::channel(false);
    let component = fixture.build(env).await?;
    let info = component.info();
    let cx = Context::new(stop)
        .with_log(env.log.clone())
        .with_store(env.store.clone())
        .with_runs(recorded.clone())
        .for_component(info.clone());
    let mut task = tokio::spawn(component.run(cx));

    wait_for(&mut task, "say it is ready", || !recorded.ready().is_empty()).await?;
    fixture.feed(env, round).await?;
    if fixture.reports_runs() {
        wait_for(&mut task, "report a run", || !recorded.runs().is_empty()).await?;
    }
    if task.is_finished() {
        return Err(format!("{info} ended before it was stopped: {:?}", task.await).into());
    }
    let _ = stop_tx.send(true);
    match tokio::time::timeout(STOP_WITHIN, task).await {
        Err(_) => Err(format!("{info} did not stop within {STOP_WITHIN:?} of the signal").into()),
        Ok(Err(e)) => Err(format!("{info} panicked: {e}").into()),
        Ok(Ok(Err(e))) => Err(format!("{info} failed: {e}").into()),
        Ok(Ok(Ok(()))) => Ok(()),
    }
}

/// Waits until `done` holds, failing if the task ends first or after [`PATIENCE`].
async fn wait_for(
    task: &mut tokio::task::JoinHandle<Result<(), BoxError>>,
    what: &str,
    done: impl Fn() -> bool,
) -> Result<(), BoxError> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !done() {
        if task.is_finished() {
            let result = task.await;
            return Err(format!("ended before it could {what}: {result:?}").into());
        }
        if tokio::time::Instant::now() > deadline {
            return Err(format!("did not {what} within {PATIENCE:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

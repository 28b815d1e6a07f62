//! [`Context`]: what a component gets from the process it runs in.

use std::sync::Arc;

use tokio::sync::watch;
use tributary_log::EventLog;
use tributary_store::ServingStore;

use crate::report::{Discard, Reporter, RunSink};
use crate::{Info, Kind};

/// A component's context needs something the process does not have.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    #[error("{component} needs the event log, and this process has none")]
    NoLog { component: String },
    #[error("{component} needs the serving store, and this process has none")]
    NoStore { component: String },
}

/// The log, the store, the stop signal and run reporting, as one component sees them.
///
/// A process makes one with [`Context::new`] and the parts it has; a [`Supervisor`] hands
/// each component its own copy, whose [`Reporter`] is named after it.
///
/// [`Supervisor`]: crate::Supervisor
#[derive(Clone)]
pub struct Context {
    log: Option<Arc<dyn EventLog>>,
    store: Option<Arc<dyn ServingStore>>,
    stop: watch::Receiver<bool>,
    runs: Arc<dyn RunSink>,
    report: Reporter,
}

impl Context {
    /// A context with neither log nor store, whose runs go nowhere, stopping when `stop`
    /// turns true.
    pub fn new(stop: watch::Receiver<bool>) -> Self {
        let runs: Arc<dyn RunSink> = Arc::new(Discard);
        let report = Reporter::new(Info::new("process", Kind::Service, "process"), runs.clone());
        Self { log: None, store: None, stop, runs, report }
    }

    pub fn with_log(mut self, log: Arc<dyn EventLog>) -> Self {
        self.log = Some(log);
        self
    }

    pub fn with_store(mut self, store: Arc<dyn ServingStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// Where the components' runs go (the store's source status: `SourceRuns`).
    pub fn with_runs(mut self, runs: Arc<dyn RunSink>) -> Self {
        self.runs = runs;
        self
    }

    /// This context as the component `info` sees it: the same log, store and signal, a
    /// reporter in its name.
    pub fn for_component(&self, info: Info) -> Self {
        let mut cx = self.clone();
        cx.report = Reporter::new(info, self.runs.clone());
        cx
    }

    /// The event log, or an error naming the component that needs it.
    pub fn log(&self) -> Result<Arc<dyn EventLog>, ContextError> {
        self.log.clone().ok_or_else(|| ContextError::NoLog { component: self.report.info().to_string() })
    }

    /// The event log if the process has one (the API runs without one beside an embedded log).
    pub fn log_if_any(&self) -> Option<Arc<dyn EventLog>> {
        self.log.clone()
    }

    /// The serving store, or an error naming the component that needs it.
    pub fn store(&self) -> Result<Arc<dyn ServingStore>, ContextError> {
        self.store.clone().ok_or_else(|| ContextError::NoStore { component: self.report.info().to_string() })
    }

    /// The stop signal as a receiver (true once stopping), for code that selects on it.
    pub fn stop_signal(&self) -> watch::Receiver<bool> {
        self.stop.clone()
    }

    /// Whether the stop signal has been given.
    pub fn is_stopping(&self) -> bool {
        *self.stop.borrow()
    }

    /// Resolves once the stop signal is given (at once if it was).
    pub async fn stopped(&self) {
        let mut stop = self.stop.clone();
        // An error means the sender is gone: nobody can start or stop this process any more.
        let _ = stop.wait_for(|stopping| *stopping).await;
    }

    /// This component's reporter.
    pub fn report(&self) -> &Reporter {
        &self.report
    }
}

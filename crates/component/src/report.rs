//! Run reporting: each component says when it is ready and what each unit of work did.

use std::sync::Arc;

use parking_lot::Mutex;
use tributary_store::{SourceRun, SourceRuns};

use crate::{Info, Kind};

/// One unit of work a component finished: a file, a micro-batch, a pull, a stored batch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Run {
    /// Records (events, rows, points) it took.
    pub rows: u64,
    /// Records it could not take (dead letters).
    pub errors: u64,
    /// Why the unit failed as a whole (a refused file, a failed pull), if it did.
    pub failure: Option<String>,
}

/// Where reported runs go.
pub trait RunSink: Send + Sync + 'static {
    /// The component is taking work.
    fn ready(&self, component: &Info) {
        let _ = component;
    }
    /// The component finished a unit of work.
    fn run(&self, component: &Info, run: &Run);
}

/// Runs go nowhere (metrics and logs still see them).
pub(crate) struct Discard;

impl RunSink for Discard {
    fn run(&self, _: &Info, _: &Run) {}
}

/// Sources' runs become their pipeline status in the store (`source_status`), under the
/// source's id and name; other components' runs are metrics only.
impl RunSink for SourceRuns {
    fn run(&self, component: &Info, run: &Run) {
        if component.kind != Kind::Source {
            return;
        }
        self.record(SourceRun {
            source: component.id.clone(),
            kind: component.name.into(),
            time_ms: tributary_log::now_ms(),
            rows: run.rows,
            errors: run.errors,
            failure: run.failure.clone(),
        });
    }
}

/// Keeps every report in memory: for tests, and the compliance check.
#[derive(Default)]
pub struct Recorded {
    ready: Mutex<Vec<Info>>,
    runs: Mutex<Vec<(Info, Run)>>,
}

impl Recorded {
    /// The components that said they were ready, in order (a restarted one twice).
    pub fn ready(&self) -> Vec<Info> {
        self.ready.lock().clone()
    }

    /// Every run reported so far, in order.
    pub fn runs(&self) -> Vec<(Info, Run)> {
        self.runs.lock().clone()
    }
}

impl RunSink for Recorded {
    fn ready(&self, component: &Info) {
        self.ready.lock().push(component.clone());
    }
    fn run(&self, component: &Info, run: &Run) {
        self.runs.lock().push((component.clone(), run.clone()));
    }
}

/// A component's handle for reporting; cheap to clone, never waits.
#[derive(Clone)]
pub struct Reporter {
    info: Arc<Info>,
    sink: Arc<dyn RunSink>,
}

impl Reporter {
    pub(crate) fn new(info: Info, sink: Arc<dyn RunSink>) -> Self {
        Self { info: Arc::new(info), sink }
    }

    /// The component this reporter speaks for.
    pub fn info(&self) -> &Info {
        &self.info
    }

    /// The component is taking work (subscribed, bound, watching its folder).
    pub fn ready(&self) {
        tracing::debug!(component = %self.info, "ready");
        metrics::gauge!("tributary_component_ready", "component" => self.info.id.clone()).set(1.0);
        self.sink.ready(&self.info);
    }

    /// A unit of work is done: counted in `tributary_component_rows_total` and
    /// `tributary_component_errors_total` (label `component` = the id) and passed to the sink.
    pub fn run(&self, run: Run) {
        let id = self.info.id.clone();
        metrics::counter!("tributary_component_rows_total", "component" => id.clone()).increment(run.rows);
        metrics::counter!("tributary_component_errors_total", "component" => id).increment(run.errors);
        self.sink.run(&self.info, &run);
    }

    /// A unit of work of one of several inputs this component serves (a pull schedule's URLs):
    /// reported as [`run`](Self::run) does, under `id` instead of the component's own.
    pub fn run_for(&self, id: &str, run: Run) {
        let info = Info { id: id.to_string(), ..(*self.info).clone() };
        Reporter { info: Arc::new(info), sink: self.sink.clone() }.run(run);
    }
}

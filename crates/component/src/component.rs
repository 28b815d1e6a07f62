//! The [`Component`] trait and what a component says about itself.

use std::fmt;

use crate::Context;

/// Any error a component's run ends with; `?` converts every error type into it.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Where a component sits in the data flow (SPEC "Layers").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Brings data in: writes to the log (or the lake). Its runs are its pipeline status.
    Source,
    /// Reads the log (or the lake) and writes results to the store.
    Processor,
    /// Moves records from the log to the store as they are (dead letters).
    Sink,
    /// Serves or maintains what others wrote: the HTTP API, store retention.
    Service,
}

impl Kind {
    /// The word for this kind: `source`, `processor`, `sink`, `service`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Source => "source",
            Kind::Processor => "processor",
            Kind::Sink => "sink",
            Kind::Service => "service",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a component is: its type's name, its kind and which instance it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Info {
    /// The type of component, short: `directory`, `generator`, `pull`, `k-means`. A source's
    /// runs are stored under this kind in its pipeline status.
    pub name: &'static str,
    pub kind: Kind,
    /// This instance, unique within a process: `dir:/srv/inbox`, `generator:mobile_data`,
    /// `k-means:mobile`. A source's pipeline status is keyed by it.
    pub id: String,
}

impl Info {
    pub fn new(name: &'static str, kind: Kind, id: impl Into<String>) -> Self {
        Self { name, kind, id: id.into() }
    }
}

impl fmt::Display for Info {
    /// `directory source (dir:/srv/inbox)`: how logs and errors name the component.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} ({})", self.name, self.kind, self.id)
    }
}

/// A running part of a process. See the crate documentation for what every component promises.
#[async_trait::async_trait]
pub trait Component: Send + 'static {
    /// What this component is; constant for an instance.
    fn info(&self) -> Info;

    /// Lines for the banner a command prints when it starts (`("inbox", "/srv/inbox")`), in
    /// the order they should appear. None by default.
    fn describe(&self) -> Vec<(&'static str, String)> {
        Vec::new()
    }

    /// Runs until [`Context::stopped`], then returns `Ok(())`; an `Err` is a failure that
    /// stops the process (after the component's own retries of transient failures).
    async fn run(self: Box<Self>, cx: Context) -> Result<(), BoxError>;
}

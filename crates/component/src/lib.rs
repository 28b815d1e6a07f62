//! The component contract: every running part of Tributary — a source, a stream processor, a
//! sink or a service — is a [`Component`], and a process is a list of them.
//!
//! A component is built from its configuration (outside this crate, by its owner), then
//! [`run`](Component::run) with a [`Context`] that carries what every part shares: the event log,
//! the serving store, the stop signal and a [`Reporter`] for its runs. A [`Supervisor`] runs a
//! list of them until a shutdown signal or the first failure, then stops them all. `tributary up`,
//! `ingest`, `worker`, `serve` and `batch follow` are such lists.
//!
//! What a component promises (checked for every component by [`compliance::check`]):
//!
//! 1. **Starts** from its context alone: `run` takes the log and the store from the context,
//!    and says [`Reporter::ready`] once it is taking work (subscribed, bound, watching).
//! 2. **Reports** each unit of work it finishes (a file, a micro-batch, a pull, a stored batch)
//!    through [`Reporter::run`]; sources' runs become their pipeline status.
//! 3. **Stops on the signal**: once [`Context::stopped`] resolves it finishes or abandons the
//!    unit at hand without acknowledging it and returns `Ok(())` within seconds. It never ends on
//!    its own while not stopped: a supervisor treats that as a failure.
//! 4. **Survives a restart**: a new instance built from the same configuration over the same log
//!    and store continues where the old one stopped, losing and repeating nothing it acknowledged.
//!
//! ```
//! use tributary_component::{BoxError, Component, Context, Info, Kind};
//!
//! /// A service that waits for the stop signal and does nothing else.
//! struct Idle;
//!
//! #[async_trait::async_trait]
//! impl Component for Idle {
//!     fn info(&self) -> Info {
//!         Info::new("idle", Kind::Service, "idle")
//!     }
//!     async fn run(self: Box<Self>, cx: Context) -> Result<(), BoxError> {
//!         cx.report().ready();
//!         cx.stopped().await;
//!         Ok(())
//!     }
//! }
//! ```

mod component;
mod context;
mod report;
mod supervisor;

#[cfg(feature = "compliance")]
pub mod compliance;

pub use component::{BoxError, Component, Info, Kind};
pub use context::{Context, ContextError};
pub use report::{Recorded, Reporter, Run, RunSink};
pub use supervisor::{Supervisor, SupervisorError};

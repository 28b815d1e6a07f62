//! [`Supervisor`]: runs a process's components until a shutdown or the first failure.

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::{BoxError, Component, Context, Info};

/// How long stopping components get before they are aborted.
const STOP_GRACE: Duration = Duration::from_secs(15);

/// Why a supervised process ended other than by a shutdown.
#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    #[error("{component} failed: {source}")]
    Failed { component: String, source: BoxError },
    #[error("{component} stopped unexpectedly")]
    Ended { component: String },
    #[error("{component} panicked: {message}")]
    Panicked { component: String, message: String },
}

/// Runs components on tasks of their own, each with its own [`Context`]; owns the stop signal.
///
/// ```
/// # async fn example(parts: Vec<Box<dyn tributary_component::Component>>) {
/// use tributary_component::{Context, Supervisor};
/// let mut supervisor = Supervisor::new();
/// let cx = Context::new(supervisor.stop_signal());
/// for part in parts {
///     supervisor.spawn(part, &cx);
/// }
/// // Until Ctrl-C, or the first component that fails.
/// let result = supervisor.run_until(async { let _ = tokio::signal::ctrl_c().await; }).await;
/// # let _ = result;
/// # }
/// ```
pub struct Supervisor {
    stop: watch::Sender<bool>,
    tasks: JoinSet<Ended>,
    names: ids::Id2Info,
}

/// A component's task ended: which one, and how.
type Ended = (Info, Result<(), BoxError>);

/// The component of each task, for a task that panicked (its result is lost with it).
mod ids {
    use std::collections::HashMap;

    use crate::Info;

    #[derive(Default)]
    pub struct Id2Info(pub HashMap<tokio::task::Id, Info>);
}

impl Default for Supervisor {
    fn default() -> Self {
        Self::new()
    }
}

impl Supervisor {
    pub fn new() -> Self {
        let (stop, _) = watch::channel(false);
        Self { stop, tasks: JoinSet::new(), names: Default::default() }
    }

    /// The signal that [`run_until`](Self::run_until) gives: build the process's [`Context`]
    /// from it.
    pub fn stop_signal(&self) -> watch::Receiver<bool> {
        self.stop.subscribe()
    }

    /// Starts `component` with `cx` in its name.
    pub fn spawn(&mut self, component: Box<dyn Component>, cx: &Context) {
        let info = component.info();
        let cx = cx.for_component(info.clone());
        tracing::debug!(component = %info, "starting");
        let task_info = info.clone();
        let handle = self.tasks.spawn(async move { (task_info, component.run(cx).await) });
        self.names.0.insert(handle.id(), info);
    }

    /// Runs until `shutdown` resolves or a component ends (a failure: components run until
    /// stopped); then gives the stop signal and waits up to 15 s for every component. Returns
    /// the failure that ended the run, if one did.
    pub async fn run_until(mut self, shutdown: impl Future<Output = ()>) -> Result<(), SupervisorError> {
        let mut outcome = Ok(());
        tokio::select! {
            _ = shutdown => {}
            Some(done) = self.tasks.join_next_with_id() => outcome = Err(self.ended(done)),
        }
        tracing::info!("shutting down");
        let _ = self.stop.send(true);
        let deadline = tokio::time::sleep(STOP_GRACE);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                next = self.tasks.join_next_with_id() => match next {
                    None => break,
                    Some(Ok((_, (info, Err(e))))) => tracing::error!("{info} failed while stopping: {e}"),
                    Some(Err(e)) if e.is_panic() => tracing::error!("{} panicked while stopping", self.name_of(e.id())),
                    Some(_) => {}
                },
                _ = &mut deadline => {
                    tracing::warn!("components did not stop within {STOP_GRACE:?}; aborting them");
                    self.tasks.abort_all();
                    break;
                }
            }
        }
        outcome
    }

    fn ended(&self, done: Result<(tokio::task::Id, Ended), tokio::task::JoinError>) -> SupervisorError {
        match done {
            Ok((_, (info, Err(source)))) => SupervisorError::Failed { component: info.to_string(), source },
            Ok((_, (info, Ok(())))) => SupervisorError::Ended { component: info.to_string() },
            Err(e) => {
                let component = self.name_of(e.id());
                let message = e
                    .try_into_panic()
                    .ok()
                    .and_then(|p| {
                        p.downcast_ref::<&str>()
                            .map(|s| s.to_string())
                            .or_else(|| p.downcast_ref::<String>().cloned())
                    })
                    .unwrap_or_else(|| "cancelled".into());
                SupervisorError::Panicked { component, message }
            }
        }
    }

    fn name_of(&self, id: tokio::task::Id) -> String {
        self.names.0.get(&id).map(|i| i.to_string()).unwrap_or_else(|| "a component".into())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::{Kind, Recorded};

    /// Waits for the stop signal, or fails or panics at once, or ends at once.
    enum Part {
        Waits,
        Fails,
        Panics,
        Ends,
    }

    #[async_trait::async_trait]
    impl Component for Part {
        fn info(&self) -> Info {
            let name = match self {
                Part::Waits => "waits",
                Part::Fails => "fails",
                Part::Panics => "panics",
                Part::Ends => "ends",
            };
            Info::new(name, Kind::Service, name)
        }
        async fn run(self: Box<Self>, cx: Context) -> Result<(), BoxError> {
            cx.report().ready();
            match *self {
                Part::Waits => {
                    cx.stopped().await;
                    Ok(())
                }
                Part::Fails => Err("the disk is on fire".into()),
                Part::Panics => panic!("a bug"),
                Part::Ends => Ok(()),
            }
        }
    }

    async fn run(parts: Vec<Part>, shutdown: bool) -> (Result<(), SupervisorError>, Arc<Recorded>) {
        let recorded = Arc::new(Recorded::default());
        let mut supervisor = Supervisor::new();
        let cx = Context::new(supervisor.stop_signal()).with_runs(recorded.clone());
        for p in parts {
            supervisor.spawn(Box::new(p), &cx);
        }
        let signal = async move {
            if shutdown {
                tokio::time::sleep(Duration::from_millis(50)).await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        (supervisor.run_until(signal).await, recorded)
    }

    #[tokio::test]
    async fn a_shutdown_stops_every_part_cleanly() {
        let (result, recorded) = run(vec![Part::Waits, Part::Waits], true).await;
        result.unwrap();
        assert_eq!(recorded.ready().len(), 2);
    }

    #[tokio::test]
    async fn the_first_failure_stops_the_others_and_is_named() {
        let (result, _) = run(vec![Part::Waits, Part::Fails], false).await;
        let e = result.unwrap_err().to_string();
        assert_eq!(e, "fails service (fails) failed: the disk is on fire");
    }

    #[tokio::test]
    async fn a_part_that_ends_on_its_own_is_a_failure() {
        let (result, _) = run(vec![Part::Waits, Part::Ends], false).await;
        assert_eq!(result.unwrap_err().to_string(), "ends service (ends) stopped unexpectedly");
    }

    #[tokio::test]
    async fn a_panic_is_named_with_its_part() {
        let (result, _) = run(vec![Part::Waits, Part::Panics], false).await;
        assert_eq!(result.unwrap_err().to_string(), "panics service (panics) panicked: a bug");
    }

    #[test]
    fn a_context_without_log_or_store_says_who_needs_them() {
        let (_tx, stop) = watch::channel(false);
        let cx = Context::new(stop).for_component(Info::new("k-means", Kind::Processor, "k-means:m"));
        assert_eq!(
            cx.log().err().unwrap().to_string(),
            "k-means processor (k-means:m) needs the event log, and this process has none"
        );
        assert!(cx.store().is_err());
    }
}

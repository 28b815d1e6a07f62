//! The current version of every view and of the model, as the API last learnt them: at once
//! from the store's announcements ([`ServingStore::subscribe`]) for this process's writes, and by
//! polling for other processes' writes. Handlers read a version here, key the cache with it and
//! ask the store for exactly that version, so an answer and its cache key always agree.
//!
//! [`Versions::now`] first takes in the announcements still waiting, so a request that starts
//! after a publish in this process has returned sees the new version, with no window between.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, watch};
use tributary_store::{ServingStore, StoreChange};

/// The versions known at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub views: BTreeMap<String, u64>,
    /// The newest version of the served model, if it has one.
    pub model: Option<u64>,
}

/// A running version tracker.
pub struct Versions {
    current: watch::Receiver<Arc<Snapshot>>,
    updates: watch::Sender<Arc<Snapshot>>,
    pending: parking_lot::Mutex<broadcast::Receiver<StoreChange>>,
    model: String,
}

impl Versions {
    /// Loads the versions, then follows the store until `stop` turns true.
    pub async fn start(
        store: Arc<dyn ServingStore>,
        model: String,
        poll: Duration,
        mut stop: watch::Receiver<bool>,
    ) -> Self {
        let mut changes = store.subscribe();
        let pending = parking_lot::Mutex::new(store.subscribe());
        let initial = load(&*store, &model).await.unwrap_or_default();
        let (tx, current) = watch::channel(Arc::new(initial));
        let updates = tx.clone();
        let followed = model.clone();
        let model_for_task = model.clone();
        tokio::spawn(async move {
            let model = model_for_task;
            let mut tick = tokio::time::interval(poll);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = stop.changed() => return,
                    change = changes.recv() => match change {
                        Ok(change) => tx.send_modify(|s| apply(Arc::make_mut(s), &change, &model)),
                        Err(broadcast::error::RecvError::Lagged(_)) => {
                            if let Some(s) = load(&*store, &model).await { tx.send_replace(Arc::new(s)); }
                        }
                        Err(broadcast::error::RecvError::Closed) => return,
                    },
                    _ = tick.tick() => {
                        if let Some(s) = load(&*store, &model).await {
                            // Never step back: an announcement may be newer than the poll's read.
                            tx.send_if_modified(|current| merge(Arc::make_mut(current), s));
                        }
                    }
                }
            }
        });
        Self { current, updates, pending, model: followed }
    }

    /// The versions now, including every announcement made so far.
    pub fn now(&self) -> Arc<Snapshot> {
        let mut pending = self.pending.lock();
        loop {
            match pending.try_recv() {
                Ok(change) => self.updates.send_modify(|s| apply(Arc::make_mut(s), &change, &self.model)),
                // Missed announcements: the background task's poll catches up.
                Err(broadcast::error::TryRecvError::Lagged(_)) => continue,
                Err(_) => break,
            }
        }
        drop(pending);
        self.current.borrow().clone()
    }

    /// A receiver that sees every change of the versions.
    pub fn watch(&self) -> watch::Receiver<Arc<Snapshot>> {
        self.current.clone()
    }
}

fn apply(snapshot: &mut Snapshot, change: &StoreChange, model: &str) {
    match change {
        StoreChange::View { view, version } => {
            let v = snapshot.views.entry(view.clone()).or_default();
            *v = (*v).max(*version);
        }
        StoreChange::Model { model: m, version } if m == model => {
            snapshot.model = Some(snapshot.model.unwrap_or(0).max(*version));
        }
        StoreChange::Model { .. } => {}
    }
}

/// Takes the newer of each version; whether anything changed.
fn merge(current: &mut Snapshot, loaded: Snapshot) -> bool {
    let before = current.clone();
    for (view, version) in loaded.views {
        let v = current.views.entry(view).or_default();
        *v = (*v).max(version);
    }
    current.model = current.model.max(loaded.model);
    *current != before
}

async fn load(store: &dyn ServingStore, model: &str) -> Option<Snapshot> {
    let views = match store.current_views().await {
        Ok(views) => views.into_iter().map(|v| (v.view, v.version)).collect(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the current view versions");
            return None;
        }
    };
    let model = match store.latest_kmeans(model).await {
        Ok(latest) => latest.map(|v| v.version),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the newest model version");
            return None;
        }
    };
    Some(Snapshot { views, model })
}

//! The scale-out streaming k-means: worker processes in one consumer group share the partitions
//! of the events topic, and the model stays one model.
//!
//! Spark's streaming k-means updates the model once per micro-batch from per-cluster sums and
//! counts; the sums can be computed anywhere. So the work is split the way Spark splits it:
//!
//! ```text
//!            rounds topic (1 partition)                     shares topic (1 partition)
//! coordinator ──► Round { n, model, from[p] } ──► every worker ──► Shares { n, per partition:
//!      ▲                                          reads its partitions     [from, to), sums, counts }
//!      └──────────────────────────────────────────────────────────────────────────┘
//!   folds the shares of round n (one per partition of the events topic), applies Spark's rule,
//!   commits the version with the offsets it covers (fenced), announces round n + 1
//! ```
//!
//! * **Membership.** Workers join consumer group `<model>` on the events topic: the group decides
//!   which worker reads which partitions. They read at the positions the round gives (not at the
//!   group's own positions), so a partition that moves mid-round is read by its new owner from
//!   the same offset.
//! * **The coordinator** is the worker that holds partition 0 of the shares topic in consumer
//!   group `<model>.coordinator`. When it stops, the group hands that partition, and the role,
//!   to another worker, which takes over from the store (the last version and its offsets).
//! * **A round** closes when every partition of the events topic has a share starting at the
//!   round's offset for it. A share for a partition already covered, or starting elsewhere, is
//!   dropped (a worker that lost the partition, or one that is late): every offset is counted
//!   in exactly one version. A worker whose partition moves to it mid-round sends a share for it.
//! * **Effectively once.** The version, its offset ranges, the next offsets and the round's dead
//!   letters are one store transaction, fenced by the offsets it continues from: a coordinator
//!   that lost its role but does not know it yet cannot commit a second time.
//! * **Equal to one process.** The folded sums are the sums of the same points, added in
//!   another order (per partition, then across partitions). With the same micro-batches the
//!   centres equal a single process's to floating-point rounding (a test replays the stored
//!   versions' offset ranges through one [`MobileKMeans`](crate::mobile_kmeans::MobileKMeans)).
//! * **k-means++** needs the points themselves: until the model exists, shares carry positions,
//!   and the coordinator initialises on them in partition order, as one process would on the
//!   same batch.

mod coordinator;
mod member;
mod messages;
pub mod replay;

use std::sync::Arc;
use std::time::Duration;
use tributary_settings::KeyError;

use tokio::sync::watch;
use tributary_log::{EventLog, LogError};
use tributary_store::ServingStore;

pub use messages::{DeadRecord, Round, Share, Shares};

use crate::kmeans_processor::ProcessorError;
use crate::mobile_kmeans::{KMeansSettings, ModelVersion};

/// Settings of one worker of the scale-out k-means. Every worker of a model runs with the same.
#[derive(Debug, Clone)]
pub struct GroupKMeansConfig {
    /// Name of the model: also its processor name in the store and its consumer group.
    pub name: String,
    /// Topic of mobile events.
    pub topic: String,
    pub settings: KMeansSettings,
    /// A worker reads at most this many events per round (a micro-batch of n workers holds up
    /// to n times as many).
    pub max_batch_records: usize,
    /// A round's micro-batch is read this long after the round opened.
    pub batch_interval: Duration,
    /// This worker's name, in logs and in its shares.
    pub worker: String,
}

/// The topic on which the coordinator announces rounds.
pub fn rounds_topic(model: &str) -> String {
    format!("_tributary_kmeans.{model}.rounds")
}

/// The topic on which workers send their shares of a round.
pub fn shares_topic(model: &str) -> String {
    format!("_tributary_kmeans.{model}.shares")
}

/// The consumer group whose owner of partition 0 of the shares topic coordinates.
pub fn coordinator_group(model: &str) -> String {
    format!("{model}.coordinator")
}

/// Runs one worker until `stop` turns true: a member that reads its partitions and sends
/// shares, and a candidate coordinator that folds shares whenever the group makes it the
/// coordinator. `on_version` is called for each version this worker commits as coordinator.
pub async fn run_group_worker(
    log: Arc<dyn EventLog>,
    store: Arc<dyn ServingStore>,
    cfg: GroupKMeansConfig,
    stop: watch::Receiver<bool>,
    on_version: impl FnMut(&ModelVersion) + Send,
) -> Result<(), ProcessorError> {
    cfg.settings.validate()?;
    if cfg.max_batch_records == 0 {
        return Err(KeyError::new("batch_max_records", "must be at least 1").into());
    }
    for topic in [rounds_topic(&cfg.name), shares_topic(&cfg.name)] {
        tributary_log::validate_topic_name(&topic)
            .map_err(|e| KeyError::new("model", format!("'{}' makes no topic name: {e}", cfg.name)))?;
        match log.create_topic(&topic, 1).await {
            Ok(()) | Err(LogError::TopicExists { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    log.ensure_topic(&cfg.topic).await?;
    tokio::try_join!(
        member::run(log.clone(), &cfg, stop.clone()),
        coordinator::run(log.clone(), store, &cfg, stop, on_version),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests;

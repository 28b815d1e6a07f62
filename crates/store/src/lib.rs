//! **Layer: store.** The serving store: the results the API reads.
//!
//! [`ServingStore`] is the contract, by concern ([`Commits`], [`ModelVersions`], [`Views`],
//! [`DeadLetters`], [`SourceStatuses`]); [`SqlStore`] implements it on SQLite (the embedded default),
//! PostgreSQL and MySQL/MariaDB, chosen by URL, each with the same numbered migrations in its
//! dialect. API reads of batch views are typed ([`ViewQuery`]): no SQL is built from user input.
//! Writes that carry results also carry the log offsets they cover, in one transaction, so that
//! a processor restarted after a crash resumes exactly where its last result left off.

pub mod dialect;
mod migrations;
pub mod published_views;
pub mod retention;
mod source_runs;
mod sql;
mod types;
mod view_query;

pub use dialect::{Dialect, Merge};
pub use published_views::{Column, ColumnKind, ViewPublication, ViewVersionRow};
pub use retention::{Retention, RetentionReport};
pub use source_runs::SourceRuns;
pub use sql::{OPEN_TIMEOUT, SqlStore, redacted};
pub use types::*;
pub use view_query::{Filter, OrderBy, Value, ViewQuery, ViewRows};

use async_trait::async_trait;
use tributary_schema::DeadLetter;

/// The contract's traits, for code that calls them on a concrete store (`SqlStore`) rather
/// than through `dyn ServingStore`: `use tributary_store::prelude::*;`.
pub mod prelude {
    pub use crate::{Commits, DeadLetters, ModelVersions, ServingStore, SourceStatuses, Views};
}

/// Errors of the serving store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store: {0}")]
    Database(#[from] sqlx::Error),
    #[error("store: {0}")]
    Invalid(String),
    /// What was asked for does not exist (a view never published, a version no longer kept).
    #[error("store: {0}")]
    NotFound(String),
    /// A fenced commit found other offsets than it continues from: another writer committed
    /// first (see [`BatchCommit::expected_offsets`]). Nothing was written.
    #[error("store: {0}")]
    Conflict(String),
    /// SQLite failed on the path that talks to it directly rather than through sqlx (the bulk
    /// fill of a published view), with its primary result code.
    #[error("store: {message}")]
    Sqlite { message: String, code: Option<i32> },
}

impl StoreError {
    /// Whether the same operation may succeed if tried again later: the database was out of
    /// space, busy, or could not be reached. A conflict, a malformed request or a schema error is
    /// not transient. Writers retry transient failures with a backoff (backpressure) instead of
    /// stopping, so a full disk or a restarting database server loses nothing.
    pub fn is_transient(&self) -> bool {
        use sqlx::Error as E;
        if let Self::Sqlite { code, .. } = self {
            return code.is_some_and(sqlite_code_is_transient);
        }
        let Self::Database(e) = self else { return false };
        match e {
            E::Io(_) | E::PoolTimedOut | E::PoolClosed | E::Tls(_) | E::Protocol(_) | E::WorkerCrashed => {
                true
            }
            E::Database(d) => {
                let code = d.code().map(|c| c.into_owned()).unwrap_or_default();
                if d.try_downcast_ref::<sqlx::postgres::PgDatabaseError>().is_some() {
                    // SQLSTATE classes: connection (08), insufficient resources such as a full
                    // disk (53), operator intervention (57), system error (58), and a
                    // serialization failure or deadlock (40001, 40P01).
                    ["08", "53", "57", "58"].iter().any(|c| code.starts_with(c))
                        || matches!(code.as_str(), "40001" | "40P01")
                } else if d.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>().is_some() {
                    // Disk or table full, out of memory, lock wait timeout, deadlock, read-only.
                    matches!(code.parse::<i64>(), Ok(1021 | 1037 | 1041 | 1114 | 1205 | 1213 | 1290))
                } else {
                    code.parse::<i32>().is_ok_and(sqlite_code_is_transient)
                }
            }
            _ => false,
        }
    }
}

/// SQLite (an extended code keeps the primary one in its low byte): BUSY, LOCKED, IOERR, FULL,
/// CANTOPEN, PROTOCOL.
fn sqlite_code_is_transient(code: i32) -> bool {
    matches!(code & 0xff, 5 | 6 | 10 | 13 | 14 | 15)
}

/// Result alias of the store.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Where results are kept and read from: one store, by concern. Code holds an
/// `Arc<dyn ServingStore>` and calls any of the concerns' methods on it; a backend implements
/// each concern ([`Commits`], [`ModelVersions`], [`Views`], [`DeadLetters`], [`SourceStatuses`])
/// and the two methods here, which span them.
#[async_trait]
pub trait ServingStore: Commits + ModelVersions + Views + DeadLetters + SourceStatuses {
    /// One pass of retention at `now_ms`: old model versions folded into younger ones and old
    /// dead letters deleted (see [`retention`]). Safe to run from several processes at once.
    async fn apply_retention(&self, retention: &Retention, now_ms: i64) -> Result<RetentionReport>;

    /// New model and view versions committed through this store (this handle and its clones),
    /// as they commit. Writes by other processes are not announced; readers that must see them
    /// poll [`Views::current_views`] and [`ModelVersions::latest_kmeans`].
    fn subscribe(&self) -> tokio::sync::broadcast::Receiver<StoreChange>;
}

/// What processors write: results together with the log offsets they cover.
#[async_trait]
pub trait Commits: Send + Sync + 'static {
    /// Commits, in one transaction: an optional new k-means version (with its centres and the
    /// offsets it covers), the processor's next offsets, and dead letters.
    async fn commit_batch(&self, commit: &BatchCommit) -> Result<()>;

    /// The processor's committed next offsets, by topic and partition.
    async fn processor_offsets(&self, processor: &str) -> Result<Vec<OffsetCheckpoint>>;

    /// The state the processor last committed with its offsets ([`BatchCommit::state`]), if
    /// any: what it needs besides offsets to resume exactly (an event-time processor's
    /// windows). Opaque to the store.
    async fn processor_state(&self, processor: &str) -> Result<Option<String>>;

    /// Every processor's committed next offsets: (processor, checkpoint), sorted.
    async fn all_processor_offsets(&self) -> Result<Vec<(String, OffsetCheckpoint)>>;
}

/// The k-means models' versions, as committed.
#[async_trait]
pub trait ModelVersions: Send + Sync + 'static {
    /// The newest version of a k-means model, if any.
    async fn latest_kmeans(&self, model: &str) -> Result<Option<KMeansVersionRow>>;

    /// Versions `from..=to` of a model (ascending), at most `limit`.
    async fn kmeans_history(
        &self,
        model: &str,
        from: u64,
        to: u64,
        limit: u32,
    ) -> Result<Vec<KMeansVersionRow>>;

    /// Sum of batch counts over all versions of a model (how many points it has seen).
    async fn kmeans_points(&self, model: &str) -> Result<u64>;

    /// Per cluster, the points assigned to it by the versions at or after `since_ms` on the
    /// time axis `axis` (when they were made, or the end of their event-time window), and how
    /// many versions those were: the live counts per region. Sorted by cluster; clusters
    /// without such a version are absent.
    async fn kmeans_cluster_counts(
        &self,
        model: &str,
        since_ms: i64,
        axis: TimeAxis,
    ) -> Result<Vec<ClusterCount>>;
}

/// The batch views' published versions and their rows.
#[async_trait]
pub trait Views: Send + Sync + 'static {
    /// Publishes a new version of a batch view and makes it current atomically (see
    /// [`published_views`]); returns the version's record.
    async fn publish_view(&self, publication: &ViewPublication<'_>) -> Result<ViewVersionRow>;

    /// The current version of each published view, by name.
    async fn current_views(&self) -> Result<Vec<ViewVersionRow>>;

    /// The current version of one view, if it was ever published.
    async fn current_view(&self, view: &str) -> Result<Option<ViewVersionRow>>;

    /// Reads rows of a published view (see [`ViewQuery`]). A view never published, or a version
    /// no longer kept, is [`StoreError::NotFound`]; a column the view does not have is
    /// [`StoreError::Invalid`].
    async fn query_view(&self, query: &ViewQuery) -> Result<ViewRows>;
}

/// Input that could not be used, as stored (written by [`Commits::commit_batch`]).
#[async_trait]
pub trait DeadLetters: Send + Sync + 'static {
    /// Dead letters, newest first, optionally of one source.
    async fn dead_letters(
        &self,
        source: Option<&str>,
        limit: u32,
        before_id: Option<i64>,
    ) -> Result<Vec<StoredDeadLetter>>;

    /// Number of dead letters.
    async fn dead_letter_count(&self) -> Result<u64>;
}

/// What each source has done: runs, rows, errors and its last failure.
#[async_trait]
pub trait SourceStatuses: Send + Sync + 'static {
    /// Adds runs of sources to their status: each element sums up one source's runs, in order
    /// (see [`SourceStatus::of_runs`]); a source seen for the first time is added.
    async fn add_source_runs(&self, runs: &[SourceStatus]) -> Result<()>;

    /// The status of every source that has run, sorted by source.
    async fn source_statuses(&self) -> Result<Vec<SourceStatus>>;
}

/// A new version in the store, as [`ServingStore::subscribe`] announces it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreChange {
    /// A k-means model's new version.
    Model { model: String, version: u64 },
    /// A batch view's new current version.
    View { view: String, version: u64 },
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// What [`Commits::commit_batch`] writes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchCommit {
    pub processor: String,
    pub version: Option<KMeansVersionRow>,
    pub offsets: Vec<OffsetCheckpoint>,
    pub dead_letters: Vec<DeadLetter>,
    /// A fence for writers that may run twice at once (a coordinator that lost its role but
    /// does not know it yet; two sinks during a partition's handover): when set, the commit
    /// writes only if, for every partition in `offsets`, the processor's stored offset is the
    /// one given here (a partition not listed here must have none stored), and fails with
    /// [`StoreError::Conflict`] otherwise. Stored offsets of other partitions are not looked at,
    /// so writers that own different partitions of one processor never fence each other out.
    pub expected_offsets: Option<Vec<OffsetCheckpoint>>,
    /// The processor's own state to keep with these offsets (see [`Commits::processor_state`]),
    /// replacing what was kept; `None` leaves it as it is.
    pub state: Option<String>,
}

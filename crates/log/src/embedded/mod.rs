//! The embedded event log: Kafka's model in files in one data directory, owned by one process.
//!
//! ```text
//! <dir>/.lock                                   owner's pid, flock()ed while open
//! <dir>/topics/<topic>/topic.json               {"partitions": N}
//! <dir>/topics/<topic>/<p>/<base:020>.log       segment: batches (see `format`)
//! <dir>/topics/<topic>/<p>/<base:020>.index     sparse index of a sealed segment
//! <dir>/topics/<topic>/<p>/recovery-point       position known to be fsynced
//! <dir>/groups/<hex group id>.json              committed offsets of a consumer group
//! ```
//!
//! Open it with [`EmbeddedLog::open`]; use it through the [`EventLog`] trait.

mod consumer;
pub mod format;
mod groups;
pub mod index;
mod lock;
mod partition;
mod reader;
mod recovery;
mod segment;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};

use self::consumer::EmbeddedConsumer;
use self::groups::{Groups, write_atomically};
use self::lock::DirLock;
use self::partition::Partition;
pub use self::recovery::{RecoveryReport, Truncation};
use crate::config::{EmbeddedLogConfig, FsyncPolicy, MAX_PARTITIONS};
use crate::error::{LogError, Result};
use crate::event_log::{Consumer, EventLog, ReadLimits};
use crate::names::validate_topic_name;
use crate::partitioner::Partitioner;
use crate::record::{
    ConsumedRecord, OffsetReset, PartitionDescription, PartitionOffsets, Record, RecordPosition,
    TopicDescription, TopicPartition,
};

/// The embedded, file-based [`EventLog`].
///
/// ```
/// # tokio_test_block_on(async {
/// use tributary_log::{EmbeddedLog, EmbeddedLogConfig, EventLog, Record, ReadLimits};
/// let dir = std::env::temp_dir().join(format!("tributary-doc-{}", std::process::id()));
/// let log = EmbeddedLog::open(&dir, EmbeddedLogConfig::default()).await.unwrap();
/// log.append("greetings", vec![Record::new("hello")]).await.unwrap();
/// let back = log.read("greetings", 0, 0, ReadLimits::default()).await.unwrap();
/// assert_eq!(&back[0].record.value[..], b"hello");
/// log.close().await.unwrap();
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # });
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Clone)]
pub struct EmbeddedLog {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    root: PathBuf,
    cfg: Arc<EmbeddedLogConfig>,
    topics: RwLock<BTreeMap<String, Arc<Topic>>>,
    create_lock: Mutex<()>,
    groups: Groups,
    report: RecoveryReport,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    _lock: DirLock,
}

pub(crate) struct Topic {
    name: Arc<str>,
    partitions: Vec<Arc<Partition>>,
    partitioner: Partitioner,
}

#[derive(Serialize, Deserialize)]
struct TopicMeta {
    partitions: u32,
}

impl EmbeddedLog {
    /// Opens (creating if needed) the log in `dir`, recovering every partition; starts the
    /// background fsync (interval policy) and retention tasks on the current tokio runtime.
    /// Fails with [`LogError::Locked`] if another process has the directory open.
    pub async fn open(dir: impl AsRef<Path>, cfg: EmbeddedLogConfig) -> Result<Self> {
        cfg.validate().map_err(|e| LogError::InvalidArgument(e.to_string()))?;
        let root = dir.as_ref().to_path_buf();
        let cfg = Arc::new(cfg);
        let inner = tokio::task::spawn_blocking(move || Inner::open(root, cfg))
            .await
            .map_err(|e| LogError::io("opening the log", std::io::Error::other(e.to_string())))??;
        let inner = Arc::new(inner);
        spawn_background_tasks(&inner);
        Ok(Self { inner })
    }

    /// What recovery found and repaired when the log was opened.
    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.inner.report
    }

    /// The directory this log lives in.
    pub fn dir(&self) -> &Path {
        &self.inner.root
    }

    /// Stops background tasks, fsyncs every partition and writes the active segments' indexes,
    /// so that the next open need not scan. Dropping without `close` is safe (that is a crash, and
    /// recovery handles it) but slower to reopen.
    pub async fn close(&self) -> Result<()> {
        for t in self.inner.tasks.lock().drain(..) {
            t.abort();
        }
        for p in self.inner.all_partitions() {
            p.close().await?;
        }
        Ok(())
    }

    /// Runs retention on every partition now; returns the number of segments deleted.
    pub fn apply_retention(&self) -> Result<usize> {
        self.inner.apply_retention()
    }

    /// Forces an fsync of every partition now.
    pub async fn sync(&self) -> Result<()> {
        for p in self.inner.all_partitions() {
            p.sync().await?;
        }
        Ok(())
    }

    fn topic(&self, name: &str, create: bool) -> Result<Arc<Topic>> {
        if let Some(t) = self.inner.topics.read().get(name) {
            return Ok(t.clone());
        }
        validate_topic_name(name)?;
        if !(create && self.inner.cfg.auto_create_topics) {
            return Err(LogError::UnknownTopic(name.to_string()));
        }
        match self.inner.create_topic(name, self.inner.cfg.default_partitions) {
            Ok(t) | Err((_, Some(t))) => Ok(t),
            Err((e, None)) => Err(e),
        }
    }

    fn partition(&self, topic: &str, partition: u32) -> Result<Arc<Partition>> {
        let t = self.topic(topic, false)?;
        t.partitions.get(partition as usize).cloned().ok_or_else(|| LogError::UnknownPartition {
            topic: topic.to_string(),
            partition,
            partitions: t.partitions.len() as u32,
        })
    }
}

impl Inner {
    fn open(root: PathBuf, cfg: Arc<EmbeddedLogConfig>) -> Result<Self> {
        std::fs::create_dir_all(root.join("topics"))
            .map_err(|e| LogError::io(format!("creating {}", root.display()), e))?;
        let lock = DirLock::acquire(&root)?;
        let groups = Groups::open(root.join("groups"))?;
        let mut report = RecoveryReport::default();
        let mut topics = BTreeMap::new();
        let topics_dir = root.join("topics");
        let entries = std::fs::read_dir(&topics_dir)
            .map_err(|e| LogError::io(format!("listing {}", topics_dir.display()), e))?;
        for entry in entries {
            let entry = entry.map_err(|e| LogError::io("listing topics", e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let dir = entry.path();
            if validate_topic_name(&name).is_err() || !dir.is_dir() {
                tracing::warn!(path = %dir.display(), "ignoring an entry that is not a topic");
                continue;
            }
            let meta_path = dir.join("topic.json");
            let Ok(meta) = std::fs::read(&meta_path) else {
                // Creation was interrupted before it completed: nothing was ever appended.
                tracing::warn!(topic = %name, "removing an incompletely created topic");
                std::fs::remove_dir_all(&dir)
                    .map_err(|e| LogError::io(format!("removing {}", dir.display()), e))?;
                continue;
            };
            let meta: TopicMeta = serde_json::from_slice(&meta).map_err(|e| LogError::Corrupt {
                file: meta_path.clone(),
                position: 0,
                offset: 0,
                reason: format!("not valid topic metadata: {e}"),
            })?;
            let topic = open_topic(&dir, &name, meta.partitions, &cfg, &mut report)?;
            topics.insert(name, Arc::new(topic));
        }
        if !report.truncations.is_empty() {
            tracing::warn!(truncations = report.truncations.len(), "recovery cut torn tails");
        }
        Ok(Self {
            root,
            cfg,
            topics: RwLock::new(topics),
            create_lock: Mutex::new(()),
            groups,
            report,
            tasks: Mutex::new(Vec::new()),
            _lock: lock,
        })
    }

    /// Creates a topic; on `TopicExists` also returns the existing one (for auto-creation races).
    fn create_topic(
        &self,
        name: &str,
        partitions: u32,
    ) -> std::result::Result<Arc<Topic>, (LogError, Option<Arc<Topic>>)> {
        validate_topic_name(name).map_err(|e| (e, None))?;
        if partitions == 0 || partitions > MAX_PARTITIONS {
            let msg = format!("partition count {partitions}: accepted 1 to {MAX_PARTITIONS}");
            return Err((LogError::InvalidArgument(msg), None));
        }
        let _guard = self.create_lock.lock();
        if let Some(t) = self.topics.read().get(name) {
            let e = LogError::TopicExists { topic: name.into(), partitions: t.partitions.len() as u32 };
            return Err((e, Some(t.clone())));
        }
        let dir = self.root.join("topics").join(name);
        let create = || -> Result<Topic> {
            if dir.exists() {
                std::fs::remove_dir_all(&dir)
                    .map_err(|e| LogError::io(format!("removing {}", dir.display()), e))?;
            }
            for p in 0..partitions {
                let pdir = dir.join(p.to_string());
                std::fs::create_dir_all(&pdir)
                    .map_err(|e| LogError::io(format!("creating {}", pdir.display()), e))?;
            }
            let mut report = RecoveryReport::default();
            let topic = open_topic(&dir, name, partitions, &self.cfg, &mut report)?;
            let meta = serde_json::to_vec(&TopicMeta { partitions }).expect("topic meta serialises");
            write_atomically(&dir, &dir.join("topic.json"), &meta)?;
            std::fs::File::open(self.root.join("topics"))
                .and_then(|d| d.sync_all())
                .map_err(|e| LogError::io("syncing the topics folder", e))?;
            Ok(topic)
        };
        let topic = Arc::new(create().map_err(|e| (e, None))?);
        self.topics.write().insert(name.to_string(), topic.clone());
        tracing::info!(topic = name, partitions, "created topic");
        Ok(topic)
    }

    fn all_partitions(&self) -> Vec<Arc<Partition>> {
        self.topics.read().values().flat_map(|t| t.partitions.iter().cloned()).collect()
    }

    fn apply_retention(&self) -> Result<usize> {
        let now = SystemTime::now();
        let mut deleted = 0;
        for p in self.all_partitions() {
            deleted += p.apply_retention(now)?;
        }
        Ok(deleted)
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        for t in self.tasks.lock().drain(..) {
            t.abort();
        }
    }
}

fn open_topic(
    dir: &Path,
    name: &str,
    partitions: u32,
    cfg: &Arc<EmbeddedLogConfig>,
    report: &mut RecoveryReport,
) -> Result<Topic> {
    let name: Arc<str> = Arc::from(name);
    let mut parts = Vec::with_capacity(partitions as usize);
    for p in 0..partitions {
        let pdir = dir.join(p.to_string());
        if !pdir.is_dir() {
            return Err(LogError::Corrupt {
                file: pdir,
                position: 0,
                offset: 0,
                reason: format!("partition folder missing (topic has {partitions} partitions)"),
            });
        }
        let rec = recovery::recover_partition(&pdir, cfg.index_interval_bytes.0, report)?;
        parts.push(Arc::new(Partition::new(name.clone(), p, pdir, cfg.clone(), rec)));
    }
    Ok(Topic { name, partitions: parts, partitioner: Partitioner::default() })
}

/// The interval fsync and the retention loop. They hold only a weak reference, so they end when
/// the log is dropped.
fn spawn_background_tasks(inner: &Arc<Inner>) {
    let mut tasks = Vec::new();
    if let FsyncPolicy::Interval(every) = inner.cfg.fsync {
        let weak = Arc::downgrade(inner);
        tasks.push(tokio::spawn(periodically(weak, every, |inner| async move {
            // A failed partition was reported when it failed; it is not retried every tick.
            for p in inner.all_partitions().into_iter().filter(|p| !p.is_failed()) {
                if let Err(e) = p.sync().await {
                    tracing::error!(topic = %p.topic, partition = p.id, error = %e, "fsync failed");
                }
            }
        })));
    }
    let weak = Arc::downgrade(inner);
    let every = inner.cfg.retention_check_interval;
    tasks.push(tokio::spawn(periodically(weak, every, |inner| async move {
        let result = tokio::task::spawn_blocking(move || inner.apply_retention()).await;
        match result {
            Ok(Err(e)) => tracing::error!(error = %e, "retention failed"),
            Err(e) => tracing::error!(error = %e, "retention task failed"),
            Ok(Ok(_)) => {}
        }
    })));
    inner.tasks.lock().extend(tasks);
}

async fn periodically<F, Fut>(weak: Weak<Inner>, every: Duration, mut job: F)
where
    F: FnMut(Arc<Inner>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        let Some(inner) = weak.upgrade() else { return };
        job(inner).await;
    }
}

#[async_trait]
impl EventLog for EmbeddedLog {
    async fn create_topic(&self, topic: &str, partitions: u32) -> Result<()> {
        let inner = self.inner.clone();
        let topic = topic.to_string();
        tokio::task::spawn_blocking(move || {
            inner.create_topic(&topic, partitions).map(|_| ()).map_err(|(e, _)| e)
        })
        .await
        .map_err(|e| LogError::io("creating a topic", std::io::Error::other(e.to_string())))?
    }

    async fn describe_topics(&self) -> Result<Vec<TopicDescription>> {
        let topics = self.inner.topics.read();
        Ok(topics
            .values()
            .map(|t| TopicDescription {
                name: t.name.to_string(),
                partitions: t
                    .partitions
                    .iter()
                    .map(|p| {
                        let (size_bytes, segments) = p.size();
                        PartitionDescription { partition: p.id, offsets: p.offsets(), size_bytes, segments }
                    })
                    .collect(),
            })
            .collect())
    }

    async fn partition_count(&self, topic: &str) -> Result<u32> {
        Ok(self.topic(topic, false)?.partitions.len() as u32)
    }

    async fn ensure_topic(&self, topic: &str) -> Result<u32> {
        Ok(self.topic(topic, true)?.partitions.len() as u32)
    }

    async fn append(&self, topic: &str, records: Vec<Record>) -> Result<Vec<RecordPosition>> {
        let t = self.topic(topic, true)?;
        let n = t.partitions.len() as u32;
        if n == 1 {
            let count = records.len() as u64;
            let first = t.partitions[0].append(&records).await?;
            return Ok((0..count).map(|i| RecordPosition { partition: 0, offset: first + i }).collect());
        }
        let picks: Vec<u32> = records.iter().map(|r| t.partitioner.partition(r.key.as_deref(), n)).collect();
        let mut per_partition: BTreeMap<u32, Vec<Record>> = BTreeMap::new();
        for (r, p) in records.into_iter().zip(&picks) {
            per_partition.entry(*p).or_default().push(r);
        }
        let appends = per_partition.iter().map(|(p, recs)| {
            let part = t.partitions[*p as usize].clone();
            async move { part.append(recs).await.map(|first| (*p, first)) }
        });
        let firsts: BTreeMap<u32, u64> = futures::future::try_join_all(appends).await?.into_iter().collect();
        let mut next = firsts;
        Ok(picks
            .into_iter()
            .map(|p| {
                let o = next.get_mut(&p).expect("every picked partition was appended to");
                let pos = RecordPosition { partition: p, offset: *o };
                *o += 1;
                pos
            })
            .collect())
    }

    async fn append_to_partition(&self, topic: &str, partition: u32, records: Vec<Record>) -> Result<u64> {
        self.topic(topic, true)?;
        self.partition(topic, partition)?.append(&records).await
    }

    async fn read(
        &self,
        topic: &str,
        partition: u32,
        offset: u64,
        limits: ReadLimits,
    ) -> Result<Vec<ConsumedRecord>> {
        self.partition(topic, partition)?.read(offset, limits)
    }

    async fn read_view(
        &self,
        topic: &str,
        partition: u32,
        offset: u64,
        limits: ReadLimits,
    ) -> Result<crate::RecordsView> {
        self.partition(topic, partition)?.read_view(offset, limits)
    }

    async fn partition_reader(
        &self,
        topic: &str,
        partition: u32,
        offset: u64,
    ) -> Result<Box<dyn crate::PartitionReader>> {
        let partition = self.partition(topic, partition)?;
        Ok(Box::new(reader::EmbeddedPartitionReader { partition, position: offset }))
    }

    async fn wait_for(&self, topic: &str, partition: u32, offset: u64, timeout: Duration) -> Result<bool> {
        let mut rx = self.partition(topic, partition)?.watch_end();
        Ok(tokio::time::timeout(timeout, rx.wait_for(|end| *end > offset)).await.is_ok_and(|r| r.is_ok()))
    }

    async fn offsets(&self, topic: &str, partition: u32) -> Result<PartitionOffsets> {
        Ok(self.partition(topic, partition)?.offsets())
    }

    async fn commit(&self, group: &str, offsets: &[(TopicPartition, u64)]) -> Result<()> {
        for (tp, offset) in offsets {
            let end = self.partition(&tp.topic, tp.partition)?.offsets().end;
            if *offset > end {
                return Err(LogError::InvalidArgument(format!(
                    "cannot commit offset {offset} for {tp}: the partition ends at {end}"
                )));
            }
        }
        self.inner.groups.commit(group, offsets).await
    }

    async fn committed(&self, group: &str) -> Result<Vec<(TopicPartition, u64)>> {
        Ok(self.inner.groups.committed(group))
    }

    async fn groups(&self) -> Result<Vec<String>> {
        Ok(self.inner.groups.names())
    }

    async fn subscribe(&self, group: &str, topics: &[&str], reset: OffsetReset) -> Result<Box<dyn Consumer>> {
        if topics.is_empty() {
            return Err(LogError::InvalidArgument("subscribe needs at least one topic".into()));
        }
        let topics = topics.iter().map(|t| self.topic(t, true)).collect::<Result<Vec<_>>>()?;
        Ok(Box::new(EmbeddedConsumer::new(self.inner.clone(), group, topics, reset)))
    }
}

//! The [`EventLog`] and [`Consumer`] traits: the contract every backend (embedded files, Kafka)
//! implements, and the only way the rest of Tributary touches the log.

use std::time::Duration;

use async_trait::async_trait;

use crate::error::Result;
use crate::record::{
    ConsumedRecord, OffsetReset, PartitionOffsets, Record, RecordPosition, TopicDescription, TopicPartition,
};
use crate::view::RecordsView;

/// Limits of one read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadLimits {
    /// At most this many records.
    pub max_records: usize,
    /// Stop after roughly this many bytes of batches (at least one batch is always returned).
    pub max_bytes: usize,
}

impl Default for ReadLimits {
    fn default() -> Self {
        Self { max_records: 10_000, max_bytes: 1 << 20 }
    }
}

/// A durable, ordered, replayable log of records in topics and partitions (Kafka's model).
///
/// Contract, for every backend:
/// * Offsets within a partition are dense and increasing: an append of n records to a partition
///   takes the next n offsets, and reads return records in offset order without gaps or repeats.
/// * `append` returns only once the records are durable as the backend's policy promises; from that
///   moment they are readable, and not before.
/// * Keyed records go to `murmur2(key) % partitions` (the Java client's default partitioner);
///   unkeyed ones round-robin.
/// * Committed group offsets survive restarts; a consumer without one starts per [`OffsetReset`].
///
/// ```no_run
/// # async fn demo(log: &dyn tributary_log::EventLog) -> tributary_log::Result<()> {
/// use tributary_log::{Record, ReadLimits};
/// let positions = log.append("greetings", vec![Record::new("hello").with_key("k")]).await?;
/// let p = positions[0];
/// let back = log.read("greetings", p.partition, p.offset, ReadLimits::default()).await?;
/// assert_eq!(&back[0].record.value[..], b"hello");
/// # Ok(()) }
/// ```
#[async_trait]
pub trait EventLog: Send + Sync + 'static {
    /// Creates a topic with `partitions` partitions. Fails with `TopicExists` if it exists.
    async fn create_topic(&self, topic: &str, partitions: u32) -> Result<()>;

    /// All topics, with offsets and sizes per partition, sorted by name.
    async fn describe_topics(&self) -> Result<Vec<TopicDescription>>;

    /// Number of partitions of a topic (`UnknownTopic` if it does not exist).
    async fn partition_count(&self, topic: &str) -> Result<u32>;

    /// Number of partitions of a topic, creating it with the default count if it does not exist
    /// (where the backend may create topics). For a consumer that starts before its producers.
    async fn ensure_topic(&self, topic: &str) -> Result<u32>;

    /// Appends records, choosing each one's partition from its key. Returns where each landed, in
    /// input order. The topic is created on first use where the backend is configured to.
    async fn append(&self, topic: &str, records: Vec<Record>) -> Result<Vec<RecordPosition>>;

    /// Appends records to one partition; returns the offset of the first.
    async fn append_to_partition(&self, topic: &str, partition: u32, records: Vec<Record>) -> Result<u64>;

    /// Reads records of one partition from `offset` on. Returns an empty vector at the end;
    /// `OffsetOutOfRange` below the start (deleted by retention) or beyond the end.
    async fn read(
        &self,
        topic: &str,
        partition: u32,
        offset: u64,
        limits: ReadLimits,
    ) -> Result<Vec<ConsumedRecord>>;

    /// [`read`](Self::read), as a [`RecordsView`]: the same records, for a reader that looks at
    /// each once. The embedded log leaves them in the batches it read (no allocation or
    /// reference count per record); other backends wrap what `read` returns.
    async fn read_view(
        &self,
        topic: &str,
        partition: u32,
        offset: u64,
        limits: ReadLimits,
    ) -> Result<RecordsView> {
        let records = self.read(topic, partition, offset, limits).await?;
        Ok(RecordsView::from_records(std::sync::Arc::from(topic), partition, records))
    }

    /// Waits until the partition holds a record at `offset` (returns true) or `timeout` passes
    /// (returns false). The embedded log wakes on the append itself; Kafka has no such signal,
    /// so `KafkaLog` asks the broker for the partition's end every 10 ms (a record appended
    /// by another process is seen within that, plus a round trip).
    async fn wait_for(&self, topic: &str, partition: u32, offset: u64, timeout: Duration) -> Result<bool>;

    /// Start and end offsets of a partition.
    async fn offsets(&self, topic: &str, partition: u32) -> Result<PartitionOffsets>;

    /// Commits, for a consumer group, the next offset to consume on each partition.
    async fn commit(&self, group: &str, offsets: &[(TopicPartition, u64)]) -> Result<()>;

    /// The committed offsets of a group, sorted by topic and partition.
    async fn committed(&self, group: &str) -> Result<Vec<(TopicPartition, u64)>>;

    /// Names of the consumer groups that have committed offsets, sorted.
    async fn groups(&self) -> Result<Vec<String>>;

    /// Every group with its committed offsets (as [`committed`](Self::committed)), sorted by
    /// name: what a status page shows. Backends where asking costs a round trip per group ask
    /// for several groups at once.
    async fn group_offsets(&self) -> Result<Vec<GroupOffsets>> {
        let mut out = Vec::new();
        for group in self.groups().await? {
            let offsets = self.committed(&group).await?;
            out.push(GroupOffsets { group, offsets });
        }
        Ok(out)
    }

    /// A reader of one partition that keeps its place from read to read, starting at `offset`:
    /// for a processor that reads the same partitions round after round at positions it keeps
    /// itself (on Kafka its fetches stay open between reads, where [`read`](Self::read) starts
    /// afresh each time).
    async fn partition_reader(
        &self,
        topic: &str,
        partition: u32,
        offset: u64,
    ) -> Result<Box<dyn PartitionReader>>;

    /// Joins consumer group `group` for `topics`. Members of one group share the partitions; each
    /// partition is read by one member at a time, starting at the group's committed offset.
    async fn subscribe(&self, group: &str, topics: &[&str], reset: OffsetReset) -> Result<Box<dyn Consumer>>;
}

/// A consumer group's committed offsets (see [`EventLog::group_offsets`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupOffsets {
    pub group: String,
    /// The next offset to consume per partition, sorted by topic and partition.
    pub offsets: Vec<(TopicPartition, u64)>,
}

/// A reader of one partition that keeps its place (see [`EventLog::partition_reader`]).
#[async_trait]
pub trait PartitionReader: Send {
    /// The records from the reader's position on that are there now, at most `max_records`, in
    /// offset order; waits up to `wait` for the first. An empty vector means none came in time.
    /// `OffsetOutOfRange` when the position is below the partition's start (retention deleted
    /// it); the reader is then of no further use.
    async fn read(&mut self, max_records: usize, wait: Duration) -> Result<Vec<ConsumedRecord>>;

    /// The offset the next read starts at.
    fn position(&self) -> u64;
}

/// A member of a consumer group (see [`EventLog::subscribe`]). Dropping it leaves the group (on
/// Kafka, as librdkafka closes the consumer); [`leave`](Consumer::leave) leaves at once and waits
/// for it.
#[async_trait]
pub trait Consumer: Send {
    /// The next records of the assigned partitions, at most `max_records`; waits up to `timeout`
    /// when none are there (returns an empty vector then). Records of one partition come in
    /// offset order; a rebalance may hand a partition to this member, resuming at the committed
    /// offset.
    async fn poll(&mut self, max_records: usize, timeout: Duration) -> Result<Vec<ConsumedRecord>>;

    /// Commits the position after every record returned by `poll` so far.
    async fn commit(&mut self) -> Result<()>;

    /// The partitions currently assigned to this member.
    fn assignment(&self) -> Vec<TopicPartition>;

    /// Takes part in the group (joins, rebalances) without taking records, and returns the
    /// partitions assigned now, after waiting up to `timeout` for the assignment to change. For
    /// a member that reads through [`EventLog::read`] at positions kept elsewhere (the scale-out
    /// k-means reads where its coordinator says); call it regularly, as one would `poll`.
    async fn membership(&mut self, timeout: Duration) -> Result<Vec<TopicPartition>>;

    /// Commits these next offsets for the group, skipping partitions not assigned to this
    /// member (a member that reads by [`membership`](Self::membership) commits this way).
    async fn commit_offsets(&mut self, offsets: &[(TopicPartition, u64)]) -> Result<()>;

    /// Leaves the group now, so that its partitions go to the other members at once. Dropping a
    /// member does the same, except for one with a fixed identity (Kafka static membership),
    /// which keeps its place when dropped (a restart under the same name takes it back) and
    /// leaves only this way.
    async fn leave(&mut self) -> Result<()>;
}

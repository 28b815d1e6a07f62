//! [`KafkaLog`]: the event log on Apache Kafka or any Kafka-protocol cluster, through librdkafka
//! (rdkafka). Chosen by `log = "kafka://host:port,…"`.
//!
//! How the contract of [`EventLog`] maps onto Kafka:
//! * Partitions are chosen here, not by librdkafka: `murmur2(key) % partitions` for keyed
//!   records (what the Java client and the embedded log do), round robin otherwise; each record
//!   is produced to its partition explicitly.
//! * The producer is idempotent with `acks=all`: `append` returns once every record is
//!   acknowledged by the in-sync replicas, in order per partition.
//! * Group offsets are Kafka's own (`__consumer_offsets`), committed by hand: a processor commits
//!   the offsets its results cover, never on a timer.
//! * librdkafka's calls block; they run on tokio's blocking threads.

mod consumer;
mod ends;
mod groups;
mod reader;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header as KafkaHeader, Headers as _, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer as _};
use rdkafka::{Offset, TopicPartitionList};

pub use consumer::KafkaConsumer;
use ends::{EndProbe, Reported};

use crate::error::{LogError, Result};
use crate::event_log::{Consumer, EventLog, GroupOffsets, ReadLimits};
use crate::record::{
    ConsumedRecord, Header, OffsetReset, PartitionDescription, PartitionOffsets, Record, RecordPosition,
    TopicDescription, TopicPartition,
};
use crate::{partition_for_key, validate_topic_name};

/// Where the cluster is and how topics are made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaLogConfig {
    /// Bootstrap servers, `host:port,host:port`.
    pub brokers: String,
    /// Partitions of a topic created on first use.
    pub default_partitions: u32,
    /// Replicas of each partition of a topic this log creates.
    pub replication_factor: i32,
    /// How long a request waits for the cluster.
    pub timeout: Duration,
    /// How long a broker may hold a fetch open waiting for records (`fetch.wait.max.ms`).
    pub fetch_wait: Duration,
    /// At most this many records in one produced batch (`batch.num.messages`); `None` leaves
    /// librdkafka's default. `kafka://…?batch_records=1` suits brokers that cannot fetch from
    /// the middle of a batch (tansu 0.6 returns the next batch instead), at a cost in
    /// throughput.
    pub batch_records: Option<u32>,
    /// A fixed identity for the consumer-group members this log makes (Kafka's static
    /// membership, `group.instance.id`): a process that restarts under the same name takes its
    /// old place, and partitions, back at once, instead of waiting for the broker to expire the
    /// member that died (tansu 0.6 never does). Such a member leaves only through
    /// [`Consumer::leave`](crate::Consumer::leave). `tributary worker --id NAME` sets it.
    pub member_name: Option<String>,
}

impl KafkaLogConfig {
    /// The configuration of `kafka://host:port,host:port` with the other settings at their
    /// defaults.
    ///
    /// ```
    /// let c = tributary_log::kafka::KafkaLogConfig::from_url("kafka://a:9092,b:9092").unwrap();
    /// assert_eq!(c.brokers, "a:9092,b:9092");
    /// assert!(tributary_log::kafka::KafkaLogConfig::from_url("kafka://").is_err());
    /// let one = tributary_log::kafka::KafkaLogConfig::from_url("kafka://a:9092?batch_records=1").unwrap();
    /// assert_eq!(one.batch_records, Some(1));
    /// ```
    pub fn from_url(url: &str) -> Result<Self> {
        let invalid = |why: &str| {
            LogError::InvalidArgument(format!(
                "{url:?} is not a Kafka URL ({why}): kafka://host:port[,host:port…][?batch_records=N]"
            ))
        };
        let rest = url.strip_prefix("kafka://").ok_or_else(|| invalid("it does not start with kafka://"))?;
        let (brokers, query) = rest.split_once('?').unwrap_or((rest, ""));
        let brokers = brokers.trim_end_matches('/');
        let valid =
            |hp: &str| hp.rsplit_once(':').is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok());
        if brokers.is_empty() || !brokers.split(',').all(valid) {
            return Err(invalid("each broker is host:port"));
        }
        let mut batch_records = None;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("batch_records", n)) => {
                    batch_records = Some(
                        n.parse::<u32>()
                            .ok()
                            .filter(|n| *n > 0)
                            .ok_or_else(|| invalid("batch_records is a positive number"))?,
                    );
                }
                _ => return Err(invalid("the only option is batch_records")),
            }
        }
        Ok(Self {
            brokers: brokers.to_string(),
            default_partitions: 1,
            replication_factor: 1,
            timeout: Duration::from_secs(10),
            fetch_wait: Duration::from_millis(50),
            batch_records,
            member_name: None,
        })
    }
}

/// The event log on a Kafka cluster. Cheap to clone.
#[derive(Clone)]
pub struct KafkaLog {
    inner: Arc<Inner>,
}

struct Inner {
    config: KafkaLogConfig,
    /// Replaced when librdkafka declares it dead (a fatal error such as a fenced idempotent
    /// producer after timeouts): every later send would fail, so a new one takes its place.
    producer: parking_lot::RwLock<FutureProducer>,
    producer_config: ClientConfig,
    admin: AdminClient<DefaultClientContext>,
    /// For metadata and watermarks (a consumer that never joins a group).
    meta: Arc<BaseConsumer>,
    /// Reads the last batch of partitions to find their true ends (see [`ends`]).
    probe: Arc<parking_lot::Mutex<EndProbe>>,
    /// Partition counts already looked up. Topics do not shrink; one grown by an administrator is
    /// seen after a restart (until then keys keep the partitions they had).
    known: parking_lot::RwLock<std::collections::HashMap<String, u32>>,
    /// Idle readers for [`EventLog::read`]: a librdkafka client takes tens of milliseconds to
    /// make (threads, connections), a read a few.
    readers: Arc<parking_lot::Mutex<Vec<BaseConsumer>>>,
    round_robin: AtomicU32,
}

/// A Kafka error as a log error, naming what was being done.
fn kafka(context: impl std::fmt::Display, e: KafkaError) -> LogError {
    LogError::Kafka { context: context.to_string(), source: e }
}

/// Runs a blocking librdkafka call on tokio's blocking threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| LogError::KafkaRequest(format!("a Kafka call failed: {e}")))?
}

impl KafkaLog {
    /// Connects to the cluster (lazily: librdkafka connects on first use) and checks that it
    /// answers within the timeout.
    pub async fn connect(config: KafkaLogConfig) -> Result<Self> {
        let base = Self::client_config(&config);
        let mut producer_config = base.clone();
        if let Some(n) = config.batch_records {
            producer_config.set("batch.num.messages", n.to_string());
        }
        producer_config
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "2")
            .set("message.timeout.ms", (config.timeout.as_millis() * 3).to_string());
        let producer: FutureProducer =
            producer_config.create().map_err(|e| kafka("creating the Kafka producer", e))?;
        let admin: AdminClient<DefaultClientContext> =
            base.create().map_err(|e| kafka("creating the Kafka admin client", e))?;
        let meta: BaseConsumer = Self::reader_config(&config, "tributary-metadata")
            .create()
            .map_err(|e| kafka("creating the Kafka metadata client", e))?;
        let probe: BaseConsumer = Self::reader_config(&config, "tributary-metadata")
            .create()
            .map_err(|e| kafka("creating the Kafka metadata client", e))?;
        let inner = Inner {
            config,
            producer: parking_lot::RwLock::new(producer),
            producer_config,
            admin,
            meta: Arc::new(meta),
            probe: Arc::new(parking_lot::Mutex::new(EndProbe::new(probe))),
            known: Default::default(),
            readers: Arc::default(),
            round_robin: AtomicU32::new(0),
        };
        let log = Self { inner: Arc::new(inner) };
        let (meta, timeout, brokers) =
            (log.inner.meta.clone(), log.inner.config.timeout, log.inner.config.brokers.clone());
        blocking(move || {
            meta.fetch_metadata(None, timeout)
                .map_err(|e| kafka(format!("Kafka at {brokers} does not answer"), e))
        })
        .await?;
        Ok(log)
    }

    /// The brokers this log talks to.
    pub fn brokers(&self) -> &str {
        &self.inner.config.brokers
    }

    fn client_config(config: &KafkaLogConfig) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &config.brokers)
            .set("client.id", "tributary")
            .set("socket.timeout.ms", config.timeout.as_millis().max(10).to_string())
            .set("log_level", "3");
        c
    }

    /// A consumer's configuration: offsets are committed by hand, never automatically.
    fn reader_config(config: &KafkaLogConfig, group: &str) -> ClientConfig {
        let mut c = Self::client_config(config);
        c.set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("enable.partition.eof", "false")
            .set("fetch.wait.max.ms", config.fetch_wait.as_millis().max(1).to_string());
        c
    }

    /// An idle assign-only reader from the pool, or a new one.
    fn pooled_reader(&self) -> Result<BaseConsumer> {
        let pooled = self.inner.readers.lock().pop();
        match pooled {
            Some(reader) => Ok(reader),
            None => Self::reader_config(&self.inner.config, "tributary-reader")
                .create()
                .map_err(|e| kafka("creating a Kafka reader", e)),
        }
    }

    /// The partitions of `topic`, or `UnknownTopic`.
    async fn partitions(&self, topic: &str) -> Result<u32> {
        if let Some(n) = self.inner.known.read().get(topic) {
            return Ok(*n);
        }
        let (meta, timeout, name) = (self.inner.meta.clone(), self.inner.config.timeout, topic.to_string());
        let n = blocking(move || {
            let metadata = meta
                .fetch_metadata(Some(&name), timeout)
                .map_err(|e| kafka(format!("metadata of {name}"), e))?;
            let t = metadata.topics().iter().find(|t| t.name() == name);
            match t {
                Some(t) if t.error().is_none() && !t.partitions().is_empty() => {
                    Ok(t.partitions().len() as u32)
                }
                _ => Err(LogError::UnknownTopic(name)),
            }
        })
        .await?;
        self.inner.known.write().insert(topic.to_string(), n);
        Ok(n)
    }

    async fn watermarks(&self, topic: &str, partition: u32) -> Result<PartitionOffsets> {
        let partitions = self.partitions(topic).await?;
        if partition >= partitions {
            return Err(LogError::UnknownPartition { topic: topic.to_string(), partition, partitions });
        }
        let (meta, probe, timeout, name) =
            (self.inner.meta.clone(), self.inner.probe.clone(), self.inner.config.timeout, topic.to_string());
        blocking(move || {
            let (low, high) = meta
                .fetch_watermarks(&name, partition as i32, timeout)
                .map_err(|e| kafka(format!("offsets of {name}/{partition}"), e))?;
            let (start, reported) = (low.max(0) as u64, high.max(0) as u64);
            Ok(PartitionOffsets {
                start,
                end: probe.lock().ends(&[Reported { topic: &name, partition, start, reported }], timeout)?[0],
            })
        })
        .await
    }

    /// Produces `records` to the given partitions; the positions in input order.
    async fn produce(&self, topic: &str, records: Vec<(u32, Record)>) -> Result<Vec<RecordPosition>> {
        let producer = self.inner.producer.read().clone();
        let failure = match self.produce_with(&producer, topic, records).await {
            Ok(positions) => return Ok(positions),
            Err(e) => e,
        };
        // A producer that librdkafka declared dead, or whose identity the broker no longer
        // accepts (fenced after timeouts: seen on tansu while processes were killed), fails
        // every later send: a new one takes its place. What failed was not acknowledged; the
        // caller sends it again (a source finds what landed anyway by its headers).
        let fatal = producer.client().fatal_error();
        let stale_identity = matches!(
            failure.rdkafka_error_code(),
            Some(
                RDKafkaErrorCode::ProducerFenced
                    | RDKafkaErrorCode::InvalidProducerEpoch
                    | RDKafkaErrorCode::UnknownProducerId
                    | RDKafkaErrorCode::OutOfOrderSequenceNumber
                    | RDKafkaErrorCode::InvalidProducerIdMapping
            )
        );
        if fatal.is_some() || stale_identity {
            let mut current = self.inner.producer.write();
            if std::ptr::eq(current.client().native_ptr(), producer.client().native_ptr()) {
                tracing::warn!(error = %failure, ?fatal, "the Kafka producer cannot go on; starting a new one");
                metrics::counter!("tributary_kafka_producer_restarts_total").increment(1);
                *current = self
                    .inner
                    .producer_config
                    .create()
                    .map_err(|e| kafka("creating a new Kafka producer", e))?;
            }
        }
        Err(kafka(format!("producing to {topic}"), failure))
    }

    /// Sends every record; the first failure, as librdkafka reports it.
    async fn produce_with(
        &self,
        producer: &FutureProducer,
        topic: &str,
        records: Vec<(u32, Record)>,
    ) -> std::result::Result<Vec<RecordPosition>, KafkaError> {
        let mut deliveries = Vec::with_capacity(records.len());
        for (partition, r) in &records {
            let mut headers = OwnedHeaders::new_with_capacity(r.headers.len());
            for h in &r.headers {
                headers = headers.insert(KafkaHeader { key: &h.name, value: Some(&h.value[..]) });
            }
            let mut record = FutureRecord::<[u8], [u8]>::to(topic)
                .partition(*partition as i32)
                .payload(&r.value[..])
                .timestamp(r.timestamp)
                .headers(headers);
            if let Some(key) = &r.key {
                record = record.key(&key[..]);
            }
            deliveries.push(producer.send(record, self.inner.config.timeout));
        }
        let mut positions = Vec::with_capacity(deliveries.len());
        for d in futures::future::join_all(deliveries).await {
            let d = d.map_err(|(e, _)| e)?;
            positions.push(RecordPosition { partition: d.partition as u32, offset: d.offset as u64 });
        }
        Ok(positions)
    }
}

/// Readers kept for the next read.
const MAX_IDLE_READERS: usize = 8;

/// Reads `topic`/`partition` from `offset` up to `last` (the last offset known to exist), within
/// `limits`, with an assign-only reader.
fn read_partition(
    reader: &BaseConsumer,
    name: &str,
    partition: u32,
    offset: u64,
    last: u64,
    limits: ReadLimits,
    timeout: Duration,
) -> Result<Vec<ConsumedRecord>> {
    let context = || format!("reading {name}/{partition}");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(name, partition as i32, Offset::Offset(offset as i64))
        .map_err(|e| kafka(context(), e))?;
    reader.assign(&tpl).map_err(|e| kafka(context(), e))?;
    let deadline = Instant::now() + timeout;
    let (mut out, mut bytes) = (Vec::new(), 0usize);
    while out.len() < limits.max_records && (out.is_empty() || bytes < limits.max_bytes) {
        let Some(message) = reader.poll(deadline.saturating_duration_since(Instant::now())) else {
            // Empty-handed before the deadline: an event other than a record was served.
            if Instant::now() < deadline {
                continue;
            }
            break;
        };
        let m = message.map_err(|e| kafka(context(), e))?;
        // A pooled reader never hands on what it fetched for an earlier read.
        if m.topic() != name || m.partition() != partition as i32 || (m.offset() as u64) < offset {
            continue;
        }
        let record = consumed(&m);
        bytes += record.record.value.len() + record.record.key.as_ref().map_or(0, |k| k.len());
        // Records up to the end seen before the read; what arrives later is for the next one.
        let at_end = record.offset >= last;
        out.push(record);
        if at_end {
            break;
        }
    }
    Ok(out)
}

/// A Kafka message as a record of the log.
pub(crate) fn consumed<M: Message>(m: &M) -> ConsumedRecord {
    let headers = m
        .headers()
        .map(|hs| {
            hs.iter()
                .map(|h| Header {
                    name: Arc::from(h.key),
                    value: bytes::Bytes::copy_from_slice(h.value.unwrap_or_default()),
                })
                .collect()
        })
        .unwrap_or_default();
    ConsumedRecord {
        topic: Arc::from(m.topic()),
        partition: m.partition() as u32,
        offset: m.offset() as u64,
        record: Record {
            key: m.key().map(bytes::Bytes::copy_from_slice),
            value: bytes::Bytes::copy_from_slice(m.payload().unwrap_or_default()),
            headers,
            timestamp: m.timestamp().to_millis().unwrap_or(0),
        },
    }
}

#[async_trait]
impl EventLog for KafkaLog {
    async fn create_topic(&self, topic: &str, partitions: u32) -> Result<()> {
        validate_topic_name(topic)?;
        if partitions == 0 {
            return Err(LogError::InvalidArgument("a topic needs at least one partition".into()));
        }
        let new = NewTopic::new(
            topic,
            partitions as i32,
            TopicReplication::Fixed(self.inner.config.replication_factor),
        );
        let options = AdminOptions::new().operation_timeout(Some(self.inner.config.timeout));
        let results = self
            .inner
            .admin
            .create_topics([&new], &options)
            .await
            .map_err(|e| kafka(format!("creating {topic}"), e))?;
        for result in results {
            match result {
                Ok(_) => {}
                Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {
                    let partitions = self.partitions(topic).await.unwrap_or(0);
                    return Err(LogError::TopicExists { topic: topic.to_string(), partitions });
                }
                Err((_, code)) => {
                    return Err(kafka(format!("creating {topic}"), KafkaError::AdminOp(code)));
                }
            }
        }
        // Creation spreads through the cluster: wait until the metadata has the topic.
        let deadline = Instant::now() + self.inner.config.timeout;
        loop {
            match self.partitions(topic).await {
                Ok(_) => return Ok(()),
                Err(LogError::UnknownTopic(_)) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn describe_topics(&self) -> Result<Vec<TopicDescription>> {
        let (meta, probe, timeout) =
            (self.inner.meta.clone(), self.inner.probe.clone(), self.inner.config.timeout);
        blocking(move || {
            let metadata = meta.fetch_metadata(None, timeout).map_err(|e| kafka("listing topics", e))?;
            // Every partition's reported range first; then one probe for all their true ends.
            let mut reported = Vec::new();
            for t in metadata.topics().iter().filter(|t| !t.name().starts_with("__") && t.error().is_none()) {
                for p in t.partitions() {
                    let (low, high) = meta
                        .fetch_watermarks(t.name(), p.id(), timeout)
                        .map_err(|e| kafka(format!("offsets of {}/{}", t.name(), p.id()), e))?;
                    reported.push((t.name(), p.id() as u32, low.max(0) as u64, high.max(0) as u64));
                }
            }
            let asked: Vec<Reported<'_>> = reported
                .iter()
                .map(|&(topic, partition, start, reported)| Reported { topic, partition, start, reported })
                .collect();
            let ends = probe.lock().ends(&asked, timeout)?;
            let mut topics: Vec<TopicDescription> = Vec::new();
            for (&(name, partition, start, _), end) in reported.iter().zip(ends) {
                if topics.last().is_none_or(|t| t.name != name) {
                    topics.push(TopicDescription { name: name.to_string(), partitions: Vec::new() });
                }
                let topic = topics.last_mut().expect("pushed above");
                topic.partitions.push(PartitionDescription {
                    partition,
                    offsets: PartitionOffsets { start, end },
                    size_bytes: 0,
                    segments: 0,
                });
            }
            for t in &mut topics {
                t.partitions.sort_by_key(|p| p.partition);
            }
            topics.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(topics)
        })
        .await
    }

    async fn partition_count(&self, topic: &str) -> Result<u32> {
        self.partitions(topic).await
    }

    async fn ensure_topic(&self, topic: &str) -> Result<u32> {
        match self.partitions(topic).await {
            Err(LogError::UnknownTopic(_)) => {
                match self.create_topic(topic, self.inner.config.default_partitions).await {
                    Ok(()) | Err(LogError::TopicExists { .. }) => self.partitions(topic).await,
                    Err(e) => Err(e),
                }
            }
            other => other,
        }
    }

    async fn append(&self, topic: &str, records: Vec<Record>) -> Result<Vec<RecordPosition>> {
        if records.is_empty() {
            return Err(LogError::InvalidArgument("an append needs at least one record".into()));
        }
        let partitions = self.ensure_topic(topic).await?;
        let placed = records
            .into_iter()
            .map(|r| {
                let p = match &r.key {
                    Some(key) => partition_for_key(key, partitions),
                    None => self.inner.round_robin.fetch_add(1, Ordering::Relaxed) % partitions,
                };
                (p, r)
            })
            .collect();
        self.produce(topic, placed).await
    }

    async fn append_to_partition(&self, topic: &str, partition: u32, records: Vec<Record>) -> Result<u64> {
        if records.is_empty() {
            return Err(LogError::InvalidArgument("an append needs at least one record".into()));
        }
        let partitions = self.partitions(topic).await?;
        if partition >= partitions {
            return Err(LogError::UnknownPartition { topic: topic.to_string(), partition, partitions });
        }
        let positions = self.produce(topic, records.into_iter().map(|r| (partition, r)).collect()).await?;
        Ok(positions[0].offset)
    }

    async fn read(
        &self,
        topic: &str,
        partition: u32,
        offset: u64,
        limits: ReadLimits,
    ) -> Result<Vec<ConsumedRecord>> {
        let range = self.watermarks(topic, partition).await?;
        if offset < range.start || offset > range.end {
            return Err(LogError::OffsetOutOfRange {
                topic: topic.to_string(),
                partition,
                requested: offset,
                start: range.start,
                end: range.end,
            });
        }
        if offset == range.end || limits.max_records == 0 {
            return Ok(Vec::new());
        }
        let reader = self.pooled_reader()?;
        let (name, timeout, pool) =
            (topic.to_string(), self.inner.config.timeout, self.inner.readers.clone());
        blocking(move || {
            let read = read_partition(&reader, &name, partition, offset, range.end - 1, limits, timeout);
            // A reader goes back to the pool only when it read cleanly and let go of its partition.
            if read.is_ok() && reader.unassign().is_ok() {
                let mut idle = pool.lock();
                if idle.len() < MAX_IDLE_READERS {
                    idle.push(reader);
                }
            }
            read
        })
        .await
    }

    async fn wait_for(&self, topic: &str, partition: u32, offset: u64, timeout: Duration) -> Result<bool> {
        // Kafka has no "wake me on append". The end a broker reports is never beyond the true
        // end, so a reported end past `offset` settles it with one cheap lookup; that is asked
        // every 10 ms. Only at the deadline is the end probed (tansu reports less than the true
        // end when the last batch holds several records).
        let partitions = self.partitions(topic).await?;
        if partition >= partitions {
            return Err(LogError::UnknownPartition { topic: topic.to_string(), partition, partitions });
        }
        let deadline = Instant::now() + timeout;
        loop {
            let (meta, name, t) = (self.inner.meta.clone(), topic.to_string(), self.inner.config.timeout);
            let reported = blocking(move || {
                let (_, high) = meta
                    .fetch_watermarks(&name, partition as i32, t)
                    .map_err(|e| kafka(format!("offsets of {name}/{partition}"), e))?;
                Ok(high.max(0) as u64)
            })
            .await?;
            if reported > offset {
                return Ok(true);
            }
            if Instant::now() >= deadline {
                return Ok(self.watermarks(topic, partition).await?.end > offset);
            }
            tokio::time::sleep(
                Duration::from_millis(10).min(deadline.saturating_duration_since(Instant::now())),
            )
            .await;
        }
    }

    async fn offsets(&self, topic: &str, partition: u32) -> Result<PartitionOffsets> {
        self.watermarks(topic, partition).await
    }

    async fn commit(&self, group: &str, offsets: &[(TopicPartition, u64)]) -> Result<()> {
        self.commit_for_group(group, offsets).await
    }

    async fn committed(&self, group: &str) -> Result<Vec<(TopicPartition, u64)>> {
        self.committed_of_group(group).await
    }

    async fn groups(&self) -> Result<Vec<String>> {
        self.group_names().await
    }

    async fn group_offsets(&self) -> Result<Vec<GroupOffsets>> {
        self.all_group_offsets().await
    }

    async fn partition_reader(
        &self,
        topic: &str,
        partition: u32,
        offset: u64,
    ) -> Result<Box<dyn crate::PartitionReader>> {
        let partitions = self.partitions(topic).await?;
        if partition >= partitions {
            return Err(LogError::UnknownPartition { topic: topic.to_string(), partition, partitions });
        }
        let config = Self::reader_config(&self.inner.config, "tributary-reader");
        Ok(Box::new(reader::KafkaPartitionReader::open(self.clone(), config, topic, partition, offset)?))
    }

    async fn subscribe(&self, group: &str, topics: &[&str], reset: OffsetReset) -> Result<Box<dyn Consumer>> {
        for t in topics {
            self.ensure_topic(t).await?;
        }
        let mut config = Self::reader_config(&self.inner.config, group);
        config.set(
            "auto.offset.reset",
            match reset {
                OffsetReset::Earliest => "earliest",
                OffsetReset::Latest => "latest",
            },
        );
        if let Some(name) = &self.inner.config.member_name {
            config.set("group.instance.id", name);
        }
        Ok(Box::new(KafkaConsumer::subscribe(config, group, topics)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kafka_failure_keeps_librdkafkas_code() {
        let failure = KafkaError::MessageProduction(RDKafkaErrorCode::MessageSizeTooLarge);
        let e = kafka("producing to t", failure);
        assert_eq!(e.kafka_code(), Some(RDKafkaErrorCode::MessageSizeTooLarge));
        assert!(e.to_string().starts_with("producing to t: "), "{e}");
        assert!(e.is_transient());
        assert_eq!(LogError::Closed.kafka_code(), None);
    }
}

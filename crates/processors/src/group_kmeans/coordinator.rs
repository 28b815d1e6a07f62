//! The coordinator's side: whichever worker holds partition 0 of the shares topic folds each
//! round's shares into the next model version.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tributary_log::{ConsumedRecord, EventLog, OffsetReset, ReadLimits, Record};
use tributary_schema::DeadLetter;
use tributary_store::{BatchCommit, OffsetCheckpoint, OffsetRange, ServingStore, StoreError};

use super::messages::{Round, Share, Shares};
use super::{GroupKMeansConfig, coordinator_group, rounds_topic, shares_topic};
use crate::kmeans::{BatchStats, even_sample};
use crate::kmeans_processor::{ProcessorError, load_model, version_row};
use crate::mobile_kmeans::{MobileKMeans, ModelVersion, SILHOUETTE_SAMPLE};

pub(super) async fn run(
    log: Arc<dyn EventLog>,
    store: Arc<dyn ServingStore>,
    cfg: &GroupKMeansConfig,
    stop: watch::Receiver<bool>,
    mut on_version: impl FnMut(&ModelVersion) + Send,
) -> Result<(), ProcessorError> {
    let shares_topic = shares_topic(&cfg.name);
    let mut candidate =
        log.subscribe(&coordinator_group(&cfg.name), &[&shares_topic], OffsetReset::Earliest).await?;
    let mut lead: Option<Lead> = None;
    loop {
        if *stop.borrow() {
            // At once, so that another worker takes over the role.
            candidate.leave().await?;
            return Ok(());
        }
        let records = candidate.poll(1000, Duration::from_millis(50)).await?;
        let leading = candidate.assignment().iter().any(|tp| tp.topic == shares_topic && tp.partition == 0);
        if !leading {
            if lead.take().is_some() {
                tracing::info!(worker = %cfg.worker, model = %cfg.name, "no longer the coordinator");
            }
            continue;
        }
        let current = match &mut lead {
            Some(current) => current,
            None => lead.insert(Lead::take_over(log.clone(), store.clone(), cfg).await?),
        };
        for r in &records {
            current.accept(r);
        }
        match current.step(&mut on_version).await {
            Ok(Step::Waiting) => {}
            Ok(Step::Closed) => candidate.commit().await?,
            Err(ProcessorError::Store(StoreError::Conflict(reason))) => {
                tracing::warn!(worker = %cfg.worker, %reason, "another coordinator committed first; taking over again from the store");
                lead = None;
            }
            Err(e) => return Err(e),
        }
    }
}

/// What a turn of the coordinator did.
enum Step {
    Waiting,
    /// A round was closed (committed or found empty): the shares read so far are done with.
    Closed,
}

/// The coordinator's state while it holds the role.
struct Lead {
    log: Arc<dyn EventLog>,
    store: Arc<dyn ServingStore>,
    cfg: GroupKMeansConfig,
    kmeans: MobileKMeans,
    /// The processor's offsets in the store, which the next commit continues from (the fence).
    stored: Vec<OffsetCheckpoint>,
    /// The open round; `None` between rounds while there is nothing new to read.
    round: Option<Round>,
    /// The last round announced.
    last_round: u64,
    /// Where the events topic was when the model last looked: the next round opens once some
    /// partition has grown past this.
    seen_to: Vec<u64>,
    /// Shares of the open round, by partition.
    shares: BTreeMap<u32, Share>,
    /// Share messages that could not be used, kept as dead letters of the next commit.
    bad: Vec<DeadLetter>,
}

impl Lead {
    /// Becomes the coordinator: the model and offsets from the store, the round numbers from
    /// the rounds topic; opens the next round.
    async fn take_over(
        log: Arc<dyn EventLog>,
        store: Arc<dyn ServingStore>,
        cfg: &GroupKMeansConfig,
    ) -> Result<Self, ProcessorError> {
        let kmeans = load_model(&*store, &cfg.name, &cfg.settings).await?;
        let stored = store.processor_offsets(&cfg.name).await?;
        let last_round = last_announced_round(&*log, &rounds_topic(&cfg.name)).await?;
        tracing::info!(
            worker = %cfg.worker, model = %cfg.name,
            version = kmeans.snapshot().map_or(0, |s| s.version), "coordinating"
        );
        let mut lead = Self {
            log,
            store,
            cfg: cfg.clone(),
            kmeans,
            stored,
            round: None,
            last_round,
            seen_to: Vec::new(),
            shares: BTreeMap::new(),
            bad: Vec::new(),
        };
        lead.open_round().await?;
        Ok(lead)
    }

    /// Announces the next round, reading from the stored offsets.
    async fn open_round(&mut self) -> Result<(), ProcessorError> {
        let topic = &self.cfg.topic;
        let partitions = self.log.partition_count(topic).await?;
        let mut from = Vec::with_capacity(partitions as usize);
        for p in 0..partitions {
            let stored = self.stored.iter().find(|c| &c.topic == topic && c.partition == p);
            from.push(match stored {
                Some(c) => c.next_offset,
                None => self.log.offsets(topic, p).await?.start,
            });
        }
        self.last_round += 1;
        let round = Round {
            round: self.last_round,
            coordinator: self.cfg.worker.clone(),
            model: self.kmeans.snapshot().cloned(),
            from,
        };
        let json = serde_json::to_vec(&round).expect("rounds serialise");
        // Partition 0, whatever the topic's partition count: followers read only that one.
        self.log.append_to_partition(&rounds_topic(&self.cfg.name), 0, vec![Record::new(json)]).await?;
        self.shares.clear();
        self.round = Some(round);
        Ok(())
    }

    /// Takes one share message: each share counts if it is for the open round, its partition is
    /// not covered yet, and it starts where the round said.
    fn accept(&mut self, record: &ConsumedRecord) {
        let message: Shares = match serde_json::from_slice(&record.record.value) {
            Ok(m) => m,
            Err(e) => {
                self.reject(record, format!("not a shares message: {e}"));
                return;
            }
        };
        let Some((number, from)) = self.round.as_ref().map(|r| (r.round, r.from.clone())) else { return };
        if message.round != number {
            return; // a late share of an earlier round: its offsets are read again
        }
        for share in message.shares {
            let p = share.partition as usize;
            let problem = share.check().err().or_else(|| match &self.kmeans.snapshot() {
                Some(_) => share.stats(self.cfg.settings.k).err(),
                None => None,
            });
            if let Some(problem) = problem {
                self.reject(record, format!("from worker {}: {problem}", message.worker));
                continue;
            }
            if p < from.len() && share.from == from[p] {
                self.shares.entry(share.partition).or_insert(share);
            }
        }
    }

    fn reject(&mut self, record: &ConsumedRecord, reason: String) {
        tracing::warn!(topic = %record.topic, offset = record.offset, %reason, "share dropped");
        metrics::counter!("tributary_processor_bad_messages_total").increment(1);
        let at = format!("{}/{}@{}", record.topic, record.partition, record.offset);
        let source = format!("coordinator:{}", self.cfg.name);
        self.bad.push(DeadLetter::new(source, at, reason, &record.record.value, tributary_log::now_ms()));
    }

    /// Closes the open round once every partition has its share; between rounds, opens the
    /// next one once there is something new to read.
    async fn step(&mut self, on_version: &mut impl FnMut(&ModelVersion)) -> Result<Step, ProcessorError> {
        let Some(round) = &self.round else {
            if self.has_news().await? {
                self.open_round().await?;
            }
            return Ok(Step::Waiting);
        };
        if self.shares.len() < round.from.len() {
            return Ok(Step::Waiting);
        }
        let shares: Vec<Share> = std::mem::take(&mut self.shares).into_values().collect();
        self.round = None;
        self.seen_to = shares.iter().map(|s| s.to).collect();
        let (version, gathering) = self.fold(&shares);
        if gathering {
            // Not enough points for k-means++ yet: nothing is committed, and the next round
            // reads the same offsets again, with what has arrived since. The shares read are not
            // marked done either, so a share message that had to be dropped is found again.
            return Ok(Step::Waiting);
        }
        let dead = self.dead_letters(&shares).await?;
        if version.is_none() && dead.is_empty() && shares.iter().all(|s| s.to == s.from) {
            return Ok(Step::Closed);
        }
        let now = tributary_log::now_ms();
        let topic = &self.cfg.topic;
        let ranges: Vec<OffsetRange> = shares
            .iter()
            .filter(|s| s.to > s.from)
            .map(|s| OffsetRange { topic: topic.clone(), partition: s.partition, from: s.from, to: s.to })
            .collect();
        let offsets: Vec<OffsetCheckpoint> = shares
            .iter()
            .map(|s| OffsetCheckpoint { topic: topic.clone(), partition: s.partition, next_offset: s.to })
            .collect();
        let snapshot = self.kmeans.snapshot().expect("a model once not gathering");
        let commit = BatchCommit {
            processor: self.cfg.name.clone(),
            version: version.as_ref().map(|v| version_row(&self.cfg.name, v, snapshot, &ranges, now)),
            offsets: offsets.clone(),
            dead_letters: dead,
            expected_offsets: Some(self.stored.clone()),
            state: None,
        };
        self.store.commit_batch(&commit).await?;
        self.stored = offsets;
        let records: u64 = shares.iter().map(Share::records).sum();
        metrics::counter!("tributary_processor_records_total", "processor" => self.cfg.name.clone())
            .increment(records);
        if let Some(v) = &version {
            on_version(v);
        }
        // Data is flowing: the next round opens at once.
        self.open_round().await?;
        Ok(Step::Closed)
    }

    /// Folds the shares (in partition order) into the model. Returns the new version, if any,
    /// and whether k-means++ is still gathering.
    fn fold(&mut self, shares: &[Share]) -> (Option<ModelVersion>, bool) {
        if self.kmeans.snapshot().is_none() {
            let positions: Vec<[f64; 2]> = shares.iter().flat_map(|s| s.positions.iter().copied()).collect();
            let mut first = MobileKMeans::new(self.cfg.settings.clone());
            return match first.process(&positions) {
                Some(v) => {
                    self.kmeans = first;
                    (Some(v), false)
                }
                None => (None, true),
            };
        }
        let mut stats = BatchStats::new(self.cfg.settings.k, 2);
        for s in shares {
            stats.merge(&s.stats(self.cfg.settings.k).expect("checked when accepted"));
        }
        if stats.points() == 0 {
            return (None, false);
        }
        let samples: Vec<f64> = shares.iter().flat_map(|s| s.sample.iter().flatten().copied()).collect();
        (self.kmeans.apply_stats(&stats, &even_sample(&samples, 2, SILHOUETTE_SAMPLE)), false)
    }

    /// The round's dead letters, with the raw bytes read back from the log, and the share
    /// messages that could not be used.
    async fn dead_letters(&mut self, shares: &[Share]) -> Result<Vec<DeadLetter>, ProcessorError> {
        let mut dead = std::mem::take(&mut self.bad);
        let source = format!("processor:{}", self.cfg.name);
        let now = tributary_log::now_ms();
        for s in shares {
            for d in &s.dead {
                let one = ReadLimits { max_records: 1, max_bytes: 1 };
                let raw = self.log.read(&self.cfg.topic, s.partition, d.offset, one).await?;
                let value = raw.first().map(|r| r.record.value.clone()).unwrap_or_default();
                let at = format!("{}/{}@{}", self.cfg.topic, s.partition, d.offset);
                dead.push(DeadLetter::new(source.clone(), at, d.reason.clone(), &value, now));
            }
        }
        Ok(dead)
    }

    /// Whether some partition has records past where the model last looked.
    async fn has_news(&self) -> Result<bool, ProcessorError> {
        let partitions = self.log.partition_count(&self.cfg.topic).await?;
        if partitions as usize != self.seen_to.len() {
            return Ok(true);
        }
        for (p, seen) in self.seen_to.iter().enumerate() {
            if self.log.offsets(&self.cfg.topic, p as u32).await?.end > *seen {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// The highest round number among the last announcements on the rounds topic (0 if none).
async fn last_announced_round(log: &dyn EventLog, topic: &str) -> Result<u64, ProcessorError> {
    let range = log.offsets(topic, 0).await?;
    let from = range.end.saturating_sub(100).max(range.start);
    let mut last = 0;
    let mut at = from;
    while at < range.end {
        let records = log.read(topic, 0, at, ReadLimits::default()).await?;
        let Some(end) = records.last().map(|r| r.offset + 1) else { break };
        at = end;
        for r in &records {
            if let Ok(round) = serde_json::from_slice::<Round>(&r.record.value) {
                last = last.max(round.round);
            }
        }
    }
    Ok(last)
}

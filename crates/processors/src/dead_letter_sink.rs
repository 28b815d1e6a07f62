//! The dead-letter sink: the dead letters that sources publish to the log, copied into the
//! serving store, each exactly once.
//!
//! Every process that runs the processors (`tributary up`, each `tributary worker`) runs a sink,
//! and the sinks that write to one store join one consumer group on the dead-letter topic
//! ([`sink_group`]: the binary names it after the model, as the workers' k-means group), which
//! shares its partitions between them. A sink reads each of its partitions from the offset stored for it and commits
//! the letters it read together with the next offsets, in one transaction fenced by the offsets
//! it continues from ([`BatchCommit::expected_offsets`], per partition). During a handover the
//! old and the new owner of a partition may both read it for a moment; only one of them stores
//! what they read, and the other reloads the stored offsets and reads on from there.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tributary_log::{
    Backoff, ConsumedRecord, Consumer, EventLog, LogError, OffsetReset, PartitionReader, TopicPartition,
};
use tributary_schema::DeadLetter;
use tributary_schema::dead_letter::DEAD_LETTER_TOPIC;
use tributary_store::{BatchCommit, OffsetCheckpoint, ServingStore, StoreError};

use crate::kmeans_processor::ProcessorError;

/// The sink's name: its offsets in the store, and the source of what it finds unreadable.
pub const DEAD_LETTER_SINK: &str = "dead-letter-sink";

/// The consumer group of the sinks of the deployment whose k-means model is `model`. Sinks of
/// other deployments on the same cluster (other stores) must not take its partitions.
pub fn sink_group(model: &str) -> String {
    format!("{model}.{DEAD_LETTER_SINK}")
}

/// How long an idle sink waits for news (a rebalance) before it looks for new letters again.
const IDLE_TURN: Duration = Duration::from_millis(200);

/// At most this many letters go into one transaction.
const MAX_BATCH: usize = 10_000;

/// Runs a dead-letter sink in consumer group `group` until `stop` turns true, then leaves the
/// group so that the other sinks take over its partitions at once. `on_stored` hears of the
/// number of letters in each transaction once it is committed.
pub async fn run_dead_letter_sink(
    log: Arc<dyn EventLog>,
    store: Arc<dyn ServingStore>,
    group: String,
    stop: watch::Receiver<bool>,
    mut on_stored: impl FnMut(u64) + Send,
) -> Result<(), ProcessorError> {
    let mut group = log.subscribe(&group, &[DEAD_LETTER_TOPIC], OffsetReset::Earliest).await?;
    let mut sink = Sink { log, store, readers: BTreeMap::new(), stored: Vec::new() };
    let result = sink.run(&mut *group, &stop, &mut on_stored).await;
    let left = group.leave().await;
    result?;
    Ok(left?)
}

struct Sink {
    log: Arc<dyn EventLog>,
    store: Arc<dyn ServingStore>,
    /// One reader per partition this sink holds.
    readers: BTreeMap<u32, Box<dyn PartitionReader>>,
    /// The offsets the store held for this sink when last read or written.
    stored: Vec<OffsetCheckpoint>,
}

impl Sink {
    async fn run(
        &mut self,
        group: &mut dyn Consumer,
        stop: &watch::Receiver<bool>,
        on_stored: &mut (dyn FnMut(u64) + Send),
    ) -> Result<(), ProcessorError> {
        let mut holding: Vec<u32> = Vec::new();
        let mut idle = false;
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(10));
        let mut waiting = stop.clone();
        loop {
            if *stop.borrow() {
                return Ok(());
            }
            let assigned = group.membership(if idle { IDLE_TURN } else { Duration::ZERO }).await?;
            let partitions: Vec<u32> =
                assigned.iter().filter(|tp| tp.topic == DEAD_LETTER_TOPIC).map(|tp| tp.partition).collect();
            if partitions != holding {
                tracing::info!(?partitions, "dead-letter sink holds partitions");
                // A partition that comes back may have moved on while another sink held it.
                self.readers.clear();
                self.stored = self.store.processor_offsets(DEAD_LETTER_SINK).await?;
                holding = partitions;
            }
            let batch = self.read(&holding).await?;
            idle = batch.is_empty();
            if idle {
                continue;
            }
            match self.commit(&batch).await {
                Ok(offsets) => {
                    backoff.reset();
                    on_stored(batch.len() as u64);
                    if let Err(e) = group.commit_offsets(&offsets).await {
                        tracing::debug!(error = %e, "could not record the group's offsets");
                    }
                }
                Err(StoreError::Conflict(reason)) => {
                    // Another sink held a partition of ours a moment ago and stored first.
                    tracing::debug!(%reason, "another dead-letter sink committed first; reading on from its offsets");
                    metrics::counter!("tributary_processor_fenced_commits_total").increment(1);
                    self.readers.clear();
                    self.stored = self.store.processor_offsets(DEAD_LETTER_SINK).await?;
                }
                Err(e) if e.is_transient() => {
                    // Not stored (a full disk, a database out of reach): read the same letters
                    // again from the stored offsets once the pause is over.
                    tracing::warn!(error = %e, retry_in_ms = backoff.next_pause().as_millis() as u64, "storing dead letters failed; trying again");
                    self.readers.clear();
                    if !backoff.wait(&mut waiting).await {
                        return Ok(());
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// What is there now in `partitions`, from where this sink is, up to [`MAX_BATCH`].
    async fn read(&mut self, partitions: &[u32]) -> Result<Vec<ConsumedRecord>, ProcessorError> {
        let mut records = Vec::new();
        for &p in partitions {
            if records.len() >= MAX_BATCH {
                break;
            }
            if !self.readers.contains_key(&p) {
                let start = match self.stored_offset(p) {
                    Some(next) => next,
                    None => self.log.offsets(DEAD_LETTER_TOPIC, p).await?.start,
                };
                self.readers.insert(p, self.log.partition_reader(DEAD_LETTER_TOPIC, p, start).await?);
            }
            let reader = self.readers.get_mut(&p).expect("opened above");
            match reader.read(MAX_BATCH - records.len(), Duration::ZERO).await {
                Ok(read) => records.extend(read),
                Err(LogError::OffsetOutOfRange { start, requested, .. }) if requested < start => {
                    // Retention deleted letters before they were stored: counted, and said.
                    tracing::warn!(
                        partition = p,
                        requested,
                        start,
                        "dead letters deleted before they were stored"
                    );
                    metrics::counter!("tributary_processor_lost_records_total").increment(start - requested);
                    self.readers.insert(p, self.log.partition_reader(DEAD_LETTER_TOPIC, p, start).await?);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(records)
    }

    /// Stores the letters with the readers' positions as the next offsets; returns those.
    async fn commit(&mut self, records: &[ConsumedRecord]) -> Result<Vec<(TopicPartition, u64)>, StoreError> {
        let now = tributary_log::now_ms();
        let letters = records
            .iter()
            .map(|r| {
                DeadLetter::from_json(&r.record.value).unwrap_or_else(|reason| {
                    let at = format!("{}/{}@{}", r.topic, r.partition, r.offset);
                    DeadLetter::new(format!("processor:{DEAD_LETTER_SINK}"), at, reason, &r.record.value, now)
                })
            })
            .collect();
        let offsets: Vec<OffsetCheckpoint> = self
            .readers
            .iter()
            .filter(|(p, reader)| self.stored_offset(**p) != Some(reader.position()))
            .map(|(p, reader)| OffsetCheckpoint {
                topic: DEAD_LETTER_TOPIC.into(),
                partition: *p,
                next_offset: reader.position(),
            })
            .collect();
        let commit = BatchCommit {
            processor: DEAD_LETTER_SINK.into(),
            version: None,
            offsets,
            dead_letters: letters,
            expected_offsets: Some(self.stored.clone()),
            state: None,
        };
        self.store.commit_batch(&commit).await?;
        metrics::counter!("tributary_dead_letters_total").increment(records.len() as u64);
        for o in &commit.offsets {
            match self.stored.iter_mut().find(|s| s.topic == o.topic && s.partition == o.partition) {
                Some(s) => s.next_offset = o.next_offset,
                None => self.stored.push(o.clone()),
            }
        }
        Ok(commit
            .offsets
            .into_iter()
            .map(|o| (TopicPartition::new(o.topic, o.partition), o.next_offset))
            .collect())
    }

    fn stored_offset(&self, partition: u32) -> Option<u64> {
        self.stored
            .iter()
            .find(|s| s.topic == DEAD_LETTER_TOPIC && s.partition == partition)
            .map(|s| s.next_offset)
    }
}

#[cfg(test)]
mod tests {
    use tributary_log::{EmbeddedLog, EmbeddedLogConfig, Record};
    use tributary_store::SqlStore;

    use super::*;
    use tributary_store::prelude::{Commits, DeadLetters};

    /// Letters as sources publish them; every 10th is not a letter at all.
    fn letters(from: usize, n: usize) -> Vec<Record> {
        (from..from + n)
            .map(|i| {
                let value = if i % 10 == 0 {
                    format!("garbage {i}").into_bytes()
                } else {
                    DeadLetter::new("dir:inbox", format!("f.csv:{i}"), "bad line", b"x,y", 0).to_json()
                };
                Record::new(value).with_key(format!("k{i}"))
            })
            .collect()
    }

    struct Setup {
        log: Arc<dyn EventLog>,
        store: Arc<SqlStore>,
        _dir: tempfile::TempDir,
    }

    impl Setup {
        async fn new(partitions: u32) -> Self {
            let dir = tempfile::tempdir().unwrap();
            let log = EmbeddedLog::open(&dir.path().join("log"), EmbeddedLogConfig::default()).await.unwrap();
            log.create_topic(DEAD_LETTER_TOPIC, partitions).await.unwrap();
            let store = SqlStore::open_sqlite(&dir.path().join("store.sqlite")).await.unwrap();
            Self { log: Arc::new(log), store: Arc::new(store), _dir: dir }
        }

        fn sink(&self) -> (watch::Sender<bool>, tokio::task::JoinHandle<Result<(), ProcessorError>>) {
            let (stop_tx, stop) = watch::channel(false);
            let (log, store) = (self.log.clone(), self.store.clone() as Arc<dyn ServingStore>);
            (stop_tx, tokio::spawn(run_dead_letter_sink(log, store, sink_group("m"), stop, |_| {})))
        }

        async fn wait_for_letters(&self, n: u64) {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
            loop {
                let stored = self.store.dead_letter_count().await.unwrap();
                assert!(stored <= n, "{stored} letters stored for {n} published");
                if stored == n {
                    return;
                }
                assert!(tokio::time::Instant::now() < deadline, "only {stored} of {n} letters after 60 s");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sinks_share_the_partitions_and_store_each_letter_once_across_a_handover() {
        let s = Setup::new(3).await;
        let mut sinks = vec![s.sink(), s.sink()];
        s.log.append(DEAD_LETTER_TOPIC, letters(0, 900)).await.unwrap();
        s.wait_for_letters(900).await;
        // One sink stops while letters keep coming: the other takes its partitions over.
        let (stop, task) = sinks.remove(0);
        for chunk in 0..6 {
            s.log.append(DEAD_LETTER_TOPIC, letters(900 + chunk * 100, 100)).await.unwrap();
            if chunk == 2 {
                stop.send(true).unwrap();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        task.await.unwrap().unwrap();
        s.wait_for_letters(1500).await;
        // A third sink joins; the stored offsets are where every partition ends.
        sinks.push(s.sink());
        s.log.append(DEAD_LETTER_TOPIC, letters(1500, 300)).await.unwrap();
        s.wait_for_letters(1800).await;
        let mut ends = Vec::new();
        for p in 0..3 {
            ends.push(OffsetCheckpoint {
                topic: DEAD_LETTER_TOPIC.into(),
                partition: p,
                next_offset: s.log.offsets(DEAD_LETTER_TOPIC, p).await.unwrap().end,
            });
        }
        assert_eq!(s.store.processor_offsets(DEAD_LETTER_SINK).await.unwrap(), ends);
        // What was not a letter is kept as one, naming where it was found.
        let garbage = s.store.dead_letters(Some("processor:dead-letter-sink"), 1000, None).await.unwrap();
        assert_eq!(garbage.len(), 180);
        assert!(garbage.iter().all(|g| g.letter.position.starts_with("dead_letters/")), "{:?}", garbage[0]);
        for (stop, task) in sinks {
            stop.send(true).unwrap();
            task.await.unwrap().unwrap();
        }
    }

    #[tokio::test]
    async fn a_sink_that_was_fenced_out_reads_on_from_the_stored_offsets() {
        let s = Setup::new(1).await;
        s.log.append(DEAD_LETTER_TOPIC, letters(1, 50)).await.unwrap();
        // Another writer stored the first 20 letters of the partition already.
        let first: Vec<DeadLetter> =
            (1..21).map(|i| DeadLetter::new("elsewhere", format!("{i}"), "r", b"", 0)).collect();
        let commit = BatchCommit {
            processor: DEAD_LETTER_SINK.into(),
            offsets: vec![OffsetCheckpoint {
                topic: DEAD_LETTER_TOPIC.into(),
                partition: 0,
                next_offset: 20,
            }],
            dead_letters: first,
            expected_offsets: Some(Vec::new()),
            state: None,
            ..Default::default()
        };
        // The sink opens first, then the other writer commits before the sink's first commit.
        let mut sink =
            Sink { log: s.log.clone(), store: s.store.clone(), readers: BTreeMap::new(), stored: Vec::new() };
        let read = sink.read(&[0]).await.unwrap();
        assert_eq!(read.len(), 50);
        s.store.commit_batch(&commit).await.unwrap();
        let lost = sink.commit(&read).await.unwrap_err();
        assert!(matches!(lost, StoreError::Conflict(_)), "{lost}");
        // The running sink reloads the offsets and stores only the other 30.
        let (stop_tx, stop) = watch::channel(false);
        let (log, store) = (s.log.clone(), s.store.clone() as Arc<dyn ServingStore>);
        let task = tokio::spawn(run_dead_letter_sink(log, store, sink_group("m"), stop, |_| {}));
        s.wait_for_letters(50).await;
        stop_tx.send(true).unwrap();
        task.await.unwrap().unwrap();
        assert_eq!(s.store.dead_letter_count().await.unwrap(), 50);
    }
}

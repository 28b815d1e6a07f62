//! The worker's side of a round: follow the announcements, read the assigned partitions from
//! the round's offsets, send their shares.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;
use tributary_log::{EventLog, LogError, OffsetReset, PartitionReader, Record, TopicPartition};

use super::messages::{DeadRecord, MAX_SHARES_BYTES, Round, SHARE_SAMPLE, Share, Shares, short_reason};
use super::{GroupKMeansConfig, rounds_topic, shares_topic};
use crate::kmeans_processor::ProcessorError;
use crate::mobile_kmeans::{Init, MobileKMeans};

/// How long one turn of the loop waits for news (an announcement, a rebalance) at most.
const TURN: Duration = Duration::from_millis(50);

pub(super) async fn run(
    log: Arc<dyn EventLog>,
    cfg: &GroupKMeansConfig,
    stop: watch::Receiver<bool>,
) -> Result<(), ProcessorError> {
    let mut group = log.subscribe(&cfg.name, &[&cfg.topic], OffsetReset::Earliest).await?;
    let mut rounds = RoundFollower::start(log.clone(), rounds_topic(&cfg.name)).await?;
    let shares_topic = shares_topic(&cfg.name);
    // The round being worked on, when it opened here, and the partitions already sent for it.
    let mut current: Option<(Round, Instant)> = None;
    let mut sent: BTreeSet<u32> = BTreeSet::new();
    let mut holding: Vec<TopicPartition> = Vec::new();
    // One reader per partition held, kept from round to round (on Kafka, fetching ahead).
    let mut readers: BTreeMap<u32, Box<dyn PartitionReader>> = BTreeMap::new();
    loop {
        if *stop.borrow() {
            // At once, so that the others take over this worker's partitions.
            group.leave().await?;
            return Ok(());
        }
        if let Some(round) = rounds.next(TURN).await? {
            // The round's offsets are where the previous one ended: the group's committed
            // position for the partitions this worker holds (for `log topics` and lag).
            let offsets: Vec<(TopicPartition, u64)> = round
                .from
                .iter()
                .enumerate()
                .map(|(p, o)| (TopicPartition::new(cfg.topic.clone(), p as u32), *o))
                .collect();
            if let Err(e) = group.commit_offsets(&offsets).await {
                tracing::debug!(error = %e, "could not record group offsets");
            }
            tracing::debug!(worker = %cfg.worker, round = round.round, "round opened");
            current = Some((round, Instant::now()));
            sent.clear();
        }
        // Waits for the rest of the batch interval (at most a turn) while taking part in the group.
        let wait = current.as_ref().map_or(Duration::ZERO, |(_, opened)| {
            cfg.batch_interval.saturating_sub(opened.elapsed()).min(TURN)
        });
        let assigned = group.membership(wait).await?;
        if assigned != holding {
            let partitions: Vec<u32> = assigned.iter().map(|tp| tp.partition).collect();
            tracing::info!(worker = %cfg.worker, topic = %cfg.topic, ?partitions, "partitions assigned");
            readers.retain(|p, _| partitions.contains(p));
            holding = assigned.clone();
        }
        let Some((round, opened)) = &current else { continue };
        if opened.elapsed() < cfg.batch_interval {
            continue;
        }
        let todo: Vec<u32> = assigned
            .iter()
            .filter(|tp| tp.topic == cfg.topic && (tp.partition as usize) < round.from.len())
            .map(|tp| tp.partition)
            .filter(|p| !sent.contains(p))
            .collect();
        if todo.is_empty() {
            continue;
        }
        let started = Instant::now();
        let shares = read_shares(&*log, &mut readers, cfg, round, &todo).await?;
        let read_ms = started.elapsed().as_millis() as u64;
        let records: u64 = shares.iter().map(Share::records).sum();
        let message = Shares { round: round.round, worker: cfg.worker.clone(), shares };
        let json = serde_json::to_vec(&message).expect("shares serialise");
        // Partition 0, whatever the topic's partition count: the coordinator is the member of its
        // group that owns partition 0, and another member would never pass a share on.
        log.append_to_partition(&shares_topic, 0, vec![Record::new(json)]).await?;
        tracing::debug!(
            worker = %cfg.worker, round = round.round, partitions = ?todo, records, read_ms,
            sent_ms = started.elapsed().as_millis() as u64, "shares sent"
        );
        sent.extend(todo);
    }
}

/// Reads `partitions` from the round's offsets: what is there, up to the configured number of
/// events in all, and no more than fits one message.
async fn read_shares(
    log: &dyn EventLog,
    readers: &mut BTreeMap<u32, Box<dyn PartitionReader>>,
    cfg: &GroupKMeansConfig,
    round: &Round,
    partitions: &[u32],
) -> Result<Vec<Share>, ProcessorError> {
    // While k-means++ gathers, a round must be able to hold its first points.
    let budget = match (&round.model, &cfg.settings.init) {
        (None, Init::KMeansPlusPlus { min_points, .. }) => cfg.max_batch_records.max(*min_points),
        _ => cfg.max_batch_records,
    };
    let model = round.model.clone().map(|m| MobileKMeans::restore(cfg.settings.clone(), m));
    let (mut left, mut bytes) = (budget, 0usize);
    let mut shares = Vec::with_capacity(partitions.len());
    for &p in partitions {
        let mut share = Share::empty(p, round.from[p as usize]);
        let mut positions = Vec::new();
        // A reader elsewhere (a share of the last round was dropped) starts again.
        if readers.get(&p).is_none_or(|r| r.position() != share.from) {
            readers.insert(p, log.partition_reader(&cfg.topic, p, share.from).await?);
        }
        // The first read waits a little for a fetch under way; later ones take what is there.
        let mut wait = FIRST_READ_WAIT;
        while left > 0 && bytes < MAX_SHARES_BYTES {
            let reader = readers.get_mut(&p).expect("made above");
            let records = match reader.read(left, wait).await {
                Ok(records) => records,
                Err(LogError::OffsetOutOfRange { start, requested, .. }) if requested < start => {
                    // Retention deleted what the model had not read: counted, and said.
                    tracing::warn!(topic = %cfg.topic, partition = p, requested, start, "events deleted before they were read");
                    metrics::counter!("tributary_processor_lost_records_total").increment(start - requested);
                    share.lost += start - requested;
                    share.to = start;
                    readers.insert(p, log.partition_reader(&cfg.topic, p, start).await?);
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            wait = Duration::ZERO;
            let Some(last) = records.last() else { break };
            share.to = last.offset + 1;
            left -= records.len().min(left);
            for r in &records {
                match crate::mobile_record::position(&r.record) {
                    Ok(position) => positions.push(position),
                    Err(reason) => {
                        let reason = short_reason(&reason.reason);
                        bytes += reason.len() + 40;
                        share.dead.push(DeadRecord { offset: r.offset, reason });
                    }
                }
            }
            if model.is_none() {
                bytes = bytes.saturating_add(records.len() * 48);
            }
        }
        match &model {
            Some(model) => {
                let stats = model.share_stats(&positions).expect("a restored model");
                share.counts = stats.counts;
                share.sums = stats.sums;
                share.sum_of_squares = stats.sum_of_squares;
                share.sample =
                    model.sample(&positions, SHARE_SAMPLE).chunks_exact(2).map(|p| [p[0], p[1]]).collect();
            }
            None => share.positions = positions,
        }
        shares.push(share);
    }
    Ok(shares)
}

/// How long the first read of a share waits for records that are on their way.
const FIRST_READ_WAIT: Duration = Duration::from_millis(20);

/// Follows the rounds topic: the newest announcement, skipping any it has already passed.
struct RoundFollower {
    reader: Box<dyn PartitionReader>,
    topic: String,
    last_round: u64,
}

impl RoundFollower {
    /// Starts at the newest announcement there is (a worker joining late joins the open round).
    async fn start(log: Arc<dyn EventLog>, topic: String) -> Result<Self, ProcessorError> {
        let offsets = log.offsets(&topic, 0).await?;
        let position = if offsets.end > offsets.start { offsets.end - 1 } else { offsets.start };
        let reader = log.partition_reader(&topic, 0, position).await?;
        Ok(Self { reader, topic, last_round: 0 })
    }

    /// The newest announcement after the last one returned, waiting up to `timeout` for one.
    async fn next(&mut self, timeout: Duration) -> Result<Option<Round>, ProcessorError> {
        let mut newest = None;
        let mut wait = timeout;
        loop {
            let records = self.reader.read(1000, wait).await?;
            wait = Duration::ZERO;
            if records.is_empty() {
                break;
            }
            for r in records.iter().rev() {
                match serde_json::from_slice::<Round>(&r.record.value) {
                    Ok(round) => {
                        newest = Some(round);
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(topic = %self.topic, offset = r.offset, error = %e, "not a round announcement; skipped");
                        metrics::counter!("tributary_processor_bad_messages_total").increment(1);
                    }
                }
            }
        }
        // Announcements only move forward; an older one (from a coordinator that has not yet
        // noticed it lost the role) is ignored.
        Ok(newest.filter(|r| r.round > self.last_round).inspect(|r| self.last_round = r.round))
    }
}

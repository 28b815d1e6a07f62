//! Replays a stored model through one process, to check a distributed run against it.
//!
//! Every stored version names the offset ranges its micro-batch covered. Reading those records
//! again (partition by partition, in offset order) and feeding each version's batch to one
//! [`MobileKMeans`] gives what a single process would have computed from the same micro-batches.
//! The scale-out coordinator adds the same points' sums in another order, so the two agree to
//! floating-point rounding, not bit for bit.
//!
//! A version that store retention folded (it stands for several micro-batches, see
//! `tributary_store::retention`) cannot be recomputed: the model between its batches is gone.
//! For it the replay checks that its ranges continue the previous ones and that they hold the
//! points it counts, then takes its stored model as the state to go on from.

use tributary_log::{EventLog, ReadLimits};
use tributary_store::{OffsetRange, ServingStore};

use crate::kmeans_processor::ProcessorError;
use crate::mobile_kmeans::{KMeansSettings, MobileKMeans};

/// Why a replay stopped: the log or the store failed, or the stored model is not what one
/// process makes of its micro-batches (the message names the version and what differs).
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Log(#[from] tributary_log::LogError),
    #[error(transparent)]
    Store(#[from] tributary_store::StoreError),
    #[error(transparent)]
    Processor(#[from] ProcessorError),
    /// The stored model and the replay differ.
    #[error("{0}")]
    Differs(String),
}

/// What a replay found.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayReport {
    /// Versions compared.
    pub versions: u64,
    /// Points in them.
    pub points: u64,
    /// Versions folded by retention among them: checked for ranges and counts only.
    pub folded: u64,
    /// The largest difference of a centre coordinate (degrees) relative to max(|value|, 1).
    pub max_centre_error: f64,
    /// The largest relative difference of a weight.
    pub max_weight_error: f64,
}

/// Replays versions `1..` of `model` and compares each with the stored one. Fails on the first
/// version whose batch counts differ, whose offset ranges overlap or leave a gap, or whose
/// centres, weights or sum of squares differ by more than `tolerance` (relative).
pub async fn replay_one_process(
    log: &dyn EventLog,
    store: &dyn ServingStore,
    model: &str,
    settings: &KMeansSettings,
    tolerance: f64,
) -> Result<ReplayReport, ReplayError> {
    let mut single = MobileKMeans::new(settings.clone());
    let mut report =
        ReplayReport { versions: 0, points: 0, folded: 0, max_centre_error: 0.0, max_weight_error: 0.0 };
    let mut next: std::collections::BTreeMap<(String, u32), u64> = Default::default();
    let mut from_version = 1;
    loop {
        let page = store.kmeans_history(model, from_version, u64::MAX, 500).await?;
        let Some(last) = page.last() else { break };
        from_version = last.version + 1;
        for row in &page {
            if let Some(end) = row.event_time_ms {
                // Its events are those of one event-time window, spread among other windows'
                // in the ranges it names: the ranges do not tile the log.
                return Err(ReplayError::Differs(format!(
                    "version {} was made on event time (window ending at {end} ms): replay checks versions made on processing time only",
                    row.version
                )));
            }
            let mut ranges = row.offsets.clone();
            ranges.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
            let mut positions = Vec::new();
            for r in &ranges {
                let expected = next.entry((r.topic.clone(), r.partition)).or_insert(r.from);
                if r.from < *expected {
                    return Err(ReplayError::Differs(format!(
                        "version {}: {}/{} from {} overlaps the previous version (ended at {expected})",
                        row.version, r.topic, r.partition, r.from
                    )));
                }
                *expected = r.to;
                read_positions(log, r, &mut positions).await?;
            }
            if row.batches > 1 {
                if positions.len() as u64 != row.batch_points {
                    return Err(ReplayError::Differs(format!(
                        "version {} (folded from {} batches): its ranges hold {} points, it counts {}",
                        row.version,
                        row.batches,
                        positions.len(),
                        row.batch_points
                    )));
                }
                let snapshot = crate::kmeans_processor::snapshot_from_row(row)?;
                single = MobileKMeans::restore(settings.clone(), snapshot);
                report.versions += 1;
                report.folded += 1;
                report.points += row.batch_points;
                continue;
            }
            let replayed = single.process(&positions).ok_or_else(|| {
                ReplayError::Differs(format!(
                    "version {}: one process would still be gathering points",
                    row.version
                ))
            })?;
            if replayed.version != row.version || replayed.batch_points != row.batch_points {
                return Err(ReplayError::Differs(format!(
                    "version {}: one process made version {} of {} points; stored: {} points",
                    row.version, replayed.version, replayed.batch_points, row.batch_points
                )));
            }
            for (c, stored) in replayed.centres.iter().zip(&row.centres) {
                if c.count != stored.batch_count {
                    return Err(ReplayError::Differs(format!(
                        "version {} cluster {}: {} points, stored {}",
                        row.version, c.cluster, c.count, stored.batch_count
                    )));
                }
                let rel = |a: f64, b: f64| (a - b).abs() / a.abs().max(b.abs()).max(1.0);
                let centre = rel(c.lat, stored.lat).max(rel(c.lon, stored.lon));
                let weight = rel(c.weight, stored.weight);
                report.max_centre_error = report.max_centre_error.max(centre);
                report.max_weight_error = report.max_weight_error.max(weight);
                if centre > tolerance || weight > tolerance {
                    return Err(ReplayError::Differs(format!(
                        "version {} cluster {}: one process has ({}, {}) weight {}, stored ({}, {}) weight {}",
                        row.version, c.cluster, c.lat, c.lon, c.weight, stored.lat, stored.lon, stored.weight
                    )));
                }
            }
            // The sum of squares is the same sum in another order (shares by partition).
            let stored = row.sum_of_squares.unwrap_or(f64::NAN);
            let error = (replayed.sum_of_squares - stored).abs() / replayed.sum_of_squares.abs().max(1.0);
            if error.is_nan() || error > tolerance {
                return Err(ReplayError::Differs(format!(
                    "version {}: one process has a sum of squares of {}, stored {stored}",
                    row.version, replayed.sum_of_squares
                )));
            }
            if row.silhouette.is_some_and(|s| !(-1.0..=1.0).contains(&s)) {
                return Err(ReplayError::Differs(format!(
                    "version {}: silhouette {:?} outside [−1, 1]",
                    row.version, row.silhouette
                )));
            }
            report.versions += 1;
            report.points += row.batch_points;
        }
    }
    Ok(report)
}

/// Appends the positions in `range` (records that are not events are skipped, as dead letters
/// were).
async fn read_positions(
    log: &dyn EventLog,
    range: &OffsetRange,
    out: &mut Vec<[f64; 2]>,
) -> Result<(), ReplayError> {
    let mut at = range.from;
    while at < range.to {
        let limits = ReadLimits { max_records: (range.to - at) as usize, max_bytes: 1 << 20 };
        let records = log.read(&range.topic, range.partition, at, limits).await?;
        let Some(last) = records.last() else {
            return Err(ReplayError::Differs(format!(
                "{}/{} ends before offset {}",
                range.topic, range.partition, range.to
            )));
        };
        at = last.offset + 1;
        out.extend(records.iter().filter_map(|r| crate::mobile_record::position(&r.record).ok()));
    }
    Ok(())
}

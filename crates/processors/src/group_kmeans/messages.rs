//! What the coordinator and the workers say to each other, as JSON records.

use serde::{Deserialize, Serialize};

use crate::kmeans::BatchStats;
use crate::mobile_kmeans::Snapshot;

/// A share message is kept below this size (Kafka's default limit is 1 MB): a worker ends its
/// reading of a round early rather than send more. Sums and counts are small; positions (while
/// k-means++ gathers) and dead records are what grow.
pub const MAX_SHARES_BYTES: usize = 512 * 1024;

/// A dead record's reason is cut to this many bytes in a share.
pub const MAX_REASON_BYTES: usize = 200;

/// A share carries at most this many sample points for the silhouette (a few kilobytes).
pub const SHARE_SAMPLE: usize = 100;

/// The coordinator opens round `round`: read from `from`, assign against `model`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Round {
    pub round: u64,
    /// The worker that coordinates, for logs.
    pub coordinator: String,
    /// The model to assign against; `None` while k-means++ gathers its first points (shares
    /// then carry the positions).
    pub model: Option<Snapshot>,
    /// The next offset of every partition of the events topic (index = partition).
    pub from: Vec<u64>,
}

/// One worker's shares of a round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shares {
    pub round: u64,
    pub worker: String,
    pub shares: Vec<Share>,
}

/// One partition's part of a round's micro-batch: offsets `[from, to)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Share {
    pub partition: u32,
    pub from: u64,
    pub to: u64,
    /// Points per cluster (k numbers; empty while gathering).
    #[serde(default)]
    pub counts: Vec<u64>,
    /// Sums per cluster, flat k × 2 (empty while gathering).
    #[serde(default)]
    pub sums: Vec<f64>,
    /// The share's within-cluster sum of squares (see [`BatchStats::sum_of_squares`]).
    #[serde(default)]
    pub sum_of_squares: f64,
    /// Up to [`SHARE_SAMPLE`] of the share's points in the clustered space, evenly spread: the
    /// coordinator estimates the version's silhouette on the shares' samples.
    #[serde(default)]
    pub sample: Vec<[f64; 2]>,
    /// `[lat, lon]` in offset order, while gathering.
    #[serde(default)]
    pub positions: Vec<[f64; 2]>,
    /// Records that are not mobile events: the coordinator stores them as dead letters.
    #[serde(default)]
    pub dead: Vec<DeadRecord>,
    /// Records below `to` that retention deleted before they were read.
    #[serde(default)]
    pub lost: u64,
}

/// A record of the events topic that could not be read as an event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadRecord {
    pub offset: u64,
    pub reason: String,
}

impl Share {
    /// An empty share of `partition` starting at `from`.
    pub fn empty(partition: u32, from: u64) -> Self {
        Self {
            partition,
            from,
            to: from,
            counts: Vec::new(),
            sums: Vec::new(),
            sum_of_squares: 0.0,
            sample: Vec::new(),
            positions: Vec::new(),
            dead: Vec::new(),
            lost: 0,
        }
    }

    /// The share's statistics for `k` clusters, or why they do not fit the model.
    pub fn stats(&self, k: usize) -> Result<BatchStats, BadShare> {
        if self.counts.is_empty() && self.sums.is_empty() {
            return Ok(BatchStats::new(k, 2));
        }
        if self.counts.len() != k
            || self.sums.len() != 2 * k
            || self.sums.iter().any(|s| !s.is_finite())
            || !(self.sum_of_squares.is_finite() && self.sum_of_squares >= 0.0)
        {
            return Err(self.bad(format!(
                "has {} counts and {} sums; the model has k = {k}",
                self.counts.len(),
                self.sums.len()
            )));
        }
        Ok(BatchStats {
            dim: 2,
            sums: self.sums.clone(),
            counts: self.counts.clone(),
            sum_of_squares: self.sum_of_squares,
        })
    }

    fn bad(&self, problem: String) -> BadShare {
        BadShare { partition: self.partition, problem }
    }

    /// Records the share accounts for: points, dead records and lost ones.
    pub fn records(&self) -> u64 {
        self.to - self.from
    }

    /// Checks what the coordinator relies on: a range that is not reversed, and contents that
    /// add up to it.
    pub fn check(&self) -> Result<(), BadShare> {
        if self.to < self.from {
            return Err(self.bad("ends before it starts".into()));
        }
        if self.sample.len() > SHARE_SAMPLE || self.sample.iter().flatten().any(|v| !v.is_finite()) {
            return Err(
                self.bad(format!("holds more than {SHARE_SAMPLE} sample points or one that is not finite"))
            );
        }
        if self.positions.iter().any(|p| !(p[0].abs() <= 90.0 && p[1].abs() <= 180.0)) {
            return Err(self.bad("holds a position that is not on Earth".into()));
        }
        let counted = self.counts.iter().sum::<u64>()
            + self.positions.len() as u64
            + self.dead.len() as u64
            + self.lost;
        if counted != self.records() {
            return Err(self.bad(format!("covers {} records but accounts for {counted}", self.records())));
        }
        Ok(())
    }
}

/// A share the coordinator cannot use, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("share of partition {partition} {problem}")]
pub struct BadShare {
    pub partition: u32,
    /// What is wrong with it, such as "ends before it starts".
    pub problem: String,
}

/// Cuts a reason to [`MAX_REASON_BYTES`] on a character boundary.
pub fn short_reason(reason: &str) -> String {
    let mut end = reason.len().min(MAX_REASON_BYTES);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    reason[..end].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_must_add_up_and_hold_real_positions() {
        let mut share = Share::empty(1, 10);
        assert!(share.check().is_ok());
        share.to = 12;
        assert!(share.check().unwrap_err().problem.contains("accounts for 0"));
        share.positions = vec![[52.5, 13.4], [91.0, 0.0]];
        assert!(share.check().unwrap_err().problem.contains("not on Earth"));
        share.positions[1] = [48.1, 11.6];
        assert!(share.check().is_ok());
        share.to = 9;
        assert!(share.check().unwrap_err().problem.contains("ends before"));
        let stats =
            Share { counts: vec![1, 2], sums: vec![0.0, 1.0, f64::INFINITY, 2.0], ..Share::empty(0, 0) };
        assert!(stats.stats(2).is_err(), "sums must be finite");
        assert!(Share { counts: vec![1], ..Share::empty(0, 0) }.stats(2).is_err(), "k must match");
        let negative =
            Share { counts: vec![1, 0], sums: vec![0.0; 4], sum_of_squares: -1.0, ..Share::empty(0, 0) };
        assert!(negative.stats(2).is_err(), "a sum of squares is ≥ 0");
        let sample = Share { sample: vec![[f64::NAN, 0.0]], ..Share::empty(0, 0) };
        assert!(sample.check().unwrap_err().problem.contains("sample"));
        assert_eq!(short_reason(&"é".repeat(150)).len(), 200);
    }
}

//! Retention of the serving store: what it keeps of a model's history and of dead letters, so
//! that a platform running for weeks stays within a bounded size.
//!
//! **Model history.** A model commits a version per micro-batch (about 17 a second at `up`'s
//! defaults). Every version is kept for [`Retention::versions_all`]; older ones are thinned to
//! the last version of each minute until [`Retention::versions_minutely`], of each hour until
//! [`Retention::versions_hourly`], and of each day after that. The newest version is always kept
//! (a processor resumes from it). Thinning *folds* the versions it removes into the one it keeps
//! (the next younger in the same bucket): that version's `batch_points`, its centres'
//! `batch_count`, its `batches` and its offset ranges become the sums and the union over all of
//! them. So the number of points a model has counted stays exact, and the versions' offset
//! ranges still tile the log: every event is in exactly one stored version. What is lost is
//! the state of the model between the kept versions, so `replay` can check bit for bit only the
//! versions that stand for one micro-batch (`batches = 1`); a folded version it can check only
//! for its counts and ranges.
//!
//! **Dead letters** are deleted once older than [`Retention::dead_letters_age`], and the oldest
//! beyond [`Retention::dead_letters_max`].

use std::time::Duration;

use tributary_settings::{KeyError, Limit, human_duration};

/// What the store keeps (see the module documentation), and how often retention runs:
/// `[retention]` in `tributary.toml`.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Retention {
    /// Every version younger than this is kept …
    #[serde(deserialize_with = "human_duration")]
    pub versions_all: Duration,
    /// … then the last of each minute until this age …
    #[serde(deserialize_with = "human_duration")]
    pub versions_minutely: Duration,
    /// … then the last of each hour until this age, and of each day after it.
    #[serde(deserialize_with = "human_duration")]
    pub versions_hourly: Duration,
    /// Dead letters older than this are deleted (`None`, "forever" in TOML: kept whatever
    /// their age).
    #[serde(deserialize_with = "age_limit")]
    pub dead_letters_age: Option<Duration>,
    /// At most this many dead letters are kept, the newest (`None`, 0 in TOML: no limit).
    #[serde(deserialize_with = "count_limit")]
    pub dead_letters_max: Option<u64>,
    /// How often retention runs (where models are written).
    #[serde(deserialize_with = "human_duration")]
    pub check_interval: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            versions_all: Duration::from_secs(10 * 60),
            versions_minutely: Duration::from_secs(24 * 3600),
            versions_hourly: Duration::from_secs(30 * 24 * 3600),
            dead_letters_age: Some(Duration::from_secs(30 * 24 * 3600)),
            dead_letters_max: Some(1_000_000),
            check_interval: Duration::from_secs(60),
        }
    }
}

fn age_limit<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    <Limit<Duration> as serde::Deserialize>::deserialize(d).map(|l| l.get())
}

fn count_limit<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    <u64 as serde::Deserialize>::deserialize(d).map(|n| (n > 0).then_some(n))
}

impl Retention {
    /// Checks that the tiers are in order and the interval is not 0; the error names the key.
    pub fn validate(&self) -> Result<(), KeyError> {
        if self.versions_minutely < self.versions_all {
            return Err(KeyError::new("versions_minutely", "must not be shorter than versions_all"));
        }
        if self.versions_hourly < self.versions_minutely {
            return Err(KeyError::new("versions_hourly", "must not be shorter than versions_minutely"));
        }
        if self.check_interval.is_zero() {
            return Err(KeyError::new("check_interval", "must be longer than 0"));
        }
        Ok(())
    }

    /// The bucket of a version made at `created_ms`, seen at `now_ms`: `None` while every
    /// version of its age is kept; otherwise versions with equal buckets fold into one.
    pub fn bucket(&self, created_ms: i64, now_ms: i64) -> Option<(u8, i64)> {
        let age = Duration::from_millis(now_ms.saturating_sub(created_ms).max(0) as u64);
        let (tier, width_ms) = if age < self.versions_all {
            return None;
        } else if age < self.versions_minutely {
            (1, 60_000)
        } else if age < self.versions_hourly {
            (2, 3_600_000)
        } else {
            (3, 86_400_000)
        };
        Some((tier, created_ms.div_euclid(width_ms)))
    }
}

/// Versions `first..=last` of a model, folded into `last`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fold {
    pub first: u64,
    pub last: u64,
    /// How many versions the range holds (versions are numbered densely, but a range may span
    /// numbers that earlier folds removed).
    pub versions: u64,
}

/// A stored model version, as retention plans with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredVersion {
    pub version: u64,
    pub created_ms: i64,
    /// The model's k: versions of different k (the model restarted with another k) are never
    /// folded together, since their clusters are not the same.
    pub k: u32,
}

/// The folds that thin `versions` (ascending) at `now_ms`. `newest` is the model's newest
/// version, which is never folded away.
pub fn plan(retention: &Retention, versions: &[StoredVersion], newest: u64, now_ms: i64) -> Vec<Fold> {
    let mut folds = Vec::new();
    let mut run: Option<(Fold, (u8, i64, u32))> = None;
    for &StoredVersion { version, created_ms, k } in versions {
        let bucket = if version == newest {
            None
        } else {
            retention.bucket(created_ms, now_ms).map(|(t, b)| (t, b, k))
        };
        match (&mut run, bucket) {
            (Some((fold, b)), Some(bucket)) if *b == bucket => {
                fold.last = version;
                fold.versions += 1;
            }
            _ => {
                if let Some((fold, _)) = run.take()
                    && fold.versions > 1
                {
                    folds.push(fold);
                }
                run = bucket.map(|b| (Fold { first: version, last: version, versions: 1 }, b));
            }
        }
    }
    if let Some((fold, _)) = run
        && fold.versions > 1
    {
        folds.push(fold);
    }
    folds
}

/// What one pass of retention removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionReport {
    /// Model versions folded into younger ones.
    pub versions_folded: u64,
    /// Dead letters deleted.
    pub dead_letters_deleted: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;
    const HOUR: i64 = 60 * MIN;
    const DAY: i64 = 24 * HOUR;

    #[test]
    fn young_versions_stay_then_one_per_minute_hour_and_day() {
        let r = Retention::default();
        let now = 100 * DAY;
        assert_eq!(r.bucket(now - 9 * MIN, now), None);
        assert_eq!(r.bucket(now - 11 * MIN, now), Some((1, (now - 11 * MIN) / MIN)));
        assert_eq!(r.bucket(now - 2 * DAY, now), Some((2, (now - 2 * DAY) / HOUR)));
        assert_eq!(r.bucket(now - 40 * DAY, now), Some((3, 60)));
        assert_eq!(r.bucket(now + 5 * MIN, now), None, "a clock running behind keeps a version");
    }

    #[test]
    fn a_plan_folds_each_bucket_into_its_last_version_and_never_the_newest() {
        let r = Retention::default();
        let now = 10 * DAY;
        // Ten versions a minute for an hour, two hours ago; then the newest, an hour ago.
        let v = |version, created_ms| StoredVersion { version, created_ms, k: 8 };
        let mut versions: Vec<StoredVersion> =
            (0..600).map(|i| v(i + 1, now - 2 * HOUR + i as i64 * 6_000)).collect();
        versions.push(v(601, now - HOUR));
        let folds = plan(&r, &versions, 601, now);
        assert_eq!(folds.len(), 60);
        assert!(folds.iter().all(|f| f.versions == 10 && f.last == f.first + 9));
        assert_eq!(folds[0], Fold { first: 1, last: 10, versions: 10 });
        // The same versions a day and a half later fold by the hour; the newest stays alone.
        let later = plan(&r, &versions, 601, now + 36 * HOUR);
        assert_eq!(later.iter().map(|f| f.versions).sum::<u64>(), 600);
        assert!(later.iter().all(|f| f.last <= 600));
        // Thinning what was thinned changes nothing.
        let kept: Vec<StoredVersion> = versions
            .iter()
            .copied()
            .filter(|v| folds.iter().all(|f| v.version < f.first || v.version >= f.last))
            .collect();
        assert_eq!(kept.len(), 61);
        assert!(plan(&r, &kept, 601, now).is_empty());
        // Where the model restarted with another k (after version 5), the minute splits there.
        let mut changed = versions.clone();
        changed.iter_mut().skip(5).for_each(|v| v.k = 12);
        let folds = plan(&r, &changed, 601, now);
        assert_eq!(
            &folds[..2],
            [Fold { first: 1, last: 5, versions: 5 }, Fold { first: 6, last: 10, versions: 5 }]
        );
    }

    #[test]
    fn tiers_out_of_order_are_refused_by_name() {
        let r = Retention { versions_minutely: Duration::from_secs(1), ..Default::default() };
        assert_eq!(r.validate().unwrap_err().key, "versions_minutely");
    }
}

//! The streaming k-means as configured: the k-means keys of `[mobile]` in `tributary.toml`,
//! checked once, here, into the settings the processors run with.

use std::time::Duration;

use serde::Deserialize;
use tributary_settings::{KeyError, human_duration};

use crate::event_time::EventTimeSettings;
use crate::group_kmeans::GroupKMeansConfig;
use crate::kmeans::{TimeUnit, decay_from_half_life};
use crate::kmeans_processor::KMeansProcessorConfig;
use crate::mobile_kmeans::{Init, KMeansSettings, ProjectionMode};

/// The k-means of the mobile pipeline: its model, update rule and micro-batches.
///
/// ```
/// let c: tributary_processors::kmeans_config::KMeansConfig =
///     toml::from_str("k = 5\ninit = \"random\"\nbatch_interval = \"5s\"").unwrap();
/// let processor = c.processor("mobile_data").unwrap();
/// assert_eq!((processor.settings.k, processor.batch_interval.as_secs()), (5, 5));
/// let bad: tributary_processors::kmeans_config::KMeansConfig = toml::from_str("k = 0").unwrap();
/// assert_eq!(bad.settings().unwrap_err().key, "k");
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KMeansConfig {
    /// Name of the model in the store (and of its processor and consumer group).
    pub model: String,
    pub k: usize,
    /// Decay factor per time unit (1 = no forgetting); `half_life` overrides it when set.
    pub decay: f64,
    pub half_life: Option<f64>,
    pub time_unit: TimeUnit,
    /// A micro-batch closes this long after its first event …
    #[serde(deserialize_with = "human_duration")]
    pub batch_interval: Duration,
    /// … or at this many events.
    pub batch_max_records: usize,
    /// How the first centres are chosen.
    pub init: InitMethod,
    /// Events k-means++ chooses the first centres from.
    pub init_min_points: usize,
    pub seed: u64,
    /// Which coordinates are clustered.
    pub projection: ProjectionMode,
    /// Which clock makes the micro-batches: when events are read (`"processing"`, Spark's
    /// streaming) or the time they carry (`"event"`: windows of `event_window` on their own
    /// clock; see [`crate::event_time`]).
    pub time: TimeMode,
    /// On event time, the length of a window (one model version per window with events).
    #[serde(deserialize_with = "human_duration")]
    pub event_window: Duration,
    /// On event time, how far behind the newest event time an event may arrive and still be
    /// placed in its window; later ones go to the dead letters.
    #[serde(deserialize_with = "human_duration")]
    pub allowed_lateness: Duration,
    /// On event time, drop an event whose device and time equal one already in its window.
    pub drop_duplicates: bool,
    /// On event time, at most this many events wait for their windows to close.
    pub max_waiting_events: usize,
}

/// Which clock makes the micro-batches of the streaming k-means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeMode {
    /// Batches of what was read in an interval (the default, as Spark's streaming).
    Processing,
    /// Windows of the events' own timestamps.
    Event,
}

/// How the first centres are chosen, as configured (given centres come only from
/// `tributary kmeans --init-centres`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum InitMethod {
    /// k-means++ on the first events (the default).
    #[serde(rename = "kmeans++")]
    KMeansPlusPlus,
    /// N(0, 1) in the projected space, as Spark's `setRandomCenters`.
    #[serde(rename = "random")]
    Random,
}

impl std::str::FromStr for InitMethod {
    type Err = tributary_settings::InvalidValue;
    fn from_str(s: &str) -> Result<Self, tributary_settings::InvalidValue> {
        match s {
            "kmeans++" => Ok(Self::KMeansPlusPlus),
            "random" => Ok(Self::Random),
            _ => Err(tributary_settings::InvalidValue(format!(
                "'{s}' is not an initialisation: accepted \"kmeans++\" or \"random\""
            ))),
        }
    }
}

impl Default for KMeansConfig {
    fn default() -> Self {
        Self {
            model: "mobile".into(),
            k: 8,
            decay: 1.0,
            half_life: None,
            time_unit: TimeUnit::Batches,
            batch_interval: Duration::from_millis(50),
            batch_max_records: 10_000,
            init: InitMethod::KMeansPlusPlus,
            init_min_points: 1000,
            seed: 1,
            projection: ProjectionMode::Km,
            time: TimeMode::Processing,
            event_window: Duration::from_secs(5),
            allowed_lateness: Duration::from_secs(2),
            drop_duplicates: false,
            max_waiting_events: 1_000_000,
        }
    }
}

impl KMeansConfig {
    /// The update rule's settings, checked; the error names the key.
    pub fn settings(&self) -> Result<KMeansSettings, KeyError> {
        let decay = decay(self.decay, self.half_life)?;
        let init = match self.init {
            InitMethod::KMeansPlusPlus => {
                Init::KMeansPlusPlus { seed: self.seed, min_points: self.init_min_points }
            }
            InitMethod::Random => Init::Random { seed: self.seed },
        };
        let settings =
            KMeansSettings { k: self.k, decay, time_unit: self.time_unit, init, projection: self.projection };
        settings.validate()?;
        if self.batch_max_records == 0 {
            return Err(KeyError::new("batch_max_records", "must be at least 1"));
        }
        if self.batch_interval.is_zero() {
            return Err(KeyError::new("batch_interval", "must be longer than 0"));
        }
        self.event_time()?;
        Ok(settings)
    }

    /// The event-time settings when `time = "event"`, checked; `None` on processing time.
    pub fn event_time(&self) -> Result<Option<EventTimeSettings>, KeyError> {
        if self.time == TimeMode::Processing {
            if self.drop_duplicates {
                return Err(KeyError::new(
                    "drop_duplicates",
                    "works on event time only (duplicates are found in an event-time window): set time = \"event\"",
                ));
            }
            return Ok(None);
        }
        if self.event_window < Duration::from_millis(1) {
            return Err(KeyError::new("event_window", "must be at least 1ms"));
        }
        if self.max_waiting_events == 0 {
            return Err(KeyError::new("max_waiting_events", "must be at least 1"));
        }
        Ok(Some(EventTimeSettings {
            window: self.event_window,
            allowed_lateness: self.allowed_lateness,
            drop_duplicates: self.drop_duplicates,
            max_waiting: self.max_waiting_events,
        }))
    }

    /// The k-means of one process over `topic`.
    pub fn processor(&self, topic: &str) -> Result<KMeansProcessorConfig, KeyError> {
        Ok(KMeansProcessorConfig {
            name: self.model.clone(),
            topic: topic.to_string(),
            settings: self.settings()?,
            max_batch_records: self.batch_max_records,
            batch_interval: self.batch_interval,
            event_time: self.event_time()?,
        })
    }

    /// One worker (named `worker`) of the k-means of a consumer group over `topic`.
    pub fn group(&self, topic: &str, worker: String) -> Result<GroupKMeansConfig, KeyError> {
        if self.time == TimeMode::Event {
            return Err(KeyError::new(
                "time",
                "= \"event\" runs in one process (up, or a worker without a group): the workers of a consumer group cut micro-batches on processing time",
            ));
        }
        Ok(GroupKMeansConfig {
            name: self.model.clone(),
            topic: topic.to_string(),
            settings: self.settings()?,
            max_batch_records: self.batch_max_records,
            batch_interval: self.batch_interval,
            worker,
        })
    }
}

/// The decay factor: `decay`, or the one of `half_life` when given (Spark's `setHalfLife`).
pub fn decay(decay: f64, half_life: Option<f64>) -> Result<f64, KeyError> {
    match half_life {
        Some(h) if h > 0.0 && h.is_finite() => Ok(decay_from_half_life(h)),
        Some(h) => Err(KeyError::new("half_life", format!("= {h}: must be a positive number"))),
        None => Ok(decay),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(toml: &str) -> KMeansConfig {
        toml::from_str(toml).unwrap()
    }

    #[test]
    fn event_time_is_read_checked_and_refused_where_it_cannot_run() {
        let c = config(
            "time = \"event\"\nevent_window = \"10s\"\nallowed_lateness = \"1h\"\ndrop_duplicates = true",
        );
        let e = c.processor("mobile_data").unwrap().event_time.unwrap();
        assert_eq!((e.window.as_secs(), e.allowed_lateness.as_secs(), e.drop_duplicates), (10, 3600, true));
        // The workers of a consumer group cut batches on processing time.
        let refused = c.group("mobile_data", "w1".into()).unwrap_err();
        assert!(refused.key == "time" && refused.to_string().contains("one process"), "{refused}");
        // Duplicates are found in event-time windows only.
        let refused = config("drop_duplicates = true").settings().unwrap_err();
        assert!(
            refused.key == "drop_duplicates" && refused.to_string().contains("time = \"event\""),
            "{refused}"
        );
        assert_eq!(
            config("time = \"event\"\nevent_window = \"0s\"").settings().unwrap_err().key,
            "event_window"
        );
        assert_eq!(
            config("time = \"event\"\nmax_waiting_events = 0").settings().unwrap_err().key,
            "max_waiting_events"
        );
        assert!(config("").processor("mobile_data").unwrap().event_time.is_none());
        let bad = toml::from_str::<KMeansConfig>("time = \"sometimes\"").unwrap_err().to_string();
        assert!(bad.contains("processing") && bad.contains("event"), "{bad}");
    }
}

//! The streaming k-means as configured: the k-means keys of `[mobile]` in `tributary.toml`,
//! checked once, here, into the settings the processors run with.

use std::time::Duration;

use serde::Deserialize;
use tributary_settings::{KeyError, human_duration};

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
        Ok(settings)
    }

    /// The k-means of one process over `topic`.
    pub fn processor(&self, topic: &str) -> Result<KMeansProcessorConfig, KeyError> {
        Ok(KMeansProcessorConfig {
            name: self.model.clone(),
            topic: topic.to_string(),
            settings: self.settings()?,
            max_batch_records: self.batch_max_records,
            batch_interval: self.batch_interval,
        })
    }

    /// One worker (named `worker`) of the k-means of a consumer group over `topic`.
    pub fn group(&self, topic: &str, worker: String) -> Result<GroupKMeansConfig, KeyError> {
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

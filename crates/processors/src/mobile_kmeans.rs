//! The mobile-positions k-means: positions in, model versions out.
//!
//! Wraps [`KMeansModel`] with what a GPS stream needs: the projection to km, initialisation
//! (given centres, random, or k-means++ on the first points), versioning, and snapshots that let a
//! restarted processor continue exactly where it stopped. The same code runs in the streaming
//! processor and in `tributary kmeans` over files.

use serde::{Deserialize, Serialize};
use tributary_settings::KeyError;

use crate::kmeans::{
    BatchStats, KMeansModel, Projection, TimeUnit, even_sample, kmeans_plus_plus, random_centres,
};

/// A version's silhouette is estimated on at most this many points of its micro-batch, taken at
/// an even stride through it ([`even_sample`]): 31,000 distances, about 0.15 ms per version — a
/// few per cent of the streaming path at its fastest (10,000-event batches), so no more.
pub const SILHOUETTE_SAMPLE: usize = 250;

/// How the first centres are chosen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Init {
    /// Greedy k-means++ on the first `min_points` positions (at least k), which then also form
    /// the first batch. The default: random centres are meaningless for GPS positions.
    KMeansPlusPlus { seed: u64, min_points: usize },
    /// Coordinates drawn from N(0, 1) in the projected space (as Spark's `setRandomCenters`),
    /// once the first batch has fixed the projection's origin.
    Random { seed: u64 },
    /// Given centres as `[lat, lon]`, with weights (0 when not given).
    Given { centres: Vec<[f64; 2]>, weights: Vec<f64> },
}

/// Which coordinates are clustered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProjectionMode {
    /// Kilometres north/east of the data's centre (the default).
    Km,
    /// Raw (lat, lon) degrees, as the reference Spark job did.
    None,
}

impl std::str::FromStr for ProjectionMode {
    type Err = tributary_settings::InvalidValue;
    fn from_str(s: &str) -> Result<Self, tributary_settings::InvalidValue> {
        match s {
            "km" => Ok(Self::Km),
            "none" => Ok(Self::None),
            _ => Err(tributary_settings::InvalidValue(format!(
                "'{s}' is not a projection: accepted \"km\" or \"none\""
            ))),
        }
    }
}

/// Parameters of the processor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KMeansSettings {
    pub k: usize,
    pub decay: f64,
    pub time_unit: TimeUnit,
    pub init: Init,
    pub projection: ProjectionMode,
}

impl KMeansSettings {
    /// Checks ranges; the error names the setting.
    pub fn validate(&self) -> Result<(), KeyError> {
        if self.k == 0 || self.k > 1000 {
            return Err(KeyError::new("k", format!("= {}: accepted 1 to 1000", self.k)));
        }
        if !(self.decay > 0.0 && self.decay <= 1.0) {
            return Err(KeyError::new("decay", format!("= {}: accepted 0 < decay ≤ 1", self.decay)));
        }
        if let Init::Given { centres, weights } = &self.init {
            let init = |message: String| Err(KeyError::new("init", message));
            if centres.len() != self.k {
                return init(format!("gives {} initial centres for k = {}", centres.len(), self.k));
            }
            if weights.len() != self.k || weights.iter().any(|w| !(w.is_finite() && *w >= 0.0)) {
                return init("weights must be k finite numbers ≥ 0".into());
            }
            if centres.iter().any(|c| !(c[0].abs() <= 90.0 && c[1].abs() <= 180.0)) {
                return init("centres must be valid [lat, lon] positions".into());
            }
        }
        Ok(())
    }
}

/// Everything needed to continue a model after a restart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub version: u64,
    pub projection: Projection,
    /// Centres in the projected space and weights, bit-exact.
    pub model: KMeansModel,
}

/// One centre of a published model version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Centre {
    pub cluster: usize,
    pub lat: f64,
    pub lon: f64,
    pub weight: f64,
    /// Points of this version's batch assigned to the cluster.
    pub count: u64,
}

/// A model version, as published after each micro-batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelVersion {
    pub version: u64,
    /// Points in the batch (the sum of the centres' counts).
    pub batch_points: u64,
    pub centres: Vec<Centre>,
    /// `[largest, smallest]` if the dying smallest cluster was replaced by a split this batch.
    pub split: Option<[usize; 2]>,
    /// The batch's within-cluster sum of squares: Σ of each point's squared distance to the
    /// centre it was assigned to (km² with the default projection, degrees² without).
    #[serde(default)]
    pub sum_of_squares: f64,
    /// The silhouette of up to [`SILHOUETTE_SAMPLE`] of the batch's points against this
    /// version's centres, from −1 to 1; `None` when they fall in fewer than two clusters.
    #[serde(default)]
    pub silhouette: Option<f64>,
}

/// The processor state: waiting for initial points, or a model.
#[derive(Debug, Clone)]
pub struct MobileKMeans {
    settings: KMeansSettings,
    state: Option<Snapshot>,
    /// Positions held back until there are enough to initialise (k-means++).
    pending: Vec<[f64; 2]>,
    /// The version this model's first version follows: 0, or the last version of the model it
    /// replaces (one with another k), so that versions stay numbered in order.
    after_version: u64,
}

impl MobileKMeans {
    /// A fresh processor; `settings` must be valid.
    pub fn new(settings: KMeansSettings) -> Self {
        Self { settings, state: None, pending: Vec::new(), after_version: 0 }
    }

    /// A fresh processor whose versions follow `last_version` of a model it replaces (the
    /// stored model has another k): the old versions stay readable in the history, and the
    /// newest version is always the current model's.
    pub fn replacing(settings: KMeansSettings, last_version: u64) -> Self {
        Self { after_version: last_version, ..Self::new(settings) }
    }

    /// A processor continuing from a snapshot.
    pub fn restore(settings: KMeansSettings, snapshot: Snapshot) -> Self {
        Self { settings, state: Some(snapshot), pending: Vec::new(), after_version: 0 }
    }

    /// The state to persist, once there is a model.
    pub fn snapshot(&self) -> Option<&Snapshot> {
        self.state.as_ref()
    }

    /// Positions held back waiting for initialisation.
    pub fn pending_points(&self) -> usize {
        self.pending.len()
    }

    /// Processes one micro-batch of `[lat, lon]` positions. Returns the new model version, or
    /// `None` while k-means++ is still gathering its first points (they are kept and counted in the
    /// first version).
    pub fn process(&mut self, positions: &[[f64; 2]]) -> Option<ModelVersion> {
        let batch: Vec<[f64; 2]>;
        let positions = if self.state.is_none() {
            self.pending.extend_from_slice(positions);
            if !self.initialise() {
                return None;
            }
            batch = std::mem::take(&mut self.pending);
            &batch[..]
        } else {
            positions
        };
        let points = self.project(positions).expect("initialised");
        let stats = self.state.as_ref().expect("initialised").model.assign(&points);
        self.apply_stats(&stats, &even_sample(&points, 2, SILHOUETTE_SAMPLE))
    }

    /// Positions in the clustered space (flat x, y), once the projection is known.
    fn project(&self, positions: &[[f64; 2]]) -> Option<Vec<f64>> {
        let state = self.state.as_ref()?;
        let mut points = Vec::with_capacity(positions.len() * 2);
        for p in positions {
            points.extend_from_slice(&state.projection.forward(p[0], p[1]));
        }
        Some(points)
    }

    /// Up to `max` of `positions`, evenly spread, in the clustered space: a worker's part of the
    /// sample a version's silhouette is estimated on. Empty before the model exists.
    pub fn sample(&self, positions: &[[f64; 2]], max: usize) -> Vec<f64> {
        let picked: Vec<[f64; 2]> =
            even_sample(positions.as_flattened(), 2, max).chunks_exact(2).map(|p| [p[0], p[1]]).collect();
        self.project(&picked).unwrap_or_default()
    }

    /// Per-cluster sums and counts of `[lat, lon]` positions against the current model, without
    /// changing it: one worker's share of a micro-batch in the scale-out k-means. `None` before
    /// the model exists.
    pub fn share_stats(&self, positions: &[[f64; 2]]) -> Option<BatchStats> {
        let points = self.project(positions)?;
        Some(self.state.as_ref()?.model.assign(&points))
    }

    /// Applies a whole micro-batch's statistics (every worker's share merged) with Spark's rule
    /// and returns the new version, its silhouette estimated on `sample` (points of the batch in
    /// the clustered space, flat). `None` before the model exists.
    pub fn apply_stats(&mut self, stats: &BatchStats, sample: &[f64]) -> Option<ModelVersion> {
        let state = self.state.as_mut()?;
        let outcome = state.model.apply(stats, self.settings.decay, self.settings.time_unit);
        state.version += 1;
        Some(ModelVersion {
            sum_of_squares: stats.sum_of_squares,
            silhouette: state.model.silhouette(sample),
            version: state.version,
            batch_points: stats.points(),
            centres: (0..state.model.k())
                .map(|i| {
                    let c = state.model.centre(i);
                    let [lat, lon] = state.projection.inverse([c[0], c[1]]);
                    Centre { cluster: i, lat, lon, weight: state.model.weights[i], count: stats.counts[i] }
                })
                .collect(),
            split: outcome.split.map(|(a, b)| [a, b]),
        })
    }

    /// The settings this processor runs with.
    pub fn settings(&self) -> &KMeansSettings {
        &self.settings
    }

    /// Sets up the model from pending positions if possible; true once there is a model.
    fn initialise(&mut self) -> bool {
        let k = self.settings.k;
        let origin = |positions: &[[f64; 2]]| match self.settings.projection {
            ProjectionMode::None => Some(Projection::None),
            ProjectionMode::Km => Projection::centred_on(positions.iter().copied()),
        };
        let (projection, centres, weights) = match &self.settings.init {
            Init::Given { centres, weights } => {
                let Some(projection) = origin(centres) else { return false };
                let flat = centres.iter().flat_map(|c| projection.forward(c[0], c[1])).collect();
                (projection, flat, weights.clone())
            }
            Init::Random { seed } => {
                let Some(projection) = origin(&self.pending) else { return false };
                (projection, random_centres(k, 2, *seed), vec![0.0; k])
            }
            Init::KMeansPlusPlus { seed, min_points } => {
                if self.pending.len() < (*min_points).max(k) {
                    return false;
                }
                let Some(projection) = origin(&self.pending) else { return false };
                let points: Vec<f64> =
                    self.pending.iter().flat_map(|p| projection.forward(p[0], p[1])).collect();
                let Some(centres) = kmeans_plus_plus(&points, 2, k, *seed) else { return false };
                (projection, centres, vec![0.0; k])
            }
        };
        let version = self.after_version;
        self.state = Some(Snapshot { version, projection, model: KMeansModel::new(2, centres, weights) });
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(init: Init, projection: ProjectionMode) -> KMeansSettings {
        KMeansSettings { k: 2, decay: 1.0, time_unit: TimeUnit::Batches, init, projection }
    }

    #[test]
    fn kmeans_plus_plus_waits_for_its_first_points_and_counts_them_in_version_one() {
        let mut p =
            MobileKMeans::new(settings(Init::KMeansPlusPlus { seed: 1, min_points: 6 }, ProjectionMode::Km));
        assert!(p.process(&[[52.5, 13.4], [52.51, 13.41]]).is_none());
        assert_eq!(p.pending_points(), 2);
        let v = p.process(&[[48.1, 11.5], [48.11, 11.51], [52.49, 13.39], [48.12, 11.49]]).unwrap();
        assert_eq!((v.version, v.batch_points), (1, 6));
        assert_eq!(v.centres.iter().map(|c| c.count).sum::<u64>(), 6);
        let mut lats: Vec<f64> = v.centres.iter().map(|c| c.lat).collect();
        lats.sort_by(f64::total_cmp);
        assert!((lats[0] - 48.11).abs() < 0.01 && (lats[1] - 52.5).abs() < 0.01, "{lats:?}");
        let v2 = p.process(&[[52.5, 13.4]]).unwrap();
        assert_eq!((v2.version, v2.batch_points), (2, 1));
    }

    #[test]
    fn given_centres_without_projection_cluster_raw_degrees_like_spark() {
        let init = Init::Given { centres: vec![[0.0, 0.0], [10.0, 10.0]], weights: vec![0.0, 0.0] };
        let mut p = MobileKMeans::new(settings(init, ProjectionMode::None));
        let v = p.process(&[[1.0, 1.0], [3.0, 3.0], [9.0, 9.0]]).unwrap();
        // As the first hand-computed case of the update rule: centres (2, 2) and (9, 9).
        assert_eq!((v.centres[0].lat, v.centres[0].lon, v.centres[1].lat), (2.0, 2.0, 9.0));
        assert_eq!(p.snapshot().unwrap().model.weights, vec![2.0, 1.0]);
    }

    #[test]
    fn a_restored_processor_continues_bit_for_bit() {
        let s = settings(Init::KMeansPlusPlus { seed: 3, min_points: 4 }, ProjectionMode::Km);
        let batches: Vec<Vec<[f64; 2]>> = (0..6)
            .map(|b| {
                (0..50)
                    .map(|i| [50.0 + ((b * 50 + i) % 7) as f64 * 0.3, 8.0 + (i % 5) as f64 * 0.7])
                    .collect()
            })
            .collect();
        let mut straight = MobileKMeans::new(s.clone());
        let mut outputs = Vec::new();
        for b in &batches {
            outputs.push(straight.process(b));
        }
        let mut first = MobileKMeans::new(s.clone());
        for b in &batches[..3] {
            first.process(b);
        }
        let json = serde_json::to_string(first.snapshot().unwrap()).unwrap();
        let mut resumed = MobileKMeans::restore(s, serde_json::from_str(&json).unwrap());
        for (b, expected) in batches[3..].iter().zip(&outputs[3..]) {
            assert_eq!(&resumed.process(b), expected);
        }
    }
}

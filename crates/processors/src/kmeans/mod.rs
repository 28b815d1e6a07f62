//! Streaming k-means with exactly the update rule of Spark MLlib's `StreamingKMeansModel.update`.
//!
//! Per micro-batch: assign each point to its nearest centre ([`KMeansModel::closest`], Spark's
//! `EuclideanDistanceMeasure.findClosest`: norm lower bound, exact squared distance, ties to the
//! lowest index); sum points and count them per cluster ([`BatchStats`]); then
//! [`KMeansModel::apply`]: discount every weight by the decay factor (time unit batches) or
//! decay^n (points); for a cluster with n points and sum s, `w' = w·discount + n`,
//! `λ = n / max(w', 1e-16)`, `c' = (1−λ)·c + (λ/n)·s` — the last step as one fused multiply-add,
//! as Spark's BLAS does on Java 17 (`Math.fma`); then split the largest cluster if the smallest
//! is dying (weight below 1e-8 of the largest).
//!
//! Assignment and update are separate so that several workers can compute [`BatchStats`] for
//! their share of a batch and one coordinator can [`BatchStats::merge`] and apply them.
//!
//! Beside the update: how well a model fits ([`silhouette`], the sum of squares in
//! [`BatchStats`]) and which k the data suggest ([`suggest`]).

mod init;
mod quality;
pub mod suggest;

pub use init::{kmeans_plus_plus, random_centres};
pub use quality::{even_sample, silhouette};
pub use tributary_schema::projection::{EARTH_RADIUS_KM, Projection, haversine_km};

use serde::{Deserialize, Serialize};

/// How the decay factor is applied per micro-batch (Spark's `timeUnit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeUnit {
    /// Weights are multiplied by the decay factor once per batch.
    Batches,
    /// Weights are multiplied by decay^n for a batch of n points.
    Points,
}

impl std::str::FromStr for TimeUnit {
    type Err = tributary_settings::InvalidValue;
    fn from_str(s: &str) -> Result<Self, tributary_settings::InvalidValue> {
        match s {
            "batches" => Ok(Self::Batches),
            "points" => Ok(Self::Points),
            _ => Err(tributary_settings::InvalidValue(format!(
                "'{s}' is not a time unit: accepted \"batches\" or \"points\""
            ))),
        }
    }
}

/// The decay factor for a half-life in time units (Spark's `setHalfLife`): `exp(ln 0.5 / h)`.
///
/// ```
/// let d = tributary_processors::kmeans::decay_from_half_life(3.0);
/// assert!((d.powi(3) - 0.5).abs() < 1e-15);
/// ```
pub fn decay_from_half_life(half_life: f64) -> f64 {
    (0.5f64.ln() / half_life).exp()
}

/// Cluster centres and weights. Centres are stored flat: centre i is `centres[i*dim..(i+1)*dim]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KMeansModel {
    pub dim: usize,
    pub centres: Vec<f64>,
    pub weights: Vec<f64>,
}

/// Per-cluster sums and counts of one micro-batch (Spark's `pointStats`), and its cost.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchStats {
    pub dim: usize,
    pub sums: Vec<f64>,
    pub counts: Vec<u64>,
    /// The within-cluster sum of squares: Σ of each point's squared distance to the centre it
    /// was assigned to (the model before this batch's update, as Spark's `computeCost` would
    /// give for it), in the clustered space's units (km² with the default projection).
    pub sum_of_squares: f64,
}

/// Two-dimensional centres as separate coordinate arrays, with their norms.
struct Centres2 {
    x: Vec<f64>,
    y: Vec<f64>,
    norm: Vec<f64>,
}

/// What [`KMeansModel::apply`] did besides moving centres.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UpdateOutcome {
    /// (largest, smallest) when the dying smallest cluster was replaced by a split of the largest.
    pub split: Option<(usize, usize)>,
}

impl BatchStats {
    /// Empty statistics for `k` clusters of `dim` dimensions.
    pub fn new(k: usize, dim: usize) -> Self {
        Self { dim, sums: vec![0.0; k * dim], counts: vec![0; k], sum_of_squares: 0.0 }
    }

    /// Number of points counted.
    pub fn points(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Adds another worker's statistics for the same model version.
    pub fn merge(&mut self, other: &BatchStats) {
        for (a, b) in self.sums.iter_mut().zip(&other.sums) {
            *a += b;
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.sum_of_squares += other.sum_of_squares;
    }
}

impl KMeansModel {
    /// A model with the given centres (flat, k × dim) and weights.
    ///
    /// # Panics
    /// If the sizes do not fit or k is 0.
    pub fn new(dim: usize, centres: Vec<f64>, weights: Vec<f64>) -> Self {
        assert!(dim > 0 && !weights.is_empty() && centres.len() == weights.len() * dim);
        Self { dim, centres, weights }
    }

    /// Number of clusters.
    pub fn k(&self) -> usize {
        self.weights.len()
    }

    /// Centre `i`.
    pub fn centre(&self, i: usize) -> &[f64] {
        &self.centres[i * self.dim..(i + 1) * self.dim]
    }

    /// Euclidean norms of the centres, as Spark's `clusterCentersWithNorm`.
    pub fn centre_norms(&self) -> Vec<f64> {
        self.centres.chunks_exact(self.dim).map(norm).collect()
    }

    /// Index of the centre nearest to `point`, exactly as Spark's
    /// `EuclideanDistanceMeasure.findClosest` decides it (ties to the lowest index).
    pub fn closest(&self, norms: &[f64], point: &[f64]) -> usize {
        self.nearest(norms, point).0
    }

    /// [`closest`](Self::closest) with the squared distance to that centre.
    pub fn nearest(&self, norms: &[f64], point: &[f64]) -> (usize, f64) {
        let point_norm = norm(point);
        let mut best = f64::INFINITY;
        let mut best_index = 0;
        for (i, (centre, centre_norm)) in self.centres.chunks_exact(self.dim).zip(norms).enumerate() {
            let lower_bound = centre_norm - point_norm;
            if lower_bound * lower_bound < best {
                let d = squared_distance(centre, point);
                if d < best {
                    best = d;
                    best_index = i;
                }
            }
        }
        (best_index, best)
    }

    /// [`closest`](Self::closest) for two dimensions, bit-identical to it (a property test
    /// checks that). Spark takes centre i when both its distance and its norm lower bound are
    /// below the best so far. The bound can only ever *block* a take, and only where rounding
    /// made a bound exceed its own distance; when no bound does (nearly always), Spark's choice is
    /// exactly the first centre of least distance, found here without data-dependent branches.
    /// Otherwise the sequential scan decides.
    #[inline]
    fn closest2(centres: &Centres2, distances: &mut [f64], x: f64, y: f64) -> usize {
        let point_norm = (x * x + y * y).sqrt();
        let mut bounds_hold = true;
        for (((d, cx), cy), cn) in distances.iter_mut().zip(&centres.x).zip(&centres.y).zip(&centres.norm) {
            let (dx, dy) = (cx - x, cy - y);
            *d = dx * dx + dy * dy;
            let lower_bound = cn - point_norm;
            bounds_hold &= lower_bound * lower_bound <= *d;
        }
        let mut best = f64::INFINITY;
        let mut best_index = 0;
        if bounds_hold {
            for (i, d) in distances.iter().enumerate() {
                let take = *d < best;
                best = if take { *d } else { best };
                best_index = if take { i } else { best_index };
            }
            return best_index;
        }
        for (i, (d, centre_norm)) in distances.iter().zip(&centres.norm).enumerate() {
            let lower_bound = centre_norm - point_norm;
            if lower_bound * lower_bound < best && *d < best {
                best = *d;
                best_index = i;
            }
        }
        best_index
    }

    /// Assigns the points (flat, n × dim) of a batch and sums them per cluster.
    pub fn assign(&self, points: &[f64]) -> BatchStats {
        let mut stats = BatchStats::new(self.k(), self.dim);
        self.assign_into(points, &mut stats);
        stats
    }

    /// Like [`assign`](Self::assign), adding to existing statistics.
    pub fn assign_into(&self, points: &[f64], stats: &mut BatchStats) {
        let norms = self.centre_norms();
        let dim = self.dim;
        if dim == 2 {
            // The GPS case; the same operations as the general path, so the results are
            // bit-identical (a property test checks it).
            let centres = Centres2 {
                x: self.centres.iter().step_by(2).copied().collect(),
                y: self.centres.iter().skip(1).step_by(2).copied().collect(),
                norm: norms,
            };
            let mut distances = vec![0.0; self.k()];
            for p in points.chunks_exact(2) {
                let i = Self::closest2(&centres, &mut distances, p[0], p[1]);
                stats.counts[i] += 1;
                stats.sums[2 * i] += p[0];
                stats.sums[2 * i + 1] += p[1];
                stats.sum_of_squares += distances[i];
            }
            return;
        }
        for p in points.chunks_exact(dim) {
            let (i, distance) = self.nearest(&norms, p);
            stats.counts[i] += 1;
            stats.sum_of_squares += distance;
            for (s, x) in stats.sums[i * dim..(i + 1) * dim].iter_mut().zip(p) {
                *s += x;
            }
        }
    }

    /// Applies one micro-batch's statistics with Spark's rule (see the module docs).
    pub fn apply(&mut self, stats: &BatchStats, decay: f64, unit: TimeUnit) -> UpdateOutcome {
        let discount = match unit {
            TimeUnit::Batches => decay,
            TimeUnit::Points => decay.powf(stats.points() as f64),
        };
        for w in &mut self.weights {
            *w *= discount;
        }
        let dim = self.dim;
        for (i, &count) in stats.counts.iter().enumerate() {
            if count == 0 {
                continue;
            }
            let n = count as f64;
            let updated_weight = self.weights[i] + n;
            let lambda = n / updated_weight.max(1e-16);
            self.weights[i] = updated_weight;
            let scale = lambda / n;
            let sum = &stats.sums[i * dim..(i + 1) * dim];
            for (c, s) in self.centres[i * dim..(i + 1) * dim].iter_mut().zip(sum) {
                let shrunk = (1.0 - lambda) * *c;
                *c = scale.mul_add(*s, shrunk);
            }
        }
        self.split_dying_cluster()
    }

    /// Assigns and applies in one step.
    pub fn update(&mut self, points: &[f64], decay: f64, unit: TimeUnit) -> (BatchStats, UpdateOutcome) {
        let stats = self.assign(points);
        let outcome = self.apply(&stats, decay, unit);
        (stats, outcome)
    }

    fn split_dying_cluster(&mut self) -> UpdateOutcome {
        // Scala's maxBy/minBy over zipWithIndex: the first of equal values wins.
        let (mut largest, mut smallest) = (0, 0);
        for (i, w) in self.weights.iter().enumerate() {
            if *w > self.weights[largest] {
                largest = i;
            }
            if *w < self.weights[smallest] {
                smallest = i;
            }
        }
        let (max, min) = (self.weights[largest], self.weights[smallest]);
        let dying = min < 1e-8 * max; // false for NaN weights, as in Spark
        if !dying {
            return UpdateOutcome::default();
        }
        let weight = (max + min) / 2.0;
        self.weights[largest] = weight;
        self.weights[smallest] = weight;
        let dim = self.dim;
        for j in 0..dim {
            let x = self.centres[largest * dim + j];
            let p = 1e-14 * x.abs().max(1.0);
            self.centres[largest * dim + j] = x + p;
            self.centres[smallest * dim + j] = x - p;
        }
        UpdateOutcome { split: Some((largest, smallest)) }
    }
}

/// Euclidean norm, summed in order as Spark's `Vectors.norm(v, 2)`.
pub fn norm(v: &[f64]) -> f64 {
    let mut s = 0.0;
    for x in v {
        s += x * x;
    }
    s.sqrt()
}

/// Squared Euclidean distance, summed in order as Spark's `Vectors.sqdist` for dense vectors.
pub fn squared_distance(a: &[f64], b: &[f64]) -> f64 {
    let mut s = 0.0;
    for (x, y) in a.iter().zip(b) {
        let d = x - y;
        s += d * d;
    }
    s
}

#[cfg(test)]
mod tests;

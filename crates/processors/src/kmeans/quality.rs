//! How well a clustering fits: the silhouette of a sample of points, and the bounded sample of a
//! batch it is estimated on. (The within-cluster sum of squares comes with each batch's
//! assignment: [`super::BatchStats::sum_of_squares`].)

use super::{KMeansModel, squared_distance};

/// The mean silhouette of `points` (flat, n × `dim`) labelled with their clusters (`labels[i]`
/// in `0..k`), as Rousseeuw defined it and `sklearn.metrics.silhouette_score` computes it: for
/// each point, a = its mean distance to the other points of its cluster, b = the least mean
/// distance to the points of another cluster, s = (b − a) / max(a, b), and s = 0 for the only
/// point of a cluster. Between −1 (points sit in the wrong clusters) and 1 (tight, well apart
/// clusters); around 0, clusters overlap. `None` with fewer than two non-empty clusters.
/// Euclidean distances; O(n²) — pass a bounded sample.
///
/// ```
/// use tributary_processors::kmeans::silhouette;
///
/// // Two tight pairs far apart: a = 1, b ≈ 100 for every point (scikit-learn: 0.98999975).
/// let points = [0.0, 0.0, 1.0, 0.0, 100.0, 0.0, 101.0, 0.0];
/// let s = silhouette(&points, 2, &[0, 0, 1, 1], 2).unwrap();
/// assert!((s - 0.9899997499937498).abs() < 1e-12);
/// assert_eq!(silhouette(&points, 2, &[0, 0, 0, 0], 2), None);
/// ```
pub fn silhouette(points: &[f64], dim: usize, labels: &[usize], k: usize) -> Option<f64> {
    let n = labels.len();
    assert_eq!(points.len(), n * dim, "one label per point");
    let mut sizes = vec![0usize; k];
    for &l in labels {
        sizes[l] += 1;
    }
    if sizes.iter().filter(|&&c| c > 0).count() < 2 {
        return None;
    }
    // distance_sums[i·k + c]: Σ of point i's distances to the points of cluster c. Each distance
    // is computed once and added for both of its points.
    let mut distance_sums = vec![0.0; n * k];
    for i in 0..n {
        let p = &points[i * dim..(i + 1) * dim];
        for j in i + 1..n {
            let d = squared_distance(p, &points[j * dim..(j + 1) * dim]).sqrt();
            distance_sums[i * k + labels[j]] += d;
            distance_sums[j * k + labels[i]] += d;
        }
    }
    let total: f64 = (0..n)
        .map(|i| {
            let own = labels[i];
            if sizes[own] == 1 {
                return 0.0;
            }
            let sums = &distance_sums[i * k..(i + 1) * k];
            let a = sums[own] / (sizes[own] - 1) as f64;
            let b = (0..k)
                .filter(|&c| c != own && sizes[c] > 0)
                .map(|c| sums[c] / sizes[c] as f64)
                .fold(f64::INFINITY, f64::min);
            let scale = a.max(b);
            if scale > 0.0 { (b - a) / scale } else { 0.0 }
        })
        .sum();
    Some(total / n as f64)
}

/// At most `max` of `points` (flat, n × `dim`), taken at an even stride through them, so that a
/// sample spans the whole batch (events come in time order): the bounded sample a model
/// version's silhouette is estimated on.
pub fn even_sample(points: &[f64], dim: usize, max: usize) -> Vec<f64> {
    let n = points.len() / dim;
    if n == 0 || max == 0 {
        return Vec::new();
    }
    let stride = n.div_ceil(max);
    points.chunks_exact(dim).step_by(stride).flatten().copied().collect()
}

impl KMeansModel {
    /// The [`silhouette`] of `points` (flat, n × dim), each labelled with its nearest centre.
    pub fn silhouette(&self, points: &[f64]) -> Option<f64> {
        let norms = self.centre_norms();
        let labels: Vec<usize> = points.chunks_exact(self.dim).map(|p| self.closest(&norms, p)).collect();
        silhouette(points, self.dim, &labels, self.k())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `sklearn.metrics.silhouette_score(X, labels)` (scikit-learn 1.9.1) for the cases below.
    #[test]
    fn silhouette_agrees_with_scikit_learn() {
        let points =
            [0.0, 0.0, 1.0, 0.5, 0.3, 1.2, 5.0, 5.0, 6.1, 5.2, 5.5, 6.3, 9.0, 0.5, 10.0, 1.0, 2.5, 3.0];
        let labels = [0, 0, 0, 1, 1, 1, 2, 2, 0];
        let got = silhouette(&points, 2, &labels, 3).unwrap();
        assert!((got - SKLEARN_THREE).abs() < 1e-12, "{got}");
        // A cluster of one point scores 0; an empty cluster index is skipped.
        let labels = [0, 0, 0, 1, 1, 1, 3, 3, 2];
        let got = silhouette(&points, 2, &labels, 4).unwrap();
        assert!((got - SKLEARN_SINGLETON).abs() < 1e-12, "{got}");
    }

    const SKLEARN_THREE: f64 = 0.715136789878991;
    const SKLEARN_SINGLETON: f64 = 0.6240740243021224;

    #[test]
    fn an_even_sample_is_bounded_and_spans_the_batch() {
        let batch: Vec<f64> = (0..10).flat_map(|i| [f64::from(i), 0.0]).collect();
        let xs = |sample: Vec<f64>| sample.chunks(2).map(|p| p[0]).collect::<Vec<f64>>();
        assert_eq!(xs(even_sample(&batch, 2, 4)), [0.0, 3.0, 6.0, 9.0]);
        assert_eq!(xs(even_sample(&batch, 2, 5)), [0.0, 2.0, 4.0, 6.0, 8.0]);
        assert_eq!(even_sample(&batch, 2, 100), batch);
        assert!(even_sample(&[], 2, 4).is_empty());
    }

    #[test]
    fn a_models_silhouette_labels_points_by_their_nearest_centre() {
        let model = KMeansModel::new(2, vec![0.5, 0.0, 100.5, 0.0], vec![1.0, 1.0]);
        let points = [0.0, 0.0, 1.0, 0.0, 100.0, 0.0, 101.0, 0.0];
        assert_eq!(model.silhouette(&points), silhouette(&points, 2, &[0, 0, 1, 1], 2));
        assert_eq!(model.silhouette(&points[..4]), None, "both points in one cluster");
    }
}

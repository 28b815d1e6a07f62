//! Initial centres: k-means++ on a batch (the default), or Gaussian random with a seed.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::squared_distance;

/// Chooses `k` centres from `points` (flat, n × dim) by greedy k-means++ (Arthur & Vassilvitskii
/// 2007, with the local trials of scikit-learn): the first centre uniformly; then, at each step,
/// `2 + ⌊ln k⌋` candidates drawn with probability proportional to their squared distance to the
/// nearest centre so far, keeping the one that lowers the total squared distance most. The trials
/// make it much less likely to seed on a lone outlier than plain k-means++. Deterministic for a
/// seed; `None` if there are fewer than `k` points.
pub fn kmeans_plus_plus(points: &[f64], dim: usize, k: usize, seed: u64) -> Option<Vec<f64>> {
    let n = points.len() / dim;
    if k == 0 || n < k {
        return None;
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let point = |i: usize| &points[i * dim..(i + 1) * dim];
    let trials = 2 + (k as f64).ln().floor() as usize;
    let mut centres = Vec::with_capacity(k * dim);
    centres.extend_from_slice(point(rng.random_range(0..n)));
    let mut nearest: Vec<f64> = (0..n).map(|i| squared_distance(point(i), &centres[..dim])).collect();
    while centres.len() < k * dim {
        let total: f64 = nearest.iter().sum();
        let mut best: Option<(f64, usize, Vec<f64>)> = None;
        for _ in 0..trials {
            let candidate = if total > 0.0 {
                let mut target = rng.random::<f64>() * total;
                let mut chosen = n - 1;
                for (i, d) in nearest.iter().enumerate() {
                    if target < *d {
                        chosen = i;
                        break;
                    }
                    target -= d;
                }
                chosen
            } else {
                // Every point coincides with a chosen centre: any will do (the dying-cluster
                // split separates duplicates later).
                rng.random_range(0..n)
            };
            let c = point(candidate);
            let potential: f64 = (0..n).map(|i| nearest[i].min(squared_distance(point(i), c))).sum();
            if best.as_ref().is_none_or(|(p, ..)| potential < *p) {
                best = Some((potential, candidate, c.to_vec()));
            }
        }
        let (_, _, c) = best.expect("at least one trial");
        for (i, d) in nearest.iter_mut().enumerate() {
            *d = d.min(squared_distance(point(i), &c));
        }
        centres.extend_from_slice(&c);
    }
    Some(centres)
}

/// `k` centres with coordinates drawn from N(0, 1), as Spark's `setRandomCenters` (with a
/// different generator, so the values differ from Spark's for the same seed).
pub fn random_centres(k: usize, dim: usize, seed: u64) -> Vec<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..k * dim).map(|_| rng.sample::<f64, _>(rand_distr::StandardNormal)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kmeans_plus_plus_picks_distinct_far_points_and_is_deterministic() {
        // Three tight groups far apart: k-means++ almost surely takes one point from each.
        let mut pts = Vec::new();
        for (cx, cy) in [(0.0, 0.0), (100.0, 0.0), (0.0, 100.0)] {
            for i in 0..20 {
                pts.extend([cx + (i % 5) as f64 * 0.01, cy + (i / 5) as f64 * 0.01]);
            }
        }
        let a = kmeans_plus_plus(&pts, 2, 3, 7).unwrap();
        assert_eq!(a, kmeans_plus_plus(&pts, 2, 3, 7).unwrap());
        let mut groups: Vec<usize> = a
            .chunks(2)
            .map(|c| (c[0] / 50.0).round() as usize * 2 + (c[1] / 50.0).round() as usize)
            .collect();
        groups.sort();
        groups.dedup();
        assert_eq!(groups.len(), 3, "{a:?}");
        assert!(kmeans_plus_plus(&pts[..4], 2, 3, 7).is_none(), "fewer points than k");
    }

    #[test]
    fn random_centres_are_standard_normal_ish_and_seeded() {
        let c = random_centres(1000, 2, 1);
        assert_eq!(c, random_centres(1000, 2, 1));
        let mean = c.iter().sum::<f64>() / c.len() as f64;
        let var = c.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / c.len() as f64;
        assert!(mean.abs() < 0.1 && (var - 1.0).abs() < 0.1, "mean {mean} var {var}");
    }
}

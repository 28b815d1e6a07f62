//! A suggested number of clusters. For each candidate k, batch k-means on a sample of points
//! (Lloyd's algorithm from the same k-means++ seeding the stream uses, until no point changes
//! cluster), then the within-cluster sum of squares of the sample and the silhouette of a
//! bounded part of it. The suggestion is the smallest k whose silhouette is within
//! [`SILHOUETTE_TOLERANCE`] of the highest ([`RULE`]): silhouettes creep up as surplus clusters
//! split tight groups, and a larger k should have to fit clearly better to be preferred. The sum
//! of squares always falls as k grows, so it shows the elbow but cannot choose by itself.

use std::ops::RangeInclusive;

use super::{KMeansModel, even_sample, kmeans_plus_plus};

/// How [`suggest_k`] chooses, in words for people.
pub const RULE: &str = "the smallest k whose silhouette is within 0.01 of the highest";

/// A larger k is preferred only if its silhouette is more than this above the smaller one's.
pub const SILHOUETTE_TOLERANCE: f64 = 0.01;

/// Lloyd's algorithm stops after this many iterations even if points still move.
pub const MAX_ITERATIONS: usize = 100;

/// One candidate k.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Candidate {
    pub k: usize,
    /// Σ of the sample's squared distances to their nearest centre (the clustered space's
    /// units: km² with the default projection).
    pub sum_of_squares: f64,
    /// The silhouette of up to `silhouette_points` of the sample; `None` where undefined.
    pub silhouette: Option<f64>,
    /// Lloyd iterations until no point changed cluster (at most [`MAX_ITERATIONS`]).
    pub iterations: usize,
}

/// The candidates and the choice among them.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Suggestion {
    /// Points clustered for each k.
    pub points: usize,
    /// Points the silhouettes were computed on (an even stride through the sample).
    pub silhouette_points: usize,
    pub candidates: Vec<Candidate>,
    /// The suggested k, by [`RULE`]; `None` if no candidate has a silhouette.
    pub suggested: Option<usize>,
    pub rule: &'static str,
}

/// Batch k-means of `points` (flat, n × `dim`) with `k` clusters: k-means++ seeds, then Lloyd's
/// iterations (each centre moves to the mean of its points; an empty cluster keeps its centre)
/// until no point changes cluster. `None` with fewer than k points.
pub fn lloyd(points: &[f64], dim: usize, k: usize, seed: u64) -> Option<(KMeansModel, usize)> {
    let centres = kmeans_plus_plus(points, dim, k, seed)?;
    let mut model = KMeansModel::new(dim, centres, vec![1.0; k]);
    let mut labels: Vec<usize> = Vec::new();
    for iteration in 1..=MAX_ITERATIONS {
        let norms = model.centre_norms();
        let next: Vec<usize> = points.chunks_exact(dim).map(|p| model.closest(&norms, p)).collect();
        if next == labels {
            return Some((model, iteration - 1));
        }
        labels = next;
        let mut sums = vec![0.0; k * dim];
        let mut counts = vec![0usize; k];
        for (p, &l) in points.chunks_exact(dim).zip(&labels) {
            counts[l] += 1;
            for (s, x) in sums[l * dim..(l + 1) * dim].iter_mut().zip(p) {
                *s += x;
            }
        }
        for (c, &count) in counts.iter().enumerate() {
            if count > 0 {
                for j in 0..dim {
                    model.centres[c * dim + j] = sums[c * dim + j] / count as f64;
                }
            }
        }
    }
    Some((model, MAX_ITERATIONS))
}

/// Clusters `points` (flat, n × `dim`) for each k in `ks` and suggests one by [`RULE`]; the
/// silhouettes use at most `silhouette_points` of them. Deterministic for a seed.
pub fn suggest_k(
    points: &[f64],
    dim: usize,
    ks: RangeInclusive<usize>,
    seed: u64,
    silhouette_points: usize,
) -> Suggestion {
    let sample = even_sample(points, dim, silhouette_points);
    let mut candidates = Vec::new();
    for k in ks {
        let Some((model, iterations)) = lloyd(points, dim, k, seed) else { break };
        let sum_of_squares = model.assign(points).sum_of_squares;
        candidates.push(Candidate { k, sum_of_squares, silhouette: model.silhouette(&sample), iterations });
    }
    let highest = candidates.iter().filter_map(|c| c.silhouette).fold(f64::NEG_INFINITY, f64::max);
    // Candidates are in ascending k: the first close enough to the highest.
    let suggested = candidates
        .iter()
        .find(|c| c.silhouette.is_some_and(|s| s >= highest - SILHOUETTE_TOLERANCE))
        .map(|c| c.k);
    Suggestion {
        points: points.len() / dim,
        silhouette_points: sample.len() / dim,
        candidates,
        suggested,
        rule: RULE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Points around `centres`, deterministic: a small spiral of `per` points each.
    fn blobs(centres: &[[f64; 2]], per: usize, spread: f64) -> Vec<f64> {
        let mut points = Vec::new();
        for c in centres {
            for i in 0..per {
                let (r, a) = (spread * ((i % 7) as f64 + 1.0) / 7.0, i as f64 * 2.399);
                points.extend_from_slice(&[c[0] + r * a.cos(), c[1] + r * a.sin()]);
            }
        }
        points
    }

    #[test]
    fn lloyd_finds_separated_blobs_and_stops_when_nothing_moves() {
        let points = blobs(&[[0.0, 0.0], [50.0, 0.0], [0.0, 50.0]], 40, 2.0);
        let (model, iterations) = lloyd(&points, 2, 3, 7).unwrap();
        assert!(iterations < MAX_ITERATIONS);
        let mut found: Vec<(i64, i64)> =
            model.centres.chunks(2).map(|c| (c[0].round() as i64, c[1].round() as i64)).collect();
        found.sort_unstable();
        assert_eq!(found, [(0, 0), (0, 50), (50, 0)]);
        // Each centre is the mean of its points: another pass changes nothing.
        let stats = model.assign(&points);
        for (c, centre) in model.centres.chunks(2).enumerate() {
            let n = stats.counts[c] as f64;
            assert!((stats.sums[2 * c] / n - centre[0]).abs() < 1e-9);
        }
        assert!(lloyd(&points[..4], 2, 3, 7).is_none(), "fewer points than k");
    }

    #[test]
    fn the_suggestion_is_the_number_of_blobs_there_are() {
        let centres = [[0.0, 0.0], [60.0, 0.0], [0.0, 60.0], [60.0, 60.0], [30.0, 120.0]];
        let points = blobs(&centres, 60, 3.0);
        let s = suggest_k(&points, 2, 2..=8, 1, 200);
        assert_eq!(s.suggested, Some(5), "{s:#?}");
        assert_eq!((s.points, s.silhouette_points), (300, 150), "an even stride of 2 through 300");
        assert_eq!(s.candidates.iter().map(|c| c.k).collect::<Vec<_>>(), (2..=8).collect::<Vec<_>>());
        // The sum of squares falls as k grows (the elbow is at 5: after it, little is gained).
        let ss: Vec<f64> = s.candidates.iter().map(|c| c.sum_of_squares).collect();
        assert!(ss.windows(2).all(|w| w[1] <= w[0] * 1.000_001), "{ss:?}");
        assert!(ss[3] < ss[2] / 5.0 && ss[4] > ss[3] / 3.0, "{ss:?}");
        // A larger k wins only by more than the tolerance.
        let close = |k, s| Candidate { k, sum_of_squares: 0.0, silhouette: Some(s), iterations: 1 };
        let choose = |c: Vec<Candidate>| {
            let highest = c.iter().filter_map(|c| c.silhouette).fold(f64::NEG_INFINITY, f64::max);
            c.iter().find(|c| c.silhouette.is_some_and(|s| s >= highest - SILHOUETTE_TOLERANCE)).map(|c| c.k)
        };
        assert_eq!(choose(vec![close(7, 0.87), close(8, 0.92), close(10, 0.926)]), Some(8));
        assert_eq!(choose(vec![close(7, 0.87), close(8, 0.9), close(10, 0.926)]), Some(10));
        // Too few points for the larger k: the candidates stop there.
        let few = suggest_k(&points[..8], 2, 2..=6, 1, 200);
        assert_eq!(few.candidates.len(), 3);
    }
}

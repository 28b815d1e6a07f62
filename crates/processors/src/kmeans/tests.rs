//! The update rule on hand-computed cases, one per branch of Spark's `StreamingKMeansModel.update`.

use super::*;

fn model(centres: &[f64], weights: &[f64]) -> KMeansModel {
    KMeansModel::new(2, centres.to_vec(), weights.to_vec())
}

#[test]
fn first_batch_with_zero_weights_moves_centres_to_the_batch_means() {
    let mut m = model(&[0.0, 0.0, 10.0, 10.0], &[0.0, 0.0]);
    let (stats, outcome) = m.update(&[1.0, 1.0, 3.0, 3.0, 9.0, 9.0], 0.5, TimeUnit::Batches);
    assert_eq!(stats.counts, vec![2, 1]);
    assert_eq!(stats.sums, vec![4.0, 4.0, 9.0, 9.0]);
    // w' = 0·0.5 + 2 = 2, λ = 1: c' = 0·c + (1/2)·(4, 4) = (2, 2); cluster 1 likewise (9, 9).
    assert_eq!(m.centres, vec![2.0, 2.0, 9.0, 9.0]);
    assert_eq!(m.weights, vec![2.0, 1.0]);
    assert_eq!(outcome.split, None);
}

#[test]
fn decay_per_batch_discounts_every_weight_once() {
    let mut m = model(&[2.0, 2.0, 9.0, 9.0], &[2.0, 1.0]);
    m.update(&[4.0, 4.0], 0.5, TimeUnit::Batches);
    // Weights (1, 0.5) after discount; cluster 0: w' = 2, λ = 1/2, c' = ½·(2,2) + ½·(4,4).
    assert_eq!(m.weights, vec![2.0, 0.5]);
    assert_eq!(m.centres, vec![3.0, 3.0, 9.0, 9.0], "a cluster without points keeps its centre");
}

#[test]
fn decay_per_point_discounts_by_decay_to_the_batch_size() {
    let mut m = model(&[0.0, 0.0, 10.0, 10.0], &[8.0, 8.0]);
    m.update(&[1.0, 0.0, 1.0, 0.0, 11.0, 10.0], 0.5, TimeUnit::Points);
    // discount = 0.5³ = 0.125: weights (1, 1) before the update.
    // Cluster 0: n = 2, w' = 3, λ = 2/3, c' = ⅓·(0,0) + (⅓)·(2, 0) = (2/3, 0).
    // Cluster 1: n = 1, w' = 2, λ = ½,   c' = ½·(10,10) + ½·(11,10) = (10.5, 10).
    assert_eq!(m.weights, vec![3.0, 2.0]);
    let lambda: f64 = 2.0 / 3.0;
    let expected_x = (lambda / 2.0).mul_add(2.0, (1.0 - lambda) * 0.0);
    assert_eq!(m.centres, vec![expected_x, 0.0, 10.5, 10.0]);
    assert!((expected_x - 2.0 / 3.0).abs() < 1e-15);
}

#[test]
fn half_life_gives_half_the_weight_after_that_many_batches() {
    let decay = decay_from_half_life(4.0);
    let mut m = model(&[0.0, 0.0, 5.0, 5.0], &[100.0, 100.0]);
    for _ in 0..4 {
        m.update(&[], decay, TimeUnit::Batches);
    }
    assert!((m.weights[0] - 50.0).abs() < 1e-12, "{:?}", m.weights);
}

#[test]
fn an_empty_batch_only_discounts() {
    let mut m = model(&[1.0, 2.0, 3.0, 4.0], &[4.0, 2.0]);
    let (stats, outcome) = m.update(&[], 0.25, TimeUnit::Batches);
    assert_eq!(stats.points(), 0);
    assert_eq!(m.weights, vec![1.0, 0.5]);
    assert_eq!(m.centres, vec![1.0, 2.0, 3.0, 4.0]);
    assert_eq!(outcome.split, None);
    // With time unit points an empty batch discounts by decay⁰ = 1.
    m.update(&[], 0.25, TimeUnit::Points);
    assert_eq!(m.weights, vec![1.0, 0.5]);
}

#[test]
fn a_dying_cluster_is_replaced_by_a_split_of_the_largest() {
    let mut m = model(&[0.0, 0.0, 100.0, -200.0, 50.0, 50.0], &[0.0, 0.0, 0.0]);
    // All points go to cluster 1; clusters 0 and 2 keep weight 0 < 1e-8·4.
    let (_, outcome) =
        m.update(&[100.0, -200.0, 100.0, -200.0, 100.0, -200.0, 100.0, -200.0], 1.0, TimeUnit::Batches);
    // Largest = 1 (weight 4), smallest = the first minimum, 0; both get (4 + 0)/2 = 2.
    assert_eq!(outcome.split, Some((1, 0)));
    assert_eq!(m.weights, vec![2.0, 2.0, 0.0]);
    // p = 1e-14·max(|x|, 1) per coordinate: largest moves to x + p, smallest to x − p.
    assert_eq!(m.centre(1), &[100.0 + 1e-12, -200.0 + 2e-12]);
    assert_eq!(m.centre(0), &[100.0 - 1e-12, -200.0 - 2e-12]);
    assert_eq!(m.centre(2), &[50.0, 50.0]);
    // At most one split per batch: cluster 2 is still dying and is split on the next batch.
    let (_, outcome) = m.update(&[], 1.0, TimeUnit::Batches);
    assert_eq!(outcome.split, Some((0, 2)));
}

#[test]
fn small_coordinates_split_by_an_absolute_1e_14() {
    let mut m = model(&[0.5, -0.25, 9.0, 9.0], &[1.0, 0.0]);
    let (_, outcome) = m.update(&[], 1.0, TimeUnit::Batches);
    assert_eq!(outcome.split, Some((0, 1)));
    assert_eq!(m.centre(0), &[0.5 + 1e-14, -0.25 + 1e-14]);
    assert_eq!(m.centre(1), &[0.5 - 1e-14, -0.25 - 1e-14]);
}

#[test]
fn ties_go_to_the_lowest_index() {
    let m = model(&[-1.0, 0.0, 1.0, 0.0], &[1.0, 1.0]);
    assert_eq!(m.closest(&m.centre_norms(), &[0.0, 0.0]), 0);
    let m = model(&[5.0, 0.0, -1.0, 0.0, 1.0, 0.0, 0.0, 1.0], &[1.0; 4]);
    assert_eq!(m.closest(&m.centre_norms(), &[0.0, 0.0]), 1);
    let stats = m.assign(&[0.0, 0.0]);
    assert_eq!(stats.counts, vec![0, 1, 0, 0], "the 2-D fast path agrees");
}

#[test]
fn the_centre_update_is_one_fused_multiply_add() {
    // Find inputs where fused and unfused rounding differ, and check the fused result is used.
    let mut found = 0;
    for i in 1..2000 {
        let c0 = 0.1 * i as f64;
        let s = 0.37 * i as f64 + 0.013;
        let mut m = model(&[c0, 0.0, 1e9, 1e9], &[2.0, 1.0]);
        // One point with sum s: w' = 2 + 1 = 3, λ = 1/3.
        m.apply(
            &BatchStats { dim: 2, sums: vec![s, 0.0, 0.0, 0.0], counts: vec![1, 0], sum_of_squares: 0.0 },
            1.0,
            TimeUnit::Batches,
        );
        let lambda = 1.0 / 3.0;
        let fused = (lambda / 1.0f64).mul_add(s, (1.0 - lambda) * c0);
        let unfused = (lambda / 1.0) * s + (1.0 - lambda) * c0;
        assert_eq!(m.centre(0)[0], fused);
        if fused != unfused {
            found += 1;
        }
    }
    assert!(found > 10, "the test must cover cases where fusing matters ({found})");
}

#[test]
fn merged_worker_statistics_give_the_same_model_as_one_pass() {
    let points: Vec<f64> = (0..200).flat_map(|i| [(i % 17) as f64, (i % 5) as f64 * 3.0]).collect();
    let base = model(&[0.0, 0.0, 16.0, 12.0, 8.0, 6.0], &[0.0; 3]);
    let mut one = base.clone();
    one.update(&points, 0.9, TimeUnit::Points);
    let mut stats = base.assign(&points[..100]);
    stats.merge(&base.assign(&points[100..]));
    let mut merged = base.clone();
    merged.apply(&stats, 0.9, TimeUnit::Points);
    // Small integers: the split sums are exact, so the models are identical.
    assert_eq!(one, merged);
}

proptest::proptest! {
    #[test]
    fn the_2d_fast_path_picks_the_same_centre_as_the_general_one(
        centres in proptest::collection::vec(-50i32..50, 2..20),
        points in proptest::collection::vec(-60i32..60, 2..200),
    ) {
        // Small integers (halved) make exact ties common, where the order of checks matters.
        let mut centres: Vec<f64> = centres.iter().map(|v| *v as f64 / 2.0).collect();
        if centres.len() % 2 == 1 {
            centres.pop();
        }
        let k = centres.len() / 2;
        let m = KMeansModel::new(2, centres, vec![1.0; k]);
        let norms = m.centre_norms();
        let mut points: Vec<f64> = points.iter().map(|v| *v as f64 / 2.0).collect();
        if points.len() % 2 == 1 {
            points.pop();
        }
        let stats = m.assign(&points);
        let mut general = BatchStats::new(k, 2);
        for p in points.chunks_exact(2) {
            let (i, distance) = m.nearest(&norms, p);
            assert_eq!(i, m.closest(&norms, p));
            general.sum_of_squares += distance;
            general.counts[i] += 1;
            general.sums[2 * i] += p[0];
            general.sums[2 * i + 1] += p[1];
        }
        proptest::prop_assert_eq!(stats, general);
    }
}

#[test]
fn the_sum_of_squares_is_each_points_squared_distance_to_its_assigned_centre() {
    let m = model(&[0.0, 0.0, 10.0, 0.0], &[1.0, 1.0]);
    // (1, 1) → centre 0 at distance² 2; (9, 0) → centre 1 at 1; (20, 0) → centre 1 at 100.
    let points = [1.0, 1.0, 9.0, 0.0, 20.0, 0.0];
    let stats = m.assign(&points);
    assert_eq!(stats.sum_of_squares, 103.0);
    // The general path (any dimension) agrees with the two-dimensional one.
    let three = KMeansModel::new(3, vec![0.0, 0.0, 0.0, 10.0, 0.0, 0.0], vec![1.0, 1.0]);
    let points3 = [1.0, 1.0, 0.0, 9.0, 0.0, 0.0, 20.0, 0.0, 0.0];
    assert_eq!(three.assign(&points3).sum_of_squares, 103.0);
    // Merged shares add up.
    let (mut a, b) = (m.assign(&points[..2]), m.assign(&points[2..]));
    a.merge(&b);
    assert_eq!(a.sum_of_squares, 103.0);
}

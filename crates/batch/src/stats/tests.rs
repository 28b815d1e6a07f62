use super::*;

/// Agreement to SPEC's 1e-9, and for small p-values to 1e-9 relative as well (an absolute
/// tolerance alone would accept any p below 1e-9).
fn close(got: f64, want: f64) -> bool {
    (got - want).abs() <= 1e-9 && (want.abs() > 1e-3 || (got - want).abs() <= 1e-9 * want.abs().max(1e-300))
}

/// Cases with SciPy 1.17.1's answers: `scipy.stats.pearsonr(x, y)` and `spearmanr(x, y)`,
/// statistic and p-value.
#[allow(clippy::type_complexity)]
const SCIPY: &[(&str, &[f64], &[f64], f64, f64, f64, f64)] = &[
    (
        "linear with noise",
        &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0],
        &[2.1, 3.9, 6.2, 7.8, 10.1, 12.2, 13.8, 16.1, 18.0, 19.7],
        0.9996044804789276,
        1.0701474201481614e-13,
        1.0, // SciPy: 0.9999999999999999 and p 6.6e-64, both rounding of exactly 1 and 0
        0.0,
    ),
    (
        "weak",
        &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
        &[5.0, 3.0, 6.0, 2.0, 7.0, 4.0, 8.0, 1.0],
        -0.047619047619047616,
        0.9108491685195835,
        -0.04761904761904763,
        0.9108491685195836,
    ),
    (
        "ties",
        &[1.0, 2.0, 2.0, 3.0, 4.0, 4.0, 4.0, 5.0],
        &[10.0, 20.0, 20.0, 15.0, 30.0, 30.0, 25.0, 40.0],
        0.8968290268750507,
        0.002537389880188376,
        0.9069897692335281,
        0.0018738450029436864,
    ),
    ("three pairs", &[1.0, 2.0, 3.0], &[1.0, 3.0, 2.0], 0.5, 0.6666666666666666, 0.5, 0.6666666666666666),
    (
        "negative",
        &[0.5, 1.5, 2.5, 3.5, 4.5, 5.5],
        &[9.0, 7.5, 7.9, 5.0, 3.2, 1.1],
        -0.9658768581634926,
        0.0017267169109539513,
        -0.942857142857143,
        0.004804664723032055,
    ),
];

#[test]
fn pearson_and_spearman_agree_with_scipy() {
    for (name, x, y, pr, pp, sr, sp) in SCIPY {
        let p = pearson(x, y).unwrap();
        let s = spearman(x, y).unwrap();
        assert!(close(p.coefficient, *pr), "{name}: pearson r {} vs {pr}", p.coefficient);
        assert!(close(p.p_value, *pp), "{name}: pearson p {} vs {pp}", p.p_value);
        assert!(close(s.coefficient, *sr), "{name}: spearman r {} vs {sr}", s.coefficient);
        assert!(
            close(s.p_value, *sp) || (*sp < 1e-60 && s.p_value < 1e-60),
            "{name}: spearman p {} vs {sp}",
            s.p_value
        );
        assert_eq!((p.n, s.n), (x.len(), x.len()));
    }
}

#[test]
fn p_values_agree_with_the_t_distribution() {
    // SciPy 1.17.1: 2 * scipy.stats.t.sf(t, df), with r recovered from t: r² = t² / (df + t²).
    for (t, df, want) in [
        (2.228138851986274, 10usize, 0.050000000000000044),
        (1.0, 1, 0.5000000000000001),
        (5.0, 3, 0.015392438073302294),
        (0.1, 100, 0.9205445310958512),
        (40.0, 50, 1.2412423784372691e-39),
    ] {
        let r = (t * t / (df as f64 + t * t)).sqrt();
        let got = p_value(r, df + 2);
        assert!(
            (got - want).abs() <= 1e-9 && (got - want).abs() <= 1e-7 * want,
            "t {t}, df {df}: {got} vs {want}"
        );
        assert_eq!(p_value(-r, df + 2), got, "two-sided: the sign does not matter");
    }
}

#[test]
fn perfect_correlation_and_anticorrelation() {
    let x = [3.0, 1.0, 4.0, 1.5, 9.0, 2.6];
    let up: Vec<f64> = x.iter().map(|v| 2.5 * v - 7.0).collect();
    let down: Vec<f64> = x.iter().map(|v| -0.5 * v + 100.0).collect();
    let c = pearson(&x, &up).unwrap();
    assert!((c.coefficient - 1.0).abs() < 1e-15 && c.p_value < 1e-12, "{c:?}");
    let c = pearson(&x, &down).unwrap();
    assert!((c.coefficient + 1.0).abs() < 1e-15 && c.p_value < 1e-12, "{c:?}");
    // Any monotone transformation is a perfect rank correlation.
    let cubed: Vec<f64> = x.iter().map(|v| v * v * v).collect();
    assert_eq!(spearman(&x, &cubed).unwrap(), Correlation { coefficient: 1.0, n: 6, p_value: 0.0 });
}

#[test]
fn undefined_statistics_have_reasons() {
    assert_eq!(pearson(&[1.0, 2.0], &[3.0, 4.0]), Err(Undefined::TooFewPairs { n: 2 }));
    assert_eq!(pearson(&[], &[]), Err(Undefined::TooFewPairs { n: 0 }));
    assert_eq!(pearson(&[5.0; 4], &[1.0, 2.0, 3.0, 4.0]), Err(Undefined::ZeroVariance));
    assert_eq!(spearman(&[1.0, 2.0, 3.0, 4.0], &[7.0; 4]), Err(Undefined::ZeroVariance));
    assert_eq!(pearson(&[1.0, f64::NAN, 3.0], &[1.0, 2.0, 3.0]), Err(Undefined::NotFinite));
    assert_eq!(spearman(&[1.0, 2.0, f64::INFINITY], &[1.0, 2.0, 3.0]), Err(Undefined::NotFinite));
    assert_eq!(pearson(&[1.0, 2.0, 3.0], &[1.0, 2.0]), Err(Undefined::LengthMismatch));
    assert_eq!(Undefined::TooFewPairs { n: 2 }.reason(), "n = 2 < 3");
}

#[test]
fn ties_get_the_average_of_their_ranks() {
    assert_eq!(ranks(&[10.0, 20.0, 20.0, 5.0, 20.0]), [2.0, 4.0, 4.0, 1.0, 4.0]);
    assert_eq!(ranks(&[1.0, 1.0]), [1.5, 1.5]);
    assert_eq!(ranks(&[]), Vec::<f64>::new());
}

#[test]
fn large_index_levels_keep_their_digits() {
    // DAX-like levels: one-pass sums (Σx², Σxy) would cancel catastrophically here.
    let x: Vec<f64> = (0..50).map(|i| 13_000.0 + (i as f64 * 0.37).sin()).collect();
    let y: Vec<f64> = (0..50).map(|i| 2.0 * (i as f64 * 0.37).sin() + 0.01 * (i % 3) as f64).collect();
    let c = pearson(&x, &y).unwrap();
    let shifted: Vec<f64> = x.iter().map(|v| v - 13_000.0).collect();
    assert!((c.coefficient - pearson(&shifted, &y).unwrap().coefficient).abs() < 1e-9);
}

proptest::proptest! {
    #[test]
    fn coefficients_are_bounded_and_symmetric_and_affine_invariant(
        pairs in proptest::collection::vec((-1e6f64..1e6, -1e6f64..1e6), 3..40),
        scale in 0.001f64..1000.0,
        shift in -1e4f64..1e4,
    ) {
        let (x, y): (Vec<f64>, Vec<f64>) = pairs.into_iter().unzip();
        if let Ok(c) = pearson(&x, &y) {
            proptest::prop_assert!((-1.0..=1.0).contains(&c.coefficient));
            proptest::prop_assert!((0.0..=1.0).contains(&c.p_value));
            let swapped = pearson(&y, &x).unwrap();
            proptest::prop_assert!((swapped.coefficient - c.coefficient).abs() < 1e-12);
            let moved: Vec<f64> = x.iter().map(|v| v * scale + shift).collect();
            proptest::prop_assert!((pearson(&moved, &y).unwrap().coefficient - c.coefficient).abs() < 1e-9);
        }
        if let Ok(s) = spearman(&x, &y) {
            proptest::prop_assert!((-1.0..=1.0).contains(&s.coefficient) && (0.0..=1.0).contains(&s.p_value));
        }
    }
}

/// Small integers (many ties), both zeros, infinities and ordinary numbers.
fn rank_values() -> impl proptest::strategy::Strategy<Value = Vec<f64>> {
    use proptest::strategy::Strategy;
    let value = proptest::prop_oneof![
        (-3i32..3).prop_map(f64::from),
        proptest::num::f64::NORMAL | proptest::num::f64::ZERO | proptest::num::f64::INFINITE,
    ];
    proptest::collection::vec(value, 0..60)
}

proptest::proptest! {
    /// Ranks against their definition: 1 + the values below + half of the other equal values.
    #[test]
    fn ranks_follow_their_definition(values in rank_values()) {
        let got = ranks(&values);
        for (i, v) in values.iter().enumerate() {
            let below = values.iter().filter(|w| *w < v).count() as f64;
            let equal = values.iter().filter(|w| *w == v).count() as f64;
            proptest::prop_assert_eq!(got[i], 1.0 + below + (equal - 1.0) / 2.0, "value {} in {:?}", v, &values);
        }
    }
}

/// A deterministic standard normal stream (xorshift64* and Box–Muller), for series with known
/// autocorrelation.
struct Normal(u64);

impl Normal {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        ((self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn next(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    /// An AR(1) series x_t = ρ·x_{t−1} + e_t, started from its stationary distribution.
    fn ar1(&mut self, rho: f64, n: usize) -> Vec<f64> {
        let mut x = self.next() / (1.0 - rho * rho).sqrt();
        (0..n)
            .map(|_| {
                x = rho * x + self.next();
                x
            })
            .collect()
    }
}

#[test]
fn effective_pairs_by_hand() {
    // x: deviations −2..2, Σd² = 10, lag-1 products 2 + 0 + 0 + 2 = 4: r_x(1) = 0.4.
    // y = 1, 2, 4, 3, 5: deviations −2, −1, 1, 0, 2, lag-1 products 2 − 1 + 0 + 0 = 1: r_y(1) = 0.1.
    // n = 5, K = 1: n_eff = 5 / (1 + 2 · (4/5) · 0.4 · 0.1) = 5 / 1.064.
    let (x, y) = ([1.0, 2.0, 3.0, 4.0, 5.0], [1.0, 2.0, 4.0, 3.0, 5.0]);
    assert_eq!(autocorrelations(&x, 1), [0.4]);
    assert!((autocorrelations(&y, 1)[0] - 0.1).abs() < 1e-15);
    assert!((effective_pairs(&x, &y) - 5.0 / 1.064).abs() < 1e-12, "{}", effective_pairs(&x, &y));
    // Fewer effective pairs: a larger p-value for the same r; with n_eff = n, the plain one.
    let r = pearson(&x, &y).unwrap();
    assert!((r.coefficient - 0.9).abs() < 1e-15);
    assert_eq!(p_value_with(r.coefficient, 5.0), r.p_value);
    assert!(p_value_with(r.coefficient, effective_pairs(&x, &y)) > r.p_value);
    // A constant series has no autocorrelation. Two trends have about 5 effective pairs however
    // many there are (5.07 of 50, 5.14 of 500, computed in Python the same way).
    assert_eq!(autocorrelations(&[2.0, 2.0, 2.0, 2.0, 2.0], 1), [0.0]);
    let trend: Vec<f64> = (0..50).map(f64::from).collect();
    let n_eff = effective_pairs(&trend, &trend);
    assert!((n_eff - 5.068777165283973).abs() < 1e-9, "{n_eff}");
    let long: Vec<f64> = (0..500).map(f64::from).collect();
    assert!((effective_pairs(&long, &long) - 5.141389549867832).abs() < 1e-9);
    // Opposite autocorrelations (one alternates, one trends) add information: n at most.
    let alternating: Vec<f64> = (0..50).map(|i| if i % 2 == 0 { 1.0 } else { -1.0 }).collect();
    assert_eq!(effective_pairs(&alternating, &trend), 50.0);
}

#[test]
fn effective_pairs_of_white_noise_and_of_two_ar1_series() {
    let mut normal = Normal(0x9E37_79B9_7F4A_7C15);
    let n = 4000;
    // Independent white noise: every pair counts (within sampling error).
    let (x, y): (Vec<f64>, Vec<f64>) =
        ((0..n).map(|_| normal.next()).collect(), (0..n).map(|_| normal.next()).collect());
    let white = effective_pairs(&x, &y) / n as f64;
    assert!((0.9..=1.0).contains(&white), "white noise: n_eff / n = {white}");
    // Two independent AR(1) series with ρ = 0.8: n_eff ≈ n(1 − ρ²)/(1 + ρ²) = 0.2195 n.
    let rho: f64 = 0.8;
    let want = (1.0 - rho * rho) / (1.0 + rho * rho);
    let mut ratios = Vec::new();
    for _ in 0..5 {
        let (x, y) = (normal.ar1(rho, n), normal.ar1(rho, n));
        ratios.push(effective_pairs(&x, &y) / n as f64);
    }
    let mean_ratio = ratios.iter().sum::<f64>() / ratios.len() as f64;
    assert!((mean_ratio - want).abs() < 0.15 * want, "AR(1): n_eff / n = {ratios:?}, want {want}");
}

/// Two trending series of 20 values with SciPy 1.17.1's and statsmodels 0.15.0's answers, the
/// effective pairs computed with NumPy from SPEC's definition and the adjusted p-value from
/// `2 * scipy.stats.t.sf(|t|, n_eff - 2)` (an independent route: Student's t with a fractional
/// number of degrees of freedom rather than the incomplete beta function).
#[test]
fn adjusted_inference_agrees_with_numpy_and_scipy() {
    let x =
        [3.1, 3.4, 3.9, 4.2, 4.0, 4.8, 5.5, 5.1, 5.9, 6.4, 6.2, 7.0, 7.7, 7.3, 8.1, 8.8, 8.5, 9.4, 9.9, 10.3];
    let y = [
        10.0, 11.5, 11.0, 12.8, 13.1, 12.7, 14.6, 15.2, 14.9, 16.8, 17.5, 17.1, 18.9, 19.6, 19.0, 21.2, 21.9,
        21.4, 23.3, 24.0,
    ];
    let p = pearson(&x, &y).unwrap();
    assert!(close(p.coefficient, 0.9826888344542558) && close(p.p_value, 1.2454264378916773e-14));
    let a = adjusted(p.coefficient, &x, &y);
    assert!(close(a.n_eff, 5.122852428471216), "{a:?}");
    assert!(close(a.p_value, 0.00217999608538686), "{a:?}");
    let s = spearman(&x, &y).unwrap();
    assert!(close(s.coefficient, 0.9744360902255638));
    let a = adjusted(s.coefficient, &ranks(&x), &ranks(&y));
    assert!(close(a.n_eff, 5.095086522966879), "{a:?}");
    assert!(close(a.p_value, 0.004186117990372236), "{a:?}");
}

/// `statsmodels.stats.multitest.multipletests(p, method="fdr_bh")[1]` (statsmodels 0.15.0), with
/// ties and a missing test added here (NULL in, NULL out, not counted in m).
#[test]
fn benjamini_hochberg_agrees_with_statsmodels() {
    let p = [0.001, 0.04, 0.03, 0.03, 0.5, 0.2, 0.0001, 0.049, 0.8, 0.03];
    let want = [0.005, 0.06666666666666667, 0.06, 0.06, 0.5555555555555556, 0.25, 0.001, 0.07, 0.8, 0.06];
    let mut with_gap: Vec<Option<f64>> = p.iter().copied().map(Some).collect();
    with_gap.insert(3, None);
    let mut got = benjamini_hochberg(&with_gap);
    assert_eq!(got.remove(3), None);
    for (g, w) in got.iter().zip(want) {
        assert!((g.unwrap() - w).abs() < 1e-15, "{got:?}");
    }
    assert_eq!(benjamini_hochberg(&[]), []);
    assert_eq!(benjamini_hochberg(&[None, Some(f64::NAN)]), [None, None]);
}

proptest::proptest! {
    /// q-values follow the definition taken literally: q_i = min over tests j with p_j ≥ p_i of
    /// min(1, m·p_j / rank_j), where rank_j counts the tests with p ≤ p_j (the largest rank among
    /// ties), and they keep the p-values' order.
    #[test]
    fn q_values_follow_their_definition(p in p_values()) {
        let tests: Vec<f64> = p.iter().flatten().copied().collect();
        let m = tests.len() as f64;
        let q = benjamini_hochberg(&p);
        for (i, pi) in p.iter().enumerate() {
            let Some(pi) = pi else { proptest::prop_assert_eq!(q[i], None); continue };
            let want = tests
                .iter()
                .filter(|pj| *pj >= pi)
                .map(|pj| (m * pj / tests.iter().filter(|pk| *pk <= pj).count() as f64).min(1.0))
                .fold(f64::INFINITY, f64::min);
            let got = q[i].unwrap();
            proptest::prop_assert!((got - want).abs() <= 1e-15 * want.max(1e-300), "p {:?}: q {:?}", p, q);
            // m·p/m may round a unit in the last place below p.
            proptest::prop_assert!(got >= *pi * (1.0 - 4.0 * f64::EPSILON), "q {} below p {}", got, pi);
        }
    }
}

/// Up to 40 p-values, some missing, many tied.
fn p_values() -> impl proptest::strategy::Strategy<Value = Vec<Option<f64>>> {
    let value = proptest::prop_oneof![
        proptest::sample::select(vec![0.0, 0.001, 0.01, 0.02, 0.05, 0.3, 0.9, 1.0]),
        0.0..=1.0f64,
    ];
    proptest::collection::vec(proptest::option::weighted(0.9, value), 0..40)
}

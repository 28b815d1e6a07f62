//! Correlation statistics as SPEC ("Markets × COVID analysis") defines them, so that they agree
//! with SciPy's `pearsonr` and `spearmanr` to 1e-9:
//!
//! * Pearson: the sample correlation coefficient, from mean-centred sums (two passes: one-pass
//!   sums lose digits when the means are large, as for index levels around 10,000).
//! * Spearman: Pearson on ranks, ties getting the average of the ranks they span.
//! * p-value: two-sided, from t = r·√((n−2)/(1−r²)) with n−2 degrees of freedom. Since
//!   t² / (n−2 + t²) = r², the t distribution's two-sided tail equals the regularised incomplete
//!   beta function I_{1−r²}((n−2)/2, 1/2), computed without forming t (exact at |r| = 1: p = 0).
//!
//! A statistic that is undefined (fewer than 3 pairs, a constant series, a value that is not
//! finite) is an [`Undefined`] with its reason, never NaN or a made-up number.
//!
//! ```
//! use tributary_batch::stats::{pearson, spearman};
//!
//! let c = pearson(&[1.0, 2.0, 3.0, 4.0], &[2.0, 4.0, 6.0, 8.5]).unwrap();
//! assert!(c.coefficient > 0.99 && c.n == 4 && c.p_value < 0.01);
//! assert_eq!(spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]).unwrap().coefficient, -1.0);
//! assert!(pearson(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]).is_err());
//! ```

/// A correlation: coefficient in [−1, 1], number of pairs, two-sided p-value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Correlation {
    pub coefficient: f64,
    pub n: usize,
    pub p_value: f64,
}

/// Why a correlation is undefined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Undefined {
    /// Fewer than 3 pairs (the p-value needs n − 2 ≥ 1 degrees of freedom).
    TooFewPairs { n: usize },
    /// One of the series does not vary.
    ZeroVariance,
    /// A value is NaN or infinite (callers pass only present, finite pairs).
    NotFinite,
    /// The two series have different lengths.
    LengthMismatch,
}

impl Undefined {
    /// The reason as stored beside a NULL coefficient.
    pub fn reason(self) -> String {
        match self {
            Self::TooFewPairs { n } => format!("n = {n} < 3"),
            Self::ZeroVariance => "zero variance".into(),
            Self::NotFinite => "a value is not finite".into(),
            Self::LengthMismatch => "series of different lengths".into(),
        }
    }
}

impl std::fmt::Display for Undefined {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason())
    }
}

/// Pearson's sample correlation of the pairs `(x[i], y[i])`.
pub fn pearson(x: &[f64], y: &[f64]) -> Result<Correlation, Undefined> {
    if x.len() != y.len() {
        return Err(Undefined::LengthMismatch);
    }
    let n = x.len();
    if n < 3 {
        return Err(Undefined::TooFewPairs { n });
    }
    if !x.iter().chain(y).all(|v| v.is_finite()) {
        return Err(Undefined::NotFinite);
    }
    let (mx, my) = (mean(x), mean(y));
    let (mut sxx, mut syy, mut sxy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        let (dx, dy) = (a - mx, b - my);
        sxx += dx * dx;
        syy += dy * dy;
        sxy += dx * dy;
    }
    if sxx == 0.0 || syy == 0.0 {
        return Err(Undefined::ZeroVariance);
    }
    // √(sxx·syy) rounds once where √sxx·√syy rounds twice (and misses ±1 for perfect pairs).
    let product = sxx * syy;
    let norm = if product.is_finite() { product.sqrt() } else { sxx.sqrt() * syy.sqrt() };
    let r = (sxy / norm).clamp(-1.0, 1.0);
    Ok(Correlation { coefficient: r, n, p_value: p_value(r, n) })
}

/// Spearman's rank correlation: [`pearson`] on the [`ranks`] of each series.
pub fn spearman(x: &[f64], y: &[f64]) -> Result<Correlation, Undefined> {
    if x.len() != y.len() {
        return Err(Undefined::LengthMismatch);
    }
    if !x.iter().chain(y).all(|v| v.is_finite()) {
        return Err(Undefined::NotFinite);
    }
    pearson(&ranks(x), &ranks(y))
}

/// 1-based ranks; tied values get the mean of the ranks they span (SciPy's `rankdata`
/// "average"). NaNs sort last.
pub fn ranks(values: &[f64]) -> Vec<f64> {
    // Sorted by an integer key with `total_cmp`'s order (cheaper to compare than floats), the
    // key and the index side by side so that a comparison loads nothing else.
    let mut order: Vec<(u64, u32)> =
        values.iter().enumerate().map(|(i, v)| (total_order_key(*v), i as u32)).collect();
    order.sort_unstable_by_key(|&(key, _)| key);
    let mut ranks = vec![0.0; values.len()];
    let mut i = 0;
    while i < order.len() {
        let value = values[order[i].1 as usize];
        let mut j = i + 1;
        while j < order.len() && values[order[j].1 as usize] == value {
            j += 1;
        }
        // Positions i..j (0-based) hold ranks i+1..=j; their mean is (i + 1 + j) / 2.
        let rank = (i + 1 + j) as f64 / 2.0;
        for &(_, k) in &order[i..j] {
            ranks[k as usize] = rank;
        }
        i = j;
    }
    ranks
}

/// An unsigned key that sorts as [`f64::total_cmp`] does: negative numbers have all bits
/// flipped (larger magnitudes sort first), the others only the sign bit.
fn total_order_key(v: f64) -> u64 {
    let bits = v.to_bits();
    if bits >> 63 == 1 { !bits } else { bits | (1 << 63) }
}

/// The two-sided p-value of a correlation `r` over `n ≥ 3` pairs under the null hypothesis of no
/// correlation: P(|T| ≥ |t|) for Student's t with n − 2 degrees of freedom.
pub fn p_value(r: f64, n: usize) -> f64 {
    let df = (n - 2) as f64;
    let x = (1.0 - r * r).clamp(0.0, 1.0);
    if x == 0.0 {
        return 0.0;
    }
    statrs::function::beta::beta_reg(df / 2.0, 0.5, x).clamp(0.0, 1.0)
}

/// The two-sided p-value of `r` as [`p_value`] computes it, with a real number of pairs `n ≥ 3`
/// (an effective sample size): t = r·√((n−2)/(1−r²)) with n − 2 degrees of freedom.
pub fn p_value_with(r: f64, n: f64) -> f64 {
    let df = n - 2.0;
    let x = (1.0 - r * r).clamp(0.0, 1.0);
    if x == 0.0 {
        return 0.0;
    }
    statrs::function::beta::beta_reg(df / 2.0, 0.5, x).clamp(0.0, 1.0)
}

/// The lag-k sample autocorrelations of `v` for k = 1..=`max_lag`: the mean-centred lag-k sum of
/// products divided by the lag-0 sum of squares (0 for a constant series).
pub fn autocorrelations(v: &[f64], max_lag: usize) -> Vec<f64> {
    let m = mean(v);
    let centred: Vec<f64> = v.iter().map(|x| x - m).collect();
    let s0: f64 = centred.iter().map(|d| d * d).sum();
    (1..=max_lag.min(v.len().saturating_sub(1)))
        .map(|k| if s0 == 0.0 { 0.0 } else { dot(&centred[..centred.len() - k], &centred[k..]) / s0 })
        .collect()
}

/// Σ a[i]·b[i] in eight interleaved sums, which the compiler keeps in vector registers with
/// enough of them in flight to hide the additions' latency (the views take every lag of every
/// series and window: ≈ 1.5·10⁹ products per recomputation).
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut sums = [0.0; 8];
    let (chunks_a, chunks_b) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f64 = chunks_a.remainder().iter().zip(chunks_b.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in chunks_a.zip(chunks_b) {
        for j in 0..8 {
            sums[j] += x[j] * y[j];
        }
    }
    ((sums[0] + sums[1]) + (sums[2] + sums[3])) + ((sums[4] + sums[5]) + (sums[6] + sums[7])) + tail
}

/// The effective number of independent pairs of two series given in time order (SPEC,
/// "autocorrelation-adjusted inference"): n_eff = n / (1 + 2·Σ_{k=1..⌊n/5⌋} ((n−k)/n)·r_x(k)·r_y(k)),
/// clamped to [3, n]. Two trending series have strongly autocorrelated values, so their n pairs
/// carry the information of far fewer independent ones.
pub fn effective_pairs(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len().min(y.len());
    let max_lag = n / 5;
    effective_pairs_from(&autocorrelations(&x[..n], max_lag), &autocorrelations(&y[..n], max_lag), n)
}

/// [`effective_pairs`] of `n` pairs from the [`autocorrelations`] of each series up to lag
/// ⌊n/5⌋, for callers that pair one series with many and compute its side once.
pub fn effective_pairs_from(rx: &[f64], ry: &[f64], n: usize) -> f64 {
    let sum: f64 =
        rx.iter().zip(ry).enumerate().map(|(i, (a, b))| ((n - (i + 1)) as f64 / n as f64) * a * b).sum();
    let denominator = 1.0 + 2.0 * sum;
    // A sum that makes the denominator ≤ 0 (strong opposite autocorrelations) means more
    // information than n pairs: the clamp keeps n.
    let n_eff = if denominator > 0.0 { n as f64 / denominator } else { n as f64 };
    n_eff.clamp(3.0_f64.min(n as f64), n as f64)
}

/// A correlation's inference adjusted for autocorrelation: the [`effective_pairs`] of the series
/// it was computed from and the two-sided p-value of its coefficient with that many pairs
/// ([`p_value_with`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Adjusted {
    pub n_eff: f64,
    pub p_value: f64,
}

/// The autocorrelation-adjusted inference of coefficient `r` of the pairs `(x[i], y[i])` given in
/// time order (for Spearman pass the ranks, as the coefficient was computed from them).
///
/// ```
/// use tributary_batch::stats::{adjusted, pearson};
///
/// // Two straight trends: 50 pairs carry the information of about 5 independent ones.
/// let (x, y): (Vec<f64>, Vec<f64>) = (0..50).map(|i| (i as f64, (i * i) as f64)).unzip();
/// let c = pearson(&x, &y).unwrap();
/// let a = adjusted(c.coefficient, &x, &y);
/// assert!(a.n_eff < 6.0 && a.p_value > c.p_value);
/// ```
pub fn adjusted(r: f64, x: &[f64], y: &[f64]) -> Adjusted {
    let n_eff = effective_pairs(x, y);
    Adjusted { n_eff, p_value: p_value_with(r, n_eff) }
}

/// [`adjusted`] from the series' autocorrelations ([`effective_pairs_from`]).
pub fn adjusted_from(r: f64, rx: &[f64], ry: &[f64], n: usize) -> Adjusted {
    let n_eff = effective_pairs_from(rx, ry, n);
    Adjusted { n_eff, p_value: p_value_with(r, n_eff) }
}

/// Benjamini–Hochberg q-values of `p_values` (`None`s and NaNs are not tests and get `None`): with the m
/// present p-values sorted, p₍ᵢ₎ at rank i, q₍ᵢ₎ = min over j ≥ i of min(1, m·p₍ⱼ₎ / j). A result
/// with q < α is a discovery at false discovery rate α (as `statsmodels`' `fdr_bh`). Tied
/// p-values get the same q.
///
/// ```
/// use tributary_batch::stats::benjamini_hochberg;
///
/// // Sorted: 0.0625, 0.125, 0.25 (m = 3): 3·0.25/3 = 0.25, then min(0.25, 3·0.125/2) = 0.1875,
/// // then min(0.1875, 3·0.0625/1) = 0.1875.
/// let q = benjamini_hochberg(&[Some(0.0625), None, Some(0.25), Some(0.125)]);
/// assert_eq!(q, [Some(0.1875), None, Some(0.25), Some(0.1875)]);
/// ```
pub fn benjamini_hochberg(p_values: &[Option<f64>]) -> Vec<Option<f64>> {
    let mut order: Vec<(f64, usize)> =
        p_values.iter().enumerate().filter_map(|(i, p)| p.filter(|p| !p.is_nan()).map(|p| (p, i))).collect();
    order.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let m = order.len() as f64;
    let mut q = vec![None; p_values.len()];
    let mut running = 1.0_f64;
    for (rank, &(p, i)) in order.iter().enumerate().rev() {
        running = running.min(p * m / (rank + 1) as f64);
        q[i] = Some(running);
    }
    q
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

#[cfg(test)]
mod tests;

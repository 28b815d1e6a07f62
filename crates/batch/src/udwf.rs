//! `rolling_correlation(x, y, w) OVER (PARTITION BY … ORDER BY …)`: for each row, the statistics
//! of [`crate::stats`] over the `w` rows ending at it (the row itself and the `w − 1` before it in
//! the window's order), as the same struct as the `correlation` aggregate. The struct is NULL
//! unless all `w` pairs in those rows are present: a rolling window is reported only when full.
//! The window's order is its time order, so the autocorrelation-adjusted inference is always
//! there.
//!
//! A window function rather than the aggregate over a sliding frame: it sees the whole partition
//! at once, reads each window as a slice of the input columns and builds the result column in
//! one go, where a sliding aggregate frame costs array slicing and a scalar per row.

use std::any::Any;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type};
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::logical_expr::function::{PartitionEvaluatorArgs, WindowUDFFieldArgs};
use datafusion::logical_expr::{PartitionEvaluator, Signature, Volatility, WindowUDF, WindowUDFImpl};
use datafusion::physical_expr::expressions::Literal;

use crate::udaf::{Statistics, result_fields, struct_array};

/// The `rolling_correlation` window function, ready to register.
pub fn rolling_correlation() -> WindowUDF {
    use DataType::{Float64, Int64};
    WindowUDF::from(RollingCorrelation {
        signature: Signature::exact(vec![Float64, Float64, Int64], Volatility::Immutable),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct RollingCorrelation {
    signature: Signature,
}

impl WindowUDFImpl for RollingCorrelation {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn name(&self) -> &str {
        "rolling_correlation"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn field(&self, args: WindowUDFFieldArgs) -> Result<FieldRef> {
        Ok(Arc::new(Field::new(args.name(), DataType::Struct(result_fields()), true)))
    }
    fn partition_evaluator(&self, args: PartitionEvaluatorArgs) -> Result<Box<dyn PartitionEvaluator>> {
        let window =
            args.input_exprs().get(2).and_then(|e| e.as_any().downcast_ref::<Literal>()).map(Literal::value);
        match window {
            Some(ScalarValue::Int64(Some(w))) if *w >= 1 => Ok(Box::new(Windows { rows: *w as usize })),
            _ => plan_err!(
                "the third argument of rolling_correlation (the window's rows) must be a constant ≥ 1"
            ),
        }
    }
}

/// Evaluates a partition: one window of `rows` rows ending at each row.
#[derive(Debug)]
struct Windows {
    rows: usize,
}

impl PartitionEvaluator for Windows {
    fn evaluate_all(&mut self, values: &[ArrayRef], num_rows: usize) -> Result<ArrayRef> {
        let (x, y) = (values[0].as_primitive::<Float64Type>(), values[1].as_primitive::<Float64Type>());
        let (xs, ys) = (x.values(), y.values());
        let mut stats = Vec::with_capacity(num_rows);
        // The current window's values in sorted order, kept up to date as it slides (one
        // insertion and one removal per row instead of sorting every window for its ranks).
        let (mut sorted_x, mut sorted_y) = (SortedWindow::default(), SortedWindow::default());
        let (mut rank_x, mut rank_y) = (vec![0.0; self.rows], vec![0.0; self.rows]);
        // Rows in a row, up to the current one, where both values are present.
        let mut present = 0;
        for i in 0..num_rows {
            if !(x.is_valid(i) && y.is_valid(i)) {
                present = 0;
                sorted_x.clear();
                sorted_y.clear();
                stats.push(None);
                continue;
            }
            present += 1;
            sorted_x.insert(xs[i], i);
            sorted_y.insert(ys[i], i);
            if present > self.rows {
                let leaving = i - self.rows;
                sorted_x.remove(xs[leaving], leaving);
                sorted_y.remove(ys[leaving], leaving);
            }
            if present < self.rows {
                stats.push(None);
                continue;
            }
            let start = i + 1 - self.rows;
            let (wx, wy) = (&xs[start..=i], &ys[start..=i]);
            if !wx.iter().chain(wy).all(|v| v.is_finite()) {
                // Reported as not finite by the statistics themselves.
                stats.push(Some(Statistics::unordered(wx, wy)));
                continue;
            }
            sorted_x.ranks(start, &mut rank_x);
            sorted_y.ranks(start, &mut rank_y);
            stats.push(Some(Statistics::from_ranks(wx, wy, &rank_x, &rank_y)));
        }
        Ok(Arc::new(struct_array(&stats)?))
    }
}

/// A window's values with their rows, in `total_cmp` order.
#[derive(Debug, Default)]
struct SortedWindow {
    items: Vec<(f64, usize)>,
}

impl SortedWindow {
    fn clear(&mut self) {
        self.items.clear();
    }

    fn insert(&mut self, value: f64, row: usize) {
        let at = self.items.partition_point(|(v, _)| v.total_cmp(&value).is_le());
        self.items.insert(at, (value, row));
    }

    fn remove(&mut self, value: f64, row: usize) {
        let from = self.items.partition_point(|(v, _)| v.total_cmp(&value).is_lt());
        if let Some(offset) = self.items[from..].iter().position(|&(_, r)| r == row) {
            self.items.remove(from + offset);
        }
    }

    /// The 1-based rank of each row `start..start + out.len()`, ties getting the mean of the
    /// ranks they span (as [`crate::stats::ranks`]).
    fn ranks(&self, start: usize, out: &mut [f64]) {
        let mut i = 0;
        while i < self.items.len() {
            let mut j = i + 1;
            while j < self.items.len() && self.items[j].0 == self.items[i].0 {
                j += 1;
            }
            let rank = (i + 1 + j) as f64 / 2.0;
            for &(_, row) in &self.items[i..j] {
                out[row - start] = rank;
            }
            i = j;
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::stats;
    use crate::udaf::tests::{rows, session};

    #[tokio::test]
    async fn a_window_is_reported_only_when_all_its_pairs_are_present() {
        let xs: Vec<f64> = (0..12).map(|i| ((i * 7) % 5) as f64 + i as f64 * 0.1).collect();
        let ys: Vec<f64> = (0..12).map(|i| ((i * 3) % 4) as f64).collect();
        let mut y: Vec<Option<f64>> = ys.iter().copied().map(Some).collect();
        y[6] = None;
        let ctx = session(vec!["a"; 12], xs.iter().copied().map(Some).collect(), y).await;
        let got =
            rows(&ctx, "SELECT i, rolling_correlation(x, y, 4) OVER (ORDER BY i) FROM t ORDER BY i").await;
        for (i, (_, value)) in got.iter().enumerate() {
            // Windows i−3..=i: the first three are short, and those holding row 6 lack a pair.
            let full = i >= 3 && !(i - 3..=i).contains(&6);
            assert_eq!(value.is_some(), full, "window ending at {i}: {value:?}");
            if full {
                let want = stats::pearson(&xs[i - 3..=i], &ys[i - 3..=i]).unwrap().coefficient;
                let got = value.as_ref().unwrap().1.unwrap();
                assert!((got - want).abs() < 1e-15, "window ending at {i}: {got} vs {want}");
            }
        }
        // Partitions are windowed apart.
        let ctx = session(
            vec!["a", "a", "a", "b", "b", "b"],
            (0..6).map(|i| Some(i as f64)).collect(),
            (0..6).map(|i| Some((i * i) as f64)).collect(),
        )
        .await;
        let got = rows(
            &ctx,
            "SELECT g, rolling_correlation(x, y, 3) OVER (PARTITION BY g ORDER BY i) FROM t ORDER BY i",
        )
        .await;
        let full: Vec<bool> = got.iter().map(|(_, v)| v.is_some()).collect();
        assert_eq!(full, [false, false, true, false, false, true]);
    }

    #[tokio::test]
    async fn sliding_ranks_give_the_spearman_of_each_window_sorted_afresh() {
        // Values with many ties, a gap (NULL) that restarts the window, and a negative zero.
        let xs: Vec<Option<f64>> =
            (0..200).map(|i| (i != 77).then(|| if i == 5 { -0.0 } else { ((i * 37) % 11) as f64 })).collect();
        let ys: Vec<Option<f64>> = (0..200).map(|i| Some(((i * 13) % 7) as f64 - 3.0)).collect();
        let ctx = session(vec!["a"; 200], xs.clone(), ys.clone()).await;
        for w in [3usize, 30, 90] {
            let got = rows(
                &ctx,
                &format!("SELECT i, rolling_correlation(x, y, {w}) OVER (ORDER BY i) FROM t ORDER BY i"),
            )
            .await;
            let mut full = 0;
            for (i, (_, value)) in got.iter().enumerate() {
                let window = (i + 1).checked_sub(w).map(|s| s..i + 1);
                let pairs: Option<(Vec<f64>, Vec<f64>)> = window
                    .and_then(|r| r.map(|k| Some((xs[k]?, ys[k]?))).collect::<Option<Vec<_>>>())
                    .map(|p| p.into_iter().unzip());
                match (value, pairs) {
                    (None, None) => {}
                    (Some((n, _, s, _)), Some((wx, wy))) => {
                        full += 1;
                        assert_eq!(*n as usize, w);
                        let want = stats::spearman(&wx, &wy).ok().map(|c| c.coefficient);
                        assert_eq!(*s, want, "W = {w}, window ending at {i}");
                    }
                    (got, want) => panic!("W = {w}, window ending at {i}: {got:?} vs {want:?}"),
                }
            }
            assert!(full > 100 - w as i32, "W = {w}: {full} full windows");
        }
    }

    #[tokio::test]
    async fn the_window_size_must_be_a_positive_constant() {
        let ctx = session(vec!["a"], vec![Some(1.0)], vec![Some(1.0)]).await;
        for sql in [
            "SELECT rolling_correlation(x, y, i) OVER (ORDER BY i) FROM t",
            "SELECT rolling_correlation(x, y, 0) OVER (ORDER BY i) FROM t",
        ] {
            let error = match ctx.sql(sql).await {
                Ok(df) => df.collect().await.unwrap_err(),
                Err(e) => e,
            };
            assert!(error.to_string().contains("must be a constant ≥ 1"), "{sql}: {error}");
        }
    }
}

//! `rolling_correlation(x, y, w) OVER (PARTITION BY … ORDER BY …)`: for each row, the statistics
//! of [`crate::stats`] over the `w` rows ending at it (the row itself and the `w − 1` before it in
//! the window's order), as the same struct as the `correlation` aggregate. The struct is NULL
//! unless all `w` pairs in those rows are present: a rolling window is reported only when full.
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
        // Rows in a row, up to the current one, where both values are present.
        let mut present = 0;
        for i in 0..num_rows {
            present = if x.is_valid(i) && y.is_valid(i) { present + 1 } else { 0 };
            stats.push((present >= self.rows).then(|| {
                let window = i + 1 - self.rows..i + 1;
                Statistics::of(&xs[window.clone()], &ys[window])
            }));
        }
        Ok(Arc::new(struct_array(&stats)?))
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

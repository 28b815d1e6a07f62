use datafusion::arrow::array::{Array, AsArray, Float64Array, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Int64Type, Schema};
use datafusion::prelude::SessionContext;

use super::*;
use crate::stats;

/// A session with table `t(g, i, x, y)` and the aggregate registered.
async fn session(g: Vec<&str>, x: Vec<Option<f64>>, y: Vec<Option<f64>>) -> SessionContext {
    let schema = Arc::new(Schema::new(vec![
        Field::new("g", DataType::Utf8, false),
        Field::new("i", DataType::Int64, false),
        Field::new("x", DataType::Float64, true),
        Field::new("y", DataType::Float64, true),
    ]));
    let i: Int64Array = (0..x.len() as i64).collect();
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(StringArray::from(g)),
            Arc::new(i),
            Arc::new(Float64Array::from(x)),
            Arc::new(Float64Array::from(y)),
        ],
    )
    .unwrap();
    let ctx = SessionContext::new();
    ctx.register_udaf(correlation());
    ctx.register_batch("t", batch).unwrap();
    ctx
}

/// `(n, pearson, spearman, reason)` per row of a query returning `label, c`.
async fn rows(
    ctx: &SessionContext,
    sql: &str,
) -> Vec<(String, Option<(i64, Option<f64>, Option<f64>, Option<String>)>)> {
    let mut out = Vec::new();
    for b in ctx.sql(sql).await.unwrap().collect().await.unwrap() {
        let labels = datafusion::arrow::compute::cast(b.column(0), &DataType::Utf8).unwrap();
        let labels = labels.as_string::<i32>();
        let c = b.column(1).as_struct();
        let (n, p, s, r) = (
            c.column(0).as_primitive::<Int64Type>(),
            c.column(1).as_primitive::<Float64Type>(),
            c.column(3).as_primitive::<Float64Type>(),
            c.column(5).as_string::<i32>(),
        );
        let opt = |a: &Float64Array, i: usize| a.is_valid(i).then(|| a.value(i));
        for i in 0..b.num_rows() {
            let value = c
                .is_valid(i)
                .then(|| (n.value(i), opt(p, i), opt(s, i), r.is_valid(i).then(|| r.value(i).to_string())));
            out.push((labels.value(i).to_string(), value));
        }
    }
    out
}

#[tokio::test]
async fn grouped_results_equal_the_statistics_on_each_groups_present_pairs() {
    let g = vec!["a", "a", "a", "a", "b", "b", "b", "c", "c", "a"];
    let x = vec![
        Some(1.0),
        Some(2.0),
        None,
        Some(4.0),
        Some(1.0),
        Some(1.0),
        Some(1.0),
        Some(1.0),
        Some(2.0),
        Some(7.0),
    ];
    let y = vec![
        Some(2.0),
        Some(1.0),
        Some(5.0),
        Some(9.0),
        Some(1.0),
        Some(2.0),
        Some(3.0),
        Some(3.0),
        Some(4.0),
        None,
    ];
    let ctx = session(g, x, y).await;
    let got = rows(&ctx, "SELECT g, correlation(x, y) FROM t GROUP BY g ORDER BY g").await;
    let a = stats::pearson(&[1.0, 2.0, 4.0], &[2.0, 1.0, 9.0]).unwrap();
    let a_s = stats::spearman(&[1.0, 2.0, 4.0], &[2.0, 1.0, 9.0]).unwrap();
    assert_eq!(got[0], ("a".into(), Some((3, Some(a.coefficient), Some(a_s.coefficient), None))));
    assert_eq!(got[1], ("b".into(), Some((3, None, None, Some("zero variance".into())))));
    assert_eq!(got[2], ("c".into(), Some((2, None, None, Some("n = 2 < 3".into())))));
    // Without GROUP BY (the one-group accumulator), all present pairs.
    let all = rows(&ctx, "SELECT 'all', correlation(x, y) FROM t").await;
    assert_eq!(all[0].1.as_ref().unwrap().0, 8);
}

#[tokio::test]
async fn a_sliding_window_reports_only_windows_with_all_required_pairs() {
    let xs: Vec<f64> = (0..12).map(|i| ((i * 7) % 5) as f64 + i as f64 * 0.1).collect();
    let ys: Vec<f64> = (0..12).map(|i| ((i * 3) % 4) as f64).collect();
    let mut y: Vec<Option<f64>> = ys.iter().copied().map(Some).collect();
    y[6] = None;
    let ctx = session(vec!["a"; 12], xs.iter().copied().map(Some).collect(), y).await;
    let got = rows(
        &ctx,
        "SELECT i, correlation(x, y, 4) OVER (ORDER BY i ROWS BETWEEN 3 PRECEDING AND CURRENT ROW) FROM t ORDER BY i",
    )
    .await;
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
}

#[tokio::test]
async fn the_required_number_of_pairs_must_be_a_positive_constant() {
    let ctx = session(vec!["a"], vec![Some(1.0)], vec![Some(1.0)]).await;
    for sql in ["SELECT correlation(x, y, i) FROM t", "SELECT correlation(x, y, 0) FROM t"] {
        let error = match ctx.sql(sql).await {
            Ok(df) => df.collect().await.unwrap_err(),
            Err(e) => e,
        };
        assert!(error.to_string().contains("must be a constant ≥ 1"), "{sql}: {error}");
    }
}

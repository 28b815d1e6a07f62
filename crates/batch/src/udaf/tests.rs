use datafusion::arrow::array::{Array, AsArray, Float64Array, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Int64Type, Schema};
use datafusion::prelude::SessionContext;

use super::*;
use crate::stats;

/// A session with table `t(g, i, x, y)` and the aggregate and window function registered.
pub(crate) async fn session(g: Vec<&str>, x: Vec<Option<f64>>, y: Vec<Option<f64>>) -> SessionContext {
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
pub(crate) async fn rows(
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
async fn with_times_the_pairs_are_taken_in_time_order_for_the_adjusted_inference() {
    // 22 rows in two groups; each row's time is a permutation of its position, so the rows
    // arrive out of time order.
    let n = 22;
    let g: Vec<&str> = (0..n).map(|i| if i % 2 == 0 { "a" } else { "b" }).collect();
    let x: Vec<Option<f64>> = (0..n).map(|i| Some((i as f64 * 0.7).sin() + i as f64 * 0.05)).collect();
    let y: Vec<Option<f64>> = (0..n).map(|i| Some((i as f64 * 0.3).cos() * 2.0 + (i % 3) as f64)).collect();
    let ctx = session(g, x.clone(), y.clone()).await;
    let sql = "SELECT g, c['n'], c['n_eff'], c['pearson_p_adj'], c['spearman_n_eff'], c['spearman_p_adj'] \
               FROM (SELECT g, correlation(x, y, (i * 7) % 23) AS c FROM t GROUP BY g) ORDER BY g";
    let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
    let b = &batches[0];
    for (row, group) in ["a", "b"].iter().enumerate() {
        let parity = usize::from(*group == "b");
        // The group's pairs sorted by their time.
        let mut timed: Vec<(i64, f64, f64)> = (0..n)
            .filter(|i| i % 2 == parity)
            .map(|i| ((i as i64 * 7) % 23, x[i].unwrap(), y[i].unwrap()))
            .collect();
        timed.sort_by_key(|t| t.0);
        let (xs, ys): (Vec<f64>, Vec<f64>) = timed.iter().map(|t| (t.1, t.2)).unzip();
        let p = stats::adjusted(stats::pearson(&xs, &ys).unwrap().coefficient, &xs, &ys);
        let (rx, ry) = (stats::ranks(&xs), stats::ranks(&ys));
        let s = stats::adjusted(stats::spearman(&xs, &ys).unwrap().coefficient, &rx, &ry);
        let f = |c: usize| b.column(c).as_primitive::<Float64Type>().value(row);
        assert_eq!(b.column(1).as_primitive::<Int64Type>().value(row), 11);
        assert_eq!([f(2), f(3), f(4), f(5)], [p.n_eff, p.p_value, s.n_eff, s.p_value], "group {group}");
        // Taken in arrival order the series would have other autocorrelations.
        let (ax, ay): (Vec<f64>, Vec<f64>) =
            (0..n).filter(|i| i % 2 == parity).map(|i| (x[i].unwrap(), y[i].unwrap())).unzip();
        assert_ne!(stats::effective_pairs(&ax, &ay), p.n_eff);
    }
    // Without times, or with a NULL time, nothing is adjusted (and a pair without a time is
    // not used).
    let sql = "SELECT c['n'], c['n_eff'], c['pearson_p_adj'], c['spearman_p_adj'], d['n'] FROM \
               (SELECT correlation(x, y) AS c, correlation(x, y, CASE WHEN i = 0 THEN NULL ELSE i END) AS d FROM t)";
    let b = &ctx.sql(sql).await.unwrap().collect().await.unwrap()[0];
    assert_eq!(b.column(0).as_primitive::<Int64Type>().value(0), n as i64);
    for c in 1..4 {
        assert!(b.column(c).is_null(0), "column {c}");
    }
    assert_eq!(b.column(4).as_primitive::<Int64Type>().value(0), n as i64 - 1);
}

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
    ctx.register_udwf(crate::udwf::rolling_correlation());
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

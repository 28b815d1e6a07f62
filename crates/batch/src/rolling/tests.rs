use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, Float64Array, Int64Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Int64Type, Schema};
use datafusion::prelude::SessionContext;

use super::*;
use crate::stats;

/// A session with table `t(g, day, x, y)` (g: the series pair) and the function registered.
fn session(g: &[i64], x: &[Option<f64>], y: &[Option<f64>]) -> SessionContext {
    let schema = Arc::new(Schema::new(vec![
        Field::new("g", DataType::Int64, false),
        Field::new("day", DataType::Int64, false),
        Field::new("x", DataType::Float64, true),
        Field::new("y", DataType::Float64, true),
    ]));
    let day: Int64Array = (0..x.len() as i64).map(|d| d * 2).collect();
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from(g.to_vec())),
            Arc::new(day),
            Arc::new(Float64Array::from(x.to_vec())),
            Arc::new(Float64Array::from(y.to_vec())),
        ],
    )
    .unwrap();
    let ctx = SessionContext::new();
    ctx.register_udf(rolling_correlations());
    ctx.register_batch("t", batch).unwrap();
    ctx
}

/// Per (g, window's last day): (n, pearson, spearman, n_eff, spearman_n_eff) as bits.
type Windows = BTreeMap<(i64, i64), [Option<u64>; 5]>;

async fn windows(ctx: &SessionContext, w: &str) -> Windows {
    let sql = format!(
        "WITH s AS (SELECT g, array_agg(day) AS days, array_agg(x) AS x, array_agg(y) AS y FROM t GROUP BY g),
              r AS (SELECT g, unnest(rolling_correlations(days, x, days, y, {w})) AS r FROM s)
         SELECT g, r['day'], r FROM r"
    );
    let mut out = Windows::new();
    for b in ctx.sql(&sql).await.unwrap().collect().await.unwrap() {
        let (g, day, c) = (
            b.column(0).as_primitive::<Int64Type>(),
            b.column(1).as_primitive::<Int64Type>(),
            b.column(2).as_struct(),
        );
        let float = |name: &str, i: usize| {
            let a = c.column_by_name(name).unwrap().as_primitive::<Float64Type>();
            a.is_valid(i).then(|| a.value(i).to_bits())
        };
        for i in 0..b.num_rows() {
            let n = Some(c.column_by_name("n").unwrap().as_primitive::<Int64Type>().value(i) as u64);
            let row =
                [n, float("pearson", i), float("spearman", i), float("n_eff", i), float("spearman_n_eff", i)];
            assert!(out.insert((g.value(i), day.value(i)), row).is_none());
        }
    }
    out
}

/// The same statistics of each full window, computed afresh.
fn direct(g: &[i64], x: &[Option<f64>], y: &[Option<f64>], w: usize) -> Windows {
    let mut out = Windows::new();
    for i in 0..x.len() {
        let Some(start) = (i + 1).checked_sub(w) else { continue };
        if g[start..=i].iter().any(|&h| h != g[i]) {
            continue;
        }
        let Some(pairs) = (start..=i).map(|k| Some((x[k]?, y[k]?))).collect::<Option<Vec<_>>>() else {
            continue;
        };
        let (wx, wy): (Vec<f64>, Vec<f64>) = pairs.into_iter().unzip();
        let s = Statistics::in_time_order(&wx, &wy);
        let array = crate::udaf::struct_array(&[Some(s)]).unwrap();
        let float = |f: usize| {
            let a = array.column(f).as_primitive::<Float64Type>();
            a.is_valid(0).then(|| a.value(0).to_bits())
        };
        out.insert((g[i], i as i64 * 2), [Some(w as u64), float(1), float(3), float(6), float(8)]);
    }
    out
}

#[tokio::test]
async fn each_full_window_equals_its_statistics_computed_afresh_bit_for_bit() {
    // Two series pairs; values with many ties, a gap (NULL) that restarts the window, a negative
    // zero, and in the second pair a value that is not finite.
    let n = 400;
    let g: Vec<i64> = (0..n).map(|i| i64::from(i >= 250)).collect();
    let x: Vec<Option<f64>> =
        (0..n).map(|i| (i != 77).then(|| if i == 5 { -0.0 } else { ((i * 37) % 11) as f64 })).collect();
    let mut y: Vec<Option<f64>> = (0..n).map(|i| Some(((i * 13) % 7) as f64 - 3.0)).collect();
    y[300] = Some(f64::INFINITY);
    let ctx = session(&g, &x, &y);
    for w in [1usize, 3, 30, 90] {
        let got = windows(&ctx, &format!("make_array({w})")).await;
        let want = direct(&g, &x, &y, w);
        assert_eq!(got, want, "W = {w}");
        assert!(got.len() > 100, "W = {w}: {} windows", got.len());
    }
    // The window sizes may be a column.
    let got = windows(&ctx, "CASE WHEN g = 0 THEN make_array(3) ELSE make_array(30) END").await;
    let (w3, w30) = (direct(&g, &x, &y, 3), direct(&g, &x, &y, 30));
    let want: Windows = w3
        .into_iter()
        .filter(|((g, _), _)| *g == 0)
        .chain(w30.into_iter().filter(|((g, _), _)| *g == 1))
        .collect();
    assert_eq!(got, want);
}

#[tokio::test]
async fn a_window_needs_y_on_each_of_its_days() {
    // y lacks day 6 (x's fourth day): windows holding it are not full.
    let ctx = SessionContext::new();
    ctx.register_udf(rolling_correlations());
    let sql = "WITH r AS (SELECT unnest(rolling_correlations(
                   make_array(0, 2, 4, 6, 8, 10, 12), make_array(1.0, 2.0, 4.0, 3.0, 5.0, 7.0, 6.0),
                   make_array(0, 2, 4, 8, 10, 12, 14), make_array(1.0, 3.0, 2.0, 5.0, 4.0, 6.0, 9.0),
                   make_array(3))) AS r)
               SELECT r['day'], r['n'], r['pearson'] FROM r";
    let got = ctx.sql(sql).await.unwrap().collect().await.unwrap();
    let days: Vec<i64> = got[0].column(0).as_primitive::<Int64Type>().values().to_vec();
    assert_eq!(days, [4, 12], "windows ending at 4 (0, 2, 4) and 12 (8, 10, 12)");
    let pearson = got[0].column(2).as_primitive::<Float64Type>().value(1);
    assert_eq!(pearson, stats::pearson(&[5.0, 7.0, 6.0], &[5.0, 4.0, 6.0]).unwrap().coefficient);
}

#[tokio::test]
async fn the_window_size_must_be_an_integer_from_1() {
    let ctx = session(&[0], &[Some(1.0)], &[Some(1.0)]);
    for (w, want) in
        [("make_array(0)", "a window is 1 to 100000 days, not 0"), ("3", "then a list of window sizes")]
    {
        let sql = format!(
            "SELECT rolling_correlations(make_array(1), make_array(1.0), make_array(1), make_array(1.0), {w})"
        );
        let error = match ctx.sql(&sql).await {
            Ok(df) => df.collect().await.unwrap_err(),
            Err(e) => e,
        };
        assert!(error.to_string().contains(want), "{w}: {error}");
    }
    let null = ctx
        .sql("SELECT rolling_correlations(make_array(1), make_array(1.0), make_array(1), make_array(1.0), NULL) IS NULL")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    assert!(null[0].column(0).as_boolean().value(0));
}

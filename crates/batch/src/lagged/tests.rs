use std::collections::BTreeMap;

use datafusion::arrow::array::{Array, AsArray, Float64Array, Int32Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Int32Type, Int64Type, Schema};
use datafusion::prelude::SessionContext;
use proptest::prelude::*;

use super::*;

/// A session with tables `xs(day, x)` and `ys(day, y)` and the functions registered.
fn session(xs: &[(i32, Option<f64>)], ys: &[(i32, Option<f64>)]) -> SessionContext {
    let ctx = SessionContext::new();
    ctx.register_udf(lagged_correlations());
    ctx.register_udaf(crate::udaf::correlation());
    for (name, column, rows) in [("xs", "x", xs), ("ys", "y", ys)] {
        let schema = Arc::new(Schema::new(vec![
            Field::new("day", DataType::Int32, false),
            Field::new(column, DataType::Float64, true),
        ]));
        let days: Int32Array = rows.iter().map(|r| r.0).collect();
        let values: Float64Array = rows.iter().map(|r| r.1).collect();
        let batch = RecordBatch::try_new(schema, vec![Arc::new(days), Arc::new(values)]).unwrap();
        ctx.register_batch(name, batch).unwrap();
    }
    ctx
}

/// Every statistic of a result struct as bits (NULL: `None`), by lag.
type Bits = BTreeMap<i32, Vec<Option<u64>>>;

async fn by_lag(ctx: &SessionContext, sql: &str) -> Bits {
    let mut out = Bits::new();
    for b in ctx.sql(sql).await.unwrap().collect().await.unwrap() {
        let (lags, c) = (b.column(0).as_primitive::<Int32Type>(), b.column(1).as_struct());
        // By name: the function's struct has the lag in front, the aggregate's does not.
        let column = |name: &str| c.column_by_name(name).unwrap_or_else(|| panic!("no field {name}"));
        for i in 0..b.num_rows() {
            let mut fields = vec![Some(column("n").as_primitive::<Int64Type>().value(i) as u64)];
            for name in [
                "pearson",
                "pearson_p",
                "spearman",
                "spearman_p",
                "n_eff",
                "pearson_p_adj",
                "spearman_n_eff",
                "spearman_p_adj",
            ] {
                let a = column(name).as_primitive::<Float64Type>();
                fields.push(a.is_valid(i).then(|| a.value(i).to_bits()));
            }
            let reason = column("reason").as_string::<i32>();
            fields.push(reason.is_valid(i).then(|| reason.value(i).len() as u64));
            assert!(out.insert(lags.value(i), fields).is_none(), "lag {} twice", lags.value(i));
        }
    }
    out
}

/// The same statistics two ways: the function over the series as arrays (days unsorted), and the
/// `correlation` aggregate over a join at each lag.
async fn both_ways(xs: &[(i32, Option<f64>)], ys: &[(i32, Option<f64>)], lags: (i32, i32)) -> (Bits, Bits) {
    let ctx = session(xs, ys);
    let (min, max) = lags;
    let arrays = by_lag(
        &ctx,
        &format!(
            "WITH a AS (SELECT array_agg(day) AS days, array_agg(x) AS x FROM xs),
                  b AS (SELECT array_agg(day) AS days, array_agg(y) AS y FROM ys),
                  r AS (SELECT unnest(lagged_correlations(a.days, a.x, b.days, b.y, {min}, {max})) AS r
                        FROM a CROSS JOIN b)
             SELECT r['lag'], r FROM r"
        ),
    )
    .await;
    let joined = by_lag(
        &ctx,
        &format!(
            "SELECT CAST(l.value AS INT) AS lag, correlation(a.x, b.y, a.day)
             FROM xs a CROSS JOIN generate_series({min}, {max}) l JOIN ys b ON b.day = a.day - l.value
             GROUP BY l.value"
        ),
    )
    .await;
    (arrays, joined)
}

#[tokio::test]
async fn every_lag_equals_the_aggregate_over_the_join_bit_for_bit() {
    // A market on weekdays with a gap and a NULL return; a COVID series with NULLs (the first
    // days of a 7-day average) and a late start; listed out of order.
    let xs: Vec<(i32, Option<f64>)> = (0..120)
        .filter(|d| d % 7 < 5 && !(40..44).contains(d))
        .map(|d| (d, (d != 3).then(|| 1000.0 + ((d * 37) % 101) as f64 + d as f64 * 0.5)))
        .rev()
        .collect();
    let ys: Vec<(i32, Option<f64>)> =
        (20..100).map(|d| (d, (d >= 26).then(|| ((d * d) % 53) as f64 / 7.0))).collect();
    let (arrays, joined) = both_ways(&xs, &ys, (-28, 28)).await;
    assert_eq!(arrays.len(), 57, "the series meet at every lag");
    assert_eq!(arrays, joined);

    // Lags where the series do not meet have no element, those with fewer than 3 pairs a reason.
    let (arrays, joined) = both_ways(&xs[..5], &ys, (-50, 50)).await;
    assert_eq!(arrays, joined);
    assert!(arrays.len() < 101 && !arrays.is_empty(), "{} lags", arrays.len());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn any_two_series_agree_with_the_join(
        xs in prop::collection::btree_map(0..60i32, prop::option::weighted(0.9, -5.0..5.0f64), 0..40),
        ys in prop::collection::btree_map(0..60i32, prop::option::weighted(0.9, prop::sample::select(vec![0.0, 1.0, 2.0, 2.5, -1.0])), 0..40),
    ) {
        let (xs, ys): (Vec<_>, Vec<_>) = (xs.into_iter().collect(), ys.into_iter().collect());
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let (arrays, joined) = runtime.block_on(both_ways(&xs, &ys, (-10, 10)));
        prop_assert_eq!(arrays, joined);
    }
}

#[tokio::test]
async fn a_null_list_gives_null_dates_work_and_bad_calls_say_why() {
    let ctx = session(&[(1, Some(1.0)), (2, Some(2.0)), (3, Some(4.0))], &[(1, Some(1.0))]);
    let got = ctx
        .sql(
            "SELECT lagged_correlations(NULL, make_array(1.0), make_array(1), make_array(2.0), 0, 1) IS NULL",
        )
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    assert!(got[0].column(0).as_boolean().value(0));
    // Days as dates; three pairs at lag 0 and at lag 1 (the lag-1 pairs are (x(d), y(d − 1))).
    let got = by_lag(
        &ctx,
        "WITH r AS (SELECT unnest(lagged_correlations(
                        make_array(DATE '2020-03-02', DATE '2020-03-03', DATE '2020-03-04'), make_array(1.0, 2.0, 4.0),
                        make_array(DATE '2020-03-01', DATE '2020-03-02', DATE '2020-03-03', DATE '2020-03-04'), make_array(5.0, 1.0, 3.0, 2.0),
                        0, 1)) AS r)
         SELECT r['lag'], r FROM r",
    )
    .await;
    let pearson = |xs: &[f64], ys: &[f64]| Some(crate::stats::pearson(xs, ys).unwrap().coefficient.to_bits());
    assert_eq!(got[&0][1], pearson(&[1.0, 2.0, 4.0], &[1.0, 3.0, 2.0]));
    assert_eq!(got[&1][1], pearson(&[1.0, 2.0, 4.0], &[5.0, 1.0, 3.0]));

    for (sql, want) in [
        (
            "SELECT lagged_correlations(make_array(1), make_array(1.0), make_array(1), make_array(1.0), day, 1) FROM xs",
            "must be constants",
        ),
        (
            "SELECT lagged_correlations(make_array(1), make_array(1.0), make_array(1), make_array(1.0), 2, 1)",
            "greater than max_lag",
        ),
        (
            "SELECT lagged_correlations(make_array(1), make_array(1.0), make_array(1), make_array(1.0), 0, 1000000)",
            "must be constants",
        ),
        (
            "SELECT lagged_correlations(make_array(1, 2), make_array(1.0), make_array(1), make_array(1.0), 0, 1)",
            "x_days has 2 elements and x 1",
        ),
        (
            "SELECT lagged_correlations(make_array('a'), make_array(1.0), make_array(1), make_array(1.0), 0, 1)",
            "takes two series",
        ),
        (
            "SELECT lagged_correlations(make_array(1), make_array(1.0), 0, 1)",
            "then two integer lags: got [List",
        ),
    ] {
        let error = match ctx.sql(sql).await {
            Ok(df) => df.collect().await.unwrap_err(),
            Err(e) => e,
        };
        assert!(error.to_string().contains(want), "{sql}: {error}");
    }
}

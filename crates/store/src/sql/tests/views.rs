//! Conformance cases: published batch views and typed queries of them.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{
    BooleanArray, Date32Array, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use super::*;
use crate::published_views::ColumnKind;
use crate::{Filter, OrderBy, Value, ViewQuery};

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("series", DataType::Utf8, false),
        Field::new("date", DataType::Date32, true),
        Field::new("lag", DataType::Int32, false),
        Field::new("pearson", DataType::Float64, true),
        Field::new("significant", DataType::Boolean, true),
    ]))
}

/// `rows` rows whose `pearson` is `value` (NULL in every third row).
fn batch(rows: usize, value: f64) -> RecordBatch {
    RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(StringArray::from_iter_values((0..rows).map(|i| format!("S{}", i % 7)))),
            Arc::new(Date32Array::from_iter((0..rows).map(|i| (i % 5 != 0).then_some(18_322 + i as i32)))),
            Arc::new(Int32Array::from_iter_values((0..rows).map(|i| i as i32 - 28))),
            Arc::new(Float64Array::from_iter((0..rows).map(|i| (i % 3 != 0).then_some(value)))),
            Arc::new(BooleanArray::from_iter((0..rows).map(|i| (i % 4 != 0).then_some(i % 2 == 0)))),
        ],
    )
    .unwrap()
}

const INDEX: &[String] = &[];

fn publication<'a>(
    batches: &'a [RecordBatch],
    lake_version: u64,
    index: &'a [String],
) -> ViewPublication<'a> {
    ViewPublication {
        view: "correlations",
        definition: "d1",
        schema: schema(),
        batches,
        dataset_versions: BTreeMap::from([("covid_daily".into(), lake_version), ("prices".into(), 1)]),
        index,
    }
}

async fn table_exists(store: &SqlStore, table: &str) -> bool {
    sqlx::query(&format!("SELECT 1 FROM \"{table}\" LIMIT 1")).fetch_optional(&store.pool).await.is_ok()
}

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

pub async fn versions_are_tables_made_current_in_turn_with_their_dataset_versions(ctx: Ctx) {
    let store = ctx.open().await;
    assert!(store.current_view("correlations").await.unwrap().is_none());
    let mut changes = store.subscribe();

    // More rows than one INSERT and one fill transaction take.
    let first = [batch(30_000, 0.5), batch(31_000, 0.5)];
    let v1 = store.publish_view(&publication(&first, 3, INDEX)).await.unwrap();
    assert_eq!((v1.version, v1.rows, v1.table.as_str()), (1, 61_000, "view_correlations_v1"));
    assert_eq!(
        v1.columns.iter().map(|c| c.kind).collect::<Vec<_>>(),
        [ColumnKind::Text, ColumnKind::Date, ColumnKind::Integer, ColumnKind::Real, ColumnKind::Boolean]
    );
    assert_eq!(store.current_view("correlations").await.unwrap().unwrap(), v1);
    assert_eq!(
        changes.try_recv().unwrap(),
        crate::StoreChange::View { view: "correlations".into(), version: 1 },
        "a publish is announced"
    );

    let rows = store
        .query_view(&ViewQuery::new("correlations").filter(Filter::Eq("lag".into(), Value::Integer(-27))))
        .await
        .unwrap();
    assert_eq!(rows.version, v1);
    // Row 1 of each of the two batches.
    let row =
        vec![text("S1"), text("2020-03-02"), Value::Integer(-27), Value::Real(0.5), Value::Boolean(false)];
    assert_eq!(rows.rows, [row.clone(), row]);
    let count_present = |column: &str| {
        let q = ViewQuery::new("correlations")
            .select(&[column])
            .filter(Filter::NotNull(column.into()))
            .limit(100_000);
        let store = &store;
        async move { store.query_view(&q).await.unwrap().rows.len() }
    };
    let nulls = (61_000 - count_present("date").await, 61_000 - count_present("pearson").await);
    assert_eq!(nulls, (6_000 + 6_200, 10_000 + 10_334));

    let v2 = store.publish_view(&publication(&[batch(10, 0.25)], 4, INDEX)).await.unwrap();
    assert_eq!((v2.version, v2.rows, v2.dataset_versions["covid_daily"]), (2, 10, 4));
    assert_eq!(store.current_views().await.unwrap(), std::slice::from_ref(&v2));
    assert!(table_exists(&store, "view_correlations_v1").await, "the previous version stays for readers");
    let v3 = store.publish_view(&publication(&[], 5, INDEX)).await.unwrap();
    assert_eq!((v3.version, v3.rows), (3, 0));
    assert!(!table_exists(&store, "view_correlations_v1").await, "older versions are dropped");
    assert!(table_exists(&store, "view_correlations_v2").await);
    store.close().await;
}

pub async fn a_reader_of_the_previous_version_still_reads_it_whole(ctx: Ctx) {
    let store = ctx.open().await;
    let v1 = store.publish_view(&publication(&[batch(100, 0.5)], 1, INDEX)).await.unwrap();
    store.publish_view(&publication(&[batch(40, 0.75)], 2, INDEX)).await.unwrap();
    // A reader that looked version 1 up just before the flip reads all of it afterwards.
    let mut q = ViewQuery::new("correlations").select(&["pearson"]).filter(Filter::NotNull("pearson".into()));
    q.version = Some(v1.version);
    let old = store.query_view(&q).await.unwrap();
    assert_eq!((old.version.version, old.rows.len()), (1, 66));
    assert!(old.rows.iter().all(|r| r[0] == Value::Real(0.5)));
    q.version = None;
    let new = store.query_view(&q).await.unwrap();
    assert_eq!((new.version.version, new.rows.len()), (2, 26));
    store.publish_view(&publication(&[batch(1, 0.75)], 3, INDEX)).await.unwrap();
    q.version = Some(1);
    let gone = store.query_view(&q).await.unwrap_err();
    assert!(matches!(gone, StoreError::NotFound(_)), "{gone}");
    store.close().await;
}

pub async fn a_fill_left_by_a_crash_is_replaced_and_bad_names_are_refused(ctx: Ctx) {
    let store = ctx.open().await;
    sqlx::query("CREATE TABLE view_correlations_v1 (junk TEXT)").execute(&store.pool).await.unwrap();
    sqlx::query("INSERT INTO view_correlations_v1 VALUES ('half a fill')")
        .execute(&store.pool)
        .await
        .unwrap();
    let v1 = store.publish_view(&publication(&[batch(5, 0.5)], 1, INDEX)).await.unwrap();
    let all = store.query_view(&ViewQuery::new("correlations")).await.unwrap();
    assert_eq!((v1.version, all.rows.len()), (1, 5));

    let batches = [batch(1, 0.5)];
    let mut bad = publication(&batches, 1, INDEX);
    bad.view = "x\"; DROP TABLE batch_view_versions; --";
    assert!(store.publish_view(&bad).await.unwrap_err().to_string().contains("view name"));
    let index = ["nope".to_string()];
    let error = store.publish_view(&publication(&batches, 1, &index)).await.unwrap_err().to_string();
    assert!(error.contains("\"nope\""), "{error}");
    assert!(store.current_view("correlations").await.unwrap().is_some());
    store.close().await;
}

pub async fn typed_queries_filter_order_and_limit(ctx: Ctx) {
    let store = ctx.open().await;
    let index = ["series".to_string(), "date".to_string()];
    let batches = [batch(70, 0.5)];
    // Distinct values, so that the order is checkable: pearson = ±(i / 100) by row.
    let pearson =
        Float64Array::from_iter((0..70).map(|i| {
            (i % 3 != 0).then_some(if i % 2 == 0 { i as f64 / 100.0 } else { -(i as f64) / 100.0 })
        }));
    let mut columns = batches[0].columns().to_vec();
    columns[3] = Arc::new(pearson);
    let batches = [RecordBatch::try_new(schema(), columns).unwrap()];
    store.publish_view(&publication(&batches, 1, &index)).await.unwrap();

    // Series S2 between two dates, strongest first, NULLs last.
    let q = ViewQuery::new("correlations")
        .select(&["lag", "pearson", "date"])
        .filter(Filter::Eq("series".into(), text("S2")))
        .filter(Filter::Range {
            column: "date".into(),
            min: Some(text("2020-03-01")),
            max: Some(text("2020-04-30")),
        })
        .order(OrderBy::strongest("pearson"))
        .limit(100);
    let rows = store.query_view(&q).await.unwrap();
    let lags: Vec<i64> =
        rows.rows.iter().map(|r| if let Value::Integer(l) = r[0] { l } else { panic!() }).collect();
    // Rows i = 2, 9, 16, …, 65 are S2; i % 5 == 0 has no date; the date range keeps i ≤ 59.
    // pearson NULL where i % 3 == 0: i = 9 and 51 come last (in any order).
    let strongest: Vec<i64> = lags[..lags.len() - 2].to_vec();
    assert_eq!(strongest.iter().map(|l| l + 28).collect::<Vec<_>>(), [58, 44, 37, 23, 16, 2]);
    assert!(rows.rows[rows.rows.len() - 2..].iter().all(|r| r[1] == Value::Null));
    assert_eq!(rows.columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["lag", "pearson", "date"]);

    // IN, ascending, and the limit.
    let q = ViewQuery::new("correlations")
        .select(&["series"])
        .filter(Filter::In("series".into(), vec![text("S0"), text("S6")]))
        .order(OrderBy::asc("lag"))
        .limit(3);
    let rows = store.query_view(&q).await.unwrap();
    assert_eq!(rows.rows, [vec![text("S0")], vec![text("S6")], vec![text("S0")]]);
    let none = ViewQuery::new("correlations").filter(Filter::In("series".into(), vec![]));
    assert!(store.query_view(&none).await.unwrap().rows.is_empty());
    store.close().await;
}

pub async fn queries_refuse_unknown_views_and_columns_and_bind_hostile_values(ctx: Ctx) {
    let store = ctx.open().await;
    let missing = store.query_view(&ViewQuery::new("correlations")).await.unwrap_err();
    assert!(matches!(missing, StoreError::NotFound(_)), "{missing}");
    store.publish_view(&publication(&[batch(20, 0.5)], 1, INDEX)).await.unwrap();
    for column in ["nope", "series\" FROM batch_view_versions --", "view_version"] {
        let q = ViewQuery::new("correlations").filter(Filter::Eq(column.into(), text("x")));
        let error = store.query_view(&q).await.unwrap_err();
        assert!(
            matches!(error, StoreError::Invalid(_)) && error.to_string().contains("no column"),
            "{error}"
        );
    }
    for hostile in ["S1' OR '1'='1", "S1\"; DROP TABLE batch_view_versions; --", "\u{0}", "🦀"] {
        let q = ViewQuery::new("correlations").filter(Filter::Eq("series".into(), text(hostile)));
        match store.query_view(&q).await {
            Ok(rows) => assert!(rows.rows.is_empty(), "{hostile:?}"),
            // PostgreSQL refuses NUL in text; the API refuses it before it reaches a store.
            Err(e) => assert!(hostile.contains('\0'), "{hostile:?}: {e}"),
        }
    }
    // A text value against an integer column: an error or no rows, never a crash or a match.
    let q = ViewQuery::new("correlations").filter(Filter::Eq("lag".into(), text("1 OR 1=1")));
    if let Ok(rows) = store.query_view(&q).await {
        assert!(rows.rows.is_empty());
    }
    assert_eq!(store.query_view(&ViewQuery::new("correlations")).await.unwrap().rows.len(), 20);
    store.close().await;
}

/// Every value comes back as published through each database's bulk path (SQLite's own
/// connection, PostgreSQL's binary COPY, MySQL's typed INSERTs): text that COPY's text format or
/// SQL quoting would need to escape, the extremes of 64-bit integers and doubles, NULLs in every
/// column; and more rows than one fill transaction or COPY chunk holds, each exactly once.
pub async fn every_value_comes_back_exactly_through_the_bulk_fill(ctx: Ctx) {
    const ROWS: usize = 60_001;
    let texts = [
        "",
        "plain",
        "tab\there",
        "new\nline",
        "cr\rlf\n",
        "back\\slash",
        "\\N",
        "quote\"s'",
        "ünïcödé 🦀",
        "\\\\t",
    ];
    let reals = [
        0.1,
        -0.0,
        1.000_000_000_000_000_2,
        f64::MAX,
        f64::MIN,
        f64::MIN_POSITIVE,
        -1e-300,
        std::f64::consts::PI,
        123_456_789.123_456_78,
    ];
    let integers = [i64::MIN, i64::MAX, 0, -1, 1 << 53];
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("label", DataType::Utf8, true),
        Field::new("big", DataType::Int64, true),
        Field::new("x", DataType::Float64, true),
        Field::new("flag", DataType::Boolean, true),
        Field::new("day", DataType::Date32, true),
    ]));
    let null = |i: usize, every: usize| i % every == every - 1;
    let batches: Vec<RecordBatch> = (0..ROWS)
        .step_by(7_000)
        .map(|start| {
            let ids = start..(start + 7_000).min(ROWS);
            let columns: Vec<arrow::array::ArrayRef> = vec![
                Arc::new(Int64Array::from_iter_values(ids.clone().map(|i| i as i64))),
                Arc::new(StringArray::from_iter(
                    ids.clone().map(|i| (!null(i, 11)).then(|| texts[i % texts.len()])),
                )),
                Arc::new(Int64Array::from_iter(
                    ids.clone().map(|i| (!null(i, 13)).then(|| integers[i % integers.len()])),
                )),
                Arc::new(Float64Array::from_iter(
                    ids.clone().map(|i| (!null(i, 17)).then(|| reals[i % reals.len()])),
                )),
                Arc::new(BooleanArray::from_iter(ids.clone().map(|i| (!null(i, 3)).then_some(i % 2 == 0)))),
                Arc::new(Date32Array::from_iter(
                    ids.clone().map(|i| (!null(i, 19)).then_some(18_322 + (i % 400) as i32)),
                )),
            ];
            RecordBatch::try_new(schema.clone(), columns).unwrap()
        })
        .collect();
    let store = ctx.open().await;
    let publication = ViewPublication {
        view: "round_trip",
        definition: "d",
        schema: schema.clone(),
        batches: &batches,
        dataset_versions: BTreeMap::new(),
        index: &["label".to_string()],
    };
    let version = store.publish_view(&publication).await.unwrap();
    assert_eq!(version.rows, ROWS as u64);
    let rows = store
        .query_view(&ViewQuery::new("round_trip").order(OrderBy::asc("id")).limit(ROWS as u32 + 10))
        .await
        .unwrap();
    assert_eq!(rows.rows.len(), ROWS, "each row once");
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
    let expected_day = |i: usize| {
        let date = epoch + chrono::Days::new(18_322 + (i % 400) as u64);
        Value::Text(date.format("%Y-%m-%d").to_string())
    };
    for (i, row) in rows.rows.iter().enumerate() {
        let or_null = |every: usize, v: Value| if null(i, every) { Value::Null } else { v };
        let expected = vec![
            Value::Integer(i as i64),
            or_null(11, text(texts[i % texts.len()])),
            or_null(13, Value::Integer(integers[i % integers.len()])),
            or_null(17, Value::Real(reals[i % reals.len()])),
            or_null(3, Value::Boolean(i % 2 == 0)),
            or_null(19, expected_day(i)),
        ];
        assert_eq!(row, &expected, "row {i} on {:?}", ctx.dialect);
        // SQLite and MySQL keep no negative zero: -0.0 reads back as 0.0 (equal, not the same bits).
        if let (Value::Real(got), Value::Real(want)) = (&row[3], &expected[3])
            && *want != 0.0
        {
            assert_eq!(got.to_bits(), want.to_bits(), "row {i}: the same double, bit for bit");
        }
    }
    store.close().await;
}

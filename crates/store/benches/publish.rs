//! Publishing a view to the serving store: rows per second into a new version's table, index
//! included, on each store given.
//!
//! ```sh
//! cargo bench -p tributary-store --bench publish                       # a temporary SQLite file
//! cargo bench -p tributary-store --bench publish -- postgres://postgres@127.0.0.1/test \
//!     mysql://root@127.0.0.1/test --rows 580000 --runs 3
//! ```
//!
//! The rows have the shape of the `rolling_correlations` view (the largest published): six text
//! columns, a date, two integers, nine reals of which some are NULL, a mostly NULL reason, and an
//! index on four of them.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{ArrayRef, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use tributary_store::{SqlStore, ViewPublication, Views};

const BATCH_ROWS: usize = 8192;

fn schema() -> SchemaRef {
    let text = |n: &str| Field::new(n, DataType::Utf8, true);
    let real = |n: &str| Field::new(n, DataType::Float64, true);
    let int = |n: &str| Field::new(n, DataType::Int64, true);
    Arc::new(Schema::new(vec![
        text("symbol"),
        text("series"),
        text("series_name"),
        Field::new("date", DataType::Date32, true),
        text("measure"),
        text("kind"),
        int("window_days"),
        int("n"),
        real("pearson"),
        real("pearson_p"),
        real("spearman"),
        real("spearman_p"),
        real("n_eff"),
        real("pearson_p_adj"),
        real("spearman_n_eff"),
        real("spearman_p_adj"),
        real("pearson_q"),
        text("reason"),
    ]))
}

fn batches(rows: usize) -> Vec<RecordBatch> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < rows {
        let n = BATCH_ROWS.min(rows - start);
        let ids = start..start + n;
        let x = |salt: u64| -> ArrayRef {
            Arc::new(Float64Array::from_iter(ids.clone().map(|i| {
                let h = (i as u64 ^ salt).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                (!h.is_multiple_of(97)).then(|| (h >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0)
            })))
        };
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from_iter_values(ids.clone().map(|_| "^GDAXI"))),
            Arc::new(StringArray::from_iter_values(ids.clone().map(|i| format!("S{:03}", (i / 600) % 222)))),
            Arc::new(StringArray::from_iter_values(
                ids.clone().map(|i| format!("Country {}", (i / 600) % 222)),
            )),
            Arc::new(Date32Array::from_iter_values(ids.clone().map(|i| 18_262 + (i % 600) as i32))),
            Arc::new(StringArray::from_iter_values(ids.clone().map(|i| ["cases", "deaths"][i % 2]))),
            Arc::new(StringArray::from_iter_values(ids.clone().map(|i| ["levels", "changes"][(i / 2) % 2]))),
            Arc::new(Int64Array::from_iter_values(ids.clone().map(|i| [30, 60, 90][(i / 4) % 3]))),
            Arc::new(Int64Array::from_iter_values(ids.clone().map(|i| [30, 60, 90][(i / 4) % 3]))),
            x(1),
            x(2),
            x(3),
            x(4),
            x(5),
            x(6),
            x(7),
            x(8),
            x(9),
            Arc::new(StringArray::from_iter(
                ids.clone().map(|i| (i % 211 == 0).then_some("constant window")),
            )),
        ];
        out.push(RecordBatch::try_new(schema(), columns).expect("columns match the schema"));
        start += n;
    }
    out
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut urls = Vec::new();
    let mut rows = 580_000usize;
    let mut runs = 3usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--rows" => rows = args.next().ok_or("--rows needs a number")?.parse()?,
            "--runs" => runs = args.next().ok_or("--runs needs a number")?.parse()?,
            "--bench" => {} // passed by `cargo bench`
            url if url.contains("://") => urls.push(url.to_string()),
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }
    let dir = tempfile::tempdir()?;
    if urls.is_empty() {
        urls.push(format!("sqlite://{}", dir.path().join("bench.sqlite").display()));
    }
    let data = batches(rows);
    let index = ["series", "measure", "kind", "window_days"].map(String::from);
    println!("publishing a view of {rows} rows × {} columns (index on 4)", schema().fields().len());
    for url in &urls {
        let store = SqlStore::connect(url).await?;
        let name = url.split("://").next().unwrap_or("store");
        for run in 1..=runs {
            let publication = ViewPublication {
                view: "bench_publish",
                definition: "bench",
                schema: schema(),
                batches: &data,
                dataset_versions: BTreeMap::new(),
                index: &index,
            };
            let started = Instant::now();
            let version = store.publish_view(&publication).await?;
            let took = started.elapsed().as_secs_f64();
            println!(
                "  {name:<10} run {run}: {:>8} rows in {:>7.1} ms: {:>6.2} M rows/s",
                version.rows,
                took * 1e3,
                version.rows as f64 / took / 1e6
            );
        }
        store.close().await;
    }
    Ok(())
}

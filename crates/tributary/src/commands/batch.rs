//! `tributary batch list`, `tributary batch run [VIEW]` and `tributary batch follow`: the batch
//! views over the lake.

use std::process::ExitCode;
use std::time::Instant;

use std::sync::Arc;

use tributary_batch::{Runner, Selection, views};
use tributary_lake::Lake;
use tributary_store::ServingStore;

use super::running::{Process, ShutdownSignals, run_process};
use crate::cli::{BatchRunArgs, BatchViewsArgs};
use crate::config::Config;

pub fn list(args: BatchViewsArgs) -> anyhow::Result<ExitCode> {
    let views = views::load(args.views.as_deref()).map_err(anyhow::Error::msg)?;
    println!("{:<22} {:<9} {:<28} sql", "view", "published", "reads");
    for v in views {
        let reads: Vec<_> = v.reads.iter().map(|d| d.name()).collect();
        println!(
            "{:<22} {:<9} {:<28} {}",
            v.name,
            if v.published { "yes" } else { "no" },
            reads.join(", "),
            v.origin
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn run(config: &Config, args: BatchRunArgs) -> anyhow::Result<ExitCode> {
    let views = super::roles::load_views(config, args.views.views.as_deref()).await?;
    if let Some(v) = &args.view
        && !views.iter().any(|x| &x.name == v)
    {
        let known: Vec<_> = views.iter().map(|x| x.name.as_str()).collect();
        anyhow::bail!("no view '{v}'; the views are: {}", known.join(", "))
    }
    let started = Instant::now();
    let lake = Lake::open(&config.lake_location())?;
    let store: Option<Arc<dyn ServingStore>> =
        if args.no_publish { None } else { Some(Arc::new(super::open_store(config).await?)) };
    let selection = match &args.view {
        Some(v) => Selection::Views(vec![v.clone()]),
        None => Selection::Views(views.iter().filter(|v| v.published).map(|v| v.name.clone()).collect()),
    };
    let runner = Runner::new(lake.clone(), store, views);
    let report = runner.run(&selection).await?;
    let versions: Vec<String> =
        report.dataset_versions.iter().map(|d| format!("{} v{}", d.dataset, d.version)).collect();
    println!(
        "lake {} ({}) loaded in {:.0} ms",
        lake.location(),
        versions.join(", "),
        report.load.as_secs_f64() * 1e3
    );
    println!("{:<22} {:>9} {:>11} {:>11}  published", "view", "rows", "compute ms", "publish ms");
    for v in &report.views {
        let published = match &v.published {
            Some(p) => format!("version {} ({})", p.version, p.table),
            None => "-".into(),
        };
        println!(
            "{:<22} {:>9} {:>11.1} {:>11.1}  {published}",
            v.name,
            v.rows,
            v.compute.as_secs_f64() * 1e3,
            v.publish.as_secs_f64() * 1e3
        );
    }
    let compute = report.compute;
    let publish: std::time::Duration = report.views.iter().map(|v| v.publish).sum();
    println!(
        "views computed in {:.0} ms, published in {:.0} ms; {}",
        compute.as_secs_f64() * 1e3,
        publish.as_secs_f64() * 1e3,
        super::timing_line(started)
    );
    if args.show > 0 {
        for v in &report.views {
            println!("{}:\n{}", v.name, datafusion_pretty(&limit_rows(&v.batches, args.show))?);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn limit_rows(
    batches: &[tributary_batch::engine::RecordBatch],
    n: usize,
) -> Vec<tributary_batch::engine::RecordBatch> {
    let mut left = n;
    let mut out = Vec::new();
    for b in batches {
        if left == 0 {
            break;
        }
        let take = left.min(b.num_rows());
        out.push(b.slice(0, take));
        left -= take;
    }
    out
}

fn datafusion_pretty(batches: &[tributary_batch::engine::RecordBatch]) -> anyhow::Result<String> {
    Ok(tributary_batch::engine::pretty_format(batches)?.to_string())
}

/// `tributary batch follow`: the batch runner alone, as `up` runs it: the views are recomputed
/// when a dataset changes (its event on the log) and on `markets.batch_interval`.
pub async fn follow(config: &Config, args: BatchViewsArgs) -> anyhow::Result<ExitCode> {
    let signals = ShutdownSignals::install()?;
    let log = super::open_log(config).await?;
    let store = super::open_store(config).await?;
    let lake = Lake::open(&config.lake_location())?;
    let mut parts = vec![super::roles::batch_views(config, args.views.as_deref(), &lake).await?];
    parts.extend(super::serve::operations_server(config).await?);
    let headline = format!("Tributary {} is keeping the batch views current.", env!("CARGO_PKG_VERSION"));
    run_process(Process::new(config, headline, Some(log), store, parts), signals).await
}

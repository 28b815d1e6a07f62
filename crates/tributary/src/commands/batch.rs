//! `tributary batch list` and `tributary batch run [VIEW]`: the batch views over the lake.

use std::process::ExitCode;
use std::time::Instant;

use tributary_batch::{Engine, views};
use tributary_lake::Lake;

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
    let views = views::load(args.views.views.as_deref()).map_err(anyhow::Error::msg)?;
    if let Some(v) = &args.view
        && !views.iter().any(|x| &x.name == v)
    {
        let known: Vec<_> = views.iter().map(|x| x.name.as_str()).collect();
        anyhow::bail!("no view '{v}'; the views are: {}", known.join(", "))
    }
    let started = Instant::now();
    let lake = Lake::open(&config.lake_location())?;
    let engine = Engine::new(&lake, views).await?;
    println!("loaded the lake ({}) in {:.0} ms", lake.location(), started.elapsed().as_secs_f64() * 1e3);
    let results = match &args.view {
        Some(v) => vec![engine.compute(v).await?],
        None => engine.compute_all().await?,
    };
    for r in results {
        println!("{:<22} {:>9} rows  {:>8.1} ms", r.name, r.rows, r.elapsed.as_secs_f64() * 1e3);
        if args.show > 0 {
            let shown: Vec<_> = limit_rows(&r.batches, args.show);
            println!("{}", datafusion_pretty(&shown)?);
        }
    }
    println!("all views: {}", super::timing_line(started));
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

//! Running the views on DataFusion over the lake's current rows.

use std::sync::Arc;
use std::time::{Duration, Instant};

pub use datafusion::arrow::array::RecordBatch;
pub use datafusion::arrow::util::pretty::pretty_format_batches as pretty_format;
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use tributary_lake::Lake;
use tributary_schema::markets::Dataset;

use crate::views::View;

/// Errors of a batch run.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error(transparent)]
    Lake(#[from] tributary_lake::LakeError),
    #[error("view {view} ({origin}): {error}")]
    View { view: String, origin: String, error: datafusion::error::DataFusionError },
}

/// One view's result.
#[derive(Debug)]
pub struct ViewResult {
    pub name: String,
    pub batches: Vec<RecordBatch>,
    pub rows: usize,
    pub elapsed: Duration,
}

/// One partition: the datasets are small (tens of thousands of rows), and on this project's
/// 2-core machines repartitioning and merging the correlation aggregate's pair lists cost more
/// time and memory than a second partition saves.
fn session_config() -> datafusion::prelude::SessionConfig {
    datafusion::prelude::SessionConfig::new().with_target_partitions(1)
}

/// A DataFusion session with the lake's datasets as tables (`covid_daily`, `covid_weekly`,
/// `prices`) and every view registered, in order.
pub struct Engine {
    ctx: SessionContext,
    views: Vec<View>,
}

impl Engine {
    /// Loads the datasets' current rows from the lake and registers the views.
    pub async fn new(lake: &Lake, views: Vec<View>) -> Result<Self, BatchError> {
        let ctx = SessionContext::new_with_config(session_config());
        ctx.register_udaf(crate::udaf::correlation());
        for dataset in Dataset::ALL {
            let fail = |error| BatchError::View { view: dataset.name().into(), origin: "lake".into(), error };
            let (schema, batches) = lake.batches(dataset).await?;
            let table = MemTable::try_new(schema, vec![batches]).map_err(fail)?;
            ctx.register_table(dataset.name(), Arc::new(table)).map_err(fail)?;
        }
        for v in &views {
            let fail = |error| BatchError::View { view: v.name.clone(), origin: v.origin.clone(), error };
            let df = ctx.sql(&v.sql).await.map_err(fail)?;
            ctx.register_table(v.name.as_str(), df.into_view()).map_err(fail)?;
        }
        Ok(Self { ctx, views })
    }

    /// The views, in order.
    pub fn views(&self) -> &[View] {
        &self.views
    }

    /// Computes one view.
    pub async fn compute(&self, name: &str) -> Result<ViewResult, BatchError> {
        let started = Instant::now();
        let origin = self.views.iter().find(|v| v.name == name).map_or("?".into(), |v| v.origin.clone());
        let fail = |error| BatchError::View { view: name.into(), origin: origin.clone(), error };
        let df = self.ctx.table(name).await.map_err(fail)?;
        let batches = df.collect().await.map_err(fail)?;
        let rows = batches.iter().map(RecordBatch::num_rows).sum();
        Ok(ViewResult { name: name.into(), batches, rows, elapsed: started.elapsed() })
    }

    /// Runs any SQL over the tables and views (for tests and the CLI).
    pub async fn sql(&self, sql: &str) -> Result<Vec<RecordBatch>, BatchError> {
        let fail = |error| BatchError::View { view: "query".into(), origin: "sql".into(), error };
        self.ctx.sql(sql).await.map_err(fail)?.collect().await.map_err(fail)
    }
}

#[cfg(test)]
mod tests;

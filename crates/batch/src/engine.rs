//! Running the views on DataFusion over the lake's current rows.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use datafusion::arrow::array::RecordBatch;
pub use datafusion::arrow::datatypes::SchemaRef;
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
    #[error(transparent)]
    Store(#[from] tributary_store::StoreError),
    #[error("batch runner: {0}")]
    Log(#[from] tributary_log::LogError),
    #[error("view {view} ({origin}): {error}")]
    View { view: String, origin: String, error: datafusion::error::DataFusionError },
}

/// A dataset and the lake version of it that a computation read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DatasetVersion {
    pub dataset: Dataset,
    pub version: u64,
}

/// One view's result.
#[derive(Debug, Clone)]
pub struct ViewResult {
    pub name: String,
    /// The columns (also when there are no rows).
    pub schema: SchemaRef,
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

/// A DataFusion session over the lake's datasets (`covid_daily`, `covid_weekly`, `prices`) that
/// computes views on demand. A view is computed once per engine: its result is registered as an
/// in-memory table under its name, so the views that read it (and queries) reuse it instead of
/// recomputing it. The lake's rows are loaded once, when the engine is made: one engine is one
/// consistent snapshot.
///
/// Clones share the session and the computed views.
#[derive(Clone)]
pub struct Engine {
    ctx: SessionContext,
    views: Arc<Vec<View>>,
    dataset_versions: Vec<DatasetVersion>,
    computed: Arc<Mutex<HashMap<String, ViewResult>>>,
}

impl Engine {
    /// Loads the datasets' current rows from the lake.
    pub async fn new(lake: &Lake, views: Vec<View>) -> Result<Self, BatchError> {
        let ctx = SessionContext::new_with_config(session_config());
        let mut dataset_versions = Vec::new();
        ctx.register_udaf(crate::udaf::correlation());
        ctx.register_udf(crate::lagged::lagged_correlations());
        ctx.register_udf(crate::rolling::rolling_correlations());
        ctx.register_udwf(crate::q_value::q_value());
        for dataset in Dataset::ALL {
            let fail = |error| BatchError::View { view: dataset.name().into(), origin: "lake".into(), error };
            let snapshot = lake.snapshot(dataset).await?;
            let table =
                MemTable::try_new(snapshot.schema.clone(), vec![snapshot.batches.clone()]).map_err(fail)?;
            ctx.register_table(dataset.name(), Arc::new(table)).map_err(fail)?;
            dataset_versions.push(DatasetVersion { dataset, version: snapshot.version });
        }
        Ok(Self {
            ctx,
            views: Arc::new(views),
            dataset_versions,
            computed: Arc::new(Mutex::new(HashMap::new())),
        })
    }

    /// The columns each view produces, by view: found by computing the views over empty
    /// datasets (milliseconds), so that a reader's needs can be checked before any data exists.
    pub async fn output_columns(views: &[View]) -> Result<Vec<(String, Vec<String>)>, BatchError> {
        let engine = Self::new(&Lake::open("memory://")?, views.to_vec()).await?;
        Ok(engine
            .compute_all()
            .await?
            .into_iter()
            .map(|r| (r.name, r.schema.fields().iter().map(|f| f.name().clone()).collect()))
            .collect())
    }

    /// The version of each dataset this engine read (its snapshot of the lake).
    pub fn dataset_versions(&self) -> &[DatasetVersion] {
        &self.dataset_versions
    }

    /// The views, in order.
    pub fn views(&self) -> &[View] {
        &self.views
    }

    /// Computes one view (and first the views it reads, if not yet computed).
    pub async fn compute(&self, name: &str) -> Result<ViewResult, BatchError> {
        if !self.views.iter().any(|v| v.name == name) {
            let error = datafusion::error::DataFusionError::Plan(format!("no view named {name}"));
            return Err(BatchError::View { view: name.into(), origin: "?".into(), error });
        }
        self.compute_concurrently(&[name.to_string()]).await?;
        Ok(self.computed.lock().expect("not poisoned")[name].clone())
    }

    /// Computes every view (see [`compute_concurrently`](Self::compute_concurrently)).
    pub async fn compute_all(&self) -> Result<Vec<ViewResult>, BatchError> {
        let names: Vec<String> = self.views.iter().map(|v| v.name.clone()).collect();
        self.compute_concurrently(&names).await
    }

    /// Computes the views `names` and the views they read that are not yet computed; returns
    /// those newly computed, in the views' order. Views that do not read each other are computed
    /// at the same time, each on its own task (the sessions use one partition, so this is what
    /// puts a second core to work).
    pub async fn compute_concurrently(&self, names: &[String]) -> Result<Vec<ViewResult>, BatchError> {
        let pending: Vec<View> = self.pending(names).into_iter().cloned().collect();
        // A view's level: 0 if it reads no pending view, else one more than the highest it reads.
        let mut levels: Vec<usize> = Vec::with_capacity(pending.len());
        for v in &pending {
            let level = pending
                .iter()
                .zip(&levels)
                .filter(|(p, _)| v.depends_on.contains(&p.name))
                .map(|(_, l)| l + 1)
                .max()
                .unwrap_or(0);
            levels.push(level);
        }
        let mut results = Vec::with_capacity(pending.len());
        for level in 0..=levels.iter().copied().max().unwrap_or(0) {
            let tasks: Vec<_> = pending
                .iter()
                .zip(&levels)
                .filter(|(_, l)| **l == level)
                .map(|(v, _)| {
                    let (engine, view) = (self.clone(), v.clone());
                    tokio::spawn(async move { engine.materialize(&view).await })
                })
                .collect();
            for task in tasks {
                let result = task.await.map_err(|e| BatchError::View {
                    view: "?".into(),
                    origin: "task".into(),
                    error: datafusion::error::DataFusionError::External(Box::new(e)),
                })?;
                results.push(result?);
            }
        }
        // Reported in the views' own order.
        results.sort_by_key(|r| self.views.iter().position(|v| v.name == r.name));
        Ok(results)
    }

    /// Runs any SQL over the datasets and views (for tests and the CLI); the views it reads are
    /// computed first.
    pub async fn sql(&self, sql: &str) -> Result<Vec<RecordBatch>, BatchError> {
        let fail = |error| BatchError::View { view: "query".into(), origin: "sql".into(), error };
        let tables = crate::views::tables_read(sql)
            .map_err(|e| fail(datafusion::error::DataFusionError::Plan(e.0)))?;
        self.compute_concurrently(&tables).await?;
        self.ctx.sql(sql).await.map_err(fail)?.collect().await.map_err(fail)
    }

    /// The views among `names` not yet computed, with the views they read (transitively),
    /// dependencies first. `views::load` has ruled out cycles.
    fn pending(&self, names: &[String]) -> Vec<&View> {
        let computed = self.computed.lock().expect("not poisoned");
        let mut order: Vec<&View> = Vec::new();
        // Depth-first, post-order: a view is placed after everything it reads.
        fn visit<'a>(
            v: &'a View,
            all: &'a [View],
            done: &HashMap<String, ViewResult>,
            order: &mut Vec<&'a View>,
        ) {
            if done.contains_key(&v.name) || order.iter().any(|o| o.name == v.name) {
                return;
            }
            for dep in &v.depends_on {
                if let Some(d) = all.iter().find(|x| &x.name == dep) {
                    visit(d, all, done, order);
                }
            }
            order.push(v);
        }
        for name in names {
            if let Some(v) = self.views.iter().find(|v| &v.name == name) {
                visit(v, &self.views, &computed, &mut order);
            }
        }
        order
    }

    /// Runs a view's SQL and registers its result as a table under its name.
    async fn materialize(&self, view: &View) -> Result<ViewResult, BatchError> {
        let started = Instant::now();
        let fail = |error| BatchError::View { view: view.name.clone(), origin: view.origin.clone(), error };
        let df = self.ctx.sql(&view.sql).await.map_err(fail)?;
        let schema = Arc::new(df.schema().as_arrow().clone());
        let batches = df.collect().await.map_err(fail)?;
        let table = MemTable::try_new(schema.clone(), vec![batches.clone()]).map_err(fail)?;
        self.ctx.register_table(view.name.as_str(), Arc::new(table)).map_err(fail)?;
        let rows = batches.iter().map(RecordBatch::num_rows).sum();
        let result =
            ViewResult { name: view.name.clone(), schema, batches, rows, elapsed: started.elapsed() };
        self.computed.lock().expect("not poisoned").insert(view.name.clone(), result.clone());
        Ok(result)
    }
}

#[cfg(test)]
mod tests;

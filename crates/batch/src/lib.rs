//! **Layer: batch.** Batch views: full recomputation from the lake with SQL on DataFusion, started
//! by dataset-updated events and by schedule.
//!
//! * [`views`]: the views as SQL files, shipped in `crates/batch/views/` and overridable by a
//!   user's folder;
//! * [`engine`]: a DataFusion session over the lake's current rows, with the views registered;
//! * [`stats`]: the statistics of the correlation views (Pearson, Spearman, two-sided p-values),
//!   exact to SPEC's definitions, with a reason wherever a statistic is undefined.
//!
//! Status (issue #4, in progress): the series, aligned and reference views run; the correlation
//! views, publishing to the serving store and the runner on `datasets` events are next.

pub mod engine;
pub mod runner;
pub mod stats;
pub mod udaf;
pub mod views;

#[cfg(test)]
mod test_support;

pub use engine::{BatchError, DatasetVersion, Engine, ViewResult};
pub use runner::{FollowConfig, RunReport, Runner, Selection, ViewRun, follow};
pub use views::View;

//! **Layer: batch.** Batch views: full recomputation from the lake with SQL on DataFusion, started
//! by dataset-updated events and by schedule, published to the serving store.
//!
//! * [`views`]: the views as SQL files, shipped in `crates/batch/views/` and overridable by a
//!   user's folder, with the views and datasets each one reads (found in its SQL);
//! * [`engine`]: a DataFusion session over one snapshot of the lake that computes each view once;
//! * [`stats`]: the statistics of the correlation views (Pearson, Spearman, two-sided p-values,
//!   the same adjusted for autocorrelation, Benjamini–Hochberg q-values), exact to SPEC's
//!   definitions, with a reason wherever a statistic is undefined;
//! * [`udaf`], [`lagged`], [`rolling`], [`q_value`]: those statistics in SQL, as the aggregate
//!   `correlation(x, y, t)`, the functions `lagged_correlations(x_days, x, y_days, y, min, max)`
//!   and `rolling_correlations(x_days, x, y_days, y, w)` over two whole series given as arrays
//!   (every lag; every window of w days; module `series` holds what they share), and the window
//!   function `benjamini_hochberg(p)`;
//! * [`runner`]: computes views and publishes them to the serving store as versions; `follow`
//!   keeps them current on `datasets` events and on a schedule;
//! * [`component`]: `follow` as a component (the contract of `tributary-component`): [`BatchViews`].

pub mod component;
pub mod engine;
pub mod lagged;
pub mod q_value;
pub mod rolling;
pub mod runner;
pub(crate) mod series;
pub mod stats;
pub mod udaf;
pub mod views;

#[cfg(test)]
mod test_support;

pub use component::BatchViews;
pub use engine::{BatchError, DatasetVersion, Engine, ViewResult};
pub use runner::{FollowConfig, RunReport, Runner, Selection, ViewRun, follow};
pub use views::View;

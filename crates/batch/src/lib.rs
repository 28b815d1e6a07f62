//! **Layer: batch.** Batch views: full recomputation from the lake with SQL on DataFusion, started
//! by dataset-updated events and by schedule.
//!
//! Views are SQL files a user can read and override; results are published to the serving store
//! per view version, atomically.
//!
//! * [`stats`]: the statistics of the correlation views (Pearson, Spearman, two-sided p-values),
//!   exact to SPEC's definitions, with a reason wherever a statistic is undefined.
//!
//! Status: the statistics are here; the views on DataFusion land with the rest of issue #4.

pub mod stats;

//! **Layer: batch.** Batch views: full recomputation from the lake with SQL on DataFusion, started by dataset-updated events and by schedule.
//!
//! Views are SQL files a user can read and override; results are published to the serving store
//! per view version, atomically.
//!
//! Status: the layer's place in the workspace and its contract are fixed here; its code lands
//! with issue #4 (batch views). Until then this crate is empty on purpose (see ARCHITECTURE.md).

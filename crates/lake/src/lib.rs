//! **Layer: lake.** The lake: the master dataset, raw and parsed data as Parquet, append-only, partitioned by date.
//!
//! Local directory by default, S3-compatible storage by URL (object_store); files are written
//! under a temporary name and renamed, so readers see whole files only.
//!
//! Status: the layer's place in the workspace and its contract are fixed here; its code lands
//! with issue #4 (lake). Until then this crate is empty on purpose (see ARCHITECTURE.md).

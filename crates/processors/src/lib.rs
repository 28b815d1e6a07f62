//! **Layer: processors.** Stream processors: incremental results from the event log.
//!
//! A processor consumes topics, and writes its results to the serving store together with the
//! offsets they cover, so that a restart neither loses nor double-counts.
//!
//! * [`kmeans`]: Spark MLlib's `StreamingKMeans`, with its exact update rule, plus the projection
//!   and initialisation a GPS stream needs.
//! * [`mobile_kmeans`]: positions in, model versions out — shared by the streaming processor and
//!   `tributary kmeans`.
//! * [`kmeans_config`]: the k-means keys of `[mobile]`, checked once into those settings.
//! * [`components`]: the k-means (one process, or a worker of a group) and the dead-letter sink
//!   as components (the contract of `tributary-component`).
//! * [`event_time`]: micro-batches that are windows of the events' own clock (out-of-order
//!   events within a bound, duplicates, exactly once across a crash).
//! * [`dead_letter_sink`]: dead letters from the log into the store, shared by a consumer group.
//! * [`mobile_record`]: mobile events out of log records, JSON or binary as the record says.

pub mod components;
pub mod dead_letter_sink;
pub mod event_time;
mod event_time_processor;
pub mod group_kmeans;
pub mod kmeans;
pub mod kmeans_config;
pub mod kmeans_processor;
pub mod micro_batch;
pub mod mobile_kmeans;
pub mod mobile_record;

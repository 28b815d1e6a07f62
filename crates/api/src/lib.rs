//! **Layer: api.** The HTTP API: JSON under `/api/v1`, its OpenAPI document, `/metrics`,
//! `/healthz` and `/readyz`, and the dashboard at `/`. [`ApiServer`] runs it as a component of a
//! process (`up`, `serve`); [`OperationsServer`] the operations endpoints alone.
//!
//! Reads go through the [`tributary_cache::Cache`] to the [`tributary_store::ServingStore`], with
//! typed queries only. Every answer that comes from a view or a model names the version it was
//! made from, and its cache key includes that version ([`versions`]), so a new version is served
//! as soon as it is published.
//!
//! ```no_run
//! # async fn run(store: std::sync::Arc<dyn tributary_store::ServingStore>) -> std::io::Result<()> {
//! use tributary_api::{ApiConfig, AppState};
//! let cache = tributary_cache::Cache::new(
//!     tributary_cache::open(&Default::default()).unwrap(),
//!     std::time::Duration::from_secs(300),
//! );
//! let (_stop_tx, stop) = tokio::sync::watch::channel(false);
//! let state = AppState::start(store, None, cache, ApiConfig::default(), None, stop).await;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! let stop = async { let _ = tokio::signal::ctrl_c().await; };
//! tributary_api::serve(listener, tributary_api::router(state), Default::default(), stop).await
//! # }
//! ```

mod choices;
mod component;
mod error;
pub mod importer;
mod json;
mod openapi;
mod operations;
mod params;
mod query;
mod routes;
mod server;
mod settings;
mod state;
mod throughput;
pub mod versions;
pub mod views_read;

pub use component::{ApiServer, OperationsServer};
pub use error::{ApiError, Problem};
pub use operations::operations_router;
pub use routes::router;
pub use server::{ServeLimits, serve};
pub use settings::ServerConfig;
pub use state::{ApiConfig, AppState};

#[cfg(test)]
mod tests;

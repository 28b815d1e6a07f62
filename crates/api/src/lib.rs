//! **Layer: api.** The HTTP API and dashboard: JSON under /api/v1, OpenAPI, Server-Sent Events, /metrics, /healthz.
//!
//! Reads only from the cache and serving store; write and admin endpoints need a token.
//!
//! Status: the layer's place in the workspace and its contract are fixed here; its code lands
//! with issues #5 (API) and #6 (dashboard). Until then this crate is empty on purpose (see ARCHITECTURE.md).

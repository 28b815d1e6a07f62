//! **Layer: cache.** The query cache in front of the serving store: in-process by default, memcached or Redis by URL.
//!
//! Keys include the current version of the views a query reads, so a new version is never hidden
//! behind a stale entry; a cache outage degrades to direct reads, never to an error.
//!
//! Status: the layer's place in the workspace and its contract are fixed here; its code lands
//! with issue #5 (cache). Until then this crate is empty on purpose (see ARCHITECTURE.md).

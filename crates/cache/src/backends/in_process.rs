//! The embedded cache: moka, bounded by the bytes it holds, entries expiring after the TTL.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use moka::future::Cache as Moka;

use crate::{CacheError, QueryCache};

/// An in-process cache, shared by every request of this process.
#[derive(Clone)]
pub struct InProcessCache {
    entries: Moka<String, Bytes>,
}

impl InProcessCache {
    /// A cache holding at most `max_bytes` of keys and values; entries live at most `ttl` (the
    /// TTL passed to [`QueryCache::set`] cannot extend it).
    pub fn new(max_bytes: u64, ttl: Duration) -> Self {
        let entries = Moka::builder()
            .max_capacity(max_bytes)
            .weigher(|k: &String, v: &Bytes| u32::try_from(k.len() + v.len()).unwrap_or(u32::MAX))
            .time_to_live(ttl)
            .build();
        Self { entries }
    }
}

#[async_trait]
impl QueryCache for InProcessCache {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, CacheError> {
        Ok(self.entries.get(key).await)
    }

    async fn set(&self, key: &str, value: Bytes, _ttl: Duration) -> Result<(), CacheError> {
        self.entries.insert(key.to_string(), value).await;
        Ok(())
    }

    fn backend(&self) -> &'static str {
        "in-process"
    }
}

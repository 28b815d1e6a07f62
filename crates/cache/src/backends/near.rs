//! [`NearCache`]: a small in-process cache in front of memcached or Redis.
//!
//! A cache key names the versions its answer was made from ([`crate::CacheKey`]), so the value
//! under a key never changes: a copy kept in this process can never be staler than the remote
//! one. Repeated reads are then answered without a network round trip; a miss here asks the
//! remote cache, which is shared by every replica of the API, and keeps what it returns.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use super::in_process::InProcessCache;
use crate::{CacheError, QueryCache};

/// An in-process cache of bounded size in front of a remote one.
pub struct NearCache {
    near: InProcessCache,
    far: Arc<dyn QueryCache>,
}

impl NearCache {
    /// Keeps up to `max_bytes` of `far`'s entries in this process, each for at most `ttl`.
    pub fn new(far: Arc<dyn QueryCache>, max_bytes: u64, ttl: Duration) -> Self {
        Self { near: InProcessCache::new(max_bytes, ttl), far }
    }
}

#[async_trait]
impl QueryCache for NearCache {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, CacheError> {
        if let Some(value) = self.near.get(key).await? {
            metrics::counter!("tributary_cache_near_hits_total", "backend" => self.far.backend())
                .increment(1);
            return Ok(Some(value));
        }
        let value = self.far.get(key).await?;
        if let Some(value) = &value {
            self.near.set(key, value.clone(), Duration::MAX).await?;
        }
        Ok(value)
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Duration) -> Result<(), CacheError> {
        self.near.set(key, value.clone(), ttl).await?;
        self.far.set(key, value, ttl).await
    }

    /// The remote backend's name: the near copy is part of it.
    fn backend(&self) -> &'static str {
        self.far.backend()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A remote cache stand-in that counts the reads reaching it.
    struct Counting {
        inner: InProcessCache,
        gets: AtomicUsize,
    }

    #[async_trait]
    impl QueryCache for Counting {
        async fn get(&self, key: &str) -> Result<Option<Bytes>, CacheError> {
            self.gets.fetch_add(1, Ordering::Relaxed);
            self.inner.get(key).await
        }
        async fn set(&self, key: &str, value: Bytes, ttl: Duration) -> Result<(), CacheError> {
            self.inner.set(key, value, ttl).await
        }
        fn backend(&self) -> &'static str {
            "counting"
        }
    }

    #[tokio::test]
    async fn repeated_reads_stay_in_the_process() {
        let far = Arc::new(Counting {
            inner: InProcessCache::new(1 << 20, Duration::from_secs(60)),
            gets: 0.into(),
        });
        // Another replica stored the entry: the first read fetches it, the next ones do not.
        far.set("k", Bytes::from_static(b"v"), Duration::from_secs(60)).await.unwrap();
        let near = NearCache::new(far.clone(), 1 << 20, Duration::from_secs(60));
        for _ in 0..5 {
            assert_eq!(near.get("k").await.unwrap(), Some(Bytes::from_static(b"v")));
        }
        assert_eq!(far.gets.load(Ordering::Relaxed), 1);
        // What this replica stores is near at once, and remote for the others.
        near.set("j", Bytes::from_static(b"w"), Duration::from_secs(60)).await.unwrap();
        assert_eq!(near.get("j").await.unwrap(), Some(Bytes::from_static(b"w")));
        assert_eq!(far.gets.load(Ordering::Relaxed), 1);
        assert_eq!(far.inner.get("j").await.unwrap(), Some(Bytes::from_static(b"w")));
        assert_eq!(near.get("missing").await.unwrap(), None);
        assert_eq!(near.backend(), "counting");
    }
}

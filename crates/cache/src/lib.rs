//! **Layer: cache.** The query cache in front of the serving store: in-process by default,
//! memcached or Redis by URL.
//!
//! * [`QueryCache`] is the contract every backend implements: bytes in, bytes out, under a key,
//!   for at most the configured TTL. [`InProcessCache`] (moka) is the embedded default;
//!   [`MemcachedCache`] and [`RedisCache`] are the scale-out backends, chosen by URL through
//!   [`open`].
//! * [`Cache`] is what the API uses: it derives keys from the normalised query *and the current
//!   versions of the views it reads* ([`CacheKey`]), so a new batch or model version is never
//!   hidden behind a stale entry, and it turns a cache outage into a direct read with a warning
//!   and a metric, never an error to the user.

mod backends;
mod front;
mod key;

pub use backends::in_process::InProcessCache;
pub use backends::memcached::MemcachedCache;
pub use backends::near::NearCache;
pub use backends::redis::RedisCache;
pub use front::{Cache, Lookup};
pub use key::CacheKey;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

/// Errors of a cache backend (the [`Cache`] front never passes them to its callers).
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("{backend}: {message}")]
    Backend { backend: &'static str, message: String },
    #[error("{backend}: no answer within {timeout:?}")]
    Timeout { backend: &'static str, timeout: Duration },
    #[error("cache URL {0}")]
    Config(String),
}

/// A key-value store of encoded query results.
#[async_trait]
pub trait QueryCache: Send + Sync + 'static {
    /// The value under `key`, if present and not expired.
    async fn get(&self, key: &str) -> Result<Option<Bytes>, CacheError>;

    /// Stores `value` under `key` for at most `ttl`.
    async fn set(&self, key: &str, value: Bytes, ttl: Duration) -> Result<(), CacheError>;

    /// The backend's name, for logs and metric labels: `in-process`, `memcached`, `redis`.
    fn backend(&self) -> &'static str;
}

/// Where the cache is and how it behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheConfig {
    /// `embedded` (in-process), `memcached://HOST:PORT` or `redis://HOST:PORT[/DB]`.
    pub url: String,
    /// How long an entry lives at most (a new view version makes it unreachable sooner).
    pub ttl: Duration,
    /// The in-process cache's size limit in bytes.
    pub max_bytes: u64,
    /// How long a request waits for a remote cache before reading the store directly.
    pub timeout: Duration,
    /// With memcached or Redis: how many bytes of their entries this process keeps too
    /// ([`NearCache`]); 0 sends every read to the server.
    pub near_max_bytes: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            url: "embedded".into(),
            ttl: Duration::from_secs(300),
            max_bytes: 64 << 20,
            timeout: Duration::from_millis(100),
            near_max_bytes: 16 << 20,
        }
    }
}

/// The backend a URL names. Connecting is lazy: a remote cache that is down at start is an
/// outage like any other (reads go to the store), not a reason to refuse to start.
pub fn open(config: &CacheConfig) -> Result<Arc<dyn QueryCache>, CacheError> {
    let url = config.url.trim();
    if url == "embedded" {
        return Ok(Arc::new(InProcessCache::new(config.max_bytes, config.ttl)));
    }
    let far: Arc<dyn QueryCache> = match url.split_once("://").map(|(scheme, _)| scheme.to_ascii_lowercase())
    {
        Some(s) if s == "memcached" => Arc::new(MemcachedCache::new(url, config.timeout)?),
        Some(s) if s == "redis" => Arc::new(RedisCache::new(url, config.timeout)?),
        _ => {
            return Err(CacheError::Config(format!(
                "'{url}': accepted: \"embedded\", \"memcached://HOST:PORT\", \"redis://HOST:PORT[/DB]\""
            )));
        }
    };
    if config.near_max_bytes == 0 {
        return Ok(far);
    }
    Ok(Arc::new(NearCache::new(far, config.near_max_bytes, config.ttl)))
}

#[cfg(test)]
mod tests;

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
use tributary_settings::{ByteSize, KeyError};

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

/// Where the cache is and how it behaves (`[cache]` in `tributary.toml`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    /// `embedded` (in-process), `memcached://HOST:PORT` or `redis://HOST:PORT[/DB]`.
    pub url: String,
    /// How long an entry lives at most; a new view or model version replaces it at once anyway.
    #[serde(deserialize_with = "tributary_settings::human_duration")]
    pub ttl: Duration,
    /// How long a request waits for memcached or Redis before reading the store directly.
    #[serde(deserialize_with = "tributary_settings::human_duration")]
    pub timeout: Duration,
    /// The in-process cache's size.
    pub max_size: ByteSize,
    /// With memcached or Redis: how much of their entries this process keeps too
    /// ([`NearCache`]), so that repeated reads skip the network ("0" sends every read to the
    /// server). Entries never change under a key, so the copy is never staler than the server's.
    pub near_size: ByteSize,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            url: "embedded".into(),
            ttl: Duration::from_secs(300),
            timeout: Duration::from_millis(100),
            max_size: ByteSize(64 << 20),
            near_size: ByteSize(16 << 20),
        }
    }
}

impl CacheConfig {
    /// Checks the URL (without connecting); the error names the key.
    pub fn validate(&self) -> Result<(), KeyError> {
        open(self).map(drop).map_err(|e| KeyError::new("url", format!("is refused: {e}")))
    }
}

/// The backend a URL names. Connecting is lazy: a remote cache that is down at start is an
/// outage like any other (reads go to the store), not a reason to refuse to start.
pub fn open(config: &CacheConfig) -> Result<Arc<dyn QueryCache>, CacheError> {
    let url = config.url.trim();
    if url == "embedded" {
        return Ok(Arc::new(InProcessCache::new(config.max_size.0, config.ttl)));
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
    if config.near_size.0 == 0 {
        return Ok(far);
    }
    Ok(Arc::new(NearCache::new(far, config.near_size.0, config.ttl)))
}

#[cfg(test)]
mod tests;

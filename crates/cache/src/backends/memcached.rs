//! memcached (text protocol) through a small pool of connections. A connection that failed or
//! timed out mid-request may still receive that request's answer, so it is dropped and a new
//! one made at its next use.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use memcache_async::ascii::Protocol;
use tokio::net::TcpStream;
use tokio::sync::Mutex;

use crate::{CacheError, QueryCache};

const BACKEND: &str = "memcached";
/// Connections per cache: enough for two cores' worth of concurrent requests.
const CONNECTIONS: usize = 8;
/// memcached's default item limit is 1 MiB, key and header included; larger values are not
/// stored (the request is answered from the store, as on a miss).
const MAX_VALUE_BYTES: usize = 1_000_000;

/// One connection to the server.
type Client = Protocol<TcpStream>;

/// A memcached server as the query cache.
pub struct MemcachedCache {
    address: String,
    timeout: Duration,
    connections: Vec<Mutex<Option<Client>>>,
    next: AtomicUsize,
}

impl MemcachedCache {
    /// A cache on the server of `url` (`memcached://HOST:PORT`); connects at first use. Each
    /// request (connecting included) gives up after `timeout`.
    pub fn new(url: &str, timeout: Duration) -> Result<Self, CacheError> {
        let parsed = url::Url::parse(url).map_err(|e| CacheError::Config(format!("'{url}': {e}")))?;
        let host = parsed.host_str().filter(|h| !h.is_empty()).ok_or_else(|| {
            CacheError::Config(format!("'{url}': it needs a host, as in memcached://127.0.0.1:11211"))
        })?;
        let address = format!("{host}:{}", parsed.port().unwrap_or(11211));
        Ok(Self {
            address,
            timeout,
            connections: (0..CONNECTIONS).map(|_| Mutex::new(None)).collect(),
            next: AtomicUsize::new(0),
        })
    }

    /// Runs one request on one of the connections, within the timeout.
    async fn request(&self, request: Request<'_>) -> Result<Option<Bytes>, CacheError> {
        let slot = &self.connections[self.next.fetch_add(1, Ordering::Relaxed) % CONNECTIONS];
        let attempt = async {
            let mut guard = slot.lock().await;
            if guard.is_none() {
                let stream = TcpStream::connect(&self.address).await?;
                stream.set_nodelay(true)?;
                *guard = Some(Protocol::new(stream));
            }
            let client = guard.as_mut().expect("connected above");
            let result = match request {
                Request::Get(key) => match client.get(key).await {
                    Ok(value) => Ok(Some(Bytes::from(value))),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(e),
                },
                // The client sends `set … noreply`; the `version` after it returns once memcached
                // has applied the set (it answers a connection's commands in order), so a `get`
                // on any connection sees it, and an error line in between fails the request.
                Request::Set(key, value, ttl) => match client.set(key, value, ttl).await {
                    Ok(()) => client.version().await.map(|_| None),
                    Err(e) => Err(e),
                },
            };
            if result.is_err() {
                *guard = None;
            }
            result
        };
        match tokio::time::timeout(self.timeout, attempt).await {
            Ok(result) => {
                result.map_err(|e| CacheError::Backend { backend: BACKEND, message: e.to_string() })
            }
            Err(_) => {
                // The abandoned request no longer holds the lock; its connection may be mid-answer.
                if let Ok(mut guard) = slot.try_lock() {
                    *guard = None;
                }
                Err(CacheError::Timeout { backend: BACKEND, timeout: self.timeout })
            }
        }
    }
}

/// One memcached request.
enum Request<'a> {
    Get(&'a str),
    /// Key, value, TTL in seconds.
    Set(&'a str, &'a [u8], u32),
}

#[async_trait]
impl QueryCache for MemcachedCache {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, CacheError> {
        self.request(Request::Get(key)).await
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Duration) -> Result<(), CacheError> {
        if value.len() > MAX_VALUE_BYTES {
            tracing::debug!(key, bytes = value.len(), "value too large for memcached; not cached");
            return Ok(());
        }
        // memcached reads a TTL beyond 30 days as a Unix time; ours are far shorter.
        let ttl = ttl.as_secs().clamp(1, 30 * 24 * 3600) as u32;
        self.request(Request::Set(key, &value, ttl)).await.map(|_| ())
    }

    fn backend(&self) -> &'static str {
        BACKEND
    }
}

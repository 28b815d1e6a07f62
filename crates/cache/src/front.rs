//! [`Cache`]: the read-through front the API uses. A cache that fails is skipped, never an error.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::{CacheKey, QueryCache};

/// How long requests skip a cache that failed before they try it again.
const PAUSE_AFTER_FAILURE: Duration = Duration::from_secs(1);
/// At most one warning per this interval about a failing cache.
const WARNING_INTERVAL: Duration = Duration::from_secs(10);

/// How a request was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// From the cache.
    Hit,
    /// Computed, then stored.
    Miss,
    /// Computed without the cache, which is failing (or was, within the last second).
    Bypassed,
}

impl Lookup {
    /// The label of the metric: `hit`, `miss` or `bypass`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Hit => "hit",
            Self::Miss => "miss",
            Self::Bypassed => "bypass",
        }
    }
}

/// A read-through cache over a [`QueryCache`] backend.
///
/// Metrics: `tributary_cache_requests_total{backend, result}` (`hit`, `miss`, `bypass`) and
/// `tributary_cache_errors_total{backend, operation}`.
#[derive(Clone)]
pub struct Cache {
    backend: Arc<dyn QueryCache>,
    ttl: Duration,
    health: Arc<Health>,
}

struct Health {
    started: Instant,
    /// Milliseconds since `started` before which the cache is skipped.
    paused_until_ms: AtomicU64,
    last_warning_ms: AtomicU64,
}

impl Cache {
    /// A front over `backend`; entries live at most `ttl`.
    pub fn new(backend: Arc<dyn QueryCache>, ttl: Duration) -> Self {
        let health = Health {
            started: Instant::now(),
            paused_until_ms: AtomicU64::new(0),
            last_warning_ms: AtomicU64::new(0),
        };
        Self { backend, ttl, health: Arc::new(health) }
    }

    /// The backend's name.
    pub fn backend(&self) -> &'static str {
        self.backend.backend()
    }

    /// How long entries live.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The value under `key`, or `compute`'s (stored for the next request). The cache's own
    /// failures only make this a direct read; `compute`'s errors are returned as they are.
    pub async fn get_or_compute<E, F, Fut>(&self, key: &CacheKey, compute: F) -> Result<(Bytes, Lookup), E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Bytes, E>>,
    {
        let backend = self.backend.backend();
        if self.paused() {
            metrics::counter!("tributary_cache_requests_total", "backend" => backend, "result" => "bypass")
                .increment(1);
            return compute().await.map(|v| (v, Lookup::Bypassed));
        }
        let key = key.finish();
        let lookup = match self.backend.get(&key).await {
            Ok(Some(value)) => {
                metrics::counter!("tributary_cache_requests_total", "backend" => backend, "result" => "hit")
                    .increment(1);
                return Ok((value, Lookup::Hit));
            }
            Ok(None) => Lookup::Miss,
            Err(e) => {
                self.failed("get", &e);
                Lookup::Bypassed
            }
        };
        metrics::counter!("tributary_cache_requests_total", "backend" => backend, "result" => lookup.label())
            .increment(1);
        let value = compute().await?;
        if lookup == Lookup::Miss {
            // Stored in the background: the answer does not wait for the cache.
            let (cache, value) = (self.clone(), value.clone());
            tokio::spawn(async move {
                if let Err(e) = cache.backend.set(&key, value, cache.ttl).await {
                    cache.failed("set", &e);
                }
            });
        }
        Ok((value, lookup))
    }

    fn now_ms(&self) -> u64 {
        self.health.started.elapsed().as_millis() as u64
    }

    fn paused(&self) -> bool {
        self.now_ms() < self.health.paused_until_ms.load(Ordering::Relaxed)
    }

    /// Counts a failure, warns (at most every [`WARNING_INTERVAL`]) and skips the cache for
    /// [`PAUSE_AFTER_FAILURE`], so that an outage costs one timeout a second, not one a request.
    fn failed(&self, operation: &'static str, error: &crate::CacheError) {
        let backend = self.backend.backend();
        metrics::counter!("tributary_cache_errors_total", "backend" => backend, "operation" => operation)
            .increment(1);
        let now = self.now_ms();
        self.health.paused_until_ms.store(now + PAUSE_AFTER_FAILURE.as_millis() as u64, Ordering::Relaxed);
        let last = self.health.last_warning_ms.load(Ordering::Relaxed);
        let due = last == 0 || now.saturating_sub(last) >= WARNING_INTERVAL.as_millis() as u64;
        if due
            && self
                .health
                .last_warning_ms
                .compare_exchange(last, now.max(1), Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(backend, operation, %error, "cache unavailable; reading the store directly");
        }
    }
}

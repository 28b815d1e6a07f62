//! Redis through one multiplexed connection that reconnects by itself (redis-rs's connection
//! manager), made at first use so that a Redis that is down at start is only an outage.

use std::time::Duration;

use ::redis::AsyncCommands;
use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::OnceCell;

use crate::{CacheError, QueryCache};

const BACKEND: &str = "redis";

/// A Redis server as the query cache.
pub struct RedisCache {
    client: ::redis::Client,
    timeout: Duration,
    connection: OnceCell<ConnectionManager>,
}

impl RedisCache {
    /// A cache on the server of `url` (`redis://HOST:PORT[/DB]`); connects at first use. Each
    /// request gives up after `timeout`.
    pub fn new(url: &str, timeout: Duration) -> Result<Self, CacheError> {
        let client = ::redis::Client::open(url).map_err(|e| CacheError::Config(format!("'{url}': {e}")))?;
        Ok(Self { client, timeout, connection: OnceCell::new() })
    }

    async fn connection(&self) -> Result<ConnectionManager, CacheError> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(self.timeout)
            .set_response_timeout(self.timeout)
            .set_number_of_retries(1);
        let connection = self
            .connection
            .get_or_try_init(|| ConnectionManager::new_with_config(self.client.clone(), config))
            .await
            .map_err(error)?;
        Ok(connection.clone())
    }

    async fn within_timeout<T>(
        &self,
        op: impl Future<Output = Result<T, CacheError>>,
    ) -> Result<T, CacheError> {
        tokio::time::timeout(self.timeout, op)
            .await
            .unwrap_or(Err(CacheError::Timeout { backend: BACKEND, timeout: self.timeout }))
    }
}

fn error(e: ::redis::RedisError) -> CacheError {
    CacheError::Backend { backend: BACKEND, message: e.to_string() }
}

#[async_trait]
impl QueryCache for RedisCache {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, CacheError> {
        self.within_timeout(async {
            let mut c = self.connection().await?;
            let value: Option<Vec<u8>> = c.get(key).await.map_err(error)?;
            Ok(value.map(Bytes::from))
        })
        .await
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Duration) -> Result<(), CacheError> {
        self.within_timeout(async {
            let mut c = self.connection().await?;
            let () = c.set_ex(key, value.as_ref(), ttl.as_secs().max(1)).await.map_err(error)?;
            Ok(())
        })
        .await
    }

    fn backend(&self) -> &'static str {
        BACKEND
    }
}

//! How the HTTP servers listen: `[api]` in `tributary.toml`.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;
use tributary_settings::{KeyError, human_duration};

use crate::ServeLimits;

/// Where the API (and the operations port) listen, their limits and the write token.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Where the API listens (`tributary up --listen` overrides it). Loopback by default.
    pub listen: SocketAddr,
    /// A request still running after this is answered 503.
    #[serde(deserialize_with = "human_duration")]
    pub request_timeout: Duration,
    /// A client must send each request head (request line and headers) within this, or its
    /// connection is closed; idle keep-alive connections are closed after it too.
    #[serde(deserialize_with = "human_duration")]
    pub header_timeout: Duration,
    /// At most this many client connections at once; more wait to be accepted.
    pub max_connections: usize,
    /// Where the roles that serve no API (`ingest`, `worker`, `batch follow`) answer
    /// `/healthz`, `/readyz` and `/metrics`; not served when unset.
    pub ops_listen: Option<SocketAddr>,
    /// The token of the write endpoints (`Authorization: Bearer …`); when not set, `up` makes
    /// one at its first start and keeps it in `<data_dir>/api-token`.
    pub token: Option<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        let limits = ServeLimits::default();
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            request_timeout: Duration::from_secs(10),
            header_timeout: limits.header_timeout,
            max_connections: limits.max_connections,
            ops_listen: None,
            token: None,
        }
    }
}

impl ServerConfig {
    /// Checks what serde cannot; the error names the key.
    pub fn validate(&self) -> Result<(), KeyError> {
        for (key, zero) in [
            ("request_timeout", self.request_timeout.is_zero()),
            ("header_timeout", self.header_timeout.is_zero()),
            ("max_connections", self.max_connections == 0),
        ] {
            if zero {
                return Err(KeyError::new(key, "must be more than 0"));
            }
        }
        Ok(())
    }

    /// The limits of [`serve`](crate::serve).
    pub fn limits(&self) -> ServeLimits {
        ServeLimits {
            header_timeout: self.header_timeout,
            max_connections: self.max_connections,
            ..ServeLimits::default()
        }
    }
}

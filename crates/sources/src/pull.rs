//! Pulling a payload from a URL: HTTP(S) with conditional requests, timeouts, retries with
//! exponential backoff and a size limit, or a `file://` path, so that every pull source also runs
//! offline on local files.
//!
//! A pull remembers the previous fetch's validators ([`Validators`]: the server's ETag and
//! Last-Modified, or a file's modification time and size) and sends them back; an unchanged
//! payload comes back as [`Fetched::NotModified`] and is not imported again.
//!
//! ```no_run
//! # async fn demo() -> Result<(), tributary_sources::pull::PullError> {
//! use tributary_sources::pull::{Fetched, Puller, PullLimits, Validators};
//! let puller = Puller::new(PullLimits::default())?;
//! match puller.fetch("file:///data/covid.csv", &Validators::default(), &mut |_, _| {}).await? {
//!     Fetched::Payload(p) => println!("{} bytes", p.bytes.len()),
//!     Fetched::NotModified => println!("unchanged"),
//! }
//! # Ok(()) }
//! ```

use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Limits of one pull: the `pull_*` keys of `[markets]` in `tributary.toml`.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PullLimits {
    /// For connecting, and then for each wait on the server (headers, each part of the body)
    /// (`pull_timeout`).
    #[serde(rename = "pull_timeout", deserialize_with = "tributary_settings::human_duration")]
    pub timeout: Duration,
    /// Payloads larger than this are refused (before reading them, where the size is announced)
    /// (`pull_max_size`).
    #[serde(rename = "pull_max_size", deserialize_with = "bytes")]
    pub max_bytes: u64,
    /// Attempts after the first, for failures that may pass (network errors, timeouts, HTTP 408,
    /// 429 and 5xx) (`pull_retries`).
    #[serde(rename = "pull_retries")]
    pub retries: u32,
    /// The pause before the first retry; it doubles with each retry, up to `max_backoff`.
    #[serde(skip)]
    pub backoff: Duration,
    #[serde(skip)]
    pub max_backoff: Duration,
}

fn bytes<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    <tributary_settings::ByteSize as serde::Deserialize>::deserialize(d).map(|s| s.0)
}

impl PullLimits {
    /// Checks what serde cannot; the error names the key.
    pub fn validate(&self) -> Result<(), tributary_settings::KeyError> {
        if self.timeout.is_zero() {
            return Err(tributary_settings::KeyError::new("pull_timeout", "must be longer than 0"));
        }
        Ok(())
    }
}

impl Default for PullLimits {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(60),
            max_bytes: 256 << 20,
            retries: 4,
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
        }
    }
}

/// What identifies a version of a payload, as the source reported it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// A payload, as fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    pub url: String,
    pub bytes: Vec<u8>,
    pub validators: Validators,
}

/// The outcome of a fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    Payload(Payload),
    /// The source says the payload is the one the validators describe.
    NotModified,
}

/// Why a pull failed. Every message names the URL.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error("{url}: {reason}")]
    Invalid { url: String, reason: String },
    #[error("{url}: larger than the limit of {limit} bytes")]
    TooLarge { url: String, limit: u64 },
    #[error("{url}: HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("{url}: {error} (after {attempts} attempts)")]
    Network { url: String, error: String, attempts: u32 },
    #[error("{url}: {error}")]
    File { url: String, error: std::io::Error },
}

/// Fetches URLs (see the module documentation).
#[derive(Clone)]
pub struct Puller {
    client: reqwest::Client,
    limits: PullLimits,
}

/// Progress of a fetch: bytes so far, and the total where the source announced it.
pub type Progress<'a> = dyn FnMut(u64, Option<u64>) + Send + 'a;

impl Puller {
    pub fn new(limits: PullLimits) -> Result<Self, PullError> {
        let client = reqwest::Client::builder()
            .connect_timeout(limits.timeout)
            .read_timeout(limits.timeout)
            .user_agent(concat!("tributary/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| PullError::Invalid { url: String::new(), reason: format!("HTTP client: {e}") })?;
        Ok(Self { client, limits })
    }

    /// The limits it applies.
    pub fn limits(&self) -> &PullLimits {
        &self.limits
    }

    /// Fetches `url` (`http://`, `https://` or `file://`) unless it still matches `previous`.
    pub async fn fetch(
        &self,
        url: &str,
        previous: &Validators,
        progress: &mut Progress<'_>,
    ) -> Result<Fetched, PullError> {
        let parsed = url::Url::parse(url)
            .map_err(|e| PullError::Invalid { url: url.into(), reason: format!("not a URL: {e}") })?;
        match parsed.scheme() {
            "file" => {
                let path = parsed.to_file_path().map_err(|()| PullError::Invalid {
                    url: url.into(),
                    reason: "a file:// URL needs an absolute path".into(),
                })?;
                self.fetch_file(url, path, previous, progress).await
            }
            "http" | "https" => self.fetch_http(url, previous, progress).await,
            other => Err(PullError::Invalid {
                url: url.into(),
                reason: format!("scheme {other}:// is not supported (http, https, file)"),
            }),
        }
    }

    async fn fetch_file(
        &self,
        url: &str,
        path: PathBuf,
        previous: &Validators,
        progress: &mut Progress<'_>,
    ) -> Result<Fetched, PullError> {
        let file_error = |error| PullError::File { url: url.into(), error };
        let max = self.limits.max_bytes;
        let (bytes, validators) = tokio::task::spawn_blocking(move || -> std::io::Result<_> {
            let file = std::fs::File::open(&path)?;
            let meta = file.metadata()?;
            // A file's version: its modification time and size (what `make` would compare).
            let mtime = meta.modified()?.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            let etag = format!("file:{}.{:09}:{}", mtime.as_secs(), mtime.subsec_nanos(), meta.len());
            let validators = Validators { etag: Some(etag), last_modified: None };
            if meta.len() > max {
                return Ok((None, validators));
            }
            let mut bytes = Vec::with_capacity(meta.len() as usize);
            file.take(max + 1).read_to_end(&mut bytes)?;
            Ok((Some(bytes), validators))
        })
        .await
        .map_err(|e| file_error(std::io::Error::other(e)))?
        .map_err(file_error)?;
        if previous.etag.is_some() && validators.etag == previous.etag {
            return Ok(Fetched::NotModified);
        }
        let bytes = bytes
            .filter(|b| b.len() as u64 <= max)
            .ok_or(PullError::TooLarge { url: url.into(), limit: max })?;
        progress(bytes.len() as u64, Some(bytes.len() as u64));
        Ok(Fetched::Payload(Payload { url: url.into(), bytes, validators }))
    }

    async fn fetch_http(
        &self,
        url: &str,
        previous: &Validators,
        progress: &mut Progress<'_>,
    ) -> Result<Fetched, PullError> {
        let mut pause = self.limits.backoff;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.attempt_http(url, previous, progress).await {
                Err(Failure::Final(e)) => return Err(e),
                Err(Failure::Transient(error)) if attempt <= self.limits.retries => {
                    tracing::warn!(
                        url,
                        attempt,
                        error,
                        retry_in_ms = pause.as_millis() as u64,
                        "pull failed; retrying"
                    );
                    metrics::counter!("tributary_pull_retries_total").increment(1);
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(self.limits.max_backoff);
                }
                Err(Failure::Transient(error)) => {
                    return Err(PullError::Network { url: url.into(), error, attempts: attempt });
                }
                Ok(fetched) => return Ok(fetched),
            }
        }
    }

    async fn attempt_http(
        &self,
        url: &str,
        previous: &Validators,
        progress: &mut Progress<'_>,
    ) -> Result<Fetched, Failure> {
        let mut request = self.client.get(url);
        if let Some(etag) = &previous.etag {
            request = request.header(reqwest::header::IF_NONE_MATCH, etag);
        }
        if let Some(date) = &previous.last_modified {
            request = request.header(reqwest::header::IF_MODIFIED_SINCE, date);
        }
        let mut response = request.send().await.map_err(|e| Failure::Transient(describe(&e)))?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_MODIFIED {
            return Ok(Fetched::NotModified);
        }
        if !status.is_success() {
            let transient = status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429;
            return Err(if transient {
                Failure::Transient(format!("HTTP {status}"))
            } else {
                Failure::Final(PullError::Status { url: url.into(), status: status.as_u16() })
            });
        }
        let max = self.limits.max_bytes;
        let too_large = || Failure::Final(PullError::TooLarge { url: url.into(), limit: max });
        let total = response.content_length();
        if total.is_some_and(|n| n > max) {
            return Err(too_large());
        }
        let header = |name| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        let validators = Validators {
            etag: header(reqwest::header::ETAG),
            last_modified: header(reqwest::header::LAST_MODIFIED),
        };
        let mut bytes = Vec::with_capacity(total.unwrap_or(0).min(max) as usize);
        while let Some(chunk) = response.chunk().await.map_err(|e| Failure::Transient(describe(&e)))? {
            if (bytes.len() + chunk.len()) as u64 > max {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
            progress(bytes.len() as u64, total);
        }
        Ok(Fetched::Payload(Payload { url: url.into(), bytes, validators }))
    }
}

enum Failure {
    /// Worth another attempt.
    Transient(String),
    Final(PullError),
}

/// reqwest's error with its causes (the top-level message alone is often just "error sending
/// request").
fn describe(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() { format!("timed out: {e}") } else { e.to_string() };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests;

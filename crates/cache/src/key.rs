//! Cache keys: the normalised query plus the current version of everything it reads.

use sha2::{Digest, Sha256};

/// A cache key under construction: what was asked (endpoint and parameters, in a canonical
/// order) and the versions of the views or models the answer comes from. A new version of any of
/// them gives a new key, so an entry made from older data is never found again; it just expires.
///
/// ```
/// use tributary_cache::CacheKey;
/// let a = CacheKey::new("correlations").param("series", "IT").param("lag", "0").version("correlations", 3);
/// let b = CacheKey::new("correlations").param("lag", "0").param("series", "IT").version("correlations", 3);
/// assert_eq!(a.finish(), b.finish()); // parameter order does not matter
/// let c = CacheKey::new("correlations").param("series", "IT").param("lag", "0").version("correlations", 4);
/// assert_ne!(a.finish(), c.finish()); // a new version is a new key
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheKey {
    endpoint: String,
    params: Vec<(String, String)>,
    versions: Vec<(String, u64)>,
}

impl CacheKey {
    /// A key for one endpoint.
    pub fn new(endpoint: &str) -> Self {
        Self { endpoint: endpoint.to_string(), ..Self::default() }
    }

    /// Adds a parameter of the query (already normalised by the caller: parsed and printed back).
    pub fn param(mut self, name: &str, value: impl ToString) -> Self {
        self.params.push((name.to_string(), value.to_string()));
        self
    }

    /// Adds the version of a view or model the answer reads.
    pub fn version(mut self, name: &str, version: u64) -> Self {
        self.versions.push((name.to_string(), version));
        self
    }

    /// The key: `tributary:` and the SHA-256 of the canonical form, in hex (short, and safe for
    /// memcached, which allows 250 bytes without spaces or control characters).
    pub fn finish(&self) -> String {
        let mut params = self.params.clone();
        params.sort();
        let mut versions = self.versions.clone();
        versions.sort();
        let mut hash = Sha256::new();
        // Lengths before each part, so that no two different keys have the same bytes.
        let mut part = |s: &[u8]| {
            hash.update((s.len() as u64).to_le_bytes());
            hash.update(s);
        };
        part(self.endpoint.as_bytes());
        for (name, value) in &params {
            part(name.as_bytes());
            part(value.as_bytes());
        }
        part(b"versions");
        for (name, version) in &versions {
            part(name.as_bytes());
            part(&version.to_le_bytes());
        }
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let digest = hash.finalize();
        let mut key = String::with_capacity(10 + 64);
        key.push_str("tributary:");
        for byte in digest {
            key.push(char::from(HEX[usize::from(byte >> 4)]));
            key.push(char::from(HEX[usize::from(byte & 0xf)]));
        }
        key
    }
}

//! A bad configuration value, by key.

/// A value a section refuses: the key (relative to the section, or dotted from the root once
/// [`within`](Self::within) a section) and why, with what is accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{key}` {message}")]
pub struct KeyError {
    /// The key, such as `k` or `mobile.k`; `markets.sources[1].url` for an item of a list.
    pub key: String,
    /// What is wrong and what is accepted, such as "= 0: must be at least 1".
    pub message: String,
}

impl KeyError {
    /// An error of `key`; `message` follows the key in the sentence ("`k` must be at least 1").
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self { key: key.into(), message: message.into() }
    }

    /// The same error with its key inside `section` (`k` within `mobile` is `mobile.k`).
    pub fn within(self, section: &str) -> Self {
        Self { key: format!("{section}.{}", self.key), message: self.message }
    }
}

/// A value written in a form a setting does not take (a size, a duration, a name from a closed
/// set); the message shows the value and what is accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValue(pub String);

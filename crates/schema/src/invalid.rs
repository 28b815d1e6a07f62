//! Why a record cannot be used.

/// A record (or a whole file) that cannot be used, and why: the reason a dead letter carries
/// ("latitude 91 is outside -90..90", "header has no column 'deviceId'"). The reason names the
/// field and says what is accepted, for a person reading the dead letters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Invalid {
    /// The reason, as a dead letter records it.
    pub reason: String,
}

impl From<String> for Invalid {
    fn from(reason: String) -> Self {
        Self { reason }
    }
}

impl From<&str> for Invalid {
    fn from(reason: &str) -> Self {
        Self { reason: reason.to_string() }
    }
}

impl From<Invalid> for String {
    fn from(invalid: Invalid) -> Self {
        invalid.reason
    }
}

/// At most 40 characters of a value, for a reason that quotes it (`latitude 'abc…' is not a
/// number`): a hostile value cannot make a dead letter's reason long.
pub fn clip(text: &str) -> String {
    if text.chars().count() > 40 {
        format!("{}…", text.chars().take(40).collect::<String>())
    } else {
        text.to_string()
    }
}

//! Topic name rules, the same as Kafka's so that names move between backends unchanged.

use crate::error::{LogError, Result};

/// Longest topic name Kafka accepts.
pub const MAX_TOPIC_NAME_LEN: usize = 249;

/// Accepts `[A-Za-z0-9._-]{1,249}` except `.` and `..`.
///
/// ```
/// assert!(tributary_log::validate_topic_name("mobile_data").is_ok());
/// assert!(tributary_log::validate_topic_name("../etc").is_err());
/// ```
pub fn validate_topic_name(name: &str) -> Result<()> {
    let bad = |reason| Err(LogError::InvalidTopicName { name: name.chars().take(300).collect(), reason });
    if name.is_empty() {
        return bad("it is empty");
    }
    if name == "." || name == ".." {
        return bad("'.' and '..' are not allowed");
    }
    if name.len() > MAX_TOPIC_NAME_LEN {
        return bad("it is longer than 249 characters");
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')) {
        return bad("only ASCII letters, digits, '.', '_' and '-' are allowed");
    }
    Ok(())
}

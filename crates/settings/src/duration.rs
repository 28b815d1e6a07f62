//! Durations written as humans write them.

use std::time::Duration;

use serde::{Deserialize, Deserializer, de};

use crate::InvalidValue;

/// Deserializes a duration written like `"100ms"`, `"30s"`, `"7days"` (humantime's syntax), for
/// `#[serde(deserialize_with = "human_duration")]`.
pub fn human_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    parse(&s).map_err(de::Error::custom)
}

/// Parses a duration, or says what is accepted.
pub(crate) fn parse(s: &str) -> Result<Duration, InvalidValue> {
    humantime::parse_duration(s.trim()).map_err(|_| {
        InvalidValue(format!("'{s}' is not a duration: use a form such as \"500ms\", \"30s\", \"1h\""))
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations_take_units_and_refuse_the_rest() {
        assert_eq!(super::parse("1h 30m").unwrap().as_secs(), 5400);
        assert_eq!(super::parse(" 100ms ").unwrap().as_millis(), 100);
        assert!(super::parse("soon").unwrap_err().0.contains("\"500ms\""));
        assert!(super::parse("10").is_err(), "a number without a unit is ambiguous");
    }
}

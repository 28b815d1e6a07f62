//! Bounds that can be switched off.

use std::time::Duration;

use serde::{Deserialize, Deserializer, de};

use crate::ByteSize;
use crate::size::RawSize;

/// A bound that can be switched off: `"forever"` / `"unlimited"` in TOML, or a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit<T> {
    Unlimited,
    Limited(T),
}

impl<T: Copy> Limit<T> {
    /// The bound, if there is one.
    pub fn get(&self) -> Option<T> {
        match self {
            Self::Unlimited => None,
            Self::Limited(v) => Some(*v),
        }
    }
}

impl<T> From<Option<T>> for Limit<T> {
    fn from(bound: Option<T>) -> Self {
        bound.map_or(Self::Unlimited, Self::Limited)
    }
}

impl<'de> Deserialize<'de> for Limit<Duration> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.trim() {
            "forever" | "unlimited" => Ok(Self::Unlimited),
            t => humantime::parse_duration(t).map(Self::Limited).map_err(|_| {
                de::Error::custom(format!(
                    "'{s}' is not a duration: accepted \"forever\" or a duration such as \"7days\", \"12h\""
                ))
            }),
        }
    }
}

impl<'de> Deserialize<'de> for Limit<ByteSize> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match RawSize::deserialize(d)
            .map_err(|_| de::Error::custom("expected \"unlimited\" or a size such as \"10GiB\""))?
        {
            RawSize::Text(s) if matches!(s.trim(), "unlimited" | "forever") => Ok(Self::Unlimited),
            raw => raw.into_size().map(Self::Limited),
        }
    }
}

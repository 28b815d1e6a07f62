//! Sizes in bytes, with units.

use serde::{Deserialize, Deserializer, de};

use crate::InvalidValue;

/// A size in bytes, written in TOML as an integer or a string such as `"64MiB"` or `"1.5GB"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

impl std::str::FromStr for ByteSize {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, InvalidValue> {
        let t = s.trim();
        let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "k" | "kb" => 1_000,
            "kib" => 1 << 10,
            "m" | "mb" => 1_000_000,
            "mib" => 1 << 20,
            "g" | "gb" => 1_000_000_000,
            "gib" => 1 << 30,
            "t" | "tb" => 1_000_000_000_000,
            "tib" => 1 << 40,
            _ => {
                return Err(InvalidValue(format!(
                    "'{s}' is not a size: use bytes or a unit such as \"64MiB\", \"10GB\""
                )));
            }
        };
        let n: f64 = num.parse().map_err(|_| InvalidValue(format!("'{s}' is not a size: no number")))?;
        let bytes = n * factor as f64;
        if !(0.0..1.8e19).contains(&bytes) {
            return Err(InvalidValue(format!("'{s}' is out of range")));
        }
        Ok(Self(bytes as u64))
    }
}

/// A size as TOML gives it: an integer or a string.
#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum RawSize {
    Int(i64),
    Text(String),
}

impl RawSize {
    pub(crate) fn into_size<E: de::Error>(self) -> Result<ByteSize, E> {
        match self {
            Self::Int(n) if n >= 0 => Ok(ByteSize(n as u64)),
            Self::Int(n) => Err(E::custom(format!("size {n} is negative"))),
            Self::Text(s) => s.parse().map_err(E::custom),
        }
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        RawSize::deserialize(d)
            .map_err(|_| {
                de::Error::custom("expected a size: bytes as an integer, or a string such as \"64MiB\"")
            })?
            .into_size()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_units() {
        assert_eq!("64MiB".parse::<ByteSize>().unwrap(), ByteSize(64 << 20));
        assert_eq!("1.5 GB".parse::<ByteSize>().unwrap(), ByteSize(1_500_000_000));
        assert_eq!("4096".parse::<ByteSize>().unwrap(), ByteSize(4096));
        assert!("lots".parse::<ByteSize>().is_err());
        assert!("12 parsecs".parse::<ByteSize>().is_err());
        #[derive(Deserialize)]
        struct S {
            size: ByteSize,
        }
        assert_eq!(toml::from_str::<S>("size = 10").unwrap().size, ByteSize(10));
        assert!(toml::from_str::<S>("size = -1").is_err());
    }
}

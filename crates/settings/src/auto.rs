//! Settings that are detected unless given: `"auto"` (or absent) or a value.

use serde::de::{self, Deserialize, Deserializer, IntoDeserializer, Visitor};

/// A setting that is detected from the input unless the user gives it: written `"auto"` (the
/// default) or as the value itself, which `T` reads with its own checks and messages.
///
/// ```
/// use tributary_settings::Auto;
///
/// #[derive(serde::Deserialize)]
/// struct Input {
///     #[serde(default)]
///     header: Auto<bool>,
/// }
///
/// let given: Input = toml::from_str("header = false").unwrap();
/// assert_eq!(given.header, Auto::Given(false));
/// let detected: Input = toml::from_str("header = \"auto\"").unwrap();
/// assert_eq!(detected.header.or_detect(|| true), true);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Auto<T> {
    /// Found from the input.
    #[default]
    Detect,
    /// As the user said.
    Given(T),
}

impl<T> Auto<T> {
    /// The value given, if any.
    pub fn given(self) -> Option<T> {
        match self {
            Self::Detect => None,
            Self::Given(v) => Some(v),
        }
    }

    /// The value given, or the one `detect` finds.
    pub fn or_detect(self, detect: impl FnOnce() -> T) -> T {
        self.given().unwrap_or_else(detect)
    }
}

impl<T> From<Option<T>> for Auto<T> {
    fn from(v: Option<T>) -> Self {
        v.map_or(Self::Detect, Self::Given)
    }
}

impl<T: std::fmt::Display> std::fmt::Display for Auto<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Detect => f.write_str("auto"),
            Self::Given(v) => v.fmt(f),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Auto<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct AutoVisitor<T>(std::marker::PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for AutoVisitor<T> {
            type Value = Auto<T>;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("\"auto\" or a value")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                if v == "auto" {
                    return Ok(Auto::Detect);
                }
                T::deserialize(v.into_deserializer()).map(Auto::Given)
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                self.visit_str(&v)
            }

            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                T::deserialize(v.into_deserializer()).map(Auto::Given)
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                T::deserialize(v.into_deserializer()).map(Auto::Given)
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                T::deserialize(v.into_deserializer()).map(Auto::Given)
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                T::deserialize(v.into_deserializer()).map(Auto::Given)
            }

            fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                T::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(Auto::Given)
            }
        }

        d.deserialize_any(AutoVisitor(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct S {
        #[serde(default)]
        a: Auto<bool>,
        #[serde(default)]
        n: Auto<u8>,
        #[serde(default)]
        list: Auto<Vec<String>>,
    }

    #[test]
    fn auto_or_a_value_with_the_values_own_errors() {
        let s: S = toml::from_str("").unwrap();
        assert_eq!((s.a, s.n, s.list), (Auto::Detect, Auto::Detect, Auto::Detect));
        let s: S = toml::from_str("a = true\nn = 7\nlist = [\"x\"]").unwrap();
        assert_eq!((s.a, s.n, s.list), (Auto::Given(true), Auto::Given(7), Auto::Given(vec!["x".into()])));
        let s: S = toml::from_str("a = \"auto\"\nn = \"auto\"").unwrap();
        assert_eq!((s.a, s.n), (Auto::Detect, Auto::Detect));
        let err = toml::from_str::<S>("n = 300").unwrap_err().to_string();
        assert!(err.contains("300"), "{err}");
        let err = toml::from_str::<S>("a = \"maybe\"").unwrap_err().to_string();
        assert!(err.contains("maybe"), "{err}");
    }
}

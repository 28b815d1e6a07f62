//! The keys a section type takes, as serde's derive declares them.

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

/// The keys (field names, after serde's renames) of a `#[derive(Deserialize)]` struct: for a
/// section that several owners share, to hand each owner the keys that are its own.
///
/// ```
/// #[derive(serde::Deserialize)]
/// struct Part {
///     k: usize,
///     #[serde(rename = "generator_rate")]
///     rate: f64,
/// }
/// assert_eq!(tributary_settings::keys_of::<Part>(), ["k", "generator_rate"]);
/// ```
pub fn keys_of<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    let mut keys: &'static [&'static str] = &[];
    // The derive calls `deserialize_struct` with its field names first; this deserializer
    // records them and stops there (the error is expected and dropped).
    let _ = T::deserialize(Introspect { keys: &mut keys });
    keys
}

struct Introspect<'a> {
    keys: &'a mut &'static [&'static str],
}

#[derive(Debug)]
struct Stop;

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("keys recorded")
    }
}

impl std::error::Error for Stop {}

impl de::Error for Stop {
    fn custom<M: std::fmt::Display>(_: M) -> Self {
        Stop
    }
}

impl<'de> Deserializer<'de> for Introspect<'_> {
    type Error = Stop;

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Stop> {
        *self.keys = fields;
        Err(Stop)
    }

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Stop> {
        Err(Stop)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

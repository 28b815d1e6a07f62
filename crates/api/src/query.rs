//! Each endpoint's query parameters, declared once: a struct whose fields are the parameters
//! (`#[derive(Deserialize, IntoParams)]`). Its field names are the names accepted, the field
//! types parse and check the values (the types below, and the enumerations of
//! [`crate::choices`]), and the same types give the OpenAPI document its schemas (ranges,
//! patterns, formats, enumerations) and the doc comments its descriptions. A handler calls
//! [`parse`]; `#[utoipa::path(params(TheStruct))]` documents it.
//!
//! Values are first decoded strictly by [`Params::parse`] (unknown, repeated, over-long or
//! malformed parameters are refused there); an error names the parameter and what is accepted.

use std::borrow::Cow;
use std::fmt;

use chrono::NaiveDate;
use serde::de::{self, DeserializeOwned, Deserializer, IntoDeserializer, MapAccess, Visitor};
use serde::{Deserialize, forward_to_deserialize_any};
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{IntoParams, PartialSchema, ToSchema};

use crate::error::ApiError;
use crate::params::{MAX_INTEGER, Params};

/// Decodes the query string `raw` into `T`: the names `T` declares are the names accepted; the
/// decoded parameters are returned too (for cache keys).
pub fn parse<T: DeserializeOwned + IntoParams>(raw: Option<&str>) -> Result<(T, Params), ApiError> {
    let declared = T::into_params(|| Some(utoipa::openapi::path::ParameterIn::Query));
    let names: Vec<&str> = declared.iter().map(|p| p.name.as_str()).collect();
    let params = Params::parse(raw, &names)?;
    let pairs: Vec<(String, String)> = params.pairs().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let value = T::deserialize(Query { pairs: pairs.into_iter(), current: None })
        .map_err(|e| ApiError::bad_request(e.0))?;
    Ok((value, params))
}

/// Why a parameter is refused, naming it.
#[derive(Debug)]
struct Refused(String);

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

impl de::Error for Refused {
    fn custom<M: fmt::Display>(message: M) -> Self {
        Self(message.to_string())
    }

    fn missing_field(field: &'static str) -> Self {
        Self(format!("parameter {field} is required"))
    }
}

/// The parameters as a map for serde.
struct Query {
    pairs: std::vec::IntoIter<(String, String)>,
    current: Option<(String, String)>,
}

impl<'de> Deserializer<'de> for Query {
    type Error = Refused;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Refused> {
        visitor.visit_map(self)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option
        unit unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier ignored_any
    }
}

impl<'de> MapAccess<'de> for Query {
    type Error = Refused;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Refused> {
        let Some((name, value)) = self.pairs.next() else { return Ok(None) };
        let key = seed.deserialize(name.as_str().into_deserializer()).map(Some);
        self.current = Some((name, value));
        key
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Refused> {
        let (name, value) = self.current.take().expect("a value follows its key");
        seed.deserialize(Text(&value)).map_err(|e| {
            // "is empty: …" reads as a sentence after the name; anything else after a colon.
            let separator = if e.0.starts_with("is ") { " " } else { ": " };
            Refused(format!("parameter {name}{separator}{}", e.0))
        })
    }
}

/// One parameter's (decoded) text.
struct Text<'a>(&'a str);

impl<'de> Deserializer<'de> for Text<'_> {
    type Error = Refused;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Refused> {
        visitor.visit_str(self.0)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Refused> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Refused> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Refused> {
        if self.0.is_empty() {
            return Err(Refused("is empty: give one of its values or leave it out".into()));
        }
        visitor.visit_enum(de::value::StrDeserializer::<Refused>::new(self.0))
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf unit
        unit_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

/// Deserializes a value type from the parameter's text with `parse`.
macro_rules! from_text {
    ($type:ty, $expecting:literal, $parse:expr) => {
        impl<'de> Deserialize<'de> for $type {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl Visitor<'_> for V {
                    type Value = $type;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($expecting)
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<$type, E> {
                        let parse: fn(&str) -> Result<$type, String> = $parse;
                        parse(v).map_err(E::custom)
                    }
                }
                d.deserialize_str(V)
            }
        }
    };
}

/// Refuses an empty value of a parameter that takes `what`.
fn given<'a>(v: &'a str, what: &str) -> Result<&'a str, String> {
    if v.is_empty() { Err(format!("is empty: give {what} or leave it out")) } else { Ok(v) }
}

/// An integer from `MIN` to `MAX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Int<const MIN: i64, const MAX: i64>(pub i64);

impl<'de, const MIN: i64, const MAX: i64> Deserialize<'de> for Int<MIN, MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<const MIN: i64, const MAX: i64>;
        impl<const MIN: i64, const MAX: i64> Visitor<'_> for V<MIN, MAX> {
            type Value = Int<MIN, MAX>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "an integer from {MIN} to {MAX}")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Int<MIN, MAX>, E> {
                let v = given(v, "an integer").map_err(E::custom)?;
                match v.parse::<i64>() {
                    Ok(n) if (MIN..=MAX).contains(&n) => Ok(Int(n)),
                    _ => Err(E::custom(format!("{v:?} is not an integer from {MIN} to {MAX}"))),
                }
            }
        }
        d.deserialize_str(V::<MIN, MAX>)
    }
}

impl<const MIN: i64, const MAX: i64> PartialSchema for Int<MIN, MAX> {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .minimum(Some(MIN as f64))
            .maximum(Some(MAX as f64))
            .into()
    }
}

impl<const MIN: i64, const MAX: i64> ToSchema for Int<MIN, MAX> {
    fn name() -> Cow<'static, str> {
        Cow::Owned(format!("Int_{MIN}_{MAX}"))
    }
}

/// A multiple of `STEP` from `MIN` to `MAX` (such as a window of 30, 60 or 90 days).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Multiple<const STEP: i64, const MIN: i64, const MAX: i64>(pub i64);

impl<'de, const STEP: i64, const MIN: i64, const MAX: i64> Deserialize<'de> for Multiple<STEP, MIN, MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = Int::<MIN, MAX>::deserialize(d)?.0;
        if n % STEP == 0 {
            Ok(Self(n))
        } else {
            let all: Vec<String> = (MIN..=MAX).step_by(STEP as usize).map(|m| m.to_string()).collect();
            let (last, rest) = all.split_last().expect("MIN ≤ MAX");
            Err(de::Error::custom(format!("{n} is not {} or {last}", rest.join(", "))))
        }
    }
}

impl<const STEP: i64, const MIN: i64, const MAX: i64> PartialSchema for Multiple<STEP, MIN, MAX> {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .minimum(Some(MIN as f64))
            .maximum(Some(MAX as f64))
            .multiple_of(Some(STEP as f64))
            .into()
    }
}

impl<const STEP: i64, const MIN: i64, const MAX: i64> ToSchema for Multiple<STEP, MIN, MAX> {
    fn name() -> Cow<'static, str> {
        Cow::Owned(format!("Multiple_{STEP}_{MIN}_{MAX}"))
    }
}

/// An id, a version or a time in milliseconds: 1 (or 0) to 2^53 − 1, which JSON readers hold
/// exactly.
pub type Id = Int<1, MAX_INTEGER>;
/// A time in milliseconds since the epoch.
pub type Millis = Int<0, MAX_INTEGER>;

/// A latitude in degrees, −90 to 90.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Latitude(pub f64);
/// A longitude in degrees, −180 to 180.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Longitude(pub f64);

fn degrees(v: &str, limit: f64) -> Result<f64, String> {
    let v = given(v, "a number")?;
    match v.parse::<f64>() {
        Ok(x) if x.is_finite() && (-limit..=limit).contains(&x) => Ok(x),
        _ => Err(format!("{v:?} is not a number from {} to {limit}", -limit)),
    }
}

from_text!(Latitude, "a latitude", |v| degrees(v, 90.0).map(Latitude));
from_text!(Longitude, "a longitude", |v| degrees(v, 180.0).map(Longitude));

fn number_schema(limit: f64) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::Number)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Double)))
        .minimum(Some(-limit))
        .maximum(Some(limit))
        .into()
}

impl PartialSchema for Latitude {
    fn schema() -> RefOr<Schema> {
        number_schema(90.0)
    }
}
impl ToSchema for Latitude {}
impl PartialSchema for Longitude {
    fn schema() -> RefOr<Schema> {
        number_schema(180.0)
    }
}
impl ToSchema for Longitude {}

/// A calendar date, `YYYY-MM-DD` (RFC 3339's full-date: a four-digit year).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Day(pub NaiveDate);

from_text!(Day, "a date", |v| {
    let v = given(v, "a date")?;
    // The shape first: chrono alone also takes a space-padded month or day ("2020- 2-01").
    let shaped = v.len() == 10
        && v.bytes().enumerate().all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() });
    match NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        Ok(d) if shaped => Ok(Day(d)),
        _ => Err(format!("{v:?} is not a date YYYY-MM-DD")),
    }
});

impl PartialSchema for Day {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)))
            .into()
    }
}
impl ToSchema for Day {}

/// A COVID series: a geoId, WORLD, EU27 or CONTINENT:<name>.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesId(pub String);

from_text!(SeriesId, "a series", |v| {
    let v = given(v, "a series")?;
    if v.len() <= 64 && v.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '-' | ' ')) {
        Ok(SeriesId(v.to_string()))
    } else {
        Err(format!("{v:?} is not a series (a geoId such as IT, WORLD, EU27 or CONTINENT:Europe)"))
    }
});

impl PartialSchema for SeriesId {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new().schema_type(Type::String).pattern(Some("^[A-Za-z0-9:_ -]{1,64}$")).into()
    }
}
impl ToSchema for SeriesId {}

/// A price series' symbol (such as `^GDAXI`): printable ASCII without spaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Symbol(pub String);

from_text!(Symbol, "a price symbol", |v| {
    let v = given(v, "a price symbol")?;
    if v.len() <= 32 && v.chars().all(|c| c.is_ascii_graphic()) {
        Ok(Symbol(v.to_string()))
    } else {
        Err(format!("{v:?} is not a price symbol (such as ^GDAXI)"))
    }
});

impl PartialSchema for Symbol {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new().schema_type(Type::String).pattern(Some("^[!-~]{1,32}$")).into()
    }
}
impl ToSchema for Symbol {}

/// Free text (already checked by [`Params::parse`]: at most 200 characters, no control
/// characters); an empty value counts as not given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreeText(pub String);

from_text!(FreeText, "text", |v| Ok(FreeText(v.to_string())));

impl FreeText {
    /// The text, unless empty.
    pub fn given(&self) -> Option<&str> {
        Some(self.0.as_str()).filter(|t| !t.is_empty())
    }
}

impl PartialSchema for FreeText {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .max_length(Some(crate::params::MAX_VALUE_LEN))
            .pattern(Some("^[^\\u0000-\\u001f\\u007f-\\u009f]*$"))
            .into()
    }
}
impl ToSchema for FreeText {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::choices::{Bucket, Kind};

    /// A declaration as the handlers write them.
    #[derive(Debug, Deserialize, IntoParams)]
    #[into_params(parameter_in = Query)]
    struct Example {
        /// the series
        #[param(inline)]
        series: SeriesId,
        #[param(inline)]
        lag: Option<Int<-28, 28>>,
        #[param(inline)]
        from: Option<Day>,
        #[param(inline)]
        kind: Option<Kind>,
        #[param(inline)]
        bucket: Option<Bucket>,
        #[param(inline)]
        lat: Option<Latitude>,
    }

    fn refused(query: &str) -> String {
        parse::<Example>(Some(query)).unwrap_err().detail
    }

    #[test]
    fn one_declaration_parses_checks_and_documents() {
        let (e, p) =
            parse::<Example>(Some("series=CONTINENT%3AEurope&lag=-7&from=2020-03-01&kind=levels")).unwrap();
        assert_eq!(e.series.0, "CONTINENT:Europe");
        assert_eq!((e.lag, e.kind, e.bucket, e.lat), (Some(Int(-7)), Some(Kind::Levels), None, None));
        assert_eq!(e.from.map(|d| d.0), NaiveDate::from_ymd_opt(2020, 3, 1));
        assert!(p.canonical().contains("series"));

        assert!(refused("lag=1").contains("parameter series is required"));
        assert!(refused("series=IT&nope=1").contains("unknown parameter \"nope\""));
        assert!(
            refused("series=IT&lag=99").contains("parameter lag: \"99\" is not an integer from -28 to 28")
        );
        assert!(refused("series=IT&lag=").contains("parameter lag is empty"));
        assert!(refused("series=IT&from=2020-1-01").contains("YYYY-MM-DD"));
        assert!(
            refused("series=IT&bucket=year").contains("`day`, `week`"),
            "{}",
            refused("series=IT&bucket=year")
        );
        assert!(refused("series=IT&kind=").contains("parameter kind is empty"));
        assert!(refused("series=IT&lat=91").contains("from -90 to 90"));
        assert!(refused("series=C%C3%B4te").contains("is not a series"));
        // "0000- 2-29": found by the api_query fuzz target (chrono skips the space).
        for bad in ["+2020-01-01", "20200-01-01", "2020-1-01", "2021-02-29", "0000-+2-29", "0000-%202-29"] {
            assert!(refused(&format!("series=IT&from={bad}")).contains("YYYY-MM-DD"), "{bad}");
        }
        assert!(parse::<Example>(Some("series=IT&from=0001-01-01")).is_ok());
        assert!(parse::<Example>(Some("series=IT&from=9999-12-31")).is_ok());

        // The document says the same: names, required, ranges, patterns, enumerations.
        let doc = serde_json::to_value(Example::into_params(|| None)).unwrap();
        let param = |name: &str| doc.as_array().unwrap().iter().find(|p| p["name"] == name).unwrap().clone();
        assert_eq!(param("series")["required"], true);
        assert_eq!(param("series")["description"], "the series");
        assert_eq!(param("series")["schema"]["pattern"], "^[A-Za-z0-9:_ -]{1,64}$");
        assert_eq!(param("lag")["required"], false);
        assert_eq!(
            (param("lag")["schema"]["minimum"].as_f64(), param("lag")["schema"]["maximum"].as_f64()),
            (Some(-28.0), Some(28.0))
        );
        assert_eq!(param("from")["schema"]["format"], "date");
        assert_eq!(param("kind")["schema"]["enum"], serde_json::json!(["levels", "changes"]));
        assert_eq!(param("lat")["schema"]["maximum"].as_f64(), Some(90.0));
    }
}

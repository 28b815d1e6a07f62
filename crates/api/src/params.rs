//! Query strings, decoded strictly before anything else sees them: only the names an endpoint
//! declares (see [`crate::query`]); unknown, repeated, over-long or malformed parameters are a
//! 400 naming the parameter. Values are decoded strictly (invalid UTF-8 is refused, not replaced)
//! and never reach SQL except as bound values.

use std::collections::BTreeMap;

use percent_encoding::percent_decode;

use crate::error::ApiError;

/// The longest value any parameter takes, in characters.
pub const MAX_VALUE_LEN: usize = 200;

/// The largest id, version or time a parameter takes: 2^53 − 1, the largest integer that
/// JavaScript (and any JSON reader using doubles) holds exactly.
pub const MAX_INTEGER: i64 = 9_007_199_254_740_991;

/// The decoded parameters of one request.
#[derive(Debug, Default)]
pub struct Params {
    values: BTreeMap<String, String>,
}

impl Params {
    /// Decodes `query` (the raw query string), accepting only the names in `accepted`.
    pub fn parse(query: Option<&str>, accepted: &[&str]) -> Result<Self, ApiError> {
        let mut values = BTreeMap::new();
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let name = decode(name, "a parameter name")?;
            if !accepted.contains(&name.as_str()) {
                return Err(ApiError::bad_request(format!(
                    "unknown parameter {name:?}; accepted: {}",
                    if accepted.is_empty() { "none".to_string() } else { accepted.join(", ") }
                )));
            }
            let value = decode(value, &name)?;
            if value.chars().count() > MAX_VALUE_LEN || value.contains(char::is_control) {
                return Err(ApiError::bad_request(format!(
                    "parameter {name}: at most {MAX_VALUE_LEN} characters, without control characters"
                )));
            }
            if values.insert(name.clone(), value).is_some() {
                return Err(ApiError::bad_request(format!("parameter {name} is given twice")));
            }
        }
        Ok(Self { values })
    }

    /// The parameters, by name.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values.iter().map(|(name, value)| (name.as_str(), value.as_str()))
    }

    /// The parameters in a canonical form (sorted by name), for cache keys.
    pub fn canonical(&self) -> String {
        let mut out = String::new();
        for (name, value) in &self.values {
            out.push_str(&format!("{}={}\u{0}{}\u{0}", name.len(), name, value));
        }
        out
    }
}

fn decode(raw: &str, what: &str) -> Result<String, ApiError> {
    let spaced = raw.replace('+', " ");
    percent_decode(spaced.as_bytes())
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| ApiError::bad_request(format!("{what}: not valid UTF-8 after percent-decoding")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_decoded_strictly_and_checked_by_name() {
        let p = Params::parse(
            Some("series=C%C3%B4te+d%27Ivoire&lag=-7&from=2020-03-01"),
            &["series", "lag", "from"],
        )
        .unwrap();
        let pairs: Vec<_> = p.pairs().collect();
        assert_eq!(pairs, [("from", "2020-03-01"), ("lag", "-7"), ("series", "Côte d'Ivoire")]);

        let error = |q: &str| Params::parse(Some(q), &["series", "lag"]).unwrap_err().detail;
        assert!(error("nope=1").contains("unknown parameter \"nope\""));
        assert!(error("series=%FF").contains("not valid UTF-8"));
        assert!(error("series=a&series=b").contains("twice"));
        assert!(error(&format!("series={}", "x".repeat(201))).contains("at most 200"));
        assert!(Params::parse(Some(&format!("series={}", "é".repeat(200))), &["series"]).is_ok());
        assert!(error("series=%00").contains("control"));
        // An empty value is kept (the parameter's type says whether that is allowed).
        let p = Params::parse(Some("lag=&series="), &["lag", "series"]).unwrap();
        assert_eq!(p.pairs().collect::<Vec<_>>(), [("lag", ""), ("series", "")]);
    }
}

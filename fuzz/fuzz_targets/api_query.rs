//! The API's query strings: any bytes are parameters or a 400 with its reason, never a panic,
//! and what is accepted keeps the limits the OpenAPI document states. The parser is the API's
//! own `params` module (and the enumerations of `choices`), included as they are; only the
//! error type is a stand-in, because the real one brings the whole server along.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../../crates/api/src/choices.rs"]
mod choices;
#[allow(dead_code)]
#[path = "../../crates/api/src/params.rs"]
mod params;

/// Stands in for `tributary_api::ApiError`: a 400 with its reason.
mod error {
    pub struct ApiError {
        pub detail: String,
    }

    impl ApiError {
        pub fn bad_request(detail: impl Into<String>) -> Self {
            Self { detail: detail.into() }
        }
    }
}

use params::{MAX_INTEGER, MAX_VALUE_LEN, Params};

const NAMES: &[&str] = &["series", "metric", "lag", "from", "lat", "limit"];

fuzz_target!(|data: &[u8]| {
    let Ok(query) = std::str::from_utf8(data) else { return };
    let p = match Params::parse(Some(query), NAMES) {
        Ok(p) => p,
        Err(e) => {
            assert!(!e.detail.is_empty(), "a refusal says why");
            return;
        }
    };
    let _ = p.canonical();
    for name in NAMES {
        if let Some(v) = p.text(name) {
            assert!(v.chars().count() <= MAX_VALUE_LEN && !v.contains(char::is_control), "{name}={v:?}");
        }
    }
    if let Ok(Some(lag)) = p.int("lag", -28, 28, Some(0)) {
        assert!((-28..=28).contains(&lag));
    }
    if let Ok(Some(limit)) = p.int("limit", 1, MAX_INTEGER, None) {
        assert!((1..=MAX_INTEGER).contains(&limit));
    }
    if let Ok(Some(date)) = p.date("from") {
        // An accepted date is exactly what was sent, in YYYY-MM-DD.
        assert_eq!(Some(date.to_string().as_str()), p.text("from"));
    }
    if let Ok(lat) = p.number("lat", -90.0, 90.0) {
        assert!(lat.is_finite() && (-90.0..=90.0).contains(&lat));
    }
    let _ = p.choice::<choices::Metric>("metric");
    if let Ok(Some(series)) = p.non_empty("series", "a series") {
        assert!(!series.is_empty());
    }
});

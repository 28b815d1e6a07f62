//! The API's query strings: any bytes are parameters or a 400 with its reason, never a panic,
//! and what is accepted keeps the limits the OpenAPI document states. The parsers are the API's
//! own `params` and `query` modules (and the enumerations of `choices`), included as they are;
//! only the error type is a stand-in, because the real one brings the whole server along.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../../crates/api/src/choices.rs"]
mod choices;
#[allow(dead_code)]
#[path = "../../crates/api/src/params.rs"]
mod params;
#[allow(dead_code)]
#[path = "../../crates/api/src/query.rs"]
mod query;

/// Stands in for `tributary_api::ApiError`: a 400 with its reason.
mod error {
    #[derive(Debug)]
    pub struct ApiError {
        pub detail: String,
    }

    impl ApiError {
        pub fn bad_request(detail: impl Into<String>) -> Self {
            Self { detail: detail.into() }
        }
    }
}

use params::{MAX_INTEGER, MAX_VALUE_LEN};

/// Parameters of every kind the endpoints declare.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct Fuzzed {
    #[param(inline)]
    series: Option<query::SeriesId>,
    #[param(inline)]
    metric: Option<choices::Metric>,
    #[param(inline)]
    lag: Option<query::Int<-28, 28>>,
    #[param(inline)]
    window: Option<query::Multiple<30, 30, 90>>,
    #[param(inline)]
    from: Option<query::Day>,
    #[param(inline)]
    lat: Option<query::Latitude>,
    #[param(inline)]
    limit: Option<query::Id>,
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (q, p) = match query::parse::<Fuzzed>(Some(text)) {
        Ok(parsed) => parsed,
        Err(e) => {
            assert!(!e.detail.is_empty(), "a refusal says why");
            return;
        }
    };
    let _ = p.canonical();
    for (name, value) in p.pairs() {
        assert!(value.chars().count() <= MAX_VALUE_LEN && !value.contains(char::is_control), "{name}={value:?}");
    }
    let sent = |name: &str| p.pairs().find(|(n, _)| *n == name).map(|(_, v)| v.to_string());
    if let Some(lag) = q.lag {
        assert!((-28..=28).contains(&lag.0));
    }
    if let Some(window) = q.window {
        assert!([30, 60, 90].contains(&window.0));
    }
    if let Some(limit) = q.limit {
        assert!((1..=MAX_INTEGER).contains(&limit.0));
    }
    if let Some(date) = q.from {
        // An accepted date is exactly what was sent, in YYYY-MM-DD.
        assert_eq!(Some(date.0.to_string()), sent("from"));
    }
    if let Some(lat) = q.lat {
        assert!(lat.0.is_finite() && (-90.0..=90.0).contains(&lat.0));
    }
    if let Some(metric) = q.metric {
        assert!(!metric.view().is_empty());
    }
    if let Some(series) = q.series {
        assert!(!series.0.is_empty() && series.0.len() <= 64);
    }
});

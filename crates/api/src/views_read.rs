//! The batch views the API reads, and the columns it needs of each: the contract between the
//! views' SQL (`crates/batch/views/*.sql`, or a user's folder of them) and the endpoints.
//!
//! A column the endpoints filter, order or select on, or that their documentation promises in
//! the rows they return, is listed here. Whoever publishes views checks them against this list
//! before the API meets them: `tributary up` and `tributary batch` when they load the views
//! (a renamed column is an error at start, not at request time), `serve` when it starts (a
//! warning: the views were published by another process). A test serves every endpoint from
//! views that have only these columns, so the list cannot fall behind the code.
//!
//! ```
//! let missing = tributary_api::views_read::check([("reference_prices", vec!["symbol", "date"])]);
//! let message = missing.unwrap_err().to_string();
//! assert!(message.contains("reference_prices lacks close"), "{message}");
//! ```

use std::collections::BTreeMap;

use crate::choices::{self, Metric};

/// The columns of COVID statistics that the correlation endpoints document (see
/// `/api/v1/markets/correlations`).
const CORRELATION_STATISTICS: &[&str] = &[
    "measure",
    "kind",
    "n",
    "pearson",
    "pearson_p",
    "spearman",
    "spearman_p",
    "reason",
    "n_eff",
    "spearman_n_eff",
    "pearson_p_adj",
    "spearman_p_adj",
    "pearson_q",
    "spearman_q",
];

/// Each view the API reads, with the columns it needs.
pub fn views_read() -> BTreeMap<&'static str, Vec<String>> {
    let names = |columns: &[&str]| columns.iter().map(|c| c.to_string()).collect::<Vec<_>>();
    let mut views: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    for metric in Metric::ALL {
        let key = if metric == Metric::Close { "symbol" } else { "series" };
        views.entry(metric.view()).or_default().extend([key.into(), "date".into(), choices::name(&metric)]);
    }
    views.insert("series_catalogue", names(&["series", "series_name", "kind", "first_date", "last_date"]));
    views.insert("correlations", names(&[&["series", "lag"], CORRELATION_STATISTICS].concat()));
    views.insert(
        "rolling_correlations",
        names(&[&["series", "window_days", "date"], CORRELATION_STATISTICS].concat()),
    );
    views.insert(
        "aligned_daily",
        names(&[
            "series",
            "symbol",
            "date",
            "close",
            "log_return",
            "cases",
            "deaths",
            "c7",
            "d7",
            "g_cases",
            "g_deaths",
        ]),
    );
    for columns in views.values_mut() {
        columns.sort_unstable();
        columns.dedup();
    }
    views
}

/// The views that lack columns the API reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the API reads columns that the views do not have: {}; rename them back in the views' SQL or add them",
    .missing.iter().map(|(v, c)| format!("{v} lacks {}", c.join(", "))).collect::<Vec<_>>().join("; ")
)]
pub struct MissingColumns {
    /// Each view that lacks columns, with the columns, by name.
    pub missing: BTreeMap<String, Vec<String>>,
}

/// Checks views (name, columns) against [`views_read`]: views the API does not read pass, and a
/// view the API reads but that is not among them is not checked (it may not be published yet).
pub fn check<'a, C>(views: impl IntoIterator<Item = (&'a str, C)>) -> Result<(), MissingColumns>
where
    C: IntoIterator,
    C::Item: AsRef<str>,
{
    let needed = views_read();
    let mut missing = BTreeMap::new();
    for (view, columns) in views {
        let Some(needs) = needed.get(view) else { continue };
        let have: Vec<String> = columns.into_iter().map(|c| c.as_ref().to_string()).collect();
        let lacks: Vec<String> = needs.iter().filter(|c| !have.contains(c)).cloned().collect();
        if !lacks.is_empty() {
            missing.insert(view.to_string(), lacks);
        }
    }
    if missing.is_empty() { Ok(()) } else { Err(MissingColumns { missing }) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_view_is_checked_only_when_the_api_reads_it() {
        let catalogue = ["series", "series_name", "kind", "first_date", "last_date", "days"];
        assert_eq!(check([("series_catalogue", catalogue.to_vec()), ("trading_days", vec!["x"])]), Ok(()));
        let err = check([("series_catalogue", vec!["series", "name", "kind"])]).unwrap_err();
        assert_eq!(err.missing["series_catalogue"], ["first_date", "last_date", "series_name"]);
        assert!(
            err.to_string().contains("series_catalogue lacks first_date, last_date, series_name"),
            "{err}"
        );
        assert_eq!(views_read()["reference_prices"], ["close", "date", "symbol"]);
        assert!(views_read()["series_daily"].iter().any(|c| c == "c7_per_100k"));
    }
}

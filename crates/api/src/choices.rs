//! The closed sets of values that some query parameters take. Each is a serde enum, so one list
//! of names both parses the parameter ([`Params::choice`](crate::params::Params::choice)) and
//! documents it as an `enum` in the OpenAPI document (utoipa reads the same serde attributes).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The name of a value as the API spells it (its serde name).
pub fn name<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        other => unreachable!("a choice serialises to its name, not {other:?}"),
    }
}

/// A COVID measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    Cases,
    Deaths,
}

/// What a correlation pairs: levels (close with the 7-day average) or changes (log return with
/// the growth of the 7-day average).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Levels,
    Changes,
}

/// Which coefficient ranks the strongest correlations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Coefficient {
    Pearson,
    Spearman,
}

/// The kinds of COVID series in the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SeriesKind {
    Country,
    Continent,
    Eu27,
    World,
}

/// The buckets of a daily series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Bucket {
    Day,
    Week,
    Month,
}

/// How a bucket's value is made from its days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregation {
    Sum,
    Mean,
    Last,
}

/// The metrics of `/markets/series`: a column of `series_daily`, or the index close.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    Cases,
    Deaths,
    C7,
    D7,
    #[serde(rename = "cases_per_100k")]
    CasesPer100k,
    #[serde(rename = "deaths_per_100k")]
    DeathsPer100k,
    #[serde(rename = "c7_per_100k")]
    C7Per100k,
    #[serde(rename = "d7_per_100k")]
    D7Per100k,
    Close,
}

impl Metric {
    /// Every metric.
    pub const ALL: [Metric; 9] = [
        Self::Cases,
        Self::Deaths,
        Self::C7,
        Self::D7,
        Self::CasesPer100k,
        Self::DeathsPer100k,
        Self::C7Per100k,
        Self::D7Per100k,
        Self::Close,
    ];

    /// The view that has the metric as a column (of the same name).
    pub fn view(self) -> &'static str {
        match self {
            Self::Close => "reference_prices",
            _ => "series_daily",
        }
    }

    /// How a week or month of the metric is made from its days: counts add up, averages and
    /// rates of averages are averaged, a price is the bucket's last.
    pub fn aggregation(self) -> Aggregation {
        match self {
            Self::Cases | Self::Deaths | Self::CasesPer100k | Self::DeathsPer100k => Aggregation::Sum,
            Self::C7 | Self::D7 | Self::C7Per100k | Self::D7Per100k => Aggregation::Mean,
            Self::Close => Aggregation::Last,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_serde_names_both_ways() {
        for metric in [Metric::Cases, Metric::C7Per100k, Metric::Close] {
            let parsed: Metric = serde_json::from_value(serde_json::Value::String(name(&metric))).unwrap();
            assert_eq!(parsed, metric);
        }
        assert_eq!(name(&Metric::DeathsPer100k), "deaths_per_100k");
        assert_eq!(name(&SeriesKind::Eu27), "eu27");
        assert_eq!(name(&Aggregation::Mean), "mean");
    }
}

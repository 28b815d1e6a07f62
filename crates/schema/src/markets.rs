//! Rows of the Markets × COVID datasets, as the pull sources parse them from their source formats
//! and as the lake keeps them (SPEC "Data sources and formats").
//!
//! Each dataset has a natural key; importing overlapping data keeps one current row per key:
//! [`CovidDaily`] by (geoId, date), [`CovidWeekly`] by (country, indicator, week), [`PriceBar`] by
//! (symbol, date).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// The datasets, by the name they have in the lake, in `datasets` events and on the CLI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dataset {
    /// ECDC daily case distribution: new cases and deaths per country and day.
    CovidDaily,
    /// ECDC weekly national cases and deaths (long format).
    CovidWeekly,
    /// Daily prices of an index or share.
    Prices,
}

impl Dataset {
    /// Every dataset.
    pub const ALL: [Dataset; 3] = [Dataset::CovidDaily, Dataset::CovidWeekly, Dataset::Prices];

    /// The name in the lake and on the CLI.
    pub fn name(self) -> &'static str {
        match self {
            Self::CovidDaily => "covid_daily",
            Self::CovidWeekly => "covid_weekly",
            Self::Prices => "prices",
        }
    }

    /// The dataset of a name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.name() == name)
    }
}

impl std::fmt::Display for Dataset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One country and day of the ECDC daily case distribution. Cases and deaths are new ones on
/// that day, negative where ECDC corrected earlier days.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CovidDaily {
    /// `dateRep`.
    pub date: NaiveDate,
    /// `geoId`: ECDC's two-letter code (Greece is `EL`, Namibia `NA`); the key of a country.
    pub geo_id: String,
    /// `countriesAndTerritories`, e.g. `Bonaire, Saint Eustatius and Saba`.
    pub country: String,
    /// `countryterritoryCode` (ISO alpha-3); absent for a few entries such as a cruise ship.
    pub country_code: Option<String>,
    /// `continentExp`: Africa, America, Asia, Europe, Oceania or Other.
    pub continent: String,
    /// `popData2019` or `popData2018`, whichever the file has.
    pub population: Option<i64>,
    pub cases: i64,
    pub deaths: i64,
    /// ECDC's own 14-day cumulative cases per 100,000, where the file has it.
    pub rate_14d: Option<f64>,
}

/// Which count a weekly row holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Indicator {
    Cases,
    Deaths,
}

impl Indicator {
    /// The name in the data (`cases`, `deaths`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Cases => "cases",
            Self::Deaths => "deaths",
        }
    }
}

/// One country (or ECDC aggregate), indicator and ISO week of the ECDC weekly national data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CovidWeekly {
    /// `country`, e.g. `Germany` or `Europe (total)`.
    pub country: String,
    /// `country_code` (ISO alpha-3); absent for ECDC's aggregates.
    pub country_code: Option<String>,
    pub continent: String,
    pub population: Option<i64>,
    pub indicator: Indicator,
    /// ISO week-numbering year and week of `year_week` (`2020-01`).
    pub year: i32,
    pub week: u32,
    /// The Monday that starts the ISO week.
    pub week_start: NaiveDate,
    pub weekly_count: i64,
    pub rate_14_day: Option<f64>,
    pub cumulative_count: Option<i64>,
    pub source: String,
}

/// One trading day of a price series (Yahoo-style or Quandl FSE). A holiday row without prices
/// is not a bar: the parsers skip and count it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PriceBar {
    /// The series, e.g. `^GDAXI`.
    pub symbol: String,
    pub date: NaiveDate,
    pub open: Option<f64>,
    pub high: Option<f64>,
    pub low: Option<f64>,
    pub close: f64,
    /// Yahoo's close adjusted for splits and dividends.
    pub adj_close: Option<f64>,
    /// Shares (or index units) traded: Yahoo `Volume`, FSE `Traded Volume`.
    pub volume: Option<f64>,
    /// FSE `Turnover` (in the currency).
    pub turnover: Option<f64>,
}

/// The topic of [`DatasetUpdated`] events (the reference design's `spark_notification`).
pub const DATASETS_TOPIC: &str = "datasets";

/// "Dataset updated": an import changed a dataset in the lake. The batch runner recomputes the
/// views that read it. One JSON record per import, keyed by the dataset's name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetUpdated {
    pub dataset: Dataset,
    /// The lake's version of the dataset after the import.
    pub version: u64,
    /// Rows in the dataset after the import.
    pub rows: u64,
    pub inserted: u64,
    pub updated: u64,
    /// The dates of the rows the import inserted or changed.
    pub changed_from: Option<NaiveDate>,
    pub changed_to: Option<NaiveDate>,
    /// Where the data came from (URL or file).
    pub source: String,
    pub time_ms: i64,
}

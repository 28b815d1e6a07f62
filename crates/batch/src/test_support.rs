//! Rows and lakes for the crate's tests.

use chrono::NaiveDate;
use tributary_lake::Lake;
use tributary_schema::markets::{CovidDaily, PriceBar};

pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// A country's day: `cases`, deaths a tenth of them.
pub fn row(geo: &str, continent: &str, d: NaiveDate, cases: i64, population: Option<i64>) -> CovidDaily {
    CovidDaily {
        date: d,
        geo_id: geo.into(),
        country: format!("Country {geo}"),
        country_code: None,
        continent: continent.into(),
        population,
        cases,
        deaths: cases / 10,
        rate_14d: None,
    }
}

pub fn bar(d: NaiveDate, open: Option<f64>, close: f64) -> PriceBar {
    PriceBar {
        symbol: "^GDAXI".into(),
        date: d,
        open,
        high: None,
        low: None,
        close,
        adj_close: None,
        volume: None,
        turnover: None,
    }
}

/// An in-memory lake holding these rows.
pub async fn lake_with(covid: Vec<CovidDaily>, prices: Vec<PriceBar>) -> Lake {
    let lake = Lake::open("memory://").unwrap();
    if !covid.is_empty() {
        lake.upsert(covid).await.unwrap();
    }
    if !prices.is_empty() {
        lake.upsert(prices).await.unwrap();
    }
    lake
}

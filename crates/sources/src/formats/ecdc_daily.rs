//! ECDC's daily case distribution, as CSV and as JSON (`{"records": [...]}`, every value a
//! string). Every vintage of 2020 reads: `,` or `;` (see [`crate::dialect`]), the population
//! column `popData2019` or `popData2018`, the 14-day rate column optional (its long name starts
//! with `Cumulative_number_for_14_days`).
//!
//! Empty values, by field: an empty population, country code or rate keeps the row with the
//! value NULL (its per-100k values are then NULL, and an aggregate sums the populations it
//! has); `day`, `month`, `year` may be empty (`dateRep` says the date); an empty `dateRep`,
//! `cases`, `deaths`, country, `geoId` or continent makes the row unusable: a dead letter.

use std::borrow::Cow;

use chrono::{Datelike, NaiveDate};
use tributary_schema::markets::CovidDaily;

use super::Output;
use super::columns::{clip, for_each_row, int, opt_int, opt_number};

const RATE_PREFIX: &str = "Cumulative_number_for_14_days";
const POPULATION: [&str; 2] = ["popData2019", "popData2018"];

/// The text of one record's fields, whatever the encoding (`None`: absent or empty).
#[derive(Default)]
struct Fields<'a> {
    date_rep: Option<Cow<'a, str>>,
    day: Option<Cow<'a, str>>,
    month: Option<Cow<'a, str>>,
    year: Option<Cow<'a, str>>,
    cases: Option<Cow<'a, str>>,
    deaths: Option<Cow<'a, str>>,
    country: Option<Cow<'a, str>>,
    geo_id: Option<Cow<'a, str>>,
    country_code: Option<Cow<'a, str>>,
    population: Option<Cow<'a, str>>,
    continent: Option<Cow<'a, str>>,
    rate: Option<Cow<'a, str>>,
}

impl Fields<'_> {
    fn build(self) -> Result<CovidDaily, String> {
        let need =
            |v: Option<Cow<'_, str>>, name: &str| v.map(Cow::into_owned).ok_or(format!("{name} is missing"));
        let date_rep = need(self.date_rep, "dateRep")?;
        let date = NaiveDate::parse_from_str(&date_rep, "%d/%m/%Y")
            .map_err(|_| format!("dateRep '{}' is not a date (dd/mm/yyyy)", clip(&date_rep)))?;
        // Where the file also has day, month and year, they must say the same.
        if let (Some(d), Some(m), Some(y)) = (&self.day, &self.month, &self.year) {
            let parts = (int(d, "day")?, int(m, "month")?, int(y, "year")?);
            if parts != (i64::from(date.day()), i64::from(date.month()), i64::from(date.year())) {
                return Err(format!(
                    "dateRep {date_rep} disagrees with day/month/year {}/{}/{}",
                    parts.0, parts.1, parts.2
                ));
            }
        }
        Ok(CovidDaily {
            date,
            geo_id: need(self.geo_id, "geoId")?,
            country: need(self.country, "countriesAndTerritories")?,
            country_code: self.country_code.map(Cow::into_owned),
            continent: need(self.continent, "continentExp")?,
            population: opt_int(self.population.as_deref(), "population")?,
            cases: int(&need(self.cases, "cases")?, "cases")?,
            deaths: int(&need(self.deaths, "deaths")?, "deaths")?,
            rate_14d: opt_number(self.rate.as_deref(), RATE_PREFIX)?,
        })
    }
}

struct Columns {
    date_rep: usize,
    day: Option<usize>,
    month: Option<usize>,
    year: Option<usize>,
    cases: usize,
    deaths: usize,
    country: usize,
    geo_id: usize,
    country_code: Option<usize>,
    population: Option<usize>,
    continent: usize,
    rate: Option<usize>,
}

pub(super) fn parse_csv(content: &[u8], out: &mut Output<'_>) -> Result<Vec<CovidDaily>, String> {
    let mut rows = Vec::new();
    for_each_row(
        content,
        out,
        |h| {
            Ok(Columns {
                date_rep: h.require("dateRep")?,
                day: h.find("day"),
                month: h.find("month"),
                year: h.find("year"),
                cases: h.require("cases")?,
                deaths: h.require("deaths")?,
                country: h.require("countriesAndTerritories")?,
                geo_id: h.require("geoId")?,
                country_code: h.find("countryterritoryCode"),
                population: POPULATION.iter().find_map(|p| h.find(p)),
                continent: h.require("continentExp")?,
                rate: h.find_prefix(RATE_PREFIX),
            })
        },
        |c, row, _| {
            let f = |col: usize, name: &str| row.optional(Some(col), name);
            let o = |col: Option<usize>, name: &str| row.optional(col, name);
            let fields = Fields {
                date_rep: f(c.date_rep, "dateRep")?,
                day: o(c.day, "day")?,
                month: o(c.month, "month")?,
                year: o(c.year, "year")?,
                cases: f(c.cases, "cases")?,
                deaths: f(c.deaths, "deaths")?,
                country: f(c.country, "countriesAndTerritories")?,
                geo_id: f(c.geo_id, "geoId")?,
                country_code: o(c.country_code, "countryterritoryCode")?,
                population: o(c.population, "population")?,
                continent: f(c.continent, "continentExp")?,
                rate: o(c.rate, RATE_PREFIX)?,
            };
            rows.push(fields.build()?);
            Ok(())
        },
    )?;
    Ok(rows)
}

#[derive(serde::Deserialize)]
struct JsonDocument {
    records: Vec<serde_json::Value>,
}

pub(super) fn parse_json(content: &[u8], out: &mut Output<'_>) -> Result<Vec<CovidDaily>, String> {
    let doc: JsonDocument = serde_json::from_slice(content)
        .map_err(|e| format!("not an ECDC JSON document ({{\"records\": [...]}}): {e}"))?;
    let mut rows = Vec::with_capacity(doc.records.len());
    for (i, record) in doc.records.iter().enumerate() {
        match json_fields(record).and_then(Fields::build) {
            Ok(row) => rows.push(row),
            Err(reason) => {
                let raw = serde_json::to_vec(record).unwrap_or_default();
                out.dead(format!("record {}", i + 1), reason, &raw);
            }
        }
    }
    Ok(rows)
}

fn json_fields(record: &serde_json::Value) -> Result<Fields<'_>, String> {
    let obj = record.as_object().ok_or("a record is not a JSON object")?;
    let get = |name: &str| -> Result<Option<Cow<'_, str>>, String> {
        match obj.get(name) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) => {
                let s = s.trim();
                Ok((!s.is_empty()).then_some(Cow::Borrowed(s)))
            }
            Some(serde_json::Value::Number(n)) => Ok(Some(Cow::Owned(n.to_string()))),
            Some(other) => Err(format!("{name} is {other}, expected text or a number")),
        }
    };
    let rate_key = obj.keys().find(|k| k.starts_with(RATE_PREFIX));
    Ok(Fields {
        date_rep: get("dateRep")?,
        day: get("day")?,
        month: get("month")?,
        year: get("year")?,
        cases: get("cases")?,
        deaths: get("deaths")?,
        country: get("countriesAndTerritories")?,
        geo_id: get("geoId")?,
        country_code: get("countryterritoryCode")?,
        population: match POPULATION.iter().find(|p| obj.contains_key(**p)) {
            Some(p) => get(p)?,
            None => None,
        },
        continent: get("continentExp")?,
        rate: match rate_key {
            Some(k) => get(k)?,
            None => None,
        },
    })
}

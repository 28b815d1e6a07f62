//! ECDC's weekly national cases and deaths, long format: one row per country (or ECDC aggregate
//! such as `Europe (total)`), indicator (`cases` or `deaths`) and ISO week (`year_week` =
//! `2020-01`).

use chrono::{NaiveDate, Weekday};
use tributary_schema::markets::{CovidWeekly, Indicator};

use super::Output;
use super::columns::{clip, for_each_row, int, opt_int, opt_number};

struct Columns {
    country: usize,
    country_code: Option<usize>,
    continent: usize,
    population: Option<usize>,
    indicator: usize,
    weekly_count: usize,
    year_week: usize,
    rate_14_day: Option<usize>,
    cumulative_count: Option<usize>,
    source: Option<usize>,
}

pub(super) fn parse(content: &[u8], out: &mut Output<'_>) -> Result<Vec<CovidWeekly>, String> {
    let mut rows = Vec::new();
    for_each_row(
        content,
        out,
        |h| {
            Ok(Columns {
                country: h.require("country")?,
                country_code: h.find("country_code"),
                continent: h.require("continent")?,
                population: h.find("population"),
                indicator: h.require("indicator")?,
                weekly_count: h.require("weekly_count")?,
                year_week: h.require("year_week")?,
                rate_14_day: h.find("rate_14_day"),
                cumulative_count: h.find("cumulative_count"),
                source: h.find("source"),
            })
        },
        |c, row, _| {
            let indicator = match &*row.required(c.indicator, "indicator")? {
                "cases" => Indicator::Cases,
                "deaths" => Indicator::Deaths,
                other => return Err(format!("indicator '{}' is not cases or deaths", clip(other))),
            };
            let (year, week, week_start) = year_week(&row.required(c.year_week, "year_week")?)?;
            rows.push(CovidWeekly {
                country: row.required(c.country, "country")?.to_string(),
                country_code: row.optional(c.country_code, "country_code")?.map(|t| t.into_owned()),
                continent: row.required(c.continent, "continent")?.to_string(),
                population: opt_int(row.optional(c.population, "population")?.as_deref(), "population")?,
                indicator,
                year,
                week,
                week_start,
                weekly_count: int(&row.required(c.weekly_count, "weekly_count")?, "weekly_count")?,
                rate_14_day: opt_number(
                    row.optional(c.rate_14_day, "rate_14_day")?.as_deref(),
                    "rate_14_day",
                )?,
                cumulative_count: opt_int(
                    row.optional(c.cumulative_count, "cumulative_count")?.as_deref(),
                    "cumulative_count",
                )?,
                source: row.optional(c.source, "source")?.unwrap_or_default().into_owned(),
            });
            Ok(())
        },
    )?;
    Ok(rows)
}

/// `2020-01` → (2020, 1, the Monday of ISO week 1 of 2020).
fn year_week(text: &str) -> Result<(i32, u32, NaiveDate), String> {
    let bad = || format!("year_week '{}' is not an ISO week (yyyy-ww)", clip(text));
    let (y, w) = text.split_once('-').ok_or_else(bad)?;
    let (year, week) = (y.parse::<i32>().map_err(|_| bad())?, w.parse::<u32>().map_err(|_| bad())?);
    let monday = NaiveDate::from_isoywd_opt(year, week, Weekday::Mon).ok_or_else(bad)?;
    Ok((year, week, monday))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_weeks_start_on_their_monday() {
        assert_eq!(year_week("2020-01").unwrap(), (2020, 1, NaiveDate::from_ymd_opt(2019, 12, 30).unwrap()));
        assert_eq!(year_week("2020-53").unwrap().2, NaiveDate::from_ymd_opt(2020, 12, 28).unwrap());
        assert!(year_week("2021-53").is_err(), "2021 has 52 ISO weeks");
        assert!(year_week("2020-W1").is_err() && year_week("2020").is_err());
    }
}

//! The lake's tables: each dataset's rows as Arrow record batches, with the natural key that
//! keeps one current row per key and the year that partitions them.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, Date32Array, Date32Builder, Float64Array, Float64Builder, Int64Array, Int64Builder,
    RecordBatch, StringArray, StringBuilder, UInt32Array, UInt32Builder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use chrono::{Datelike, NaiveDate};
use tributary_schema::markets::{CovidDaily, CovidWeekly, Dataset, Indicator, PriceBar};

use crate::LakeError;

/// A row of a lake table.
pub trait LakeRow: Clone + PartialEq + Sized + Send + Sync + 'static {
    /// The dataset the rows belong to.
    const DATASET: Dataset;
    /// The natural key: one current row per key.
    type Key: Ord + Clone + Send;

    fn key(&self) -> Self::Key;
    /// The partition (a year) the row is stored in.
    fn year(&self) -> i32;
    /// The date the row is about (for a week: its Monday).
    fn date(&self) -> NaiveDate;
    /// The table's Arrow schema.
    fn schema() -> SchemaRef;
    /// Rows as one record batch of [`schema`](Self::schema).
    fn to_batch(rows: &[Self]) -> RecordBatch;
    /// Rows of a record batch of [`schema`](Self::schema).
    fn from_batch(batch: &RecordBatch) -> Result<Vec<Self>, LakeError>;
}

const EPOCH: NaiveDate = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");

fn days(d: NaiveDate) -> i32 {
    (d - EPOCH).num_days() as i32
}

fn date_of(days: i32) -> NaiveDate {
    EPOCH + chrono::Duration::days(i64::from(days))
}

fn field(name: &str, data_type: DataType, nullable: bool) -> Field {
    Field::new(name, data_type, nullable)
}

/// Typed access to a batch's columns by name, with errors that say which column is wrong.
struct Columns<'a> {
    batch: &'a RecordBatch,
}

impl<'a> Columns<'a> {
    fn get<T: 'static>(&self, name: &str) -> Result<&'a T, LakeError> {
        let col = self
            .batch
            .column_by_name(name)
            .ok_or_else(|| LakeError::Corrupt(format!("a lake file has no column '{name}'")))?;
        col.as_any()
            .downcast_ref::<T>()
            .ok_or_else(|| LakeError::Corrupt(format!("column '{name}' has type {}", col.data_type())))
    }

    fn strings(&self, name: &str) -> Result<&'a StringArray, LakeError> {
        self.get(name)
    }
    fn ints(&self, name: &str) -> Result<&'a Int64Array, LakeError> {
        self.get(name)
    }
    fn floats(&self, name: &str) -> Result<&'a Float64Array, LakeError> {
        self.get(name)
    }
    fn dates(&self, name: &str) -> Result<&'a Date32Array, LakeError> {
        self.get(name)
    }
}

fn opt<A: Array, T>(a: &A, i: usize, value: impl Fn(usize) -> T) -> Option<T> {
    (!a.is_null(i)).then(|| value(i))
}

impl LakeRow for CovidDaily {
    const DATASET: Dataset = Dataset::CovidDaily;
    type Key = (String, NaiveDate);

    fn key(&self) -> Self::Key {
        (self.geo_id.clone(), self.date)
    }
    fn year(&self) -> i32 {
        self.date.year()
    }
    fn date(&self) -> NaiveDate {
        self.date
    }

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            field("date", DataType::Date32, false),
            field("geo_id", DataType::Utf8, false),
            field("country", DataType::Utf8, false),
            field("country_code", DataType::Utf8, true),
            field("continent", DataType::Utf8, false),
            field("population", DataType::Int64, true),
            field("cases", DataType::Int64, false),
            field("deaths", DataType::Int64, false),
            field("rate_14d", DataType::Float64, true),
        ]))
    }

    fn to_batch(rows: &[Self]) -> RecordBatch {
        let mut date = Date32Builder::with_capacity(rows.len());
        let (mut geo, mut country, mut code, mut continent) =
            (StringBuilder::new(), StringBuilder::new(), StringBuilder::new(), StringBuilder::new());
        let (mut pop, mut cases, mut deaths) =
            (Int64Builder::new(), Int64Builder::new(), Int64Builder::new());
        let mut rate = Float64Builder::new();
        for r in rows {
            date.append_value(days(r.date));
            geo.append_value(&r.geo_id);
            country.append_value(&r.country);
            code.append_option(r.country_code.as_deref());
            continent.append_value(&r.continent);
            pop.append_option(r.population);
            cases.append_value(r.cases);
            deaths.append_value(r.deaths);
            rate.append_option(r.rate_14d);
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(date.finish()),
            Arc::new(geo.finish()),
            Arc::new(country.finish()),
            Arc::new(code.finish()),
            Arc::new(continent.finish()),
            Arc::new(pop.finish()),
            Arc::new(cases.finish()),
            Arc::new(deaths.finish()),
            Arc::new(rate.finish()),
        ];
        RecordBatch::try_new(Self::schema(), columns).expect("columns match the schema")
    }

    fn from_batch(batch: &RecordBatch) -> Result<Vec<Self>, LakeError> {
        let c = Columns { batch };
        let (date, geo, country, code, continent) = (
            c.dates("date")?,
            c.strings("geo_id")?,
            c.strings("country")?,
            c.strings("country_code")?,
            c.strings("continent")?,
        );
        let (pop, cases, deaths, rate) =
            (c.ints("population")?, c.ints("cases")?, c.ints("deaths")?, c.floats("rate_14d")?);
        Ok((0..batch.num_rows())
            .map(|i| CovidDaily {
                date: date_of(date.value(i)),
                geo_id: geo.value(i).to_string(),
                country: country.value(i).to_string(),
                country_code: opt(code, i, |i| code.value(i).to_string()),
                continent: continent.value(i).to_string(),
                population: opt(pop, i, |i| pop.value(i)),
                cases: cases.value(i),
                deaths: deaths.value(i),
                rate_14d: opt(rate, i, |i| rate.value(i)),
            })
            .collect())
    }
}

impl LakeRow for CovidWeekly {
    const DATASET: Dataset = Dataset::CovidWeekly;
    type Key = (String, &'static str, i32, u32);

    fn key(&self) -> Self::Key {
        (self.country.clone(), self.indicator.name(), self.year, self.week)
    }
    fn year(&self) -> i32 {
        self.year
    }
    fn date(&self) -> NaiveDate {
        self.week_start
    }

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            field("country", DataType::Utf8, false),
            field("country_code", DataType::Utf8, true),
            field("continent", DataType::Utf8, false),
            field("population", DataType::Int64, true),
            field("indicator", DataType::Utf8, false),
            field("year", DataType::Int64, false),
            field("week", DataType::UInt32, false),
            field("week_start", DataType::Date32, false),
            field("weekly_count", DataType::Int64, false),
            field("rate_14_day", DataType::Float64, true),
            field("cumulative_count", DataType::Int64, true),
            field("source", DataType::Utf8, false),
        ]))
    }

    fn to_batch(rows: &[Self]) -> RecordBatch {
        let (mut country, mut code, mut continent, mut indicator, mut source) = (
            StringBuilder::new(),
            StringBuilder::new(),
            StringBuilder::new(),
            StringBuilder::new(),
            StringBuilder::new(),
        );
        let (mut pop, mut year, mut count, mut cumulative) =
            (Int64Builder::new(), Int64Builder::new(), Int64Builder::new(), Int64Builder::new());
        let (mut week, mut start, mut rate) =
            (UInt32Builder::new(), Date32Builder::new(), Float64Builder::new());
        for r in rows {
            country.append_value(&r.country);
            code.append_option(r.country_code.as_deref());
            continent.append_value(&r.continent);
            pop.append_option(r.population);
            indicator.append_value(r.indicator.name());
            year.append_value(i64::from(r.year));
            week.append_value(r.week);
            start.append_value(days(r.week_start));
            count.append_value(r.weekly_count);
            rate.append_option(r.rate_14_day);
            cumulative.append_option(r.cumulative_count);
            source.append_value(&r.source);
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(country.finish()),
            Arc::new(code.finish()),
            Arc::new(continent.finish()),
            Arc::new(pop.finish()),
            Arc::new(indicator.finish()),
            Arc::new(year.finish()),
            Arc::new(week.finish()),
            Arc::new(start.finish()),
            Arc::new(count.finish()),
            Arc::new(rate.finish()),
            Arc::new(cumulative.finish()),
            Arc::new(source.finish()),
        ];
        RecordBatch::try_new(Self::schema(), columns).expect("columns match the schema")
    }

    fn from_batch(batch: &RecordBatch) -> Result<Vec<Self>, LakeError> {
        let c = Columns { batch };
        let (country, code, continent, indicator, source) = (
            c.strings("country")?,
            c.strings("country_code")?,
            c.strings("continent")?,
            c.strings("indicator")?,
            c.strings("source")?,
        );
        let (pop, year, count, cumulative) =
            (c.ints("population")?, c.ints("year")?, c.ints("weekly_count")?, c.ints("cumulative_count")?);
        let (week, start, rate) =
            (c.get::<UInt32Array>("week")?, c.dates("week_start")?, c.floats("rate_14_day")?);
        (0..batch.num_rows())
            .map(|i| {
                Ok(CovidWeekly {
                    country: country.value(i).to_string(),
                    country_code: opt(code, i, |i| code.value(i).to_string()),
                    continent: continent.value(i).to_string(),
                    population: opt(pop, i, |i| pop.value(i)),
                    indicator: match indicator.value(i) {
                        "cases" => Indicator::Cases,
                        "deaths" => Indicator::Deaths,
                        other => return Err(LakeError::Corrupt(format!("indicator '{other}' in the lake"))),
                    },
                    year: year.value(i) as i32,
                    week: week.value(i),
                    week_start: date_of(start.value(i)),
                    weekly_count: count.value(i),
                    rate_14_day: opt(rate, i, |i| rate.value(i)),
                    cumulative_count: opt(cumulative, i, |i| cumulative.value(i)),
                    source: source.value(i).to_string(),
                })
            })
            .collect()
    }
}

impl LakeRow for PriceBar {
    const DATASET: Dataset = Dataset::Prices;
    type Key = (String, NaiveDate);

    fn key(&self) -> Self::Key {
        (self.symbol.clone(), self.date)
    }
    fn year(&self) -> i32 {
        self.date.year()
    }
    fn date(&self) -> NaiveDate {
        self.date
    }

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            field("symbol", DataType::Utf8, false),
            field("date", DataType::Date32, false),
            field("open", DataType::Float64, true),
            field("high", DataType::Float64, true),
            field("low", DataType::Float64, true),
            field("close", DataType::Float64, false),
            field("adj_close", DataType::Float64, true),
            field("volume", DataType::Float64, true),
            field("turnover", DataType::Float64, true),
        ]))
    }

    fn to_batch(rows: &[Self]) -> RecordBatch {
        let (mut symbol, mut date) = (StringBuilder::new(), Date32Builder::new());
        let mut f: [Float64Builder; 7] = std::array::from_fn(|_| Float64Builder::new());
        for r in rows {
            symbol.append_value(&r.symbol);
            date.append_value(days(r.date));
            for (b, v) in
                f.iter_mut().zip([r.open, r.high, r.low, Some(r.close), r.adj_close, r.volume, r.turnover])
            {
                b.append_option(v);
            }
        }
        let mut columns: Vec<ArrayRef> = vec![Arc::new(symbol.finish()), Arc::new(date.finish())];
        columns.extend(f.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
        RecordBatch::try_new(Self::schema(), columns).expect("columns match the schema")
    }

    fn from_batch(batch: &RecordBatch) -> Result<Vec<Self>, LakeError> {
        let c = Columns { batch };
        let (symbol, date) = (c.strings("symbol")?, c.dates("date")?);
        let (open, high, low, close, adj, volume, turnover) = (
            c.floats("open")?,
            c.floats("high")?,
            c.floats("low")?,
            c.floats("close")?,
            c.floats("adj_close")?,
            c.floats("volume")?,
            c.floats("turnover")?,
        );
        let get = |a: &Float64Array, i: usize| opt(a, i, |i| a.value(i));
        Ok((0..batch.num_rows())
            .map(|i| PriceBar {
                symbol: symbol.value(i).to_string(),
                date: date_of(date.value(i)),
                open: get(open, i),
                high: get(high, i),
                low: get(low, i),
                close: close.value(i),
                adj_close: get(adj, i),
                volume: get(volume, i),
                turnover: get(turnover, i),
            })
            .collect())
    }
}

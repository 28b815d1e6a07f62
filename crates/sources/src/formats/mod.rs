//! The source formats of the Markets × COVID datasets (SPEC "Data sources and formats"), parsed
//! into the rows of [`tributary_schema::markets`].
//!
//! Files come in any dialect ([`crate::dialect`]: delimiter, encoding, decimal comma, line
//! ending), found from the content unless set. Columns are found by name, never by position. A
//! format is recognised from the content ([`Format::sniff`]) or forced. Every row that cannot be used becomes a dead letter with its
//! position and reason, and the rest of the file is still imported; a holiday row of a price
//! series (all `null`) is no error and is only counted. A file that is not of any known format,
//! or lacks a needed column, cannot be imported at all: [`parse`] says why.
//!
//! ```
//! use tributary_sources::formats::{Format, ReadOptions, Rows, parse};
//!
//! let csv = b"Date,Open,High,Low,Close,Adj Close,Volume\n2020-03-16,9000,9100,8700,8742.25,8742.25,0\n";
//! let parsed = parse(csv, "file://dax.csv", &ReadOptions::new(None, "^GDAXI"), 0).unwrap();
//! assert_eq!(parsed.format, Format::YahooPrices);
//! let Rows::Prices(bars) = &parsed.rows else { panic!() };
//! assert_eq!((bars[0].symbol.as_str(), bars[0].close), ("^GDAXI", 8742.25));
//! ```

mod columns;
mod ecdc_daily;
mod ecdc_weekly;
mod prices;

use tributary_schema::DeadLetter;

use crate::dialect::{Dialect, DialectSettings};
use tributary_schema::markets::{CovidDaily, CovidWeekly, Dataset, PriceBar};

/// A source format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// ECDC daily case distribution, CSV (`dateRep,day,month,year,cases,deaths,…`).
    EcdcDailyCsv,
    /// The same as JSON: `{"records": [{"dateRep": "…", …}]}`, every value a string.
    EcdcDailyJson,
    /// ECDC weekly national cases and deaths, long format (`indicator`, `year_week`).
    EcdcWeekly,
    /// Yahoo Finance daily history (`Date,Open,High,Low,Close,Adj Close,Volume`).
    YahooPrices,
    /// Quandl FSE (`Date,Open,High,Low,Close,Change,Traded Volume,Turnover,…`).
    FsePrices,
}

impl Format {
    /// Every format.
    pub const ALL: [Format; 5] =
        [Self::EcdcDailyCsv, Self::EcdcDailyJson, Self::EcdcWeekly, Self::YahooPrices, Self::FsePrices];

    /// The name used in configuration and on the CLI.
    pub fn name(self) -> &'static str {
        match self {
            Self::EcdcDailyCsv => "ecdc-daily-csv",
            Self::EcdcDailyJson => "ecdc-daily-json",
            Self::EcdcWeekly => "ecdc-weekly",
            Self::YahooPrices => "yahoo",
            Self::FsePrices => "fse",
        }
    }

    /// The format of a name; the error lists the accepted names.
    pub fn from_name(name: &str) -> Result<Self, UnknownFormat> {
        Self::ALL
            .into_iter()
            .find(|f| f.name() == name)
            .ok_or_else(|| UnknownFormat { name: name.to_string() })
    }

    /// The dataset this format's rows belong to.
    pub fn dataset(self) -> Dataset {
        match self {
            Self::EcdcDailyCsv | Self::EcdcDailyJson => Dataset::CovidDaily,
            Self::EcdcWeekly => Dataset::CovidWeekly,
            Self::YahooPrices | Self::FsePrices => Dataset::Prices,
        }
    }

    /// Recognises the format from the content, in any dialect (see [`crate::dialect`]): JSON
    /// for ECDC's daily records, otherwise the columns of the header.
    pub fn sniff(content: &[u8]) -> Option<Self> {
        let decoded =
            DialectSettings::default().decode(&content[..content.len().min(crate::dialect::SAMPLE_BYTES)]);
        Self::recognise(&decoded.text, &decoded.dialect)
    }

    /// [`sniff`](Self::sniff) on decoded content of a known dialect.
    fn recognise(text: &[u8], dialect: &Dialect) -> Option<Self> {
        let start = text.trim_ascii_start();
        if start.starts_with(b"{") || start.starts_with(b"[") {
            return Some(Self::EcdcDailyJson);
        }
        let header = columns::Header::parse(crate::dialect::first_line(start), dialect).ok()?;
        if header.has("dateRep") {
            Some(Self::EcdcDailyCsv)
        } else if header.has("year_week") && header.has("indicator") {
            Some(Self::EcdcWeekly)
        } else if header.has("Date") && header.has("Adj Close") {
            Some(Self::YahooPrices)
        } else if header.has("Date") && (header.has("Traded Volume") || header.has("Turnover")) {
            Some(Self::FsePrices)
        } else if header.has("Date") && header.has("Close") {
            // Plain daily OHLC CSV (Stooq, and Yahoo without its adjusted close): Yahoo's layout.
            Some(Self::YahooPrices)
        } else {
            None
        }
    }
}

impl<'de> serde::Deserialize<'de> for Format {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = <String as serde::Deserialize>::deserialize(d)?;
        Self::from_name(&name).map_err(serde::de::Error::custom)
    }
}

/// A format name that is not one of [`Format::ALL`]'s.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{name}' is not a format; accepted: {}", Format::ALL.iter().map(|f| format!("\"{}\"", f.name())).collect::<Vec<_>>().join(", "))]
pub struct UnknownFormat {
    pub name: String,
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The rows of one file, of the file's dataset.
#[derive(Debug, Clone, PartialEq)]
pub enum Rows {
    CovidDaily(Vec<CovidDaily>),
    CovidWeekly(Vec<CovidWeekly>),
    Prices(Vec<PriceBar>),
}

impl Rows {
    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            Self::CovidDaily(r) => r.len(),
            Self::CovidWeekly(r) => r.len(),
            Self::Prices(r) => r.len(),
        }
    }

    /// True without rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What a file held.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    pub format: Format,
    /// How the file is written.
    pub dialect: Dialect,
    pub rows: Rows,
    /// Rows that could not be used, each with its reason.
    pub dead_letters: Vec<DeadLetter>,
    /// Rows skipped on purpose: a price series' holiday rows without a close.
    pub skipped: u64,
}

/// How to read a file: what the user fixed; everything else is found from the content.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReadOptions {
    /// The format, instead of recognising it.
    pub format: Option<Format>,
    /// The dialect, where it is not to be sniffed.
    pub dialect: DialectSettings,
    /// A price file's series: for a single series, its name; for a multi-share file (a `Share`
    /// column), the share to keep, written `SHARE` or `SHARE=NAME` to rename it. Every share,
    /// each under its own name, if not given.
    pub symbol: Option<String>,
    /// The name of a single series when no symbol is given (e.g. the URL's file name).
    pub default_symbol: String,
}

impl ReadOptions {
    /// Options with a format (or `None` to recognise it) and a symbol (or `""` for none).
    pub fn new(format: Option<Format>, symbol: &str) -> Self {
        Self { format, symbol: (!symbol.is_empty()).then(|| symbol.to_string()), ..Default::default() }
    }
}

/// Parses a whole file. `source` names it in dead letters (e.g. its URL); `now_ms` stamps dead
/// letters. Errors say why the file as a whole cannot be imported.
pub fn parse(
    content: &[u8],
    source: &str,
    opts: &ReadOptions,
    now_ms: i64,
) -> Result<Parsed, tributary_schema::Invalid> {
    let decoded = opts.dialect.decode(content);
    let (text, dialect) = (&decoded.text[..], decoded.dialect);
    let format = match opts.format {
        Some(f) => f,
        None => Format::recognise(text, &dialect).ok_or_else(|| {
            let line = String::from_utf8_lossy(crate::dialect::first_line(text.trim_ascii_start()));
            format!(
                "not a known format (ECDC daily CSV or JSON, ECDC weekly, Yahoo or FSE prices): read as {}, its first line is \"{}\"; force one with --format",
                dialect.describe(),
                columns::clip(&line)
            )
        })?,
    };
    let mut out = Output { source, now_ms, dialect, dead_letters: Vec::new(), skipped: 0 };
    let rows = match format {
        Format::EcdcDailyCsv => Rows::CovidDaily(ecdc_daily::parse_csv(text, &mut out)?),
        Format::EcdcDailyJson => Rows::CovidDaily(ecdc_daily::parse_json(text, &mut out)?),
        Format::EcdcWeekly => Rows::CovidWeekly(ecdc_weekly::parse(text, &mut out)?),
        Format::YahooPrices | Format::FsePrices => Rows::Prices(prices::parse(text, format, opts, &mut out)?),
    };
    Ok(Parsed { format, dialect, rows, dead_letters: out.dead_letters, skipped: out.skipped })
}

/// Where parsers put what is not a row.
struct Output<'a> {
    source: &'a str,
    now_ms: i64,
    dialect: Dialect,
    dead_letters: Vec<DeadLetter>,
    skipped: u64,
}

impl Output<'_> {
    fn dead(&mut self, position: String, reason: String, raw: &[u8]) {
        self.dead_letters.push(DeadLetter::new(self.source, position, reason, raw, self.now_ms));
    }
}

#[cfg(test)]
mod tests;

//! Daily price series: Yahoo Finance's history CSV and Quandl's FSE CSV.
//!
//! Yahoo writes `null` in every field on holidays; such a row (no close) is not a trading day:
//! it is skipped and counted, not a dead letter. FSE leaves fields empty instead, often Open and
//! Change; only the date and the close are required.
//!
//! A file with a `Share` (or `Symbol`, `Ticker`) column holds one series per share, each named
//! by that column, as Quandl's multi-share FSE exports do. [`ReadOptions::symbol`] picks one
//! (`SHARE`) or picks and renames it (`SHARE=NAME`); without it every share is imported. A file
//! without such a column is one series, named by the symbol given or the default one.

use std::collections::BTreeSet;

use tributary_schema::markets::PriceBar;

use super::columns::{clip, for_each_row, iso_date, number, opt_number};
use super::{Format, Output, ReadOptions};

/// Column names that say which share a row belongs to.
const SHARE_COLUMNS: [&str; 3] = ["Share", "Symbol", "Ticker"];

struct Columns {
    series: Series,
    date: usize,
    share: Option<usize>,
    open: Option<usize>,
    high: Option<usize>,
    low: Option<usize>,
    close: usize,
    adj_close: Option<usize>,
    volume: Option<usize>,
    turnover: Option<usize>,
}

/// Which series of a file are kept, and under which names.
enum Series {
    /// One series in the file, named so.
    Single(String),
    /// A multi-share file, every share under its own name.
    Every,
    /// A multi-share file: only `share`, named `name`.
    Pick { share: String, name: String },
}

pub(super) fn parse(
    content: &[u8],
    format: Format,
    opts: &ReadOptions,
    out: &mut Output<'_>,
) -> Result<Vec<PriceBar>, String> {
    let mut rows = Vec::new();
    let mut shares_seen = BTreeSet::new();
    // The share asked for, once a row has been compared with it.
    let mut asked: Option<String> = None;
    let volume_name = if format == Format::FsePrices { "Traded Volume" } else { "Volume" };
    for_each_row(
        content,
        out,
        |h| {
            let share = SHARE_COLUMNS.iter().find_map(|n| h.find(n));
            Ok(Columns {
                series: series_of(share.is_some(), opts)?,
                date: h.require("Date")?,
                share,
                open: h.find("Open"),
                high: h.find("High"),
                low: h.find("Low"),
                close: h.require("Close")?,
                adj_close: h.find("Adj Close"),
                volume: h.find(volume_name),
                turnover: h.find("Turnover"),
            })
        },
        |c, row, out| {
            let symbol = match (&c.series, c.share) {
                (Series::Single(name), _) => name.clone(),
                (_, None) => unreachable!("a multi-share series has a share column"),
                (Series::Every, Some(col)) => row.required(col, "Share")?.into_owned(),
                (Series::Pick { share, name }, Some(col)) => {
                    let this = row.required(col, "Share")?;
                    if asked.is_none() {
                        asked = Some(share.clone());
                    }
                    if shares_seen.len() < 1000 {
                        shares_seen.insert(this.to_string());
                    }
                    if this != share.as_str() {
                        out.skipped += 1;
                        return Ok(());
                    }
                    name.clone()
                }
            };
            let date = iso_date(&row.required(c.date, "Date")?, "Date")?;
            // A holiday row: `null` (Yahoo) or empty (FSE) where the close should be.
            let close = row.optional(Some(c.close), "Close")?;
            let Some(close) = close.filter(|t| !t.eq_ignore_ascii_case("null")) else {
                out.skipped += 1;
                return Ok(());
            };
            let field = |col: Option<usize>, name: &str| -> Result<Option<f64>, String> {
                let text = row.optional(col, name)?.filter(|t| !t.eq_ignore_ascii_case("null"));
                opt_number(text.as_deref(), name)
            };
            rows.push(PriceBar {
                symbol,
                date,
                open: field(c.open, "Open")?,
                high: field(c.high, "High")?,
                low: field(c.low, "Low")?,
                close: number(&close, "Close")?,
                adj_close: field(c.adj_close, "Adj Close")?,
                volume: field(c.volume, volume_name)?,
                turnover: field(c.turnover, "Turnover")?,
            });
            Ok(())
        },
    )?;
    if let Some(share) = &asked
        && rows.is_empty()
        && !shares_seen.contains(share)
    {
        let listed: Vec<&str> = shares_seen.iter().take(20).map(String::as_str).collect();
        return Err(format!("no share '{}' in the file (shares: {})", clip(share), listed.join(", ")));
    }
    Ok(rows)
}

/// The series to read, from whether the file has a share column and the symbol asked for.
fn series_of(multi_share: bool, opts: &ReadOptions) -> Result<Series, String> {
    let symbol = opts.symbol.as_deref().map(str::trim).filter(|s| !s.is_empty());
    match (multi_share, symbol) {
        (true, None) => Ok(Series::Every),
        (true, Some(spec)) => {
            let (share, name) = spec.split_once('=').unwrap_or((spec, spec));
            let (share, name) = (share.trim(), name.trim());
            if share.is_empty() || name.is_empty() {
                return Err(format!("symbol '{}': write SHARE or SHARE=NAME", clip(spec)));
            }
            Ok(Series::Pick { share: share.to_string(), name: name.to_string() })
        }
        (false, Some(spec)) if spec.contains('=') => Err(format!(
            "symbol '{}' picks a share of a multi-share file, but this file has no Share column: give the series' name only",
            clip(spec)
        )),
        (false, Some(name)) => Ok(Series::Single(name.to_string())),
        (false, None) => match opts.default_symbol.trim() {
            "" => Err("a price series needs a symbol (e.g. ^GDAXI)".into()),
            name => Ok(Series::Single(name.to_string())),
        },
    }
}

//! Daily price series: Yahoo Finance's history CSV and Quandl's FSE CSV.
//!
//! Yahoo writes `null` in every field on holidays; such a row (no close) is not a trading day:
//! it is skipped and counted, not a dead letter. FSE leaves fields empty instead, often Open and
//! Change; only the date and the close are required.

use tributary_schema::markets::PriceBar;

use super::columns::{for_each_row, iso_date, number, opt_number};
use super::{Format, Output};

struct Columns {
    date: usize,
    open: Option<usize>,
    high: Option<usize>,
    low: Option<usize>,
    close: usize,
    adj_close: Option<usize>,
    volume: Option<usize>,
    turnover: Option<usize>,
}

pub(super) fn parse(
    content: &[u8],
    format: Format,
    symbol: &str,
    out: &mut Output<'_>,
) -> Result<Vec<PriceBar>, String> {
    if symbol.trim().is_empty() {
        return Err("a price series needs a symbol (e.g. ^GDAXI)".into());
    }
    let mut rows = Vec::new();
    let volume_name = if format == Format::FsePrices { "Traded Volume" } else { "Volume" };
    for_each_row(
        content,
        out,
        |h| {
            Ok(Columns {
                date: h.require("Date")?,
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
            let date = iso_date(row.required(c.date, "Date")?, "Date")?;
            // A holiday row: `null` (Yahoo) or empty (FSE) where the close should be.
            let close = row.optional(Some(c.close), "Close")?;
            let Some(close) = close.filter(|t| !t.eq_ignore_ascii_case("null")) else {
                out.skipped += 1;
                return Ok(());
            };
            let field = |col: Option<usize>, name: &str| -> Result<Option<f64>, String> {
                let text = row.optional(col, name)?.filter(|t| !t.eq_ignore_ascii_case("null"));
                opt_number(text, name)
            };
            rows.push(PriceBar {
                symbol: symbol.trim().to_string(),
                date,
                open: field(c.open, "Open")?,
                high: field(c.high, "High")?,
                low: field(c.low, "Low")?,
                close: number(close, "Close")?,
                adj_close: field(c.adj_close, "Adj Close")?,
                volume: field(c.volume, volume_name)?,
                turnover: field(c.turnover, "Turnover")?,
            });
            Ok(())
        },
    )?;
    Ok(rows)
}

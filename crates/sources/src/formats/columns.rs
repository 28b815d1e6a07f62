//! CSV tables read by column name, and the field parsers every format shares.

use std::borrow::Cow;

use chrono::NaiveDate;

use super::Output;
use crate::dialect::Dialect;
pub(super) use tributary_schema::clip;

/// A CSV header: column names, trimmed, without a byte-order mark.
pub(super) struct Header {
    names: Vec<String>,
}

impl Header {
    /// Reads one header line (decoded) of a file of this dialect.
    pub fn parse(line: &[u8], dialect: &Dialect) -> Result<Self, String> {
        let mut reader =
            csv::ReaderBuilder::new().delimiter(dialect.delimiter).has_headers(false).from_reader(line);
        let mut record = csv::ByteRecord::new();
        match reader.read_byte_record(&mut record) {
            Ok(true) => Ok(Self::from_record(&record)),
            Ok(false) => Err("the file is empty".into()),
            Err(e) => Err(format!("header: {e}")),
        }
    }

    fn from_record(record: &csv::ByteRecord) -> Self {
        Self { names: record.iter().map(|n| String::from_utf8_lossy(n).trim().to_string()).collect() }
    }

    /// Whether a column of this name exists.
    pub fn has(&self, name: &str) -> bool {
        self.find(name).is_some()
    }

    /// The index of the column of this name.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// The index of the first column whose name starts with `prefix`.
    pub fn find_prefix(&self, prefix: &str) -> Option<usize> {
        self.names.iter().position(|n| n.starts_with(prefix))
    }

    /// The index of a needed column; the error lists the columns there are.
    pub fn require(&self, name: &str) -> Result<usize, String> {
        self.find(name).ok_or_else(|| format!("no column '{name}' (columns: {})", self.names.join(", ")))
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }
}

/// One data row: its fields, by index.
pub(super) struct Row<'r> {
    record: &'r csv::ByteRecord,
    decimal_comma: bool,
}

impl<'r> Row<'r> {
    /// The field's text, trimmed; empty if the row is shorter. With a decimal comma, a number
    /// written `52,52` reads `52.52`.
    pub fn text(&self, col: usize, name: &str) -> Result<Cow<'r, str>, String> {
        let raw = self.record.get(col).unwrap_or_default();
        let text = std::str::from_utf8(raw).map(str::trim).map_err(|_| format!("{name} is not UTF-8"))?;
        if self.decimal_comma && is_decimal_comma_number(text) {
            return Ok(Cow::Owned(text.replacen(',', ".", 1)));
        }
        Ok(Cow::Borrowed(text))
    }

    /// The field's text, `None` if empty.
    pub fn optional(&self, col: Option<usize>, name: &str) -> Result<Option<Cow<'r, str>>, String> {
        match col {
            Some(c) => self.text(c, name).map(|t| (!t.is_empty()).then_some(t)),
            None => Ok(None),
        }
    }

    /// The field's text, which must not be empty.
    pub fn required(&self, col: usize, name: &str) -> Result<Cow<'r, str>, String> {
        let t = self.text(col, name)?;
        if t.is_empty() { Err(format!("{name} is empty")) } else { Ok(t) }
    }
}

/// `[-+]digits,digits`: a number with a decimal comma (and no other text).
fn is_decimal_comma_number(text: &str) -> bool {
    let t = text.strip_prefix(['-', '+']).unwrap_or(text);
    t.split_once(',').is_some_and(|(a, b)| {
        !a.is_empty()
            && !b.is_empty()
            && a.bytes().all(|c| c.is_ascii_digit())
            && b.bytes().all(|c| c.is_ascii_digit())
    })
}

/// Reads `content` (decoded, of the dialect `out` holds) as a table with a header and calls `row` for each data row; a row whose
/// width differs from the header's, that the CSV reader rejects, or for which `row` returns an
/// error becomes a dead letter with its line number and the line's bytes. `header` is called
/// first and may refuse the whole file.
pub(super) fn for_each_row<C>(
    content: &[u8],
    out: &mut Output<'_>,
    header: impl FnOnce(&Header) -> Result<C, String>,
    mut row: impl FnMut(&C, &Row<'_>, &mut Output<'_>) -> Result<(), String>,
) -> Result<(), String> {
    let dialect = Dialect { header: true, ..out.dialect };
    let mut reader = dialect.csv_reader(content);
    let head = Header::from_record(reader.byte_headers().map_err(|e| format!("header: {e}"))?);
    let columns = header(&head)?;
    let mut record = csv::ByteRecord::new();
    // Line numbers counted here: csv's own lag a line behind after a CRLF.
    let (mut line, mut counted_to) = (1u64, 0usize);
    loop {
        let mut start = reader.position().byte() as usize;
        // After a CR, csv's position is at the LF that completes the CRLF.
        if content.get(start) == Some(&b'\n') {
            start += 1;
        }
        let result = reader.read_byte_record(&mut record);
        let end = reader.position().byte() as usize;
        line += line_breaks(content.get(counted_to..start).unwrap_or_default());
        counted_to = start;
        let raw = content.get(start..end).unwrap_or_default();
        let raw = raw.strip_suffix(b"\n").unwrap_or(raw);
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        match result {
            Ok(false) => return Ok(()),
            Ok(true) if record.len() == 1 && record.get(0).is_some_and(|f| f.trim_ascii().is_empty()) => {} // an empty line
            Ok(true) if record.len() != head.len() => {
                out.dead(
                    format!("line {line}"),
                    format!("{} fields, the header has {}", record.len(), head.len()),
                    raw,
                );
            }
            Ok(true) => {
                let fields = Row { record: &record, decimal_comma: dialect.decimal_comma };
                if let Err(reason) = row(&columns, &fields, out) {
                    out.dead(format!("line {line}"), reason, raw);
                }
            }
            Err(e) => {
                let fatal = matches!(e.kind(), csv::ErrorKind::Io(_));
                out.dead(format!("line {line}"), format!("unreadable CSV: {e}"), raw);
                if fatal {
                    return Err(format!("reading: {e}"));
                }
            }
        }
    }
}

/// Line breaks in `bytes`: LF, CRLF, or CR alone.
fn line_breaks(bytes: &[u8]) -> u64 {
    let lf = memchr::memchr_iter(b'\n', bytes).count();
    let lone_cr = memchr::memchr_iter(b'\r', bytes).filter(|&i| bytes.get(i + 1) != Some(&b'\n')).count();
    (lf + lone_cr) as u64
}

/// An integer, e.g. `-12` (a JSON-style `12.0` is accepted when whole).
pub(super) fn int(text: &str, name: &str) -> Result<i64, String> {
    if let Ok(v) = text.parse::<i64>() {
        return Ok(v);
    }
    match text.parse::<f64>() {
        Ok(v) if v.fract() == 0.0 && v.abs() < 9.0e15 => Ok(v as i64),
        _ => Err(format!("{name} '{}' is not an integer", clip(text))),
    }
}

/// A finite number.
pub(super) fn number(text: &str, name: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(format!("{name} '{}' is not a number", clip(text))),
    }
}

/// An optional integer (empty is `None`).
pub(super) fn opt_int(text: Option<&str>, name: &str) -> Result<Option<i64>, String> {
    text.map(|t| int(t, name)).transpose()
}

/// An optional number (empty is `None`).
pub(super) fn opt_number(text: Option<&str>, name: &str) -> Result<Option<f64>, String> {
    text.map(|t| number(t, name)).transpose()
}

/// A date written `yyyy-mm-dd`.
pub(super) fn iso_date(text: &str, name: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| format!("{name} '{}' is not a date (yyyy-mm-dd)", clip(text)))
}

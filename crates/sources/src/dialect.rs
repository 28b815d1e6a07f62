//! How a delimited text file is written: its encoding, delimiter, quoting, header, decimal mark
//! and line ending — found from the file ([`DialectSettings::resolve`]) unless the user says.
//!
//! Every reader of delimited files (the Markets × COVID formats, mobile events) goes through
//! here, so that the files people actually have read the same way everywhere:
//!
//! * **Encoding** ([`Encoding`]): UTF-8, with or without a byte-order mark, or Windows-1252
//!   (which Latin-1 files are read as: it is Latin-1 with printable characters where Latin-1 has
//!   control codes). Detected: a file that is valid UTF-8 is UTF-8, any other is Windows-1252.
//!   A UTF-16 file with a byte-order mark is read too.
//! * **Delimiter**: `,` `;` tab or `|`, the one that splits the first lines into the same number
//!   of fields (more than one) most consistently; ties go to more fields, then to that order.
//!   Fields may be quoted with `"` (RFC 4180).
//! * **Header**: present if some column's first value is not a number while most of the values
//!   below it are, or if no column holds numbers at all; a file of only numbers and times has no
//!   header.
//! * **Decimal comma**: with a delimiter other than `,`, numbers written `52,52` (and none
//!   written `52.52`) in the first lines.
//! * **Line endings**: LF, CRLF or CR alone.
//!
//! ```
//! use tributary_sources::dialect::{DialectSettings, Encoding};
//!
//! let file = "Datum;Kurs\r\n2020-03-16;8742,25\r\n2020-03-17;8939,1\r\n".as_bytes();
//! let dialect = DialectSettings::default().resolve(file);
//! assert_eq!((dialect.delimiter, dialect.header, dialect.decimal_comma), (b';', true, true));
//! assert_eq!(dialect.encoding, Encoding::Utf8);
//! ```

mod encoding;
mod sniff;

use std::borrow::Cow;

use serde::Deserialize;
use tributary_settings::Auto;

pub use encoding::{Encoding, decode, decode_line};

/// The delimiters recognised.
pub const DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];

/// How many bytes of a file the dialect is found from.
pub const SAMPLE_BYTES: usize = 64 << 10;

/// How one file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dialect {
    pub encoding: Encoding,
    pub delimiter: u8,
    /// The first line names the columns.
    pub header: bool,
    /// Numbers are written with a decimal comma (`52,52`).
    pub decimal_comma: bool,
}

impl Default for Dialect {
    fn default() -> Self {
        Self { encoding: Encoding::Utf8, delimiter: b',', header: true, decimal_comma: false }
    }
}

impl Dialect {
    /// A description for messages and `tributary inspect`: `UTF-8, ';'-separated, header, decimal comma`.
    pub fn describe(&self) -> String {
        let delimiter = match self.delimiter {
            b'\t' => "tab".to_string(),
            d => format!("'{}'", d as char),
        };
        let mut s = format!("{}, {delimiter}-separated, ", self.encoding);
        s.push_str(if self.header { "header" } else { "no header" });
        if self.decimal_comma {
            s.push_str(", decimal comma");
        }
        s
    }

    /// A csv reader of this dialect over decoded (UTF-8) content.
    pub fn csv_reader<R: std::io::Read>(&self, content: R) -> csv::Reader<R> {
        csv::ReaderBuilder::new()
            .delimiter(self.delimiter)
            .has_headers(self.header)
            .flexible(true)
            .from_reader(content)
    }

    /// A number as written in this dialect (`52,52` with a decimal comma), trimmed. `None` if
    /// it is not a number.
    pub fn number(&self, text: &str) -> Option<f64> {
        let text = text.trim();
        let parsed = if self.decimal_comma && text.contains(',') {
            text.replacen(',', ".", 1).parse::<f64>()
        } else {
            text.parse::<f64>()
        };
        parsed.ok()
    }
}

/// A delimiter as configured: `","`, `";"`, `"|"`, or `"\t"` / `"tab"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delimiter(pub u8);

impl std::str::FromStr for Delimiter {
    type Err = tributary_settings::InvalidValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "tab" | "\t" | "\\t" => Ok(Self(b'\t')),
            "," | ";" | "|" => Ok(Self(s.as_bytes()[0])),
            _ => Err(tributary_settings::InvalidValue(format!(
                "'{s}' is not a delimiter: accepted \",\", \";\", \"|\", \"tab\""
            ))),
        }
    }
}

impl<'de> Deserialize<'de> for Delimiter {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// What the user fixed of a file's dialect; the rest is found from the file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DialectSettings {
    pub encoding: Auto<Encoding>,
    pub delimiter: Auto<Delimiter>,
    pub header: Auto<bool>,
    pub decimal_comma: Auto<bool>,
}

impl DialectSettings {
    /// The dialect of a file that starts with `sample` (raw bytes, before decoding; a few
    /// lines are enough, [`SAMPLE_BYTES`] are used).
    pub fn resolve(&self, sample: &[u8]) -> Dialect {
        let sample = &sample[..sample.len().min(SAMPLE_BYTES)];
        // A sample as long as the limit was probably cut from a longer file.
        let encoding = self.encoding.or_detect(|| Encoding::detect(sample, sample.len() == SAMPLE_BYTES));
        let text = decode(sample, encoding);
        self.resolve_decoded(&text, encoding)
    }

    /// [`resolve`](Self::resolve) on a sample already decoded with `encoding`.
    pub fn resolve_decoded(&self, text: &[u8], encoding: Encoding) -> Dialect {
        let records = |delimiter: u8| sniff::records(text, delimiter);
        let delimiter = self.delimiter.given().map_or_else(|| sniff::delimiter(text), |d| d.0);
        let rows = records(delimiter);
        let decimal_comma = self.decimal_comma.or_detect(|| sniff::decimal_comma(&rows, delimiter));
        let header = self.header.or_detect(|| sniff::header(&rows, decimal_comma));
        Dialect { encoding, delimiter, header, decimal_comma }
    }
}

/// The first line of decoded content (without its line ending), for headers and messages.
pub fn first_line(text: &[u8]) -> &[u8] {
    let end = memchr::memchr2(b'\n', b'\r', text).unwrap_or(text.len());
    &text[..end]
}

/// Content decoded to UTF-8 with its dialect: what readers of whole files start from.
pub struct Decoded<'a> {
    pub text: Cow<'a, [u8]>,
    pub dialect: Dialect,
}

impl DialectSettings {
    /// Decodes a whole file and finds its dialect.
    pub fn decode<'a>(&self, content: &'a [u8]) -> Decoded<'a> {
        let sample = &content[..content.len().min(SAMPLE_BYTES)];
        let encoding = self.encoding.or_detect(|| Encoding::detect(content, false));
        let text = decode(content, encoding);
        let head = &text[..text.len().min(SAMPLE_BYTES.max(sample.len()))];
        let dialect = self.resolve_decoded(head, encoding);
        Decoded { text, dialect }
    }
}

#[cfg(test)]
mod tests;

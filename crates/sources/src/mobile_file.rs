//! Parsing a file of mobile events (CSV in any dialect and layout, or NDJSON) into events and
//! dead letters.
//!
//! Every line is accounted for: it becomes an event, a dead letter (with its line number, the
//! reason and its first bytes), or is an empty line (skipped and counted); a header line and
//! GeoLife's preamble are neither. A file that cannot be read as events at all (a header
//! without a latitude column, say) is refused whole: [`parse_mobile_file`] says why, and the
//! caller dead-letters the file.
//!
//! How a CSV file is read is decided from its first bytes and [`InputSettings`] (see
//! [`crate::mobile_input`] and [`crate::dialect`]): Tributary's own layout (its eight columns by
//! name, comma-separated, nothing else set) takes the fast path that copies each value's text;
//! any other layout goes through a [`Mapping`].

use std::borrow::Cow;
use std::io::BufRead;
use std::path::Path;

use tributary_schema::mobile::time::TimeReader;
use tributary_schema::mobile::{CsvFields, CsvLayout, EncodedEvent, Encoding as LogEncoding, MobileEvent};
use tributary_schema::{DeadLetter, clip};

use crate::dialect::{Dialect, DialectSettings, Encoding, SAMPLE_BYTES, decode_line};
use crate::lines::{BoundedLines, LineRef};
use crate::mobile_input::{
    FieldName, GEOLIFE_PREAMBLE_LINES, InputSettings, Mapping, Profile, Reader, encode_mapped_json,
    file_device, geolife_device, is_geolife,
};

/// The two file formats of mobile events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    Csv,
    Ndjson,
}

impl FileFormat {
    /// The format a file name says: `.csv`, `.txt`, `.tsv`, `.plt`, or `.ndjson` / `.jsonl` /
    /// `.json`.
    pub fn from_path(path: &Path) -> Option<Self> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "csv" | "tsv" | "txt" | "plt" => Some(Self::Csv),
            "ndjson" | "jsonl" | "json" => Some(Self::Ndjson),
            _ => None,
        }
    }

    /// The format the first non-empty line suggests: NDJSON if it starts with `{`.
    pub fn sniff(first_line: &[u8]) -> Self {
        if first_line.trim_ascii_start().starts_with(b"{") { Self::Ndjson } else { Self::Csv }
    }
}

/// How to read mobile files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseOptions {
    /// Layout, dialect, column mapping and times (`[mobile.input]`).
    pub input: InputSettings,
    /// Lines longer than this are dead letters (memory stays bounded).
    pub max_line_bytes: usize,
    /// How events are encoded for the log (the topic's `topic_encoding`).
    pub log_encoding: LogEncoding,
}

impl Default for ParseOptions {
    fn default() -> Self {
        Self {
            input: InputSettings::default(),
            max_line_bytes: 64 << 10,
            log_encoding: LogEncoding::default(),
        }
    }
}

/// One parsed line: a validated event, encoded for the log, or a dead letter.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    Event { line: u64, event: EncodedEvent },
    Dead(DeadLetter),
}

/// What a file held, and how it was read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileSummary {
    pub lines: u64,
    pub events: u64,
    pub dead_letters: u64,
    pub empty_lines: u64,
    /// How the file was read: format, dialect and which column became which (for `inspect`
    /// and logs), e.g. `CSV (UTF-8, ';'-separated, header); lat → latitude, …`.
    pub read_as: String,
}

/// Why a whole file could not be read.
#[derive(Debug)]
pub enum FileError {
    /// The content is unusable as a whole (e.g. a CSV header without the needed columns).
    Unreadable(String),
    Io(std::io::Error),
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unreadable(why) => f.write_str(why),
            Self::Io(e) => write!(f, "read error: {e}"),
        }
    }
}

/// Parses `input`, calling `sink` for each event and dead letter in file order. `source` names
/// the file in dead letters; `path` (if it is a file) gives GeoLife's and header-less files'
/// device and the extension; `format` overrides detection; `now_ms` stamps dead letters.
pub fn parse_mobile_file<R: BufRead>(
    mut input: R,
    source: &str,
    path: Option<&Path>,
    format: Option<FileFormat>,
    opts: &ParseOptions,
    now_ms: i64,
    mut sink: impl FnMut(Parsed),
) -> Result<FileSummary, FileError> {
    let settings = &opts.input;
    let sample = input.fill_buf().map_err(FileError::Io)?;
    let plan = Plan::new(&sample[..sample.len().min(SAMPLE_BYTES)], path, source, format, settings)?;
    let mut summary = FileSummary::default();
    let mut format = format;
    let mut reader: Option<Reader> = None;
    let mut fields = CsvFields::with_delimiter(plan.dialect.delimiter);
    let mut lines = BoundedLines::with_terminator(input, opts.max_line_bytes, plan.terminator);
    while let Some(line) = lines.next_line() {
        let line = line.map_err(FileError::Io)?;
        summary.lines += 1;
        let (number, bytes) = match line {
            LineRef::TooLong { number, len, head } => {
                let reason =
                    format!("line of {len} bytes is longer than the limit of {} bytes", opts.max_line_bytes);
                let mut d = DeadLetter::new(source, format!("line {number}"), reason, head, now_ms);
                d.raw_len = len;
                summary.dead_letters += 1;
                sink(Parsed::Dead(d));
                continue;
            }
            LineRef::Data { number, bytes } => (number, bytes),
        };
        if number <= plan.preamble_lines {
            continue;
        }
        let raw = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        let raw = if number == 1 { raw.strip_prefix(b"\xef\xbb\xbf").unwrap_or(raw) } else { raw };
        if raw.trim_ascii().is_empty() {
            summary.empty_lines += 1;
            continue;
        }
        let content: Cow<'_, [u8]> = if plan.decode_every_line {
            crate::dialect::decode(raw, Encoding::Windows1252)
        } else {
            Cow::Borrowed(raw)
        };
        let fmt = *format.get_or_insert_with(|| FileFormat::sniff(&content));
        let parsed = match fmt {
            FileFormat::Ndjson => {
                if summary.read_as.is_empty() {
                    summary.read_as = "NDJSON".into();
                }
                let own_line = |line: &[u8]| MobileEvent::encode_json_line(line, opts.log_encoding);
                let own = match own_line(&content) {
                    Err(e) if plan.retry_as_windows_1252 => retry_decoded(&content, e, own_line),
                    other => other,
                };
                match own {
                    // Not Tributary's own event: another layout's names, if they say enough.
                    Err(e) if e.reason.starts_with("missing field") => {
                        encode_mapped_json(&content, settings, &plan.times, &plan.device, opts.log_encoding)
                    }
                    other => other,
                }
            }
            FileFormat::Csv => match &reader {
                None => {
                    let (r, header_line) = plan
                        .reader(&content, settings)
                        .map_err(|e| FileError::Unreadable(format!("line {number}: {e}")))?;
                    summary.read_as = plan.describe(&r);
                    reader = Some(r);
                    if header_line {
                        continue;
                    }
                    plan.encode(reader.as_ref().expect("just set"), &content, &mut fields, opts.log_encoding)
                }
                Some(r) => plan.encode(r, &content, &mut fields, opts.log_encoding),
            },
        };
        match parsed {
            Ok(event) => {
                summary.events += 1;
                sink(Parsed::Event { line: number, event });
            }
            Err(reason) => {
                summary.dead_letters += 1;
                sink(Parsed::Dead(DeadLetter::new(source, format!("line {number}"), reason, bytes, now_ms)));
            }
        }
    }
    Ok(summary)
}

/// A line that failed and is not UTF-8, read again as Windows-1252 (a detected encoding: the
/// first lines of a Latin-1 file may all be ASCII).
fn retry_decoded<T>(
    line: &[u8],
    error: tributary_schema::Invalid,
    read: impl FnOnce(&[u8]) -> Result<T, tributary_schema::Invalid>,
) -> Result<T, tributary_schema::Invalid> {
    match decode_line(line) {
        Cow::Owned(decoded) => read(&decoded),
        Cow::Borrowed(_) => Err(error),
    }
}

/// How one file is read, decided from its first bytes.
struct Plan {
    dialect: Dialect,
    profile: Profile,
    terminator: u8,
    preamble_lines: u64,
    /// The encoding is set to Windows-1252, or detected as it from the first bytes.
    decode_every_line: bool,
    /// A UTF-8 file's line that is not UTF-8 is read again as Windows-1252 (detected encoding).
    retry_as_windows_1252: bool,
    times: TimeReader,
    /// The device of a file without a device column.
    device: String,
}

impl Plan {
    fn new(
        sample: &[u8],
        path: Option<&Path>,
        source: &str,
        format: Option<FileFormat>,
        settings: &InputSettings,
    ) -> Result<Self, FileError> {
        let profile = match settings.profile {
            Profile::Auto if is_geolife(path, sample) => Profile::Geolife,
            p => p,
        };
        // The sample is the reader's first buffer: it may end inside a character.
        let encoding = settings.encoding.or_detect(|| Encoding::detect(sample, true));
        if encoding == Encoding::Utf16 {
            return Err(FileError::Unreadable(
                "the file is UTF-16: mobile files are read as UTF-8 or Windows-1252; convert it (iconv -f UTF-16 -t UTF-8)".into(),
            ));
        }
        let terminator = if memchr::memchr(b'\n', sample).is_none() && memchr::memchr(b'\r', sample).is_some()
        {
            b'\r'
        } else {
            b'\n'
        };
        let text = crate::dialect::decode(sample, encoding);
        let first = crate::dialect::first_line(text.trim_ascii_start());
        let first = first.strip_prefix(b"\xef\xbb\xbf").unwrap_or(first);
        // Sniffing costs a few per cent of a file of Tributary's own events: NDJSON needs no
        // dialect, and Tributary's own CSV header says it all unless something is set.
        let own_csv = settings.dialect() == DialectSettings::default()
            && settings.canonical_path_applies()
            && CsvLayout::from_header(first, false).is_ok();
        let (preamble_lines, dialect) = if profile == Profile::Geolife {
            (
                GEOLIFE_PREAMBLE_LINES,
                Dialect { encoding, delimiter: b',', header: false, decimal_comma: false },
            )
        } else if format == Some(FileFormat::Ndjson) || format.is_none() && first.starts_with(b"{") || own_csv
        {
            (0, Dialect { encoding, ..Dialect::default() })
        } else {
            (0, settings.dialect().resolve_decoded(&text, encoding))
        };
        let device = if profile == Profile::Geolife {
            geolife_device(path, source)
        } else {
            file_device(path, source)
        };
        Ok(Self {
            dialect,
            profile,
            terminator,
            preamble_lines,
            decode_every_line: encoding == Encoding::Windows1252,
            retry_as_windows_1252: settings.encoding.given().is_none() && encoding == Encoding::Utf8,
            times: settings.times(),
            device,
        })
    }

    /// The reader of a CSV file, from its first line; `true` if that line is a header.
    fn reader(
        &self,
        first: &[u8],
        settings: &InputSettings,
    ) -> Result<(Reader, bool), tributary_schema::Invalid> {
        if self.profile == Profile::Geolife {
            use FieldName::*;
            let columns = [Latitude, Longitude, Ignore, Ignore, Ignore, Date, Time];
            return Ok((Reader::Mapped(Mapping::positional(&columns)?), false));
        }
        let header = self.dialect.header;
        if !settings.columns.is_empty() {
            return Ok((Reader::Mapped(Mapping::positional(&settings.columns)?), header));
        }
        if !header {
            let line = String::from_utf8_lossy(first);
            return Err(format!(
                "the file has no header (its first line is \"{}\"): say which column is which with --columns, e.g. --columns device,time,longitude,latitude (or `[mobile.input] columns`)",
                clip(&line)
            )
            .into());
        }
        let swap = self.profile == Profile::Reference;
        if self.dialect.delimiter == b','
            && !self.dialect.decimal_comma
            && settings.canonical_path_applies()
            && let Ok(layout) = CsvLayout::from_header(first, swap)
        {
            return Ok((Reader::Canonical(layout), true));
        }
        let mut split = CsvFields::with_delimiter(self.dialect.delimiter);
        split.split(first)?;
        let names: Vec<String> =
            (0..split.len()).map(|i| String::from_utf8_lossy(split.get(i)).trim().to_string()).collect();
        Ok((Reader::Mapped(Mapping::from_header(&names, settings, swap)?), true))
    }

    fn encode(
        &self,
        reader: &Reader,
        line: &[u8],
        fields: &mut CsvFields,
        encoding: LogEncoding,
    ) -> Result<EncodedEvent, tributary_schema::Invalid> {
        let read = |line: &[u8], fields: &mut CsvFields| match reader {
            Reader::Canonical(layout) => layout.encode(line, fields, encoding),
            Reader::Mapped(mapping) => {
                mapping.encode(line, fields, &self.dialect, &self.times, &self.device, encoding)
            }
        };
        match read(line, fields) {
            Err(e) if self.retry_as_windows_1252 => retry_decoded(line, e, |l| read(l, fields)),
            other => other,
        }
    }

    fn describe(&self, reader: &Reader) -> String {
        let profile = match self.profile {
            Profile::Auto => String::new(),
            Profile::Reference => {
                " the reference generator's layout (latitude and longitude swapped),".into()
            }
            Profile::Geolife => " GeoLife trajectory (6 preamble lines),".into(),
        };
        let columns = match reader {
            Reader::Canonical(_) => "Tributary's columns".to_string(),
            Reader::Mapped(m) => m.describe(),
        };
        format!("CSV ({}),{profile} {columns}", self.dialect.describe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(input: &[u8], format: Option<FileFormat>) -> (Result<FileSummary, String>, Vec<Parsed>) {
        let mut out = Vec::new();
        let opts = ParseOptions { max_line_bytes: 200, ..Default::default() };
        let r = parse_mobile_file(input, "dir:t", None, format, &opts, 0, |p| out.push(p))
            .map_err(|e| e.to_string());
        (r, out)
    }

    #[test]
    fn good_lines_go_through_and_bad_ones_become_dead_letters_in_order() {
        let mut input = b"timepoint,deviceId,acceloX,acceloY,acceloZ,latitude,longitude,locked\r\n".to_vec();
        input.extend(b"t,d1,0,0,9.8,52.5,13.4,true\r\n");
        input.extend(b"t,d2,0,0,9.8,not-a-number,13.4,true\r\n");
        input.extend(b"\r\n");
        input.extend(b"t,d3,0,0,9.8,95,13.4,true\r\n");
        input.extend(std::iter::repeat_n(b'z', 10_000));
        input.extend(b"\r\nt,d4,0,0,9.8,48.1,11.6,false");
        let (summary, out) = parse(&input, None);
        let summary = summary.unwrap();
        assert_eq!(summary.read_as, "CSV (UTF-8, ','-separated, header), Tributary's columns");
        assert_eq!((summary.events, summary.dead_letters, summary.empty_lines), (2, 3, 1));
        let kinds: Vec<String> = out
            .iter()
            .map(|p| match p {
                Parsed::Event { line, event } => format!("{line}:{}", event.device_id),
                Parsed::Dead(d) => format!("{}:dead", d.position),
            })
            .collect();
        assert_eq!(kinds, ["2:d1", "line 3:dead", "line 5:dead", "line 6:dead", "7:d4"]);
        let Parsed::Dead(long) = &out[3] else { panic!() };
        assert_eq!(long.raw_len, 10_001, "10,000 bytes and the CR before the LF");
        assert!(long.raw.len() <= 1024 && long.reason.contains("longer than the limit"));
    }

    #[test]
    fn ndjson_is_sniffed_and_a_bad_header_makes_the_file_unreadable() {
        let (summary, out) = parse(b"{\"timepoint\":\"t\",\"deviceId\":\"d\",\"acceloX\":0,\"acceloY\":0,\"acceloZ\":0,\"latitude\":1,\"longitude\":2,\"locked\":false}\n{broken\n", None);
        assert_eq!(summary.unwrap().events, 1);
        assert!(matches!(&out[1], Parsed::Dead(d) if d.reason.contains("not a JSON event")));
        let (summary, _) = parse(b"\x00\x01binary\xff garbage\n\x02\x03\n", None);
        let err = summary.unwrap_err();
        assert!(err.contains("no latitude column") || err.contains("no header"), "{err}");
        let (summary, out) = parse(b"", Some(FileFormat::Csv));
        assert_eq!((summary.unwrap(), out.len()), (FileSummary::default(), 0));
    }
}

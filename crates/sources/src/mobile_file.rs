//! Parsing a file of mobile events (CSV with a header, or NDJSON) into events and dead letters.
//!
//! Every line is accounted for: it becomes an event, a dead letter (with its line number, the
//! reason and its first bytes), or is an empty line (skipped and counted). A CSV file whose header
//! lacks a needed column cannot be read at all: [`parse_mobile_file`] says so, and the caller
//! dead-letters the file whole.

use std::io::BufRead;
use std::path::Path;

use tributary_schema::DeadLetter;
use tributary_schema::mobile::{CsvFields, CsvLayout, EncodedEvent, MobileEvent};

use crate::lines::{BoundedLines, LineRef};

/// The two file formats of mobile events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    Csv,
    Ndjson,
}

impl FileFormat {
    /// The format a file name says: `.csv`, or `.ndjson` / `.jsonl` / `.json`.
    pub fn from_path(path: &Path) -> Option<Self> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "csv" => Some(Self::Csv),
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseOptions {
    /// Read the reference generator's CSV, whose latitude column holds longitudes and vice versa.
    pub swap_lat_lon: bool,
    /// Lines longer than this are dead letters (memory stays bounded).
    pub max_line_bytes: usize,
}

impl Default for ParseOptions {
    fn default() -> Self {
        Self { swap_lat_lon: false, max_line_bytes: 64 << 10 }
    }
}

/// One parsed line: a validated event, encoded for the log, or a dead letter.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    Event { line: u64, event: EncodedEvent },
    Dead(DeadLetter),
}

/// What a file held.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileSummary {
    pub lines: u64,
    pub events: u64,
    pub dead_letters: u64,
    pub empty_lines: u64,
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

/// Parses `input`, calling `sink` for each event and dead letter in file order. `source` names the
/// file in dead letters; `format` overrides detection; `now_ms` stamps dead letters.
pub fn parse_mobile_file<R: BufRead>(
    input: R,
    source: &str,
    format: Option<FileFormat>,
    opts: ParseOptions,
    now_ms: i64,
    mut sink: impl FnMut(Parsed),
) -> Result<FileSummary, FileError> {
    let mut summary = FileSummary::default();
    let mut format = format;
    let mut layout: Option<CsvLayout> = None;
    let mut fields = CsvFields::default();
    let mut lines = BoundedLines::new(input, opts.max_line_bytes);
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
        let content = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        if content.trim_ascii().is_empty() {
            summary.empty_lines += 1;
            continue;
        }
        let fmt = *format.get_or_insert_with(|| FileFormat::sniff(content));
        let parsed = match fmt {
            FileFormat::Ndjson => MobileEvent::encode_json_line(content),
            FileFormat::Csv => match &layout {
                None => {
                    let l = CsvLayout::from_header(content, opts.swap_lat_lon)
                        .map_err(|e| FileError::Unreadable(format!("line {number}: {e}")))?;
                    layout = Some(l);
                    continue;
                }
                Some(l) => l.encode(content, &mut fields),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(input: &[u8], format: Option<FileFormat>) -> (Result<FileSummary, String>, Vec<Parsed>) {
        let mut out = Vec::new();
        let opts = ParseOptions { max_line_bytes: 200, ..Default::default() };
        let r =
            parse_mobile_file(input, "dir:t", format, opts, 0, |p| out.push(p)).map_err(|e| e.to_string());
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
        assert!(summary.unwrap_err().contains("no column 'timepoint'"));
        let (summary, out) = parse(b"", Some(FileFormat::Csv));
        assert_eq!((summary.unwrap(), out.len()), (FileSummary::default(), 0));
    }
}

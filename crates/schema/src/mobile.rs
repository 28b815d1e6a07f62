//! A mobile-phone event, as the reference generator wrote it: time, device, accelerometer, GPS
//! position and the screen-locked flag.
//!
//! In the log an event is either one JSON object with the reference field names
//! (`{"timepoint":…,"deviceId":…,"acceloX":…,"acceloY":…,"acceloZ":…,"latitude":…,"longitude":…,"locked":…}`)
//! or, parsed once at the source, the compact [`binary`] layout, which a record header names
//! ([`Encoding`]; chosen per topic). Input comes as that JSON (NDJSON files) or as CSV with a header naming the same columns in any
//! order. The reference generator wrote the longitude into the column called latitude and vice
//! versa; [`CsvLayout::from_header`] reads that layout when asked to swap.

use std::borrow::Cow;

use crate::Invalid;
use serde::{Deserialize, Serialize};

pub mod binary;
mod canonical;
pub mod time;

pub use binary::{Encoding, EventRef};

/// The CSV header Tributary writes (the reference layout, with correct column meaning).
pub const CSV_HEADER: &str = "timepoint,deviceId,acceloX,acceloY,acceloZ,latitude,longitude,locked";

/// An event ready for the log: its value in the topic's encoding, its key and its position.
/// Produced straight from input text; in JSON without re-formatting numbers where the input
/// already has them in JSON form.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedEvent {
    /// The record's value, in `encoding`.
    pub value: Vec<u8>,
    /// How `value` is written (the record carries [`Encoding::header`]).
    pub encoding: Encoding,
    pub device_id: String,
    pub latitude: f64,
    pub longitude: f64,
}

impl EncodedEvent {
    /// Encodes validated fields.
    pub fn from_ref(e: &EventRef, encoding: Encoding) -> Self {
        let value = match encoding {
            Encoding::Binary => e.to_binary(),
            Encoding::Json => MobileEvent::from_ref(e).to_json(),
        };
        Self {
            value,
            encoding,
            device_id: e.device_id.to_string(),
            latitude: e.latitude,
            longitude: e.longitude,
        }
    }
}

/// An event's position, device and time (see [`MobileEvent::timed_position_from_json`]).
#[derive(Debug, Clone, PartialEq)]
pub struct TimedPosition {
    /// `[latitude, longitude]`.
    pub position: [f64; 2],
    pub device_id: String,
    /// The event's `timepoint`, in ms since the Unix epoch.
    pub time_ms: i64,
}

/// One event. The accelerometer and the locked flag are optional: GPS traces have neither.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MobileEvent {
    /// The time as written by the device (the reference generator: local time, e.g.
    /// `2020-06-01 12:00:00.123`), or, from a file read through a column mapping, UTC in
    /// that form ([`time::write_timepoint`]).
    pub timepoint: String,
    #[serde(rename = "deviceId")]
    pub device_id: String,
    #[serde(rename = "acceloX", skip_serializing_if = "Option::is_none")]
    pub accelo_x: Option<f64>,
    #[serde(rename = "acceloY", skip_serializing_if = "Option::is_none")]
    pub accelo_y: Option<f64>,
    #[serde(rename = "acceloZ", skip_serializing_if = "Option::is_none")]
    pub accelo_z: Option<f64>,
    pub latitude: f64,
    pub longitude: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locked: Option<bool>,
}

impl MobileEvent {
    /// Checks ranges: finite numbers, |latitude| ≤ 90, |longitude| ≤ 180, non-empty ids.
    pub fn validate(&self) -> Result<(), Invalid> {
        binary::validate(&self.as_ref())
    }

    /// The log encoding: one JSON object.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("events serialise")
    }

    /// Parses and validates one JSON object (an NDJSON line or a log record). Numbers may also be
    /// given as numeric strings and `locked` as `"true"`/`"false"`/`0`/`1`; anything else is an
    /// error that says which field is wrong.
    pub fn from_json(bytes: &[u8]) -> Result<Self, Invalid> {
        if let Some(fast) = canonical::scan(bytes)
            && fast.is_valid()
        {
            return Ok(Self::from_canonical(&fast));
        }
        Self::from_any_json(bytes)
    }

    /// The general path of [`from_json`](Self::from_json): any field order, escapes, numbers as
    /// text.
    fn from_any_json(bytes: &[u8]) -> Result<Self, Invalid> {
        let wire: Wire = serde_json::from_slice(bytes).map_err(|e| format!("not a JSON event: {e}"))?;
        let event = Self {
            timepoint: text(wire.timepoint, "timepoint")?,
            device_id: text(wire.device_id, "deviceId")?,
            accelo_x: wire.accelo_x.map(|v| number(Some(v), "acceloX")).transpose()?,
            accelo_y: wire.accelo_y.map(|v| number(Some(v), "acceloY")).transpose()?,
            accelo_z: wire.accelo_z.map(|v| number(Some(v), "acceloZ")).transpose()?,
            latitude: number(wire.latitude, "latitude")?,
            longitude: number(wire.longitude, "longitude")?,
            locked: wire.locked.map(|v| flag(Some(v))).transpose()?,
        };
        event.validate()?;
        Ok(event)
    }

    /// Validates one NDJSON line and encodes it for the log in `encoding`. In JSON, a line
    /// already in canonical form (what [`to_json`](Self::to_json) writes: the known fields in
    /// order, typed, no whitespace or escapes) is kept as it is; any other valid line is
    /// normalised. Errors are those of [`from_json`](Self::from_json).
    pub fn encode_json_line(bytes: &[u8], encoding: Encoding) -> Result<EncodedEvent, Invalid> {
        if let Some(fast) = canonical::scan(bytes)
            && fast.is_valid()
        {
            return Ok(match encoding {
                Encoding::Json => EncodedEvent {
                    value: bytes.trim_ascii().to_vec(),
                    encoding,
                    device_id: fast.device_id.to_string(),
                    latitude: fast.latitude,
                    longitude: fast.longitude,
                },
                Encoding::Binary => EncodedEvent::from_ref(&fast.as_ref(), encoding),
            });
        }
        Self::from_json(bytes).map(|e| e.encode(encoding))
    }

    /// The event's fields, borrowed.
    pub fn as_ref(&self) -> EventRef<'_> {
        EventRef {
            timepoint: &self.timepoint,
            device_id: &self.device_id,
            accelo: [self.accelo_x, self.accelo_y, self.accelo_z],
            latitude: self.latitude,
            longitude: self.longitude,
            locked: self.locked,
        }
    }

    /// An owned event from borrowed fields.
    pub fn from_ref(e: &EventRef) -> Self {
        Self {
            timepoint: e.timepoint.to_string(),
            device_id: e.device_id.to_string(),
            accelo_x: e.accelo[0],
            accelo_y: e.accelo[1],
            accelo_z: e.accelo[2],
            latitude: e.latitude,
            longitude: e.longitude,
            locked: e.locked,
        }
    }

    /// The event (validated) ready for the log in `encoding`.
    pub fn encode(&self, encoding: Encoding) -> EncodedEvent {
        match encoding {
            Encoding::Json => EncodedEvent {
                value: self.to_json(),
                encoding,
                device_id: self.device_id.clone(),
                latitude: self.latitude,
                longitude: self.longitude,
            },
            Encoding::Binary => EncodedEvent::from_ref(&self.as_ref(), encoding),
        }
    }

    /// Reads and validates a record's value written in `encoding` (see [`Encoding::of_header`]).
    pub fn decode(value: &[u8], encoding: Encoding) -> Result<Self, Invalid> {
        match encoding {
            Encoding::Json => Self::from_json(value),
            Encoding::Binary => binary::decode(value).map(|e| Self::from_ref(&e)),
        }
    }

    /// The validated `[latitude, longitude]` of a record's value written in `encoding`: the hot
    /// path of a processor that needs only positions.
    pub fn position(value: &[u8], encoding: Encoding) -> Result<[f64; 2], Invalid> {
        match encoding {
            Encoding::Json => Self::position_from_json(value),
            Encoding::Binary => binary::position(value),
        }
    }

    /// The validated position, device and time of a record's value written in `encoding` (see
    /// [`timed_position_from_json`](Self::timed_position_from_json)).
    pub fn timed_position(value: &[u8], encoding: Encoding) -> Result<TimedPosition, Invalid> {
        match encoding {
            Encoding::Json => Self::timed_position_from_json(value),
            Encoding::Binary => {
                let e = binary::decode(value)?;
                Ok(TimedPosition {
                    position: [e.latitude, e.longitude],
                    device_id: e.device_id.to_string(),
                    time_ms: time::TimeReader::default().read(e.timepoint)?,
                })
            }
        }
    }

    /// The validated `[latitude, longitude]` of a JSON event, without building the event: the
    /// hot path of a processor that needs only positions. Events in the canonical form (numbers
    /// as numbers, strings without escapes) take a fast, allocation-free path; anything else is
    /// parsed by [`from_json`](Self::from_json), so results and error messages are the same.
    pub fn position_from_json(bytes: &[u8]) -> Result<[f64; 2], Invalid> {
        if let Some(fast) = canonical::scan(bytes)
            && fast.is_valid()
        {
            return Ok([fast.latitude, fast.longitude]);
        }
        Self::from_json(bytes).map(|e| [e.latitude, e.longitude])
    }

    /// The validated position of a JSON event with what says which event it is and when: its
    /// device and its `timepoint` in ms since the epoch (read as [`time::TimeReader`]'s
    /// default reads it: ISO 8601, a time without zone as UTC — the form Tributary writes —
    /// or epoch seconds/milliseconds). The input of an event-time processor.
    ///
    /// ```
    /// use tributary_schema::MobileEvent;
    /// let line = br#"{"timepoint":"2008-10-23 02:53:04.000","deviceId":"000","latitude":39.98,"longitude":116.31}"#;
    /// let e = MobileEvent::timed_position_from_json(line).unwrap();
    /// assert_eq!((e.device_id.as_str(), e.time_ms), ("000", 1_224_730_384_000));
    /// ```
    pub fn timed_position_from_json(bytes: &[u8]) -> Result<TimedPosition, Invalid> {
        let reader = time::TimeReader::default();
        if let Some(fast) = canonical::scan(bytes)
            && fast.is_valid()
        {
            return Ok(TimedPosition {
                position: [fast.latitude, fast.longitude],
                device_id: fast.device_id.to_string(),
                time_ms: reader.read(fast.timepoint)?,
            });
        }
        let e = Self::from_json(bytes)?;
        let time_ms = reader.read(&e.timepoint)?;
        Ok(TimedPosition { position: [e.latitude, e.longitude], device_id: e.device_id, time_ms })
    }

    fn from_canonical(c: &canonical::CanonicalEvent) -> Self {
        Self::from_ref(&c.as_ref())
    }

    /// Appends the event as one CSV line (CRLF) in [`CSV_HEADER`]'s column order; a field the
    /// event lacks is empty.
    pub fn write_csv_line(&self, out: &mut Vec<u8>) {
        use std::io::Write;
        fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
            v.map(|v| v.to_string()).unwrap_or_default()
        }
        write_csv_field(out, &self.timepoint);
        out.push(b',');
        write_csv_field(out, &self.device_id);
        let _ = write!(
            out,
            ",{},{},{},{},{},{}\r\n",
            opt(self.accelo_x),
            opt(self.accelo_y),
            opt(self.accelo_z),
            self.latitude,
            self.longitude,
            opt(self.locked)
        );
    }
}

fn write_csv_field(out: &mut Vec<u8>, s: &str) {
    if s.contains([',', '"', '\r', '\n']) {
        out.push(b'"');
        out.extend_from_slice(s.replace('"', "\"\"").as_bytes());
        out.push(b'"');
    } else {
        out.extend_from_slice(s.as_bytes());
    }
}

#[derive(Deserialize)]
struct Wire<'a> {
    #[serde(borrow)]
    timepoint: Option<Scalar<'a>>,
    #[serde(rename = "deviceId", borrow)]
    device_id: Option<Scalar<'a>>,
    #[serde(rename = "acceloX", borrow)]
    accelo_x: Option<Scalar<'a>>,
    #[serde(rename = "acceloY", borrow)]
    accelo_y: Option<Scalar<'a>>,
    #[serde(rename = "acceloZ", borrow)]
    accelo_z: Option<Scalar<'a>>,
    #[serde(borrow)]
    latitude: Option<Scalar<'a>>,
    #[serde(borrow)]
    longitude: Option<Scalar<'a>>,
    #[serde(borrow)]
    locked: Option<Scalar<'a>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Scalar<'a> {
    Number(f64),
    Bool(bool),
    #[serde(borrow)]
    Text(Cow<'a, str>),
}

fn text(v: Option<Scalar>, name: &str) -> Result<String, String> {
    match v {
        Some(Scalar::Text(s)) => Ok(s.into_owned()),
        Some(Scalar::Number(n)) => Ok(n.to_string()),
        Some(Scalar::Bool(_)) => Err(format!("{name} is a boolean, expected text")),
        None => Err(format!("missing field {name}")),
    }
}

fn number(v: Option<Scalar>, name: &str) -> Result<f64, String> {
    match v {
        Some(Scalar::Number(n)) => Ok(n),
        Some(Scalar::Text(s)) => parse_number(s.as_bytes(), name),
        Some(Scalar::Bool(_)) => Err(format!("{name} is a boolean, expected a number")),
        None => Err(format!("missing field {name}")),
    }
}

fn flag(v: Option<Scalar>) -> Result<bool, String> {
    match v {
        Some(Scalar::Bool(b)) => Ok(b),
        Some(Scalar::Number(n)) if n == 0.0 || n == 1.0 => Ok(n == 1.0),
        Some(Scalar::Text(s)) => parse_flag(s.as_bytes()),
        Some(Scalar::Number(n)) => Err(format!("locked is {n}, expected true or false")),
        None => Err("missing field locked".into()),
    }
}

fn parse_number(raw: &[u8], name: &str) -> Result<f64, String> {
    let s = std::str::from_utf8(raw).map_err(|_| format!("{name} is not UTF-8"))?.trim();
    s.parse::<f64>().map_err(|_| format!("{name} '{}' is not a number", crate::clip(s)))
}

fn parse_flag(raw: &[u8]) -> Result<bool, String> {
    match raw.trim_ascii() {
        b"true" | b"True" | b"TRUE" | b"1" => Ok(true),
        b"false" | b"False" | b"FALSE" | b"0" => Ok(false),
        other => {
            Err(format!("locked '{}' is not true or false", crate::clip(&String::from_utf8_lossy(other))))
        }
    }
}

/// Where each field sits in a CSV file, found from its header by column name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvLayout {
    /// Column index of timepoint, deviceId, acceloX, acceloY, acceloZ, latitude, longitude, locked.
    columns: [usize; 8],
    width: usize,
}

const FIELDS: [&str; 8] =
    ["timepoint", "deviceId", "acceloX", "acceloY", "acceloZ", "latitude", "longitude", "locked"];

impl CsvLayout {
    /// Reads the header line. Names match case-insensitively, surrounding spaces, quotes and a
    /// UTF-8 byte-order mark are ignored, extra columns are allowed. With `swap_lat_lon`, the
    /// column called latitude is read as the longitude and vice versa (the reference generator's
    /// layout).
    pub fn from_header(line: &[u8], swap_lat_lon: bool) -> Result<Self, Invalid> {
        let line = line.strip_prefix(b"\xef\xbb\xbf").unwrap_or(line);
        let mut fields = CsvFields::default();
        fields.split(line).map_err(|e| format!("header: {e}"))?;
        let names: Vec<String> = (0..fields.len())
            .map(|i| String::from_utf8_lossy(fields.get(i)).trim().to_ascii_lowercase())
            .collect();
        let mut columns = [0usize; 8];
        for (slot, field) in columns.iter_mut().zip(FIELDS) {
            *slot = names
                .iter()
                .position(|n| n == &field.to_ascii_lowercase())
                .ok_or_else(|| format!("header has no column '{field}' (columns: {})", names.join(", ")))?;
        }
        if swap_lat_lon {
            columns.swap(5, 6);
        }
        Ok(Self { columns, width: names.len() })
    }

    /// Parses and validates one data line (without its line break; a trailing CR is ignored).
    pub fn parse(&self, line: &[u8], fields: &mut CsvFields) -> Result<MobileEvent, Invalid> {
        self.parse_ref(line, fields).map(|e| MobileEvent::from_ref(&e))
    }

    /// [`parse`](Self::parse), the text borrowed from `fields`.
    fn parse_ref<'f>(&self, line: &[u8], fields: &'f mut CsvFields) -> Result<EventRef<'f>, Invalid> {
        self.split(line, fields)?;
        let fields = &*fields;
        let [t, d, ax, ay, az, lat, lon, locked] = self.columns;
        let utf8 = |i: usize, name: &str| {
            std::str::from_utf8(fields.get(i)).map_err(|_| format!("{name} is not UTF-8"))
        };
        let event = EventRef {
            timepoint: utf8(t, "timepoint")?,
            device_id: utf8(d, "deviceId")?,
            accelo: [
                Some(parse_number(fields.get(ax), "acceloX")?),
                Some(parse_number(fields.get(ay), "acceloY")?),
                Some(parse_number(fields.get(az), "acceloZ")?),
            ],
            latitude: parse_number(fields.get(lat), "latitude")?,
            longitude: parse_number(fields.get(lon), "longitude")?,
            locked: Some(parse_flag(fields.get(locked))?),
        };
        binary::validate(&event)?;
        Ok(event)
    }

    /// Splits a data line (a trailing CR ignored) and checks it has the header's width.
    fn split(&self, line: &[u8], fields: &mut CsvFields) -> Result<(), Invalid> {
        fields.split(line.strip_suffix(b"\r").unwrap_or(line))?;
        if fields.len() != self.width {
            return Err(format!("{} columns, the header has {}", fields.len(), self.width).into());
        }
        Ok(())
    }

    /// Like [`parse`](Self::parse), but encodes the event for the log in `encoding`; JSON is
    /// written directly from the field text: a number already written as a JSON number is
    /// copied, not parsed and re-formatted (it is still parsed, to validate it). The result
    /// decodes to the same event as `parse` gives.
    pub fn encode(
        &self,
        line: &[u8],
        fields: &mut CsvFields,
        encoding: Encoding,
    ) -> Result<EncodedEvent, Invalid> {
        if encoding == Encoding::Binary {
            return self.parse_ref(line, fields).map(|e| EncodedEvent::from_ref(&e, encoding));
        }
        self.split(line, fields)?;
        let [t, d, ax, ay, az, lat, lon, locked] = self.columns;
        let text = |i: usize, name: &str| {
            std::str::from_utf8(fields.get(i)).map_err(|_| format!("{name} is not UTF-8"))
        };
        let timepoint = text(t, "timepoint")?;
        let device_id = text(d, "deviceId")?;
        if device_id.is_empty() {
            return Err("deviceId is empty".into());
        }
        if timepoint.is_empty() {
            return Err("timepoint is empty".into());
        }
        // Each number as the JSON text to write: the field's own text when it is a JSON number
        // (the usual case; it is still validated), else the parsed value, formatted.
        let mut numbers: [Cow<'_, [u8]>; 5] = Default::default();
        let [mut latitude, mut longitude] = [0.0; 2];
        for (i, (col, name)) in
            [(ax, "acceloX"), (ay, "acceloY"), (az, "acceloZ"), (lat, "latitude"), (lon, "longitude")]
                .into_iter()
                .enumerate()
        {
            let raw = fields.get(col).trim_ascii();
            let json_text = is_json_number(raw).then(|| std::str::from_utf8(raw).ok()).flatten();
            // An accelerometer value that is a finite JSON number needs no parsing at all.
            if i < 3
                && let Some(text) = json_text
                && json_number_is_finite(text)
            {
                numbers[i] = Cow::Borrowed(raw);
                continue;
            }
            let value = parse_number(raw, name)?;
            if !value.is_finite() {
                return Err(format!("{name} is not a finite number").into());
            }
            numbers[i] = match json_text {
                Some(_) => Cow::Borrowed(raw),
                None => Cow::Owned(serde_json::to_vec(&value).expect("writing to a Vec")),
            };
            match i {
                3 => latitude = value,
                4 => longitude = value,
                _ => {}
            }
        }
        if latitude.abs() > 90.0 {
            return Err(format!("latitude {latitude} is outside -90..90").into());
        }
        if longitude.abs() > 180.0 {
            return Err(format!("longitude {longitude} is outside -180..180").into());
        }
        let locked = parse_flag(fields.get(locked))?;
        let mut json = Vec::with_capacity(line.len() + 100);
        json.extend_from_slice(b"{\"timepoint\":");
        write_json_string(&mut json, timepoint);
        json.extend_from_slice(b",\"deviceId\":");
        write_json_string(&mut json, device_id);
        for (key, text) in [
            b",\"acceloX\":" as &[u8],
            b",\"acceloY\":",
            b",\"acceloZ\":",
            b",\"latitude\":",
            b",\"longitude\":",
        ]
        .into_iter()
        .zip(&numbers)
        {
            json.extend_from_slice(key);
            json.extend_from_slice(text);
        }
        json.extend_from_slice(if locked { b",\"locked\":true}" } else { b",\"locked\":false}" });
        Ok(EncodedEvent { value: json, encoding, device_id: device_id.to_string(), latitude, longitude })
    }
}

/// Writes `s` as a JSON string: as it is between quotes when nothing needs escaping (the usual
/// case, and the canonical form), else escaped by serde_json.
fn write_json_string(out: &mut Vec<u8>, s: &str) {
    if s.bytes().any(|c| c == b'"' || c == b'\\' || c < 0x20) {
        serde_json::to_writer(out, s).expect("writing to a Vec");
    } else {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    }
}

/// Whether a number in JSON's grammar is finite as an `f64`: without an exponent and with at most
/// 300 digits it cannot reach `f64::MAX` (about 1.8e308), so only other texts need parsing.
fn json_number_is_finite(text: &str) -> bool {
    (text.len() <= 300 && !text.bytes().any(|c| c == b'e' || c == b'E'))
        || text.parse::<f64>().is_ok_and(f64::is_finite)
}

/// True if `s` is a number in JSON's grammar: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
fn is_json_number(s: &[u8]) -> bool {
    let mut i = 0;
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < s.len() && s[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if s.first() == Some(&b'-') {
        i += 1;
    }
    match s.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            digits(&mut i);
        }
        _ => return false,
    }
    if s.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    }
    if matches!(s.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(s.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == s.len()
}

/// Reusable buffers for splitting one CSV line into fields (RFC 4180 quoting, by csv-core), at
/// commas or another delimiter.
#[derive(Debug)]
pub struct CsvFields {
    reader: csv_core::Reader,
    delimiter: u8,
    out: Vec<u8>,
    ends: Vec<usize>,
}

impl Default for CsvFields {
    fn default() -> Self {
        Self::with_delimiter(b',')
    }
}

impl CsvFields {
    /// Buffers for lines whose fields are separated by `delimiter`.
    pub fn with_delimiter(delimiter: u8) -> Self {
        // Not csv_core::Reader::default(), which is zeroed (delimiter NUL).
        let reader = csv_core::ReaderBuilder::new().delimiter(delimiter).build();
        Self { reader, delimiter, out: Vec::new(), ends: Vec::new() }
    }

    /// Splits one line (no line break inside) into fields.
    pub fn split(&mut self, line: &[u8]) -> Result<(), Invalid> {
        if !line.is_empty() && !line.starts_with(b"\xef\xbb\xbf") && !line.contains(&b'"') {
            // Without quotes RFC 4180 is plain splitting at delimiters; most lines take this path,
            // at a fraction of the state machine's cost. (csv-core reads an empty line as no
            // record and skips a byte-order mark: those take the general path.)
            self.out.clear();
            self.ends.clear();
            let delimiter = self.delimiter;
            for field in line.split(|&c| c == delimiter) {
                self.out.extend_from_slice(field);
                self.ends.push(self.out.len());
            }
            return Ok(());
        }
        self.split_quoted(line)
    }

    /// The general path of [`split`](Self::split): csv-core's RFC 4180 state machine.
    fn split_quoted(&mut self, line: &[u8]) -> Result<(), Invalid> {
        use csv_core::ReadRecordResult as R;
        self.reader.reset();
        // A field never outgrows the line, and there are at most len + 1 fields.
        self.out.resize(line.len() + 1, 0);
        self.ends.resize(line.len() + 2, 0);
        let mut input = line;
        let (mut nout, mut nend) = (0, 0);
        let mut eof_sent = false;
        loop {
            let (result, nin, o, e) =
                self.reader.read_record(input, &mut self.out[nout..], &mut self.ends[nend..]);
            // Field ends are positions within the whole record, across calls.
            input = &input[nin..];
            nout += o;
            nend += e;
            match result {
                R::InputEmpty if !eof_sent => {
                    if input.is_empty() {
                        eof_sent = true; // an empty input tells csv-core the line has ended
                    }
                }
                R::InputEmpty => return Err("unterminated quoted field".into()),
                R::Record | R::End => break,
                R::OutputFull | R::OutputEndsFull => return Err("line does not fit the field buffers".into()),
            }
        }
        self.ends.truncate(nend);
        Ok(())
    }

    /// Number of fields of the last line split.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True if the last line had no fields.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Field `i` of the last line split.
    pub fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.out[start..self.ends[i]]
    }
}

#[cfg(test)]
mod tests;

//! The canonical JSON form of a mobile event, read by a strict hand-written scanner.
//!
//! The canonical form is exactly what [`MobileEvent::to_json`](super::MobileEvent::to_json) and
//! [`CsvLayout::encode`](super::CsvLayout::encode) write, which is what the log holds for every
//! event that came through Tributary's own sources:
//!
//! ```text
//! {"timepoint":"…","deviceId":"…","acceloX":N,"acceloY":N,"acceloZ":N,"latitude":N,"longitude":N,"locked":true|false}
//! ```
//!
//! (the three accelerometer fields together, and `locked`, may be absent: GPS traces lack them),
//! fields in that order, no whitespace inside, strings without escapes, numbers in JSON's grammar.
//! Anything else — another field order, whitespace, escapes, extra fields — is not canonical, and
//! the caller falls back to the general serde parser, so the scanner only has to be right about
//! what it accepts, never complete. It exists because it is several times faster than serde on
//! the processors' hot path, which reads one of these per event.

/// The fields of a canonical event, borrowed from its bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct CanonicalEvent<'a> {
    pub timepoint: &'a str,
    pub device_id: &'a str,
    /// The accelerometer as its number text: most readers need only to know it is valid.
    pub accelo: Option<[&'a str; 3]>,
    pub latitude: f64,
    pub longitude: f64,
    pub locked: Option<bool>,
}

impl<'a> CanonicalEvent<'a> {
    /// The accelerometer values (x, y, z).
    pub fn accelo(&self) -> Option<[f64; 3]> {
        self.accelo.map(|a| a.map(|a| a.parse().unwrap_or(f64::NAN)))
    }

    /// The fields, the accelerometer parsed.
    pub fn as_ref(&self) -> super::EventRef<'a> {
        super::EventRef {
            timepoint: self.timepoint,
            device_id: self.device_id,
            accelo: self.accelo().map_or([None; 3], |a| a.map(Some)),
            latitude: self.latitude,
            longitude: self.longitude,
            locked: self.locked,
        }
    }

    /// The checks of [`MobileEvent::validate`](super::MobileEvent::validate).
    pub fn is_valid(&self) -> bool {
        !self.timepoint.is_empty()
            && !self.device_id.is_empty()
            && self.accelo.iter().flatten().all(|a| super::json_number_is_finite(a))
            && self.latitude.is_finite()
            && self.latitude.abs() <= 90.0
            && self.longitude.is_finite()
            && self.longitude.abs() <= 180.0
    }
}

/// Reads `bytes` (surrounding ASCII whitespace allowed) if it is an event in canonical form.
pub(super) fn scan(bytes: &[u8]) -> Option<CanonicalEvent<'_>> {
    // One UTF-8 check of the whole line: every field is then a slice of checked text (checking
    // each string and number on its own cost more than the rest of the scan).
    let text = std::str::from_utf8(bytes.trim_ascii()).ok()?;
    let mut c = Cursor { b: text.as_bytes(), text, i: 0 };
    c.literal(b"{\"timepoint\":")?;
    let timepoint = c.string()?;
    c.literal(b",\"deviceId\":")?;
    let device_id = c.string()?;
    let accelo = if c.literal(b",\"acceloX\":").is_some() {
        let ax = c.number_text()?;
        c.literal(b",\"acceloY\":")?;
        let ay = c.number_text()?;
        c.literal(b",\"acceloZ\":")?;
        let az = c.number_text()?;
        Some([ax, ay, az])
    } else {
        None
    };
    c.literal(b",\"latitude\":")?;
    let latitude = c.number_text()?.parse().ok()?;
    c.literal(b",\"longitude\":")?;
    let longitude = c.number_text()?.parse().ok()?;
    let locked = if c.literal(b",\"locked\":").is_some() {
        if c.literal(b"true").is_some() {
            Some(true)
        } else {
            c.literal(b"false")?;
            Some(false)
        }
    } else {
        None
    };
    c.literal(b"}")?;
    (c.i == c.b.len()).then_some(CanonicalEvent { timepoint, device_id, accelo, latitude, longitude, locked })
}

struct Cursor<'a> {
    b: &'a [u8],
    /// `b` as text.
    text: &'a str,
    i: usize,
}

impl<'a> Cursor<'a> {
    fn literal(&mut self, lit: &[u8]) -> Option<()> {
        let rest = self.b.get(self.i..)?;
        rest.starts_with(lit).then(|| self.i += lit.len())
    }

    /// A string without escapes or control characters.
    fn string(&mut self) -> Option<&'a str> {
        self.literal(b"\"")?;
        let start = self.i;
        let len = memchr::memchr(b'"', &self.b[start..])?;
        if self.b[start..start + len].iter().any(|&c| c == b'\\' || c < 0x20) {
            return None;
        }
        self.i += len + 1;
        // Quotes are ASCII, so both ends are character boundaries.
        self.text.get(start..start + len)
    }

    /// The text of a number in JSON's grammar `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    /// Callers parse it with `str::parse`, which rounds correctly, as serde_json does with its
    /// `float_roundtrip` feature (on in this workspace), so both paths give the same bits.
    fn number_text(&mut self) -> Option<&'a str> {
        let start = self.i;
        let at = |i: usize| self.b.get(i).copied();
        let digits = |i: &mut usize| {
            let from = *i;
            while at(*i).is_some_and(|c| c.is_ascii_digit()) {
                *i += 1;
            }
            *i - from
        };
        let mut i = start;
        if at(i) == Some(b'-') {
            i += 1;
        }
        match at(i)? {
            b'0' => i += 1,
            b'1'..=b'9' => {
                digits(&mut i);
            }
            _ => return None,
        }
        if at(i) == Some(b'.') {
            i += 1;
            if digits(&mut i) == 0 {
                return None;
            }
        }
        if matches!(at(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(at(i), Some(b'+' | b'-')) {
                i += 1;
            }
            if digits(&mut i) == 0 {
                return None;
            }
        }
        self.i = i;
        // ASCII by construction, so both ends are character boundaries.
        self.text.get(start..i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = r#"{"timepoint":"2020-06-01 12:00:00.123","deviceId":"d-7","acceloX":0.5,"acceloY":-1,"acceloZ":9.81,"latitude":52.52,"longitude":13.405,"locked":false}"#;

    #[test]
    fn reads_the_canonical_form() {
        let padded = format!("  {LINE}\r\n");
        let e = scan(padded.as_bytes()).expect("canonical");
        assert_eq!((e.timepoint, e.device_id), ("2020-06-01 12:00:00.123", "d-7"));
        assert_eq!(
            (e.accelo(), e.latitude, e.longitude, e.locked),
            (Some([0.5, -1.0, 9.81]), 52.52, 13.405, Some(false))
        );
        assert!(e.is_valid());
        let locked = LINE.replace("false", "true");
        assert_eq!(scan(locked.as_bytes()).unwrap().locked, Some(true));
        let gps_only = r#"{"timepoint":"t","deviceId":"d","latitude":52.52,"longitude":13.405}"#;
        let e = scan(gps_only.as_bytes()).expect("canonical without accelerometer and locked");
        assert_eq!((e.accelo(), e.locked, e.latitude), (None, None, 52.52));
        let exponent = LINE.replace("52.52", "5.252E+1");
        assert_eq!(scan(exponent.as_bytes()).unwrap().latitude, 52.52);
    }

    #[test]
    fn declines_anything_else() {
        for other in [
            LINE.replace(r#""timepoint":"#, r#""timepoint": "#), // whitespace
            LINE.replace("d-7", r"d\u002d7"),                    // an escape
            LINE.replace("d-7", "d\t7"),                         // a control character
            LINE.replace(r#","locked":false"#, r#","locked":false,"x":1"#), // an extra field
            LINE.replace(r#""latitude":52.52,"longitude":13.405"#, r#""longitude":13.405,"latitude":52.52"#),
            LINE.replace("52.52", "052.52"), // not JSON's grammar
            LINE.replace("52.52", "52."),
            LINE.replace("52.52", "+52.52"),
            LINE.replace("52.52", "\"52.52\""), // a number as text
            LINE.replace("false", "0"),
            format!("{LINE}x"),
            LINE[..LINE.len() - 1].to_string(),
            String::new(),
        ] {
            assert_eq!(scan(other.as_bytes()), None, "{other}");
        }
        let mut invalid_utf8 = LINE.as_bytes().to_vec();
        invalid_utf8[20] = 0xff; // inside the timepoint
        assert_eq!(scan(&invalid_utf8), None);
    }

    #[test]
    fn validity_is_that_of_an_event() {
        let valid = |line: String| scan(line.as_bytes()).expect("canonical").is_valid();
        assert!(!valid(LINE.replace("52.52", "90.5")));
        assert!(!valid(LINE.replace("0.5", "1e400")), "1e400 parses to infinity");
        assert!(!valid(LINE.replace("0.5", &format!("1{}", "0".repeat(400)))), "so does 10^400");
        assert!(valid(LINE.replace("0.5", &format!("1{}", "0".repeat(300)))));
        assert!(!valid(LINE.replace("d-7", "")));
    }
}

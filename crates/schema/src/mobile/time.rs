//! Event times as GPS files write them, read to milliseconds since the epoch (UTC), and the one
//! form Tributary writes them in (`timepoint`, [`write_timepoint`]).
//!
//! ```
//! use tributary_schema::mobile::time::{TimeReader, TimeZone, write_timepoint};
//!
//! let utc = TimeReader::default();
//! assert_eq!(utc.read("2008-10-23T02:53:04Z").unwrap(), 1_224_730_384_000);
//! assert_eq!(utc.read("1224730384").unwrap(), 1_224_730_384_000, "epoch seconds");
//! let berlin = TimeReader { zone: "Europe/Berlin".parse().unwrap(), ..TimeReader::default() };
//! assert_eq!(write_timepoint(berlin.read("2008-10-23 04:53:04.5").unwrap()), "2008-10-23 02:53:04.500");
//! ```

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone as _};

use crate::{Invalid, clip};

/// How times are written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum TimeFormat {
    /// Any of the forms below, told apart by their text: a number is epoch seconds (below
    /// 10^11) or milliseconds; anything else ISO 8601.
    #[default]
    Auto,
    /// `YYYY-MM-DD[T| ]HH:MM[:SS[.fraction]]`, then optionally `Z` or `±HH[:MM]`; without a
    /// zone, in the reader's zone. The fraction may have up to 9 digits (milliseconds are kept).
    Iso8601,
    /// Seconds since 1970-01-01 UTC (a fraction allowed).
    EpochSeconds,
    /// Milliseconds since 1970-01-01 UTC.
    EpochMillis,
    /// A chrono `strftime` pattern, e.g. `%d/%m/%Y %H:%M:%S`; with `%z` it holds its zone.
    Pattern(String),
}

impl std::str::FromStr for TimeFormat {
    type Err = Invalid;

    fn from_str(s: &str) -> Result<Self, Invalid> {
        match s {
            "auto" => Ok(Self::Auto),
            "iso8601" | "iso" => Ok(Self::Iso8601),
            "epoch-s" | "epoch-seconds" => Ok(Self::EpochSeconds),
            "epoch-ms" | "epoch-millis" => Ok(Self::EpochMillis),
            p if p.contains('%') => Ok(Self::Pattern(p.to_string())),
            other => Err(format!(
                "'{other}' is not a time format: accepted \"auto\", \"iso8601\", \"epoch-s\", \"epoch-ms\" or a strftime pattern such as \"%d/%m/%Y %H:%M:%S\""
            )
            .into()),
        }
    }
}

impl<'de> serde::Deserialize<'de> for TimeFormat {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The zone of times written without one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TimeZone {
    #[default]
    Utc,
    /// A fixed offset, `+02:00`.
    Fixed(FixedOffset),
    /// A zone of the IANA database, `Europe/Berlin` (daylight saving time included).
    Named(chrono_tz::Tz),
}

impl std::str::FromStr for TimeZone {
    type Err = Invalid;

    fn from_str(s: &str) -> Result<Self, Invalid> {
        if s.eq_ignore_ascii_case("utc") || s == "Z" {
            return Ok(Self::Utc);
        }
        if let Some(offset) = parse_offset(s) {
            return Ok(Self::Fixed(offset));
        }
        s.parse::<chrono_tz::Tz>().map(Self::Named).map_err(|_| {
            format!("'{s}' is not a time zone: write UTC, an offset such as +02:00, or a name such as Europe/Berlin")
                .into()
        })
    }
}

impl<'de> serde::Deserialize<'de> for TimeZone {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl std::fmt::Display for TimeZone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Utc => f.write_str("UTC"),
            Self::Fixed(o) => write!(f, "{o}"),
            Self::Named(tz) => f.write_str(tz.name()),
        }
    }
}

/// Reads times of one format in one zone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TimeReader {
    pub format: TimeFormat,
    pub zone: TimeZone,
}

impl TimeReader {
    /// Milliseconds since the epoch of `text`; the error quotes it and says what was expected.
    pub fn read(&self, text: &str) -> Result<i64, Invalid> {
        let text = text.trim();
        let bad = |what: &str| Invalid::from(format!("time '{}' is not {what}", clip(text)));
        match &self.format {
            TimeFormat::Auto if looks_like_number(text) => {
                let integer = text.split('.').next().unwrap_or_default().trim_start_matches('-');
                // 10^11 seconds is the year 5138; 10^11 milliseconds 1973.
                if integer.len() >= 12 {
                    epoch(text, 1.0).ok_or_else(|| bad("epoch milliseconds"))
                } else {
                    epoch(text, 1000.0).ok_or_else(|| bad("epoch seconds"))
                }
            }
            TimeFormat::Auto | TimeFormat::Iso8601 => {
                let (local, zone) = iso8601(text).ok_or_else(|| bad("ISO 8601 (YYYY-MM-DD HH:MM:SS)"))?;
                match zone {
                    Some(offset) => offset.from_local_datetime(&local).single().map(|t| t.timestamp_millis()),
                    None => self.in_zone(&local),
                }
                .ok_or_else(|| bad(&format!("a time that exists in {}", self.zone)))
            }
            TimeFormat::EpochSeconds => epoch(text, 1000.0).ok_or_else(|| bad("epoch seconds")),
            TimeFormat::EpochMillis => epoch(text, 1.0).ok_or_else(|| bad("epoch milliseconds")),
            TimeFormat::Pattern(p) => {
                if let Ok(t) = DateTime::parse_from_str(text, p) {
                    return Ok(t.timestamp_millis());
                }
                let local =
                    NaiveDateTime::parse_from_str(text, p).map_err(|_| bad(&format!("written {p}")))?;
                self.in_zone(&local).ok_or_else(|| bad(&format!("a time that exists in {}", self.zone)))
            }
        }
    }

    /// A local time in the reader's zone, in milliseconds; `None` in a daylight-saving gap. An
    /// ambiguous time (the hour repeated in autumn) is the earlier one.
    fn in_zone(&self, local: &NaiveDateTime) -> Option<i64> {
        match self.zone {
            TimeZone::Utc => Some(local.and_utc().timestamp_millis()),
            TimeZone::Fixed(o) => o.from_local_datetime(local).earliest().map(|t| t.timestamp_millis()),
            TimeZone::Named(tz) => tz.from_local_datetime(local).earliest().map(|t| t.timestamp_millis()),
        }
    }
}

/// `YYYY-MM-DD HH:MM:SS.mmm`, UTC: the form of `timepoint` Tributary writes (its generator
/// and every file read through a column mapping). Written by hand: the generator calls it per
/// event, and chrono's formatter costs several times more.
pub fn write_timepoint(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{:03}",
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000
    )
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn looks_like_number(text: &str) -> bool {
    let t = text.strip_prefix('-').unwrap_or(text);
    !t.is_empty()
        && t.bytes().all(|c| c.is_ascii_digit() || c == b'.')
        && t.bytes().filter(|&c| c == b'.').count() <= 1
        && t.as_bytes()[0].is_ascii_digit()
}

/// `text` × `scale` milliseconds, if it is a number of a plausible size.
fn epoch(text: &str, scale: f64) -> Option<i64> {
    let ms = if scale == 1.0 && !text.contains('.') {
        text.parse::<i64>().ok()? as f64
    } else {
        text.parse::<f64>().ok()? * scale
    };
    // Within chrono's range (±262,000 years) and finite.
    (ms.is_finite() && ms.abs() < 8.0e18 / 1000.0).then(|| ms.round() as i64)
}

/// `±HH`, `±HHMM` or `±HH:MM`.
fn parse_offset(s: &str) -> Option<FixedOffset> {
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if !digits.bytes().all(|c| c.is_ascii_digit()) || !matches!(digits.len(), 2 | 4) {
        return None;
    }
    let hours: i32 = digits[..2].parse().ok()?;
    let minutes: i32 = if digits.len() == 4 { digits[2..].parse().ok()? } else { 0 };
    if hours > 23 || minutes > 59 || rest.contains(':') && rest.len() != 5 {
        return None;
    }
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))
}

/// An ISO 8601 date and time, and its zone if written.
fn iso8601(text: &str) -> Option<(NaiveDateTime, Option<FixedOffset>)> {
    let b = text.as_bytes();
    if b.len() < 16 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        let s = text.get(range)?;
        s.bytes().all(|c| c.is_ascii_digit()).then(|| s.parse().ok()).flatten()
    };
    let date = NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?;
    if b[13] != b':' {
        return None;
    }
    let (hour, minute) = (num(11..13)?, num(14..16)?);
    let mut i = 16;
    let mut second = 0;
    if b.get(i) == Some(&b':') {
        second = num(17..19)?;
        i = 19;
    }
    let mut nanos = 0u32;
    if b.get(i) == Some(&b'.') || b.get(i) == Some(&b',') {
        let start = i + 1;
        let mut end = start;
        while end < b.len() && b[end].is_ascii_digit() {
            end += 1;
        }
        let digits = &text[start..end];
        if digits.is_empty() || digits.len() > 9 {
            return None;
        }
        nanos = digits.parse::<u32>().ok()? * 10u32.pow(9 - digits.len() as u32);
        i = end;
    }
    let time = NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)?;
    let rest = text[i..].trim_start();
    let zone = match rest {
        "" => None,
        "Z" | "z" => Some(FixedOffset::east_opt(0)?),
        offset => Some(parse_offset(offset)?),
    };
    Some((NaiveDateTime::new(date, time), zone))
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_224_730_384_000; // 2008-10-23 02:53:04 UTC

    fn reader(format: &str, zone: &str) -> TimeReader {
        TimeReader { format: format.parse().unwrap(), zone: zone.parse().unwrap() }
    }

    #[test]
    fn every_written_form_reads_to_the_same_instant() {
        let utc = reader("auto", "UTC");
        for text in [
            "2008-10-23 02:53:04",
            "2008-10-23T02:53:04",
            "2008-10-23T02:53:04Z",
            "2008-10-23T04:53:04+02:00",
            "2008-10-23T04:53:04+0200",
            "2008-10-23T01:53:04-01",
            "2008-10-23 02:53:04.000",
            "2008-10-23T02:53:04.000000000Z",
            "1224730384",
            "1224730384.0",
            "1224730384000",
        ] {
            assert_eq!(utc.read(text).unwrap(), T, "{text}");
        }
        assert_eq!(
            utc.read("2008-10-23 02:53:04.123456789").unwrap(),
            T + 123,
            "nanoseconds kept to the millisecond"
        );
        assert_eq!(utc.read("2008-10-23 02:53").unwrap(), T - 4000);
        assert_eq!(reader("%d/%m/%Y %H:%M:%S", "UTC").read("23/10/2008 02:53:04").unwrap(), T);
        assert_eq!(reader("%d/%m/%Y %H:%M:%S %z", "UTC").read("23/10/2008 04:53:04 +0200").unwrap(), T);
        assert_eq!(reader("epoch-ms", "UTC").read("1224730384000").unwrap(), T);
        assert_eq!(reader("epoch-s", "UTC").read("1224730384").unwrap(), T);
    }

    #[test]
    fn times_without_a_zone_are_in_the_configured_one() {
        assert_eq!(reader("auto", "+02:00").read("2008-10-23 04:53:04").unwrap(), T);
        assert_eq!(reader("auto", "Europe/Berlin").read("2008-10-23 04:53:04").unwrap(), T, "summer time");
        assert_eq!(reader("auto", "Europe/Berlin").read("2008-12-23 03:53:04").unwrap(), T + 61 * 86_400_000);
        assert_eq!(
            reader("auto", "Europe/Berlin").read("2008-10-23T02:53:04Z").unwrap(),
            T,
            "a written zone wins"
        );
        let gap = reader("auto", "Europe/Berlin").read("2021-03-28 02:30:00").unwrap_err();
        assert!(gap.reason.contains("exists in Europe/Berlin"), "{gap}");
    }

    #[test]
    fn bad_times_and_settings_say_why() {
        let utc = TimeReader::default();
        for bad in [
            "",
            "yesterday",
            "2008-13-01 00:00:00",
            "2008-10-23 25:00:00",
            "2008-10-23 02:53:04 CEST",
            "1e400",
            "2008-10-23T02:53:04.1234567890",
        ] {
            assert!(utc.read(bad).unwrap_err().reason.starts_with("time '"), "{bad}");
        }
        assert!("Mars/Olympus".parse::<TimeZone>().unwrap_err().reason.contains("not a time zone"));
        assert!("+25:00".parse::<TimeZone>().is_err());
        assert!("dd-mm".parse::<TimeFormat>().unwrap_err().reason.contains("not a time format"));
    }

    #[test]
    fn timepoints_are_written_in_one_form() {
        assert_eq!(write_timepoint(T + 5), "2008-10-23 02:53:04.005");
        assert_eq!(write_timepoint(0), "1970-01-01 00:00:00.000");
        assert_eq!(write_timepoint(951_782_400_000 + 86_399_999), "2000-02-29 23:59:59.999");
        assert_eq!(TimeReader::default().read(&write_timepoint(T + 5)).unwrap(), T + 5);
    }
}

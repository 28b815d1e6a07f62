//! The compact binary form of a mobile event in the log: parsed once, at the source.
//!
//! The JSON form makes every reader parse text again (about a quarter of an event's CPU on the
//! processor's side); this form puts the numbers where a reader finds them without parsing. A
//! record in it carries the header [`ENCODING_HEADER`] = [`BINARY_V1`], so a reader knows which
//! form it holds; a record without that header is JSON ([`Encoding::of_header`]).
//!
//! Layout, version 1 (little-endian, nothing between fields, nothing after the last):
//!
//! ```text
//! size  field
//!    1  flags       bits 0, 1, 2: acceloX, acceloY, acceloZ follow the position;
//!                   bit 3: `locked` is known; bit 4: its value; bits 5–7: 0
//!    8  latitude    f64
//!    8  longitude   f64
//! 0–24  acceloX, acceloY, acceloZ   f64 each, those the flags announce, in that order
//!    4  n           u32, then n bytes: the timepoint, UTF-8
//!    4  m           u32, then m bytes: the device id, UTF-8
//! ```
//!
//! Decoding checks everything [`MobileEvent::validate`](super::MobileEvent::validate) checks, so
//! a record from another producer that claims this form but breaks it is refused with a reason
//! (a dead letter), never trusted.

use serde::{Deserialize, Serialize};

use crate::Invalid;

/// The record header that names a mobile event's encoding.
pub const ENCODING_HEADER: &str = "enc";
/// [`ENCODING_HEADER`]'s value for version 1 of the binary layout.
pub const BINARY_V1: &[u8] = b"mobile/1";

/// Flag bit of acceloX; acceloY and acceloZ are the next two.
const ACCELO_X: u8 = 1;
const LOCKED_KNOWN: u8 = 8;
const LOCKED: u8 = 16;
/// Flags, position.
const FIXED: usize = 1 + 16;

/// How mobile events are written into their topic (`[mobile] topic_encoding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// The compact layout of this module: readers skip parsing text.
    #[default]
    Binary,
    /// One JSON object per record with the reference field names: for consumers outside
    /// Tributary (another Kafka client, a person reading `log tail`).
    Json,
}

impl Encoding {
    /// The encoding a record's [`ENCODING_HEADER`] value names (`None`: no such header, JSON).
    pub fn of_header(value: Option<&[u8]>) -> Result<Self, Invalid> {
        match value {
            None => Ok(Self::Json),
            Some(BINARY_V1) => Ok(Self::Binary),
            Some(other) => Err(format!(
                "unknown event encoding '{}' in header {ENCODING_HEADER}",
                crate::clip(&String::from_utf8_lossy(other))
            )
            .into()),
        }
    }

    /// The header a record in this encoding carries: name and value (`None` for JSON).
    pub fn header(self) -> Option<(&'static str, &'static [u8])> {
        match self {
            Self::Binary => Some((ENCODING_HEADER, BINARY_V1)),
            Self::Json => None,
        }
    }
}

/// The fields of an event, borrowed: what a parser has in hand before it encodes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EventRef<'a> {
    pub timepoint: &'a str,
    pub device_id: &'a str,
    /// acceloX, acceloY, acceloZ: GPS traces have none.
    pub accelo: [Option<f64>; 3],
    pub latitude: f64,
    pub longitude: f64,
    pub locked: Option<bool>,
}

impl EventRef<'_> {
    /// Appends the binary form (the caller has validated the event).
    pub fn write_binary(&self, out: &mut Vec<u8>) {
        out.reserve(self.binary_len());
        let mut flags = 0;
        for (i, a) in self.accelo.iter().enumerate() {
            if a.is_some() {
                flags |= ACCELO_X << i;
            }
        }
        match self.locked {
            Some(true) => flags |= LOCKED_KNOWN | LOCKED,
            Some(false) => flags |= LOCKED_KNOWN,
            None => {}
        }
        out.push(flags);
        out.extend_from_slice(&self.latitude.to_le_bytes());
        out.extend_from_slice(&self.longitude.to_le_bytes());
        for a in self.accelo.iter().flatten() {
            out.extend_from_slice(&a.to_le_bytes());
        }
        for text in [self.timepoint, self.device_id] {
            out.extend_from_slice(&(text.len() as u32).to_le_bytes());
            out.extend_from_slice(text.as_bytes());
        }
    }

    /// The size of the binary form.
    pub fn binary_len(&self) -> usize {
        FIXED + 8 * self.accelo.iter().flatten().count() + 8 + self.timepoint.len() + self.device_id.len()
    }

    /// The binary form in a new buffer.
    pub fn to_binary(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.binary_len());
        self.write_binary(&mut out);
        out
    }
}

/// The validated position `[latitude, longitude]` of an event in binary form: two reads at
/// fixed places, after the checks of [`decode`] (the strings are checked too, so that a record
/// is accepted or refused the same whichever reader reads it).
pub fn position(bytes: &[u8]) -> Result<[f64; 2], Invalid> {
    decode(bytes).map(|e| [e.latitude, e.longitude])
}

/// Reads and validates an event in binary form.
pub fn decode(bytes: &[u8]) -> Result<EventRef<'_>, Invalid> {
    let bad = |why: &str| Invalid::from(format!("not a binary mobile event: {why}"));
    let flags = *bytes.first().ok_or_else(|| bad("empty"))?;
    if flags & !(0b111 | LOCKED_KNOWN | LOCKED) != 0 || (flags & LOCKED != 0 && flags & LOCKED_KNOWN == 0) {
        return Err(bad(&format!("flags {flags:#04x}")));
    }
    let f64_at = |i: usize| bytes.get(i..i + 8).map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")));
    let too_short = || bad(&format!("{} bytes are too few", bytes.len()));
    let latitude = f64_at(1).ok_or_else(too_short)?;
    let longitude = f64_at(9).ok_or_else(too_short)?;
    let mut at = FIXED;
    let mut accelo = [None; 3];
    for (i, a) in accelo.iter_mut().enumerate() {
        if flags & (ACCELO_X << i) != 0 {
            *a = Some(f64_at(at).ok_or_else(too_short)?);
            at += 8;
        }
    }
    let mut text = |name: &str| -> Result<&str, Invalid> {
        let len = bytes.get(at..at + 4).ok_or_else(too_short)?;
        let len = u32::from_le_bytes(len.try_into().expect("4 bytes")) as usize;
        let raw = bytes.get(at + 4..).and_then(|rest| rest.get(..len)).ok_or_else(too_short)?;
        at += 4 + len;
        std::str::from_utf8(raw).map_err(|_| Invalid::from(format!("{name} is not UTF-8")))
    };
    let timepoint = text("timepoint")?;
    let device_id = text("deviceId")?;
    if at != bytes.len() {
        return Err(bad(&format!("{} bytes after the device id", bytes.len() - at)));
    }
    let locked = (flags & LOCKED_KNOWN != 0).then_some(flags & LOCKED != 0);
    let event = EventRef { timepoint, device_id, accelo, latitude, longitude, locked };
    validate(&event)?;
    Ok(event)
}

/// The checks of [`MobileEvent::validate`](super::MobileEvent::validate), on borrowed fields.
pub(super) fn validate(e: &EventRef) -> Result<(), Invalid> {
    if e.device_id.is_empty() {
        return Err("deviceId is empty".into());
    }
    if e.timepoint.is_empty() {
        return Err("timepoint is empty".into());
    }
    for (name, v) in ["acceloX", "acceloY", "acceloZ"].into_iter().zip(e.accelo) {
        if v.is_some_and(|v| !v.is_finite()) {
            return Err(format!("{name} is not a finite number").into());
        }
    }
    if !(e.latitude.is_finite() && e.latitude.abs() <= 90.0) {
        return Err(format!("latitude {} is outside -90..90", e.latitude).into());
    }
    if !(e.longitude.is_finite() && e.longitude.abs() <= 180.0) {
        return Err(format!("longitude {} is outside -180..180", e.longitude).into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const EVENT: EventRef<'static> = EventRef {
        timepoint: "2020-06-01 12:00:00.123",
        device_id: "dev-00042",
        accelo: [Some(0.12), Some(-0.5), Some(9.81)],
        latitude: 52.52,
        longitude: 13.405,
        locked: Some(false),
    };

    #[test]
    fn the_layout_is_the_documented_one() {
        let bytes = EVENT.to_binary();
        assert_eq!(bytes.len(), EVENT.binary_len());
        assert_eq!(bytes[0], 0b111 | LOCKED_KNOWN);
        assert_eq!(&bytes[1..9], &52.52f64.to_le_bytes());
        assert_eq!(&bytes[9..17], &13.405f64.to_le_bytes());
        assert_eq!(&bytes[17..25], &0.12f64.to_le_bytes());
        assert_eq!(&bytes[41..45], &23u32.to_le_bytes());
        assert_eq!(&bytes[45..68], b"2020-06-01 12:00:00.123");
        assert_eq!(&bytes[68..72], &9u32.to_le_bytes());
        assert_eq!(&bytes[72..], b"dev-00042");
        assert_eq!(decode(&bytes).unwrap(), EVENT);
        assert_eq!(position(&bytes).unwrap(), [52.52, 13.405]);
    }

    #[test]
    fn optional_fields_round_trip() {
        for (accelo, locked) in [
            ([None; 3], None),
            ([None; 3], Some(true)),
            ([Some(0.0), Some(-0.0), Some(1e300)], None),
            ([None, Some(2.5), None], Some(false)),
        ] {
            let e = EventRef { accelo, locked, ..EVENT };
            assert_eq!(decode(&e.to_binary()).unwrap(), e);
        }
        let gps = EventRef { accelo: [None; 3], locked: None, ..EVENT };
        assert_eq!(gps.to_binary().len(), 17 + 8 + 23 + 9);
    }

    #[test]
    fn the_header_names_the_encoding() {
        assert_eq!(Encoding::of_header(None).unwrap(), Encoding::Json);
        assert_eq!(Encoding::of_header(Some(BINARY_V1)).unwrap(), Encoding::Binary);
        assert!(
            Encoding::of_header(Some(b"mobile/2")).unwrap_err().reason.contains("unknown event encoding")
        );
        assert_eq!(Encoding::Binary.header(), Some((ENCODING_HEADER, BINARY_V1)));
        assert_eq!(Encoding::Json.header(), None);
    }

    #[test]
    fn what_breaks_the_layout_or_the_event_is_refused_with_a_reason() {
        let good = EVENT.to_binary();
        let with = |f: &dyn Fn(&mut Vec<u8>)| {
            let mut b = good.clone();
            f(&mut b);
            decode(&b).map(|_| ()).unwrap_err().reason
        };
        assert!(with(&|b| b.clear()).contains("empty"));
        assert!(with(&|b| b[0] |= 0x80).contains("flags"));
        assert!(with(&|b| b[0] = LOCKED).contains("flags"), "locked without known");
        assert!(with(&|b| b.truncate(30)).contains("too few"));
        assert!(with(&|b| b.truncate(b.len() - 1)).contains("too few"));
        assert!(with(&|b| b.push(0)).contains("1 bytes after"));
        assert!(with(&|b| b[41..45].copy_from_slice(&u32::MAX.to_le_bytes())).contains("too few"));
        assert!(with(&|b| b[45] = 0xff).contains("timepoint is not UTF-8"));
        assert!(with(&|b| b[1..9].copy_from_slice(&90.5f64.to_le_bytes())).contains("latitude 90.5"));
        assert!(with(&|b| b[9..17].copy_from_slice(&f64::NAN.to_le_bytes())).contains("longitude NaN"));
        assert!(with(&|b| b[25..33].copy_from_slice(&f64::INFINITY.to_le_bytes())).contains("acceloY"));
        let empty_device = EventRef { device_id: "", ..EVENT }.to_binary();
        assert!(decode(&empty_device).unwrap_err().reason.contains("deviceId is empty"));
    }

    proptest! {
        #[test]
        fn any_valid_event_round_trips(
            timepoint in "\\PC{1,30}",
            device_id in "\\PC{1,20}",
            accelo in proptest::array::uniform3(proptest::option::of(-1e6f64..1e6)),
            latitude in -90.0f64..=90.0,
            longitude in -180.0f64..=180.0,
            locked in proptest::option::of(any::<bool>()),
        ) {
            let e = EventRef { timepoint: &timepoint, device_id: &device_id, accelo, latitude, longitude, locked };
            let bytes = e.to_binary();
            prop_assert_eq!(decode(&bytes).unwrap(), e);
        }

        #[test]
        fn any_bytes_decode_or_are_refused_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
            let _ = decode(&bytes);
        }
    }
}

//! Mobile events out of log records, in whichever encoding the record's header names
//! ([`tributary_schema::mobile::Encoding`]): every reader of the mobile topic goes through here.
//! Each function takes a [`Record`](tributary_log::Record) or a borrowed
//! [`RecordRef`] (from a [`RecordsView`](tributary_log::RecordsView)).

use tributary_log::RecordRef;
use tributary_schema::mobile::Encoding;
use tributary_schema::mobile::binary::ENCODING_HEADER;
use tributary_schema::{Invalid, MobileEvent, TimedPosition};

/// The encoding of a mobile event's record (JSON unless its header says otherwise).
pub fn encoding<'a>(record: impl Into<RecordRef<'a>>) -> Result<Encoding, Invalid> {
    Encoding::of_header(record.into().headers.get(ENCODING_HEADER))
}

/// The validated `[latitude, longitude]` of the event in `record`.
pub fn position<'a>(record: impl Into<RecordRef<'a>>) -> Result<[f64; 2], Invalid> {
    let r = record.into();
    MobileEvent::position(r.value, encoding(r)?)
}

/// The validated position, device and time of the event in `record`.
pub fn timed_position<'a>(record: impl Into<RecordRef<'a>>) -> Result<TimedPosition, Invalid> {
    let r = record.into();
    MobileEvent::timed_position(r.value, encoding(r)?)
}

/// The validated event in `record`.
pub fn event<'a>(record: impl Into<RecordRef<'a>>) -> Result<MobileEvent, Invalid> {
    let r = record.into();
    MobileEvent::decode(r.value, encoding(r)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use tributary_log::Record;

    #[test]
    fn the_header_decides_how_a_record_is_read() {
        let line =
            br#"{"timepoint":"2020-06-01 12:00:00.000","deviceId":"d","latitude":52.5,"longitude":13.4}"#;
        let e = MobileEvent::from_json(line).unwrap();
        let json = Record::new(Bytes::from(e.to_json()));
        let (name, value) = Encoding::Binary.header().unwrap();
        let binary = Record::new(Bytes::from(e.encode(Encoding::Binary).value))
            .with_header(name, Bytes::from_static(value));
        for r in [&json, &binary] {
            assert_eq!(event(r).unwrap(), e);
            assert_eq!(position(r).unwrap(), [52.5, 13.4]);
            assert_eq!(timed_position(r).unwrap().time_ms, 1_591_012_800_000);
        }
        let unlabelled = Record::new(binary.value.clone());
        assert!(position(&unlabelled).unwrap_err().reason.contains("not a JSON event"));
        let unknown = json.clone().with_header(name, Bytes::from_static(b"mobile/9"));
        assert!(position(&unknown).unwrap_err().reason.contains("unknown event encoding 'mobile/9'"));
    }
}

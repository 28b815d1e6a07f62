//! The log record of a mobile event: keyed by its device (one device's events share a
//! partition, in order), its value in the topic's encoding, labelled with that encoding's header
//! so that every reader knows how to read it.

use std::sync::{Arc, LazyLock};

use bytes::Bytes;
use tributary_log::{Header, Record};
use tributary_schema::mobile::{EncodedEvent, Encoding};

/// The encoding header's name, shared by every record (a clone, not an allocation, per event).
static ENCODING_HEADER: LazyLock<Arc<str>> =
    LazyLock::new(|| Arc::from(tributary_schema::mobile::binary::ENCODING_HEADER));

/// The record of `event`, stamped `timestamp`.
pub fn mobile_record(event: EncodedEvent, timestamp: i64) -> Record {
    let headers = encoding_header(event.encoding).into_iter().collect();
    Record { key: Some(Bytes::from(event.device_id)), value: Bytes::from(event.value), headers, timestamp }
}

/// The header that names `encoding` (none for JSON), its name shared by every record.
pub fn encoding_header(encoding: Encoding) -> Option<Header> {
    let (_, value) = encoding.header()?;
    Some(Header { name: ENCODING_HEADER.clone(), value: Bytes::from_static(value) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tributary_schema::MobileEvent;
    use tributary_schema::mobile::binary::ENCODING_HEADER;

    #[test]
    fn a_record_says_its_encoding() {
        let line = br#"{"timepoint":"t","deviceId":"dev-1","latitude":52.5,"longitude":13.4}"#;
        for encoding in [Encoding::Json, Encoding::Binary] {
            let e = MobileEvent::encode_json_line(line, encoding).unwrap();
            let r = mobile_record(e.clone(), 7);
            assert_eq!((r.key.as_deref(), &r.value[..], r.timestamp), (Some(&b"dev-1"[..]), &e.value[..], 7));
            let header = r.headers.iter().find(|h| &*h.name == ENCODING_HEADER).map(|h| &h.value[..]);
            let read = Encoding::of_header(header).unwrap();
            assert_eq!(read, encoding);
        }
    }
}

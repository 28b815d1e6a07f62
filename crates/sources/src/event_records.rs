//! The log record of a mobile event: keyed by its device (one device's events share a
//! partition, in order), its value in the topic's encoding, labelled with that encoding's header
//! so that every reader knows how to read it.

use std::sync::{Arc, LazyLock};

use bytes::Bytes;
use tributary_log::{Header, Record};
use tributary_schema::mobile::EncodedEvent;

/// The encoding header's name, shared by every record (a clone, not an allocation, per event).
static ENCODING_HEADER: LazyLock<Arc<str>> =
    LazyLock::new(|| Arc::from(tributary_schema::mobile::binary::ENCODING_HEADER));

/// The record of `event`, stamped `timestamp`, with room for `extra_headers` more headers.
pub fn mobile_record(event: EncodedEvent, timestamp: i64, extra_headers: usize) -> Record {
    let mut headers = Vec::with_capacity(1 + extra_headers);
    if let Some((_, value)) = event.encoding.header() {
        headers.push(Header { name: ENCODING_HEADER.clone(), value: Bytes::from_static(value) });
    }
    Record { key: Some(Bytes::from(event.device_id)), value: Bytes::from(event.value), headers, timestamp }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tributary_schema::MobileEvent;
    use tributary_schema::mobile::Encoding;
    use tributary_schema::mobile::binary::ENCODING_HEADER;

    #[test]
    fn a_record_says_its_encoding() {
        let line = br#"{"timepoint":"t","deviceId":"dev-1","latitude":52.5,"longitude":13.4}"#;
        for encoding in [Encoding::Json, Encoding::Binary] {
            let e = MobileEvent::encode_json_line(line, encoding).unwrap();
            let r = mobile_record(e.clone(), 7, 0);
            assert_eq!((r.key.as_deref(), &r.value[..], r.timestamp), (Some(&b"dev-1"[..]), &e.value[..], 7));
            let header = r.headers.iter().find(|h| &*h.name == ENCODING_HEADER).map(|h| &h.value[..]);
            let read = Encoding::of_header(header).unwrap();
            assert_eq!(read, encoding);
        }
    }
}

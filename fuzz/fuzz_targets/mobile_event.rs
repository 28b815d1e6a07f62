//! A mobile event as a record of the log (what other producers may write to the topic), in
//! JSON and in the binary layout: any bytes are an event or an error, never a panic; the strict
//! scanner and serde agree; an event read either way writes back to the same event.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tributary_schema::MobileEvent;
use tributary_schema::mobile::Encoding;

fuzz_target!(|data: &[u8]| {
    for encoding in [Encoding::Json, Encoding::Binary] {
        let position = MobileEvent::position(data, encoding);
        match MobileEvent::decode(data, encoding) {
            Ok(event) => {
                assert_eq!(position.expect("a full event has a position"), [event.latitude, event.longitude]);
                for again in [Encoding::Json, Encoding::Binary] {
                    let written = event.encode(again);
                    let back = MobileEvent::decode(&written.value, again).expect("what was written reads back");
                    assert_eq!(back.device_id, event.device_id);
                    assert_eq!((back.latitude, back.longitude), (event.latitude, event.longitude));
                }
            }
            Err(_) => assert!(position.is_err(), "a position of an event that does not decode"),
        }
    }
});

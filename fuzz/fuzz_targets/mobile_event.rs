//! A mobile event as a record of the log (what other producers may write to the topic): any
//! bytes are an event or an error, never a panic; the strict scanner and serde agree.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tributary_schema::MobileEvent;

fuzz_target!(|data: &[u8]| {
    let position = MobileEvent::position_from_json(data);
    if let Ok(event) = MobileEvent::from_json(data) {
        let p = position.expect("a full event has a position");
        let _ = (p, event);
    }
});

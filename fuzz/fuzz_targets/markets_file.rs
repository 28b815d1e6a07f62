//! The Markets × COVID readers (ECDC daily CSV/JSON, ECDC weekly, Yahoo and FSE prices, and the
//! format sniffer): any bytes give rows and dead letters, or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tributary_sources::formats::{Format, parse};

const FORMATS: [Option<&str>; 6] =
    [None, Some("ecdc-daily-csv"), Some("ecdc-daily-json"), Some("ecdc-weekly"), Some("yahoo"), Some("fse")];

fuzz_target!(|data: &[u8]| {
    let Some((&choice, content)) = data.split_first() else { return };
    let format =
        FORMATS[choice as usize % FORMATS.len()].map(|n| Format::from_name(n).expect("a known format"));
    if let Ok(parsed) = parse(content, format, "fuzz", "^FUZZ", 0) {
        let _ = parsed.rows.len();
    }
});

//! The Markets × COVID readers (ECDC daily CSV/JSON, ECDC weekly, Yahoo and FSE prices, and the
//! format and dialect sniffers, multi-share files): any bytes give rows and dead letters, or an
//! error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tributary_sources::formats::{Format, ReadOptions, parse};

const FORMATS: [Option<&str>; 6] =
    [None, Some("ecdc-daily-csv"), Some("ecdc-daily-json"), Some("ecdc-weekly"), Some("yahoo"), Some("fse")];

fuzz_target!(|data: &[u8]| {
    let Some((&choice, content)) = data.split_first() else { return };
    let format =
        FORMATS[choice as usize % FORMATS.len()].map(|n| Format::from_name(n).expect("a known format"));
    // The high bit picks a share of a multi-share file instead of naming the series.
    let symbol = if choice & 0x80 != 0 { "SAP=SAP.DE" } else { "^FUZZ" };
    if let Ok(parsed) = parse(content, "fuzz", &ReadOptions::new(format, symbol), 0) {
        let _ = parsed.rows.len();
    }
});

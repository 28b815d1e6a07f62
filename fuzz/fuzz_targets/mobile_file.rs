//! The mobile file reader (CSV and NDJSON, every dialect): any bytes give events and dead
//! letters, or an error for the whole file, never a panic; every event it accepts is on Earth.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tributary_sources::mobile_file::{FileFormat, ParseOptions, Parsed, parse_mobile_file};
use tributary_schema::mobile::Encoding;
use tributary_sources::mobile_input::{FieldName, InputSettings, Profile};

fuzz_target!(|data: &[u8]| {
    let Some((&choice, content)) = data.split_first() else { return };
    let format = match choice % 3 {
        0 => None,
        1 => Some(FileFormat::Csv),
        _ => Some(FileFormat::Ndjson),
    };
    // The profiles, and a positional mapping for files without a header.
    let input = match (choice >> 2) % 4 {
        0 => InputSettings::default(),
        1 => InputSettings { profile: Profile::Reference, ..Default::default() },
        2 => InputSettings { profile: Profile::Geolife, ..Default::default() },
        _ => InputSettings {
            columns: vec![FieldName::Device, FieldName::Time, FieldName::Longitude, FieldName::Latitude],
            ..Default::default()
        },
    };
    let log_encoding = if choice & 0x10 == 0 { Encoding::Binary } else { Encoding::Json };
    let opts = ParseOptions { input, max_line_bytes: 4096, log_encoding };
    let _ = parse_mobile_file(content, "fuzz", None, format, &opts, 0, |p| {
        if let Parsed::Event { event, .. } = p {
            assert!((-90.0..=90.0).contains(&event.latitude) && (-180.0..=180.0).contains(&event.longitude));
            assert_eq!(event.encoding, log_encoding);
            let back = tributary_schema::MobileEvent::decode(&event.value, event.encoding)
                .expect("an accepted event reads back");
            assert_eq!((back.latitude, back.longitude), (event.latitude, event.longitude));
        }
    });
});

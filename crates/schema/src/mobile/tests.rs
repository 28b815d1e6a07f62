use super::*;

fn event() -> MobileEvent {
    MobileEvent {
        timepoint: "2020-06-01 12:00:00.123".into(),
        device_id: "dev-00042".into(),
        accelo_x: Some(0.12),
        accelo_y: Some(-0.5),
        accelo_z: Some(9.81),
        latitude: 52.52,
        longitude: 13.405,
        locked: Some(true),
    }
}

#[test]
fn an_event_without_accelerometer_or_locked_flag_is_valid() {
    let gps = br#"{"timepoint":"2008-10-23 02:53:04.000","deviceId":"000","latitude":39.984702,"longitude":116.318417}"#;
    let e = MobileEvent::from_json(gps).unwrap();
    assert_eq!((e.accelo_x, e.locked, e.latitude), (None, None, 39.984702));
    assert_eq!(e.to_json(), gps.to_vec(), "written back as it came");
    let mut csv = Vec::new();
    e.write_csv_line(&mut csv);
    assert_eq!(csv, b"2008-10-23 02:53:04.000,000,,,,39.984702,116.318417,\r\n");
    let spaced = br#"{"deviceId":"000", "latitude":39.9, "longitude":116.3, "timepoint":"t", "locked": 1}"#;
    assert_eq!(MobileEvent::from_json(spaced).unwrap().locked, Some(true));
}

#[test]
fn json_round_trip_and_lenient_scalars() {
    let e = event();
    assert_eq!(MobileEvent::from_json(&e.to_json()).unwrap(), e);
    let text = br#"{"timepoint":"t","deviceId":7,"acceloX":"0.5","acceloY":0,"acceloZ":1,"latitude":"52.5","longitude":13,"locked":"false","extra":[1]}"#;
    let e = MobileEvent::from_json(text).unwrap();
    assert_eq!((e.device_id.as_str(), e.accelo_x, e.latitude, e.locked), ("7", Some(0.5), 52.5, Some(false)));
}

#[test]
fn json_errors_name_the_field() {
    let cases: [(&[u8], &str); 7] = [
        (br#"{"timepoint":"t","acceloX":0,"acceloY":0,"acceloZ":0,"latitude":1,"longitude":1,"locked":true}"#, "missing field deviceId"),
        (br#"{"timepoint":"t","deviceId":"d","acceloX":0,"acceloY":0,"acceloZ":0,"latitude":"abc","longitude":1,"locked":true}"#, "latitude 'abc' is not a number"),
        (br#"{"timepoint":"t","deviceId":"d","acceloX":0,"acceloY":0,"acceloZ":0,"latitude":91,"longitude":1,"locked":true}"#, "latitude 91 is outside"),
        (br#"{"timepoint":"t","deviceId":"d","acceloX":0,"acceloY":0,"acceloZ":0,"latitude":1,"longitude":-180.5,"locked":true}"#, "longitude -180.5 is outside"),
        (br#"{"timepoint":"t","deviceId":"d","acceloX":true,"acceloY":0,"acceloZ":0,"latitude":1,"longitude":1,"locked":true}"#, "acceloX is a boolean"),
        (br#"{"timepoint":"t","deviceId":"d","acceloX":0,"acceloY":0,"acceloZ":0,"latitude":1,"longitude":1,"locked":"maybe"}"#, "locked 'maybe'"),
        (b"\xff\xfe garbage", "not a JSON event"),
    ];
    for (input, expected) in cases {
        let err = MobileEvent::from_json(input).unwrap_err();
        assert!(err.reason.contains(expected), "{err} should contain {expected}");
    }
}

#[test]
fn csv_by_header_name_with_quotes_crlf_and_swapped_columns() {
    let layout = CsvLayout::from_header(
        b"\xef\xbb\xbfdeviceId, Latitude ,longitude,timepoint,acceloX,acceloY,acceloZ,locked,extra\r",
        false,
    )
    .unwrap();
    let mut f = CsvFields::default();
    let e = layout.parse(b"\"dev,1\",52.5,13.4,\"2020-06-01 12:00:00.000\",0,0,9.8,0,x\r", &mut f).unwrap();
    assert_eq!((e.device_id.as_str(), e.latitude, e.longitude, e.locked), ("dev,1", 52.5, 13.4, Some(false)));

    // The reference generator's layout: the "latitude" column holds the longitude.
    let swapped = CsvLayout::from_header(CSV_HEADER.as_bytes(), true).unwrap();
    let e = swapped.parse(b"t,d,0,0,0,13.4,52.5,true", &mut f).unwrap();
    assert_eq!((e.latitude, e.longitude), (52.5, 13.4));

    let mut line = Vec::new();
    event().write_csv_line(&mut line);
    let plain = CsvLayout::from_header(CSV_HEADER.as_bytes(), false).unwrap();
    assert!(line.ends_with(b"\r\n"));
    assert_eq!(plain.parse(&line[..line.len() - 1], &mut f).unwrap(), event());
}

#[test]
fn csv_errors_are_reasons_not_panics() {
    let layout = CsvLayout::from_header(CSV_HEADER.as_bytes(), false).unwrap();
    let mut f = CsvFields::default();
    for (line, expected) in [
        (&b"t,d,0,0,0,52.5"[..], "6 columns"),
        (b"t,d,0,0,0,north,13,true", "latitude 'north'"),
        (b"t,d,0,0,0,95,13,true", "outside -90..90"),
        // csv-core closes an unterminated quote at the end of the line: one long field.
        (b"t,\"unterminated,0,0,0,1,1,true", "2 columns"),
        (b"t,d,0,0,0,nan,13,true", "latitude NaN"),
        (b"", "0 columns"),
        (b"\x00\x01\x02,\xff,\xfe", "columns"),
    ] {
        let err = layout.parse(line, &mut f).unwrap_err();
        assert!(err.reason.contains(expected), "{err} should contain {expected}");
    }
    let err = CsvLayout::from_header(b"a,b,c", false).unwrap_err();
    assert!(err.reason.contains("no column 'timepoint'"), "{err}");
}

// csv-core skips a byte-order mark at the start of input, i.e. of every line here.
proptest::proptest! {
    #[test]
    fn csv_fields_round_trip_any_text(fields in proptest::collection::vec("[^\r\n\u{feff}]{0,12}", 1..6)) {
        let line: Vec<String> = fields.iter().map(|f| {
            if f.contains([',', '"']) { format!("\"{}\"", f.replace('"', "\"\"")) } else { f.clone() }
        }).collect();
        let line = line.join(",");
        let mut split = CsvFields::default();
        split.split(line.as_bytes()).unwrap();
        if line.is_empty() {
            // An empty line is no record at all.
            proptest::prop_assert_eq!(split.len(), 0);
            return Ok(());
        }
        proptest::prop_assert_eq!(split.len(), fields.len());
        for (i, f) in fields.iter().enumerate() {
            proptest::prop_assert_eq!(split.get(i), f.as_bytes());
        }
    }
}

proptest::proptest! {
    #[test]
    fn csv_fields_fast_path_splits_like_csv_core(line in "[^\r\n\"]{0,40}") {
        let (mut fast, mut general) = (CsvFields::default(), CsvFields::default());
        fast.split(line.as_bytes()).unwrap();
        general.split_quoted(line.as_bytes()).unwrap();
        proptest::prop_assert_eq!(fast.len(), general.len());
        for i in 0..fast.len() {
            proptest::prop_assert_eq!(fast.get(i), general.get(i));
        }
    }
}

#[test]
fn the_position_fast_path_agrees_with_the_full_parser() {
    let e = event();
    assert_eq!(MobileEvent::position_from_json(&e.to_json()).unwrap(), [e.latitude, e.longitude]);
    // Lenient forms go the slow way and still work; errors are the full parser's.
    let lenient = br#"{"timepoint":"t","deviceId":7,"acceloX":"0.5","acceloY":0,"acceloZ":1,"latitude":"52.5","longitude":13,"locked":"false"}"#;
    assert_eq!(MobileEvent::position_from_json(lenient).unwrap(), [52.5, 13.0]);
    let escaped = br#"{"timepoint":"t","deviceId":"d\u00e9","acceloX":0,"acceloY":0,"acceloZ":1,"latitude":1,"longitude":2,"locked":true}"#;
    assert_eq!(MobileEvent::position_from_json(escaped).unwrap(), [1.0, 2.0]);
    let out_of_range = br#"{"timepoint":"t","deviceId":"d","acceloX":0,"acceloY":0,"acceloZ":1,"latitude":91,"longitude":2,"locked":true}"#;
    assert_eq!(
        MobileEvent::position_from_json(out_of_range),
        MobileEvent::from_json(out_of_range).map(|_| [0.0; 2])
    );
    let empty_id = br#"{"timepoint":"t","deviceId":"","acceloX":0,"acceloY":0,"acceloZ":1,"latitude":1,"longitude":2,"locked":true}"#;
    assert!(MobileEvent::position_from_json(empty_id).unwrap_err().reason.contains("deviceId is empty"));
    assert!(MobileEvent::position_from_json(b"nope").is_err());
}

#[test]
fn encoded_csv_decodes_to_the_parsed_event_and_keeps_number_text() {
    let layout = CsvLayout::from_header(CSV_HEADER.as_bytes(), false).unwrap();
    let mut f = CsvFields::default();
    for line in [
        &b"2020-06-01 12:00:00.000,\"dev \"\"7\"\"\",0.10,-0.5,9.81,52.520000,13.405,true"[..],
        b"t,d,+1,.5,5.,1e1,-0,0",
        b" t , d , 0 , 0 , 0 , 48.1 , 11.5 , False ",
    ] {
        let parsed = layout.parse(line, &mut f).unwrap();
        for encoding in [Encoding::Json, Encoding::Binary] {
            let encoded = layout.encode(line, &mut f, encoding).unwrap();
            assert_eq!(encoded.encoding, encoding);
            assert_eq!(
                MobileEvent::decode(&encoded.value, encoding).unwrap(),
                parsed,
                "{}",
                String::from_utf8_lossy(&encoded.value)
            );
            assert_eq!((encoded.latitude, encoded.longitude), (parsed.latitude, parsed.longitude));
            assert_eq!(encoded.device_id, parsed.device_id);
        }
    }
    let e = layout.encode(b"t,d,0.10,0,0,52.520000,13.4,true", &mut f, Encoding::Json).unwrap();
    assert!(String::from_utf8(e.value).unwrap().contains("\"latitude\":52.520000"), "number text is kept");
    for (line, expected) in [
        (&b"t,d,0,0,0,95,13,true"[..], "outside -90..90"),
        (b"t,,0,0,0,1,1,true", "deviceId is empty"),
        (b"t,d,0,0,0,1,1,maybe", "locked"),
        (b"t,d,x,0,0,1,1,true", "acceloX 'x' is not a number"),
    ] {
        for encoding in [Encoding::Json, Encoding::Binary] {
            let reason = layout.encode(line, &mut f, encoding).unwrap_err().reason;
            assert!(reason.contains(expected), "{encoding:?}: {reason}");
        }
    }
}

#[test]
fn canonical_ndjson_lines_pass_through_and_others_are_normalised() {
    let canonical = event().to_json();
    let e = MobileEvent::encode_json_line(&canonical, Encoding::Json).unwrap();
    assert_eq!(e.value, canonical);
    let extra = br#"{"timepoint":"t","deviceId":"d","acceloX":0,"acceloY":0,"acceloZ":1,"latitude":1,"longitude":2,"locked":true,"secret":"x"}"#;
    let e = MobileEvent::encode_json_line(extra, Encoding::Json).unwrap();
    assert!(
        !String::from_utf8(e.value.clone()).unwrap().contains("secret"),
        "unknown fields are not carried"
    );
    assert_eq!(MobileEvent::from_json(&e.value).unwrap().device_id, "d");
    assert!(MobileEvent::encode_json_line(b"{}", Encoding::Json).is_err());
}

#[test]
fn ndjson_lines_in_binary_decode_to_the_event_the_json_gives() {
    let partial = br#"{"timepoint":"t","deviceId":"d","acceloY":"0.5","latitude":1,"longitude":2}"#;
    let spaced = br#"{"deviceId":"x", "latitude":-1.5e1, "longitude":2, "timepoint":"t", "locked":0}"#;
    for line in [&event().to_json()[..], spaced, partial] {
        let json = MobileEvent::from_json(line).unwrap();
        let e = MobileEvent::encode_json_line(line, Encoding::Binary).unwrap();
        assert_eq!((e.encoding, e.device_id.as_str()), (Encoding::Binary, json.device_id.as_str()));
        assert_eq!(MobileEvent::decode(&e.value, Encoding::Binary).unwrap(), json);
        assert_eq!(
            MobileEvent::position(&e.value, Encoding::Binary).unwrap(),
            [json.latitude, json.longitude]
        );
        assert_eq!(json.encode(Encoding::Binary), e);
        assert_eq!(MobileEvent::decode(&json.encode(Encoding::Json).value, Encoding::Json).unwrap(), json);
    }
    let timed = MobileEvent::encode_json_line(
        br#"{"timepoint":"2008-10-23 02:53:04.000","deviceId":"000","latitude":39.98,"longitude":116.31}"#,
        Encoding::Binary,
    )
    .unwrap();
    let t = MobileEvent::timed_position(&timed.value, Encoding::Binary).unwrap();
    assert_eq!((t.device_id.as_str(), t.time_ms, t.position), ("000", 1_224_730_384_000, [39.98, 116.31]));
    assert!(MobileEvent::encode_json_line(b"{}", Encoding::Binary).is_err());
    // A JSON value read as binary, and the reverse, are refused with a reason.
    assert!(MobileEvent::position(&event().to_json(), Encoding::Binary).is_err());
    assert!(MobileEvent::position(&event().encode(Encoding::Binary).value, Encoding::Json).is_err());
}

proptest::proptest! {
    #[test]
    fn the_canonical_scanner_reads_what_serde_reads(
        timepoint in "[^\u{0}-\u{1f}]{1,12}",
        device_id in "\\PC{1,12}",
        numbers in proptest::array::uniform5(proptest::num::f64::NORMAL | proptest::num::f64::SUBNORMAL | proptest::num::f64::ZERO),
        locked: bool,
        sensors: bool,
    ) {
        // GPS traces have neither accelerometer nor locked flag.
        let e = MobileEvent {
            timepoint,
            device_id,
            accelo_x: sensors.then_some(numbers[0]),
            accelo_y: sensors.then_some(numbers[1]),
            accelo_z: sensors.then_some(numbers[2]),
            latitude: numbers[3] % 90.0,
            longitude: numbers[4] % 180.0,
            locked: sensors.then_some(locked),
        };
        let json = e.to_json();
        let general = MobileEvent::from_any_json(&json).unwrap();
        proptest::prop_assert_eq!(&general, &e);
        if let Some(fast) = super::canonical::scan(&json) {
            proptest::prop_assert_eq!(MobileEvent::from_canonical(&fast), e);
        } else {
            // Only escapes make serde_json's output non-canonical.
            proptest::prop_assert!(json.contains(&b'\\'), "{}", String::from_utf8_lossy(&json));
        }
    }
}

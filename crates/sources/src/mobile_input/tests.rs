use std::path::{Path, PathBuf};

use tributary_schema::MobileEvent;

use super::*;
use crate::mobile_file::{FileSummary, ParseOptions, Parsed, parse_mobile_file};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/mobile").join(name)
}

/// What reading a file gave: the summary (or why the file is refused), the events and the dead
/// letters' positions and reasons.
type Read = (Result<FileSummary, String>, Vec<MobileEvent>, Vec<(String, String)>);

fn read(name: &str, input: InputSettings) -> Read {
    let path = fixture(name);
    let content = std::fs::read(&path).unwrap();
    let (mut events, mut dead) = (Vec::new(), Vec::new());
    let opts = ParseOptions { input, ..Default::default() };
    let summary = parse_mobile_file(&content[..], "t", Some(&path), None, &opts, 0, |p| match p {
        Parsed::Event { event, .. } => {
            events.push(MobileEvent::decode(&event.value, event.encoding).unwrap())
        }
        Parsed::Dead(d) => dead.push((d.position, d.reason)),
    })
    .map_err(|e| e.to_string());
    (summary, events, dead)
}

fn positions(events: &[MobileEvent]) -> Vec<(&str, &str, f64, f64)> {
    events.iter().map(|e| (e.device_id.as_str(), e.timepoint.as_str(), e.latitude, e.longitude)).collect()
}

#[test]
fn common_header_names_need_no_settings() {
    let (summary, events, dead) = read("lat_lng_datetime_uid.csv", InputSettings::default());
    let summary = summary.unwrap();
    assert_eq!(
        summary.read_as,
        "CSV (UTF-8, ','-separated, header), lat → latitude, lng → longitude, datetime → time, uid → device"
    );
    assert_eq!((summary.events, summary.dead_letters), (4, 1));
    assert_eq!(dead, [("line 5".to_string(), "latitude 'not-a-lat' is not a number".to_string())]);
    assert_eq!(positions(&events)[0], ("u1", "2020-06-01 12:00:00.000", 52.52, 13.405));
    assert_eq!(events[3].timepoint, "2020-06-01 12:00:09.000", "a space instead of T");
    assert!(events.iter().all(|e| e.accelo_x.is_none() && e.locked.is_none()));
}

#[test]
fn iso_times_with_zones_become_utc() {
    let (summary, events, dead) = read("timestamp_device_latitude_longitude.csv", InputSettings::default());
    assert_eq!(summary.unwrap().events, 3);
    assert_eq!(
        positions(&events),
        [
            ("phone-a", "2020-06-01 10:00:00.000", 40.4168, -3.7038),
            ("phone-a", "2020-06-01 10:00:01.250", 40.4169, -3.7039),
            ("phone-b", "2020-06-01 10:00:02.000", 41.3874, 2.1686),
        ]
    );
    assert_eq!(dead.len(), 1);
    assert!(dead[0].1.starts_with("time 'yesterday' is not ISO 8601"), "{dead:?}");
}

#[test]
fn a_phone_export_semicolons_decimal_commas_longitude_first_nanoseconds() {
    let (summary, events, dead) = read("phone_export_semicolon_lon_first.csv", InputSettings::default());
    let summary = summary.unwrap();
    assert!(dead.is_empty(), "{dead:?}");
    assert_eq!(
        summary.read_as,
        "CSV (UTF-8, ';'-separated, header, decimal comma), Lat → latitude, Lon → longitude, Timestamp → time, Device → device"
    );
    assert_eq!(
        positions(&events),
        [
            ("Pixel 4", "2020-06-01 10:00:00.123", 52.52, 13.405),
            ("Pixel 4", "2020-06-01 10:00:01.223", 52.5201, 13.4051),
            ("Pixel 4", "2020-06-01 10:00:02.323", 52.5202, 13.4052),
        ]
    );
}

#[test]
fn a_file_without_a_header_needs_one_setting() {
    let (refused, _, _) = read("taxi_no_header.txt", InputSettings::default());
    let why = refused.unwrap_err();
    assert!(why.contains("no header") && why.contains("--columns"), "{why}");
    let columns = "device,time,longitude,latitude".split(',').map(|c| c.parse().unwrap()).collect();
    let (summary, events, dead) = read("taxi_no_header.txt", InputSettings { columns, ..Default::default() });
    assert_eq!(summary.unwrap().events, 4);
    assert_eq!(positions(&events)[0], ("1", "2008-02-02 15:36:08.000", 39.92123, 116.51172));
    assert_eq!(dead, [("line 5".to_string(), "3 columns, expected at least 4".to_string())]);
    // The same file in Beijing time.
    let columns = "id,time,lon,lat".split(',').map(|c| c.parse().unwrap()).collect();
    let beijing =
        InputSettings { columns, time_zone: "Asia/Shanghai".parse().unwrap(), ..Default::default() };
    let (_, events, _) = read("taxi_no_header.txt", beijing);
    assert_eq!(events[0].timepoint, "2008-02-02 07:36:08.000");
}

#[test]
fn geolife_trajectories_by_extension_or_content_with_the_user_as_device() {
    let name = "geolife/Data/000/Trajectory/20081023025304.plt";
    let (summary, events, dead) = read(name, InputSettings::default());
    let summary = summary.unwrap();
    assert!(dead.is_empty(), "{dead:?}");
    assert_eq!((summary.lines, summary.events), (9, 3));
    assert!(summary.read_as.contains("GeoLife"), "{}", summary.read_as);
    assert_eq!(positions(&events)[0], ("000", "2008-10-23 02:53:04.000", 39.984702, 116.318417));
    // By content, without the extension or folder: the file's name is the device.
    let content = std::fs::read(fixture(name)).unwrap();
    let mut n = 0;
    let opts = ParseOptions::default();
    parse_mobile_file(&content[..], "t", Some(Path::new("/tmp/track.txt")), None, &opts, 0, |p| {
        let Parsed::Event { event, .. } = p else { panic!("{p:?}") };
        assert_eq!(event.device_id, "track");
        n += 1;
    })
    .unwrap();
    assert_eq!(n, 3);
}

#[test]
fn the_reference_generators_layout_is_an_explicit_profile() {
    let (_, plain, _) = read("reference_generator.csv", InputSettings::default());
    assert_eq!((plain[0].latitude, plain[0].longitude), (13.405, 52.52), "read as written unless asked");
    let reference = InputSettings { profile: Profile::Reference, ..Default::default() };
    let (summary, swapped, _) = read("reference_generator.csv", reference);
    assert_eq!(
        summary.unwrap().read_as,
        "CSV (UTF-8, ','-separated, header), the reference generator's layout (latitude and longitude swapped), Tributary's columns"
    );
    assert_eq!((swapped[0].latitude, swapped[0].longitude, swapped[0].locked), (52.52, 13.405, Some(true)));
    assert_eq!(swapped[0].timepoint, "2020-06-01 12:00:00.123", "kept as written");
    // With a time zone set, the same columns go through the mapping and times become UTC.
    let berlin = InputSettings {
        profile: Profile::Reference,
        time_zone: "Europe/Berlin".parse().unwrap(),
        ..Default::default()
    };
    let (summary, mapped, _) = read("reference_generator.csv", berlin);
    assert!(summary.unwrap().read_as.contains("latitude → longitude"));
    assert_eq!(
        (mapped[0].latitude, mapped[0].timepoint.as_str(), mapped[0].accelo_z),
        (52.52, "2020-06-01 10:00:00.123", Some(9.81))
    );
}

#[test]
fn named_columns_a_latin1_file_and_refusals() {
    let csv = b"when;who;breite;l\xe4nge\n2020-06-01 12:00:00;J\xfcrgen;52,5;13,4\n";
    let input = InputSettings {
        latitude: Some("breite".into()),
        longitude: Some("länge".into()),
        time: Some("when".into()),
        device: Some("who".into()),
        ..Default::default()
    };
    let opts = ParseOptions { input, ..Default::default() };
    let mut events = Vec::new();
    let summary = parse_mobile_file(&csv[..], "t", None, None, &opts, 0, |p| events.push(p)).unwrap();
    assert_eq!(summary.events, 1, "{events:?}");
    let Parsed::Event { event, .. } = &events[0] else { panic!() };
    assert_eq!((event.device_id.as_str(), event.latitude), ("Jürgen", 52.5));
    let missing = InputSettings { latitude: Some("lat".into()), ..Default::default() };
    let opts = ParseOptions { input: missing, ..Default::default() };
    let err =
        parse_mobile_file(&b"a,b\n1,2\n"[..], "t", None, None, &opts, 0, |_| {}).unwrap_err().to_string();
    assert_eq!(err, "line 1: no column 'lat' for latitude (columns: a, b)");
    let err =
        parse_mobile_file(&b"x,y,time\n1,2,3\n"[..], "t", None, None, &ParseOptions::default(), 0, |_| {})
            .unwrap_err()
            .to_string();
    assert!(
        err.contains("no latitude column among the columns x, y, time: name it with --latitude NAME"),
        "{err}"
    );
}

#[test]
fn settings_read_and_checked() {
    let s: InputSettings = toml::from_str(
        "profile = \"geolife\"\ncolumns = [\"id\", \"time\", \"lon\", \"lat\", \"-\"]\ntime_zone = \"+08:00\"\ntime_format = \"%Y-%m-%d %H:%M:%S\"\ndelimiter = \";\"",
    )
    .unwrap();
    assert_eq!(s.columns[0], FieldName::Device);
    assert_eq!(s.columns[4], FieldName::Ignore);
    assert!(s.validate().is_ok());
    let twice = InputSettings {
        columns: vec![FieldName::Latitude, FieldName::Latitude, FieldName::Longitude, FieldName::Time],
        ..Default::default()
    };
    assert_eq!(
        twice.validate().unwrap_err().to_string(),
        "`columns` must name the latitude column exactly once (it names it 2 times)"
    );
    for bad in ["columns = [\"altitude\"]", "time_zone = \"Mars\"", "profile = \"spark\"", "what = 1"] {
        assert!(toml::from_str::<InputSettings>(bad).is_err(), "{bad}");
    }
}

#[test]
fn mapped_lines_never_panic() {
    use proptest::prelude::*;
    let columns: Vec<FieldName> = "device,time,longitude,latitude,acceloX,acceloY,acceloZ,locked"
        .split(',')
        .map(|c| c.parse().unwrap())
        .collect();
    let opts = ParseOptions {
        input: InputSettings { columns, ..Default::default() },
        max_line_bytes: 4096,
        ..Default::default()
    };
    proptest!(ProptestConfig::with_cases(500), |(line in proptest::collection::vec(any::<u8>(), 0..200))| {
        let _ = parse_mobile_file(&line[..], "t", None, Some(crate::mobile_file::FileFormat::Csv), &opts, 0, |_| {});
    });
}

#[test]
fn ndjson_with_other_names_is_read_through_the_same_names() {
    let lines = concat!(
        r#"{"lat": 52.52, "lng": "13.405", "tracked_at": "2020-06-01T12:00:00+02:00", "user_id": 7}"#,
        "\n",
        r#"{"latitude": 48.1, "longitude": 11.5, "timestamp": 1590998400000}"#,
        "\n",
        r#"{"lat": 91, "lon": 0, "time": "2020-06-01 10:00:00"}"#,
        "\n",
        r#"{"lat": 1, "lon": 2}"#,
        "\n",
        r#"{"timepoint":"t","deviceId":"d","latitude":1,"longitude":2}"#,
        "\n",
    );
    let (mut events, mut dead) = (Vec::new(), Vec::new());
    let path = Path::new("/data/trip-42.ndjson");
    let opts = ParseOptions::default();
    parse_mobile_file(lines.as_bytes(), "t", Some(path), None, &opts, 0, |p| match p {
        Parsed::Event { event, .. } => {
            events.push(MobileEvent::decode(&event.value, event.encoding).unwrap())
        }
        Parsed::Dead(d) => dead.push(d.reason),
    })
    .unwrap();
    assert_eq!(
        positions(&events),
        [
            ("7", "2020-06-01 10:00:00.000", 52.52, 13.405),
            ("trip-42", "2020-06-01 08:00:00.000", 48.1, 11.5),
            ("d", "t", 1.0, 2.0),
        ],
        "{dead:?}"
    );
    assert_eq!(dead, ["latitude 91 is outside -90..90", "no time in the event"]);
}

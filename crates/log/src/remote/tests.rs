use super::wire::*;
use crate::record::Record;

#[test]
fn records_cross_the_wire_unchanged() {
    let record = Record::new(vec![0u8, 0xff, b'{', b'\n'])
        .with_key("device-7")
        .with_header("src", "12:3")
        .with_header("bin", vec![0u8, 1, 2])
        .with_timestamp(1_600_000_000_123);
    let wire = WireRecord::from_record(&record);
    let text = serde_json::to_string(&wire).unwrap();
    let back: WireRecord = serde_json::from_str(&text).unwrap();
    assert_eq!(back.into_record().unwrap(), record);
    let unkeyed = Record::new("x").with_timestamp(1);
    let text = serde_json::to_string(&WireRecord::from_record(&unkeyed)).unwrap();
    assert_eq!(text, r#"{"value":"eA==","timestamp":1}"#);
    let bad = WireRecord { key: None, value: "not base64!".into(), headers: vec![], timestamp: 0 };
    assert!(bad.into_record().unwrap_err().to_string().contains("record value is not base64"));
}

#[test]
fn topic_names_are_one_path_segment() {
    assert_eq!(super::encode("mobile_data"), "mobile_data");
    assert_eq!(super::encode("a/b c"), "a%2Fb%20c");
}

use proptest::prelude::*;

use super::*;

fn resolve(text: &str) -> Dialect {
    DialectSettings::default().resolve(text.as_bytes())
}

#[test]
fn finds_the_delimiter_that_splits_consistently() {
    // The ECDC vintage of spring 2020: `;`, with commas inside country names.
    let ecdc = "dateRep;day;month;year;cases;deaths;countriesAndTerritories;geoId\n\
                23/04/2020;23;4;2020;1;0;Bonaire, Saint Eustatius and Saba;BQ\n\
                22/04/2020;22;4;2020;0;0;Bonaire, Saint Eustatius and Saba;BQ\n\
                22/04/2020;22;4;2020;12;1;Germany;DE\n";
    assert_eq!(resolve(ecdc).delimiter, b';');
    let quoted = "a,b,c\n1,\"x;y;z\",3\n2,\"p;q\",4\n";
    assert_eq!(resolve(quoted).delimiter, b',');
    assert_eq!(resolve("a\tb\n1\t2\n").delimiter, b'\t');
    assert_eq!(resolve("a|b|c\n1|2|3\n").delimiter, b'|');
    assert_eq!(resolve("just one column\n1\n2\n").delimiter, b',', "nothing splits: the default");
    // A decimal-comma export: `,` splits every line too, but `;` into more fields.
    let phone = "time;device;lon;lat\n2020-06-01T12:00:00.123456789;p1;13,405;52,52\n2020-06-01T12:00:01.5;p1;13,406;52,521\n";
    let d = resolve(phone);
    assert_eq!((d.delimiter, d.decimal_comma, d.header), (b';', true, true));
    assert_eq!(d.number("13,405"), Some(13.405));
}

#[test]
fn finds_a_header_or_none() {
    assert!(resolve("lat,lng,datetime,uid\n39.9,116.3,2008-10-23 02:53:04,7\n").header);
    assert!(
        !resolve("1,2008-02-02 15:36:08,116.51172,39.92123\n1,2008-02-02 15:46:08,116.51135,39.93883\n")
            .header
    );
    assert!(resolve("name,city\nAda,London\nAlan,Wilmslow\n").header, "text only: a header");
    assert!(!resolve("1,2,3\n").header, "a single line of numbers");
    assert!(resolve("a,b,c\n").header, "a single line of names");
    let given = DialectSettings { header: Auto::Given(false), ..Default::default() };
    assert!(!given.resolve(b"lat,lng\n1,2\n").header);
}

#[test]
fn any_line_ending() {
    for ending in ["\n", "\r\n", "\r"] {
        let text = ["a;b;c", "1;2;3", "4;5;6", ""].join(ending);
        let d = resolve(&text);
        assert_eq!((d.delimiter, d.header), (b';', true), "{ending:?}");
        let rows: Vec<csv::StringRecord> =
            d.csv_reader(text.as_bytes()).records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 2, "{ending:?}");
        assert_eq!(&rows[1][2], "6");
    }
}

#[test]
fn encodings_are_detected_and_decoded() {
    let latin1 = b"country;cases\nCura\xe7ao;3\nC\xf4te d'Ivoire;5\n";
    let d = DialectSettings::default().decode(latin1);
    assert_eq!(d.dialect.encoding, Encoding::Windows1252);
    assert_eq!(std::str::from_utf8(&d.text).unwrap(), "country;cases\nCuraçao;3\nCôte d'Ivoire;5\n");
    let bom = "\u{feff}country,cases\nCuraçao,3\n";
    let d = DialectSettings::default().decode(bom.as_bytes());
    assert_eq!((d.dialect.encoding, &d.text[..8]), (Encoding::Utf8, &b"country,"[..]));
    let mut utf16 = vec![0xff, 0xfe];
    for unit in "a\tb\r\n1\t2\r\n".encode_utf16() {
        utf16.extend(unit.to_le_bytes());
    }
    let d = DialectSettings::default().decode(&utf16);
    assert_eq!(
        (d.dialect.encoding, d.dialect.delimiter, &d.text[..]),
        (Encoding::Utf16, b'\t', &b"a\tb\r\n1\t2\r\n"[..])
    );
    // A multi-byte character cut by the end of a sample is still UTF-8.
    assert_eq!(Encoding::detect(&"abcç".as_bytes()[..4], true), Encoding::Utf8);
    assert_eq!(Encoding::detect(&"abcç".as_bytes()[..4], false), Encoding::Windows1252, "a whole file");
    let forced = DialectSettings { encoding: Auto::Given(Encoding::Windows1252), ..Default::default() };
    assert_eq!(&forced.decode("ç".as_bytes()).text[..], "Ã§".as_bytes());
}

#[test]
fn settings_read_from_toml() {
    let s: DialectSettings = toml::from_str(
        "encoding = \"latin-1\"\ndelimiter = \"tab\"\nheader = false\ndecimal_comma = \"auto\"",
    )
    .unwrap();
    assert_eq!(
        s,
        DialectSettings {
            encoding: Auto::Given(Encoding::Windows1252),
            delimiter: Auto::Given(Delimiter(b'\t')),
            header: Auto::Given(false),
            decimal_comma: Auto::Detect,
        }
    );
    let err = toml::from_str::<DialectSettings>("delimiter = \":\"").unwrap_err().to_string();
    assert!(err.contains("':' is not a delimiter"), "{err}");
    let err = toml::from_str::<DialectSettings>("encoding = \"ebcdic\"").unwrap_err().to_string();
    assert!(err.contains("ebcdic"), "{err}");
}

/// A field value: numbers, dates, words that may hold any delimiter or a quote.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        (-1000i64..100_000).prop_map(|n| n.to_string()),
        (-90.0f64..90.0).prop_map(|x| format!("{x:.5}")),
        (1u32..28, 1u32..12).prop_map(|(d, m)| format!("{d:02}/{m:02}/2020")),
        "[A-Za-z]{1,8}( [A-Za-z]{1,6})?",
        "[A-Za-z]{1,5}[,;|\t\"][A-Za-z]{1,5}",
    ]
}

fn write(rows: &[Vec<String>], delimiter: u8, ending: &str) -> String {
    let mut out = String::new();
    for row in rows {
        let fields: Vec<String> = row
            .iter()
            .map(|v| {
                if v.bytes().any(|c| DELIMITERS.contains(&c) || c == b'"') {
                    format!("\"{}\"", v.replace('"', "\"\""))
                } else {
                    v.clone()
                }
            })
            .collect();
        out.push_str(&fields.join(&(delimiter as char).to_string()));
        out.push_str(ending);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// A table with a header and a column of numbers, written in any dialect, is read back
    /// as it was written.
    #[test]
    fn a_table_in_any_dialect_reads_back(
        columns in 2usize..6,
        rows in proptest::collection::vec(proptest::collection::vec(value(), 6), 3..30),
        numbers in proptest::collection::vec(-1000i64..1000, 30),
        delimiter in proptest::sample::select(DELIMITERS.to_vec()),
        ending in proptest::sample::select(vec!["\n", "\r\n", "\r"]),
    ) {
        let mut table: Vec<Vec<String>> = vec![(0..columns).map(|c| format!("col{c}")).collect()];
        for (i, row) in rows.iter().enumerate() {
            let mut r: Vec<String> = row[..columns - 1].to_vec();
            r.push(numbers[i].to_string());
            table.push(r);
        }
        let text = write(&table, delimiter, ending);
        let d = resolve(&text);
        prop_assert_eq!(d.delimiter, delimiter, "{}", text);
        prop_assert!(d.header);
        let read: Vec<Vec<String>> = d
            .csv_reader(text.as_bytes())
            .records()
            .map(|r| r.unwrap().iter().map(str::to_string).collect())
            .collect();
        prop_assert_eq!(&read[..], &table[1..]);
    }

    /// Latin-1 text written as Windows-1252 is detected and decoded back; the same text as
    /// UTF-8, with or without a byte-order mark, too.
    #[test]
    fn latin1_and_utf8_text_decodes_back(text in "[ -~\u{a0}-\u{ff}]{0,200}", bom: bool) {
        let latin1: Vec<u8> = text.chars().map(|c| c as u32 as u8).collect();
        // Latin-1 bytes that are also valid UTF-8 ("Â¡" is C2 A1, "¡" in UTF-8) read as UTF-8:
        // rare in real text, and no detector can tell.
        prop_assume!(text.is_ascii() || std::str::from_utf8(&latin1).is_err());
        // Latin-1 text that starts "ÿþ" or "þÿ" is byte for byte a UTF-16 byte-order mark,
        // which wins: no real Latin-1 file starts so.
        prop_assume!(!text.starts_with("ÿþ") && !text.starts_with("þÿ"));
        let d = DialectSettings::default().decode(&latin1);
        let expected = if text.is_ascii() { Encoding::Utf8 } else { Encoding::Windows1252 };
        prop_assert_eq!(d.dialect.encoding, expected);
        prop_assert_eq!(std::str::from_utf8(&d.text).unwrap(), text.as_str());
        let mut utf8 = if bom { b"\xef\xbb\xbf".to_vec() } else { Vec::new() };
        utf8.extend(text.as_bytes());
        let d = DialectSettings::default().decode(&utf8);
        prop_assert_eq!(d.dialect.encoding, Encoding::Utf8);
        prop_assert_eq!(std::str::from_utf8(&d.text).unwrap(), text.as_str());
    }
}

use std::collections::BTreeSet;

use chrono::NaiveDate;
use tributary_schema::markets::{CovidDaily, Indicator};

use super::*;

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn daily(parsed: &Parsed) -> &[CovidDaily] {
    match &parsed.rows {
        Rows::CovidDaily(r) => r,
        other => panic!("not daily rows: {other:?}"),
    }
}

// The real files, checked against what PROVENANCE.md states of them.

#[test]
fn the_final_ecdc_daily_csv_matches_its_provenance() {
    let Some(content) = tributary_test_data::read("covid/ecdc_casedistribution_daily_final_2020-12-14.csv")
    else {
        return;
    };
    let parsed = parse(&content, "final.csv", &ReadOptions::new(None, ""), 0).unwrap();
    assert_eq!(parsed.format, Format::EcdcDailyCsv);
    assert!(parsed.dead_letters.is_empty(), "{:?}", parsed.dead_letters.first());
    let rows = daily(&parsed);
    assert_eq!(rows.len(), 61_900);
    assert_eq!(rows.iter().map(|r| r.cases).sum::<i64>(), 71_503_614);
    assert_eq!(rows.iter().map(|r| r.deaths).sum::<i64>(), 1_612_833);
    assert_eq!(rows.iter().map(|r| &r.geo_id).collect::<BTreeSet<_>>().len(), 214);
    assert_eq!(rows.iter().map(|r| r.date).min(), Some(date(2019, 12, 31)));
    assert_eq!(rows.iter().map(|r| r.date).max(), Some(date(2020, 12, 14)));
    assert_eq!(rows.iter().filter(|r| r.cases < 0).count(), 18, "ECDC's corrections are kept");
    assert_eq!(rows.iter().filter(|r| r.rate_14d.is_none()).count(), 2_879);
    assert_eq!(rows.iter().filter(|r| r.population.is_none()).count(), 123);
    assert_eq!(rows.iter().filter(|r| r.country_code.is_none()).count(), 123);
    let names: BTreeSet<_> = rows.iter().map(|r| r.country.as_str()).collect();
    assert!(names.contains("Bonaire, Saint Eustatius and Saba") && names.contains("Curaçao"));
    assert!(
        rows.iter().any(|r| r.geo_id == "NA" && r.country == "Namibia"),
        "NA is Namibia, not a missing value"
    );
    assert!(rows.iter().any(|r| r.geo_id == "EL" && r.country == "Greece"));
    let de = rows.iter().find(|r| r.geo_id == "DE" && r.date == date(2020, 12, 14)).unwrap();
    assert_eq!((de.population, de.continent.as_str()), (Some(83_019_213), "Europe"));
}

#[test]
fn the_ecdc_csv_and_json_of_one_day_hold_the_same_rows() {
    let (Some(csv), Some(json)) = (
        tributary_test_data::read("covid/ecdc_casedistribution_2020-04-23.csv"),
        tributary_test_data::read("covid/ecdc_casedistribution_2020-04-23.json"),
    ) else {
        return;
    };
    let from_csv = parse(&csv, "csv", &ReadOptions::new(None, ""), 0).unwrap();
    let from_json = parse(&json, "json", &ReadOptions::new(None, ""), 0).unwrap();
    assert_eq!((from_csv.format, from_json.format), (Format::EcdcDailyCsv, Format::EcdcDailyJson));
    assert!(from_csv.dead_letters.is_empty() && from_json.dead_letters.is_empty());
    assert_eq!(daily(&from_csv).len(), 12_596);
    assert_eq!(daily(&from_csv).iter().map(|r| &r.geo_id).collect::<BTreeSet<_>>().len(), 206);
    assert_eq!(daily(&from_csv), daily(&from_json), "popData2018, every value a string, same rows");
    assert!(daily(&from_json).iter().all(|r| r.rate_14d.is_none()), "this release has no 14-day column");
}

#[test]
fn the_ecdc_weekly_file_matches_its_provenance() {
    let Some(content) =
        tributary_test_data::read("covid/ecdc_nationalcasedeath_weekly_2020-01_to_2021-10.csv")
    else {
        return;
    };
    let parsed = parse(&content, "weekly.csv", &ReadOptions::new(None, ""), 0).unwrap();
    assert_eq!(parsed.format, Format::EcdcWeekly, "recognised through its byte-order mark");
    assert!(parsed.dead_letters.is_empty(), "{:?}", parsed.dead_letters.first());
    let Rows::CovidWeekly(rows) = &parsed.rows else { panic!() };
    assert_eq!(rows.len(), 24_172);
    assert_eq!(rows.iter().filter(|r| r.indicator == Indicator::Cases).count(), 12_086);
    assert_eq!(rows.iter().map(|r| (r.year, r.week)).collect::<BTreeSet<_>>().len(), 63);
    assert_eq!(rows.iter().map(|r| &r.country).collect::<BTreeSet<_>>().len(), 220);
    assert_eq!(rows.iter().filter(|r| r.country_code.is_none()).count(), 756, "ECDC's aggregates");
    assert_eq!(rows.iter().filter(|r| r.weekly_count < 0).count(), 11);
    assert_eq!(rows[0].source, "Epidemic intelligence, national weekly data", "a quoted comma");
}

#[test]
fn the_dax_history_matches_its_provenance() {
    let Some(content) = tributary_test_data::read("markets/DAX_GDAXI_daily_1988-2022_yahoo.csv") else {
        return;
    };
    let parsed = parse(&content, "dax.csv", &ReadOptions::new(None, "^GDAXI"), 0).unwrap();
    assert_eq!(parsed.format, Format::YahooPrices);
    assert!(parsed.dead_letters.is_empty(), "{:?}", parsed.dead_letters.first());
    assert_eq!(parsed.skipped, 166, "holiday rows of nulls are skipped and counted");
    let Rows::Prices(bars) = &parsed.rows else { panic!() };
    assert_eq!(bars.len(), 9_012 - 166);
    assert_eq!(
        (bars.first().unwrap().date, bars.last().unwrap().date),
        (date(1988, 1, 4), date(2022, 12, 30))
    );
    assert_eq!(bars.iter().find(|b| b.date == date(2020, 3, 16)).unwrap().close, 8742.25);
    assert_eq!(
        bars.iter().filter(|b| (date(2019, 12, 1)..=date(2021, 6, 30)).contains(&b.date)).count(),
        397
    );
}

#[test]
fn the_fse_file_matches_its_provenance() {
    let Some(content) = tributary_test_data::read("markets/FSE-AFX_X_CarlZeissMeditec_2000-2020_quandl.csv")
    else {
        return;
    };
    let parsed = parse(&content, "fse.csv", &ReadOptions::new(None, "AFX_X"), 0).unwrap();
    assert_eq!(parsed.format, Format::FsePrices);
    assert!(parsed.dead_letters.is_empty(), "{:?}", parsed.dead_letters.first());
    let Rows::Prices(bars) = &parsed.rows else { panic!() };
    assert_eq!(bars.len(), 5_268);
    assert_eq!(bars.iter().filter(|b| b.open.is_none()).count(), 732);
    assert_eq!(bars.iter().map(|b| b.date).min(), Some(date(2000, 6, 7)));
    assert_eq!(
        bars.iter().filter(|b| (date(2019, 12, 1)..=date(2021, 6, 30)).contains(&b.date)).count(),
        253
    );
    let first = &bars[0];
    assert_eq!(
        (first.date, first.close, first.volume, first.turnover),
        (date(2020, 12, 1), 112.0, Some(51.0), Some(5703.0))
    );
}

// Bad input: a clear error for the file, or a dead letter per row and the rest imported.

#[test]
fn bad_rows_become_dead_letters_with_reasons_and_the_rest_is_imported() {
    let csv = "dateRep,day,month,year,cases,deaths,countriesAndTerritories,geoId,countryterritoryCode,popData2019,continentExp\r\n\
        14/12/2020,14,12,2020,746,6,Afghanistan,AF,AFG,38041757,Asia\r\n\
        31/02/2020,31,2,2020,1,0,Nowhere,NW,NWH,1,Asia\r\n\
        13/12/2020,12,12,2020,1,0,Afghanistan,AF,AFG,38041757,Asia\r\n\
        12/12/2020,12,12,2020,many,0,Afghanistan,AF,AFG,38041757,Asia\r\n\
        11/12/2020,11,12,2020,5,0,,AF,AFG,38041757,Asia\r\n\
        10/12/2020,10,12,2020,5,0,Afghanistan,AF\r\n\
        \r\n\
        09/12/2020,9,12,2020,-3,1,\"Bonaire, Saint Eustatius and Saba\",BQ,BES,,America\r\n";
    let parsed = parse(csv.as_bytes(), "t.csv", &ReadOptions::new(None, ""), 7).unwrap();
    let rows = daily(&parsed);
    assert_eq!(rows.len(), 2);
    assert_eq!(
        (rows[1].country.as_str(), rows[1].cases, rows[1].population),
        ("Bonaire, Saint Eustatius and Saba", -3, None)
    );
    let reasons: Vec<_> =
        parsed.dead_letters.iter().map(|d| format!("{}: {}", d.position, d.reason)).collect();
    assert_eq!(
        reasons,
        [
            "line 3: dateRep '31/02/2020' is not a date (dd/mm/yyyy)",
            "line 4: dateRep 13/12/2020 disagrees with day/month/year 12/12/2020",
            "line 5: cases 'many' is not an integer",
            "line 6: countriesAndTerritories is missing",
            "line 7: 8 fields, the header has 11",
        ]
    );
    assert_eq!(parsed.dead_letters[1].raw, b"13/12/2020,12,12,2020,1,0,Afghanistan,AF,AFG,38041757,Asia");
    assert!(parsed.dead_letters.iter().all(|d| d.source == "t.csv" && d.time_ms == 7));
    // The same with LF line ends: the same rows, lines and raw bytes.
    let lf = parse(csv.replace("\r\n", "\n").as_bytes(), "t.csv", &ReadOptions::new(None, ""), 7).unwrap();
    assert_eq!((lf.rows, lf.dead_letters), (parsed.rows, parsed.dead_letters));
}

#[test]
fn bad_json_records_and_price_rows_become_dead_letters() {
    let json = br#"{"records": [
        {"dateRep": "23/04/2020", "cases": "84", "deaths": "4", "countriesAndTerritories": "Afghanistan", "geoId": "AF", "continentExp": "Asia"},
        "not an object",
        {"dateRep": "23/04/2020", "cases": [1], "deaths": "4", "countriesAndTerritories": "X", "geoId": "X", "continentExp": "Asia"},
        {"dateRep": 23042020, "cases": 1, "deaths": 0, "countriesAndTerritories": "X", "geoId": "X", "continentExp": "Asia"}
    ]}"#;
    let parsed = parse(json, "t.json", &ReadOptions::new(None, ""), 0).unwrap();
    assert_eq!(daily(&parsed).len(), 1);
    let reasons: Vec<_> =
        parsed.dead_letters.iter().map(|d| format!("{}: {}", d.position, d.reason)).collect();
    assert_eq!(
        reasons,
        [
            "record 2: a record is not a JSON object",
            "record 3: cases is [1], expected text or a number",
            "record 4: dateRep '23042020' is not a date (dd/mm/yyyy)",
        ]
    );

    let yahoo = b"Date,Open,High,Low,Close,Adj Close,Volume\n2020-01-02,1,2,0.5,1.5,1.5,100\n2020-01-03,null,null,null,null,null,null\n2020-13-01,1,1,1,1,1,1\n2020-01-06,1,1,1,abc,1,1\n2020-01-07,1,1,1,inf,1,1";
    let parsed = parse(yahoo, "y.csv", &ReadOptions::new(None, "^GDAXI"), 0).unwrap();
    assert_eq!((parsed.rows.len(), parsed.skipped), (1, 1));
    let reasons: Vec<_> = parsed.dead_letters.iter().map(|d| d.reason.as_str()).collect();
    assert_eq!(
        reasons,
        [
            "Date '2020-13-01' is not a date (yyyy-mm-dd)",
            "Close 'abc' is not a number",
            "Close 'inf' is not a number"
        ]
    );
}

#[test]
fn unusable_files_are_refused_whole_with_a_reason() {
    let refuse = |content: &[u8], format: Option<Format>| {
        parse(content, "f", &ReadOptions::new(format, "S"), 0).unwrap_err().reason
    };
    assert!(refuse(b"", None).contains("not a known format"));
    assert!(refuse(b"\x00\xff\xfe garbage\n\x01", None).contains("not a known format"));
    assert!(refuse(b"a,b,c\n1,2,3\n", None).contains("not a known format"));
    assert!(refuse(b"{\"records\": 5}", None).contains("not an ECDC JSON document"));
    assert!(refuse(b"{\"records\": [", None).contains("not an ECDC JSON document"));
    let no_cases = b"dateRep,deaths,countriesAndTerritories,geoId,continentExp\n";
    assert!(refuse(no_cases, None).contains("no column 'cases'"));
    let no_symbol =
        parse(b"Date,Open,High,Low,Close,Adj Close,Volume\n", "f", &ReadOptions::new(None, " "), 0)
            .unwrap_err()
            .reason;
    assert!(no_symbol.contains("needs a symbol"));
    assert_eq!(
        Format::from_name("csv").unwrap_err().to_string(),
        "'csv' is not a format; accepted: \"ecdc-daily-csv\", \"ecdc-daily-json\", \"ecdc-weekly\", \"yahoo\", \"fse\""
    );
}

#[test]
fn plain_daily_ohlc_csv_is_read_as_prices_and_a_forced_format_overrides_sniffing() {
    // Stooq's daily history (the default DAX source): Yahoo's layout without Adj Close.
    let csv = b"Date,Open,High,Low,Close,Volume\n2020-01-02,1,2,0.5,1.5,100\n";
    assert_eq!(Format::sniff(csv), Some(Format::YahooPrices));
    let parsed = parse(csv, "f", &ReadOptions::new(None, "X"), 0).unwrap();
    let Rows::Prices(bars) = parsed.rows else { panic!() };
    assert_eq!((bars[0].close, bars[0].adj_close, bars[0].volume), (1.5, None, Some(100.0)));
    // A file sniffed as one format, read as another when forced.
    let fse = b"Date,Open,High,Low,Close,Change,Traded Volume\n2020-01-02,1,2,0.5,1.5,,100\n";
    assert_eq!(Format::sniff(fse), Some(Format::FsePrices));
    let forced = parse(fse, "f", &ReadOptions::new(Some(Format::YahooPrices), "X"), 0).unwrap();
    let Rows::Prices(bars) = forced.rows else { panic!() };
    assert_eq!((bars[0].close, bars[0].volume), (1.5, None), "Yahoo's volume column is 'Volume'");
}

// Files as people have them: the fixtures in `crates/sources/fixtures/markets`.

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/fixtures/markets/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn an_ecdc_vintage_of_spring_2020_semicolons_latin1_popdata2018() {
    let content = fixture("ecdc_daily_2020-03-21_semicolon_latin1.csv");
    assert_eq!(Format::sniff(&content), Some(Format::EcdcDailyCsv));
    let parsed = parse(&content, "f", &ReadOptions::default(), 0).unwrap();
    assert_eq!(parsed.dialect.describe(), "Windows-1252, ';'-separated, header");
    let rows = daily(&parsed);
    assert_eq!(rows.len(), 8);
    assert_eq!(parsed.dead_letters.len(), 1);
    assert_eq!(parsed.dead_letters[0].position, "line 10");
    assert!(parsed.dead_letters[0].reason.contains("cases 'x' is not an integer"));
    assert!(rows.iter().any(|r| r.country == "Curaçao" && r.population == Some(159_849)));
    assert!(rows.iter().any(|r| r.country == "Bonaire, Saint Eustatius and Saba"));
    let ship: Vec<_> = rows.iter().filter(|r| r.geo_id == "JPG11668").collect();
    assert_eq!(ship.len(), 2, "an empty population keeps the row");
    assert!(ship.iter().all(|r| r.population.is_none() && r.country_code.is_none()));
    assert_eq!(rows.iter().find(|r| r.geo_id == "CI").unwrap().cases, -3);
}

#[test]
fn an_ecdc_vintage_with_a_byte_order_mark_and_quoted_semicolons() {
    let content = fixture("ecdc_daily_2020-04-14_semicolon_bom.csv");
    let parsed = parse(&content, "f", &ReadOptions::default(), 0).unwrap();
    assert_eq!(parsed.dialect.describe(), "UTF-8, ';'-separated, header");
    assert!(parsed.dead_letters.is_empty(), "{:?}", parsed.dead_letters);
    let rows = daily(&parsed);
    assert_eq!(rows.iter().map(|r| r.cases).sum::<i64>(), 2085);
    let bq = rows.iter().find(|r| r.geo_id == "BQ").unwrap();
    assert_eq!((bq.country.as_str(), bq.population), ("Bonaire; Saint Eustatius and Saba", None));
    // The same file forced to the wrong delimiter cannot find its columns, and says how it read it.
    let comma = ReadOptions {
        dialect: crate::dialect::DialectSettings {
            delimiter: tributary_settings::Auto::Given(crate::dialect::Delimiter(b',')),
            ..Default::default()
        },
        ..Default::default()
    };
    let err = parse(&content, "f", &comma, 0).unwrap_err().reason;
    assert!(err.contains("','-separated"), "{err}");
}

#[test]
fn a_multi_share_fse_file_is_one_series_per_share() {
    let content = fixture("fse_multi_share_semicolon_decimal_comma.csv");
    assert_eq!(Format::sniff(&content), Some(Format::FsePrices));
    let prices = |symbol: Option<&str>| {
        let opts = ReadOptions { symbol: symbol.map(str::to_string), ..Default::default() };
        parse(&content, "f", &opts, 0).map(|p| {
            let Rows::Prices(bars) = p.rows else { panic!() };
            (bars, p.skipped, p.dialect)
        })
    };
    let (every, skipped, dialect) = prices(None).unwrap();
    assert!(dialect.decimal_comma);
    assert_eq!(skipped, 1, "SAP's row without a close");
    let symbols: BTreeSet<&str> = every.iter().map(|b| b.symbol.as_str()).collect();
    assert_eq!(symbols, BTreeSet::from(["ADS", "BMW", "SAP"]));
    let bmw = every.iter().find(|b| b.symbol == "BMW" && b.date == date(2020, 12, 1)).unwrap();
    assert_eq!((bmw.open, bmw.close, bmw.volume), (Some(74.5), 74.86, Some(1_502_345.0)));
    let (sap, _, _) = prices(Some("SAP")).unwrap();
    assert_eq!(
        sap.iter().map(|b| (b.symbol.as_str(), b.close)).collect::<Vec<_>>(),
        [("SAP", 103.9), ("SAP", 102.36)]
    );
    let (renamed, _, _) = prices(Some("BMW=BMW.DE")).unwrap();
    assert!(renamed.len() == 2 && renamed.iter().all(|b| b.symbol == "BMW.DE"));
    let err = prices(Some("VOW3")).unwrap_err().reason;
    assert_eq!(err, "no share 'VOW3' in the file (shares: ADS, BMW, SAP)");
    // A single-series file refuses a pick.
    let single = b"Date,Open,High,Low,Close,Change,Traded Volume\n2020-01-02,1,2,0.5,1.5,,100\n";
    let opts = ReadOptions { symbol: Some("A=B".into()), ..Default::default() };
    assert!(parse(single, "f", &opts, 0).unwrap_err().reason.contains("has no Share column"));
}

#[test]
fn every_dialect_of_the_same_table_reads_the_same_rows() {
    let base = "dateRep,day,month,year,cases,deaths,countriesAndTerritories,geoId,countryterritoryCode,popData2019,continentExp\n\
                14/04/2020,14,4,2020,2082,170,Germany,DE,DEU,83019213,Europe\n\
                14/04/2020,14,4,2020,3,0,Curaçao,CW,CUW,,America\n";
    let reference = daily(&parse(base.as_bytes(), "f", &ReadOptions::default(), 0).unwrap()).to_vec();
    for delimiter in [";", "\t", "|"] {
        for ending in ["\r\n", "\r"] {
            let text = base.replace(',', delimiter).replace('\n', ending);
            for bytes in [text.as_bytes().to_vec(), text.chars().map(|c| c as u32 as u8).collect()] {
                let parsed = parse(&bytes, "f", &ReadOptions::default(), 0).unwrap();
                assert_eq!(
                    daily(&parsed),
                    &reference[..],
                    "{delimiter:?} {ending:?} {}",
                    parsed.dialect.describe()
                );
            }
        }
    }
}

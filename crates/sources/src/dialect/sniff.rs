//! Finding a file's delimiter, header and decimal mark from its first lines.

use super::DELIMITERS;

/// How many records of the sample are looked at.
const SAMPLE_RECORDS: usize = 50;

/// The first records of `text` split at `delimiter` (quotes respected, any line ending). The
/// last record is dropped when the sample does not end with a line break: it may be cut.
pub(super) fn records(text: &[u8], delimiter: u8) -> Vec<Vec<String>> {
    let mut reader =
        csv::ReaderBuilder::new().delimiter(delimiter).has_headers(false).flexible(true).from_reader(text);
    let mut out = Vec::new();
    let mut record = csv::ByteRecord::new();
    while out.len() < SAMPLE_RECORDS + 1 {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {
                if record.len() == 1 && record[0].trim_ascii().is_empty() {
                    continue;
                }
                out.push(record.iter().map(|f| String::from_utf8_lossy(f).trim().to_string()).collect());
            }
            Ok(false) => return out,
            Err(_) => break,
        }
    }
    if out.len() > SAMPLE_RECORDS || !text.ends_with(b"\n") && !text.ends_with(b"\r") {
        out.pop();
    }
    out.truncate(SAMPLE_RECORDS);
    out
}

/// The delimiter that splits the sample most consistently into more than one field.
pub(super) fn delimiter(text: &[u8]) -> u8 {
    let mut best: Option<(usize, usize, u8)> = None; // (consistent records, fields, delimiter)
    for d in DELIMITERS {
        let rows = records(text, d);
        if rows.is_empty() {
            continue;
        }
        let mut counts = std::collections::HashMap::<usize, usize>::new();
        for r in &rows {
            *counts.entry(r.len()).or_default() += 1;
        }
        let (&fields, &consistent) =
            counts.iter().max_by_key(|(fields, n)| (**n, **fields)).expect("rows are not empty");
        if fields < 2 {
            continue;
        }
        // Earlier delimiters win ties: only a strictly better one replaces them.
        if best.is_none_or(|(c, f, _)| (consistent, fields) > (c, f)) {
            best = Some((consistent, fields, d));
        }
    }
    best.map_or(b',', |(_, _, d)| d)
}

/// Whether `text` is a number as written in a file (`1`, `-2.5`, `7.3e-5`; with a decimal
/// comma, `52,52`).
fn is_number(text: &str, decimal_comma: bool) -> bool {
    if decimal_comma && text.matches(',').count() == 1 {
        return text.replacen(',', ".", 1).parse::<f64>().is_ok();
    }
    !text.is_empty()
        && text.parse::<f64>().is_ok()
        && !text.eq_ignore_ascii_case("nan")
        && !text.eq_ignore_ascii_case("inf")
}

/// Whether the first record names the columns.
pub(super) fn header(rows: &[Vec<String>], decimal_comma: bool) -> bool {
    let Some((first, rest)) = rows.split_first() else { return true };
    let numeric = |v: &str| is_number(v, decimal_comma);
    if rest.is_empty() {
        return !first.iter().any(|v| numeric(v));
    }
    let mut any_numeric_column = false;
    for (j, name) in first.iter().enumerate() {
        let values: Vec<&str> =
            rest.iter().filter_map(|r| r.get(j)).map(String::as_str).filter(|v| !v.is_empty()).collect();
        let numbers = values.iter().filter(|v| numeric(v)).count();
        if !values.is_empty() && numbers * 2 >= values.len() {
            any_numeric_column = true;
            if !name.is_empty() && !numeric(name) {
                return true;
            }
        }
    }
    // No column of numbers to compare with: a file of text columns has a header, as most do.
    !any_numeric_column
}

/// Whether numbers are written with a decimal comma: only with another delimiter, when some
/// field is `digits,digits` and none is `digits.digits`.
pub(super) fn decimal_comma(rows: &[Vec<String>], delimiter: u8) -> bool {
    if delimiter == b',' {
        return false;
    }
    let shaped = |v: &str, mark: char| {
        let v = v.strip_prefix(['-', '+']).unwrap_or(v);
        v.split_once(mark).is_some_and(|(a, b)| {
            !a.is_empty()
                && !b.is_empty()
                && a.bytes().all(|c| c.is_ascii_digit())
                && b.bytes().all(|c| c.is_ascii_digit())
        })
    };
    let fields = || rows.iter().skip(1).flatten();
    fields().any(|v| shaped(v, ',')) && !fields().any(|v| shaped(v, '.'))
}

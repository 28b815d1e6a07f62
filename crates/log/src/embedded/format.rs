//! The on-disk record batch format of the embedded log.
//!
//! A segment file is a sequence of batches. Every batch is self-describing and checksummed so that
//! recovery can tell a complete batch from a torn or corrupt one without any other file:
//!
//! ```text
//! offset  size  field
//!      0     8  base_offset      u64 LE   offset of the first record in the batch
//!      8     4  batch_len        u32 LE   size of the whole batch in bytes, header included
//!     12     4  crc32c           u32 LE   CRC-32C (Castagnoli) of bytes 16..batch_len
//!     16     1  magic            u8       format version, currently 1
//!     17     1  attributes       u8       reserved, 0
//!     18     2  reserved         u16      0
//!     20     4  record_count     u32 LE   > 0; record i has offset base_offset + i
//!     24     8  first_timestamp  i64 LE   milliseconds since the Unix epoch
//!     32     8  max_timestamp    i64 LE
//!     40     …  records
//! ```
//!
//! Each record is `timestamp_delta` (zig-zag varint, relative to `first_timestamp`), `key_len`
//! (zig-zag varint, −1 for no key), key bytes, `value_len` (varint), value bytes, `header_count`
//! (varint) and for each header `name_len` (varint), UTF-8 name, `value_len` (varint), value bytes.
//!
//! As in Kafka, the CRC does not cover the base offset, so a batch can be encoded before its offset
//! is known and stamped under the partition lock ([`stamp_base_offset`]). The base offset is
//! instead checked against the offset the reader expects, which catches corruption there too.

use bytes::Bytes;

use crate::record::{ConsumedRecord, Header, Record};

/// Size of the fixed batch header.
pub const HEADER_LEN: usize = 40;
/// The only format version this code writes and reads.
pub const MAGIC: u8 = 1;

/// Why bytes are not a valid batch. Recovery and readers turn this into an error that names the
/// file and position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchDefect {
    /// Fewer bytes than the header, or than the length the header declares.
    Incomplete { have: usize, need: usize },
    /// A header field holds an impossible value.
    BadHeader(String),
    /// The checksum does not match the content.
    CrcMismatch { stored: u32, computed: u32 },
    /// The base offset is not the one that follows the previous batch.
    UnexpectedOffset { expected: u64, found: u64 },
    /// The CRC matched but the records do not parse (a writer bug rather than disk damage).
    BadRecords(String),
}

impl std::fmt::Display for BatchDefect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Incomplete { have, need } => write!(f, "incomplete batch: {have} of {need} bytes"),
            Self::BadHeader(why) => write!(f, "bad batch header: {why}"),
            Self::CrcMismatch { stored, computed } => {
                write!(f, "CRC mismatch: stored {stored:#010x}, computed {computed:#010x}")
            }
            Self::UnexpectedOffset { expected, found } => {
                write!(f, "batch base offset {found}, expected {expected}")
            }
            Self::BadRecords(why) => write!(f, "malformed records: {why}"),
        }
    }
}

/// The fixed header of a batch, as read from disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    pub base_offset: u64,
    pub batch_len: u32,
    pub crc: u32,
    pub record_count: u32,
    pub first_timestamp: i64,
    pub max_timestamp: i64,
}

impl BatchHeader {
    /// Offset one past the last record of the batch.
    pub fn next_offset(&self) -> u64 {
        self.base_offset + u64::from(self.record_count)
    }
}

/// Encoded size of one record inside a batch (used to split appends into batches).
pub fn record_size(record: &Record, first_timestamp: i64) -> usize {
    let mut n = varint_len(zigzag(record.timestamp.wrapping_sub(first_timestamp)));
    n += match &record.key {
        Some(k) => varint_len(zigzag(k.len() as i64)) + k.len(),
        None => 1,
    };
    n += varint_len(record.value.len() as u64) + record.value.len();
    n += varint_len(record.headers.len() as u64);
    for h in &record.headers {
        n += varint_len(h.name.len() as u64) + h.name.len();
        n += varint_len(h.value.len() as u64) + h.value.len();
    }
    n
}

/// Encodes records into one batch with base offset 0; [`stamp_base_offset`] sets the real one.
///
/// # Panics
/// If `records` is empty or the batch would exceed 4 GiB; callers split appends well below that.
pub fn encode_batch(records: &[Record], out: &mut Vec<u8>) {
    assert!(!records.is_empty(), "a batch holds at least one record");
    let first_timestamp = records[0].timestamp;
    let max_timestamp = records.iter().map(|r| r.timestamp).max().unwrap_or(first_timestamp);
    let start = out.len();
    out.extend_from_slice(&[0u8; HEADER_LEN]);
    for r in records {
        put_varint(out, zigzag(r.timestamp.wrapping_sub(first_timestamp)));
        match &r.key {
            Some(k) => {
                put_varint(out, zigzag(k.len() as i64));
                out.extend_from_slice(k);
            }
            None => put_varint(out, zigzag(-1)),
        }
        put_varint(out, r.value.len() as u64);
        out.extend_from_slice(&r.value);
        put_varint(out, r.headers.len() as u64);
        for h in &r.headers {
            put_varint(out, h.name.len() as u64);
            out.extend_from_slice(h.name.as_bytes());
            put_varint(out, h.value.len() as u64);
            out.extend_from_slice(&h.value);
        }
    }
    let batch_len = u32::try_from(out.len() - start).expect("batch larger than 4 GiB");
    let header = &mut out[start..start + HEADER_LEN];
    header[8..12].copy_from_slice(&batch_len.to_le_bytes());
    header[16] = MAGIC;
    header[20..24].copy_from_slice(&(records.len() as u32).to_le_bytes());
    header[24..32].copy_from_slice(&first_timestamp.to_le_bytes());
    header[32..40].copy_from_slice(&max_timestamp.to_le_bytes());
    let crc = crc32c::crc32c(&out[start + 16..]);
    out[start + 12..start + 16].copy_from_slice(&crc.to_le_bytes());
}

/// Writes the base offset into an encoded batch (not covered by the CRC).
pub fn stamp_base_offset(batch: &mut [u8], base_offset: u64) {
    batch[0..8].copy_from_slice(&base_offset.to_le_bytes());
}

/// Parses and sanity-checks a header without looking at the body.
pub fn parse_header(bytes: &[u8]) -> Result<BatchHeader, BatchDefect> {
    if bytes.len() < HEADER_LEN {
        return Err(BatchDefect::Incomplete { have: bytes.len(), need: HEADER_LEN });
    }
    let u32_at = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().unwrap());
    let u64_at = |i: usize| u64::from_le_bytes(bytes[i..i + 8].try_into().unwrap());
    let header = BatchHeader {
        base_offset: u64_at(0),
        batch_len: u32_at(8),
        crc: u32_at(12),
        record_count: u32_at(20),
        first_timestamp: u64_at(24) as i64,
        max_timestamp: u64_at(32) as i64,
    };
    if bytes[16] != MAGIC {
        return Err(BatchDefect::BadHeader(format!("magic {} (expected {MAGIC})", bytes[16])));
    }
    if (header.batch_len as usize) < HEADER_LEN + 1 {
        return Err(BatchDefect::BadHeader(format!("batch length {}", header.batch_len)));
    }
    if header.record_count == 0 {
        return Err(BatchDefect::BadHeader("record count 0".into()));
    }
    // Offsets are Kafka's: below 2^63. The base offset is not covered by the CRC, so a damaged
    // one must not make `base + count` overflow (found by fuzzing the decoder).
    if header.base_offset.checked_add(u64::from(header.record_count)).is_none_or(|end| end > i64::MAX as u64)
    {
        return Err(BatchDefect::BadHeader(format!(
            "base offset {} with {} records is beyond the largest offset",
            header.base_offset, header.record_count
        )));
    }
    Ok(header)
}

/// Validates a complete batch (`bytes` holds at least the declared length): header, CRC and,
/// when given, the expected base offset. Returns the header.
pub fn check_batch(bytes: &[u8], expected_base: Option<u64>) -> Result<BatchHeader, BatchDefect> {
    let header = parse_header(bytes)?;
    let len = header.batch_len as usize;
    if bytes.len() < len {
        return Err(BatchDefect::Incomplete { have: bytes.len(), need: len });
    }
    let computed = crc32c::crc32c(&bytes[16..len]);
    if computed != header.crc {
        return Err(BatchDefect::CrcMismatch { stored: header.crc, computed });
    }
    if let Some(expected) = expected_base
        && expected != header.base_offset
    {
        return Err(BatchDefect::UnexpectedOffset { expected, found: header.base_offset });
    }
    Ok(header)
}

/// One record's fields, as byte ranges of its batch (found by [`walk_records`]).
struct RawRecord {
    timestamp_delta: i64,
    key: Option<std::ops::Range<usize>>,
    value: std::ops::Range<usize>,
    /// The encoded headers and their number (each checked: lengths, UTF-8 names).
    headers: std::ops::Range<usize>,
    header_count: u32,
}

/// Walks the records of a checked batch (`batch` is exactly one batch), checking their
/// structure, and calls `each` with each one's index and fields. The one parser of the record layout: [`decode_records`] and [`scan_records`]
/// differ only in what they make of the fields.
fn walk_records(
    batch: &[u8],
    header: &BatchHeader,
    mut each: impl FnMut(u32, RawRecord),
) -> Result<(), BatchDefect> {
    let end = header.batch_len as usize;
    let mut at = HEADER_LEN;
    let take = |at: &mut usize, len: u64| -> Result<std::ops::Range<usize>, BatchDefect> {
        if len > (end - *at) as u64 {
            return Err(BatchDefect::BadRecords(format!("field of {len} bytes, {} left", end - *at)));
        }
        let range = *at..*at + len as usize;
        *at = range.end;
        Ok(range)
    };
    // Header names repeat from record to record: each distinct name is checked once a batch.
    let mut known_names: Vec<&[u8]> = Vec::new();
    for i in 0..header.record_count {
        let timestamp_delta = unzigzag(get_varint(batch, end, &mut at)?);
        let key = match unzigzag(get_varint(batch, end, &mut at)?) {
            -1 => None,
            n if n >= 0 => Some(take(&mut at, n as u64)?),
            n => return Err(BatchDefect::BadRecords(format!("key length {n}"))),
        };
        let value_len = get_varint(batch, end, &mut at)?;
        let value = take(&mut at, value_len)?;
        let header_count = get_varint(batch, end, &mut at)?;
        let header_count = u32::try_from(header_count)
            .map_err(|_| BatchDefect::BadRecords(format!("{header_count} headers")))?;
        let headers_start = at;
        for _ in 0..header_count {
            let name_len = get_varint(batch, end, &mut at)?;
            let name = &batch[take(&mut at, name_len)?];
            if !known_names.contains(&name) {
                if std::str::from_utf8(name).is_err() {
                    return Err(BatchDefect::BadRecords("header name is not UTF-8".into()));
                }
                if known_names.len() < 8 {
                    known_names.push(name);
                }
            }
            let value_len = get_varint(batch, end, &mut at)?;
            take(&mut at, value_len)?;
        }
        each(i, RawRecord { timestamp_delta, key, value, headers: headers_start..at, header_count });
    }
    if at != end {
        return Err(BatchDefect::BadRecords(format!("{} trailing bytes", end - at)));
    }
    Ok(())
}

/// Decodes the records of a checked batch. `batch` must be exactly one batch as returned by
/// slicing the read buffer to `batch_len`; keys, values and header values share its memory.
/// Records with offsets below `skip_below` are skipped; at most `limit` are pushed.
pub fn decode_records(
    batch: &Bytes,
    header: &BatchHeader,
    skip_below: u64,
    limit: usize,
    topic: &std::sync::Arc<str>,
    partition: u32,
    out: &mut Vec<ConsumedRecord>,
) -> Result<(), BatchDefect> {
    let mut pushed = 0;
    // Header names repeat from record to record: intern them for this batch.
    let mut names: Vec<std::sync::Arc<str>> = Vec::new();
    walk_records(batch, header, |i, raw| {
        let offset = header.base_offset + u64::from(i);
        if offset < skip_below || pushed >= limit {
            return;
        }
        pushed += 1;
        let mut headers = Vec::with_capacity(raw.header_count as usize);
        let mut at = raw.headers.start;
        for _ in 0..raw.header_count {
            // Checked by the walk: lengths in range, names UTF-8.
            let name = varint_field(batch, &mut at);
            let value = varint_field(batch, &mut at);
            let raw_name = &batch[name];
            let name = match names.iter().find(|n| n.as_bytes() == raw_name) {
                Some(n) => n.clone(),
                None => {
                    let n: std::sync::Arc<str> =
                        std::sync::Arc::from(std::str::from_utf8(raw_name).unwrap_or(""));
                    names.push(n.clone());
                    n
                }
            };
            headers.push(Header { name, value: batch.slice(value) });
        }
        out.push(ConsumedRecord {
            topic: topic.clone(),
            partition,
            offset,
            record: Record {
                key: raw.key.map(|k| batch.slice(k)),
                value: batch.slice(raw.value),
                headers,
                timestamp: header.first_timestamp.wrapping_add(raw.timestamp_delta),
            },
        });
    })
}

/// Like [`decode_records`], but notes where each record's fields are instead of taking them
/// apart: `batch` becomes buffer number `buffer` of a [`RecordsView`](crate::RecordsView).
/// Returns how many records it noted.
pub(crate) fn scan_records(
    batch: &[u8],
    header: &BatchHeader,
    skip_below: u64,
    limit: usize,
    buffer: u32,
    spans: &mut Vec<crate::view::Span>,
) -> Result<usize, BatchDefect> {
    let mut pushed = 0;
    let range = |r: std::ops::Range<usize>| (r.start as u32, (r.end - r.start) as u32);
    walk_records(batch, header, |i, raw| {
        let offset = header.base_offset + u64::from(i);
        if offset < skip_below || pushed >= limit {
            return;
        }
        pushed += 1;
        spans.push(crate::view::Span {
            buffer,
            offset,
            timestamp: header.first_timestamp.wrapping_add(raw.timestamp_delta),
            key: raw.key.map_or((0, u32::MAX), range),
            value: range(raw.value),
            headers: range(raw.headers),
            header_count: raw.header_count,
        });
    })?;
    Ok(pushed)
}

/// A varint length and the range of that many bytes after it, in a batch [`walk_records`]
/// has checked.
fn varint_field(batch: &[u8], at: &mut usize) -> std::ops::Range<usize> {
    let len = get_varint(batch, batch.len(), at).unwrap_or(0) as usize;
    let range = *at..(*at + len).min(batch.len());
    *at = range.end;
    range
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

fn varint_len(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_varint(bytes: &[u8], end: usize, at: &mut usize) -> Result<u64, BatchDefect> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        if *at >= end {
            return Err(BatchDefect::BadRecords("truncated varint".into()));
        }
        let b = bytes[*at];
        *at += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(BatchDefect::BadRecords("varint longer than 10 bytes".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::sync::Arc;

    fn arb_record() -> impl Strategy<Value = Record> {
        (
            proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40)),
            proptest::collection::vec(any::<u8>(), 0..300),
            proptest::collection::vec(("[a-z]{0,8}", proptest::collection::vec(any::<u8>(), 0..16)), 0..3),
            any::<i64>(),
        )
            .prop_map(|(key, value, headers, timestamp)| Record {
                key: key.map(Bytes::from),
                value: Bytes::from(value),
                headers: headers
                    .into_iter()
                    .map(|(name, value)| Header { name: name.into(), value: Bytes::from(value) })
                    .collect(),
                timestamp,
            })
    }

    #[test]
    fn a_base_offset_near_the_end_of_the_range_is_a_defect_not_an_overflow() {
        // fuzz/ log_batch found it: a valid batch whose base offset (outside the CRC) was damaged.
        let mut buf = Vec::new();
        encode_batch(&[Record::new("a"), Record::new("b"), Record::new("c")], &mut buf);
        for base in [u64::MAX - 1, i64::MAX as u64 - 1] {
            stamp_base_offset(&mut buf, base);
            let defect = check_batch(&buf, None).unwrap_err();
            assert!(
                matches!(&defect, BatchDefect::BadHeader(m) if m.contains("beyond the largest offset")),
                "{defect:?}"
            );
        }
        stamp_base_offset(&mut buf, i64::MAX as u64 - 3);
        assert_eq!(decode_all(&Bytes::from(buf), i64::MAX as u64 - 3).len(), 3);
    }

    fn decode_all(bytes: &Bytes, base: u64) -> Vec<ConsumedRecord> {
        let header = check_batch(bytes, Some(base)).unwrap();
        let mut out = Vec::new();
        decode_records(bytes, &header, 0, usize::MAX, &Arc::from("t"), 0, &mut out).unwrap();
        out
    }

    proptest! {
        #[test]
        fn round_trip(records in proptest::collection::vec(arb_record(), 1..20), base in any::<u32>()) {
            let mut buf = Vec::new();
            encode_batch(&records, &mut buf);
            let expected_len: usize = HEADER_LEN
                + records.iter().map(|r| record_size(r, records[0].timestamp)).sum::<usize>();
            prop_assert_eq!(buf.len(), expected_len);
            stamp_base_offset(&mut buf, u64::from(base));
            let decoded = decode_all(&Bytes::from(buf), u64::from(base));
            prop_assert_eq!(decoded.len(), records.len());
            for (i, (d, r)) in decoded.iter().zip(&records).enumerate() {
                prop_assert_eq!(d.offset, u64::from(base) + i as u64);
                prop_assert_eq!(&d.record, r);
            }
        }

        #[test]
        fn a_view_holds_the_records_that_decoding_gives(
            records in proptest::collection::vec(arb_record(), 1..20),
            skip in 0u64..25,
            limit in 0usize..25,
        ) {
            let mut buf = Vec::new();
            encode_batch(&records, &mut buf);
            stamp_base_offset(&mut buf, 100);
            let bytes = Bytes::from(buf);
            let header = check_batch(&bytes, Some(100)).unwrap();
            let mut decoded = Vec::new();
            decode_records(&bytes, &header, 100 + skip, limit, &Arc::from("t"), 3, &mut decoded).unwrap();
            let mut spans = Vec::new();
            let n = scan_records(&bytes, &header, 100 + skip, limit, 0, &mut spans).unwrap();
            prop_assert_eq!(n, decoded.len());
            let view = crate::RecordsView::from_batches(Arc::from("t"), 3, vec![bytes.clone()], spans);
            prop_assert_eq!(view.len(), decoded.len());
            prop_assert_eq!(view.last_offset(), decoded.last().map(|r| r.offset));
            for ((offset, r), d) in view.iter().zip(&decoded) {
                prop_assert_eq!(offset, d.offset);
                prop_assert_eq!(r.to_record(), d.record.clone());
                let headers: Vec<_> = r.headers.iter().collect();
                let expected: Vec<_> = d.record.headers.iter().map(|h| (&*h.name, &h.value[..])).collect();
                prop_assert_eq!(headers, expected);
                for h in &d.record.headers {
                    let first = d.record.headers.iter().find(|x| x.name == h.name).unwrap();
                    prop_assert_eq!(r.headers.get(&h.name), Some(&first.value[..]));
                }
                prop_assert_eq!(r.headers.get("no such header"), None);
            }
            prop_assert_eq!(view.into_records(), decoded);
        }

        #[test]
        fn any_flipped_bit_after_the_offset_is_detected(
            records in proptest::collection::vec(arb_record(), 1..5),
            at in any::<proptest::sample::Index>(),
            bit in 0u8..8,
        ) {
            let mut buf = Vec::new();
            encode_batch(&records, &mut buf);
            // Bytes 0..8 are the base offset, checked against the expected offset instead.
            let i = 8 + at.index(buf.len() - 8);
            buf[i] ^= 1 << bit;
            prop_assert!(check_batch(&buf, Some(0)).is_err());
        }

        #[test]
        fn a_wrong_base_offset_is_detected(records in proptest::collection::vec(arb_record(), 1..3), base in 1u64..(1 << 62)) {
            let mut buf = Vec::new();
            encode_batch(&records, &mut buf);
            stamp_base_offset(&mut buf, base);
            prop_assert_eq!(
                check_batch(&buf, Some(0)),
                Err(BatchDefect::UnexpectedOffset { expected: 0, found: base })
            );
        }

        #[test]
        fn any_truncation_is_incomplete(records in proptest::collection::vec(arb_record(), 1..5), cut in any::<proptest::sample::Index>()) {
            let mut buf = Vec::new();
            encode_batch(&records, &mut buf);
            let keep = cut.index(buf.len());
            let is_incomplete = matches!(check_batch(&buf[..keep], Some(0)), Err(BatchDefect::Incomplete { .. }));
            prop_assert!(is_incomplete);
        }
    }

    #[test]
    fn skip_and_limit_select_a_window() {
        let records: Vec<Record> = (0..10).map(|i| Record::new(format!("v{i}"))).collect();
        let mut buf = Vec::new();
        encode_batch(&records, &mut buf);
        stamp_base_offset(&mut buf, 100);
        let bytes = Bytes::from(buf);
        let header = check_batch(&bytes, Some(100)).unwrap();
        let mut out = Vec::new();
        decode_records(&bytes, &header, 103, 4, &Arc::from("t"), 0, &mut out).unwrap();
        let offsets: Vec<u64> = out.iter().map(|r| r.offset).collect();
        assert_eq!(offsets, vec![103, 104, 105, 106]);
    }
}

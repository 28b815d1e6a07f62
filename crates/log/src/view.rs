//! Records read without being taken apart: [`RecordsView`] and the borrowed [`RecordRef`].
//!
//! [`EventLog::read`](crate::EventLog::read) hands out owned records: per record a vector of
//! headers and reference-counted slices of the read buffer, which a reader that only looks at
//! each record once (a stream processor decoding a position) pays for and throws away. A view
//! keeps the batches as they were read and finds the records' fields in them (their places are
//! noted once, when the read checks the batches), so iterating costs no allocation and no
//! reference count per record. [`EventLog::read_view`](crate::EventLog::read_view) returns one;
//! backends without raw batches (Kafka, a remote log) wrap their records in one instead.

use std::sync::Arc;

use bytes::Bytes;

use crate::record::{ConsumedRecord, Header, Record};

/// The records of one read of one partition.
#[derive(Debug, Clone)]
pub struct RecordsView {
    topic: Arc<str>,
    partition: u32,
    inner: Inner,
}

#[derive(Debug, Clone)]
enum Inner {
    /// Checked batches and where each record's fields are in them.
    Batches { buffers: Vec<Bytes>, spans: Vec<Span> },
    /// Records already taken apart (backends without raw batches).
    Records(Vec<ConsumedRecord>),
}

/// Where one record's fields are in its batch buffer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Span {
    pub buffer: u32,
    pub offset: u64,
    pub timestamp: i64,
    /// `(start, len)`; `len == u32::MAX` for a record without a key.
    pub key: (u32, u32),
    pub value: (u32, u32),
    /// The encoded headers `(start, len)` and their number.
    pub headers: (u32, u32),
    pub header_count: u32,
}

/// One record, borrowed from a [`RecordsView`] (or from a [`Record`]).
#[derive(Debug, Clone, Copy)]
pub struct RecordRef<'a> {
    pub timestamp: i64,
    pub key: Option<&'a [u8]>,
    pub value: &'a [u8],
    pub headers: HeadersRef<'a>,
}

/// A record's headers, borrowed: encoded as in a batch, or taken apart.
#[derive(Debug, Clone, Copy)]
pub enum HeadersRef<'a> {
    Encoded { bytes: &'a [u8], count: u32 },
    Decoded(&'a [Header]),
}

impl<'a> HeadersRef<'a> {
    /// The headers in order, as (name, value). A name that is not UTF-8 cannot occur in a
    /// checked batch; it would read as an empty name.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, &'a [u8])> + 'a {
        let (encoded, decoded) = match *self {
            Self::Encoded { bytes, count } => (Some(EncodedHeaders { bytes, left: count }), None),
            Self::Decoded(headers) => (None, Some(headers.iter().map(|h| (&*h.name, &h.value[..])))),
        };
        encoded.into_iter().flatten().chain(decoded.into_iter().flatten())
    }

    /// The value of the first header called `name` (names compared as bytes: the hot path of
    /// a reader that looks for one header per record).
    pub fn get(&self, name: &str) -> Option<&'a [u8]> {
        match *self {
            Self::Encoded { bytes, count } => {
                let mut rest = bytes;
                for _ in 0..count {
                    let (n, v) = (take(&mut rest)?, take(&mut rest)?);
                    if n == name.as_bytes() {
                        return Some(v);
                    }
                }
                None
            }
            Self::Decoded(headers) => headers.iter().find(|h| &*h.name == name).map(|h| &h.value[..]),
        }
    }
}

struct EncodedHeaders<'a> {
    bytes: &'a [u8],
    left: u32,
}

impl<'a> Iterator for EncodedHeaders<'a> {
    type Item = (&'a str, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let name = take(&mut self.bytes)?;
        let value = take(&mut self.bytes)?;
        Some((std::str::from_utf8(name).unwrap_or(""), value))
    }
}

/// A varint length and that many bytes (the batch was checked when it was read).
fn take<'a>(bytes: &mut &'a [u8]) -> Option<&'a [u8]> {
    let (mut len, mut shift, mut i) = (0usize, 0, 0);
    loop {
        let b = *bytes.get(i)?;
        len |= usize::from(b & 0x7f) << shift;
        i += 1;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
    let field = bytes.get(i..i.checked_add(len)?)?;
    *bytes = &bytes[i + len..];
    Some(field)
}

impl<'a> From<&'a Record> for RecordRef<'a> {
    fn from(r: &'a Record) -> Self {
        Self {
            timestamp: r.timestamp,
            key: r.key.as_deref(),
            value: &r.value,
            headers: HeadersRef::Decoded(&r.headers),
        }
    }
}

impl RecordRef<'_> {
    /// An owned record with the same content.
    pub fn to_record(&self) -> Record {
        Record {
            key: self.key.map(Bytes::copy_from_slice),
            value: Bytes::copy_from_slice(self.value),
            headers: self
                .headers
                .iter()
                .map(|(name, value)| Header { name: Arc::from(name), value: Bytes::copy_from_slice(value) })
                .collect(),
            timestamp: self.timestamp,
        }
    }
}

impl RecordsView {
    pub(crate) fn from_batches(
        topic: Arc<str>,
        partition: u32,
        buffers: Vec<Bytes>,
        spans: Vec<Span>,
    ) -> Self {
        Self { topic, partition, inner: Inner::Batches { buffers, spans } }
    }

    /// A view of records already taken apart, all of `topic`/`partition`.
    pub fn from_records(topic: Arc<str>, partition: u32, records: Vec<ConsumedRecord>) -> Self {
        Self { topic, partition, inner: Inner::Records(records) }
    }

    pub fn topic(&self) -> &Arc<str> {
        &self.topic
    }

    pub fn partition(&self) -> u32 {
        self.partition
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        match &self.inner {
            Inner::Batches { spans, .. } => spans.len(),
            Inner::Records(r) => r.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The offset of the last record.
    pub fn last_offset(&self) -> Option<u64> {
        match &self.inner {
            Inner::Batches { spans, .. } => spans.last().map(|s| s.offset),
            Inner::Records(r) => r.last().map(|r| r.offset),
        }
    }

    /// The records in offset order, each with its offset.
    pub fn iter(&self) -> impl Iterator<Item = (u64, RecordRef<'_>)> {
        let (batches, records) = match &self.inner {
            Inner::Batches { buffers, spans } => {
                (Some(spans.iter().map(|s| (s.offset, s.record(buffers)))), None)
            }
            Inner::Records(r) => (None, Some(r.iter().map(|r| (r.offset, RecordRef::from(&r.record))))),
        };
        batches.into_iter().flatten().chain(records.into_iter().flatten())
    }

    /// The records, taken apart (copies of their bytes where the view holds batches).
    pub fn into_records(self) -> Vec<ConsumedRecord> {
        match self.inner {
            Inner::Records(r) => r,
            Inner::Batches { .. } => self
                .iter()
                .map(|(offset, r)| ConsumedRecord {
                    topic: self.topic.clone(),
                    partition: self.partition,
                    offset,
                    record: r.to_record(),
                })
                .collect(),
        }
    }
}

impl Span {
    fn record<'a>(&self, buffers: &'a [Bytes]) -> RecordRef<'a> {
        let b = &buffers[self.buffer as usize][..];
        let slice = |(start, len): (u32, u32)| &b[start as usize..start as usize + len as usize];
        RecordRef {
            timestamp: self.timestamp,
            key: (self.key.1 != u32::MAX).then(|| slice(self.key)),
            value: slice(self.value),
            headers: HeadersRef::Encoded { bytes: slice(self.headers), count: self.header_count },
        }
    }
}

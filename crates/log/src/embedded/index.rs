//! The sparse offset index of a segment.
//!
//! One entry per `index_interval_bytes` of segment data maps an offset (relative to the segment's
//! base) to the byte position of the batch that starts with it, so that a read from any offset
//! seeks to at most one interval before its batch instead of scanning the segment.
//!
//! The index of the active segment lives in memory and is rebuilt by scanning on recovery; when a
//! segment is sealed its index is written to `<base>.index` with a footer and a CRC, so that a
//! damaged index file is detected and rebuilt rather than trusted:
//!
//! ```text
//! entries        n × (relative_offset u32 LE, position u32 LE)
//! covered_len    u64 LE   segment bytes the index describes (a batch boundary)
//! next_offset    u64 LE   offset of the first record after covered_len
//! entry_count    u32 LE
//! crc32c         u32 LE   of everything before it
//! ```

/// One index entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexEntry {
    /// Offset of the batch's first record minus the segment's base offset.
    pub relative_offset: u32,
    /// Byte position of the batch in the segment file.
    pub position: u32,
}

/// An in-memory sparse index; entries strictly increase in both fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SparseIndex {
    entries: Vec<IndexEntry>,
}

/// A decoded index file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexFile {
    pub index: SparseIndex,
    pub covered_len: u64,
    pub next_offset: u64,
}

const FOOTER_LEN: usize = 24;

impl SparseIndex {
    /// The entry with the largest relative offset ≤ `relative_offset`, or the segment start.
    pub fn lookup(&self, relative_offset: u32) -> IndexEntry {
        let i = self.entries.partition_point(|e| e.relative_offset <= relative_offset);
        if i == 0 { IndexEntry { relative_offset: 0, position: 0 } } else { self.entries[i - 1] }
    }

    /// Adds an entry; ignored unless it is beyond the last one in both fields.
    pub fn push(&mut self, entry: IndexEntry) {
        if self
            .entries
            .last()
            .is_none_or(|last| entry.relative_offset > last.relative_offset && entry.position > last.position)
        {
            self.entries.push(entry);
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The last entry, if any.
    pub fn last(&self) -> Option<IndexEntry> {
        self.entries.last().copied()
    }

    /// Drops entries at or beyond byte position `len` (after a truncation).
    pub fn truncate_to_len(&mut self, len: u64) {
        self.entries.retain(|e| u64::from(e.position) < len);
    }

    /// Serialises the index with its footer.
    pub fn encode(&self, covered_len: u64, next_offset: u64) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.entries.len() * 8 + FOOTER_LEN);
        for e in &self.entries {
            out.extend_from_slice(&e.relative_offset.to_le_bytes());
            out.extend_from_slice(&e.position.to_le_bytes());
        }
        out.extend_from_slice(&covered_len.to_le_bytes());
        out.extend_from_slice(&next_offset.to_le_bytes());
        out.extend_from_slice(&(self.entries.len() as u32).to_le_bytes());
        let crc = crc32c::crc32c(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Parses an index file; `None` if it is damaged in any way (it is then rebuilt by a scan).
    pub fn decode(bytes: &[u8]) -> Option<IndexFile> {
        if bytes.len() < FOOTER_LEN || !(bytes.len() - FOOTER_LEN).is_multiple_of(8) {
            return None;
        }
        let (body, crc) = bytes.split_at(bytes.len() - 4);
        if crc32c::crc32c(body) != u32::from_le_bytes(crc.try_into().ok()?) {
            return None;
        }
        let footer = &body[body.len() - 20..];
        let covered_len = u64::from_le_bytes(footer[0..8].try_into().ok()?);
        let next_offset = u64::from_le_bytes(footer[8..16].try_into().ok()?);
        let count = u32::from_le_bytes(footer[16..20].try_into().ok()?) as usize;
        let entries_bytes = &body[..body.len() - 20];
        if entries_bytes.len() != count * 8 {
            return None;
        }
        let mut index = SparseIndex::default();
        for chunk in entries_bytes.chunks_exact(8) {
            let e = IndexEntry {
                relative_offset: u32::from_le_bytes(chunk[0..4].try_into().ok()?),
                position: u32::from_le_bytes(chunk[4..8].try_into().ok()?),
            };
            if u64::from(e.position) >= covered_len {
                return None;
            }
            let before = index.len();
            index.push(e);
            if index.len() == before {
                return None;
            }
        }
        Some(IndexFile { index, covered_len, next_offset })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn index_from(steps: &[(u32, u32)]) -> SparseIndex {
        let mut idx = SparseIndex::default();
        let (mut off, mut pos) = (0u32, 0u32);
        for &(d_off, d_pos) in steps {
            off += d_off + 1;
            pos += d_pos + 1;
            idx.push(IndexEntry { relative_offset: off, position: pos });
        }
        idx
    }

    proptest! {
        #[test]
        fn lookup_finds_the_greatest_entry_not_after_the_target(
            steps in proptest::collection::vec((0u32..1000, 0u32..100_000), 0..200),
            target in 0u32..300_000,
        ) {
            let idx = index_from(&steps);
            let found = idx.lookup(target);
            prop_assert!(found.relative_offset <= target);
            // No entry lies strictly between the found one and the target.
            for e in &idx.entries {
                prop_assert!(!(e.relative_offset > found.relative_offset && e.relative_offset <= target));
            }
        }

        #[test]
        fn encode_decode_round_trip(steps in proptest::collection::vec((0u32..1000, 0u32..100_000), 0..200)) {
            let idx = index_from(&steps);
            let covered = idx.last().map_or(0, |e| u64::from(e.position)) + 10;
            let file = SparseIndex::decode(&idx.encode(covered, 42)).unwrap();
            prop_assert_eq!(file, IndexFile { index: idx, covered_len: covered, next_offset: 42 });
        }

        #[test]
        fn any_damage_is_rejected(
            steps in proptest::collection::vec((0u32..1000, 0u32..100_000), 0..50),
            at in any::<proptest::sample::Index>(),
            bit in 0u8..8,
        ) {
            let idx = index_from(&steps);
            let covered = idx.last().map_or(0, |e| u64::from(e.position)) + 10;
            let mut bytes = idx.encode(covered, 7);
            let i = at.index(bytes.len());
            bytes[i] ^= 1 << bit;
            prop_assert!(SparseIndex::decode(&bytes).is_none());
            prop_assert!(SparseIndex::decode(&bytes[..bytes.len() - 1]).is_none());
        }
    }
}

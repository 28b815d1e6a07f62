//! Choosing a partition for a record, compatible with the Java Kafka client.

use std::sync::atomic::{AtomicU32, Ordering};

/// Kafka's `Utils.murmur2`: MurmurHash2, 32 bit, seed `0x9747b28c`, as the Java client's default
/// partitioner applies it to key bytes.
///
/// ```
/// // The test vectors of Kafka's UtilsTest.
/// assert_eq!(tributary_log::murmur2(b"21"), -973932308);
/// assert_eq!(tributary_log::murmur2(b"abc"), 479470107);
/// ```
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let length = data.len() as u32;
    let mut h: u32 = SEED ^ length;
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let rest = chunks.remainder();
    // Java's switch falls through from case 3 to case 1; the bytes are sign-extended there but
    // masked with 0xff, so plain u8 → u32 is the same.
    if rest.len() >= 3 {
        h ^= u32::from(rest[2]) << 16;
    }
    if rest.len() >= 2 {
        h ^= u32::from(rest[1]) << 8;
    }
    if !rest.is_empty() {
        h ^= u32::from(rest[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// The partition that the Java client's default partitioner picks for a key:
/// `toPositive(murmur2(key)) % partitions`.
///
/// ```
/// assert_eq!(tributary_log::partition_for_key(b"device-1", 1), 0);
/// ```
pub fn partition_for_key(key: &[u8], partitions: u32) -> u32 {
    assert!(partitions > 0, "a topic has at least one partition");
    ((murmur2(key) & 0x7fff_ffff) as u32) % partitions
}

/// Spreads unkeyed records over partitions round-robin; keyed ones by [`partition_for_key`].
#[derive(Debug, Default)]
pub struct Partitioner {
    next: AtomicU32,
}

impl Partitioner {
    /// Picks the partition of one record.
    pub fn partition(&self, key: Option<&[u8]>, partitions: u32) -> u32 {
        match key {
            Some(k) => partition_for_key(k, partitions),
            None => self.next.fetch_add(1, Ordering::Relaxed) % partitions,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_java_client() {
        // org.apache.kafka.common.utils.UtilsTest#testMurmur2
        let cases: [(&[u8], i32); 6] = [
            (b"21", -973932308),
            (b"foobar", -790332482),
            (b"a-little-bit-long-string", -985981536),
            (b"a-little-bit-longer-string", -1486304829),
            (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
            (b"abc", 479470107),
        ];
        for (key, expected) in cases {
            assert_eq!(murmur2(key), expected, "key {:?}", String::from_utf8_lossy(key));
        }
    }

    #[test]
    fn keys_map_like_the_default_partitioner() {
        // toPositive(-973932308) = 1173551340; % 4 = 0, % 3 = 0, % 7 = 1.
        assert_eq!(partition_for_key(b"21", 4), 1173551340 % 4);
        assert_eq!(partition_for_key(b"21", 7), 1173551340 % 7);
    }

    #[test]
    fn unkeyed_records_go_round_robin() {
        let p = Partitioner::default();
        let picks: Vec<u32> = (0..6).map(|_| p.partition(None, 3)).collect();
        assert_eq!(picks, vec![0, 1, 2, 0, 1, 2]);
    }
}

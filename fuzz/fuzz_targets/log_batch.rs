//! The embedded log's batch decoder: any bytes are a batch, or a defect, never a panic or an
//! out-of-bounds read; a batch that passes its checks decodes to exactly its record count.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use tributary_log::embedded::format::{check_batch, decode_records};

fuzz_target!(|data: &[u8]| {
    let bytes = Bytes::copy_from_slice(data);
    let Ok(header) = check_batch(&bytes, None) else { return };
    let batch = bytes.slice(..header.batch_len as usize);
    let topic: std::sync::Arc<str> = std::sync::Arc::from("fuzz");
    let mut out = Vec::new();
    if decode_records(&batch, &header, 0, usize::MAX, &topic, 0, &mut out).is_ok() {
        assert_eq!(out.len() as u64, u64::from(header.record_count));
    }
});

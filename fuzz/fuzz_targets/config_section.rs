//! The configuration grammar with hand-written parsers: the `[embedded_log]` section (sizes such
//! as "64 MiB", durations such as "1h 30m", "forever" limits, fsync policies), from any TOML
//! text. Anything is a section or an error, never a panic; a section that validates holds
//! values in range. (The rest of `tributary.toml` is serde's derive over plain types, loaded by
//! the binary; its bad-input tests are in crates/tributary/src/config.rs.)
#![no_main]

use libfuzzer_sys::fuzz_target;
use tributary_log::EmbeddedLogConfig;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(config) = toml::from_str::<EmbeddedLogConfig>(text) else { return };
    if config.validate().is_ok() {
        assert!(config.default_partitions >= 1, "{config:?}");
        assert!(config.segment_bytes.0 > 0 && config.max_record_bytes.0 > 0, "{config:?}");
    }
});

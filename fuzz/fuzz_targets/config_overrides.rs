//! The configuration's override grammar (crates/tributary/src/config/overrides.rs, included as
//! it is): environment variable names to keys, `--set` flags split and their values read as TOML
//! into the table. Any bytes are an override or an error, never a panic; an accepted override
//! is in the table where its key says.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../../crates/tributary/src/config/overrides.rs"]
mod overrides;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut table = toml::Table::new();
    // Each line is an environment variable (NAME=value) or, after a first "--set " line, a flag.
    let mut flags = false;
    for line in text.lines() {
        if line == "--set" {
            flags = true;
            continue;
        }
        let (key, value) = if flags {
            match overrides::split_set(line) {
                Ok((key, value)) => (key.trim().to_string(), value),
                Err(_) => continue,
            }
        } else {
            let Some((name, value)) = line.split_once('=') else { continue };
            if overrides::is_kubernetes_service_link(name) {
                // Skipped by the loader: never a key of the configuration.
                assert!(overrides::env_key(name).is_err(), "{name} is both a service link and a key");
                continue;
            }
            match overrides::env_key(name) {
                Ok(key) => (key, value),
                Err(_) => continue,
            }
        };
        if overrides::set_dotted(&mut table, &key, value).is_ok() {
            // `key`, `section.key` or `section.table.key`: each part a table but the last.
            let mut parts = key.split('.');
            let first = parts.next().expect("split gives a first part");
            let mut found = table.get(first);
            for part in parts {
                found = found.and_then(|t| t.get(part));
            }
            assert!(found.is_some(), "{key} was set but is not in the table");
        }
    }
});

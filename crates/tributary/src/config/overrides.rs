//! The configuration's override grammar: environment variables (`TRIBUTARY_<KEY>`,
//! `TRIBUTARY_<SECTION>_<KEY>`) and `--set section.key=value` flags, applied to the TOML table
//! before it is deserialised. Only `toml` and `anyhow`: the fuzz target `config_overrides`
//! includes this file as it is.

use anyhow::bail;

/// Sections of the config file (tables, `mobile.input` inside `mobile`); every other key is
/// top-level.
pub(crate) const SECTIONS: &[&str] =
    &["logging", "topics", "embedded_log", "mobile", "mobile.input", "markets", "api", "cache", "retention"];
/// Top-level keys.
pub(crate) const TOP_LEVEL: &[&str] = &["data_dir", "log", "store", "lake"];
/// Environment variables with the prefix that are not config keys.
pub(crate) const NOT_KEYS: &[&str] = &["TRIBUTARY_CONFIG", "TRIBUTARY_TEST_DATA"];

/// Whether `name` is one of the variables Kubernetes gives every pod for a Service named
/// `tributary` in its namespace ("service links": `TRIBUTARY_SERVICE_HOST`,
/// `TRIBUTARY_SERVICE_PORT[_NAME]`, `TRIBUTARY_PORT`, `TRIBUTARY_PORT_8080_TCP[_PROTO|_PORT|_ADDR]`).
/// They share the prefix of the configuration's variables but are not config keys, and a pod
/// beside such a Service must still start (Tributary's manifests also turn service links off).
pub(crate) fn is_kubernetes_service_link(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("TRIBUTARY_") else { return false };
    if rest == "SERVICE_HOST" || rest == "SERVICE_PORT" || rest.starts_with("SERVICE_PORT_") || rest == "PORT"
    {
        return true;
    }
    let Some(port) = rest.strip_prefix("PORT_") else { return false };
    let mut parts = port.splitn(3, '_');
    let (number, protocol, field) = (parts.next(), parts.next(), parts.next());
    number.is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        && matches!(protocol, Some("TCP" | "UDP" | "SCTP"))
        && matches!(field, None | Some("PROTO" | "PORT" | "ADDR"))
}

/// Splits a `--set` flag's `section.key=value` at its first `=`.
pub(crate) fn split_set(pair: &str) -> anyhow::Result<(&str, &str)> {
    match pair.split_once('=') {
        Some(split) => Ok(split),
        None => bail!(
            "--set {pair}: expected section.key=value, for example --set embedded_log.fsync=every-batch"
        ),
    }
}

/// Maps `TRIBUTARY_EMBEDDED_LOG_FSYNC` to `embedded_log.fsync`.
pub(crate) fn env_key(name: &str) -> anyhow::Result<String> {
    let Some(rest) = name.strip_prefix("TRIBUTARY_") else {
        bail!("environment variable {name} is not one of Tributary's (TRIBUTARY_…)");
    };
    let rest = rest.to_ascii_lowercase();
    if TOP_LEVEL.contains(&rest.as_str()) {
        return Ok(rest);
    }
    // The longest section first: `MOBILE_INPUT_TIME_ZONE` is `mobile.input.time_zone`.
    let mut sections = SECTIONS.to_vec();
    sections.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for section in sections {
        if let Some(key) = rest.strip_prefix(&section.replace('.', "_")).and_then(|r| r.strip_prefix('_'))
            && !key.is_empty()
        {
            return Ok(format!("{section}.{key}"));
        }
    }
    bail!(
        "environment variable {name} names no config key: use TRIBUTARY_<KEY> for {} or TRIBUTARY_<SECTION>_<KEY> for sections {}",
        TOP_LEVEL.join(", "),
        SECTIONS.join(", ")
    )
}

/// Sets `key` (`top`, `section.key` or `section.table.key`) in `table` to `raw`, read as a TOML
/// value if it is one.
pub(crate) fn set_dotted(table: &mut toml::Table, key: &str, raw: &str) -> anyhow::Result<()> {
    let value = format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()));
    let parts: Vec<&str> = key.split('.').collect();
    match parts.as_slice() {
        [top] if !top.is_empty() => {
            table.insert(top.to_string(), value);
        }
        [tables @ .., k] if tables.len() <= 2 && !k.is_empty() && tables.iter().all(|t| !t.is_empty()) => {
            let mut t = table;
            for (i, name) in tables.iter().enumerate() {
                let entry =
                    t.entry(name.to_string()).or_insert_with(|| toml::Value::Table(Default::default()));
                let Some(inner) = entry.as_table_mut() else {
                    bail!("`{}` is not a section", tables[..=i].join("."));
                };
                t = inner;
            }
            t.insert(k.to_string(), value);
        }
        _ => bail!("`{key}` is not a config key: use `key`, `section.key` or `section.table.key`"),
    }
    Ok(())
}

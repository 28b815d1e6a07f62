//! Sections whose keys belong to more than one owner, and keys that have moved.
//!
//! `[mobile]` holds the topic, the sources crate's inbox and generator keys ([`InboxConfig`],
//! [`GeneratorSettings`]) and the streaming k-means's (`model`, `k`, `decay`, …), which the
//! processors crate owns as [`KMeansConfig`](tributary_processors::kmeans_config::KMeansConfig); `[markets]` holds the
//! sources crate's `pull_*` keys ([`PullLimits`]) and the batch crate's `batch_*` keys
//! ([`FollowConfig`]). Users write them all in one section each. Before deserializing, [`nest`] moves each owner's keys into a table of their own
//! (`mobile.kmeans`), so that the owner's type reads them with serde's checks and error paths;
//! [`flat_key`] turns such a path back into the key as the user wrote it.

use std::collections::BTreeMap;

use anyhow::bail;
use tributary_batch::FollowConfig;
use tributary_processors::kmeans_config::KMeansConfig;
use tributary_settings::keys_of;
use tributary_sources::pull::PullLimits;
use tributary_sources::settings::{GeneratorSettings, InboxConfig};

/// A part of a section owned elsewhere: its keys, written in `section`, are read as `part`.
struct Part {
    section: &'static str,
    /// The section's type's keys (`part` among them).
    section_keys: fn() -> &'static [&'static str],
    part: &'static str,
    /// The part's type's keys.
    keys: fn() -> &'static [&'static str],
}

const PARTS: &[Part] = &[
    Part {
        section: "mobile",
        section_keys: keys_of::<super::MobileConfig>,
        part: "directory",
        keys: keys_of::<InboxConfig>,
    },
    Part {
        section: "mobile",
        section_keys: keys_of::<super::MobileConfig>,
        part: "generator",
        keys: keys_of::<GeneratorSettings>,
    },
    Part {
        section: "mobile",
        section_keys: keys_of::<super::MobileConfig>,
        part: "kmeans",
        keys: keys_of::<KMeansConfig>,
    },
    Part {
        section: "markets",
        section_keys: keys_of::<super::MarketsConfig>,
        part: "pull",
        keys: keys_of::<PullLimits>,
    },
    Part {
        section: "markets",
        section_keys: keys_of::<super::MarketsConfig>,
        part: "batch",
        keys: keys_of::<FollowConfig>,
    },
];

/// Keys that have moved: (old, new).
pub(crate) const MOVED: &[(&str, &str)] = &[
    ("embedded_log.default_partitions", "topics.default_partitions"),
    ("mobile.swap_lat_lon", "mobile.input.profile = \"reference\""),
];

/// Refuses keys that have moved, naming the new one.
pub(crate) fn refuse_moved_keys(
    table: &toml::Table,
    origin: &BTreeMap<String, String>,
) -> anyhow::Result<()> {
    for (old, new) in MOVED {
        let (section, key) = old.split_once('.').expect("moved keys are section.key");
        if table.get(section).and_then(|s| s.as_table()).is_some_and(|s| s.contains_key(key)) {
            let from = origin.get(*old).map(|o| format!(" (from {o})")).unwrap_or_default();
            bail!("config key `{old}`{from} has moved: write `{new}` instead");
        }
    }
    Ok(())
}

/// Moves each part's keys into their own table within their section; refuses keys that neither
/// the section nor its parts take, naming all the keys that are taken.
pub(crate) fn nest(table: &mut toml::Table, origin: &BTreeMap<String, String>) -> anyhow::Result<()> {
    let mut sections: Vec<&str> = PARTS.iter().map(|p| p.section).collect();
    sections.dedup();
    for name in sections {
        let Some(toml::Value::Table(section)) = table.get_mut(name) else { continue };
        let parts: Vec<&Part> = PARTS.iter().filter(|p| p.section == name).collect();
        let own: Vec<&str> = (parts[0].section_keys)()
            .iter()
            .copied()
            .filter(|k| !parts.iter().any(|p| p.part == *k))
            .collect();
        let mut accepted: Vec<&str> =
            own.iter().copied().chain(parts.iter().flat_map(|p| (p.keys)().iter().copied())).collect();
        accepted.sort_unstable();
        if let Some(unknown) = section.keys().find(|k| !accepted.contains(&k.as_str())) {
            let key = format!("{name}.{unknown}");
            let from = origin.get(&key).map(|o| format!(" (from {o})")).unwrap_or_default();
            bail!("config key `{key}`{from}: unknown key; accepted: {}", accepted.join(", "));
        }
        for p in parts {
            let mut part = toml::Table::new();
            for key in (p.keys)() {
                if let Some(value) = section.remove(*key) {
                    part.insert(key.to_string(), value);
                }
            }
            section.insert(p.part.to_string(), toml::Value::Table(part));
        }
    }
    Ok(())
}

/// A deserializer's path as the user wrote the key: `mobile.kmeans.k` is `mobile.k`.
pub(crate) fn flat_key(path: &str) -> String {
    for p in PARTS {
        if let Some(rest) = path.strip_prefix(&format!("{}.{}.", p.section, p.part)) {
            return format!("{}.{rest}", p.section);
        }
    }
    path.to_string()
}

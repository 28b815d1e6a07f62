//! The configuration: one TOML file, overridden by `TRIBUTARY_*` environment variables, overridden
//! by command-line flags. Every option is documented in `tributary.example.toml`.
//!
//! Environment variables name a key as `TRIBUTARY_<KEY>` for top-level keys and
//! `TRIBUTARY_<SECTION>_<KEY>` for keys of a section, upper-cased: `TRIBUTARY_DATA_DIR`,
//! `TRIBUTARY_EMBEDDED_LOG_FSYNC=every-batch`. Flags: `--data-dir`, `--log-format`, and
//! `--set section.key=value` for anything. Values from the environment and `--set` are read as
//! TOML values when they parse as one (`4`, `true`, `"x"`) and as strings otherwise.
//!
//! Unknown keys and bad values are errors that name the key, where the value came from, and what
//! is accepted.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;
use tributary_api::ServerConfig;
use tributary_batch::FollowConfig;
use tributary_cache::CacheConfig;
use tributary_log::{EmbeddedLogConfig, TopicsConfig};
use tributary_processors::kmeans_config::KMeansConfig;
use tributary_schema::markets::Dataset;
use tributary_settings::{KeyError, human_duration};
use tributary_sources::pull::PullLimits;
use tributary_sources::settings::{GeneratorSettings, InboxConfig};
use tributary_store::Retention;

mod compose;
mod overrides;

use crate::pull_import::PullSource;

use overrides::{NOT_KEYS, env_key, is_kubernetes_service_link, set_dotted, split_set};

/// The whole configuration of a Tributary process.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where everything is kept: the event log, later the lake and the serving store.
    pub data_dir: PathBuf,
    /// Which event log backend: "embedded" (files in the data directory).
    pub log: LogBackend,
    /// Which serving store: "embedded" (SQLite in the data directory), "sqlite://PATH",
    /// "postgres://…" or "mysql://…".
    pub store: StoreBackend,
    /// Where the lake is: "embedded" (`<data_dir>/lake`), a folder, a `file://` URL, or
    /// `s3://bucket/prefix`.
    pub lake: String,
    /// Diagnostic logging (`[logging]`).
    pub logging: LoggingConfig,
    /// How topics are made, on either log backend (`[topics]`; `tributary_log`).
    pub topics: TopicsConfig,
    /// The embedded log's files (`[embedded_log]`; `tributary_log`).
    pub embedded_log: EmbeddedLogConfig,
    /// The mobile pipeline (`[mobile]`).
    pub mobile: MobileConfig,
    /// The Markets × COVID pipeline (`[markets]`).
    pub markets: MarketsConfig,
    /// The HTTP servers (`[api]`; `tributary_api`).
    pub api: ServerConfig,
    /// The query cache (`[cache]`; `tributary_cache`).
    pub cache: CacheConfig,
    /// What the serving store keeps (`[retention]`; `tributary_store`).
    pub retention: Retention,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./tributary-data"),
            log: LogBackend::Embedded,
            store: StoreBackend::Embedded,
            lake: "embedded".into(),
            logging: LoggingConfig::default(),
            topics: TopicsConfig::default(),
            embedded_log: EmbeddedLogConfig::default(),
            mobile: MobileConfig::default(),
            markets: MarketsConfig::default(),
            api: ServerConfig::default(),
            cache: CacheConfig::default(),
            retention: Retention::default(),
        }
    }
}

impl Config {
    /// The directory of the embedded event log.
    pub fn log_dir(&self) -> PathBuf {
        self.data_dir.join("log")
    }

    /// The serving store, for messages: the SQLite file, or the URL without its password.
    pub fn store_description(&self) -> String {
        match &self.store {
            StoreBackend::Embedded => self.data_dir.join("store.sqlite").display().to_string(),
            StoreBackend::Url(url) => tributary_store::redacted(url),
        }
    }

    /// The lake's location, as [`tributary_lake::Lake::open`] takes it.
    pub fn lake_location(&self) -> String {
        match self.lake.trim() {
            "embedded" => self.data_dir.join("lake").display().to_string(),
            other => other.to_string(),
        }
    }

    /// The folder the directory source watches.
    pub fn inbox(&self) -> PathBuf {
        self.mobile.directory.inbox.clone().unwrap_or_else(|| self.data_dir.join("inbox"))
    }

    /// The folder of the markets inbox.
    pub fn markets_inbox(&self) -> PathBuf {
        self.markets.inbox.clone().unwrap_or_else(|| self.data_dir.join("markets-inbox"))
    }

    /// The embedded log's settings, with `[topics]`'s partitions.
    pub fn embedded_log(&self) -> EmbeddedLogConfig {
        EmbeddedLogConfig { default_partitions: self.topics.default_partitions, ..self.embedded_log.clone() }
    }

    /// Checks what serde cannot, section by section; the error's key is dotted from the root.
    pub fn validate(&self) -> Result<(), KeyError> {
        self.topics.validate().map_err(|e| e.within("topics"))?;
        self.embedded_log.validate().map_err(|e| e.within("embedded_log"))?;
        self.mobile.validate().map_err(|e| e.within("mobile"))?;
        self.markets.validate().map_err(|e| e.within("markets"))?;
        self.api.validate().map_err(|e| e.within("api"))?;
        self.cache.validate().map_err(|e| e.within("cache"))?;
        self.retention.validate().map_err(|e| e.within("retention"))?;
        Ok(())
    }
}

/// The serving store backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreBackend {
    /// SQLite at `<data_dir>/store.sqlite`.
    Embedded,
    /// `sqlite://PATH`, `postgres://…` or `mysql://…`.
    Url(String),
}

impl<'de> Deserialize<'de> for StoreBackend {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let accepted = "accepted: \"embedded\", \"sqlite://PATH\", \"postgres://USER@HOST:PORT/DB\", \"mysql://USER@HOST:PORT/DB\"";
        match s.trim() {
            "embedded" => Ok(Self::Embedded),
            other => match tributary_store::Dialect::of_url(other) {
                Some(tributary_store::Dialect::Sqlite)
                    if other.trim_start_matches("sqlite:").trim_start_matches("//").is_empty() =>
                {
                    Err(serde::de::Error::custom(format!("'{other}' names no file; {accepted}")))
                }
                Some(tributary_store::Dialect::Sqlite) => Ok(Self::Url(other.to_string())),
                Some(_) => match url::Url::parse(other) {
                    Ok(u) if u.host_str().is_some_and(|h| !h.is_empty()) => Ok(Self::Url(other.to_string())),
                    _ => Err(serde::de::Error::custom(format!(
                        "'{}' is not a valid database URL (it needs a host); {accepted}",
                        tributary_store::redacted(other)
                    ))),
                },
                None => Err(serde::de::Error::custom(format!(
                    "'{}' is not a store; {accepted}",
                    tributary_store::redacted(other)
                ))),
            },
        }
    }
}

/// The Markets × COVID pipeline of `tributary up` (`[markets]`): pull sources on a schedule into
/// the lake, and the batch runner that keeps the views in the serving store current. The
/// `pull_*` keys are the sources crate's [`PullLimits`], the `batch_*` keys the batch crate's
/// [`FollowConfig`], written in the same section ([`compose`]).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MarketsConfig {
    /// Fetched at start and then every `pull_interval`; unchanged payloads are not imported again.
    pub sources: Vec<PullSource>,
    #[serde(deserialize_with = "human_duration")]
    pub pull_interval: std::time::Duration,
    /// A folder of `.sql` files overriding and adding views.
    pub views: Option<PathBuf>,
    /// The folder `up` and `ingest` watch for ECDC or price files to import (default:
    /// `<data_dir>/markets-inbox`).
    pub inbox: Option<PathBuf>,
    /// The limits of each pull (`pull_timeout`, `pull_retries`, `pull_max_size`).
    pub pull: PullLimits,
    /// The batch runner (`batch_interval`, `batch_debounce`, `batch_group`).
    pub batch: FollowConfig,
}

impl Default for MarketsConfig {
    fn default() -> Self {
        Self {
            sources: vec![
                PullSource {
                    dataset: Some(Dataset::CovidDaily),
                    ..PullSource::new("https://opendata.ecdc.europa.eu/covid19/casedistribution/csv/data.csv")
                },
                PullSource {
                    dataset: Some(Dataset::Prices),
                    symbol: Some("^GDAXI".into()),
                    ..PullSource::new("https://stooq.com/q/d/l/?s=%5Edax&i=d")
                },
            ],
            pull_interval: std::time::Duration::from_secs(3600),
            views: None,
            inbox: None,
            pull: PullLimits::default(),
            batch: FollowConfig::default(),
        }
    }
}

impl MarketsConfig {
    /// Checks what serde cannot (the sources' URLs, the intervals); the error names the key.
    pub fn validate(&self) -> Result<(), KeyError> {
        for (i, s) in self.sources.iter().enumerate() {
            let key = |name: &str| format!("sources[{i}].{name}");
            match url::Url::parse(&s.url) {
                Ok(u) if matches!(u.scheme(), "http" | "https" | "file") => {}
                Ok(u) => {
                    return Err(KeyError::new(
                        key("url"),
                        format!("scheme {}:// is not supported; accepted: http, https, file", u.scheme()),
                    ));
                }
                Err(e) => return Err(KeyError::new(key("url"), format!("'{}' is not a URL ({e})", s.url))),
            }
        }
        if self.pull_interval.is_zero() {
            return Err(KeyError::new("pull_interval", "must be longer than 0"));
        }
        self.pull.validate()?;
        self.batch.validate()
    }
}

/// The mobile pipeline: directory source, generator and streaming k-means (`[mobile]`). The
/// inbox keys (`inbox`, `file_min_age`, …) are the sources crate's [`InboxConfig`], the
/// `generator_*` keys its [`GeneratorSettings`], the k-means keys (`model`, `k`, `decay`, …) the
/// processors crate's [`KMeansConfig`], all written in the same section ([`compose`]).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MobileConfig {
    /// Topic of mobile events.
    pub topic: String,
    /// How the sources write events into `topic`: `binary` (parsed once, read without
    /// parsing) or `json` (for consumers outside Tributary). Readers follow each record's
    /// header, so a topic may hold both.
    pub topic_encoding: tributary_schema::mobile::Encoding,
    /// The directory source on the inbox.
    pub directory: InboxConfig,
    /// The generator that `up` runs on its own events.
    pub generator: GeneratorSettings,
    /// The streaming k-means.
    pub kmeans: KMeansConfig,
}

impl Default for MobileConfig {
    fn default() -> Self {
        Self {
            topic: "mobile_data".into(),
            topic_encoding: Default::default(),
            directory: InboxConfig::default(),
            generator: GeneratorSettings::default(),
            kmeans: KMeansConfig::default(),
        }
    }
}

impl MobileConfig {
    /// Checks what serde cannot, every part's settings included; the error names the key.
    pub fn validate(&self) -> Result<(), KeyError> {
        self.kmeans.settings()?;
        self.directory.validate()?;
        self.generator.validate()?;
        tributary_log::validate_topic_name(&self.topic)
            .map_err(|e| KeyError::new("topic", format!("is refused: {e}")))
    }
}

/// The event log backend, written as a URL-like string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogBackend {
    /// Segment files under `<data_dir>/log`.
    Embedded,
    /// A Kafka-protocol cluster: `kafka://host:port[,host:port…][?batch_records=N]`.
    Kafka(tributary_log::kafka::KafkaLogConfig),
}

impl<'de> Deserialize<'de> for LogBackend {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.trim() {
            "embedded" => Ok(Self::Embedded),
            other if other.starts_with("kafka://") => tributary_log::kafka::KafkaLogConfig::from_url(other)
                .map(Self::Kafka)
                .map_err(serde::de::Error::custom),
            other => Err(serde::de::Error::custom(format!(
                "'{other}' is not an event log backend; accepted: \"embedded\" or \"kafka://host:port[,host:port…]\""
            ))),
        }
    }
}

/// Diagnostic logging (tracing). `RUST_LOG`, when set, overrides `filter`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoggingConfig {
    /// "text" (human-readable) or "json" (one object per line).
    pub format: LogFormat,
    /// A tracing filter such as "info" or "info,tributary_log=debug".
    pub filter: String,
}

impl Default for LoggingConfig {
    fn default() -> Self {
        Self { format: LogFormat::Text, filter: "info".into() }
    }
}

/// How diagnostic log lines are written (to stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// Overrides from the command line.
#[derive(Debug, Default, Clone)]
pub struct FlagOverrides {
    pub data_dir: Option<PathBuf>,
    pub log_format: Option<LogFormat>,
    /// `section.key=value` pairs.
    pub set: Vec<String>,
}

/// Loads the configuration: defaults, then `file` (if given; it must exist), then the
/// environment (`env`, normally `std::env::vars()`), then `flags`.
pub fn load(
    file: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
    flags: &FlagOverrides,
) -> anyhow::Result<Config> {
    let mut table = toml::Table::new();
    let mut origin: BTreeMap<String, String> = BTreeMap::new();
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        table = text
            .parse::<toml::Table>()
            .map_err(|e| anyhow::anyhow!("config file {} is not valid TOML: {e}", path.display()))?;
        for (k, v) in &table {
            match v.as_table() {
                Some(t) => {
                    for sub in t.keys() {
                        origin.insert(format!("{k}.{sub}"), format!("{}", path.display()));
                    }
                }
                None => {
                    origin.insert(k.clone(), format!("{}", path.display()));
                }
            }
        }
    }
    let mut env: Vec<(String, String)> =
        env.into_iter().filter(|(k, _)| k.starts_with("TRIBUTARY_")).collect();
    env.sort();
    for (name, value) in env {
        if NOT_KEYS.contains(&name.as_str()) || is_kubernetes_service_link(&name) {
            continue;
        }
        let key = env_key(&name)?;
        set_dotted(&mut table, &key, &value).with_context(|| format!("environment variable {name}"))?;
        origin.insert(key, format!("environment variable {name}"));
    }
    if let Some(dir) = &flags.data_dir {
        table.insert("data_dir".into(), toml::Value::String(dir.display().to_string()));
        origin.insert("data_dir".into(), "--data-dir".into());
    }
    if let Some(format) = flags.log_format {
        let v = match format {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        };
        set_dotted(&mut table, "logging.format", v)?;
        origin.insert("logging.format".into(), "--log-format".into());
    }
    for pair in &flags.set {
        let (key, value) = split_set(pair)?;
        // Messages name the flag without a URL's password.
        let shown = format!("--set {}={}", key.trim(), tributary_store::redacted(value));
        set_dotted(&mut table, key.trim(), value).with_context(|| shown.clone())?;
        origin.insert(key.trim().to_string(), shown);
    }

    compose::refuse_moved_keys(&table, &origin)?;
    compose::nest(&mut table, &origin)?;
    let config: Config = serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
        let path = compose::flat_key(&e.path().to_string());
        let from = origin
            .get(&path)
            .or_else(|| origin.iter().find(|(k, _)| path.starts_with(k.as_str())).map(|(_, v)| v))
            .map(|o| format!(" (from {o})"))
            .unwrap_or_default();
        // The TOML deserializer appends its own "in `key`" line; the path is already named.
        let inner = e.into_inner().to_string();
        let inner: Vec<&str> =
            inner.lines().filter(|l| !l.starts_with("in `") && !l.trim().is_empty()).collect();
        anyhow::anyhow!("config key `{path}`{from}: {}", inner.join(" "))
    })?;
    if let Err(e) = tracing_subscriber::EnvFilter::try_new(&config.logging.filter) {
        let from = origin.get("logging.filter").map(|o| format!(" (from {o})")).unwrap_or_default();
        bail!(
            "config key `logging.filter`{from}: {e}; accepted: a tracing filter such as \"info\" or \"warn,tributary_log=debug\""
        );
    }
    config.validate().map_err(|e| {
        let from = origin
            .get(&e.key)
            .or_else(|| origin.iter().find(|(k, _)| e.key.starts_with(k.as_str())).map(|(_, v)| v))
            .map(|o| format!(" (from {o})"))
            .unwrap_or_default();
        anyhow::anyhow!("config key `{}`{from} {}", e.key, e.message)
    })?;
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tributary_log::FsyncPolicy;
    use tributary_processors::kmeans_config::InitMethod;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_without_file_or_overrides() {
        let c = load(None, env(&[]), &FlagOverrides::default()).unwrap();
        assert_eq!(c, Config::default());
    }

    #[test]
    fn file_then_env_then_flags() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.toml");
        std::fs::write(
            &path,
            "data_dir = \"/from/file\"\n[topics]\ndefault_partitions = 3\n[embedded_log]\nfsync = \"every-batch\"\n",
        )
        .unwrap();
        let c = load(Some(&path), env(&[]), &FlagOverrides::default()).unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/from/file"));
        assert_eq!((c.topics.default_partitions, c.embedded_log().default_partitions), (3, 3));
        assert_eq!(c.embedded_log.fsync, FsyncPolicy::EveryBatch);

        let vars = env(&[
            ("TRIBUTARY_DATA_DIR", "/from/env"),
            ("TRIBUTARY_EMBEDDED_LOG_FSYNC", "20ms"),
            ("TRIBUTARY_TOPICS_DEFAULT_PARTITIONS", "5"),
            ("TRIBUTARY_CONFIG", "ignored"),
            ("OTHER", "ignored"),
        ]);
        let flags = FlagOverrides {
            data_dir: Some("/from/flag".into()),
            log_format: Some(LogFormat::Json),
            set: vec!["topics.default_partitions=7".into()],
        };
        let c = load(Some(&path), vars, &flags).unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/from/flag"));
        assert_eq!(c.embedded_log.fsync, FsyncPolicy::Interval(Duration::from_millis(20)));
        assert_eq!(c.topics.default_partitions, 7);
        assert_eq!(c.logging.format, LogFormat::Json);
    }

    #[test]
    fn kubernetes_service_links_are_not_keys() {
        // What a pod gets for a Service named tributary: not config keys, and no error.
        let links = [
            ("TRIBUTARY_SERVICE_HOST", "10.96.0.10"),
            ("TRIBUTARY_SERVICE_PORT", "8080"),
            ("TRIBUTARY_SERVICE_PORT_HTTP", "8080"),
            ("TRIBUTARY_PORT", "tcp://10.96.0.10:8080"),
            ("TRIBUTARY_PORT_8080_TCP", "tcp://10.96.0.10:8080"),
            ("TRIBUTARY_PORT_8080_TCP_PROTO", "tcp"),
            ("TRIBUTARY_PORT_8080_TCP_PORT", "8080"),
            ("TRIBUTARY_PORT_8080_TCP_ADDR", "10.96.0.10"),
        ];
        assert_eq!(load(None, env(&links), &FlagOverrides::default()).unwrap(), Config::default());
        // Near misses are still refused, with the name.
        for name in [
            "TRIBUTARY_PORT_HTTP",
            "TRIBUTARY_PORT_8080_TCP_HOST",
            "TRIBUTARY_PORT_80A_TCP",
            "TRIBUTARY_SERVICE",
        ] {
            let err = load(None, env(&[(name, "1")]), &FlagOverrides::default()).unwrap_err().to_string();
            assert!(err.contains(name), "{name}: {err}");
        }
    }

    #[test]
    fn unknown_keys_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.toml");
        std::fs::write(&path, "[embedded_log]\nfsyncc = \"every-batch\"\n").unwrap();
        let err = load(Some(&path), env(&[]), &FlagOverrides::default()).unwrap_err().to_string();
        assert!(err.contains("fsyncc") && err.contains("expected one of"), "{err}");
        std::fs::write(&path, "colour = \"blue\"\n").unwrap();
        let err = load(Some(&path), env(&[]), &FlagOverrides::default()).unwrap_err().to_string();
        assert!(err.contains("colour") && err.contains("data_dir"), "{err}");
        let err = load(None, env(&[("TRIBUTARY_NOPE", "1")]), &FlagOverrides::default()).unwrap_err();
        assert!(err.to_string().contains("TRIBUTARY_NOPE"), "{err}");
    }

    #[test]
    fn bad_values_name_the_key_the_source_and_what_is_accepted() {
        let err =
            load(None, env(&[("TRIBUTARY_EMBEDDED_LOG_FSYNC", "sometimes")]), &FlagOverrides::default())
                .unwrap_err()
                .to_string();
        assert!(err.contains("embedded_log.fsync"), "{err}");
        assert!(err.contains("TRIBUTARY_EMBEDDED_LOG_FSYNC") && err.contains("every-batch"), "{err}");

        let flags = FlagOverrides { set: vec!["topics.default_partitions=0".into()], ..Default::default() };
        let err = load(None, env(&[]), &flags).unwrap_err().to_string();
        assert!(err.contains("default_partitions") && err.contains("1 to 10000"), "{err}");
        assert!(err.contains("--set"), "{err}");

        let flags =
            FlagOverrides { set: vec!["embedded_log.segment_bytes=huge".into()], ..Default::default() };
        let err = load(None, env(&[]), &flags).unwrap_err().to_string();
        assert!(err.contains("embedded_log.segment_bytes") && err.contains("64MiB"), "{err}");

        let flags = FlagOverrides { set: vec!["log=kafka://localhost:9092".into()], ..Default::default() };
        assert!(matches!(load(None, env(&[]), &flags).unwrap().log, LogBackend::Kafka(_)));
        let flags = FlagOverrides { set: vec!["log=kafka://nohost".into()], ..Default::default() };
        let err = load(None, env(&[]), &flags).unwrap_err().to_string();
        assert!(err.contains("`log`") && err.contains("host:port"), "{err}");
        let flags = FlagOverrides { set: vec!["log=kafla://x:1".into()], ..Default::default() };
        let err = load(None, env(&[]), &flags).unwrap_err().to_string();
        assert!(err.contains("`log`") && err.contains("embedded"), "{err}");

        let flags = FlagOverrides { set: vec!["no-equals-sign".into()], ..Default::default() };
        assert!(load(None, env(&[]), &flags).unwrap_err().to_string().contains("section.key=value"));
    }

    #[test]
    fn the_mobile_section_holds_the_kmeans_keys_and_names_them() {
        let set = |pairs: &[&str]| FlagOverrides {
            set: pairs.iter().map(|p| p.to_string()).collect(),
            ..Default::default()
        };
        let c =
            load(None, env(&[("TRIBUTARY_MOBILE_K", "5")]), &set(&["mobile.init=random", "mobile.topic=t"]))
                .unwrap();
        assert_eq!(
            (c.mobile.kmeans.k, c.mobile.kmeans.init, c.mobile.topic.as_str()),
            (5, InitMethod::Random, "t")
        );
        for (pair, expected) in [
            ("mobile.k=0", "config key `mobile.k` (from --set mobile.k=0) = 0: accepted 1 to 1000"),
            (
                "mobile.init=nope",
                "config key `mobile.init` (from --set mobile.init=nope): unknown variant `nope`",
            ),
            ("mobile.projection=mercator", "config key `mobile.projection`"),
            ("mobile.half_life=-1", "config key `mobile.half_life` (from --set mobile.half_life=-1) = -1"),
            (
                "mobile.kk=1",
                "config key `mobile.kk` (from --set mobile.kk=1): unknown key; accepted: allowed_lateness, archive_dir",
            ),
            ("mobile.kmeans=1", "unknown key"),
            (
                "mobile.parallel_files=0",
                "config key `mobile.parallel_files` (from --set mobile.parallel_files=0)",
            ),
        ] {
            let err = load(None, env(&[]), &set(&[pair])).unwrap_err().to_string();
            assert!(err.contains(expected), "{pair}: {err}");
        }
        let err = load(None, env(&[]), &set(&["mobile.kk=1"])).unwrap_err().to_string();
        assert!(
            err.contains(", k, ") && err.contains("batch_max_records"),
            "the k-means keys are listed: {err}"
        );
    }

    #[test]
    fn the_markets_section_holds_the_pull_and_batch_keys_and_names_them() {
        let set = |pairs: &[&str]| FlagOverrides {
            set: pairs.iter().map(|p| p.to_string()).collect(),
            ..Default::default()
        };
        let c = load(
            None,
            env(&[]),
            &set(&["markets.pull_max_size=1KiB", "markets.batch_group=g", "markets.batch_interval=5m"]),
        )
        .unwrap();
        assert_eq!((c.markets.pull.max_bytes, c.markets.batch.group.as_str()), (1024, "g"));
        assert_eq!(c.markets.batch.interval, Some(Duration::from_secs(300)));
        for (pair, expected) in [
            (
                "markets.batch_group= ",
                "config key `markets.batch_group` (from --set markets.batch_group= ) must name a consumer group",
            ),
            (
                "markets.pull_timeout=0s",
                "config key `markets.pull_timeout` (from --set markets.pull_timeout=0s) must be longer than 0",
            ),
            (
                "markets.batch_interval=soon",
                "config key `markets.batch_interval` (from --set markets.batch_interval=soon): 'soon' is not a duration",
            ),
            (
                "markets.pull_tiemout=1s",
                "unknown key; accepted: batch_debounce, batch_group, batch_interval, inbox, pull_interval, pull_max_size",
            ),
            (
                "markets.sources=[{url=\"file:///x\", dataset=\"weather\"}]",
                "config key `markets.sources[0].dataset`",
            ),
        ] {
            let err = load(None, env(&[]), &set(&[pair])).unwrap_err().to_string();
            assert!(err.contains(expected), "{pair}: {err}");
        }
    }

    #[test]
    fn moved_keys_name_their_replacement() {
        let flags =
            FlagOverrides { set: vec!["embedded_log.default_partitions=3".into()], ..Default::default() };
        let err = load(None, env(&[]), &flags).unwrap_err().to_string();
        assert!(
            err.contains("`embedded_log.default_partitions` (from --set")
                && err.contains("`topics.default_partitions`"),
            "{err}"
        );
    }

    #[test]
    fn the_override_grammar_knows_every_section_and_top_level_key() {
        // Sections within sections (`mobile.input`) are their owners' business.
        let mut keys: Vec<&str> = overrides::SECTIONS
            .iter()
            .chain(overrides::TOP_LEVEL)
            .copied()
            .filter(|k| !k.contains('.'))
            .collect();
        keys.sort_unstable();
        let mut declared = tributary_settings::keys_of::<Config>().to_vec();
        declared.sort_unstable();
        assert_eq!(keys, declared);
        assert!(tributary_settings::keys_of::<tributary_sources::settings::InboxConfig>().contains(&"input"));
    }

    #[test]
    fn the_mobile_input_table_is_read_from_the_file_variables_and_flags() {
        let set = |pairs: &[&str]| FlagOverrides {
            set: pairs.iter().map(|p| p.to_string()).collect(),
            ..Default::default()
        };
        let c = load(
            None,
            env(&[("TRIBUTARY_MOBILE_INPUT_TIME_ZONE", "Europe/Berlin")]),
            &set(&["mobile.input.columns=[\"id\",\"time\",\"lon\",\"lat\"]", "mobile.input.delimiter=;"]),
        )
        .unwrap();
        let input = &c.mobile.directory.input;
        assert_eq!((input.columns.len(), input.time_zone.to_string()), (4, "Europe/Berlin".to_string()));
        assert_eq!(input.delimiter.given().map(|d| d.0), Some(b';'));
        for (pair, expected) in [
            (
                "mobile.input.time_zone=Mars",
                "config key `mobile.input.time_zone` (from --set mobile.input.time_zone=Mars)",
            ),
            (
                "mobile.input.columns=[\"lat\"]",
                "config key `mobile.input.columns` (from --set mobile.input.columns=[\"lat\"]) must name the longitude column",
            ),
            ("mobile.input.zone=UTC", "config key `mobile.input.zone`"),
            ("mobile.swap_lat_lon=true", "has moved: write `mobile.input.profile = \"reference\"` instead"),
        ] {
            let err = load(None, env(&[]), &set(&[pair])).unwrap_err().to_string();
            assert!(err.contains(expected), "{pair}: {err}");
        }
    }

    #[test]
    fn stores_are_chosen_by_url_and_bad_urls_are_refused_without_passwords() {
        let with = |value: &str| {
            let flags = FlagOverrides { set: vec![format!("store={value}")], ..Default::default() };
            load(None, env(&[]), &flags)
        };
        for url in [
            "postgres://postgres@127.0.0.1:5432/test",
            "mysql://root@127.0.0.1:3306/test",
            "sqlite:///tmp/s.db",
        ] {
            assert_eq!(with(url).unwrap().store, StoreBackend::Url(url.into()));
        }
        assert_eq!(with("embedded").unwrap().store_description(), "./tributary-data/store.sqlite");
        for (bad, expected) in [
            ("redis://127.0.0.1", "is not a store"),
            ("mysql://root:hunter2@/nohost", "needs a host"),
            ("sqlite://", "names no file"),
        ] {
            let err = with(bad).unwrap_err().to_string();
            assert!(err.contains("`store`") && err.contains(expected) && !err.contains("hunter2"), "{err}");
        }
    }

    #[test]
    fn a_broken_file_is_reported_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.toml");
        std::fs::write(&path, "data_dir = \n").unwrap();
        let err = load(Some(&path), env(&[]), &FlagOverrides::default()).unwrap_err().to_string();
        assert!(err.contains("not valid TOML") && err.contains("t.toml"), "{err}");
        let missing = dir.path().join("missing.toml");
        assert!(load(Some(&missing), env(&[]), &FlagOverrides::default()).is_err());
    }

    #[test]
    fn the_deployments_configuration_files_are_valid() {
        // deploy/kubernetes's overlays mount these as /etc/tributary/tributary.toml; the pods
        // add the operations port and the token from the environment, as here.
        let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
        let overlays = Path::new(&manifest_dir).join("../../deploy/kubernetes/overlays");
        let vars =
            env(&[("TRIBUTARY_API_TOKEN", "from-a-secret"), ("TRIBUTARY_API_OPS_LISTEN", "0.0.0.0:9191")]);
        for overlay in ["single", "scale-out"] {
            let path = overlays.join(overlay).join("tributary.toml");
            let c = load(Some(&path), vars.clone(), &FlagOverrides::default())
                .unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
            assert_eq!(c.data_dir, PathBuf::from("/var/lib/tributary"), "{overlay}");
            assert_eq!(c.api.listen, "0.0.0.0:8080".parse().unwrap(), "{overlay}");
            assert_eq!(c.api.token.as_deref(), Some("from-a-secret"), "{overlay}");
            assert_eq!(
                c.api.ops_listen,
                Some("0.0.0.0:9191".parse().unwrap()),
                "{overlay}: the environment wins"
            );
        }
        let scale_out =
            load(Some(&overlays.join("scale-out/tributary.toml")), env(&[]), &FlagOverrides::default())
                .unwrap();
        assert!(matches!(scale_out.log, LogBackend::Kafka(_)), "{:?}", scale_out.log);
        assert_eq!(scale_out.api.ops_listen, Some("0.0.0.0:9090".parse().unwrap()));
        let err = load(None, env(&[("TRIBUTARY_API_OPS_LISTEN", "everywhere")]), &FlagOverrides::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("api.ops_listen"), "{err}");
    }

    #[test]
    fn the_example_file_is_valid_and_matches_the_defaults() {
        // The folder cargo runs the test in, not the one compiled in (builds share a target folder
        // across checkouts).
        let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
        let path = Path::new(&manifest_dir).join("../../tributary.example.toml");
        let c = load(Some(&path), env(&[]), &FlagOverrides::default()).unwrap();
        assert_eq!(c, Config::default(), "the example documents the defaults");
        // Every key of every section is written out (and documented) in the example.
        let example: toml::Table = std::fs::read_to_string(&path).unwrap().parse().unwrap();
        let sections: [(&str, &[&str]); 8] = [
            ("logging", tributary_settings::keys_of::<LoggingConfig>()),
            ("topics", tributary_settings::keys_of::<TopicsConfig>()),
            ("embedded_log", tributary_settings::keys_of::<EmbeddedLogConfig>()),
            (
                "markets",
                [
                    tributary_settings::keys_of::<MarketsConfig>(),
                    tributary_settings::keys_of::<PullLimits>(),
                    tributary_settings::keys_of::<FollowConfig>(),
                ]
                .concat()
                .leak(),
            ),
            ("api", tributary_settings::keys_of::<ServerConfig>()),
            ("cache", tributary_settings::keys_of::<CacheConfig>()),
            ("retention", tributary_settings::keys_of::<Retention>()),
            (
                "mobile",
                [
                    tributary_settings::keys_of::<MobileConfig>(),
                    tributary_settings::keys_of::<KMeansConfig>(),
                ]
                .concat()
                .leak(),
            ),
        ];
        let text = std::fs::read_to_string(&path).unwrap();
        for (section, keys) in sections {
            assert!(example.contains_key(section), "[{section}] is missing from the example");
            for key in keys
                .iter()
                .filter(|k| !matches!(**k, "kmeans" | "pull" | "batch" | "generator" | "directory"))
            {
                // Keys without a default value (such as api.token) are shown commented out.
                let written = text.lines().any(|l| {
                    let l = l.trim_start_matches('#').trim_start();
                    l.starts_with(&format!("{key} =")) || l.starts_with(&format!("{key}="))
                });
                assert!(written, "{section}.{key} is not in the example");
            }
        }
    }
}

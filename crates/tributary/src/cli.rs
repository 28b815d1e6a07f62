//! The command line: global options and one subcommand per role.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::LogFormat;

/// Tributary: ingest, log, process, store and serve data — in one program.
#[derive(Debug, Parser)]
#[command(name = "tributary", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Configuration file (TOML); see tributary.example.toml.
    #[arg(long, global = true, env = "TRIBUTARY_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data directory [default: ./tributary-data]; overrides `data_dir`.
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Diagnostic log format on stderr; overrides `logging.format`.
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<LogFormat>,
    /// Override any config key, e.g. --set embedded_log.fsync=every-batch (repeatable).
    #[arg(long = "set", global = true, value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the platform in one process on embedded defaults.
    Up(UpArgs),
    /// Inspect and use the event log: topics, create-topic, produce, tail.
    #[command(subcommand)]
    Log(LogCommand),
    /// Generate realistic mobile events into a directory or the event log.
    Generate(GenerateArgs),
    /// Run streaming k-means over files of mobile events; print each model version as JSON.
    Kmeans(KmeansArgs),
    /// Show how files would be read (format, dialect, encoding, column mapping, first rows,
    /// dead letters) without importing anything.
    Inspect(InspectArgs),
    /// Run the stream processors as one worker of a group (log = "kafka://…"): start several to
    /// share the partitions; the streaming k-means stays one model.
    Worker(WorkerArgs),
    /// Run the sources alone (the inbox, the generator, the Markets × COVID pulls) and publish to
    /// the event log, for workers and other roles to process (log = "kafka://…").
    Ingest,
    /// Serve the HTTP API and the dashboard alone, over the serving store: run as many as the
    /// load needs, beside `up` or workers that write the store.
    Serve(ServeArgs),
    /// Check the stored model: replay each version's micro-batch (the offsets it covers) from the
    /// event log through one process and compare centres, weights and counts.
    Replay(ReplayArgs),
    /// Import a file of ECDC cases or market prices into the lake (and announce it on the log).
    Import(ImportArgs),
    /// The batch views (SQL on DataFusion over the lake): list them, or compute them.
    #[command(subcommand)]
    Batch(BatchCommand),
    /// Measure performance and print throughput and latency figures.
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Debug, Subcommand)]
pub enum BatchCommand {
    /// List the views: name, whether it is published, the datasets it reads, where its SQL is.
    List(BatchViewsArgs),
    /// Compute every published view (or one, with the views it reads) over the lake's current data,
    /// publish them to the serving store as new versions, and print rows and timings.
    Run(BatchRunArgs),
    /// Keep the published views current, as `up` does: recompute them when a dataset changes
    /// (its "dataset updated" event on the log) and on `markets.batch_interval`.
    Follow(BatchViewsArgs),
}

#[derive(Debug, Args)]
pub struct BatchViewsArgs {
    /// A folder of `.sql` files that override shipped views by name and add views.
    #[arg(long, value_name = "DIR")]
    pub views: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct BatchRunArgs {
    /// The view to compute (default: every published view).
    pub view: Option<String>,
    #[command(flatten)]
    pub views: BatchViewsArgs,
    /// Print the first rows of each view computed.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub show: usize,
    /// Compute only: do not publish to the serving store.
    #[arg(long)]
    pub no_publish: bool,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The payload: a path, a file:// URL, or an http(s):// URL.
    #[arg(value_name = "FILE_OR_URL")]
    pub source: String,
    /// The dataset the file must hold: covid_daily, covid_weekly or prices.
    #[arg(long, value_name = "NAME")]
    pub dataset: Option<String>,
    /// Read the file as this format instead of recognising it: ecdc-daily-csv, ecdc-daily-json,
    /// ecdc-weekly, yahoo or fse.
    #[arg(long)]
    pub format: Option<String>,
    /// The name of a price series [default: the file name without its extension]; in a
    /// multi-share file (a Share column), the share to keep: SHARE, or SHARE=NAME to rename it
    /// [default: every share, each under its own name].
    #[arg(long)]
    pub symbol: Option<String>,
    /// The encoding, where detection is wrong: utf-8, windows-1252 (latin-1).
    #[arg(long, value_parser = parse_encoding)]
    pub encoding: Option<tributary_sources::dialect::Encoding>,
    /// The delimiter, where detection is wrong: ",", ";", tab, "|".
    #[arg(long)]
    pub delimiter: Option<tributary_sources::dialect::Delimiter>,
    /// Largest file accepted, in bytes (a size with a unit works too: "256MiB").
    #[arg(long, default_value = "256MiB")]
    pub max_size: tributary_settings::ByteSize,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Files to look at; a folder stands for the files in it and below.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// How many rows and dead letters to show per file.
    #[arg(long, default_value_t = 5)]
    pub rows: usize,
    /// Read a Markets × COVID file as this format: ecdc-daily-csv, ecdc-daily-json,
    /// ecdc-weekly, yahoo or fse.
    #[arg(long)]
    pub format: Option<String>,
    /// A price file's series name, or the share of a multi-share file (SHARE or SHARE=NAME).
    #[arg(long)]
    pub symbol: Option<String>,
    /// Read every file as mobile events, even one that looks like a Markets × COVID file.
    #[arg(long, conflicts_with = "format")]
    pub mobile: bool,
    #[command(flatten)]
    pub input: InputArgs,
}

/// An encoding by name (as in the config).
fn parse_encoding(s: &str) -> Result<tributary_sources::dialect::Encoding, String> {
    use serde::de::IntoDeserializer;
    serde::Deserialize::deserialize(IntoDeserializer::<serde::de::value::Error>::into_deserializer(s))
        .map_err(|e| e.to_string())
}

/// File formats of mobile events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EventFormat {
    Csv,
    Ndjson,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Where events go: `dir:PATH` (files, written under a temporary name and renamed),
    /// `log:TOPIC` (the event log, keyed by device id) or `http:URL` (POSTed as NDJSON to a
    /// running `tributary up`: URL is its address, or a full `/api/v1/topics/TOPIC/records` URL;
    /// the token is `api.token` or the one `up` keeps in the data directory).
    #[arg(long, default_value = "log:mobile_data", value_name = "dir:PATH|log:TOPIC|http:URL")]
    pub out: String,
    /// Number of events [default: 100000, or unlimited with --rate].
    #[arg(long)]
    pub count: Option<u64>,
    /// Events per second (default: as fast as possible).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Seed: the same seed gives the same events.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Number of devices.
    #[arg(long, default_value_t = 1000)]
    pub devices: u32,
    /// Share of background noise, uniform over Germany (0 to 1).
    #[arg(long, default_value_t = 0.02)]
    pub noise: f64,
    /// File format for dir: output.
    #[arg(long, value_enum, default_value_t = EventFormat::Csv)]
    pub format: EventFormat,
    /// Events per file for dir: output.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub file_records: u64,
    /// Write the true hotspot centres as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub truth: Option<PathBuf>,
    /// Hotspots from a JSON file instead of the eight default German cities:
    /// [{"name": …, "lat": …, "lon": …, "spread_km": …, "weight": …}, …] (a --truth file's
    /// "hotspots" list has this form).
    #[arg(long, value_name = "FILE")]
    pub hotspots: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The model (default: mobile.model); its settings are the `mobile` section's.
    #[arg(long, value_name = "NAME")]
    pub model: Option<String>,
    /// Largest accepted difference of a centre coordinate or weight, relative to max(|x|, 1).
    #[arg(long, default_value_t = 1e-9)]
    pub tolerance: f64,
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// This worker's name, in logs and in its messages to the coordinator. A named worker is a
    /// static member of its consumer groups: restarted under the same name, it takes its
    /// partitions back at once. Names must differ between workers (default: worker-HOST-PID).
    #[arg(long, value_name = "NAME")]
    pub id: Option<String>,
}

#[derive(Debug, Args)]
pub struct KmeansArgs {
    /// Files of events (CSV of any layout, GeoLife .plt, or NDJSON), processed in order; a folder
    /// stands for the files in it and below, in name order.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Number of clusters.
    #[arg(long, default_value_t = 8)]
    pub k: usize,
    /// Decay factor per time unit, 0 < d ≤ 1 (1 = no forgetting).
    #[arg(long, conflicts_with = "half_life")]
    pub decay: Option<f64>,
    /// Half-life in time units, instead of --decay.
    #[arg(long)]
    pub half_life: Option<f64>,
    /// What the decay counts: batches or points.
    #[arg(long, default_value = "batches")]
    pub time_unit: tributary_processors::kmeans::TimeUnit,
    /// Points per micro-batch, in file order.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    pub batch_size: u64,
    /// Initial centres: kmeans++ (on the first batch) or random (N(0,1) with --seed).
    #[arg(long, default_value = "kmeans++", conflicts_with = "init_centres")]
    pub init: tributary_processors::kmeans_config::InitMethod,
    /// Initial centres from a JSON file: {"centres": [[lat, lon], …], "weights": [w, …]}.
    #[arg(long, value_name = "FILE")]
    pub init_centres: Option<PathBuf>,
    /// Seed of the random or k-means++ initialisation.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// km: cluster in kilometres around the data's centre; none: raw (lat, lon) like Spark.
    #[arg(long, default_value = "km")]
    pub projection: tributary_processors::mobile_kmeans::ProjectionMode,
    /// Force the input format instead of detecting it.
    #[arg(long, value_enum)]
    pub format: Option<EventFormat>,
    #[command(flatten)]
    pub input: InputArgs,
    /// Instead of streaming: cluster a sample of the events for each k in FROM..TO (batch
    /// k-means) and print the sum of squares and silhouette of each, with the suggested k.
    #[arg(long, value_name = "FROM..TO", value_parser = parse_k_range)]
    pub suggest_k: Option<KRange>,
    /// With --suggest-k: events sampled uniformly from the files and clustered for each k.
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(10..=1_000_000))]
    pub sample: u64,
}

/// How mobile files are read: flags over the config's `[mobile.input]` (same names, same
/// values). Everything not given is found from the file.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Reading mobile files")]
pub struct InputArgs {
    /// A built-in layout: auto, reference (the reference generator's CSV, latitude and longitude
    /// columns swapped), geolife (.plt trajectories).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// The meaning of each column by position, for files without a header (or to override it),
    /// e.g. device,time,longitude,latitude; - for a column not read.
    #[arg(long, value_name = "FIELDS", value_delimiter = ',')]
    pub columns: Option<Vec<String>>,
    /// The header name of the latitude column, where it is not a common one.
    #[arg(long, value_name = "NAME")]
    pub latitude: Option<String>,
    /// The header name of the longitude column.
    #[arg(long, value_name = "NAME")]
    pub longitude: Option<String>,
    /// The header name of the time column.
    #[arg(long, value_name = "NAME")]
    pub time: Option<String>,
    /// The header name of the device column.
    #[arg(long, value_name = "NAME")]
    pub device: Option<String>,
    /// How times are written: auto, iso8601, epoch-s, epoch-ms, or a strftime pattern.
    #[arg(long, value_name = "FORMAT")]
    pub time_format: Option<String>,
    /// The zone of times written without one: UTC, +02:00, Europe/Berlin.
    #[arg(long, value_name = "ZONE")]
    pub time_zone: Option<String>,
    /// The field delimiter: auto, ",", ";", tab, "|".
    #[arg(long, value_name = "CHAR")]
    pub delimiter: Option<String>,
    /// The encoding: auto, utf-8, windows-1252 (latin-1).
    #[arg(long, value_name = "NAME")]
    pub encoding: Option<String>,
    /// Whether the first line is a header: auto, true, false.
    #[arg(long, value_name = "WHEN")]
    pub header: Option<String>,
    /// Whether numbers are written with a decimal comma: auto, true, false.
    #[arg(long, value_name = "WHEN")]
    pub decimal_comma: Option<String>,
}

/// A range of cluster counts, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KRange {
    pub from: usize,
    pub to: usize,
}

/// `FROM..TO` with 2 ≤ FROM ≤ TO ≤ 100 (`..=` also accepted).
fn parse_k_range(s: &str) -> Result<KRange, String> {
    let (from, to) = s
        .split_once("..=")
        .or_else(|| s.split_once(".."))
        .ok_or_else(|| format!("{s:?} is not a range FROM..TO such as 2..12"))?;
    let number =
        |v: &str| v.trim().parse::<usize>().map_err(|_| format!("{v:?} in {s:?} is not a whole number"));
    let (from, to) = (number(from)?, number(to)?);
    if !(2..=100).contains(&from) || !(from..=100).contains(&to) {
        return Err(format!("{s}: accepted 2 ≤ FROM ≤ TO ≤ 100 (a silhouette needs two clusters)"));
    }
    Ok(KRange { from, to })
}

#[derive(Debug, Subcommand)]
pub enum LogCommand {
    /// List topics with partitions, offsets and sizes, and consumer groups with their lag.
    Topics {
        /// Print JSON instead of tables.
        #[arg(long)]
        json: bool,
    },
    /// Create a topic with a given number of partitions.
    CreateTopic {
        topic: String,
        #[arg(long, default_value_t = 1)]
        partitions: u32,
    },
    /// Append one record per line of standard input (like kafka-console-producer).
    Produce(ProduceArgs),
    /// Print records of a topic (like kafka-console-consumer).
    Tail(TailArgs),
}

#[derive(Debug, Args)]
pub struct ProduceArgs {
    pub topic: String,
    /// Split each line at the first occurrence of this string into key and value; a line
    /// without it is rejected.
    #[arg(long, value_name = "SEP")]
    pub key_separator: Option<String>,
    /// After each acknowledged append, print "partition<TAB>offset" per record to stdout.
    #[arg(long)]
    pub print_offsets: bool,
    /// Most records per append.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub batch_size: u32,
}

#[derive(Debug, Args)]
pub struct TailArgs {
    pub topic: String,
    /// Start at the oldest retained record (without it: only new records; with --group: where
    /// the group has no committed offset).
    #[arg(long)]
    pub from_beginning: bool,
    /// Consume as this consumer group, committing offsets after printing.
    #[arg(long, value_name = "GROUP")]
    pub group: Option<String>,
    /// Exit after this many records.
    #[arg(long, value_name = "N")]
    pub max: Option<u64>,
    /// Print one JSON object per record: topic, partition, offset, timestamp, key, value, headers.
    #[arg(long)]
    pub json: bool,
    /// Exit when no record arrives for this many milliseconds (default: wait forever).
    #[arg(long, value_name = "MS")]
    pub timeout_ms: Option<u64>,
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Event log: append throughput (fsync per batch and by interval), read throughput, and
    /// latency from append to a waiting reader.
    Log(BenchLogArgs),
    /// Mobile pipeline: the k-means update alone, files to committed models end to end, and
    /// the latency from a file landing to its events in a committed model.
    Mobile(BenchMobileArgs),
    /// Markets × COVID: import of the ECDC and price files, then every batch view computed and
    /// published: wall time and peak memory of each step.
    Markets(BenchMarketsArgs),
    /// Serving store: a simulated day of model versions committed as fast as possible with
    /// retention applied every simulated minute; the store's size and its history reads.
    History(BenchHistoryArgs),
}

#[derive(Debug, Args)]
pub struct BenchHistoryArgs {
    /// Simulated hours.
    #[arg(long, default_value_t = 24.0)]
    pub hours: f64,
    /// Model versions per simulated second (`up` makes about 17 at its defaults).
    #[arg(long, default_value_t = 17.0)]
    pub rate: f64,
    /// Clusters per version.
    #[arg(long, default_value_t = 8)]
    pub k: usize,
    /// Partitions each version covers.
    #[arg(long, default_value_t = 1)]
    pub partitions: u32,
    /// Reads timed on the final store, per kind.
    #[arg(long, default_value_t = 2000)]
    pub requests: usize,
}

#[derive(Debug, Args)]
pub struct BenchMarketsArgs {
    /// The ECDC daily file.
    #[arg(
        long,
        value_name = "FILE",
        default_value = "../shared/data/covid/ecdc_casedistribution_daily_final_2020-12-14.csv"
    )]
    pub covid: PathBuf,
    /// The daily price file of the index.
    #[arg(
        long,
        value_name = "FILE",
        default_value = "../shared/data/markets/DAX_GDAXI_daily_1988-2022_yahoo.csv"
    )]
    pub prices: PathBuf,
    /// The symbol of the price series.
    #[arg(long, default_value = "^GDAXI")]
    pub symbol: String,
    /// Full recomputations of the views (the figures of each are printed).
    #[arg(long, default_value_t = 3)]
    pub runs: u32,
    /// The serving store the views are published to (default: SQLite in the temporary data
    /// directory); `postgres://…` or `mysql://…` to measure a server. The bench's views go to
    /// tables of their own names there, as `batch run` would publish them.
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
}

#[derive(Debug, Args)]
pub struct BenchMobileArgs {
    /// Events in each end-to-end run (CSV and NDJSON).
    #[arg(long, default_value_t = 2_000_000)]
    pub events: u64,
    /// Rate of the latency run, events per second.
    #[arg(long, default_value_t = 10_000)]
    pub latency_rate: u64,
    /// Duration of the latency run, seconds.
    #[arg(long, default_value_t = 10)]
    pub latency_secs: u64,
    /// Seconds each k-means update measurement runs.
    #[arg(long, default_value_t = 2.0)]
    pub update_secs: f64,
}

#[derive(Debug, Args)]
pub struct BenchLogArgs {
    /// Directory for the benchmark's log (default: a temporary directory, removed afterwards).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Records appended in each append-throughput run.
    #[arg(long, default_value_t = 2_000_000)]
    pub records: u64,
    /// Records per append call.
    #[arg(long, default_value_t = 1000)]
    pub batch: usize,
    /// Concurrent producers in the append runs.
    #[arg(long, default_value_t = 4)]
    pub producers: usize,
    /// Size of the topic read from the start, in MiB.
    #[arg(long, default_value_t = 1024)]
    pub read_mib: u64,
    /// Rate of the latency run, records per second.
    #[arg(long, default_value_t = 100_000)]
    pub latency_rate: u64,
    /// Duration of the latency run, seconds.
    #[arg(long, default_value_t = 10)]
    pub latency_secs: u64,
}

/// `tributary up`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Serve the HTTP API here (overrides `api.listen`; default 127.0.0.1:8080).
    #[arg(long, value_name = "ADDRESS:PORT")]
    pub listen: Option<std::net::SocketAddr>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct UpArgs {
    /// Serve the HTTP API here (overrides `api.listen`; default 127.0.0.1:8080).
    #[arg(long, value_name = "ADDRESS:PORT")]
    pub listen: Option<std::net::SocketAddr>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn k_ranges_are_checked_with_a_reason() {
        assert_eq!(parse_k_range("2..12"), Ok(KRange { from: 2, to: 12 }));
        assert_eq!(parse_k_range("3..=3"), Ok(KRange { from: 3, to: 3 }));
        for (bad, reason) in [
            ("12", "not a range"),
            ("1..5", "2 ≤ FROM"),
            ("5..4", "2 ≤ FROM ≤ TO"),
            ("2..101", "≤ 100"),
            ("a..4", "not a whole number"),
            ("2..-1", "not a whole number"),
        ] {
            let error = parse_k_range(bad).unwrap_err();
            assert!(error.contains(reason), "{bad}: {error}");
        }
    }
}

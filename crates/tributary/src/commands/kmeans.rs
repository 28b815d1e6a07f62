//! `tributary kmeans FILE…`: the streaming k-means over files, without the log, in micro-batches
//! of `--batch-size` events in file order. Prints each model version as one JSON line, so that runs
//! can be replayed and compared with other tools (with `--init-centres` and `--projection none`,
//! the update is Spark's, bit for bit).

use std::io::{BufReader, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use serde::Deserialize;
use tributary_processors::kmeans_config::{InitMethod, decay};
use tributary_processors::mobile_kmeans::{Init, KMeansSettings, MobileKMeans, ModelVersion};
use tributary_settings::KeyError;
use tributary_sources::mobile_file::{FileError, FileFormat, ParseOptions, Parsed, parse_mobile_file};
use tributary_sources::mobile_input::InputSettings;

use crate::cli::{EventFormat, KmeansArgs};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InitCentresFile {
    centres: Vec<[f64; 2]>,
    #[serde(default)]
    weights: Option<Vec<f64>>,
}

/// Builds the processor settings from the flags; errors name the flag.
pub fn settings(args: &KmeansArgs) -> anyhow::Result<KMeansSettings> {
    let flag = |e: KeyError| anyhow::anyhow!("--{} {}", e.key.replace('_', "-"), e.message);
    let decay = decay(args.decay.unwrap_or(1.0), args.half_life).map_err(flag)?;
    let init = match (&args.init_centres, args.init) {
        (Some(path), _) => read_init_centres(path, args.k)?,
        (None, InitMethod::KMeansPlusPlus) => Init::KMeansPlusPlus { seed: args.seed, min_points: args.k },
        (None, InitMethod::Random) => Init::Random { seed: args.seed },
    };
    let s = KMeansSettings { k: args.k, decay, time_unit: args.time_unit, init, projection: args.projection };
    s.validate().map_err(flag)?;
    Ok(s)
}

fn read_init_centres(path: &Path, k: usize) -> anyhow::Result<Init> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let f: InitCentresFile = serde_json::from_str(&text).with_context(|| {
        format!("{}: expected {{\"centres\": [[lat, lon], …], \"weights\": [w, …]}}", path.display())
    })?;
    let weights = f.weights.unwrap_or_else(|| vec![0.0; f.centres.len()]);
    if f.centres.len() != k {
        bail!("{}: {} centres for --k {k}", path.display(), f.centres.len());
    }
    Ok(Init::Given { centres: f.centres, weights })
}

pub fn run(config: &crate::config::Config, args: KmeansArgs) -> anyhow::Result<ExitCode> {
    let input = args.input.over(&config.mobile.directory.input)?;
    if let Some(range) = args.suggest_k {
        return super::kmeans_suggest::run(&args, &input, range);
    }
    let settings = settings(&args)?;
    let mut processor = MobileKMeans::new(settings);
    let batch_size = args.batch_size as usize;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let emit = |v: Option<ModelVersion>, out: &mut dyn Write| -> std::io::Result<()> {
        if let Some(v) = v {
            serde_json::to_writer(&mut *out, &v)?;
            out.write_all(b"\n")?;
        }
        Ok(())
    };
    let mut versions = 0u64;
    let mut batch: Vec<[f64; 2]> = Vec::with_capacity(batch_size);
    let mut reading = read_events(&args, &input, |position| {
        batch.push(position);
        if batch.len() == batch_size {
            let v = processor.process(&batch);
            versions += v.is_some() as u64;
            batch.clear();
            emit(v, &mut out)?;
        }
        Ok(())
    })?;
    match reading.stopped.take() {
        Some(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(ExitCode::SUCCESS),
        Some(e) => return Err(e.into()),
        None => {}
    }
    if !batch.is_empty() {
        let v = processor.process(&batch);
        versions += v.is_some() as u64;
        emit(v, &mut out)?;
    }
    out.flush()?;
    let Reading { events, dead, unreadable, .. } = reading;
    if processor.snapshot().is_none() {
        eprintln!("no model: {} events, fewer than k = {} needed to start", events, args.k);
    }
    eprintln!(
        "{events} events, {versions} model versions, {dead} dead letters, {unreadable} unreadable files"
    );
    Ok(reading.exit_code())
}

/// What reading the files found.
pub(crate) struct Reading {
    pub events: u64,
    pub dead: u64,
    pub unreadable: u64,
    /// The error that stopped the caller's handling of events (writing its output), if any.
    pub stopped: Option<std::io::Error>,
}

impl Reading {
    /// Success, or 3 when some records or files could not be read.
    pub fn exit_code(&self) -> ExitCode {
        if self.dead == 0 && self.unreadable == 0 { ExitCode::SUCCESS } else { ExitCode::from(3) }
    }
}

/// Reads the files' events in order, passing each `[lat, lon]` to `on_event`; reports the first
/// 20 dead letters and every unreadable file on standard error. After `on_event` fails, the
/// rest is skipped and the error returned in [`Reading::stopped`].
pub(crate) fn read_events(
    args: &KmeansArgs,
    input: &InputSettings,
    mut on_event: impl FnMut([f64; 2]) -> std::io::Result<()>,
) -> anyhow::Result<Reading> {
    let opts = ParseOptions { input: input.clone(), ..Default::default() };
    let format = args.format.map(|f| match f {
        EventFormat::Csv => FileFormat::Csv,
        EventFormat::Ndjson => FileFormat::Ndjson,
    });
    let mut reading = Reading { events: 0, dead: 0, unreadable: 0, stopped: None };
    for path in &super::input_args::expand(&args.files)? {
        let file = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let source = format!("file:{}", path.display());
        let now = tributary_log::now_ms();
        let result = parse_mobile_file(
            BufReader::with_capacity(1 << 16, file),
            &source,
            Some(path),
            format.or_else(|| FileFormat::from_path(path)),
            &opts,
            now,
            |p| match p {
                Parsed::Event { event, .. } => {
                    reading.events += 1;
                    if reading.stopped.is_none()
                        && let Err(e) = on_event([event.latitude, event.longitude])
                    {
                        reading.stopped = Some(e);
                    }
                }
                Parsed::Dead(d) => {
                    reading.dead += 1;
                    if reading.dead <= 20 {
                        eprintln!("dead letter: {} {}: {}", d.source, d.position, d.reason);
                    }
                }
            },
        );
        match result {
            Ok(_) => {}
            Err(FileError::Unreadable(why)) => {
                reading.unreadable += 1;
                eprintln!("{} cannot be read as mobile events: {why}", path.display());
            }
            Err(FileError::Io(e)) => return Err(e).with_context(|| format!("reading {}", path.display())),
        }
        if reading.stopped.is_some() {
            break;
        }
    }
    Ok(reading)
}

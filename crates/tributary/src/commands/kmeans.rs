//! `tributary kmeans FILE…`: the streaming k-means over files, without the log, in micro-batches
//! of `--batch-size` events in file order. Prints each model version as one JSON line, so that runs
//! can be replayed and compared with other tools (with `--init-centres` and `--projection none`,
//! the update is Spark's, bit for bit).

use std::io::{BufReader, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use serde::Deserialize;
use tributary_processors::kmeans::{TimeUnit, decay_from_half_life};
use tributary_processors::mobile_kmeans::{Init, KMeansSettings, MobileKMeans, ModelVersion, ProjectionMode};
use tributary_sources::mobile_file::{FileError, FileFormat, ParseOptions, Parsed, parse_mobile_file};

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
    let time_unit: TimeUnit = args.time_unit.parse().map_err(|e| anyhow::anyhow!("--time-unit: {e}"))?;
    let decay = match (args.decay, args.half_life) {
        (_, Some(h)) if !(h > 0.0 && h.is_finite()) => bail!("--half-life {h}: must be a positive number"),
        (_, Some(h)) => decay_from_half_life(h),
        (Some(d), None) => d,
        (None, None) => 1.0,
    };
    let projection = match args.projection.as_str() {
        "km" => ProjectionMode::Km,
        "none" => ProjectionMode::None,
        other => bail!("--projection {other}: accepted km or none"),
    };
    let init = match (&args.init_centres, args.init.as_str()) {
        (Some(path), _) => read_init_centres(path, args.k)?,
        (None, "kmeans++") => Init::KMeansPlusPlus { seed: args.seed, min_points: args.k },
        (None, "random") => Init::Random { seed: args.seed },
        (None, other) => bail!("--init {other}: accepted kmeans++ or random (or --init-centres FILE)"),
    };
    let s = KMeansSettings { k: args.k, decay, time_unit, init, projection };
    s.validate().map_err(|e| anyhow::anyhow!("{e}"))?;
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

pub fn run(args: KmeansArgs) -> anyhow::Result<ExitCode> {
    let settings = settings(&args)?;
    let mut processor = MobileKMeans::new(settings);
    let batch_size = args.batch_size as usize;
    let opts = ParseOptions { swap_lat_lon: args.swap_lat_lon, ..Default::default() };
    let format = args.format.map(|f| match f {
        EventFormat::Csv => FileFormat::Csv,
        EventFormat::Ndjson => FileFormat::Ndjson,
    });
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let emit = |v: Option<ModelVersion>, out: &mut dyn Write| -> std::io::Result<()> {
        if let Some(v) = v {
            serde_json::to_writer(&mut *out, &v)?;
            out.write_all(b"\n")?;
        }
        Ok(())
    };
    let (mut events, mut dead, mut unreadable, mut versions) = (0u64, 0u64, 0u64, 0u64);
    let mut batch: Vec<[f64; 2]> = Vec::with_capacity(batch_size);
    let mut write_error = None;
    for path in &args.files {
        let file = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let source = format!("file:{}", path.display());
        let now = tributary_log::now_ms();
        let result = parse_mobile_file(
            BufReader::with_capacity(1 << 16, file),
            &source,
            format.or_else(|| FileFormat::from_path(path)),
            opts,
            now,
            |p| match p {
                Parsed::Event { event, .. } => {
                    events += 1;
                    batch.push([event.latitude, event.longitude]);
                    if batch.len() == batch_size {
                        let v = processor.process(&batch);
                        versions += v.is_some() as u64;
                        if let Err(e) = emit(v, &mut out) {
                            write_error.get_or_insert(e);
                        }
                        batch.clear();
                    }
                }
                Parsed::Dead(d) => {
                    dead += 1;
                    if dead <= 20 {
                        eprintln!("dead letter: {} {}: {}", d.source, d.position, d.reason);
                    }
                }
            },
        );
        match result {
            Ok(_) => {}
            Err(FileError::Unreadable(why)) => {
                unreadable += 1;
                eprintln!("{} cannot be read as mobile events: {why}", path.display());
            }
            Err(FileError::Io(e)) => return Err(e).with_context(|| format!("reading {}", path.display())),
        }
        if let Some(e) = write_error.take() {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                return Ok(ExitCode::SUCCESS);
            }
            return Err(e.into());
        }
    }
    if !batch.is_empty() {
        let v = processor.process(&batch);
        versions += v.is_some() as u64;
        emit(v, &mut out)?;
    }
    out.flush()?;
    if processor.snapshot().is_none() {
        eprintln!("no model: {} events, fewer than k = {} needed to start", events, args.k);
    }
    eprintln!(
        "{events} events, {versions} model versions, {dead} dead letters, {unreadable} unreadable files"
    );
    Ok(if dead == 0 && unreadable == 0 { ExitCode::SUCCESS } else { ExitCode::from(3) })
}

//! The mobile pipeline stage by stage, each alone on one thread: where an event's time goes.
//!
//! `tributary bench mobile` prints these beside the end-to-end figure, so that a change to one
//! stage can be judged without the noise of the others, and so that the sum of the stages' costs
//! (µs per event) shows how far two cores can carry the whole pipeline.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use tributary_log::{EmbeddedLog, EmbeddedLogConfig, EventLog, ReadLimits, RecordPosition};
use tributary_schema::MobileEvent;
use tributary_schema::mobile::Encoding;
use tributary_sources::directory::EventChunk;
use tributary_sources::mobile_file::{ParseOptions, Parsed, parse_mobile_file};

/// One stage's figure.
pub struct StageRate {
    pub stage: String,
    pub events: u64,
    pub secs: f64,
}

impl StageRate {
    /// Microseconds of one thread per event.
    pub fn micros_per_event(&self) -> f64 {
        self.secs * 1e6 / self.events as f64
    }
}

/// Accumulated time of one stage over many chunks.
#[derive(Default)]
struct Clock(std::time::Duration);

impl Clock {
    fn time<T>(&mut self, f: impl FnOnce() -> T) -> T {
        let started = Instant::now();
        let out = f();
        self.0 += started.elapsed();
        out
    }

    fn rate(&self, stage: impl Into<String>, events: u64) -> StageRate {
        StageRate { stage: stage.into(), events, secs: self.0.as_secs_f64() }
    }
}

/// Measures parsing (`csv` and `ndjson` are files of the same events, of 10,000 each, as the
/// directory source reads them) into events in `encoding`, building the log records, appending
/// them to an embedded log in `dir`, reading them back, and decoding positions. Stages run chunk
/// by chunk, so memory is reused as in the pipeline rather than grown (fresh pages would
/// dominate the figures).
pub async fn stage_rates(
    dir: &Path,
    csv: &[Vec<u8>],
    ndjson: &[Vec<u8>],
    encoding: Encoding,
) -> anyhow::Result<Vec<StageRate>> {
    let log = EmbeddedLog::open(dir, EmbeddedLogConfig::default()).await?;
    log.create_topic("mobile_data", 1).await?;
    let src: Arc<str> = Arc::from("src");
    let [mut parse_csv, mut parse_ndjson, mut build, mut append, mut read, mut decode] =
        std::array::from_fn(|_| Clock::default());
    let parse = |content: &[u8]| -> anyhow::Result<Vec<_>> {
        let mut events = Vec::with_capacity(10_000);
        let opts = ParseOptions { log_encoding: encoding, ..Default::default() };
        parse_mobile_file(content, "bench", None, None, &opts, 0, |p| {
            if let Parsed::Event { event, .. } = p {
                events.push(event);
            }
        })
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(events)
    };
    let mut n = 0u64;
    for (file, content) in csv.iter().enumerate() {
        let events = parse_csv.time(|| parse(content))?;
        n += events.len() as u64;
        // The directory source's records: key, value, the encoding and `src` headers.
        let records = build.time(|| {
            let begin = RecordPosition { partition: 0, offset: file as u64 };
            let mut chunk = EventChunk::new(src.clone(), begin, 0, events.len());
            for (i, e) in events.into_iter().enumerate() {
                chunk.push(e, i as u64);
            }
            chunk.take_records()
        });
        let started = Instant::now();
        log.append_to_partition("mobile_data", 0, records).await?;
        append.0 += started.elapsed();
    }
    let mut ndjson_events = 0u64;
    for content in ndjson {
        ndjson_events += parse_ndjson.time(|| parse(content))?.len() as u64;
    }

    let mut offset = 0;
    let mut decoded = 0u64;
    loop {
        let started = Instant::now();
        // As the processor reads: records left in the batches read (a view).
        let batch = log.read_view("mobile_data", 0, offset, ReadLimits::default()).await?;
        read.0 += started.elapsed();
        let Some(last) = batch.last_offset() else { break };
        offset = last + 1;
        decoded += decode.time(|| {
            batch.iter().filter(|(_, r)| tributary_processors::mobile_record::position(*r).is_ok()).count()
        }) as u64;
        read.time(|| drop(batch));
    }
    anyhow::ensure!(decoded == n, "decoded {decoded} of {n} positions");
    let name = match encoding {
        Encoding::Binary => "binary",
        Encoding::Json => "JSON",
    };
    Ok(vec![
        parse_csv.rate(format!("parse CSV lines into {name} events"), n),
        parse_ndjson.rate(format!("parse NDJSON lines into {name} events"), ndjson_events),
        build.rate(format!("build log records ({name})"), n),
        append.rate(format!("append to the log ({name})"), n),
        read.rate(format!("read from the log ({name})"), n),
        decode.rate(format!("decode positions ({name})"), n),
    ])
}

/// Parse throughput of the GPS layouts Tributary reads besides its own (one thread, in memory):
/// the same events written as each layout, read by the mobile file reader with the settings a
/// user would give (none where the header says enough).
pub fn layout_rates(chunks: &[Vec<MobileEvent>]) -> anyhow::Result<Vec<StageRate>> {
    use std::fmt::Write;
    use tributary_schema::mobile::time::TimeReader;
    use tributary_sources::mobile_input::{FieldName, InputSettings};

    let ms = |e: &MobileEvent| TimeReader::default().read(&e.timepoint).unwrap_or(0);
    let iso = |e: &MobileEvent| e.timepoint.replacen(' ', "T", 1) + "Z";
    type Layout<'a> = (&'static str, &'a dyn Fn(&[MobileEvent]) -> String, InputSettings);
    let positional = InputSettings {
        columns: vec![FieldName::Device, FieldName::Time, FieldName::Longitude, FieldName::Latitude],
        ..Default::default()
    };
    let headers = |e: &[MobileEvent]| {
        let mut s = String::from("lat,lng,datetime,uid\n");
        for e in e {
            let _ = writeln!(s, "{},{},{},{}", e.latitude, e.longitude, iso(e), e.device_id);
        }
        s
    };
    let phone = |e: &[MobileEvent]| {
        let mut s = String::from("Timestamp;Device;Lon;Lat\r\n");
        for e in e {
            let (lon, lat) =
                (e.longitude.to_string().replace('.', ","), e.latitude.to_string().replace('.', ","));
            let seconds = e.timepoint.get(..19).unwrap_or(&e.timepoint).replacen(' ', "T", 1);
            let _ = write!(s, "{seconds}.123456789+00:00;{};{lon};{lat}\r\n", e.device_id);
        }
        s
    };
    let taxi = |e: &[MobileEvent]| {
        let mut s = String::new();
        for e in e {
            let _ = writeln!(s, "{},{},{},{}", e.device_id, ms(e), e.longitude, e.latitude);
        }
        s
    };
    let geolife = |e: &[MobileEvent]| {
        let mut s = String::from(
            "Geolife trajectory\nWGS 84\nAltitude is in Feet\nReserved 3\n0,2,255,My Track,0,0,2,8421376\n0\n",
        );
        for e in e {
            let (date, time) = e.timepoint.split_once(' ').unwrap_or_default();
            let _ = writeln!(
                s,
                "{},{},0,492,39744.12,{date},{}",
                e.latitude,
                e.longitude,
                &time[..time.len().min(8)]
            );
        }
        s
    };
    let layouts: [Layout; 4] = [
        ("lat,lng,datetime,uid (ISO times)", &headers, InputSettings::default()),
        ("phone export (; decimal comma, ns)", &phone, InputSettings::default()),
        ("no header, epoch ms (--columns)", &taxi, positional),
        ("GeoLife .plt", &geolife, InputSettings::default()),
    ];
    let mut rates = Vec::new();
    for (name, write, input) in layouts {
        let files: Vec<String> = chunks.iter().map(|c| write(c)).collect();
        let opts = ParseOptions { input, ..Default::default() };
        let (mut clock, mut n) = (Clock::default(), 0u64);
        for f in &files {
            let mut events = 0u64;
            clock
                .time(|| {
                    parse_mobile_file(f.as_bytes(), "bench", None, None, &opts, 0, |p| {
                        events += matches!(p, Parsed::Event { .. }) as u64;
                    })
                })
                .map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
            n += events;
        }
        let expected: usize = chunks.iter().map(Vec::len).sum();
        anyhow::ensure!(n as usize == expected, "{name}: {n} of {expected} events parsed");
        rates.push(clock.rate(name, n));
    }
    Ok(rates)
}

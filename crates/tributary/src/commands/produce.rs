//! `tributary log produce TOPIC`: one record per line of standard input.
//!
//! Lines are split at `\n` only, so any bytes (including `\r` and invalid UTF-8) round-trip
//! unchanged through `log tail`. Empty lines are skipped and counted. A line longer than
//! `embedded_log.max_record_bytes`, or without the key separator when one is given, is reported
//! with its line number and skipped; the rest still goes through, and the exit code is 1. Memory
//! stays bounded whatever the input: an over-long line is discarded as it is read.

use std::io::{BufRead, Write};
use std::process::ExitCode;

use bytes::Bytes;
use tokio::sync::mpsc;
use tributary_log::Record;
use tributary_sources::lines::{self as bounded, BoundedLines};

use crate::cli::ProduceArgs;
use crate::config::Config;

/// One line of input, as the reader thread classifies it.
#[derive(Debug, PartialEq, Eq)]
enum Line {
    Data { number: u64, bytes: Vec<u8> },
    Empty,
    TooLong { number: u64, len: u64 },
}

pub async fn run(config: &Config, args: ProduceArgs) -> anyhow::Result<ExitCode> {
    let log = super::open_log_or_running_up(config).await?;
    let max = config.embedded_log.max_record_bytes.0 as usize;
    let (tx, mut rx) = mpsc::channel::<Line>(8 * args.batch_size as usize);
    let reader = std::thread::spawn(move || read_lines(std::io::stdin().lock(), max, &tx));

    let separator = args.key_separator.as_deref().map(str::as_bytes);
    let (mut produced, mut empty, mut rejected) = (0u64, 0u64, 0u64);
    let stdout = std::io::stdout();
    while let Some(first) = rx.recv().await {
        let mut batch = Vec::new();
        let mut next = Some(first);
        while let Some(line) = next {
            match line {
                Line::Empty => empty += 1,
                Line::TooLong { number, len } => {
                    rejected += 1;
                    eprintln!(
                        "line {number}: {len} bytes is more than embedded_log.max_record_bytes ({max}); skipped"
                    );
                }
                Line::Data { number, bytes } => match to_record(bytes, separator) {
                    Some(r) => batch.push(r),
                    None => {
                        rejected += 1;
                        eprintln!("line {number}: no key separator found; skipped");
                    }
                },
            }
            next = if batch.len() < args.batch_size as usize { rx.try_recv().ok() } else { None };
        }
        if batch.is_empty() {
            continue;
        }
        let n = batch.len() as u64;
        let positions = log.append(&args.topic, batch).await?;
        produced += n;
        if args.print_offsets {
            let mut out = stdout.lock();
            for p in positions {
                writeln!(out, "{}\t{}", p.partition, p.offset)?;
            }
            out.flush()?;
        }
    }
    let read_result = reader.join().map_err(|_| anyhow::anyhow!("the stdin reader panicked"))?;
    log.close().await?;
    let mut summary = format!("produced {produced} records to {}", args.topic);
    if empty > 0 {
        summary += &format!("; skipped {empty} empty lines");
    }
    if rejected > 0 {
        summary += &format!("; rejected {rejected} lines");
    }
    eprintln!("{summary}");
    if let Err(e) = read_result {
        anyhow::bail!("reading standard input failed after {produced} records: {e}");
    }
    Ok(if rejected == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn to_record(line: Vec<u8>, separator: Option<&[u8]>) -> Option<Record> {
    let Some(sep) = separator.filter(|s| !s.is_empty()) else {
        return Some(Record::new(line));
    };
    let at = line.windows(sep.len()).position(|w| w == sep)?;
    let line = Bytes::from(line);
    Some(Record::new(line.slice(at + sep.len()..)).with_key(line.slice(..at)))
}

/// Reads `\n`-separated lines into `tx` (with [`BoundedLines`]: an over-long line is counted,
/// not kept), classifying empty lines.
fn read_lines(input: impl BufRead, max: usize, tx: &mpsc::Sender<Line>) -> std::io::Result<()> {
    for line in BoundedLines::new(input, max) {
        let item = match line? {
            bounded::Line::TooLong { number, len, .. } => Line::TooLong { number, len },
            bounded::Line::Data { bytes, .. } if bytes.is_empty() => Line::Empty,
            bounded::Line::Data { number, bytes } => Line::Data { number, bytes },
        };
        if tx.blocking_send(item).is_err() {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8], max: usize) -> Vec<Line> {
        let (tx, mut rx) = mpsc::channel(1000);
        read_lines(std::io::BufReader::with_capacity(7, input), max, &tx).unwrap();
        drop(tx);
        let mut out = Vec::new();
        while let Ok(l) = rx.try_recv() {
            out.push(l);
        }
        out
    }

    #[test]
    fn splits_on_newline_only_and_keeps_other_bytes() {
        let got = lines(b"a\r\n\nb\xff\x00c\nlast", 100);
        assert_eq!(
            got,
            vec![
                Line::Data { number: 1, bytes: b"a\r".to_vec() },
                Line::Empty,
                Line::Data { number: 3, bytes: b"b\xff\x00c".to_vec() },
                Line::Data { number: 4, bytes: b"last".to_vec() },
            ]
        );
    }

    #[test]
    fn over_long_lines_are_reported_and_the_rest_goes_through() {
        let mut input = b"ok\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 50));
        input.extend(b"\nfine\n");
        let got = lines(&input, 10);
        assert_eq!(
            got,
            vec![
                Line::Data { number: 1, bytes: b"ok".to_vec() },
                Line::TooLong { number: 2, len: 50 },
                Line::Data { number: 3, bytes: b"fine".to_vec() },
            ]
        );
    }

    #[test]
    fn key_separator_splits_at_the_first_occurrence() {
        let r = to_record(b"dev-1::a::b".to_vec(), Some(b"::")).unwrap();
        assert_eq!(r.key.as_deref(), Some(&b"dev-1"[..]));
        assert_eq!(&r.value[..], b"a::b");
        assert!(to_record(b"no separator".to_vec(), Some(b"::")).is_none());
        assert!(to_record(b"plain".to_vec(), None).unwrap().key.is_none());
    }
}

//! `tributary inspect FILE…`: how each file would be read — format, dialect, encoding, column
//! mapping, the first rows as parsed and the dead letters it would produce — without importing
//! anything. A Markets × COVID file (ECDC, prices) is recognised by its columns; any other is
//! read as mobile events with the `[mobile.input]` settings and the flags.

use std::io::BufReader;
use std::process::ExitCode;

use anyhow::Context;
use tributary_sources::dialect::DialectSettings;
use tributary_sources::formats::{Format, ReadOptions, Rows, parse};
use tributary_sources::mobile_file::{FileError, FileFormat, ParseOptions, Parsed, parse_mobile_file};

use crate::cli::InspectArgs;
use crate::config::Config;

pub fn run(config: &Config, args: InspectArgs) -> anyhow::Result<ExitCode> {
    let input = args.input.over(&config.mobile.directory.input)?;
    let format = args.format.as_deref().map(Format::from_name).transpose().map_err(anyhow::Error::msg)?;
    let mut clean = true;
    for path in super::input_args::expand(&args.files)? {
        let source = format!("file:{}", path.display());
        println!("{}", path.display());
        let head = read_head(&path)?;
        let markets = format.or_else(|| Format::sniff(&head));
        clean &= match markets {
            Some(f) if !args.mobile => inspect_markets(&path, &source, f, &args, &input)?,
            _ => inspect_mobile(&path, &source, &args, &input)?,
        };
        println!();
    }
    Ok(if clean { ExitCode::SUCCESS } else { ExitCode::from(3) })
}

/// The first bytes of a file, enough to recognise it.
fn read_head(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    use std::io::Read;
    let mut head = Vec::new();
    std::fs::File::open(path)
        .with_context(|| format!("cannot open {}", path.display()))?
        .take(tributary_sources::dialect::SAMPLE_BYTES as u64)
        .read_to_end(&mut head)
        .with_context(|| format!("reading {}", path.display()))?;
    Ok(head)
}

/// Prints a Markets × COVID file's reading; `true` if every row was usable.
fn inspect_markets(
    path: &std::path::Path,
    source: &str,
    format: Format,
    args: &InspectArgs,
    input: &tributary_sources::mobile_input::InputSettings,
) -> anyhow::Result<bool> {
    let content = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let default_symbol = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let opts = ReadOptions {
        format: Some(format),
        dialect: DialectSettings {
            encoding: input.encoding,
            delimiter: input.delimiter,
            ..Default::default()
        },
        symbol: args.symbol.clone(),
        default_symbol,
    };
    let parsed = match parse(&content, source, &opts, tributary_log::now_ms()) {
        Ok(p) => p,
        Err(e) => {
            println!("  cannot be imported: {e}");
            return Ok(false);
        }
    };
    println!(
        "  format:   {} (dataset {}), `tributary import` would read it",
        parsed.format,
        parsed.format.dataset()
    );
    if parsed.format == Format::EcdcDailyJson {
        println!("  encoding: {}", parsed.dialect.encoding);
    } else {
        println!("  dialect:  {}", parsed.dialect.describe());
    }
    fn as_json<T: serde::Serialize>(rows: &[T], n: usize) -> Vec<String> {
        rows.iter().take(n).map(|r| serde_json::to_string(r).unwrap_or_default()).collect()
    }
    let rows = |n: usize| -> Vec<String> {
        match &parsed.rows {
            Rows::CovidDaily(r) => as_json(r, n),
            Rows::CovidWeekly(r) => as_json(r, n),
            Rows::Prices(r) => as_json(r, n),
        }
    };
    if let Rows::Prices(bars) = &parsed.rows {
        let series: std::collections::BTreeSet<&str> = bars.iter().map(|b| b.symbol.as_str()).collect();
        println!("  series:   {}", series.into_iter().collect::<Vec<_>>().join(", "));
    }
    println!(
        "  rows:     {} usable, {} dead letters, {} skipped (holidays, other shares)",
        parsed.rows.len(),
        parsed.dead_letters.len(),
        parsed.skipped
    );
    print_list("first rows, as the lake would hold them", &rows(args.rows));
    let dead: Vec<String> =
        parsed.dead_letters.iter().take(args.rows).map(|d| format!("{}: {}", d.position, d.reason)).collect();
    print_list("dead letters", &dead);
    Ok(parsed.dead_letters.is_empty())
}

/// Prints a mobile file's reading; `true` if every line was usable.
fn inspect_mobile(
    path: &std::path::Path,
    source: &str,
    args: &InspectArgs,
    input: &tributary_sources::mobile_input::InputSettings,
) -> anyhow::Result<bool> {
    let file = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    // Events are shown as JSON, whatever the topic's encoding.
    let log_encoding = tributary_schema::mobile::Encoding::Json;
    let opts = ParseOptions { input: input.clone(), log_encoding, ..Default::default() };
    let (mut first, mut dead, mut dead_count) = (Vec::new(), Vec::new(), 0u64);
    let result = parse_mobile_file(
        BufReader::with_capacity(1 << 16, file),
        source,
        Some(path),
        FileFormat::from_path(path).filter(|f| *f == FileFormat::Ndjson),
        &opts,
        tributary_log::now_ms(),
        |p| match p {
            Parsed::Event { line, event } if first.len() < args.rows => {
                first.push(format!("line {line}: {}", String::from_utf8_lossy(&event.value)))
            }
            Parsed::Event { .. } => {}
            Parsed::Dead(d) => {
                dead_count += 1;
                if dead.len() < args.rows {
                    dead.push(format!("{}: {}", d.position, d.reason));
                }
            }
        },
    );
    let summary = match result {
        Ok(s) => s,
        Err(FileError::Unreadable(why)) => {
            println!("  mobile events: cannot be read: {why}");
            return Ok(false);
        }
        Err(FileError::Io(e)) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    println!("  mobile events, read as {}", summary.read_as);
    println!(
        "  lines:    {} — {} events, {} dead letters, {} empty",
        summary.lines, summary.events, dead_count, summary.empty_lines
    );
    print_list("first events, as JSON (the log holds them in `mobile.topic_encoding`)", &first);
    print_list("dead letters", &dead);
    Ok(dead_count == 0)
}

fn print_list(title: &str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    println!("  {title}:");
    for item in items {
        println!("    {item}");
    }
}

//! `tributary log tail TOPIC`: print records as they arrive, like kafka-console-consumer.
//!
//! Without `--group` it reads as a throw-away group that never commits, starting at the end (or
//! the beginning with `--from-beginning`). With `--group` it resumes at the group's committed
//! offsets and commits after each printed batch.
//!
//! A mobile event in the binary encoding (its record's header `enc` says so) is printed as its
//! JSON object, as a JSON-encoded topic would hold it: the console shows events, not bytes.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use base64::Engine;
use serde_json::{Map, Value, json};
use tributary_log::{ConsumedRecord, LogError, OffsetReset};

use crate::cli::TailArgs;
use crate::config::Config;

pub async fn run(config: &Config, args: TailArgs) -> anyhow::Result<ExitCode> {
    let log = super::open_log_or_running_up(config).await?;
    if let Err(LogError::UnknownTopic(_)) = log.partition_count(&args.topic).await {
        let names: Vec<String> = log.describe_topics().await?.into_iter().map(|t| t.name).collect();
        let existing = if names.is_empty() { "none".to_string() } else { names.join(", ") };
        anyhow::bail!("topic '{}' does not exist (existing topics: {existing})", args.topic);
    }
    let group = args.group.clone().unwrap_or_else(|| format!("tributary-tail-{}", std::process::id()));
    let reset = if args.from_beginning { OffsetReset::Earliest } else { OffsetReset::Latest };
    let mut consumer = log.subscribe(&group, &[args.topic.as_str()], reset).await?;
    let max = args.max.unwrap_or(u64::MAX);
    let idle = args.timeout_ms.map(Duration::from_millis);
    let mut printed = 0u64;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    while printed < max {
        let want = (max - printed).min(10_000) as usize;
        let records = tokio::select! {
            r = consumer.poll(want, idle.unwrap_or(Duration::from_secs(3600))) => r?,
            _ = &mut ctrl_c => break,
        };
        if records.is_empty() {
            if idle.is_some() {
                break;
            }
            continue;
        }
        let written =
            records.iter().try_for_each(|r| write_record(&mut out, r, args.json)).and_then(|()| out.flush());
        match written {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => break,
            Err(e) => return Err(e.into()),
        }
        printed += records.len() as u64;
        if args.group.is_some() {
            consumer.commit().await?;
        }
    }
    drop(out);
    drop(consumer);
    log.close().await?;
    Ok(ExitCode::SUCCESS)
}

fn write_record(out: &mut impl Write, r: &ConsumedRecord, json: bool) -> std::io::Result<()> {
    let value = readable_value(r);
    if !json {
        out.write_all(&value)?;
        return out.write_all(b"\n");
    }
    let mut obj = Map::new();
    obj.insert("topic".into(), json!(&*r.topic));
    obj.insert("partition".into(), json!(r.partition));
    obj.insert("offset".into(), json!(r.offset));
    obj.insert("timestamp".into(), json!(r.record.timestamp));
    match &r.record.key {
        None => {
            obj.insert("key".into(), Value::Null);
        }
        Some(k) => put_bytes(&mut obj, "key", k),
    }
    put_bytes(&mut obj, "value", &value);
    let headers: Vec<Value> = r
        .record
        .headers
        .iter()
        .map(|h| {
            let mut m = Map::new();
            m.insert("name".into(), json!(&*h.name));
            put_bytes(&mut m, "value", &h.value);
            Value::Object(m)
        })
        .collect();
    obj.insert("headers".into(), Value::Array(headers));
    serde_json::to_writer(&mut *out, &Value::Object(obj))?;
    out.write_all(b"\n")
}

/// The record's value as a person reads it: a binary mobile event as its JSON object; any
/// other value (and a binary one that does not decode) as it is.
fn readable_value(r: &ConsumedRecord) -> std::borrow::Cow<'_, [u8]> {
    use tributary_processors::mobile_record;
    use tributary_schema::mobile::Encoding;
    match mobile_record::encoding(&r.record) {
        Ok(Encoding::Binary) => match mobile_record::event(&r.record) {
            Ok(e) => std::borrow::Cow::Owned(e.to_json()),
            Err(_) => std::borrow::Cow::Borrowed(&r.record.value[..]),
        },
        _ => std::borrow::Cow::Borrowed(&r.record.value[..]),
    }
}

/// Text as `field`; bytes that are not UTF-8 as `field_base64`, so nothing is lost.
fn put_bytes(obj: &mut Map<String, Value>, field: &str, bytes: &[u8]) {
    match std::str::from_utf8(bytes) {
        Ok(s) => obj.insert(field.into(), json!(s)),
        Err(_) => obj.insert(
            format!("{field}_base64"),
            json!(base64::engine::general_purpose::STANDARD.encode(bytes)),
        ),
    };
}

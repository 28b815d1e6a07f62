//! `tributary log topics` and `tributary log create-topic`.

use std::process::ExitCode;

use serde::Serialize;
use tributary_log::TopicDescription;

use crate::config::Config;

#[derive(Serialize)]
struct GroupLag {
    group: String,
    topic: String,
    partition: u32,
    committed: u64,
    end: u64,
    lag: u64,
}

pub async fn topics(config: &Config, json: bool) -> anyhow::Result<ExitCode> {
    let log = super::open_log_or_running_up(config).await?;
    let topics = log.describe_topics().await?;
    let ends: std::collections::HashMap<(&str, u32), u64> = topics
        .iter()
        .flat_map(|t| t.partitions.iter().map(|p| ((t.name.as_str(), p.partition), p.offsets.end)))
        .collect();
    let mut lags = Vec::new();
    for g in log.group_offsets().await? {
        for (tp, committed) in g.offsets {
            let end = ends.get(&(&*tp.topic, tp.partition)).copied().unwrap_or(committed);
            lags.push(GroupLag {
                group: g.group.clone(),
                topic: tp.topic,
                partition: tp.partition,
                committed,
                end,
                lag: end.saturating_sub(committed),
            });
        }
    }
    if json {
        #[derive(Serialize)]
        struct Out<'a> {
            topics: &'a [TopicDescription],
            groups: &'a [GroupLag],
        }
        println!("{}", serde_json::to_string_pretty(&Out { topics: &topics, groups: &lags })?);
    } else {
        print_tables(&topics, &lags);
    }
    log.close().await?;
    Ok(ExitCode::SUCCESS)
}

fn print_tables(topics: &[TopicDescription], lags: &[GroupLag]) {
    if topics.is_empty() {
        println!("no topics");
    } else {
        println!(
            "{:<30} {:>9} {:>12} {:>12} {:>12} {:>8}",
            "TOPIC", "PARTITION", "START", "END", "BYTES", "SEGMENTS"
        );
        for t in topics {
            for p in &t.partitions {
                println!(
                    "{:<30} {:>9} {:>12} {:>12} {:>12} {:>8}",
                    t.name, p.partition, p.offsets.start, p.offsets.end, p.size_bytes, p.segments
                );
            }
        }
    }
    if !lags.is_empty() {
        println!();
        println!(
            "{:<24} {:<30} {:>9} {:>12} {:>12} {:>10}",
            "GROUP", "TOPIC", "PARTITION", "COMMITTED", "END", "LAG"
        );
        for l in lags {
            println!(
                "{:<24} {:<30} {:>9} {:>12} {:>12} {:>10}",
                l.group, l.topic, l.partition, l.committed, l.end, l.lag
            );
        }
    }
}

pub async fn create_topic(config: &Config, topic: &str, partitions: u32) -> anyhow::Result<ExitCode> {
    let log = super::open_log_or_running_up(config).await?;
    log.create_topic(topic, partitions).await?;
    println!("created topic {topic} with {partitions} partition(s)");
    log.close().await?;
    Ok(ExitCode::SUCCESS)
}

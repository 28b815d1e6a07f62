//! Consumer groups seen from outside: offsets committed for a group, a group's committed
//! offsets, the list of groups.
//!
//! librdkafka fetches a group's committed offsets through a client of that group (the request
//! goes to the group's coordinator), so each group asked about costs a client of its own.
//! [`KafkaLog::all_group_offsets`] lists the partitions once for all groups and asks about
//! [`GROUPS_AT_ONCE`] groups at a time, so that a status page on a cluster with many groups
//! costs a few round trips rather than one per group after another.

use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer as _};
use rdkafka::{Offset, TopicPartitionList};

use super::{KafkaLog, blocking, kafka};
use crate::error::Result;
use crate::event_log::GroupOffsets;
use crate::record::TopicPartition;

/// How many groups [`KafkaLog::all_group_offsets`] asks about at once.
const GROUPS_AT_ONCE: usize = 16;

impl KafkaLog {
    /// Commits `offsets` (next offsets to consume) for `group`, from outside the group.
    pub(super) async fn commit_for_group(
        &self,
        group: &str,
        offsets: &[(TopicPartition, u64)],
    ) -> Result<()> {
        let client: BaseConsumer = Self::reader_config(&self.inner.config, group)
            .create()
            .map_err(|e| kafka(format!("committing for group {group}"), e))?;
        let mut tpl = TopicPartitionList::new();
        for (tp, next) in offsets {
            tpl.add_partition_offset(&tp.topic, tp.partition as i32, Offset::Offset(*next as i64))
                .map_err(|e| kafka(format!("committing {tp} for group {group}"), e))?;
        }
        let group = group.to_string();
        blocking(move || {
            client
                .commit(&tpl, CommitMode::Sync)
                .map_err(|e| kafka(format!("committing for group {group}"), e))
        })
        .await
    }

    /// `group`'s committed offsets on any partition of the cluster.
    pub(super) async fn committed_of_group(&self, group: &str) -> Result<Vec<(TopicPartition, u64)>> {
        let partitions = Arc::new(self.all_partitions().await?);
        self.committed_among(group, partitions).await
    }

    /// The names of the cluster's consumer groups, sorted.
    pub(super) async fn group_names(&self) -> Result<Vec<String>> {
        let (meta, timeout) = (self.inner.meta.clone(), self.inner.config.timeout);
        blocking(move || {
            let list =
                meta.fetch_group_list(None, timeout).map_err(|e| kafka("listing consumer groups", e))?;
            let mut names: Vec<String> = list.groups().iter().map(|g| g.name().to_string()).collect();
            names.sort();
            Ok(names)
        })
        .await
    }

    /// Every group with its committed offsets, sorted by group.
    pub(super) async fn all_group_offsets(&self) -> Result<Vec<GroupOffsets>> {
        let groups = self.group_names().await?;
        if groups.is_empty() {
            return Ok(Vec::new());
        }
        let partitions = Arc::new(self.all_partitions().await?);
        futures::stream::iter(groups)
            .map(|group| {
                let partitions = partitions.clone();
                async move {
                    let offsets = self.committed_among(&group, partitions).await?;
                    Ok(GroupOffsets { group, offsets })
                }
            })
            .buffered(GROUPS_AT_ONCE)
            .try_collect()
            .await
    }

    /// Every partition of every topic but the broker's own (`__…`): a metadata request only.
    async fn all_partitions(&self) -> Result<Vec<(String, i32)>> {
        let (meta, timeout) = (self.inner.meta.clone(), self.inner.config.timeout);
        blocking(move || {
            let metadata = meta.fetch_metadata(None, timeout).map_err(|e| kafka("listing topics", e))?;
            Ok(metadata
                .topics()
                .iter()
                .filter(|t| !t.name().starts_with("__") && t.error().is_none())
                .flat_map(|t| t.partitions().iter().map(|p| (t.name().to_string(), p.id())))
                .collect())
        })
        .await
    }

    /// `group`'s committed offsets among `partitions`, sorted.
    async fn committed_among(
        &self,
        group: &str,
        partitions: Arc<Vec<(String, i32)>>,
    ) -> Result<Vec<(TopicPartition, u64)>> {
        if partitions.is_empty() {
            return Ok(Vec::new());
        }
        let client: BaseConsumer = Self::reader_config(&self.inner.config, group)
            .create()
            .map_err(|e| kafka(format!("offsets of group {group}"), e))?;
        let (group, timeout) = (group.to_string(), self.inner.config.timeout);
        blocking(move || {
            let mut tpl = TopicPartitionList::with_capacity(partitions.len());
            for (topic, partition) in partitions.iter() {
                tpl.add_partition(topic, *partition);
            }
            let committed = client
                .committed_offsets(tpl, timeout)
                .map_err(|e| kafka(format!("offsets of group {group}"), e))?;
            let mut out: Vec<(TopicPartition, u64)> = committed
                .elements()
                .iter()
                .filter_map(|e| match e.offset() {
                    Offset::Offset(n) if n >= 0 => {
                        Some((TopicPartition::new(e.topic(), e.partition() as u32), n as u64))
                    }
                    _ => None,
                })
                .collect();
            out.sort();
            Ok(out)
        })
        .await
    }
}

//! Consumer groups of the embedded log: durable committed offsets and in-process membership.
//!
//! Committed offsets of a group live in `groups/<hex of the group id>.json`, replaced atomically
//! (write to a temporary file, fsync, rename, fsync the directory) on every commit. Membership is
//! in memory: members of a group in this process share its partitions; every join or leave bumps
//! a generation that members watch, and then recompute their assignment.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::error::{LogError, Result};
use crate::record::TopicPartition;

#[derive(Debug, Default)]
struct Group {
    committed: BTreeMap<TopicPartition, u64>,
    /// Member id → subscribed topics.
    members: BTreeMap<u64, Vec<String>>,
}

#[derive(Serialize, Deserialize)]
struct GroupFile {
    group: String,
    offsets: BTreeMap<String, BTreeMap<u32, u64>>,
}

/// All consumer groups of one embedded log.
pub(crate) struct Groups {
    dir: PathBuf,
    groups: Mutex<HashMap<String, Group>>,
    next_member: Mutex<u64>,
    /// Bumped on every membership change.
    generation: watch::Sender<u64>,
    /// Serialises offset-file writes so that a later commit never lands before an earlier one.
    write_lock: tokio::sync::Mutex<()>,
}

impl Groups {
    pub fn open(dir: PathBuf) -> Result<Self> {
        std::fs::create_dir_all(&dir).map_err(|e| LogError::io(format!("creating {}", dir.display()), e))?;
        let mut groups = HashMap::new();
        let entries =
            std::fs::read_dir(&dir).map_err(|e| LogError::io(format!("listing {}", dir.display()), e))?;
        for entry in entries {
            let path = entry.map_err(|e| LogError::io("listing groups", e))?.path();
            if path.extension().is_some_and(|e| e == "tmp") {
                let _ = std::fs::remove_file(&path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let bytes =
                std::fs::read(&path).map_err(|e| LogError::io(format!("reading {}", path.display()), e))?;
            let file: GroupFile = serde_json::from_slice(&bytes).map_err(|e| LogError::Corrupt {
                file: path.clone(),
                position: 0,
                offset: 0,
                reason: format!("group offsets are not valid JSON: {e}"),
            })?;
            let mut group = Group::default();
            for (topic, parts) in file.offsets {
                for (p, o) in parts {
                    group.committed.insert(TopicPartition::new(topic.clone(), p), o);
                }
            }
            groups.insert(file.group, group);
        }
        Ok(Self {
            dir,
            groups: Mutex::new(groups),
            next_member: Mutex::new(1),
            generation: watch::Sender::new(0),
            write_lock: tokio::sync::Mutex::new(()),
        })
    }

    pub fn committed(&self, group: &str) -> Vec<(TopicPartition, u64)> {
        self.groups
            .lock()
            .get(group)
            .map(|g| g.committed.iter().map(|(tp, o)| (tp.clone(), *o)).collect())
            .unwrap_or_default()
    }

    pub fn committed_offset(&self, group: &str, tp: &TopicPartition) -> Option<u64> {
        self.groups.lock().get(group).and_then(|g| g.committed.get(tp).copied())
    }

    /// Groups with committed offsets, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .groups
            .lock()
            .iter()
            .filter(|(_, g)| !g.committed.is_empty())
            .map(|(n, _)| n.clone())
            .collect();
        names.sort();
        names
    }

    pub async fn commit(&self, group: &str, offsets: &[(TopicPartition, u64)]) -> Result<()> {
        if offsets.is_empty() {
            return Ok(());
        }
        let _write = self.write_lock.lock().await;
        let file = {
            let mut groups = self.groups.lock();
            let g = groups.entry(group.to_string()).or_default();
            for (tp, o) in offsets {
                g.committed.insert(tp.clone(), *o);
            }
            let mut file = GroupFile { group: group.to_string(), offsets: BTreeMap::new() };
            for (tp, o) in &g.committed {
                file.offsets.entry(tp.topic.clone()).or_default().insert(tp.partition, *o);
            }
            file
        };
        let path = self.dir.join(format!("{}.json", hex(group)));
        let bytes = serde_json::to_vec_pretty(&file).expect("group offsets serialise");
        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || write_atomically(&dir, &path, &bytes))
            .await
            .map_err(|e| LogError::io("commit task", std::io::Error::other(e.to_string())))?
    }

    /// Adds a member; returns its id.
    pub fn join(&self, group: &str, topics: Vec<String>) -> u64 {
        let id = {
            let mut n = self.next_member.lock();
            *n += 1;
            *n
        };
        self.groups.lock().entry(group.to_string()).or_default().members.insert(id, topics);
        self.generation.send_modify(|g| *g += 1);
        id
    }

    pub fn leave(&self, group: &str, member: u64) {
        if let Some(g) = self.groups.lock().get_mut(group) {
            g.members.remove(&member);
        }
        self.generation.send_modify(|g| *g += 1);
    }

    pub fn watch_generation(&self) -> watch::Receiver<u64> {
        self.generation.subscribe()
    }

    /// The partitions of `topic` (with `partitions` partitions) that `member` owns: partition p
    /// goes to the (p mod n)-th of the n members subscribed to the topic, ordered by id.
    pub fn assigned(&self, group: &str, member: u64, topic: &str, partitions: u32) -> Vec<u32> {
        let groups = self.groups.lock();
        let Some(g) = groups.get(group) else { return Vec::new() };
        let members: Vec<u64> =
            g.members.iter().filter(|(_, t)| t.iter().any(|t| t == topic)).map(|(id, _)| *id).collect();
        let Some(me) = members.iter().position(|m| *m == member) else { return Vec::new() };
        (0..partitions).filter(|p| *p as usize % members.len() == me).collect()
    }
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

/// Replaces `path` with `bytes` so that a crash leaves the old or the new content, never a mix.
pub(crate) fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let io = |what: &str, e| LogError::io(format!("{what} {}", path.display()), e);
    let mut f = std::fs::File::create(&tmp).map_err(|e| io("creating", e))?;
    f.write_all(bytes).map_err(|e| io("writing", e))?;
    f.sync_all().map_err(|e| io("syncing", e))?;
    std::fs::rename(&tmp, path).map_err(|e| io("renaming to", e))?;
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|e| io("syncing the folder of", e))
}

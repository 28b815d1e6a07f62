//! One segment of a partition: a `<base_offset>.log` file of batches and its sparse index.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use parking_lot::RwLock;

use super::index::{IndexEntry, SparseIndex};
use crate::error::{LogError, Result};

/// A segment file shared by the writer and any number of readers. Readers never read at or beyond
/// `visible_len`, so they see whole, acknowledged batches only.
#[derive(Debug)]
pub(crate) struct Segment {
    pub base_offset: u64,
    pub log_path: PathBuf,
    pub index_path: PathBuf,
    pub file: File,
    /// Bytes written (by the single writer).
    pub written_len: AtomicU64,
    /// Bytes readers may read: acknowledged batches only.
    pub visible_len: AtomicU64,
    /// Offset after the last written record.
    pub next_offset: AtomicU64,
    pub index: RwLock<SparseIndex>,
}

impl Segment {
    /// File name stem of a segment: the base offset, zero-padded so that names sort by offset.
    pub fn file_stem(base_offset: u64) -> String {
        format!("{base_offset:020}")
    }

    /// Creates a new, empty segment file (fails if it exists).
    pub fn create(dir: &Path, base_offset: u64) -> Result<Self> {
        let (log_path, index_path) = Self::paths(dir, base_offset);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&log_path)
            .map_err(|e| LogError::io(format!("creating {}", log_path.display()), e))?;
        Ok(Self::new(base_offset, log_path, index_path, file, 0, SparseIndex::default()))
    }

    /// Opens an existing segment file for reading and appending.
    pub fn open(dir: &Path, base_offset: u64) -> Result<Self> {
        let (log_path, index_path) = Self::paths(dir, base_offset);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&log_path)
            .map_err(|e| LogError::io(format!("opening {}", log_path.display()), e))?;
        Ok(Self::new(base_offset, log_path, index_path, file, base_offset, SparseIndex::default()))
    }

    fn new(
        base_offset: u64,
        log_path: PathBuf,
        index_path: PathBuf,
        file: File,
        next_offset: u64,
        index: SparseIndex,
    ) -> Self {
        Self {
            base_offset,
            log_path,
            index_path,
            file,
            written_len: AtomicU64::new(0),
            visible_len: AtomicU64::new(0),
            next_offset: AtomicU64::new(next_offset.max(base_offset)),
            index: RwLock::new(index),
        }
    }

    fn paths(dir: &Path, base_offset: u64) -> (PathBuf, PathBuf) {
        let stem = Self::file_stem(base_offset);
        (dir.join(format!("{stem}.log")), dir.join(format!("{stem}.index")))
    }

    /// Length of the file on disk.
    pub fn file_len(&self) -> Result<u64> {
        self.file
            .metadata()
            .map(|m| m.len())
            .map_err(|e| LogError::io(format!("reading metadata of {}", self.log_path.display()), e))
    }

    /// Reads exactly `len` bytes at `position`.
    pub fn read_exact_at(&self, position: u64, len: usize) -> Result<Bytes> {
        let mut buf = vec![0u8; len];
        self.file.read_exact_at(&mut buf, position).map_err(|e| {
            LogError::io(format!("reading {} at byte {position}", self.log_path.display()), e)
        })?;
        Ok(Bytes::from(buf))
    }

    /// Where to start reading for `offset`: an index entry at or before it.
    pub fn lookup(&self, offset: u64) -> IndexEntry {
        let relative = u32::try_from(offset.saturating_sub(self.base_offset)).unwrap_or(u32::MAX);
        self.index.read().lookup(relative)
    }

    /// Writes the index file for the first `covered_len` bytes (not synced; see `sync_index`).
    pub fn write_index_file(&self, covered_len: u64, next_offset: u64) -> Result<()> {
        let bytes = self.index.read().encode(covered_len, next_offset);
        std::fs::write(&self.index_path, bytes)
            .map_err(|e| LogError::io(format!("writing {}", self.index_path.display()), e))
    }

    /// Deletes the segment's files (a missing index is fine). Open handles stay readable.
    pub fn remove_files(&self) -> Result<()> {
        for path in [&self.log_path, &self.index_path] {
            match std::fs::remove_file(path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(LogError::io(format!("deleting {}", path.display()), e)),
            }
        }
        Ok(())
    }

    /// Marks the whole segment as readable (it is complete and synced).
    pub fn publish_all(&self) {
        self.visible_len.store(self.written_len.load(Ordering::Acquire), Ordering::Release);
    }
}

//! One topic-partition of the embedded log: appends, reads, group-committed fsync and retention.
//!
//! Locking: `writer` (a short std-style mutex, never held across an await) serialises appends and
//! segment rolls; `segments` is read-locked briefly by readers to find their segment; `sync_lock`
//! (async) makes one task at a time run an fsync, which every append waiting on it shares.

use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use parking_lot::{Mutex, RwLock};
use tokio::sync::watch;

use super::format::{self, BatchDefect, HEADER_LEN};
use super::index::IndexEntry;
use super::recovery::RecoveryPoint;
use super::segment::Segment;
use crate::config::{EmbeddedLogConfig, FsyncPolicy};
use crate::error::{LogError, Result};
use crate::event_log::ReadLimits;
use crate::record::{ConsumedRecord, PartitionOffsets, Record};
use crate::view::RecordsView;
use bytes::Bytes;

/// Appends are encoded into batches of at most this many bytes (one record may exceed it).
const MAX_BATCH_BYTES: usize = 1 << 20;
/// Reads fetch segment data in chunks of at least this size.
const MIN_READ_CHUNK: usize = 64 << 10;

/// A partition of the embedded log.
pub(crate) struct Partition {
    pub topic: Arc<str>,
    pub id: u32,
    pub dir: PathBuf,
    cfg: Arc<EmbeddedLogConfig>,
    segments: RwLock<Vec<Arc<Segment>>>,
    writer: Mutex<Writer>,
    /// Next offset readers may see (everything below is acknowledged).
    visible: watch::Sender<u64>,
    /// Next offset not yet known to be on stable storage.
    durable: Mutex<u64>,
    sync_lock: tokio::sync::Mutex<()>,
    recovery_point: RecoveryPoint,
    /// Encoding buffers of earlier appends, kept for the next: a fresh megabyte per append
    /// costs the kernel zeroing new pages for it, more than encoding the records does.
    spare_buffers: Mutex<Vec<Vec<u8>>>,
}

/// At most this many spare encoding buffers per partition (each at most a batch, 1 MiB).
const SPARE_BUFFERS: usize = 4;

pub(crate) struct Writer {
    pub active: Arc<Segment>,
    pub len: u64,
    pub next_offset: u64,
    pub bytes_since_index: u64,
    pub active_since: SystemTime,
    /// Sealed segments whose data has not been fsynced yet.
    pub unsynced: Vec<Arc<Segment>>,
    /// A segment file was created since the directory was last fsynced.
    pub dir_dirty: bool,
    /// Set when a write failed and the file could not be restored; appends then fail.
    pub failed: Option<String>,
}

/// Everything recovery established about a partition, to build a [`Partition`] from.
pub(crate) struct Recovered {
    pub segments: Vec<Arc<Segment>>,
    pub next_offset: u64,
    pub active_len: u64,
    pub recovery_point: RecoveryPoint,
}

impl Partition {
    pub fn new(topic: Arc<str>, id: u32, dir: PathBuf, cfg: Arc<EmbeddedLogConfig>, rec: Recovered) -> Self {
        let active = rec.segments.last().expect("a partition has an active segment").clone();
        let active_since = active
            .file
            .metadata()
            .and_then(|m| m.created().or_else(|_| m.modified()))
            .unwrap_or_else(|_| SystemTime::now());
        let writer = Writer {
            active,
            len: rec.active_len,
            next_offset: rec.next_offset,
            bytes_since_index: 0,
            active_since,
            unsynced: Vec::new(),
            dir_dirty: false,
            failed: None,
        };
        Self {
            topic,
            id,
            dir,
            cfg,
            segments: RwLock::new(rec.segments),
            writer: Mutex::new(writer),
            visible: watch::Sender::new(rec.next_offset),
            durable: Mutex::new(rec.next_offset),
            sync_lock: tokio::sync::Mutex::new(()),
            recovery_point: rec.recovery_point,
            spare_buffers: Mutex::new(Vec::new()),
        }
    }

    /// Start and end offsets.
    pub fn offsets(&self) -> PartitionOffsets {
        let start = self.segments.read().first().map_or(0, |s| s.base_offset);
        PartitionOffsets { start, end: *self.visible.borrow() }
    }

    /// Bytes on disk and number of segments.
    pub fn size(&self) -> (u64, usize) {
        let segs = self.segments.read();
        (segs.iter().map(|s| s.written_len.load(Ordering::Relaxed)).sum(), segs.len())
    }

    /// True once a write or fsync failed; appends are refused until a restart runs recovery.
    pub fn is_failed(&self) -> bool {
        self.writer.lock().failed.is_some()
    }

    /// A receiver of the visible end offset, for waiting on new records.
    pub fn watch_end(&self) -> watch::Receiver<u64> {
        self.visible.subscribe()
    }

    /// Appends records as one or more batches; returns the first offset once the fsync policy
    /// is met and the records are visible.
    pub async fn append(&self, records: &[Record]) -> Result<u64> {
        let batches = self.encode(records)?;
        let (first, end) = self.write(batches)?;
        if self.cfg.fsync == FsyncPolicy::EveryBatch {
            self.sync_up_to(end).await?;
        }
        metrics::counter!("tributary_log_appended_records_total", "topic" => self.topic.to_string())
            .increment(records.len() as u64);
        Ok(first)
    }

    fn encode(&self, records: &[Record]) -> Result<Vec<(Vec<u8>, u32)>> {
        if records.is_empty() {
            return Err(LogError::InvalidArgument("an append needs at least one record".into()));
        }
        let limit = self.cfg.max_record_bytes.0 as usize;
        let mut batches = Vec::new();
        let mut start = 0;
        let mut size = 0;
        let first_ts = |i: usize| records[i].timestamp;
        for (i, r) in records.iter().enumerate() {
            let payload = r.key.as_ref().map_or(0, |k| k.len())
                + r.value.len()
                + r.headers.iter().map(|h| h.name.len() + h.value.len()).sum::<usize>();
            if payload > limit {
                return Err(LogError::RecordTooLarge { size: payload, limit });
            }
            let mut rs = format::record_size(r, first_ts(start));
            if i > start && size + rs > MAX_BATCH_BYTES {
                batches.push(self.encode_one(&records[start..i], size));
                start = i;
                size = 0;
                rs = format::record_size(r, first_ts(start));
            }
            size += rs;
        }
        batches.push(self.encode_one(&records[start..], size));
        Ok(batches)
    }

    /// One batch of `records`, whose records take `size` bytes, in a spare buffer if there is one.
    fn encode_one(&self, records: &[Record], size: usize) -> (Vec<u8>, u32) {
        let mut buf = self.spare_buffers.lock().pop().unwrap_or_default();
        buf.clear();
        buf.reserve(HEADER_LEN + size);
        format::encode_batch(records, &mut buf);
        (buf, records.len() as u32)
    }

    /// Keeps written batches' buffers for the next appends (a few, of at most a batch's size).
    fn keep_buffers(&self, buffers: impl IntoIterator<Item = Vec<u8>>) {
        let mut spare = self.spare_buffers.lock();
        for b in buffers {
            if spare.len() < SPARE_BUFFERS && b.capacity() <= 2 * MAX_BATCH_BYTES {
                spare.push(b);
            }
        }
    }

    /// Writes encoded batches under the writer lock; returns (first offset, end offset).
    fn write(&self, batches: Vec<(Vec<u8>, u32)>) -> Result<(u64, u64)> {
        let mut w = self.writer.lock();
        if let Some(reason) = &w.failed {
            return Err(self.failed(reason.clone()));
        }
        let first = w.next_offset;
        // Where this append started: a failure takes every batch of it back, so that nothing
        // of an append that was not acknowledged becomes visible with a later one.
        let (start_segment, start_len, start_since_index) =
            (w.active.base_offset, w.len, w.bytes_since_index);
        let mut written = 0u64;
        let mut done = Vec::with_capacity(batches.len());
        for (mut bytes, count) in batches {
            if let Err(e) = self.maybe_roll(&mut w, bytes.len() as u64) {
                self.take_back(&mut w, first, start_segment, start_len, start_since_index, &e);
                return Err(e);
            }
            let base = w.next_offset;
            format::stamp_base_offset(&mut bytes, base);
            let position = w.len;
            if let Err(e) = w.active.file.write_all_at(&bytes, position) {
                let error = LogError::io(format!("write to {} failed", w.active.log_path.display()), e);
                self.take_back(&mut w, first, start_segment, start_len, start_since_index, &error);
                return Err(error);
            }
            if w.bytes_since_index >= self.cfg.index_interval_bytes.0 {
                let entry = IndexEntry {
                    relative_offset: (base - w.active.base_offset) as u32,
                    position: position as u32,
                };
                w.active.index.write().push(entry);
                w.bytes_since_index = 0;
            }
            w.bytes_since_index += bytes.len() as u64;
            w.len += bytes.len() as u64;
            written += bytes.len() as u64;
            w.next_offset += u64::from(count);
            w.active.written_len.store(w.len, Ordering::Release);
            w.active.next_offset.store(w.next_offset, Ordering::Release);
            done.push(bytes);
        }
        if let FsyncPolicy::Interval(_) = self.cfg.fsync {
            // Written to the OS: acknowledged, so visible.
            w.active.visible_len.store(w.len, Ordering::Release);
            self.visible.send_replace(w.next_offset);
        }
        let end = w.next_offset;
        drop(w);
        self.keep_buffers(done);
        metrics::counter!("tributary_log_appended_bytes_total", "topic" => self.topic.to_string())
            .increment(written);
        Ok((first, end))
    }

    /// Undoes the batches of a failed append (truncating the segment back, so that the file
    /// never holds a torn batch mid-log), or, if the append had started another segment, marks
    /// the partition failed: the earlier segment then holds batches that were never
    /// acknowledged, and only recovery at the next start can be trusted to sort it out.
    fn take_back(
        &self,
        w: &mut Writer,
        first: u64,
        start_segment: u64,
        start_len: u64,
        start_since_index: u64,
        error: &LogError,
    ) {
        if w.active.base_offset != start_segment {
            w.failed = Some(format!("{error} (after the append had started a new segment)"));
            return;
        }
        if let Err(e) = w.active.file.set_len(start_len) {
            w.failed = Some(format!("{error}; truncating {} back failed: {e}", w.active.log_path.display()));
            return;
        }
        w.active.index.write().truncate_to_len(start_len);
        w.len = start_len;
        w.bytes_since_index = start_since_index;
        w.next_offset = first;
        w.active.written_len.store(start_len, Ordering::Release);
        w.active.next_offset.store(first, Ordering::Release);
        metrics::counter!("tributary_log_failed_appends_total", "topic" => self.topic.to_string())
            .increment(1);
    }

    fn failed(&self, reason: String) -> LogError {
        LogError::Failed { topic: self.topic.to_string(), partition: self.id, reason }
    }

    /// Seals the active segment and starts a new one when the next batch would not fit or the
    /// active segment is older than `segment_age`.
    fn maybe_roll(&self, w: &mut Writer, next_batch: u64) -> Result<()> {
        let too_big = w.len > 0 && w.len + next_batch > self.cfg.segment_bytes.0;
        let too_old = w.len > 0 && w.active_since.elapsed().unwrap_or_default() >= self.cfg.segment_age;
        if !(too_big || too_old) {
            return Ok(());
        }
        let old = w.active.clone();
        old.write_index_file(w.len, w.next_offset)?;
        let new = Arc::new(Segment::create(&self.dir, w.next_offset)?);
        self.segments.write().push(new.clone());
        w.unsynced.push(old);
        w.active = new;
        w.len = 0;
        w.bytes_since_index = 0;
        w.active_since = SystemTime::now();
        w.dir_dirty = true;
        Ok(())
    }

    /// Waits until everything below `end` is on stable storage, running an fsync if no other task
    /// is running one that covers it (group commit).
    pub async fn sync_up_to(&self, end: u64) -> Result<()> {
        if *self.durable.lock() >= end {
            return Ok(());
        }
        let _guard = self.sync_lock.lock().await;
        if *self.durable.lock() >= end {
            return Ok(());
        }
        self.sync_now_locked().await
    }

    /// Runs an fsync of everything written so far (used by the interval task and on close).
    pub async fn sync(&self) -> Result<()> {
        let _guard = self.sync_lock.lock().await;
        self.sync_now_locked().await
    }

    async fn sync_now_locked(&self) -> Result<()> {
        let (sealed, active, len, next, dir_dirty) = {
            let mut w = self.writer.lock();
            if let Some(reason) = &w.failed {
                return Err(self.failed(reason.clone()));
            }
            let dir_dirty = std::mem::take(&mut w.dir_dirty);
            (std::mem::take(&mut w.unsynced), w.active.clone(), w.len, w.next_offset, dir_dirty)
        };
        if next == *self.durable.lock() && sealed.is_empty() && !dir_dirty {
            return Ok(());
        }
        let dir = self.dir.clone();
        let rp = self.recovery_point.clone();
        let task_sealed = sealed.clone();
        let task_active = active.clone();
        let outcome = tokio::task::spawn_blocking(move || -> Result<()> {
            for s in &task_sealed {
                sync_file(&s.file, &s.log_path)?;
                if let Ok(f) = std::fs::File::open(&s.index_path) {
                    sync_file(&f, &s.index_path)?;
                }
            }
            sync_file(&task_active.file, &task_active.log_path)?;
            if dir_dirty {
                let d = std::fs::File::open(&dir)
                    .map_err(|e| LogError::io(format!("opening {}", dir.display()), e))?;
                sync_file(&d, &dir)?;
            }
            rp.store(task_active.base_offset, len)
        })
        .await
        .map_err(|e| LogError::io("fsync task", std::io::Error::other(e.to_string())))?;
        if let Err(e) = outcome {
            // After a failed fsync the kernel may have dropped dirty pages: the data on disk is
            // unknown, so refuse further appends rather than acknowledge on top of it.
            self.writer.lock().failed = Some(format!("fsync failed: {e}"));
            return Err(e);
        }
        metrics::counter!("tributary_log_fsyncs_total").increment(1);
        for s in &sealed {
            s.publish_all();
        }
        *self.durable.lock() = next;
        if self.cfg.fsync == FsyncPolicy::EveryBatch {
            active.visible_len.fetch_max(len, Ordering::AcqRel);
            self.visible.send_if_modified(|v| {
                let changed = *v < next;
                *v = (*v).max(next);
                changed
            });
        }
        Ok(())
    }

    /// Reads from `offset` on; see [`crate::EventLog::read`].
    pub fn read(&self, offset: u64, limits: ReadLimits) -> Result<Vec<ConsumedRecord>> {
        let mut out = Vec::new();
        self.read_into(offset, limits, &mut out)?;
        Ok(out)
    }

    /// [`read`](Self::read), the records left in their batches (see [`RecordsView`]).
    pub fn read_view(&self, offset: u64, limits: ReadLimits) -> Result<RecordsView> {
        let mut out = ViewOut::default();
        self.read_into(offset, limits, &mut out)?;
        Ok(RecordsView::from_batches(self.topic.clone(), self.id, out.buffers, out.spans))
    }

    fn read_into(&self, offset: u64, limits: ReadLimits, out: &mut impl ReadOut) -> Result<()> {
        let end = *self.visible.borrow();
        let segments: Vec<Arc<Segment>> = {
            let segs = self.segments.read();
            let start = segs.first().map_or(0, |s| s.base_offset);
            if offset < start || offset > end {
                return Err(LogError::OffsetOutOfRange {
                    topic: self.topic.to_string(),
                    partition: self.id,
                    requested: offset,
                    start,
                    end,
                });
            }
            let i = segs.partition_point(|s| s.base_offset <= offset).saturating_sub(1);
            segs[i..].iter().take(4).cloned().collect()
        };
        let mut next = offset;
        let max_records = limits.max_records.max(1);
        let mut budget = limits.max_bytes.max(1);
        for (i, seg) in segments.iter().enumerate() {
            if next >= end || out.len() >= max_records || budget == 0 {
                break;
            }
            // Continue into a later segment only where the previous one ended, so that a read
            // can never skip offsets (it returns what it has; the caller reads again).
            if i > 0 && next != seg.base_offset {
                break;
            }
            self.read_segment(seg, &mut next, end, max_records, &mut budget, out)?;
        }
        Ok(())
    }

    fn read_segment(
        &self,
        seg: &Segment,
        next: &mut u64,
        end: u64,
        max_records: usize,
        budget: &mut usize,
        out: &mut impl ReadOut,
    ) -> Result<()> {
        let limit = seg.visible_len.load(Ordering::Acquire);
        let entry = seg.lookup(*next);
        let mut position = u64::from(entry.position);
        let mut expected = seg.base_offset + u64::from(entry.relative_offset);
        let corrupt = |position: u64, offset: u64, defect: BatchDefect| LogError::Corrupt {
            file: seg.log_path.clone(),
            position,
            offset,
            reason: defect.to_string(),
        };
        while position < limit && *next < end && out.len() < max_records && *budget > 0 {
            let want = (limit - position).min((*budget).max(MIN_READ_CHUNK) as u64) as usize;
            let mut chunk = seg.read_exact_at(position, want)?;
            let mut consumed_any = false;
            while chunk.len() >= HEADER_LEN && *next < end && out.len() < max_records {
                let header = format::parse_header(&chunk).map_err(|d| corrupt(position, expected, d))?;
                let len = header.batch_len as usize;
                if len > chunk.len() {
                    if consumed_any {
                        break;
                    }
                    if position + len as u64 > limit {
                        let defect = BatchDefect::Incomplete { have: (limit - position) as usize, need: len };
                        return Err(corrupt(position, expected, defect));
                    }
                    chunk = seg.read_exact_at(position, len)?;
                }
                let batch = chunk.split_to(len);
                let header = format::check_batch(&batch, Some(expected))
                    .map_err(|d| corrupt(position, expected, d))?;
                if header.next_offset() > *next {
                    out.take_batch(batch, &header, *next, max_records - out.len(), &self.topic, self.id)
                        .map_err(|d| corrupt(position, expected, d))?;
                    *next = out.last_offset().map_or(*next, |o| o + 1);
                    *budget = budget.saturating_sub(len);
                }
                consumed_any = true;
                expected = header.next_offset();
                position += len as u64;
            }
            if !consumed_any {
                // Readable bytes always end on a batch boundary; anything else is damage.
                let defect = BatchDefect::Incomplete { have: chunk.len(), need: HEADER_LEN };
                return Err(corrupt(position, expected, defect));
            }
        }
        Ok(())
    }

    /// Deletes whole sealed segments beyond the retention limits; returns how many.
    pub fn apply_retention(&self, now: SystemTime) -> Result<usize> {
        let max_age = self.cfg.retention_age.get();
        let max_bytes = self.cfg.retention_bytes.get().map(|b| b.0);
        let doomed: Vec<Arc<Segment>> = {
            let active_base = self.writer.lock().active.base_offset;
            let mut segs = self.segments.write();
            let mut total: u64 = segs.iter().map(|s| s.written_len.load(Ordering::Relaxed)).sum();
            let mut n = 0;
            for s in segs.iter() {
                if s.base_offset >= active_base {
                    break;
                }
                let size = s.written_len.load(Ordering::Relaxed);
                let too_big = max_bytes.is_some_and(|max| total > max);
                let too_old = max_age.is_some_and(|age| {
                    let modified = s.file.metadata().and_then(|m| m.modified()).unwrap_or(now);
                    now.duration_since(modified).unwrap_or(Duration::ZERO) > age
                });
                if !(too_big || too_old) {
                    break;
                }
                total -= size;
                n += 1;
            }
            segs.drain(..n).collect()
        };
        for s in &doomed {
            s.remove_files()?;
            tracing::info!(segment = %s.log_path.display(), "retention deleted segment");
        }
        metrics::counter!("tributary_log_segments_deleted_total").increment(doomed.len() as u64);
        Ok(doomed.len())
    }

    /// Flushes everything and writes the active segment's index, for a fast next open.
    pub async fn close(&self) -> Result<()> {
        self.sync().await?;
        let w = self.writer.lock();
        w.active.write_index_file(w.len, w.next_offset)
    }
}

fn sync_file(file: &std::fs::File, path: &std::path::Path) -> Result<()> {
    file.sync_data().map_err(|e| LogError::io(format!("fsync of {}", path.display()), e))
}

/// What a read collects from the batches it checks: records taken apart, or a view's batches.
trait ReadOut {
    fn len(&self) -> usize;
    fn last_offset(&self) -> Option<u64>;
    fn take_batch(
        &mut self,
        batch: Bytes,
        header: &format::BatchHeader,
        skip_below: u64,
        limit: usize,
        topic: &Arc<str>,
        partition: u32,
    ) -> std::result::Result<(), BatchDefect>;
}

impl ReadOut for Vec<ConsumedRecord> {
    fn len(&self) -> usize {
        Vec::len(self)
    }

    fn last_offset(&self) -> Option<u64> {
        self.last().map(|r| r.offset)
    }

    fn take_batch(
        &mut self,
        batch: Bytes,
        header: &format::BatchHeader,
        skip_below: u64,
        limit: usize,
        topic: &Arc<str>,
        partition: u32,
    ) -> std::result::Result<(), BatchDefect> {
        format::decode_records(&batch, header, skip_below, limit, topic, partition, self)
    }
}

/// The batches and record places of a [`RecordsView`] being read.
#[derive(Default)]
struct ViewOut {
    buffers: Vec<Bytes>,
    spans: Vec<crate::view::Span>,
}

impl ReadOut for ViewOut {
    fn len(&self) -> usize {
        self.spans.len()
    }

    fn last_offset(&self) -> Option<u64> {
        self.spans.last().map(|s| s.offset)
    }

    fn take_batch(
        &mut self,
        batch: Bytes,
        header: &format::BatchHeader,
        skip_below: u64,
        limit: usize,
        _topic: &Arc<str>,
        _partition: u32,
    ) -> std::result::Result<(), BatchDefect> {
        let buffer = self.buffers.len() as u32;
        if format::scan_records(&batch, header, skip_below, limit, buffer, &mut self.spans)? > 0 {
            self.buffers.push(batch);
        }
        Ok(())
    }
}

//! Opening a partition after a clean stop or a crash.
//!
//! Torn writes can only exist in data that was not yet fsynced. Each partition therefore keeps a
//! *recovery point*: the segment and byte position up to which an fsync has completed (written
//! after every fsync, itself unsynced, so after power loss it is at worst older, never ahead).
//!
//! On open, every byte beyond the recovery point is scanned and checked batch by batch (length,
//! CRC, dense offsets). The first bad batch there is a torn or corrupt tail: the partition is
//! truncated at it, later segments are deleted, and the truncation is logged, counted in the
//! metric `tributary_log_truncated_tails_total` and returned in the [`RecoveryReport`]. A bad batch
//! *before* the recovery point is damage to data that was once known good: that is an error naming
//! the file and byte position, and the log does not open. Readers check every batch they read too,
//! so damage in parts not scanned at open is reported when it is read, never skipped.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::format::{self, BatchDefect, HEADER_LEN};
use super::index::{IndexEntry, SparseIndex};
use super::partition::Recovered;
use super::segment::Segment;
use crate::error::{LogError, Result};

const RECOVERY_POINT_FILE: &str = "recovery-point";
const SCAN_CHUNK: usize = 1 << 20;

/// What recovery found and did, over all partitions of a log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Torn or corrupt tails that were cut off.
    pub truncations: Vec<Truncation>,
    /// Bytes of segment data checked batch by batch.
    pub bytes_scanned: u64,
    /// Sealed segments whose index file was missing or damaged and was rebuilt.
    pub indexes_rebuilt: usize,
}

/// One tail cut off by recovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truncation {
    pub file: PathBuf,
    /// Byte position of the first bad batch; the file now ends here.
    pub position: u64,
    /// Bytes removed, counting later segments that were deleted.
    pub bytes_dropped: u64,
    /// The offset the bad batch should have started with.
    pub offset: u64,
    pub reason: String,
}

/// The persisted recovery point of a partition (see the module docs).
#[derive(Debug, Clone)]
pub(crate) struct RecoveryPoint {
    file: Arc<File>,
}

impl RecoveryPoint {
    /// Opens (or creates) the recovery-point file; returns it and the stored point if valid.
    pub fn open(dir: &Path) -> Result<(Self, Option<(u64, u64)>)> {
        let path = dir.join(RECOVERY_POINT_FILE);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| LogError::io(format!("opening {}", path.display()), e))?;
        let mut buf = [0u8; 20];
        let stored = match file.read_exact_at(&mut buf, 0) {
            Ok(()) if crc32c::crc32c(&buf[..16]).to_le_bytes() == buf[16..20] => Some((
                u64::from_le_bytes(buf[0..8].try_into().unwrap()),
                u64::from_le_bytes(buf[8..16].try_into().unwrap()),
            )),
            _ => None,
        };
        Ok((Self { file: Arc::new(file) }, stored))
    }

    /// Records that everything up to `position` of segment `segment_base` is fsynced.
    pub fn store(&self, segment_base: u64, position: u64) -> Result<()> {
        let mut buf = [0u8; 20];
        buf[0..8].copy_from_slice(&segment_base.to_le_bytes());
        buf[8..16].copy_from_slice(&position.to_le_bytes());
        let crc = crc32c::crc32c(&buf[..16]);
        buf[16..20].copy_from_slice(&crc.to_le_bytes());
        self.file.write_all_at(&buf, 0).map_err(|e| LogError::io("writing the recovery point", e))
    }
}

/// Opens the segments of one partition directory, checking and repairing as the module describes.
pub(crate) fn recover_partition(
    dir: &Path,
    index_interval: u64,
    report: &mut RecoveryReport,
) -> Result<Recovered> {
    let bases = list_segments(dir)?;
    let (recovery_point, stored) = RecoveryPoint::open(dir)?;
    if bases.is_empty() {
        let seg = Arc::new(Segment::create(dir, 0)?);
        recovery_point.store(0, 0)?;
        return Ok(Recovered { segments: vec![seg], next_offset: 0, active_len: 0, recovery_point });
    }
    let last_base = *bases.last().unwrap();
    let (rp_base, rp_pos) = match stored {
        Some(p) => p,
        None => {
            tracing::warn!(dir = %dir.display(), "no valid recovery point; checking the last segment in full");
            (last_base, 0)
        }
    };

    let mut segments: Vec<Arc<Segment>> = Vec::with_capacity(bases.len());
    let mut expected_next: Option<u64> = None;
    let mut truncated = false;
    for &base in &bases {
        if truncated {
            // Everything after a torn tail goes with it.
            let seg = Segment::open(dir, base)?;
            let len = seg.file_len()?;
            if let Some(t) = report.truncations.last_mut() {
                t.bytes_dropped += len;
            }
            seg.remove_files()?;
            continue;
        }
        let seg = Segment::open(dir, base)?;
        let file_len = seg.file_len()?;
        let synced_len = if base < rp_base {
            file_len
        } else if base == rp_base {
            if rp_pos > file_len {
                return Err(LogError::Corrupt {
                    file: seg.log_path.clone(),
                    position: file_len,
                    offset: base,
                    reason: format!("the segment is {file_len} bytes but {rp_pos} bytes were fsynced before"),
                });
            }
            rp_pos
        } else {
            0
        };
        if let Some(prev_next) = expected_next
            && prev_next != base
        {
            if synced_len == 0 {
                // An unsynced segment that does not continue the log: drop it and what follows.
                report.truncations.push(Truncation {
                    file: seg.log_path.clone(),
                    position: 0,
                    bytes_dropped: file_len,
                    offset: prev_next,
                    reason: format!("segment starts at offset {base}, expected {prev_next}"),
                });
                seg.remove_files()?;
                truncated = true;
                continue;
            }
            return Err(LogError::Corrupt {
                file: seg.log_path.clone(),
                position: 0,
                offset: prev_next,
                reason: format!("segment starts at offset {base}, expected {prev_next}"),
            });
        }

        // Trust a stored index only inside data known to be synced.
        let is_last = base == last_base;
        let stored_index = std::fs::read(&seg.index_path)
            .ok()
            .and_then(|b| SparseIndex::decode(&b))
            .filter(|f| f.covered_len <= synced_len && f.covered_len <= file_len);
        let stored_covered = stored_index.as_ref().map(|f| f.covered_len);
        let (mut index, start_pos, start_offset) = match stored_index {
            Some(f) => (f.index, f.covered_len, f.next_offset),
            None => {
                if !is_last && synced_len == file_len {
                    report.indexes_rebuilt += 1;
                    tracing::warn!(segment = %seg.log_path.display(), "index missing or damaged; rebuilding");
                }
                (SparseIndex::default(), 0, base)
            }
        };
        let scan = scan(&seg, &mut index, start_pos, start_offset, file_len, index_interval)?;
        report.bytes_scanned += scan.end_pos - start_pos;
        if let Some((pos, offset, defect)) = scan.defect {
            if pos < synced_len {
                return Err(LogError::Corrupt {
                    file: seg.log_path.clone(),
                    position: pos,
                    offset,
                    reason: defect.to_string(),
                });
            }
            tracing::warn!(
                segment = %seg.log_path.display(), position = pos, offset, reason = %defect,
                dropped_bytes = file_len - pos, "truncating a torn or corrupt tail"
            );
            metrics::counter!("tributary_log_truncated_tails_total").increment(1);
            seg.file
                .set_len(pos)
                .and_then(|()| seg.file.sync_all())
                .map_err(|e| LogError::io(format!("truncating {}", seg.log_path.display()), e))?;
            index.truncate_to_len(pos);
            report.truncations.push(Truncation {
                file: seg.log_path.clone(),
                position: pos,
                bytes_dropped: file_len - pos,
                offset,
                reason: defect.to_string(),
            });
            truncated = true;
        }
        let index_is_current = stored_covered == Some(scan.end_pos);
        *seg.index.write() = index;
        if !is_last && !truncated && !index_is_current {
            seg.write_index_file(scan.end_pos, scan.next_offset)?;
        }
        seg.written_len.store(scan.end_pos, Ordering::Release);
        seg.visible_len.store(scan.end_pos, Ordering::Release);
        seg.next_offset.store(scan.next_offset, Ordering::Release);
        expected_next = Some(scan.next_offset);
        segments.push(Arc::new(seg));
    }
    let active = segments.last().expect("at least one segment survives recovery").clone();
    let active_len = active.written_len.load(Ordering::Acquire);
    let next_offset = active.next_offset.load(Ordering::Acquire);
    if truncated {
        recovery_point.store(active.base_offset, active_len)?;
    }
    Ok(Recovered { segments, next_offset, active_len, recovery_point })
}

struct ScanResult {
    end_pos: u64,
    next_offset: u64,
    /// First bad batch: position, expected offset, defect.
    defect: Option<(u64, u64, BatchDefect)>,
}

/// Checks batches from `pos` to `file_len`, extending `index` every `interval` bytes.
fn scan(
    seg: &Segment,
    index: &mut SparseIndex,
    mut pos: u64,
    mut expected: u64,
    file_len: u64,
    interval: u64,
) -> Result<ScanResult> {
    let mut since_index = pos - index.last().map_or(0, |e| u64::from(e.position)).min(pos);
    let mut chunk = bytes::Bytes::new();
    let mut chunk_pos = pos;
    let defect = |pos: u64, expected: u64, d: BatchDefect| {
        Ok(ScanResult { end_pos: pos, next_offset: expected, defect: Some((pos, expected, d)) })
    };
    while pos < file_len {
        let remaining = file_len - pos;
        let mut avail = (chunk_pos + chunk.len() as u64).saturating_sub(pos);
        if avail < HEADER_LEN as u64 && avail < remaining {
            chunk = seg.read_exact_at(pos, remaining.min(SCAN_CHUNK as u64) as usize)?;
            chunk_pos = pos;
            avail = chunk.len() as u64;
        }
        let rest = &chunk[(pos - chunk_pos) as usize..];
        let header = match format::parse_header(rest) {
            Ok(h) => h,
            Err(d) => return defect(pos, expected, d),
        };
        let len = u64::from(header.batch_len);
        if len > remaining {
            return defect(
                pos,
                expected,
                BatchDefect::Incomplete { have: remaining as usize, need: len as usize },
            );
        }
        if avail < len {
            chunk = seg.read_exact_at(pos, remaining.min(len.max(SCAN_CHUNK as u64)) as usize)?;
            chunk_pos = pos;
        }
        let start = (pos - chunk_pos) as usize;
        if let Err(d) = format::check_batch(&chunk[start..start + len as usize], Some(expected)) {
            return defect(pos, expected, d);
        }
        if since_index >= interval {
            index.push(IndexEntry {
                relative_offset: (expected - seg.base_offset) as u32,
                position: pos as u32,
            });
            since_index = 0;
        }
        since_index += len;
        expected = header.next_offset();
        pos += len;
    }
    Ok(ScanResult { end_pos: pos, next_offset: expected, defect: None })
}

fn list_segments(dir: &Path) -> Result<Vec<u64>> {
    let mut bases = Vec::new();
    let entries =
        std::fs::read_dir(dir).map_err(|e| LogError::io(format!("listing {}", dir.display()), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| LogError::io(format!("listing {}", dir.display()), e))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if let Some(stem) = name.strip_suffix(".log") {
            match stem.parse::<u64>() {
                Ok(base) if stem.len() == 20 => bases.push(base),
                _ => tracing::warn!(file = %entry.path().display(), "ignoring a file that is not a segment"),
            }
        } else if let Some(stem) = name.strip_suffix(".index")
            && !dir.join(format!("{stem}.log")).exists()
        {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    bases.sort_unstable();
    Ok(bases)
}

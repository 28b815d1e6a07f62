//! The directory source: files of mobile events dropped into a folder become one record per event
//! in the log (the reference design's NiFi flow GetFile → SplitRecord → PublishKafka).
//!
//! * **Which files.** Regular files whose names do not start with `.` and do not end in `.tmp`,
//!   taken in name order once complete: renamed into the folder (seen by inotify), or unchanged
//!   for `min_file_age`; `parallel_files` of them at a time, each parsed on its own thread. inotify wakes the source at once; a scan every `poll_interval` is the
//!   fallback where inotify is unavailable or misses something.
//! * **Exactly once, across kill -9.** Before publishing a file the source appends a *begin* mark
//!   to the control topic `_tributary_sources`, holding the end offsets of the topics it writes;
//!   every record it publishes carries the header `src = <position of the begin mark>:<line>`
//!   (the position is `<offset>` on partition 0 and `<partition>/<offset>` elsewhere: the control
//!   topic may have any number of partitions, and an offset alone names a mark only within one);
//!   after the last record it appends a *done* mark, and only then deletes (or archives) the
//!   file. A folder's marks are keyed by the folder, so they stay in one partition and in order.
//!   On start, a file with a begin mark but no done mark is resumed: the records already in the
//!   log after the recorded offsets are found by their `src` header and their lines are skipped.
//!   A file whose done mark exists is only deleted. A file whose marks do not fit the log (the
//!   begin mark is missing or names another file, or retention removed records it published) is
//!   *refused*: it stays in the folder untouched, with an error that names it and its mark, until
//!   a person looks; the rest of the folder goes on.
//! * **Bad input.** A malformed line becomes a dead letter (topic `dead_letters`) and the rest of
//!   the file goes through; a file that cannot be read as events at all is dead-lettered whole and
//!   moved to `failed/`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures::stream::{FuturesUnordered, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};
use tributary_log::{EventLog, Header, LogError, ReadLimits, Record, RecordPosition};
use tributary_schema::DeadLetter;
use tributary_schema::dead_letter::DEAD_LETTER_TOPIC;
use tributary_schema::mobile::EncodedEvent;

use crate::mobile_file::{FileError, FileFormat, ParseOptions, Parsed, parse_mobile_file};

/// The control topic holding begin/done marks of files.
pub const STATE_TOPIC: &str = "_tributary_sources";
/// Header naming a record's origin: `<begin mark offset>:<line>`.
pub const SRC_HEADER: &str = "src";

/// Settings of a directory source.
#[derive(Debug, Clone)]
pub struct DirectorySourceConfig {
    pub dir: PathBuf,
    /// Topic for the events.
    pub topic: String,
    /// Move finished files here instead of deleting them.
    pub archive_dir: Option<PathBuf>,
    /// A file not renamed in is taken once unchanged for this long.
    pub min_file_age: Duration,
    /// Fallback scan interval.
    pub poll_interval: Duration,
    pub parse: ParseOptions,
    /// Force a format instead of detecting it from the name or content.
    pub format: Option<FileFormat>,
    /// Records per log append.
    pub batch_records: usize,
    /// Files processed at the same time (each parsed on its own thread; at least 1).
    pub parallel_files: usize,
}

/// What happened to one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileReport {
    pub name: String,
    pub events: u64,
    pub dead_letters: u64,
    /// Lines found already in the log when resuming after a crash.
    pub already_published: u64,
    /// The file could not be read as events and was moved to `failed/`.
    pub failed: bool,
    /// The file was left in the folder untouched, for this reason (its marks do not fit the log:
    /// publishing it again could count lines twice or lose them).
    pub refused: Option<String>,
}

/// Errors that stop the source (bad input never does).
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Log(#[from] LogError),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl SourceError {
    /// Whether publishing may succeed if tried again later (see [`LogError::is_transient`]); a
    /// file that could not be read is tried again too.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Log(e) => e.is_transient(),
            Self::Io { .. } => true,
        }
    }
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> SourceError {
    let context = context.into();
    move |source| SourceError::Io { context, source }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "mark", rename_all = "lowercase")]
enum Mark {
    Begin {
        dir: String,
        file: String,
        id: String,
        ends: BTreeMap<String, Vec<u64>>,
    },
    Done {
        dir: String,
        file: String,
        id: String,
        begin: u64,
        /// The begin mark's partition (absent in marks written when it was always 0).
        #[serde(default)]
        begin_partition: u32,
    },
}

/// Runs until `stop` turns true, calling `on_file` after each file.
pub async fn run_directory_source(
    log: Arc<dyn EventLog>,
    cfg: DirectorySourceConfig,
    mut stop: watch::Receiver<bool>,
    mut on_file: impl FnMut(&FileReport) + Send,
) -> Result<(), SourceError> {
    let failed_dir = cfg.dir.join("failed");
    for d in [Some(&cfg.dir), Some(&failed_dir), cfg.archive_dir.as_ref()].into_iter().flatten() {
        std::fs::create_dir_all(d).map_err(io(format!("creating {}", d.display())))?;
    }
    let dir_key = cfg.dir.canonicalize().unwrap_or_else(|_| cfg.dir.clone()).display().to_string();
    let marks = Mutex::new(load_marks(&*log, &dir_key).await?);
    let (wake_tx, mut wake_rx) = mpsc::channel::<Vec<PathBuf>>(64);
    let _watcher = watch_dir(&cfg.dir, wake_tx);
    let mut renamed_in: HashSet<PathBuf> = HashSet::new();
    let parallel = cfg.parallel_files.max(1);
    // After a transient failure (a full disk, a broker out of reach) the folder is scanned again
    // after a pause: the file stays, unacknowledged, and resumes where its records end.
    let mut backoff = tributary_log::Backoff::new(Duration::from_millis(200), Duration::from_secs(10));
    let mut waiting = stop.clone();
    loop {
        if *stop.borrow() {
            return Ok(());
        }
        let mut next_check = cfg.poll_interval;
        let mut failures = 0;
        let mut settle = |result: Result<Option<FileReport>, SourceError>| -> Result<(), SourceError> {
            match result {
                Ok(Some(report)) => on_file(&report),
                Ok(None) => {}
                Err(e) if e.is_transient() => {
                    tracing::warn!(error = %e, "publishing a file failed; it stays in the folder and is tried again");
                    metrics::counter!("tributary_source_retries_total", "source" => "directory").increment(1);
                    failures += 1;
                }
                Err(e) => return Err(e),
            }
            Ok(())
        };
        // Up to `parallel` files at once: the futures run on this task, their parsing on
        // blocking threads. Each file has its own begin/done marks, so they are independent.
        let mut in_flight = FuturesUnordered::new();
        for (path, modified) in list_candidates(&cfg.dir)? {
            if *stop.borrow() {
                break;
            }
            let age = SystemTime::now().duration_since(modified).unwrap_or_default();
            if !renamed_in.contains(&path) && age < cfg.min_file_age {
                next_check = next_check.min(cfg.min_file_age - age);
                continue;
            }
            renamed_in.remove(&path);
            if in_flight.len() >= parallel
                && let Some(result) = in_flight.next().await
            {
                settle(result)?;
            }
            let (log, cfg, dir_key, failed_dir, marks) = (&*log, &cfg, &dir_key, &failed_dir, &marks);
            in_flight.push(async move { process_file(log, cfg, dir_key, failed_dir, &path, marks).await });
        }
        while let Some(result) = in_flight.next().await {
            settle(result)?;
        }
        drop(in_flight);
        if *stop.borrow() {
            return Ok(());
        }
        if failures > 0 {
            if !backoff.wait(&mut waiting).await {
                return Ok(());
            }
            continue;
        }
        backoff.reset();
        tokio::select! {
            paths = wake_rx.recv() => {
                if let Some(paths) = paths {
                    renamed_in.extend(paths);
                }
                while let Ok(paths) = wake_rx.try_recv() {
                    renamed_in.extend(paths);
                }
            }
            _ = tokio::time::sleep(next_check) => {}
            _ = stop.changed() => {}
        }
    }
}

/// inotify (or the platform's watcher) sending the paths renamed into the folder; `None` if no
/// watcher could be set up (the periodic scan then does the work).
fn watch_dir(dir: &Path, tx: mpsc::Sender<Vec<PathBuf>>) -> Option<notify::RecommendedWatcher> {
    use notify::{RecursiveMode, Watcher};
    let handler = move |res: notify::Result<notify::Event>| {
        if let Ok(event) = res
            && let Some(paths) = wake_for(event)
        {
            let _ = tx.try_send(paths);
        }
    };
    match notify::recommended_watcher(handler) {
        Ok(mut w) => match w.watch(dir, RecursiveMode::NonRecursive) {
            Ok(()) => Some(w),
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "cannot watch the folder; scanning it periodically");
                None
            }
        },
        Err(e) => {
            tracing::warn!(error = %e, "no file watcher; scanning the folder periodically");
            None
        }
    }
}

/// Whether a watcher event should wake the source, and with which renamed-in paths (files renamed
/// in are complete at once; others wait for `min_file_age`).
///
/// Only a file arriving or changing wakes it. Opening and reading do not: the source's own scan
/// opens the folder, and waking on that made an idle source rescan in a loop.
fn wake_for(event: notify::Event) -> Option<Vec<PathBuf>> {
    use notify::EventKind;
    use notify::event::{AccessKind, AccessMode, ModifyKind};
    match event.kind {
        EventKind::Modify(ModifyKind::Name(_)) => Some(event.paths),
        EventKind::Create(_)
        | EventKind::Modify(_)
        | EventKind::Access(AccessKind::Close(AccessMode::Write))
        | EventKind::Any
        | EventKind::Other => Some(Vec::new()),
        EventKind::Access(_) | EventKind::Remove(_) => None,
    }
}

/// Complete-looking files in name order, with their modification times.
fn list_candidates(dir: &Path) -> Result<Vec<(PathBuf, SystemTime)>, SourceError> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io(format!("listing {}", dir.display())))? {
        let Ok(entry) = entry else { continue };
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name.ends_with(".tmp") {
            continue;
        }
        let Ok(meta) = entry.metadata() else { continue };
        if !meta.is_file() {
            continue;
        }
        out.push((entry.path(), meta.modified().unwrap_or(SystemTime::UNIX_EPOCH)));
    }
    out.sort();
    Ok(out)
}

/// What the source knows of a file, by file id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileState {
    /// Begun (its begin mark is here) and not done: resume it.
    Begun(RecordPosition),
    /// Published; only the delete may be missing.
    Done,
    /// Its marks do not fit the log: left alone until the source restarts.
    Refused,
}

/// The state of each file of a folder, by file id.
type Marks = HashMap<String, FileState>;

/// The begin/done marks of this folder, as the log holds them.
async fn load_marks(log: &dyn EventLog, dir_key: &str) -> Result<Marks, SourceError> {
    log.ensure_topic(STATE_TOPIC).await?;
    let partitions = log.partition_count(STATE_TOPIC).await?;
    let mut marks = HashMap::new();
    for p in 0..partitions {
        let mut next = log.offsets(STATE_TOPIC, p).await?.start;
        loop {
            let batch = log.read(STATE_TOPIC, p, next, ReadLimits::default()).await?;
            let Some(last) = batch.last() else { break };
            next = last.offset + 1;
            for r in batch {
                match serde_json::from_slice::<Mark>(&r.record.value) {
                    // A done mark wins whatever order the partitions are read in (marks written
                    // before they were keyed by folder can sit in different partitions); of two
                    // begin marks, the later one is the attempt whose records count (an append
                    // reported as failed may still have landed).
                    Ok(Mark::Begin { dir, id, .. }) if dir == dir_key => {
                        let at = RecordPosition { partition: p, offset: r.offset };
                        if marks.get(&id) != Some(&FileState::Done) {
                            marks.insert(id, FileState::Begun(at));
                        }
                    }
                    Ok(Mark::Done { dir, id, .. }) if dir == dir_key => {
                        marks.insert(id, FileState::Done);
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(partition = p, offset = r.offset, error = %e, "ignoring an unreadable source mark")
                    }
                }
            }
        }
    }
    Ok(marks)
}

fn file_id(path: &Path, meta: &std::fs::Metadata) -> String {
    use std::os::unix::fs::MetadataExt;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    format!("{name}:{}:{}:{}", meta.len(), meta.mtime_nsec() + meta.mtime() * 1_000_000_000, meta.ino())
}

async fn topic_ends(log: &dyn EventLog, topic: &str) -> Result<Vec<u64>, SourceError> {
    let n = log.ensure_topic(topic).await?;
    let mut ends = Vec::with_capacity(n as usize);
    for p in 0..n {
        ends.push(log.offsets(topic, p).await?.end);
    }
    Ok(ends)
}

/// Lines of the file with begin mark `begin` already in `topic` after `ends`, or why they cannot
/// be known (retention removed records the file may have published).
async fn published_lines(
    log: &dyn EventLog,
    topic: &str,
    ends: &[u64],
    begin: RecordPosition,
) -> Result<Result<HashSet<u64>, String>, SourceError> {
    let prefix = src_prefix(begin);
    let mut lines = HashSet::new();
    // Partitions added to the topic since the begin mark are read from their start.
    let partitions = log.partition_count(topic).await?.max(ends.len() as u32);
    for p in 0..partitions {
        let range = log.offsets(topic, p).await?;
        let mut next = match ends.get(p as usize) {
            Some(&from) if range.start > from => {
                return Ok(Err(format!(
                    "retention removed records of {topic}/{p} after offset {from}, where the file's \
                     records begin (the partition now starts at {})",
                    range.start
                )));
            }
            Some(&from) => from,
            None => range.start,
        };
        loop {
            let batch = log.read(topic, p, next, ReadLimits::default()).await?;
            let Some(last) = batch.last() else { break };
            next = last.offset + 1;
            for r in batch {
                let src = r.record.headers.iter().find(|h| &*h.name == SRC_HEADER);
                if let Some(line) = src
                    .and_then(|h| std::str::from_utf8(&h.value).ok())
                    .and_then(|s| s.strip_prefix(prefix.as_str()))
                    .and_then(|l| l.parse::<u64>().ok())
                {
                    lines.insert(line);
                }
            }
        }
    }
    Ok(Ok(lines))
}

/// The lines of an interrupted file that are already in the log, or why its marks do not fit the
/// log (the file is then refused).
async fn resume_point(
    log: &dyn EventLog,
    id: &str,
    begin: RecordPosition,
) -> Result<Result<HashSet<u64>, String>, SourceError> {
    let ends = match read_mark(log, begin).await? {
        Ok(Mark::Begin { id: marked, ends, .. }) if marked == id => ends,
        Ok(Mark::Begin { file, .. }) => {
            return Ok(Err(format!("the begin mark names another file ({file})")));
        }
        Ok(Mark::Done { .. }) => return Ok(Err("the begin mark is a done mark".into())),
        Err(reason) => return Ok(Err(reason)),
    };
    let mut skip = HashSet::new();
    for (topic, topic_ends) in &ends {
        match published_lines(log, topic, topic_ends, begin).await? {
            Ok(lines) => skip.extend(lines),
            Err(reason) => return Ok(Err(reason)),
        }
    }
    Ok(Ok(skip))
}

/// Records of one chunk of a file, ready to append.
struct Chunk {
    events: Vec<Record>,
    dead: Vec<Record>,
}

async fn process_file(
    log: &dyn EventLog,
    cfg: &DirectorySourceConfig,
    dir_key: &str,
    failed_dir: &Path,
    path: &Path,
    marks: &Mutex<Marks>,
) -> Result<Option<FileReport>, SourceError> {
    let Ok(meta) = std::fs::metadata(path) else { return Ok(None) }; // gone meanwhile
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let id = file_id(path, &meta);
    let mut report = FileReport {
        name: name.clone(),
        events: 0,
        dead_letters: 0,
        already_published: 0,
        failed: false,
        refused: None,
    };

    let known = marks.lock().expect("marks lock").get(&id).copied();
    let (begin, skip) = match known {
        Some(FileState::Done) => {
            finish(cfg, path, &name, None)?; // published before a crash; only the delete was missing
            return Ok(None);
        }
        Some(FileState::Refused) => return Ok(None),
        Some(FileState::Begun(begin)) => match resume_point(log, &id, begin).await? {
            Ok(skip) => {
                tracing::info!(file = %name, already = skip.len(), "resuming a file interrupted by a crash");
                (begin, skip)
            }
            Err(reason) => {
                let reason = format!(
                    "{name}: left in the folder, not published: its begin mark ({STATE_TOPIC} {}) does \
                     not fit the log: {reason}",
                    mark_name(begin)
                );
                tracing::error!("{reason}");
                marks.lock().expect("marks lock").insert(id, FileState::Refused);
                report.refused = Some(reason);
                return Ok(Some(report));
            }
        },
        None => {
            let mut ends = BTreeMap::new();
            ends.insert(cfg.topic.clone(), topic_ends(log, &cfg.topic).await?);
            ends.insert(DEAD_LETTER_TOPIC.to_string(), topic_ends(log, DEAD_LETTER_TOPIC).await?);
            let mark = Mark::Begin { dir: dir_key.into(), file: name.clone(), id: id.clone(), ends };
            let pos = log.append(STATE_TOPIC, vec![mark_record(dir_key, &mark)]).await?;
            marks.lock().expect("marks lock").insert(id.clone(), FileState::Begun(pos[0]));
            (pos[0], HashSet::new())
        }
    };
    report.already_published = skip.len() as u64;
    let whole_file_dead_letter_published = skip.contains(&0);

    // Parse on a blocking thread; chunks flow through a bounded channel (bounded memory).
    let (tx, mut rx) = mpsc::channel::<Chunk>(4);
    let parse_path = path.to_path_buf();
    let source = format!("dir:{name}");
    let format = cfg.format.or_else(|| FileFormat::from_path(path));
    let (opts, batch_records) = (cfg.parse.clone(), cfg.batch_records.max(1));
    let parser = tokio::task::spawn_blocking(move || -> Result<(), FileError> {
        let file = std::fs::File::open(&parse_path).map_err(FileError::Io)?;
        let now = tributary_log::now_ms();
        // One shared name for every record's header.
        let src_name: Arc<str> = Arc::from(SRC_HEADER);
        let mut events = EventChunk::new(src_name.clone(), begin, now, batch_records);
        let mut dead = Vec::new();
        let result = parse_mobile_file(
            std::io::BufReader::with_capacity(1 << 16, file),
            &source,
            Some(&parse_path),
            format,
            &opts,
            now,
            |p| {
                match p {
                    Parsed::Event { line, event } if !skip.contains(&line) => events.push(event, line),
                    Parsed::Dead(d) => {
                        let line = d.position.strip_prefix("line ").and_then(|l| l.parse().ok()).unwrap_or(0);
                        if !skip.contains(&line) {
                            dead.push(
                                Record::new(Bytes::from(d.to_json()))
                                    .with_header(src_name.clone(), src_tag(begin, line)),
                            );
                        }
                    }
                    Parsed::Event { .. } => {}
                }
                if events.len() + dead.len() >= batch_records {
                    let full = Chunk { events: events.take_records(), dead: std::mem::take(&mut dead) };
                    let _ = tx.blocking_send(full);
                }
            },
        );
        let _ = tx.blocking_send(Chunk { events: events.take_records(), dead });
        result.map(|_| ())
    });
    while let Some(chunk) = rx.recv().await {
        report.events += chunk.events.len() as u64;
        report.dead_letters += chunk.dead.len() as u64;
        if !chunk.events.is_empty() {
            log.append(&cfg.topic, chunk.events).await?;
        }
        if !chunk.dead.is_empty() {
            log.append(DEAD_LETTER_TOPIC, chunk.dead).await?;
        }
    }
    let parsed = parser.await.map_err(|e| SourceError::Io {
        context: format!("parsing {name}"),
        source: std::io::Error::other(e.to_string()),
    })?;
    let moved_to = match parsed {
        Ok(()) => None,
        Err(FileError::Unreadable(reason)) => {
            report.failed = true;
            if !whole_file_dead_letter_published {
                let mut head = Vec::new();
                let _ = std::fs::File::open(path).and_then(|f| {
                    f.take(tributary_schema::dead_letter::MAX_RAW_BYTES as u64).read_to_end(&mut head)
                });
                let mut d =
                    DeadLetter::new(format!("dir:{name}"), "file", reason, &head, tributary_log::now_ms());
                d.raw_len = meta.len();
                let r = Record::new(Bytes::from(d.to_json())).with_header(SRC_HEADER, src_tag(begin, 0));
                log.append(DEAD_LETTER_TOPIC, vec![r]).await?;
                report.dead_letters += 1;
            }
            Some(failed_dir)
        }
        Err(FileError::Io(e)) => {
            return Err(SourceError::Io { context: format!("reading {}", path.display()), source: e });
        }
    };
    let done = Mark::Done {
        dir: dir_key.into(),
        file: name.clone(),
        id: id.clone(),
        begin: begin.offset,
        begin_partition: begin.partition,
    };
    log.append(STATE_TOPIC, vec![mark_record(dir_key, &done)]).await?;
    marks.lock().expect("marks lock").insert(id, FileState::Done);
    finish(cfg, path, &name, moved_to)?;
    metrics::counter!("tributary_source_records_total", "source" => "directory").increment(report.events);
    metrics::counter!("tributary_source_dead_letters_total", "source" => "directory")
        .increment(report.dead_letters);
    Ok(Some(report))
}

/// The log records of a chunk of the events of the file whose begin mark is at `begin`, built
/// in one buffer: each keyed by device, in its encoding (with its header), with the `src` header
/// naming its line, stamped `timestamp` (one clock reading serves a whole file).
///
/// Keys, values and `src` tags are slices of the chunk's buffer: one allocation per chunk
/// instead of three per event, all of them freed by the thread that appends, not the one that
/// parses (frees across threads were a tenth of the pipeline's CPU).
pub struct EventChunk {
    src_name: Arc<str>,
    begin: RecordPosition,
    timestamp: i64,
    buffer: Vec<u8>,
    /// Per event: key, value and `src` tag as ends in `buffer` (each starts where the one
    /// before ends), and the value's encoding.
    events: Vec<([usize; 3], tributary_schema::mobile::Encoding)>,
}

impl EventChunk {
    /// An empty chunk for about `capacity` events; `src_name` is [`SRC_HEADER`], shared.
    pub fn new(src_name: Arc<str>, begin: RecordPosition, timestamp: i64, capacity: usize) -> Self {
        Self { src_name, begin, timestamp, buffer: Vec::new(), events: Vec::with_capacity(capacity) }
    }

    /// Adds the event of line `line`.
    pub fn push(&mut self, event: EncodedEvent, line: u64) {
        if self.buffer.capacity() == 0 {
            // About what a chunk of generated events takes, so the buffer grows rarely.
            self.buffer.reserve(self.events.capacity() * (event.value.len() + event.device_id.len() + 16));
        }
        self.buffer.extend_from_slice(event.device_id.as_bytes());
        let key = self.buffer.len();
        self.buffer.extend_from_slice(&event.value);
        let value = self.buffer.len();
        write_src_tag(&mut self.buffer, self.begin, line);
        self.events.push(([key, value, self.buffer.len()], event.encoding));
    }

    /// Events added since the last [`take_records`](Self::take_records).
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// True without events.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// The records of the events added so far; the chunk is empty afterwards.
    pub fn take_records(&mut self) -> Vec<Record> {
        let buffer = Bytes::from(std::mem::take(&mut self.buffer));
        let mut start = 0;
        self.events
            .drain(..)
            .map(|([key, value, src], encoding)| {
                let mut headers = Vec::with_capacity(2);
                headers.extend(crate::event_records::encoding_header(encoding));
                headers.push(Header { name: self.src_name.clone(), value: buffer.slice(value..src) });
                let record = Record {
                    key: Some(buffer.slice(start..key)),
                    value: buffer.slice(key..value),
                    headers,
                    timestamp: self.timestamp,
                };
                start = src;
                record
            })
            .collect()
    }
}

/// A begin mark's position as `src` headers write it: `<offset>` on partition 0 (the form every
/// mark had while the control topic was read as one partition, so older logs resume unchanged),
/// `<partition>/<offset>` elsewhere.
fn mark_name(begin: RecordPosition) -> String {
    match begin.partition {
        0 => begin.offset.to_string(),
        p => format!("{p}/{}", begin.offset),
    }
}

/// What every `src` header of the file with begin mark `begin` starts with.
fn src_prefix(begin: RecordPosition) -> String {
    format!("{}:", mark_name(begin))
}

/// The `src` header's value, `<begin mark>:<line>`.
fn src_tag(begin: RecordPosition, line: u64) -> Bytes {
    let mut tag = Vec::with_capacity(24);
    write_src_tag(&mut tag, begin, line);
    Bytes::from(tag)
}

/// Appends [`src_tag`]'s text to `out` (without `format!`: this runs once per event).
fn write_src_tag(out: &mut Vec<u8>, begin: RecordPosition, line: u64) {
    let (mut p, mut o, mut l) = (itoa::Buffer::new(), itoa::Buffer::new(), itoa::Buffer::new());
    if begin.partition != 0 {
        out.extend_from_slice(p.format(begin.partition).as_bytes());
        out.push(b'/');
    }
    out.extend_from_slice(o.format(begin.offset).as_bytes());
    out.push(b':');
    out.extend_from_slice(l.format(line).as_bytes());
}

/// A mark's record, keyed by its folder: one folder's marks share a partition, in order.
fn mark_record(dir_key: &str, mark: &Mark) -> Record {
    Record::new(Bytes::from(serde_json::to_vec(mark).expect("marks serialise"))).with_key(dir_key.to_string())
}

/// The mark at `at`, or why there is none there.
async fn read_mark(log: &dyn EventLog, at: RecordPosition) -> Result<Result<Mark, String>, SourceError> {
    let one = ReadLimits { max_records: 1, max_bytes: 1 };
    let records = match log.read(STATE_TOPIC, at.partition, at.offset, one).await {
        Ok(records) => records,
        Err(LogError::OffsetOutOfRange { start, end, .. }) => {
            return Ok(Err(format!("no such mark (the partition holds offsets {start}..{end})")));
        }
        Err(LogError::UnknownPartition { partitions, .. }) => {
            return Ok(Err(format!("no such mark (the topic has {partitions} partitions)")));
        }
        Err(e) => return Err(e.into()),
    };
    Ok(match records.first() {
        Some(r) if r.offset == at.offset => {
            serde_json::from_slice(&r.record.value).map_err(|e| format!("the mark is unreadable: {e}"))
        }
        _ => Err("no such mark".into()),
    })
}

/// Deletes the file, or moves it to `to` (failed files) or the archive.
fn finish(
    cfg: &DirectorySourceConfig,
    path: &Path,
    name: &str,
    to: Option<&Path>,
) -> Result<(), SourceError> {
    let target = to.or(cfg.archive_dir.as_deref());
    let result = match target {
        Some(dir) => std::fs::rename(path, dir.join(name)),
        None => std::fs::remove_file(path),
    };
    match result {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(SourceError::Io { context: format!("removing {}", path.display()), source: e }),
    }
}

#[cfg(test)]
mod tests {
    use notify::event::{AccessKind, AccessMode, CreateKind, EventKind, ModifyKind, RemoveKind, RenameMode};

    use super::*;

    fn event(kind: EventKind) -> notify::Event {
        notify::Event::new(kind).add_path(PathBuf::from("/inbox/f.csv"))
    }

    #[test]
    fn arrivals_wake_the_source_and_its_own_reads_do_not() {
        let renamed = wake_for(event(EventKind::Modify(ModifyKind::Name(RenameMode::To))));
        assert_eq!(renamed, Some(vec![PathBuf::from("/inbox/f.csv")]), "renamed in: complete at once");
        for kind in [
            EventKind::Create(CreateKind::File),
            EventKind::Modify(ModifyKind::Any),
            EventKind::Access(AccessKind::Close(AccessMode::Write)),
        ] {
            assert_eq!(wake_for(event(kind)), Some(vec![]), "{kind:?}: wakes, but waits for the file's age");
        }
        for kind in [
            EventKind::Access(AccessKind::Open(AccessMode::Any)), // the scan opening the folder
            EventKind::Access(AccessKind::Close(AccessMode::Read)),
            EventKind::Remove(RemoveKind::File), // the source deleting what it published
        ] {
            assert_eq!(wake_for(event(kind)), None, "{kind:?}");
        }
    }

    #[test]
    fn a_chunk_builds_each_event_record_in_one_buffer() {
        use tributary_schema::MobileEvent;
        use tributary_schema::mobile::Encoding;
        let lines = [
            &br#"{"timepoint":"t1","deviceId":"dev-1","latitude":52.5,"longitude":13.4}"#[..],
            br#"{"timepoint":"t2","deviceId":"d2","latitude":-1.5,"longitude":2,"locked":true}"#,
        ];
        for (begin, tags) in [
            (RecordPosition { partition: 0, offset: 17 }, ["17:3", "17:9"]),
            (RecordPosition { partition: 2, offset: 5 }, ["2/5:3", "2/5:9"]),
        ] {
            for encoding in [Encoding::Binary, Encoding::Json] {
                let events: Vec<_> =
                    lines.iter().map(|l| MobileEvent::encode_json_line(l, encoding).unwrap()).collect();
                let mut chunk = EventChunk::new(Arc::from(SRC_HEADER), begin, 42, 1);
                for (e, line) in events.iter().zip([3, 9]) {
                    chunk.push(e.clone(), line);
                }
                assert_eq!(chunk.len(), 2);
                let records = chunk.take_records();
                assert!(chunk.is_empty());
                for ((r, e), tag) in records.iter().zip(&events).zip(tags) {
                    let mut expected = crate::event_records::mobile_record(e.clone(), 42);
                    expected.headers.push(Header { name: Arc::from(SRC_HEADER), value: Bytes::from(tag) });
                    assert_eq!(r, &expected);
                }
                // The builder is reusable after a take.
                chunk.push(events[0].clone(), 11);
                assert_eq!(chunk.take_records()[0].value, events[0].value);
            }
        }
    }
}

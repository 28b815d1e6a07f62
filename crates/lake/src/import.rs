//! An import: a fetched payload and its parsed rows into the lake, then the news on the log.
//!
//! In order: the raw payload is kept; the rows are merged ([`Lake::upsert`]); if that made a new
//! version, a [`DatasetUpdated`] event is appended to topic `datasets`; the rows that could not be
//! used go to topic `dead_letters`, once per payload however often it is imported.
//!
//! A crash (a kill -9 of `tributary import`, say) may stop an import anywhere; the user, or the
//! next scheduled pull, imports the payload again:
//! - between the lake and the event: the event is lost, and importing again finds nothing to
//!   change; the batch views are recomputed at the start of every batch runner and on schedule
//!   (SPEC "Batch views"), which covers that window;
//! - around the dead letters: they are keyed by the payload's SHA-256, and before they are
//!   appended the lake records where (a [`DeadLetterMark`]: partition 0, from the end it had). An
//!   import that finds the mark reads the topic from there and appends only the letters that are
//!   not in it yet. So every bad row of a payload is exactly one dead letter.

use bytes::Bytes;
use tributary_log::{EventLog, Record};
use tributary_schema::DeadLetter;
use tributary_schema::dead_letter::DEAD_LETTER_TOPIC;
use tributary_schema::markets::{DATASETS_TOPIC, DatasetUpdated};

use crate::{DeadLetterMark, Lake, LakeError, LakeRow, RawFetch, RawStored, UpsertReport};

/// What an import did (serialisable: `tributary import` beside a running `up` receives it over
/// the API).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ImportReport {
    pub raw: RawStored,
    pub upsert: UpsertReport,
    /// The event sent, if the import changed the dataset.
    pub event: Option<DatasetUpdated>,
    /// Rows of the payload that could not be used.
    pub dead_letters: u64,
    /// How many of those were appended now (the others were, by an earlier import of the same
    /// payload).
    pub dead_letters_appended: u64,
}

/// Errors of an import.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Lake(#[from] LakeError),
    #[error(transparent)]
    Log(#[from] tributary_log::LogError),
}

/// Imports one payload's rows (see the module documentation).
pub async fn import<R: LakeRow>(
    lake: &Lake,
    log: &dyn EventLog,
    payload: &[u8],
    fetch: RawFetch,
    rows: Vec<R>,
    dead_letters: Vec<DeadLetter>,
) -> Result<ImportReport, ImportError> {
    let source = fetch.url.clone();
    let raw = lake.put_raw(R::DATASET, payload, fetch).await?;
    let upsert = lake.upsert(rows).await?;
    let mut event = None;
    if let Some(version) = upsert.version {
        let e = DatasetUpdated {
            dataset: R::DATASET,
            version,
            rows: upsert.total_rows,
            inserted: upsert.inserted,
            updated: upsert.updated,
            changed_from: upsert.changed_from,
            changed_to: upsert.changed_to,
            source: source.clone(),
            time_ms: tributary_log::now_ms(),
        };
        let record = Record::new(Bytes::from(serde_json::to_vec(&e).expect("events serialise")))
            .with_key(R::DATASET.name());
        log.append(DATASETS_TOPIC, vec![record]).await?;
        event = Some(e);
    }
    let n = dead_letters.len() as u64;
    let appended = append_dead_letters_once(lake, log, R::DATASET, &raw.sha256, dead_letters).await?;
    metrics::counter!("tributary_import_rows_total", "dataset" => R::DATASET.name())
        .increment(upsert.offered);
    metrics::counter!("tributary_import_dead_letters_total", "dataset" => R::DATASET.name())
        .increment(appended);
    Ok(ImportReport { raw, upsert, event, dead_letters: n, dead_letters_appended: appended })
}

/// Appends the dead letters of payload `sha256` that the topic does not hold yet (see the module
/// documentation); returns how many.
async fn append_dead_letters_once(
    lake: &Lake,
    log: &dyn EventLog,
    dataset: tributary_schema::markets::Dataset,
    sha256: &str,
    letters: Vec<DeadLetter>,
) -> Result<u64, ImportError> {
    if letters.is_empty() {
        return Ok(0);
    }
    log.ensure_topic(DEAD_LETTER_TOPIC).await?;
    let letters = match lake.dead_letter_mark(dataset, sha256).await? {
        Some(mark) => not_yet_appended(log, mark, sha256, letters).await?,
        None => {
            let from = log.offsets(DEAD_LETTER_TOPIC, 0).await?.end;
            lake.set_dead_letter_mark(dataset, sha256, DeadLetterMark { partition: 0, from }).await?;
            letters
        }
    };
    let n = letters.len() as u64;
    if !letters.is_empty() {
        let records = letters
            .iter()
            .map(|d| Record::new(Bytes::from(d.to_json())).with_key(sha256.to_string()))
            .collect();
        log.append_to_partition(DEAD_LETTER_TOPIC, 0, records).await?;
    }
    Ok(n)
}

/// The letters whose position is not among the records keyed `sha256` from `mark` on.
async fn not_yet_appended(
    log: &dyn EventLog,
    mark: DeadLetterMark,
    sha256: &str,
    mut letters: Vec<DeadLetter>,
) -> Result<Vec<DeadLetter>, ImportError> {
    let range = log.offsets(DEAD_LETTER_TOPIC, mark.partition).await?;
    if mark.from < range.start {
        // Retention deleted records after the mark: these letters were appended long ago (an
        // import appends right after marking), so they are not appended again.
        tracing::info!(
            sha256,
            "the dead letters of this payload were recorded before (since removed by retention)"
        );
        return Ok(Vec::new());
    }
    let mut seen = std::collections::HashSet::new();
    let mut at = mark.from;
    while at < range.end {
        let page =
            log.read(DEAD_LETTER_TOPIC, mark.partition, at, tributary_log::ReadLimits::default()).await?;
        let Some(last) = page.last() else { break };
        at = last.offset + 1;
        for r in page.iter().filter(|r| r.record.key.as_deref() == Some(sha256.as_bytes())) {
            if let Ok(letter) = DeadLetter::from_json(&r.record.value) {
                seen.insert(letter.position);
            }
        }
    }
    letters.retain(|l| !seen.contains(&l.position));
    Ok(letters)
}

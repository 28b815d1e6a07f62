//! An import: a fetched payload and its parsed rows into the lake, then the news on the log.
//!
//! In order: the raw payload is kept; the rows are merged ([`Lake::upsert`]); if that made a new
//! version, a [`DatasetUpdated`] event is appended to topic `datasets`; the rows that could not be
//! used go to topic `dead_letters`. A crash between the lake and the log loses only the event,
//! and importing the same payload again then finds nothing to change: so the batch views are also
//! recomputed on schedule (SPEC "Batch views"), which covers that window.

use bytes::Bytes;
use tributary_log::{EventLog, Record};
use tributary_schema::DeadLetter;
use tributary_schema::dead_letter::DEAD_LETTER_TOPIC;
use tributary_schema::markets::{DATASETS_TOPIC, DatasetUpdated};

use crate::{Lake, LakeError, LakeRow, RawFetch, RawStored, UpsertReport};

/// What an import did.
#[derive(Debug, Clone)]
pub struct ImportReport {
    pub raw: RawStored,
    pub upsert: UpsertReport,
    /// The event sent, if the import changed the dataset.
    pub event: Option<DatasetUpdated>,
    pub dead_letters: u64,
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
    if !dead_letters.is_empty() {
        let records = dead_letters.iter().map(|d| Record::new(Bytes::from(d.to_json()))).collect();
        log.append(DEAD_LETTER_TOPIC, records).await?;
    }
    metrics::counter!("tributary_import_rows_total", "dataset" => R::DATASET.name())
        .increment(upsert.offered);
    metrics::counter!("tributary_import_dead_letters_total", "dataset" => R::DATASET.name()).increment(n);
    Ok(ImportReport { raw, upsert, event, dead_letters: n })
}

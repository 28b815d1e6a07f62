//! **Layer: lake.** The master dataset: every fetched payload as it came, and the parsed rows of
//! each dataset as Parquet, one current row per natural key.
//!
//! Layout under the lake's root (a local folder by default, any `object_store` by URL):
//!
//! ```text
//! raw/<dataset>/<sha256>.bin                       each distinct payload once, as fetched
//! raw/<dataset>/fetches/<time ms>-<sha256 8>.json  one record per fetch: URL, time, hash, …
//! tables/<dataset>/year=<yyyy>/v<version>.parquet  the rows of one year, sorted by key
//! tables/<dataset>/_manifest.json                  the current version and its files
//! ```
//!
//! **Versions.** An import that changes rows writes new files for the years it touched, then
//! replaces the manifest in one `put` (atomic on a local disk and on S3), then deletes the files it
//! replaced. A reader follows the manifest, so it sees the old version or the new one, never a
//! mix. Importing the same data again changes nothing and makes no new version. One writer per
//! lake at a time (the importer); readers may run beside it.
//!
//! ```no_run
//! # async fn demo(rows: Vec<tributary_schema::markets::PriceBar>) -> Result<(), tributary_lake::LakeError> {
//! let lake = tributary_lake::Lake::open("./tributary-data/lake")?;
//! let report = lake.upsert(rows).await?;
//! println!("version {:?}: {} new, {} changed", report.version, report.inserted, report.updated);
//! # Ok(()) }
//! ```

pub mod import;
mod manifest;
mod parquet_io;
mod raw;
pub mod tables;

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use chrono::NaiveDate;
use object_store::ObjectStore;
use object_store::path::Path;
use tributary_schema::markets::{CovidDaily, CovidWeekly, Dataset, PriceBar};

pub use manifest::{Manifest, PartitionFile};
pub use raw::{DeadLetterMark, RawFetch, RawStored};
pub use tables::LakeRow;

/// Errors of the lake.
#[derive(Debug, thiserror::Error)]
pub enum LakeError {
    #[error("lake storage: {0}")]
    Store(#[from] object_store::Error),
    #[error("lake file: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    #[error("lake data: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    /// The lake holds something this build cannot read.
    #[error("lake: {0}")]
    Corrupt(String),
    /// A location or argument that cannot work.
    #[error("lake: {0}")]
    Invalid(String),
}

/// One dataset's rows at one version, as [`Lake::snapshot`] read them.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub dataset: Dataset,
    /// The manifest's version (0: the dataset has no rows yet).
    pub version: u64,
    pub schema: SchemaRef,
    /// One batch per year.
    pub batches: Vec<RecordBatch>,
    /// The first and last date with a row.
    pub date_range: Option<(NaiveDate, NaiveDate)>,
}

/// The lake.
#[derive(Clone)]
pub struct Lake {
    store: Arc<dyn ObjectStore>,
    location: String,
}

/// What an [`upsert`](Lake::upsert) did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UpsertReport {
    pub dataset: Dataset,
    /// The new version, or `None` if nothing changed (no new files, no event to send).
    pub version: Option<u64>,
    /// Rows offered (after removing repeated keys within the offer, the last one winning).
    pub offered: u64,
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    /// Rows in the dataset after the upsert.
    pub total_rows: u64,
    /// The dates of the rows inserted or updated.
    pub changed_from: Option<NaiveDate>,
    pub changed_to: Option<NaiveDate>,
}

impl Lake {
    /// Opens the lake at `location`: a folder (created if missing), a `file://` URL,
    /// `s3://bucket/prefix` (credentials and endpoint from the `AWS_*` environment variables), or `memory://` (for tests; gone with the process).
    pub fn open(location: &str) -> Result<Self, LakeError> {
        let store: Arc<dyn ObjectStore> = if location == "memory://" {
            Arc::new(object_store::memory::InMemory::new())
        } else if let Some(rest) = location.strip_prefix("file://") {
            local(rest)?
        } else if location.starts_with("s3://") {
            s3(location)?
        } else if location.contains("://") {
            return Err(LakeError::Invalid(format!(
                "'{location}': a lake is a folder, a file:// URL, s3://bucket/prefix or memory://"
            )));
        } else {
            local(location)?
        };
        Ok(Self { store, location: location.to_string() })
    }

    /// Where the lake is, as given to [`open`](Self::open).
    pub fn location(&self) -> &str {
        &self.location
    }

    /// The current manifest of a dataset, if it has any rows.
    pub async fn manifest(&self, dataset: Dataset) -> Result<Option<Manifest>, LakeError> {
        manifest::load(&*self.store, dataset).await
    }

    /// The current rows of a dataset as record batches (one per year), with the table's schema
    /// and the version they belong to, read consistently: a writer that replaces the version
    /// while this reads (and deletes the files this was about to read) makes it start over from
    /// the new manifest.
    pub async fn snapshot(&self, dataset: Dataset) -> Result<Snapshot, LakeError> {
        let schema = match dataset {
            Dataset::CovidDaily => CovidDaily::schema(),
            Dataset::CovidWeekly => CovidWeekly::schema(),
            Dataset::Prices => PriceBar::schema(),
        };
        let mut attempt = 0;
        'again: loop {
            attempt += 1;
            let Some(m) = self.manifest(dataset).await? else {
                return Ok(Snapshot { dataset, version: 0, schema, batches: Vec::new(), date_range: None });
            };
            let mut batches = Vec::new();
            for part in m.partitions.values() {
                match parquet_io::read(&*self.store, &Path::from(part.path.as_str())).await {
                    Ok(b) => batches.extend(b),
                    Err(LakeError::Store(object_store::Error::NotFound { .. })) if attempt < 5 => {
                        tracing::debug!(%dataset, version = m.version, "lake version replaced while reading; reading the new one");
                        continue 'again;
                    }
                    Err(e) => return Err(e),
                }
            }
            return Ok(Snapshot { dataset, version: m.version, schema, batches, date_range: m.date_range() });
        }
    }

    /// The current rows of a dataset, in key order within each year.
    pub async fn rows<R: LakeRow>(&self) -> Result<Vec<R>, LakeError> {
        let mut rows = Vec::new();
        for b in self.snapshot(R::DATASET).await?.batches {
            rows.extend(R::from_batch(&b)?);
        }
        Ok(rows)
    }

    /// Merges `rows` into their dataset: a row whose key is new is inserted, one whose key exists
    /// replaces the old row if it differs (ECDC revises past days). Writes a new version only if
    /// something changed.
    pub async fn upsert<R: LakeRow>(&self, rows: Vec<R>) -> Result<UpsertReport, LakeError> {
        let dataset = R::DATASET;
        // The last row of a key within the offer wins, as a later import would.
        let mut offered: BTreeMap<i32, BTreeMap<R::Key, R>> = BTreeMap::new();
        for r in rows {
            offered.entry(r.year()).or_default().insert(r.key(), r);
        }
        let mut report = UpsertReport {
            dataset,
            version: None,
            offered: offered.values().map(|m| m.len() as u64).sum(),
            inserted: 0,
            updated: 0,
            unchanged: 0,
            total_rows: 0,
            changed_from: None,
            changed_to: None,
        };
        let old = self.manifest(dataset).await?;
        let mut manifest = old.clone().unwrap_or_else(|| Manifest::empty(dataset));
        let version = manifest.version + 1;
        let mut written = Vec::new();
        let mut replaced = Vec::new();
        for (year, new_rows) in offered {
            let part = manifest.partitions.get(&year);
            let mut current: BTreeMap<R::Key, R> = BTreeMap::new();
            if let Some(p) = part {
                for b in parquet_io::read(&*self.store, &Path::from(p.path.as_str())).await? {
                    current.extend(R::from_batch(&b)?.into_iter().map(|r| (r.key(), r)));
                }
            }
            let mut changed = false;
            for (key, row) in new_rows {
                let date = row.date();
                match current.insert(key, row.clone()) {
                    None => report.inserted += 1,
                    Some(old) if old == row => {
                        report.unchanged += 1;
                        continue;
                    }
                    Some(_) => report.updated += 1,
                }
                changed = true;
                report.changed_from = Some(report.changed_from.map_or(date, |d| d.min(date)));
                report.changed_to = Some(report.changed_to.map_or(date, |d| d.max(date)));
            }
            if !changed {
                continue;
            }
            let rows: Vec<R> = current.into_values().collect();
            let path = Path::from(format!("tables/{dataset}/year={year}/v{version:08}.parquet"));
            parquet_io::write(&*self.store, &path, &R::to_batch(&rows)).await?;
            written.push(path.clone());
            let (from, to) = (rows.iter().map(R::date).min(), rows.iter().map(R::date).max());
            let new_part = PartitionFile {
                path: path.to_string(),
                rows: rows.len() as u64,
                min_date: from,
                max_date: to,
            };
            if let Some(old_part) = manifest.partitions.insert(year, new_part) {
                replaced.push(Path::from(old_part.path));
            }
        }
        report.total_rows = manifest.partitions.values().map(|p| p.rows).sum();
        if written.is_empty() {
            return Ok(report);
        }
        manifest.version = version;
        manifest.updated_ms = now_ms();
        manifest::store(&*self.store, &manifest).await?;
        report.version = Some(version);
        for path in replaced {
            if let Err(e) = self.store.delete(&path).await {
                tracing::warn!(path = %path, error = %e, "could not delete a replaced lake file");
            }
        }
        tracing::info!(dataset = %dataset, version, inserted = report.inserted, updated = report.updated, "lake updated");
        Ok(report)
    }

    /// Keeps a fetched payload as it came (stored once per distinct content) and a record of the
    /// fetch.
    pub async fn put_raw(
        &self,
        dataset: Dataset,
        payload: &[u8],
        fetch: RawFetch,
    ) -> Result<RawStored, LakeError> {
        raw::put(&*self.store, dataset, payload, fetch).await
    }

    /// Where the dead letters of the payload `sha256` were appended, if an import marked it.
    pub async fn dead_letter_mark(
        &self,
        dataset: Dataset,
        sha256: &str,
    ) -> Result<Option<DeadLetterMark>, LakeError> {
        raw::dead_letter_mark(&*self.store, dataset, sha256).await
    }

    /// Marks where the dead letters of the payload `sha256` are about to be appended.
    pub async fn set_dead_letter_mark(
        &self,
        dataset: Dataset,
        sha256: &str,
        mark: DeadLetterMark,
    ) -> Result<(), LakeError> {
        raw::set_dead_letter_mark(&*self.store, dataset, sha256, mark).await
    }

    /// The fetch records of a dataset, oldest first.
    pub async fn raw_fetches(&self, dataset: Dataset) -> Result<Vec<RawStored>, LakeError> {
        raw::list(&*self.store, dataset).await
    }
}

/// An S3 bucket (or any S3-compatible store), with an optional prefix. Credentials, region and
/// endpoint come from the usual `AWS_*` environment variables (`AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT_URL`, and `AWS_ALLOW_HTTP=true` for a
/// plain-HTTP endpoint such as a local MinIO).
fn s3(location: &str) -> Result<Arc<dyn ObjectStore>, LakeError> {
    let url = url::Url::parse(location).map_err(|e| LakeError::Invalid(format!("'{location}': {e}")))?;
    let bucket = url.host_str().filter(|b| !b.is_empty()).ok_or_else(|| {
        LakeError::Invalid(format!("'{location}': an S3 lake is s3://bucket or s3://bucket/prefix"))
    })?;
    let store = object_store::aws::AmazonS3Builder::from_env().with_bucket_name(bucket).build()?;
    let prefix = url.path().trim_matches('/');
    if prefix.is_empty() {
        Ok(Arc::new(store))
    } else {
        Ok(Arc::new(object_store::prefix::PrefixStore::new(store, prefix)))
    }
}

fn local(path: &str) -> Result<Arc<dyn ObjectStore>, LakeError> {
    std::fs::create_dir_all(path)
        .map_err(|e| LakeError::Invalid(format!("creating the lake folder {path}: {e}")))?;
    let fs = object_store::local::LocalFileSystem::new_with_prefix(path)?;
    Ok(Arc::new(fs))
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests;

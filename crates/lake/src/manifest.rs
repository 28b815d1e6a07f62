//! A dataset's manifest: its current version and the file of each year. Replaced in one `put`,
//! which is what makes a version visible.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use object_store::path::Path;
use object_store::{ObjectStore, PutPayload};
use serde::{Deserialize, Serialize};
use tributary_schema::markets::Dataset;

use crate::LakeError;

/// The current state of one dataset in the lake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub dataset: Dataset,
    /// Counts the imports that changed rows, from 1.
    pub version: u64,
    pub updated_ms: i64,
    /// The file of each year.
    pub partitions: BTreeMap<i32, PartitionFile>,
}

/// The current file of one year.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionFile {
    pub path: String,
    pub rows: u64,
    pub min_date: Option<NaiveDate>,
    pub max_date: Option<NaiveDate>,
}

impl Manifest {
    pub(crate) fn empty(dataset: Dataset) -> Self {
        Self { dataset, version: 0, updated_ms: 0, partitions: BTreeMap::new() }
    }

    /// Rows in the dataset.
    pub fn rows(&self) -> u64 {
        self.partitions.values().map(|p| p.rows).sum()
    }

    /// The first and last date with a row.
    pub fn date_range(&self) -> Option<(NaiveDate, NaiveDate)> {
        let from = self.partitions.values().filter_map(|p| p.min_date).min()?;
        let to = self.partitions.values().filter_map(|p| p.max_date).max()?;
        Some((from, to))
    }
}

fn path(dataset: Dataset) -> Path {
    Path::from(format!("tables/{dataset}/_manifest.json"))
}

pub(crate) async fn load(store: &dyn ObjectStore, dataset: Dataset) -> Result<Option<Manifest>, LakeError> {
    let bytes = match store.get(&path(dataset)).await {
        Ok(r) => r.bytes().await?,
        Err(object_store::Error::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let m: Manifest = serde_json::from_slice(&bytes)
        .map_err(|e| LakeError::Corrupt(format!("the manifest of {dataset} is unreadable: {e}")))?;
    if m.dataset != dataset {
        return Err(LakeError::Corrupt(format!("the manifest of {dataset} names {}", m.dataset)));
    }
    Ok(Some(m))
}

pub(crate) async fn store(store: &dyn ObjectStore, manifest: &Manifest) -> Result<(), LakeError> {
    let json = serde_json::to_vec_pretty(manifest).expect("manifests serialise");
    store.put(&path(manifest.dataset), PutPayload::from(json)).await?;
    Ok(())
}

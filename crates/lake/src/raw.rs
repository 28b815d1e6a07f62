//! Raw payloads, kept as fetched: each distinct content once (named by its SHA-256), and one small
//! JSON record per fetch saying where and when it came from.

use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, PutPayload};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tributary_schema::markets::Dataset;

use crate::LakeError;

/// Where a payload came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawFetch {
    /// The URL (or `file://` path) fetched.
    pub url: String,
    pub fetched_ms: i64,
    /// The format it was parsed as.
    pub format: String,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// A fetch as recorded in the lake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawStored {
    #[serde(flatten)]
    pub fetch: RawFetch,
    pub sha256: String,
    pub bytes: u64,
    /// Where the payload is, relative to the lake's root.
    pub payload: String,
}

pub(crate) async fn put(
    store: &dyn ObjectStore,
    dataset: Dataset,
    payload: &[u8],
    fetch: RawFetch,
) -> Result<RawStored, LakeError> {
    let sha256: String = Sha256::digest(payload).iter().map(|b| format!("{b:02x}")).collect();
    let payload_path = Path::from(format!("raw/{dataset}/{sha256}.bin"));
    // Content-addressed: the same content fetched again is stored once.
    if matches!(store.head(&payload_path).await, Err(object_store::Error::NotFound { .. })) {
        store.put(&payload_path, PutPayload::from(payload.to_vec())).await?;
    }
    let stored = RawStored { sha256, bytes: payload.len() as u64, payload: payload_path.to_string(), fetch };
    let record = Path::from(format!(
        "raw/{dataset}/fetches/{:013}-{}.json",
        stored.fetch.fetched_ms,
        &stored.sha256[..8]
    ));
    store
        .put(&record, PutPayload::from(serde_json::to_vec_pretty(&stored).expect("records serialise")))
        .await?;
    Ok(stored)
}

pub(crate) async fn list(store: &dyn ObjectStore, dataset: Dataset) -> Result<Vec<RawStored>, LakeError> {
    let prefix = Path::from(format!("raw/{dataset}/fetches"));
    let mut metas: Vec<_> = store.list(Some(&prefix)).try_collect().await?;
    metas.sort_by(|a, b| a.location.cmp(&b.location));
    let mut out = Vec::with_capacity(metas.len());
    for m in metas {
        let bytes = store.get(&m.location).await?.bytes().await?;
        out.push(
            serde_json::from_slice(&bytes)
                .map_err(|e| LakeError::Corrupt(format!("fetch record {} is unreadable: {e}", m.location)))?,
        );
    }
    Ok(out)
}

/// Where the dead letters of one payload went: appended to `partition` of the dead-letter topic
/// at or after `from` (the end of that partition just before the append). Written before the
/// append, so that an import killed at any moment can tell, on its next run, whether they were
/// recorded (see [`crate::import`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetterMark {
    pub partition: u32,
    pub from: u64,
}

fn mark_path(dataset: Dataset, sha256: &str) -> Path {
    Path::from(format!("raw/{dataset}/dead-letters/{sha256}.json"))
}

pub(crate) async fn dead_letter_mark(
    store: &dyn ObjectStore,
    dataset: Dataset,
    sha256: &str,
) -> Result<Option<DeadLetterMark>, LakeError> {
    let path = mark_path(dataset, sha256);
    let bytes = match store.get(&path).await {
        Ok(got) => got.bytes().await?,
        Err(object_store::Error::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| LakeError::Corrupt(format!("dead-letter mark {path} is unreadable: {e}")))
}

pub(crate) async fn set_dead_letter_mark(
    store: &dyn ObjectStore,
    dataset: Dataset,
    sha256: &str,
    mark: DeadLetterMark,
) -> Result<(), LakeError> {
    let body = serde_json::to_vec(&mark).expect("marks serialise");
    store.put(&mark_path(dataset, sha256), PutPayload::from(body)).await?;
    Ok(())
}

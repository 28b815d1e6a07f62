//! Parquet files in the object store: written whole in one `put` (a local store stages the file
//! under a temporary name and renames it), read whole.

use arrow::array::RecordBatch;
use bytes::Bytes;
use object_store::path::Path;
use object_store::{ObjectStore, PutPayload};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::LakeError;

pub(crate) async fn write(
    store: &dyn ObjectStore,
    path: &Path,
    batch: &RecordBatch,
) -> Result<(), LakeError> {
    let props = WriterProperties::builder().set_compression(Compression::SNAPPY).build();
    let mut buf = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut buf, batch.schema(), Some(props))?;
    writer.write(batch)?;
    writer.close()?;
    store.put(path, PutPayload::from(buf)).await?;
    Ok(())
}

pub(crate) async fn read(store: &dyn ObjectStore, path: &Path) -> Result<Vec<RecordBatch>, LakeError> {
    let bytes: Bytes = store.get(path).await?.bytes().await?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)?.with_batch_size(64 * 1024).build()?;
    Ok(reader.collect::<Result<Vec<_>, _>>()?)
}

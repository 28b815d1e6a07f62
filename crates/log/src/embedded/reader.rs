//! [`PartitionReader`] of the embedded log: a partition and a position.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::partition::Partition;
use crate::error::Result;
use crate::event_log::{PartitionReader, ReadLimits};
use crate::record::ConsumedRecord;

pub(crate) struct EmbeddedPartitionReader {
    pub partition: Arc<Partition>,
    pub position: u64,
}

#[async_trait]
impl PartitionReader for EmbeddedPartitionReader {
    async fn read(&mut self, max_records: usize, wait: Duration) -> Result<Vec<ConsumedRecord>> {
        if max_records == 0 {
            return Ok(Vec::new());
        }
        let limits = ReadLimits { max_records, ..ReadLimits::default() };
        let mut records = self.partition.read(self.position, limits)?;
        if records.is_empty() && !wait.is_zero() {
            // Woken by the append itself.
            let mut end = self.partition.watch_end();
            let position = self.position;
            if tokio::time::timeout(wait, end.wait_for(|end| *end > position)).await.is_ok() {
                records = self.partition.read(self.position, limits)?;
            }
        }
        if let Some(last) = records.last() {
            self.position = last.offset + 1;
        }
        Ok(records)
    }

    fn position(&self) -> u64 {
        self.position
    }
}

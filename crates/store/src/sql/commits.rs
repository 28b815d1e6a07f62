//! What processors write ([`Commits`]): a model version, the offsets it covers and dead
//! letters, in one transaction, optionally fenced against a second writer.

use std::collections::BTreeMap;

use async_trait::async_trait;
use sqlx::pool::PoolConnection;
use sqlx::{Any, Connection, Transaction};

use super::{OFFSET_RANGE_COLUMNS, SqlStore, bind_real, finite, insert_rows, int, text_not_null, unsigned};
use crate::dialect::Dialect;
use crate::{BatchCommit, Commits, KMeansVersionRow, OffsetCheckpoint, Result, StoreChange, StoreError};

impl SqlStore {
    /// [`ServingStore::commit_batch`]'s transaction.
    async fn write_batch(&self, commit: &BatchCommit) -> Result<()> {
        let mut conn = self.writer().await?;
        let result = self.write_batch_on(&mut conn, commit).await;
        Self::settle(&mut conn, result)?;
        if let Some(v) = &commit.version {
            let _ = self.changes.send(StoreChange::Model { model: v.model.clone(), version: v.version });
        }
        Ok(())
    }

    async fn write_batch_on(&self, conn: &mut PoolConnection<Any>, commit: &BatchCommit) -> Result<()> {
        let mut tx = conn.begin().await?;
        if let Some(expected) = &commit.expected_offsets {
            self.check_fence(&mut tx, commit, expected).await?;
        }
        if let Some(v) = &commit.version {
            self.insert_version(&mut tx, v).await?;
        }
        let upsert = format!(
            "INSERT INTO processor_offsets (processor, topic, partition_id, next_offset) VALUES (?, ?, ?, ?){}",
            self.dialect.upsert(&["processor", "topic", "partition_id"], &["next_offset"])
        );
        for o in &commit.offsets {
            // A fenced commit inserts (never upserts) the rows it expects not to exist, so that
            // of two fenced commits that both found none, the second fails.
            let fresh = commit.expected_offsets.as_ref().is_some_and(|expected| {
                !expected.iter().any(|e| e.topic == o.topic && e.partition == o.partition)
            });
            let statement = if fresh {
                "INSERT INTO processor_offsets (processor, topic, partition_id, next_offset) VALUES (?, ?, ?, ?)"
            } else {
                &upsert
            };
            let written = sqlx::query(&self.sql(statement))
                .bind(&commit.processor)
                .bind(&o.topic)
                .bind(i64::from(o.partition))
                .bind(int(o.next_offset, "offset")?)
                .execute(&mut *tx)
                .await;
            match written {
                Err(sqlx::Error::Database(e)) if fresh && e.is_unique_violation() => {
                    return Err(StoreError::Conflict(format!(
                        "processor '{}' has moved on: another writer committed {}/{} first",
                        commit.processor, o.topic, o.partition
                    )));
                }
                written => {
                    written?;
                }
            }
        }
        if let Some(state) = &commit.state {
            sqlx::query(&self.sql(&format!(
                "INSERT INTO processor_state (processor, state) VALUES (?, ?){}",
                self.dialect.upsert(&["processor"], &["state"])
            )))
            .bind(&commit.processor)
            .bind(state)
            .execute(&mut *tx)
            .await?;
        }
        for d in &commit.dead_letters {
            sqlx::query(&self.sql(
                "INSERT INTO dead_letters (source, position, reason, raw, raw_len, time_ms) VALUES (?, ?, ?, ?, ?, ?)",
            ))
            .bind(&d.source)
            .bind(&d.position)
            .bind(&d.reason)
            .bind(&d.raw)
            .bind(int(d.raw_len, "raw_len")?)
            .bind(d.time_ms)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Fails with [`StoreError::Conflict`] unless the stored offsets of the partitions that
    /// `commit` writes are `expected` (see [`BatchCommit::expected_offsets`]). The rows are read
    /// locked (PostgreSQL, MySQL) so that two fenced commits cannot both pass; SQLite's
    /// transactions are serialised by its write lock, and one that read before another writer
    /// committed fails with "database is locked" instead.
    async fn check_fence(
        &self,
        tx: &mut Transaction<'_, Any>,
        commit: &BatchCommit,
        expected: &[OffsetCheckpoint],
    ) -> Result<()> {
        let lock = if self.dialect == Dialect::Sqlite { "" } else { " FOR UPDATE" };
        let rows = sqlx::query(&self.sql(&format!(
            "SELECT topic, partition_id, next_offset FROM processor_offsets WHERE processor = ? ORDER BY topic, partition_id{lock}"
        )))
        .bind(&commit.processor)
        .fetch_all(&mut **tx)
        .await?;
        let mut stored = BTreeMap::new();
        for r in &rows {
            let partition = unsigned::<u32>(r, "partition_id")?;
            stored.insert((text_not_null(r, "topic")?, partition), unsigned::<u64>(r, "next_offset")?);
        }
        for o in &commit.offsets {
            let key = (o.topic.clone(), o.partition);
            let continues_from = expected
                .iter()
                .find(|e| e.topic == o.topic && e.partition == o.partition)
                .map(|e| e.next_offset);
            let found = stored.get(&key).copied();
            if found != continues_from {
                return Err(StoreError::Conflict(format!(
                    "processor '{}' has moved on at {}/{}: stored offset {}, this commit continues from {}",
                    commit.processor,
                    o.topic,
                    o.partition,
                    found.map_or("none".into(), |n| n.to_string()),
                    continues_from.map_or("none".into(), |n| n.to_string()),
                )));
            }
        }
        Ok(())
    }

    async fn insert_version(&self, tx: &mut Transaction<'_, Any>, v: &KMeansVersionRow) -> Result<()> {
        let version = int(v.version, "version")?;
        let sql = self.sql(
            "INSERT INTO kmeans_versions (model, version, created_ms, event_time_ms, batch_points, batches, k, projection, split_largest, split_smallest, sum_of_squares, silhouette) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        );
        let q = sqlx::query(&sql)
            .bind(&v.model)
            .bind(version)
            .bind(v.created_ms)
            .bind(v.event_time_ms)
            .bind(int(v.batch_points, "batch_points")?)
            .bind(int(v.batches, "batches")?)
            .bind(v.centres.len() as i64)
            .bind(&v.projection)
            .bind(v.split.map(|s| i64::from(s.0)))
            .bind(v.split.map(|s| i64::from(s.1)));
        let q = bind_real(q, finite(v.sum_of_squares, "sum_of_squares")?);
        bind_real(q, finite(v.silhouette, "silhouette")?).execute(&mut **tx).await?;
        // One statement for all centres.
        if !v.centres.is_empty() {
            let columns = ["model", "version", "cluster", "lat", "lon", "weight", "batch_count", "x", "y"];
            let sql = insert_rows(self, "kmeans_centres", &columns, v.centres.len());
            let mut q = sqlx::query(&sql);
            for c in &v.centres {
                q = q
                    .bind(&v.model)
                    .bind(version)
                    .bind(i64::from(c.cluster))
                    .bind(c.lat)
                    .bind(c.lon)
                    .bind(c.weight)
                    .bind(int(c.batch_count, "batch_count")?)
                    .bind(c.x)
                    .bind(c.y);
            }
            q.execute(&mut **tx).await?;
        }
        // And one for all offset ranges (a group's version has one per partition).
        if !v.offsets.is_empty() {
            let sql = insert_rows(self, "kmeans_version_offsets", &OFFSET_RANGE_COLUMNS, v.offsets.len());
            let mut q = sqlx::query(&sql);
            for o in &v.offsets {
                q = q
                    .bind(&v.model)
                    .bind(version)
                    .bind(&o.topic)
                    .bind(i64::from(o.partition))
                    .bind(int(o.from, "offset")?)
                    .bind(int(o.to, "offset")?);
            }
            q.execute(&mut **tx).await?;
        }
        Ok(())
    }
}

#[async_trait]
impl Commits for SqlStore {
    async fn commit_batch(&self, commit: &BatchCommit) -> Result<()> {
        match self.write_batch(commit).await {
            // Two fenced writers racing: SQLite refuses the one whose snapshot is stale, the
            // servers may pick one as a deadlock victim. Either way, the other one won.
            Err(StoreError::Database(sqlx::Error::Database(e)))
                if commit.expected_offsets.is_some() && lost_a_race(&*e) =>
            {
                Err(StoreError::Conflict(format!(
                    "processor '{}' has moved on: another writer committed first ({e})",
                    commit.processor
                )))
            }
            other => other,
        }
    }

    async fn processor_offsets(&self, processor: &str) -> Result<Vec<OffsetCheckpoint>> {
        let all = self.all_processor_offsets().await?;
        Ok(all.into_iter().filter(|(p, _)| p == processor).map(|(_, c)| c).collect())
    }

    async fn processor_state(&self, processor: &str) -> Result<Option<String>> {
        let row = sqlx::query(&self.sql("SELECT state FROM processor_state WHERE processor = ?"))
            .bind(processor)
            .fetch_optional(&self.pool)
            .await?;
        // Read as text whatever the driver calls it (MySQL's binary collation: a BLOB).
        Ok(row.map(|r| text_not_null(&r, "state")).transpose()?)
    }

    async fn all_processor_offsets(&self) -> Result<Vec<(String, OffsetCheckpoint)>> {
        // A handful of rows per processor: one query serves both readers.
        let rows = sqlx::query(
            "SELECT processor, topic, partition_id, next_offset FROM processor_offsets ORDER BY processor, topic, partition_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok((
                    text_not_null(&r, "processor")?,
                    OffsetCheckpoint {
                        topic: text_not_null(&r, "topic")?,
                        partition: unsigned::<u32>(&r, "partition_id")?,
                        next_offset: unsigned::<u64>(&r, "next_offset")?,
                    },
                ))
            })
            .collect()
    }
}

/// Whether a database error means that a concurrent transaction won: SQLite's busy codes (a
/// stale snapshot that wanted to write), a serialization failure or a deadlock.
fn lost_a_race(e: &dyn sqlx::error::DatabaseError) -> bool {
    matches!(e.code().as_deref(), Some("5" | "517" | "261" | "40001" | "40P01" | "1213"))
}

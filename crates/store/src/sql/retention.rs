//! Retention on the SQL store: folding old model versions into younger ones and deleting old
//! dead letters (the policy and its rules are in [`crate::retention`]).

use sqlx::pool::PoolConnection;
use sqlx::{Any, Connection, Row};

use super::{OFFSET_RANGE_COLUMNS, SqlStore, bind_real, insert_rows, int, unsigned};
use crate::Result;
use crate::retention::{Fold, Retention, RetentionReport, StoredVersion, plan};

/// Versions listed per query while planning (a store that was never thinned can hold millions).
const PAGE: i64 = 50_000;

impl SqlStore {
    /// One pass of retention at `now_ms` (see [`crate::ServingStore::apply_retention`]).
    pub(super) async fn retain(&self, retention: &Retention, now_ms: i64) -> Result<RetentionReport> {
        let mut report = RetentionReport::default();
        let models: Vec<String> = sqlx::query("SELECT DISTINCT model FROM kmeans_versions")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| super::text_not_null(r, "model"))
            .collect::<Result<_, sqlx::Error>>()?;
        let cutoff = now_ms.saturating_sub(retention.versions_all.as_millis() as i64);
        for model in models {
            let newest: Option<i64> =
                sqlx::query_scalar(&self.sql("SELECT MAX(version) FROM kmeans_versions WHERE model = ?"))
                    .bind(&model)
                    .fetch_one(&self.pool)
                    .await?;
            let Some(newest) = newest else { continue };
            let mut after = -1i64;
            loop {
                let page: Vec<StoredVersion> = sqlx::query(&self.sql(
                    "SELECT version, created_ms, k FROM kmeans_versions WHERE model = ? AND version > ? AND created_ms < ? ORDER BY version LIMIT ?",
                ))
                .bind(&model)
                .bind(after)
                .bind(cutoff)
                .bind(PAGE)
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|r| {
                    Ok(StoredVersion {
                        version: unsigned::<u64>(r, "version")?,
                        created_ms: r.try_get("created_ms")?,
                        k: unsigned::<u32>(r, "k")?,
                    })
                })
                .collect::<Result<_>>()?;
                let Some(last) = page.last().map(|v| v.version) else { break };
                for fold in plan(retention, &page, newest as u64, now_ms) {
                    if self.fold(&model, fold).await? {
                        report.versions_folded += fold.versions - 1;
                    }
                }
                if (page.len() as i64) < PAGE {
                    break;
                }
                after = last as i64;
            }
        }
        report.dead_letters_deleted = self.trim_dead_letters(retention, now_ms).await?;
        if report.versions_folded > 0 || report.dead_letters_deleted > 0 {
            tracing::info!(
                versions_folded = report.versions_folded,
                dead_letters_deleted = report.dead_letters_deleted,
                "store retention"
            );
        }
        metrics::counter!("tributary_store_versions_folded_total").increment(report.versions_folded);
        metrics::counter!("tributary_store_dead_letters_deleted_total")
            .increment(report.dead_letters_deleted);
        Ok(report)
    }

    /// Folds versions `first..last` into `last` in one transaction: sums of points, batches and
    /// per-cluster counts, the union of offset ranges. Returns false (and writes nothing) when
    /// another process folded some of them first.
    async fn fold(&self, model: &str, fold: Fold) -> Result<bool> {
        let mut conn = self.writer().await?;
        let result = self.fold_on(&mut conn, model, fold).await;
        Self::settle(&mut conn, result)
    }

    async fn fold_on(&self, conn: &mut PoolConnection<Any>, model: &str, fold: Fold) -> Result<bool> {
        let (first, last) = (int(fold.first, "version")?, int(fold.last, "version")?);
        let mut tx = conn.begin().await?;
        let (points, batches) =
            (self.dialect.as_bigint("SUM(batch_points)"), self.dialect.as_bigint("SUM(batches)"));
        let sums = sqlx::query(&self.sql(&format!(
            "SELECT {points} AS points, {batches} AS batches, SUM(sum_of_squares) AS sum_of_squares, AVG(silhouette) AS silhouette FROM kmeans_versions WHERE model = ? AND version BETWEEN ? AND ?"
        )))
        .bind(model)
        .bind(first)
        .bind(last)
        .fetch_one(&mut *tx)
        .await?;
        let (points, batches): (Option<i64>, Option<i64>) =
            (sums.try_get("points")?, sums.try_get("batches")?);
        let (sum_of_squares, silhouette): (Option<f64>, Option<f64>) =
            (sums.try_get("sum_of_squares")?, sums.try_get("silhouette")?);
        // Deleting first decides between two processes folding at once: the second deletes
        // fewer rows than it planned and gives up.
        let removed = sqlx::query(
            &self.sql("DELETE FROM kmeans_versions WHERE model = ? AND version >= ? AND version < ?"),
        )
        .bind(model)
        .bind(first)
        .bind(last)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if removed != fold.versions - 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        let sql = self.sql(
            "UPDATE kmeans_versions SET batch_points = ?, batches = ?, sum_of_squares = ?, silhouette = ? WHERE model = ? AND version = ?",
        );
        let q = sqlx::query(&sql).bind(points.unwrap_or(0)).bind(batches.unwrap_or(1));
        bind_real(bind_real(q, sum_of_squares), silhouette).bind(model).bind(last).execute(&mut *tx).await?;

        let count = self.dialect.as_bigint("SUM(batch_count)");
        let clusters = sqlx::query(&self.sql(&format!(
            "SELECT cluster, {count} AS n FROM kmeans_centres WHERE model = ? AND version BETWEEN ? AND ? GROUP BY cluster"
        )))
        .bind(model)
        .bind(first)
        .bind(last)
        .fetch_all(&mut *tx)
        .await?;
        for c in &clusters {
            sqlx::query(&self.sql(
                "UPDATE kmeans_centres SET batch_count = ? WHERE model = ? AND version = ? AND cluster = ?",
            ))
            .bind(c.try_get::<i64, _>("n")?)
            .bind(model)
            .bind(last)
            .bind(c.try_get::<i64, _>("cluster")?)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(&self.sql("DELETE FROM kmeans_centres WHERE model = ? AND version >= ? AND version < ?"))
            .bind(model)
            .bind(first)
            .bind(last)
            .execute(&mut *tx)
            .await?;

        // Consecutive versions cover consecutive ranges: their union is [min from, max to).
        let ranges = sqlx::query(&self.sql(
            "SELECT topic, partition_id, MIN(from_offset) AS from_offset, MAX(to_offset) AS to_offset \
             FROM kmeans_version_offsets WHERE model = ? AND version BETWEEN ? AND ? GROUP BY topic, partition_id",
        ))
        .bind(model)
        .bind(first)
        .bind(last)
        .fetch_all(&mut *tx)
        .await?;
        sqlx::query(
            &self.sql("DELETE FROM kmeans_version_offsets WHERE model = ? AND version BETWEEN ? AND ?"),
        )
        .bind(model)
        .bind(first)
        .bind(last)
        .execute(&mut *tx)
        .await?;
        // The folded ranges, in one statement.
        if !ranges.is_empty() {
            let sql = insert_rows(self, "kmeans_version_offsets", &OFFSET_RANGE_COLUMNS, ranges.len());
            let mut q = sqlx::query(&sql);
            for r in &ranges {
                q = q
                    .bind(model)
                    .bind(last)
                    .bind(super::text_not_null(r, "topic")?)
                    .bind(r.try_get::<i64, _>("partition_id")?)
                    .bind(r.try_get::<i64, _>("from_offset")?)
                    .bind(r.try_get::<i64, _>("to_offset")?);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Deletes dead letters older than the age limit and the oldest beyond the count limit.
    async fn trim_dead_letters(&self, retention: &Retention, now_ms: i64) -> Result<u64> {
        let mut deleted = 0;
        if let Some(age) = retention.dead_letters_age {
            deleted += sqlx::query(&self.sql("DELETE FROM dead_letters WHERE time_ms < ?"))
                .bind(now_ms.saturating_sub(age.as_millis() as i64))
                .execute(&self.pool)
                .await?
                .rows_affected();
        }
        if let Some(max) = retention.dead_letters_max {
            // The id of the newest letter that is one too many, if there is one.
            let beyond: Option<i64> = sqlx::query_scalar(
                &self.sql("SELECT id FROM dead_letters ORDER BY id DESC LIMIT 1 OFFSET ?"),
            )
            .bind(int(max, "dead_letters_max")?)
            .fetch_optional(&self.pool)
            .await?;
            if let Some(id) = beyond {
                deleted += sqlx::query(&self.sql("DELETE FROM dead_letters WHERE id <= ?"))
                    .bind(id)
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
            }
        }
        Ok(deleted)
    }
}

//! Each source's status ([`SourceStatuses`]): runs summed into one row per source.

use async_trait::async_trait;
use sqlx::{Connection, Row};

use super::{SqlStore, int, text, text_not_null, truncated, unsigned};
use crate::{Result, SourceStatus, SourceStatuses};

#[async_trait]
impl SourceStatuses for SqlStore {
    async fn add_source_runs(&self, runs: &[SourceStatus]) -> Result<()> {
        use crate::Merge::{Add, Replace, ReplaceUnlessNull};
        let merge = self.dialect.upsert_merging(
            "source_status",
            &["source"],
            &[
                ("runs", Add),
                ("rows_total", Add),
                ("errors_total", Add),
                ("failures", Add),
                ("last_run_ms", Replace),
                ("last_ok_ms", ReplaceUnlessNull),
                ("last_rows", Replace),
                ("last_errors", Replace),
                ("last_failure", ReplaceUnlessNull),
                ("last_failure_ms", ReplaceUnlessNull),
            ],
        );
        let sql = self.sql(&format!(
            "INSERT INTO source_status (source, kind, runs, rows_total, errors_total, failures, last_run_ms, last_ok_ms, last_rows, last_errors, last_failure, last_failure_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?){merge}"
        ))
        .into_owned();
        let mut conn = self.writer().await?;
        let result = async {
            let mut tx = conn.begin().await?;
            for s in runs {
                sqlx::query(&sql)
                    .bind(truncated(&s.source, 255))
                    .bind(truncated(&s.kind, 32))
                    .bind(int(s.runs, "runs")?)
                    .bind(int(s.rows, "rows")?)
                    .bind(int(s.errors, "errors")?)
                    .bind(int(s.failures, "failures")?)
                    .bind(s.last_run_ms)
                    .bind(s.last_ok_ms)
                    .bind(int(s.last_rows, "rows")?)
                    .bind(int(s.last_errors, "errors")?)
                    .bind(s.last_failure.as_deref().map(|f| truncated(f, 4096)))
                    .bind(s.last_failure_ms)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(())
        }
        .await;
        Self::settle(&mut conn, result)
    }

    async fn source_statuses(&self) -> Result<Vec<SourceStatus>> {
        let rows = sqlx::query(
            "SELECT source, kind, runs, rows_total, errors_total, failures, last_run_ms, last_ok_ms, last_rows, last_errors, last_failure, last_failure_ms FROM source_status ORDER BY source",
        )
        .fetch_all(&self.pool)
        .await?;
        let count = |r: &sqlx::any::AnyRow, c: &str| unsigned::<u64>(r, c);
        rows.iter()
            .map(|r| {
                Ok(SourceStatus {
                    source: text_not_null(r, "source")?,
                    kind: text_not_null(r, "kind")?,
                    runs: count(r, "runs")?,
                    rows: count(r, "rows_total")?,
                    errors: count(r, "errors_total")?,
                    failures: count(r, "failures")?,
                    last_run_ms: r.try_get("last_run_ms")?,
                    last_ok_ms: r.try_get("last_ok_ms")?,
                    last_rows: count(r, "last_rows")?,
                    last_errors: count(r, "last_errors")?,
                    last_failure: text(r, "last_failure")?,
                    last_failure_ms: r.try_get("last_failure_ms")?,
                })
            })
            .collect()
    }
}

//! Dead letters as stored ([`DeadLetters`]; written by [`crate::Commits::commit_batch`]).

use async_trait::async_trait;
use sqlx::Row;
use tributary_schema::DeadLetter;

use super::{SqlStore, count, text_not_null, unsigned};
use crate::{DeadLetters, Result, StoredDeadLetter};

#[async_trait]
impl DeadLetters for SqlStore {
    async fn dead_letters(
        &self,
        source: Option<&str>,
        limit: u32,
        before_id: Option<i64>,
    ) -> Result<Vec<StoredDeadLetter>> {
        // The optional filters are added only when given: `? IS NULL` on an untyped NULL is
        // ambiguous to PostgreSQL.
        let mut sql = String::from(
            "SELECT id, source, position, reason, raw, raw_len, time_ms FROM dead_letters WHERE 1 = 1",
        );
        if source.is_some() {
            sql.push_str(" AND source = ?");
        }
        if before_id.is_some() {
            sql.push_str(" AND id < ?");
        }
        sql.push_str(" ORDER BY id DESC LIMIT ?");
        let sql = self.sql(&sql);
        let mut q = sqlx::query(&sql);
        if let Some(source) = source {
            q = q.bind(source);
        }
        if let Some(before_id) = before_id {
            q = q.bind(before_id);
        }
        let rows = q.bind(i64::from(limit)).fetch_all(&self.pool).await?;
        rows.into_iter()
            .map(|r| {
                Ok(StoredDeadLetter {
                    id: r.try_get("id")?,
                    letter: DeadLetter {
                        source: text_not_null(&r, "source")?,
                        position: text_not_null(&r, "position")?,
                        reason: text_not_null(&r, "reason")?,
                        raw: r.try_get("raw")?,
                        raw_len: unsigned::<u64>(&r, "raw_len")?,
                        time_ms: r.try_get("time_ms")?,
                    },
                })
            })
            .collect()
    }

    async fn dead_letter_count(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM dead_letters").fetch_one(&self.pool).await?;
        count(n, "the number of dead letters")
    }
}

//! The embedded serving store: one SQLite file (WAL mode) in the data directory.
//!
//! `synchronous = NORMAL` in WAL mode: a commit survives the process being killed; after a power
//! loss the newest commits may be rolled back, consistently, together with the offsets they
//! carried, so a processor redoes that work instead of losing or doubling it.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};
use tributary_schema::DeadLetter;

use crate::migrations::{Migration, SQLITE};
use crate::{
    BatchCommit, CentreRow, KMeansVersionRow, OffsetCheckpoint, OffsetRange, Result, ServingStore,
    StoreError, StoredDeadLetter, ViewPublication, ViewVersionRow,
};

/// The SQLite [`ServingStore`].
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and applies pending migrations.
    ///
    /// Opening races with other openers of the same file (other processes, or tasks of this one):
    /// while a new file is switched to WAL mode, SQLite answers `SQLITE_BUSY` at once instead of
    /// calling the busy handler whenever waiting could deadlock. Such an open is retried, with
    /// growing pauses, for up to [`OPEN_TIMEOUT`].
    pub async fn open(path: &Path) -> Result<Self> {
        let deadline = tokio::time::Instant::now() + OPEN_TIMEOUT;
        let mut pause = Duration::from_millis(5);
        loop {
            match Self::open_once(path).await {
                Err(e) if is_busy(&e) && tokio::time::Instant::now() + pause < deadline => {
                    tracing::debug!(path = %path.display(), error = %e, "store busy while opening; retrying");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(250));
                }
                other => return other,
            }
        }
    }

    async fn open_once(path: &Path) -> Result<Self> {
        let opts = SqliteConnectOptions::from_str("sqlite://")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(OPEN_TIMEOUT);
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(opts).await?;
        if let Err(e) = migrate(&pool, SQLITE).await {
            pool.close().await;
            return Err(e);
        }
        Ok(Self { pool })
    }

    /// Closes the connections.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// How long opening the store waits for other openers and writers before giving up.
pub const OPEN_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether an error is SQLite's "database is locked" (`SQLITE_BUSY`, code 5) or "table is
/// locked" (`SQLITE_LOCKED`, code 6), including their extended codes.
fn is_busy(e: &StoreError) -> bool {
    let StoreError::Database(sqlx::Error::Database(db)) = e else { return false };
    db.code().and_then(|c| c.parse::<i32>().ok()).is_some_and(|c| matches!(c & 0xff, 5 | 6))
}

/// Applies the migrations not yet recorded, in one transaction that holds SQLite's write lock
/// from the start (`BEGIN IMMEDIATE`), so that two processes opening the store at once cannot both
/// apply the same migration: the second waits, then finds it applied.
async fn migrate(pool: &SqlitePool, migrations: &[Migration]) -> Result<()> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_ms BIGINT NOT NULL)",
    )
    .execute(&mut *tx)
    .await?;
    let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations ORDER BY version")
        .fetch_all(&mut *tx)
        .await?;
    let newest_known = migrations.last().map_or(0, |m| m.version);
    if let Some(newest) = applied.last()
        && *newest > newest_known
    {
        return Err(StoreError::Invalid(format!(
            "the store's schema is at version {newest}, newer than this build knows ({newest_known}); use a newer tributary"
        )));
    }
    // Collected first: an iterator adapter's closure held across awaits makes the future not Send.
    let pending: Vec<&Migration> = migrations.iter().filter(|m| !applied.contains(&m.version)).collect();
    for m in pending {
        // One statement at a time (sqlx's multi-statement `raw_sql` future is not Send).
        for statement in m.statements() {
            sqlx::query(&statement).execute(&mut *tx).await?;
        }
        sqlx::query("INSERT INTO schema_migrations (version, name, applied_ms) VALUES (?, ?, ?)")
            .bind(m.version)
            .bind(m.name)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        tracing::info!(version = m.version, name = m.name, "applied store migration");
    }
    tx.commit().await?;
    Ok(())
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

fn int(v: u64, what: &str) -> Result<i64> {
    i64::try_from(v)
        .map_err(|_| StoreError::Invalid(format!("{what} {v} does not fit a signed 64-bit column")))
}

async fn insert_version(tx: &mut Transaction<'_, Sqlite>, v: &KMeansVersionRow) -> Result<()> {
    let version = int(v.version, "version")?;
    sqlx::query(
        "INSERT INTO kmeans_versions (model, version, created_ms, batch_points, k, projection, split_largest, split_smallest) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&v.model)
    .bind(version)
    .bind(v.created_ms)
    .bind(int(v.batch_points, "batch_points")?)
    .bind(v.centres.len() as i64)
    .bind(&v.projection)
    .bind(v.split.map(|s| i64::from(s.0)))
    .bind(v.split.map(|s| i64::from(s.1)))
    .execute(&mut **tx)
    .await?;
    // One statement for all centres (SQLite, MySQL and PostgreSQL all take multi-row VALUES).
    if !v.centres.is_empty() {
        let rows = vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?)"; v.centres.len()].join(", ");
        let sql = format!(
            "INSERT INTO kmeans_centres (model, version, cluster, lat, lon, weight, batch_count, x, y) VALUES {rows}"
        );
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
    for o in &v.offsets {
        sqlx::query(
            "INSERT INTO kmeans_version_offsets (model, version, topic, partition_id, from_offset, to_offset) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&v.model)
        .bind(version)
        .bind(&o.topic)
        .bind(i64::from(o.partition))
        .bind(int(o.from, "offset")?)
        .bind(int(o.to, "offset")?)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

async fn load_versions(
    pool: &SqlitePool,
    model: &str,
    rows: Vec<sqlx::sqlite::SqliteRow>,
) -> Result<Vec<KMeansVersionRow>> {
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let version: i64 = r.try_get("version")?;
        let centres = sqlx::query(
            "SELECT cluster, lat, lon, weight, batch_count, x, y FROM kmeans_centres WHERE model = ? AND version = ? ORDER BY cluster",
        )
        .bind(model)
        .bind(version)
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(|c| {
            Ok(CentreRow {
                cluster: c.try_get::<i64, _>("cluster")? as u32,
                lat: c.try_get("lat")?,
                lon: c.try_get("lon")?,
                weight: c.try_get("weight")?,
                batch_count: c.try_get::<i64, _>("batch_count")? as u64,
                x: c.try_get("x")?,
                y: c.try_get("y")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
        let offsets = sqlx::query(
            "SELECT topic, partition_id, from_offset, to_offset FROM kmeans_version_offsets WHERE model = ? AND version = ? ORDER BY topic, partition_id",
        )
        .bind(model)
        .bind(version)
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(|o| {
            Ok(OffsetRange {
                topic: o.try_get("topic")?,
                partition: o.try_get::<i64, _>("partition_id")? as u32,
                from: o.try_get::<i64, _>("from_offset")? as u64,
                to: o.try_get::<i64, _>("to_offset")? as u64,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
        let split_largest: Option<i64> = r.try_get("split_largest")?;
        let split_smallest: Option<i64> = r.try_get("split_smallest")?;
        out.push(KMeansVersionRow {
            model: model.to_string(),
            version: version as u64,
            created_ms: r.try_get("created_ms")?,
            batch_points: r.try_get::<i64, _>("batch_points")? as u64,
            projection: r.try_get("projection")?,
            split: split_largest.zip(split_smallest).map(|(a, b)| (a as u32, b as u32)),
            centres,
            offsets,
        });
    }
    Ok(out)
}

#[async_trait]
impl ServingStore for SqliteStore {
    async fn commit_batch(&self, commit: &BatchCommit) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        if let Some(v) = &commit.version {
            insert_version(&mut tx, v).await?;
        }
        for o in &commit.offsets {
            sqlx::query(
                "INSERT INTO processor_offsets (processor, topic, partition_id, next_offset) VALUES (?, ?, ?, ?) \
                 ON CONFLICT (processor, topic, partition_id) DO UPDATE SET next_offset = excluded.next_offset",
            )
            .bind(&commit.processor)
            .bind(&o.topic)
            .bind(i64::from(o.partition))
            .bind(int(o.next_offset, "offset")?)
            .execute(&mut *tx)
            .await?;
        }
        for d in &commit.dead_letters {
            sqlx::query("INSERT INTO dead_letters (source, position, reason, raw, raw_len, time_ms) VALUES (?, ?, ?, ?, ?, ?)")
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

    async fn processor_offsets(&self, processor: &str) -> Result<Vec<OffsetCheckpoint>> {
        let rows = sqlx::query(
            "SELECT topic, partition_id, next_offset FROM processor_offsets WHERE processor = ? ORDER BY topic, partition_id",
        )
        .bind(processor)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(OffsetCheckpoint {
                    topic: r.try_get("topic")?,
                    partition: r.try_get::<i64, _>("partition_id")? as u32,
                    next_offset: r.try_get::<i64, _>("next_offset")? as u64,
                })
            })
            .collect()
    }

    async fn latest_kmeans(&self, model: &str) -> Result<Option<KMeansVersionRow>> {
        let rows = sqlx::query("SELECT * FROM kmeans_versions WHERE model = ? ORDER BY version DESC LIMIT 1")
            .bind(model)
            .fetch_all(&self.pool)
            .await?;
        Ok(load_versions(&self.pool, model, rows).await?.pop())
    }

    async fn kmeans_history(
        &self,
        model: &str,
        from: u64,
        to: u64,
        limit: u32,
    ) -> Result<Vec<KMeansVersionRow>> {
        let rows = sqlx::query(
            "SELECT * FROM kmeans_versions WHERE model = ? AND version BETWEEN ? AND ? ORDER BY version LIMIT ?",
        )
        .bind(model)
        .bind(int(from, "version")?)
        .bind(int(to.min(i64::MAX as u64), "version")?)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        load_versions(&self.pool, model, rows).await
    }

    async fn kmeans_points(&self, model: &str) -> Result<u64> {
        let n: i64 =
            sqlx::query_scalar("SELECT COALESCE(SUM(batch_points), 0) FROM kmeans_versions WHERE model = ?")
                .bind(model)
                .fetch_one(&self.pool)
                .await?;
        Ok(n as u64)
    }

    async fn dead_letters(
        &self,
        source: Option<&str>,
        limit: u32,
        before_id: Option<i64>,
    ) -> Result<Vec<StoredDeadLetter>> {
        let rows = sqlx::query(
            "SELECT id, source, position, reason, raw, raw_len, time_ms FROM dead_letters \
             WHERE (? IS NULL OR source = ?) AND (? IS NULL OR id < ?) ORDER BY id DESC LIMIT ?",
        )
        .bind(source)
        .bind(source)
        .bind(before_id)
        .bind(before_id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(StoredDeadLetter {
                    id: r.try_get("id")?,
                    letter: DeadLetter {
                        source: r.try_get("source")?,
                        position: r.try_get("position")?,
                        reason: r.try_get("reason")?,
                        raw: r.try_get("raw")?,
                        raw_len: r.try_get::<i64, _>("raw_len")? as u64,
                        time_ms: r.try_get("time_ms")?,
                    },
                })
            })
            .collect()
    }

    async fn publish_view(&self, publication: &ViewPublication<'_>) -> Result<ViewVersionRow> {
        views::publish(&self.pool, publication).await
    }

    async fn current_views(&self) -> Result<Vec<ViewVersionRow>> {
        views::current(&self.pool, None).await
    }

    async fn current_view(&self, view: &str) -> Result<Option<ViewVersionRow>> {
        Ok(views::current(&self.pool, Some(view)).await?.pop())
    }

    async fn dead_letter_count(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM dead_letters").fetch_one(&self.pool).await?;
        Ok(n as u64)
    }
}

mod views;

#[cfg(test)]
mod tests;

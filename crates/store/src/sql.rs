//! The serving store on a SQL database: SQLite (the embedded default, one file in the data
//! directory), PostgreSQL or MySQL/MariaDB, chosen by URL. One implementation serves all three
//! through sqlx's `Any` driver; [`Dialect`] holds what differs.
//!
//! SQLite runs in WAL mode with `synchronous = NORMAL`: a commit survives the process being
//! killed; after a power loss the newest commits may be rolled back, consistently, together with
//! the offsets they carried, so a processor redoes that work instead of losing or doubling it.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Once;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::pool::PoolConnection;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Any, AnyPool, ConnectOptions, Connection, Executor, Row, Transaction};
use tributary_schema::DeadLetter;

use crate::dialect::Dialect;
use crate::migrations::migrate;
use crate::{
    BatchCommit, CentreRow, ClusterCount, KMeansVersionRow, OffsetCheckpoint, OffsetRange, Result, Retention,
    RetentionReport, ServingStore, SourceStatus, StoreChange, StoreError, StoredDeadLetter, ViewPublication,
    ViewQuery, ViewRows, ViewVersionRow,
};

/// The [`ServingStore`] on SQLite, PostgreSQL or MySQL/MariaDB.
#[derive(Clone)]
pub struct SqlStore {
    pool: AnyPool,
    dialect: Dialect,
    changes: tokio::sync::broadcast::Sender<StoreChange>,
}

impl std::fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStore").field("dialect", &self.dialect).finish_non_exhaustive()
    }
}

/// How long opening the store waits for other openers and writers before giving up.
pub const OPEN_TIMEOUT: Duration = Duration::from_secs(10);

impl SqlStore {
    /// Connects to the store at `url` (`sqlite://PATH`, `postgres://…`, `mysql://…`) and applies
    /// pending migrations.
    pub async fn connect(url: &str) -> Result<Self> {
        match Dialect::of_url(url) {
            Some(Dialect::Sqlite) => {
                let options: SqliteConnectOptions = url.parse()?;
                Self::open_sqlite(options.get_filename()).await
            }
            Some(dialect) => Self::connect_server(url, dialect).await,
            None => Err(StoreError::Invalid(format!(
                "{}: not a store URL; accepted: sqlite://PATH, postgres://…, mysql://…",
                redacted(url)
            ))),
        }
    }

    /// Opens (creating if needed) a SQLite file and applies pending migrations.
    ///
    /// Opening races with other openers of the same file (other processes, or tasks of this one):
    /// while a new file is switched to WAL mode, SQLite answers `SQLITE_BUSY` at once instead of
    /// calling the busy handler whenever waiting could deadlock. Such an open is retried, with
    /// growing pauses, for up to [`OPEN_TIMEOUT`].
    pub async fn open_sqlite(path: &Path) -> Result<Self> {
        let deadline = tokio::time::Instant::now() + OPEN_TIMEOUT;
        let mut pause = Duration::from_millis(5);
        loop {
            match Self::open_sqlite_once(path).await {
                Err(e) if is_busy(&e) && tokio::time::Instant::now() + pause < deadline => {
                    tracing::debug!(path = %path.display(), error = %e, "store busy while opening; retrying");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(250));
                }
                other => return other,
            }
        }
    }

    async fn open_sqlite_once(path: &Path) -> Result<Self> {
        install_drivers();
        let url = SqliteConnectOptions::new().filename(path).create_if_missing(true).to_url_lossy();
        let options = AnyConnectOptions::from_url(&url)?;
        let pool = AnyPoolOptions::new()
            .max_connections(4)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    // Neither pragma takes a lock, so a new connection never fails here (sqlx
                    // logs a failed `after_connect` as an error even when the open is retried).
                    conn.execute("PRAGMA busy_timeout = 10000; PRAGMA synchronous = NORMAL").await?;
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        // WAL mode is kept in the file, so it is switched once per open; switching needs the
        // write lock and may answer `SQLITE_BUSY`, which `open_sqlite` retries.
        if let Err(e) = sqlx::query("PRAGMA journal_mode = WAL").execute(&pool).await {
            pool.close().await;
            return Err(e.into());
        }
        Self::migrated(pool, Dialect::Sqlite).await
    }

    async fn connect_server(url: &str, dialect: Dialect) -> Result<Self> {
        install_drivers();
        let options: AnyConnectOptions = url.parse()?;
        let pool = AnyPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(OPEN_TIMEOUT)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if dialect == Dialect::MySql {
                        // Double quotes quote identifiers, as in SQLite and PostgreSQL.
                        conn.execute("SET SESSION sql_mode = CONCAT(@@sql_mode, ',ANSI_QUOTES')").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Invalid(format!("cannot connect to {}: {e}", redacted(url))))?;
        Self::migrated(pool, dialect).await
    }

    async fn migrated(pool: AnyPool, dialect: Dialect) -> Result<Self> {
        if let Err(e) = migrate(&pool, dialect).await {
            pool.close().await;
            return Err(e);
        }
        // Subscribers that fall this far behind miss changes and are told so (`Lagged`).
        let (changes, _) = tokio::sync::broadcast::channel(1024);
        Ok(Self { pool, dialect, changes })
    }

    /// Which database this store talks to.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Closes the connections.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// `sql` in this store's dialect (see [`Dialect::sql`]).
    fn sql<'a>(&self, sql: &'a str) -> std::borrow::Cow<'a, str> {
        self.dialect.sql(sql)
    }
}

/// Registers sqlx's drivers for the `Any` pool (once per process).
fn install_drivers() {
    static ONCE: Once = Once::new();
    ONCE.call_once(sqlx::any::install_default_drivers);
}

/// A URL without its password, for messages (even a URL too broken to parse).
pub fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rsplit_once('@') {
        Some((user_info, host)) if user_info.contains(':') => {
            let user = user_info.split_once(':').map_or(user_info, |(u, _)| u);
            format!("{scheme}://{user}:***@{host}{}", &rest[authority_end..])
        }
        _ => url.to_string(),
    }
}

/// Whether an error is SQLite's "database is locked" (`SQLITE_BUSY`, code 5) or "table is
/// locked" (`SQLITE_LOCKED`, code 6), including their extended codes.
fn is_busy(e: &StoreError) -> bool {
    let StoreError::Database(sqlx::Error::Database(db)) = e else { return false };
    db.code().and_then(|c| c.parse::<i32>().ok()).is_some_and(|c| matches!(c & 0xff, 5 | 6))
}

/// A text column. MySQL's `TEXT` columns reach sqlx's `Any` driver as blobs; their bytes are
/// the UTF-8 text.
pub(crate) fn text<I: sqlx::ColumnIndex<sqlx::any::AnyRow> + Copy>(
    row: &sqlx::any::AnyRow,
    column: I,
) -> Result<Option<String>, sqlx::Error> {
    match row.try_get::<Option<String>, _>(column) {
        Ok(text) => Ok(text),
        Err(e) => match row.try_get::<Option<Vec<u8>>, _>(column) {
            Ok(bytes) => {
                bytes.map(|b| String::from_utf8(b).map_err(|u| sqlx::Error::Decode(Box::new(u)))).transpose()
            }
            Err(_) => Err(e),
        },
    }
}

/// A text column that is never NULL.
pub(crate) fn text_not_null(row: &sqlx::any::AnyRow, column: &str) -> Result<String, sqlx::Error> {
    text(row, column)?.ok_or_else(|| sqlx::Error::ColumnNotFound(format!("{column} is NULL")))
}

/// At most `max` characters of `s` (cut at a character boundary).
fn truncated(s: &str, max: usize) -> &str {
    s.char_indices().nth(max).map_or(s, |(end, _)| &s[..end])
}

fn int(v: u64, what: &str) -> Result<i64> {
    i64::try_from(v)
        .map_err(|_| StoreError::Invalid(format!("{what} {v} does not fit a signed 64-bit column")))
}

/// A number for a nullable REAL column: NaN and infinities have no portable SQL form (SQLite
/// stores NaN as NULL, MySQL refuses both), so they are refused here, naming the column.
fn finite(v: Option<f64>, what: &str) -> Result<Option<f64>> {
    match v {
        Some(x) if !x.is_finite() => Err(StoreError::Invalid(format!("{what} {x} is not a finite number"))),
        _ => Ok(v),
    }
}

/// An `Any` query with its arguments.
type AnyQuery<'q> = sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>;

/// Binds a nullable double. sqlx 0.8.6's `Any` driver sends a NULL f64 to PostgreSQL as a
/// float4 and a NULL f32 as a float8 (its two arms are swapped); a float4 fixes the prepared
/// statement's parameter type on that connection, and every later f64 bound to it fails with
/// "incorrect binary data format". So NULLs go as f32, which arrives as the float8 it should be.
fn bind_real(q: AnyQuery<'_>, v: Option<f64>) -> AnyQuery<'_> {
    match v {
        None => q.bind(None::<f32>),
        Some(x) => q.bind(x),
    }
}

impl SqlStore {
    /// A connection for a write transaction, to be handed back through [`Self::settle`].
    async fn writer(&self) -> Result<PoolConnection<Any>> {
        Ok(self.pool.acquire().await?)
    }

    /// Passes `result` on; after a failure the connection is closed instead of going back to
    /// the pool. SQLite rolls a transaction back by itself after some failures (a full disk),
    /// which leaves sqlx's count of open transactions on that connection wrong: its next
    /// transaction would then begin as a savepoint that a failure never ends, and keep the
    /// database locked for every other connection.
    fn settle<T>(conn: &mut PoolConnection<Any>, result: Result<T>) -> Result<T> {
        if result.is_err() {
            conn.close_on_drop();
        }
        result
    }

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
            let partition = r.try_get::<i64, _>("partition_id")? as u32;
            stored
                .insert((text_not_null(r, "topic")?, partition), r.try_get::<i64, _>("next_offset")? as u64);
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
            "INSERT INTO kmeans_versions (model, version, created_ms, batch_points, batches, k, projection, split_largest, split_smallest, sum_of_squares, silhouette) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        );
        let q = sqlx::query(&sql)
            .bind(&v.model)
            .bind(version)
            .bind(v.created_ms)
            .bind(int(v.batch_points, "batch_points")?)
            .bind(int(v.batches, "batches")?)
            .bind(v.centres.len() as i64)
            .bind(&v.projection)
            .bind(v.split.map(|s| i64::from(s.0)))
            .bind(v.split.map(|s| i64::from(s.1)));
        let q = bind_real(q, finite(v.sum_of_squares, "sum_of_squares")?);
        bind_real(q, finite(v.silhouette, "silhouette")?).execute(&mut **tx).await?;
        // One statement for all centres (SQLite, MySQL and PostgreSQL all take multi-row VALUES).
        if !v.centres.is_empty() {
            let rows = vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?)"; v.centres.len()].join(", ");
            let sql = self.sql(&format!(
                "INSERT INTO kmeans_centres (model, version, cluster, lat, lon, weight, batch_count, x, y) VALUES {rows}"
            ))
            .into_owned();
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
            sqlx::query(&self.sql(
                "INSERT INTO kmeans_version_offsets (model, version, topic, partition_id, from_offset, to_offset) VALUES (?, ?, ?, ?, ?, ?)",
            ))
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

    /// Builds version rows from `rows` (of [`VERSION_COLUMNS`], ascending or descending by
    /// version): their centres and offset ranges are read in one query each for the whole page,
    /// not per version, so a page of history costs three queries.
    async fn load_versions(
        &self,
        model: &str,
        rows: Vec<sqlx::any::AnyRow>,
    ) -> Result<Vec<KMeansVersionRow>> {
        let versions: Vec<i64> =
            rows.iter().map(|r| r.try_get("version")).collect::<Result<_, sqlx::Error>>()?;
        let (Some(&lo), Some(&hi)) = (versions.iter().min(), versions.iter().max()) else {
            return Ok(Vec::new());
        };
        let mut centres: BTreeMap<i64, Vec<CentreRow>> = BTreeMap::new();
        for c in sqlx::query(&self.sql(
            "SELECT version, cluster, lat, lon, weight, batch_count, x, y FROM kmeans_centres WHERE model = ? AND version BETWEEN ? AND ? ORDER BY version, cluster",
        ))
        .bind(model)
        .bind(lo)
        .bind(hi)
        .fetch_all(&self.pool)
        .await?
        {
            centres.entry(c.try_get("version")?).or_default().push(CentreRow {
                cluster: c.try_get::<i64, _>("cluster")? as u32,
                lat: c.try_get("lat")?,
                lon: c.try_get("lon")?,
                weight: c.try_get("weight")?,
                batch_count: c.try_get::<i64, _>("batch_count")? as u64,
                x: c.try_get("x")?,
                y: c.try_get("y")?,
            });
        }
        let mut offsets: BTreeMap<i64, Vec<OffsetRange>> = BTreeMap::new();
        for o in sqlx::query(&self.sql(
            "SELECT version, topic, partition_id, from_offset, to_offset FROM kmeans_version_offsets WHERE model = ? AND version BETWEEN ? AND ? ORDER BY version, topic, partition_id",
        ))
        .bind(model)
        .bind(lo)
        .bind(hi)
        .fetch_all(&self.pool)
        .await?
        {
            offsets.entry(o.try_get("version")?).or_default().push(OffsetRange {
                topic: text_not_null(&o, "topic")?,
                partition: o.try_get::<i64, _>("partition_id")? as u32,
                from: o.try_get::<i64, _>("from_offset")? as u64,
                to: o.try_get::<i64, _>("to_offset")? as u64,
            });
        }
        let mut out = Vec::with_capacity(rows.len());
        for (r, version) in rows.iter().zip(versions) {
            let split_largest: Option<i64> = r.try_get("split_largest")?;
            let split_smallest: Option<i64> = r.try_get("split_smallest")?;
            out.push(KMeansVersionRow {
                model: model.to_string(),
                version: version as u64,
                created_ms: r.try_get("created_ms")?,
                batch_points: r.try_get::<i64, _>("batch_points")? as u64,
                batches: r.try_get::<i64, _>("batches")? as u64,
                projection: text_not_null(r, "projection")?,
                split: split_largest.zip(split_smallest).map(|(a, b)| (a as u32, b as u32)),
                sum_of_squares: r.try_get("sum_of_squares")?,
                silhouette: r.try_get("silhouette")?,
                centres: centres.remove(&version).unwrap_or_default(),
                offsets: offsets.remove(&version).unwrap_or_default(),
            });
        }
        Ok(out)
    }
}

/// The columns of a k-means version row, in the order `load_versions` reads them.
const VERSION_COLUMNS: &str = "model, version, created_ms, batch_points, batches, k, projection, split_largest, split_smallest, sum_of_squares, silhouette";

#[async_trait]
impl ServingStore for SqlStore {
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
                        partition: r.try_get::<i64, _>("partition_id")? as u32,
                        next_offset: r.try_get::<i64, _>("next_offset")? as u64,
                    },
                ))
            })
            .collect()
    }

    async fn latest_kmeans(&self, model: &str) -> Result<Option<KMeansVersionRow>> {
        let rows = sqlx::query(&self.sql(&format!(
            "SELECT {VERSION_COLUMNS} FROM kmeans_versions WHERE model = ? ORDER BY version DESC LIMIT 1"
        )))
        .bind(model)
        .fetch_all(&self.pool)
        .await?;
        Ok(self.load_versions(model, rows).await?.pop())
    }

    async fn kmeans_history(
        &self,
        model: &str,
        from: u64,
        to: u64,
        limit: u32,
    ) -> Result<Vec<KMeansVersionRow>> {
        let rows = sqlx::query(&self.sql(&format!(
            "SELECT {VERSION_COLUMNS} FROM kmeans_versions WHERE model = ? AND version BETWEEN ? AND ? ORDER BY version LIMIT ?"
        )))
        .bind(model)
        .bind(int(from.min(i64::MAX as u64), "version")?)
        .bind(int(to.min(i64::MAX as u64), "version")?)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        self.load_versions(model, rows).await
    }

    async fn kmeans_points(&self, model: &str) -> Result<u64> {
        let sum = self.dialect.as_bigint("COALESCE(SUM(batch_points), 0)");
        let n: i64 =
            sqlx::query_scalar(&self.sql(&format!("SELECT {sum} FROM kmeans_versions WHERE model = ?")))
                .bind(model)
                .fetch_one(&self.pool)
                .await?;
        Ok(n as u64)
    }

    async fn kmeans_cluster_counts(&self, model: &str, since_ms: i64) -> Result<Vec<ClusterCount>> {
        let (points, versions) =
            (self.dialect.as_bigint("SUM(c.batch_count)"), self.dialect.as_bigint("COUNT(*)"));
        let rows = sqlx::query(&self.sql(&format!(
            "SELECT c.cluster, {points} AS points, {versions} AS versions FROM kmeans_versions v \
             JOIN kmeans_centres c ON c.model = v.model AND c.version = v.version \
             WHERE v.model = ? AND v.created_ms >= ? GROUP BY c.cluster ORDER BY c.cluster"
        )))
        .bind(model)
        .bind(since_ms)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ClusterCount {
                    cluster: r.try_get::<i64, _>("cluster")? as u32,
                    points: r.try_get::<i64, _>("points")? as u64,
                    versions: r.try_get::<i64, _>("versions")? as u64,
                })
            })
            .collect()
    }

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
                        raw_len: r.try_get::<i64, _>("raw_len")? as u64,
                        time_ms: r.try_get("time_ms")?,
                    },
                })
            })
            .collect()
    }

    async fn dead_letter_count(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM dead_letters").fetch_one(&self.pool).await?;
        Ok(n as u64)
    }

    async fn publish_view(&self, publication: &ViewPublication<'_>) -> Result<ViewVersionRow> {
        let published = views::publish(self, publication).await?;
        let _ =
            self.changes.send(StoreChange::View { view: published.view.clone(), version: published.version });
        Ok(published)
    }

    async fn current_views(&self) -> Result<Vec<ViewVersionRow>> {
        views::versions(self, None, None).await
    }

    async fn current_view(&self, view: &str) -> Result<Option<ViewVersionRow>> {
        Ok(views::versions(self, Some(view), None).await?.pop())
    }

    async fn query_view(&self, query: &ViewQuery) -> Result<ViewRows> {
        views::query(self, query).await
    }

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
        let count = |r: &sqlx::any::AnyRow, c: &str| r.try_get::<i64, _>(c).map(|n| n.max(0) as u64);
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

    async fn apply_retention(&self, retention: &Retention, now_ms: i64) -> Result<RetentionReport> {
        self.retain(retention, now_ms).await
    }

    fn subscribe(&self) -> tokio::sync::broadcast::Receiver<StoreChange> {
        self.changes.subscribe()
    }
}

mod retention;
mod views;

#[cfg(test)]
mod tests;

/// Whether a database error means that a concurrent transaction won: SQLite's busy codes (a
/// stale snapshot that wanted to write), a serialization failure or a deadlock.
fn lost_a_race(e: &dyn sqlx::error::DatabaseError) -> bool {
    matches!(e.code().as_deref(), Some("5" | "517" | "261" | "40001" | "40P01" | "1213"))
}

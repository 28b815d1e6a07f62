//! The serving store on a SQL database: SQLite (the embedded default, one file in the data
//! directory), PostgreSQL or MySQL/MariaDB, chosen by URL. One implementation serves all three
//! through sqlx's `Any` driver; [`Dialect`] holds what differs.
//!
//! SQLite runs in WAL mode with `synchronous = NORMAL`: a commit survives the process being
//! killed; after a power loss the newest commits may be rolled back, consistently, together with
//! the offsets they carried, so a processor redoes that work instead of losing or doubling it.

use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::pool::PoolConnection;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Any, AnyPool, ConnectOptions, Executor, Row};

use crate::dialect::Dialect;
use crate::migrations::migrate;
use crate::{Result, Retention, RetentionReport, ServingStore, StoreChange, StoreError};

/// The [`ServingStore`] on SQLite, PostgreSQL or MySQL/MariaDB.
#[derive(Clone)]
pub struct SqlStore {
    pool: AnyPool,
    dialect: Dialect,
    /// Where the database is, for the connections of their own that bulk fills open.
    location: Location,
    changes: tokio::sync::broadcast::Sender<StoreChange>,
}

/// Where a store's database is.
#[derive(Debug, Clone)]
enum Location {
    /// A SQLite file.
    SqliteFile(PathBuf),
    /// A database server, by URL (PostgreSQL, MySQL/MariaDB).
    Server(String),
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
        Self::migrated(pool, Dialect::Sqlite, Location::SqliteFile(path.to_path_buf())).await
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
        Self::migrated(pool, dialect, Location::Server(url.to_string())).await
    }

    async fn migrated(pool: AnyPool, dialect: Dialect, location: Location) -> Result<Self> {
        if let Err(e) = migrate(&pool, dialect).await {
            pool.close().await;
            return Err(e);
        }
        // Subscribers that fall this far behind miss changes and are told so (`Lagged`).
        let (changes, _) = tokio::sync::broadcast::channel(1024);
        Ok(Self { pool, dialect, location, changes })
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
/// A column holding a count, an offset, a version or a cluster, read into its unsigned type: a
/// value that does not fit (negative, or too large) is an error naming the column, never wrapped.
pub(crate) fn unsigned<T: TryFrom<i64>>(row: &sqlx::any::AnyRow, column: &str) -> Result<T> {
    let v: i64 = row.try_get(column)?;
    T::try_from(v)
        .map_err(|_| StoreError::Invalid(format!("column {column} holds {v}, which is out of range")))
}

/// A count a query computed, checked like [`unsigned`].
pub(crate) fn count(n: i64, what: &str) -> Result<u64> {
    u64::try_from(n).map_err(|_| StoreError::Invalid(format!("{what} is {n}")))
}

/// `INSERT INTO table (columns) VALUES (?, …), (?, …), …` for `rows` rows, in the store's
/// placeholder style: one statement for many rows (SQLite, MySQL and PostgreSQL all take
/// multi-row `VALUES`).
pub(crate) fn insert_rows(store: &SqlStore, table: &str, columns: &[&str], rows: usize) -> String {
    let row = format!("({})", vec!["?"; columns.len()].join(", "));
    let sql = format!(
        "INSERT INTO {table} ({}) VALUES {}",
        columns.join(", "),
        vec![row.as_str(); rows].join(", ")
    );
    store.sql(&sql).into_owned()
}

/// The columns of a version's offset ranges (written by commits and by retention's folds).
pub(crate) const OFFSET_RANGE_COLUMNS: [&str; 6] =
    ["model", "version", "topic", "partition_id", "from_offset", "to_offset"];

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
}

#[async_trait]
impl ServingStore for SqlStore {
    async fn apply_retention(&self, retention: &Retention, now_ms: i64) -> Result<RetentionReport> {
        self.retain(retention, now_ms).await
    }

    fn subscribe(&self) -> tokio::sync::broadcast::Receiver<StoreChange> {
        self.changes.subscribe()
    }
}

mod bulk;
mod commits;
mod dead_letters;
mod models;
mod retention;
mod sources;
mod views;

#[cfg(test)]
mod tests;

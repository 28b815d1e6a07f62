//! Versioned schema migrations: numbered SQL files applied in order, each once, recorded in
//! `schema_migrations`. Every backend has its own folder of the same numbered migrations in its
//! dialect (`migrations/<dialect>/`).
//!
//! Two processes may open one store at the same moment; each backend serialises them so that a
//! migration is applied once: SQLite by its write lock (`BEGIN IMMEDIATE`), PostgreSQL by an
//! advisory lock held by the migrating transaction, MySQL by a named lock (`GET_LOCK`). SQLite
//! and PostgreSQL apply a migration and its record in one transaction; MySQL commits DDL at once,
//! so its migrations are written to be re-run safely.

use sqlx::{Any, AnyPool, Connection, Executor};

use crate::dialect::Dialect;
use crate::{Result, StoreError};

/// A migration: version, name, SQL.
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

impl Migration {
    /// The SQL statements of the migration, without comments. Migration files keep semicolons out
    /// of string literals, so splitting at `;` is exact.
    pub fn statements(&self) -> Vec<String> {
        let without_comments: String = self
            .sql
            .lines()
            .map(|l| l.split_once("--").map_or(l, |(code, _)| code))
            .collect::<Vec<_>>()
            .join("\n");
        without_comments.split(';').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
    }
}

/// The migrations of one dialect, from `migrations/<dialect>/<NNNN>_<name>.sql`.
macro_rules! migrations {
    ($dialect:literal: $(($version:literal, $file:literal, $name:literal)),* $(,)?) => {
        &[$(Migration {
            version: $version,
            name: $name,
            sql: include_str!(concat!("../migrations/", $dialect, "/", $file, "_", $name, ".sql")),
        }),*]
    };
}

const SQLITE: &[Migration] = migrations!("sqlite":
    (1, "0001", "kmeans_offsets_dead_letters"),
    (2, "0002", "batch_view_versions"),
    (3, "0003", "source_status"),
    (4, "0004", "kmeans_versions_by_time"),
    (5, "0005", "kmeans_history_retention"),
    (6, "0006", "kmeans_version_quality"),
    (7, "0007", "kmeans_event_time"),
);
const POSTGRES: &[Migration] = migrations!("postgres":
    (1, "0001", "kmeans_offsets_dead_letters"),
    (2, "0002", "batch_view_versions"),
    (3, "0003", "source_status"),
    (4, "0004", "kmeans_versions_by_time"),
    (5, "0005", "kmeans_history_retention"),
    (6, "0006", "kmeans_version_quality"),
    (7, "0007", "kmeans_event_time"),
);
const MYSQL: &[Migration] = migrations!("mysql":
    (1, "0001", "kmeans_offsets_dead_letters"),
    (2, "0002", "batch_view_versions"),
    (3, "0003", "source_status"),
    (4, "0004", "kmeans_versions_by_time"),
    (5, "0005", "kmeans_history_retention"),
    (6, "0006", "kmeans_version_quality"),
    (7, "0007", "kmeans_event_time"),
);

/// The migrations of a dialect, in order.
pub fn of(dialect: Dialect) -> &'static [Migration] {
    match dialect {
        Dialect::Sqlite => SQLITE,
        Dialect::Postgres => POSTGRES,
        Dialect::MySql => MYSQL,
    }
}

/// An arbitrary constant: the key of PostgreSQL's advisory lock, and MySQL's lock name.
const PG_LOCK_KEY: i64 = 0x7472_6962_7574;
const MYSQL_LOCK: &str = "tributary_schema_migrations";

/// Applies the migrations not yet recorded.
pub async fn migrate(pool: &AnyPool, dialect: Dialect) -> Result<()> {
    let mut conn = pool.acquire().await?;
    if dialect == Dialect::MySql {
        let got: Option<i64> =
            sqlx::query_scalar("SELECT GET_LOCK(?, 60)").bind(MYSQL_LOCK).fetch_one(&mut *conn).await?;
        if got != Some(1) {
            return Err(StoreError::Invalid(
                "another process held the migration lock for 60 s; is a migration stuck?".into(),
            ));
        }
        let applied = apply(&mut conn, dialect).await;
        let released = sqlx::query("SELECT RELEASE_LOCK(?)").bind(MYSQL_LOCK).execute(&mut *conn).await;
        applied?;
        released?;
        return Ok(());
    }
    let mut tx = conn.begin_with(dialect.begin_write()).await?;
    if dialect == Dialect::Postgres {
        sqlx::query(&dialect.sql("SELECT pg_advisory_xact_lock(?)"))
            .bind(PG_LOCK_KEY)
            .execute(&mut *tx)
            .await?;
    }
    apply(&mut tx, dialect).await?;
    tx.commit().await?;
    Ok(())
}

/// Applies the pending migrations on `conn` (a transaction, except on MySQL).
async fn apply(conn: &mut sqlx::AnyConnection, dialect: Dialect) -> Result<()> {
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name VARCHAR(255) NOT NULL, applied_ms BIGINT NOT NULL)",
    )
    .await?;
    let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations ORDER BY version")
        .fetch_all(&mut *conn)
        .await?;
    let migrations = of(dialect);
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
            sqlx::query::<Any>(&statement).execute(&mut *conn).await?;
        }
        sqlx::query(
            &dialect.sql("INSERT INTO schema_migrations (version, name, applied_ms) VALUES (?, ?, ?)"),
        )
        .bind(m.version)
        .bind(m.name)
        .bind(crate::now_ms())
        .execute(&mut *conn)
        .await?;
        tracing::info!(
            version = m.version,
            name = m.name,
            dialect = dialect.name(),
            "applied store migration"
        );
    }
    Ok(())
}

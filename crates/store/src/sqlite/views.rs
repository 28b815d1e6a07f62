//! Publishing batch views to SQLite (see [`crate::published_views`]): the new version's table is
//! created and filled in transactions of [`ROWS_PER_TRANSACTION`] rows (so that other writers,
//! such as the k-means processor, are not held up for the whole fill), then one transaction
//! records the version, which makes it current, and drops the tables older than the previous one.

use sqlx::{Row, Sqlite, SqlitePool};

use super::now_ms;
use crate::published_views::{
    Cell, Column, ColumnKind, VERSION_COLUMN, ViewPublication, ViewVersionRow, cell_columns, check_view_name,
    columns, quoted, table_name,
};
use crate::{Result, StoreError};

/// Rows written per transaction while a new version's table is filled.
const ROWS_PER_TRANSACTION: usize = 50_000;
/// SQLite allows 32,766 bound values per statement; rows per INSERT stay well under it.
const MAX_VALUES_PER_STATEMENT: usize = 8_000;

fn sql_type(kind: ColumnKind) -> &'static str {
    match kind {
        ColumnKind::Integer => "BIGINT",
        ColumnKind::Real => "DOUBLE PRECISION",
        ColumnKind::Text => "TEXT",
        ColumnKind::Boolean => "BOOLEAN",
        ColumnKind::Date => "DATE",
    }
}

pub(super) async fn publish(pool: &SqlitePool, p: &ViewPublication<'_>) -> Result<ViewVersionRow> {
    check_view_name(p.view)?;
    let columns = columns(&p.schema)?;
    let previous: Option<i64> =
        sqlx::query_scalar("SELECT MAX(version) FROM batch_view_versions WHERE view = ?")
            .bind(p.view)
            .fetch_one(pool)
            .await?;
    let version = previous.unwrap_or(0) + 1;
    let table = table_name(p.view, version as u64);

    // A table of this name can only be left over from a publish that died before its flip.
    sqlx::query(&format!("DROP TABLE IF EXISTS {}", quoted(&table))).execute(pool).await?;
    let definitions: Vec<String> = std::iter::once(format!("{} BIGINT NOT NULL", quoted(VERSION_COLUMN)))
        .chain(columns.iter().map(|c| format!("{} {}", quoted(&c.name), sql_type(c.kind))))
        .collect();
    sqlx::query(&format!("CREATE TABLE {} ({})", quoted(&table), definitions.join(", ")))
        .execute(pool)
        .await?;
    let rows = fill(pool, &table, &columns, p, version).await?;

    let record = ViewVersionRow {
        view: p.view.to_string(),
        version: version as u64,
        definition: p.definition.to_string(),
        table: table.clone(),
        published_ms: now_ms(),
        rows,
        dataset_versions: p.dataset_versions.clone(),
        columns,
    };
    flip(pool, &record).await?;
    Ok(record)
}

/// Inserts every row of the publication into `table`, in multi-row INSERTs.
async fn fill(
    pool: &SqlitePool,
    table: &str,
    columns: &[Column],
    p: &ViewPublication<'_>,
    version: i64,
) -> Result<u64> {
    let names: Vec<String> =
        std::iter::once(quoted(VERSION_COLUMN)).chain(columns.iter().map(|c| quoted(&c.name))).collect();
    let row_placeholder = format!("({})", vec!["?"; names.len()].join(", "));
    let per_statement = (MAX_VALUES_PER_STATEMENT / names.len()).max(1);
    let insert = |n: usize| {
        format!(
            "INSERT INTO {} ({}) VALUES {}",
            quoted(table),
            names.join(", "),
            vec![row_placeholder.as_str(); n].join(", ")
        )
    };
    let full_statement = insert(per_statement);
    let mut written = 0u64;
    let mut tx = pool.begin().await?;
    let mut in_transaction = 0;
    for batch in p.batches {
        if batch.num_columns() != columns.len() {
            return Err(StoreError::Invalid(format!(
                "a batch of view {} has {} columns, its schema {}",
                p.view,
                batch.num_columns(),
                columns.len()
            )));
        }
        let cells = cell_columns(batch, columns)?;
        let mut start = 0;
        while start < batch.num_rows() {
            let n = per_statement.min(batch.num_rows() - start);
            let partial;
            let sql = if n == per_statement {
                full_statement.as_str()
            } else {
                partial = insert(n);
                partial.as_str()
            };
            let mut q = sqlx::query::<Sqlite>(sql);
            for row in start..start + n {
                q = q.bind(version);
                for column in &cells {
                    q = match column.cell(row) {
                        Cell::Integer(v) => q.bind(v),
                        Cell::Real(v) => q.bind(v),
                        Cell::Text(v) => q.bind(v),
                        Cell::Boolean(v) => q.bind(v),
                    };
                }
            }
            q.execute(&mut *tx).await?;
            start += n;
            written += n as u64;
            in_transaction += n;
            if in_transaction >= ROWS_PER_TRANSACTION {
                tx.commit().await?;
                tx = pool.begin().await?;
                in_transaction = 0;
            }
        }
    }
    tx.commit().await?;
    Ok(written)
}

/// Makes the version current, and drops what is older than the one before it.
async fn flip(pool: &SqlitePool, r: &ViewVersionRow) -> Result<()> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let json = |e: serde_json::Error| StoreError::Invalid(e.to_string());
    sqlx::query(
        "INSERT INTO batch_view_versions (view, version, definition, table_name, published_ms, row_count, dataset_versions, columns) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&r.view)
    .bind(r.version as i64)
    .bind(&r.definition)
    .bind(&r.table)
    .bind(r.published_ms)
    .bind(r.rows as i64)
    .bind(serde_json::to_string(&r.dataset_versions).map_err(json)?)
    .bind(serde_json::to_string(&r.columns).map_err(json)?)
    .execute(&mut *tx)
    .await?;
    let stale: Vec<String> =
        sqlx::query_scalar("SELECT table_name FROM batch_view_versions WHERE view = ? AND version < ?")
            .bind(&r.view)
            .bind(r.version as i64 - 1)
            .fetch_all(&mut *tx)
            .await?;
    for table in stale {
        sqlx::query(&format!("DROP TABLE IF EXISTS {}", quoted(&table))).execute(&mut *tx).await?;
    }
    sqlx::query("DELETE FROM batch_view_versions WHERE view = ? AND version < ?")
        .bind(&r.view)
        .bind(r.version as i64 - 1)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// The current version of each view (or of one).
pub(super) async fn current(pool: &SqlitePool, view: Option<&str>) -> Result<Vec<ViewVersionRow>> {
    let rows = sqlx::query(
        "SELECT v.view, v.version, v.definition, v.table_name, v.published_ms, v.row_count, v.dataset_versions, v.columns
         FROM batch_view_versions v
         WHERE v.version = (SELECT MAX(version) FROM batch_view_versions w WHERE w.view = v.view)
           AND (? IS NULL OR v.view = ?)
         ORDER BY v.view",
    )
    .bind(view)
    .bind(view)
    .fetch_all(pool)
    .await?;
    let json = |e: serde_json::Error| StoreError::Invalid(format!("batch_view_versions: {e}"));
    rows.into_iter()
        .map(|r| {
            Ok(ViewVersionRow {
                view: r.try_get("view")?,
                version: r.try_get::<i64, _>("version")? as u64,
                definition: r.try_get("definition")?,
                table: r.try_get("table_name")?,
                published_ms: r.try_get("published_ms")?,
                rows: r.try_get::<i64, _>("row_count")? as u64,
                dataset_versions: serde_json::from_str(r.try_get("dataset_versions")?).map_err(json)?,
                columns: serde_json::from_str(r.try_get("columns")?).map_err(json)?,
            })
        })
        .collect()
}

//! Filling a new version's table with a view's rows: the fastest bulk path each database offers
//! (measured with `cargo bench -p tributary-store --bench publish`).
//!
//! - **SQLite**: a connection of its own through rusqlite (the same SQLite library as sqlx's),
//!   one prepared statement bound straight from the Arrow columns on a blocking thread: sqlx
//!   would copy every value into its own argument list and hand it to its worker thread. In
//!   transactions of [`ROWS_PER_TRANSACTION`] rows, so that other writers (the k-means
//!   processor) wait for one transaction, never for the whole fill.
//! - **PostgreSQL**: `COPY … FROM STDIN` in binary format on a connection of its own: one round
//!   trip per megabyte, and no number printed as text.
//! - **MySQL/MariaDB**: a connection of its own with typed binds, 1,000 rows per INSERT (the
//!   server's own pace bounds it: longer statements were slower).
//!
//! The table is new and no reader knows it before the version is recorded (see
//! [`super::views`]), so the fill needs no isolation from readers.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{OpenFlags, TransactionBehavior};
use sqlx::mysql::MySqlConnection;
use sqlx::postgres::PgConnection;
use sqlx::{Connection, Executor, MySql};

use super::{Location, SqlStore, insert_rows};
use crate::published_views::{
    Cell, CellColumn, Column, VERSION_COLUMN, ViewPublication, cell_columns, quoted,
};
use crate::{Dialect, Result, StoreError};

/// Rows written per transaction while a new version's table is filled by INSERTs.
const ROWS_PER_TRANSACTION: usize = 50_000;

/// Rows per INSERT statement on MySQL/MariaDB.
const MYSQL_ROWS_PER_STATEMENT: usize = 1_000;

/// Bytes of COPY data sent to PostgreSQL at a time.
const COPY_CHUNK: usize = 1 << 20;

/// How long the SQLite fill waits for another writer's transaction (as the pool's connections).
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Inserts every row of `p` into `table` (just created, with the version column first and then
/// `columns`); returns the number of rows.
pub(super) async fn fill(
    store: &SqlStore,
    table: &str,
    columns: &[Column],
    p: &ViewPublication<'_>,
    version: i64,
) -> Result<u64> {
    let cells = p
        .batches
        .iter()
        .map(|batch| {
            if batch.num_columns() != columns.len() {
                return Err(StoreError::Invalid(format!(
                    "a batch of view {} has {} columns, its schema {}",
                    p.view,
                    batch.num_columns(),
                    columns.len()
                )));
            }
            Ok((batch.num_rows(), cell_columns(batch, columns)?))
        })
        .collect::<Result<Vec<_>>>()?;
    let names: Vec<String> =
        std::iter::once(quoted(VERSION_COLUMN)).chain(columns.iter().map(|c| quoted(&c.name))).collect();
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let table = quoted(table);
    let statement = |rows: usize| insert_rows(store, &table, &name_refs, rows);
    match &store.location {
        Location::SqliteFile(path) => fill_sqlite(path.clone(), statement(1), cells, version).await,
        Location::Server(url) if store.dialect == Dialect::Postgres => {
            let mut conn = PgConnection::connect(url).await?;
            let result = copy_postgres(&mut conn, &table, &names, &cells, version).await;
            let _ = conn.close().await;
            result
        }
        Location::Server(url) => {
            let mut conn = MySqlConnection::connect(url).await?;
            // Double quotes quote identifiers, as in SQLite and PostgreSQL (as the pool's).
            conn.execute("SET SESSION sql_mode = CONCAT(@@sql_mode, ',ANSI_QUOTES')").await?;
            // Longer statements were slower on MariaDB 10.11 (the bench's 580,000 rows: 7.1 s at
            // 3,157 rows of 19 values; 5.2 s at 1,000; 5.0 s at 250: the server's own pace).
            let per_statement =
                (Dialect::MySql.max_bound_values() / names.len()).clamp(1, MYSQL_ROWS_PER_STATEMENT);
            let result = insert_mysql(&mut conn, statement, &cells, version, per_statement).await;
            let _ = conn.close().await;
            result
        }
    }
}

/// One prepared single-row INSERT (`sql`) per row.
async fn fill_sqlite(
    path: PathBuf,
    sql: String,
    cells: Vec<(usize, Vec<CellColumn>)>,
    version: i64,
) -> Result<u64> {
    tokio::task::spawn_blocking(move || {
        fill_sqlite_blocking(&path, &sql, &cells, version).map_err(sqlite_error)
    })
    .await
    .map_err(|e| StoreError::Invalid(format!("the SQLite fill stopped: {e}")))?
}

fn fill_sqlite_blocking(
    path: &Path,
    sql: &str,
    cells: &[(usize, Vec<CellColumn>)],
    version: i64,
) -> rusqlite::Result<u64> {
    let mut conn = rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(SQLITE_BUSY_TIMEOUT)?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    let mut cursor = RowCursor::default();
    let mut written = 0u64;
    loop {
        let rows = cursor.take(cells, ROWS_PER_TRANSACTION);
        if rows.is_empty() {
            return Ok(written);
        }
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut insert = tx.prepare_cached(sql)?;
            for &(batch, row) in &rows {
                insert.raw_bind_parameter(1, version)?;
                for (i, column) in cells[batch].1.iter().enumerate() {
                    match column.cell(row) {
                        Cell::Integer(v) => insert.raw_bind_parameter(i + 2, v)?,
                        // SQLite keeps no NaN: bound as a double it reads back as NULL, as before.
                        Cell::Real(v) => insert.raw_bind_parameter(i + 2, v)?,
                        Cell::Text(v) => insert.raw_bind_parameter(i + 2, v)?,
                        Cell::Boolean(v) => insert.raw_bind_parameter(i + 2, v)?,
                    }
                }
                insert.raw_execute()?;
            }
        }
        tx.commit()?;
        written += rows.len() as u64;
    }
}

/// A rusqlite error as the store's, keeping SQLite's result code (busy, full disk: transient).
fn sqlite_error(e: rusqlite::Error) -> StoreError {
    let code = match &e {
        rusqlite::Error::SqliteFailure(failure, _) => Some(failure.extended_code),
        _ => None,
    };
    StoreError::Sqlite { message: e.to_string(), code }
}

/// Multi-row INSERTs of `per_statement` rows (the last one shorter; `statement(rows)` is the SQL
/// for so many) with typed binds, in transactions of [`ROWS_PER_TRANSACTION`] rows.
async fn insert_mysql(
    conn: &mut MySqlConnection,
    statement: impl Fn(usize) -> String,
    cells: &[(usize, Vec<CellColumn>)],
    version: i64,
    per_statement: usize,
) -> Result<u64> {
    let per_statement = per_statement.max(1);
    let full = statement(per_statement);
    let mut cursor = RowCursor::default();
    let mut written = 0u64;
    let mut in_transaction = 0;
    let mut tx = conn.begin().await?;
    loop {
        let chunk = cursor.take(cells, per_statement);
        if chunk.is_empty() {
            break;
        }
        let partial;
        let sql = if chunk.len() == per_statement {
            full.as_str()
        } else {
            partial = statement(chunk.len());
            partial.as_str()
        };
        let mut q = sqlx::query::<MySql>(sql);
        for &(batch, row) in &chunk {
            q = q.bind(version);
            for column in &cells[batch].1 {
                q = match column.cell(row) {
                    Cell::Integer(v) => q.bind(v),
                    Cell::Real(v) => q.bind(v),
                    Cell::Text(v) => q.bind(v),
                    Cell::Boolean(v) => q.bind(v),
                };
            }
        }
        q.execute(&mut *tx).await?;
        written += chunk.len() as u64;
        in_transaction += chunk.len();
        if in_transaction >= ROWS_PER_TRANSACTION {
            tx.commit().await?;
            tx = conn.begin().await?;
            in_transaction = 0;
        }
    }
    tx.commit().await?;
    Ok(written)
}

/// Where a fill is in the batches: rows are taken across batch boundaries, so that every
/// statement but the last is full.
#[derive(Default)]
struct RowCursor {
    batch: usize,
    row: usize,
}

impl RowCursor {
    /// The next `n` rows (fewer at the end) as (batch, row).
    fn take(&mut self, cells: &[(usize, Vec<CellColumn>)], n: usize) -> Vec<(usize, usize)> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n && self.batch < cells.len() {
            if self.row < cells[self.batch].0 {
                out.push((self.batch, self.row));
                self.row += 1;
            } else {
                self.batch += 1;
                self.row = 0;
            }
        }
        out
    }
}

/// `COPY table (names) FROM STDIN (FORMAT binary)`; `table` and `names` are quoted.
async fn copy_postgres(
    conn: &mut PgConnection,
    table: &str,
    names: &[String],
    cells: &[(usize, Vec<CellColumn>)],
    version: i64,
) -> Result<u64> {
    let sql = format!("COPY {table} ({}) FROM STDIN (FORMAT binary)", names.join(", "));
    let mut copy = conn.copy_in_raw(&sql).await?;
    let mut buf = Vec::with_capacity(COPY_CHUNK + 4096);
    buf.extend_from_slice(COPY_SIGNATURE);
    buf.extend_from_slice(&[0; 8]); // flags, header extension length
    let fields = i16::try_from(names.len())
        .map_err(|_| StoreError::Invalid(format!("{} columns: too many for COPY", names.len())))?;
    for (rows, columns) in cells {
        for row in 0..*rows {
            write_copy_row(&mut buf, fields, version, columns, row);
            if buf.len() >= COPY_CHUNK {
                copy.send(std::mem::replace(&mut buf, Vec::with_capacity(COPY_CHUNK + 4096))).await?;
            }
        }
    }
    buf.extend_from_slice(&(-1i16).to_be_bytes());
    copy.send(buf).await?;
    Ok(copy.finish().await?)
}

/// The start of PostgreSQL's binary COPY format.
const COPY_SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";

/// One row of the binary COPY format: the field count, then per field its length (-1: NULL) and
/// its bytes in network order (int8, float8, text, bool, as the table's columns are typed).
fn write_copy_row(out: &mut Vec<u8>, fields: i16, version: i64, columns: &[CellColumn], row: usize) {
    out.extend_from_slice(&fields.to_be_bytes());
    let mut field = |bytes: Option<&[u8]>| match bytes {
        None => out.extend_from_slice(&(-1i32).to_be_bytes()),
        Some(b) => {
            out.extend_from_slice(&(b.len() as i32).to_be_bytes());
            out.extend_from_slice(b);
        }
    };
    field(Some(&version.to_be_bytes()));
    for column in columns {
        match column.cell(row) {
            Cell::Integer(v) => field(v.map(i64::to_be_bytes).as_ref().map(|b| &b[..])),
            Cell::Real(v) => field(v.map(f64::to_be_bytes).as_ref().map(|b| &b[..])),
            Cell::Text(v) => field(v.map(str::as_bytes)),
            Cell::Boolean(v) => field(v.map(|b| [u8::from(b)]).as_ref().map(|b| &b[..])),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, BooleanArray, Float64Array, Int64Array, StringArray};

    use super::*;
    use crate::published_views::ColumnKind;

    #[test]
    fn copy_rows_are_postgresqls_binary_tuples() {
        let column = |a: ArrayRef, kind| CellColumn::new(&a, kind, "c").unwrap();
        let columns = vec![
            column(Arc::new(Int64Array::from(vec![Some(-2), None])), ColumnKind::Integer),
            column(Arc::new(Float64Array::from(vec![Some(0.1), None])), ColumnKind::Real),
            column(Arc::new(StringArray::from(vec![Some("a\tb"), None])), ColumnKind::Text),
            column(Arc::new(BooleanArray::from(vec![Some(true), None])), ColumnKind::Boolean),
        ];
        let mut out = Vec::new();
        write_copy_row(&mut out, 5, 7, &columns, 0);
        let mut expected = vec![0, 5, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 8];
        expected.extend((-2i64).to_be_bytes());
        expected.extend([0, 0, 0, 8]);
        expected.extend(0.1f64.to_bits().to_be_bytes());
        expected.extend([0, 0, 0, 3, b'a', b'\t', b'b', 0, 0, 0, 1, 1]);
        assert_eq!(out, expected);
        out.clear();
        write_copy_row(&mut out, 5, 7, &columns, 1);
        assert_eq!(&out[14..], [[0xff; 4]; 4].concat(), "NULL is a length of -1");
    }

    #[test]
    fn the_cursor_takes_rows_across_batches_and_skips_empty_ones() {
        let empty = |n: usize| (n, Vec::new());
        let cells = [empty(2), empty(0), empty(3)];
        let mut cursor = RowCursor::default();
        assert_eq!(cursor.take(&cells, 4), [(0, 0), (0, 1), (2, 0), (2, 1)]);
        assert_eq!(cursor.take(&cells, 4), [(2, 2)]);
        assert!(cursor.take(&cells, 4).is_empty());
    }
}

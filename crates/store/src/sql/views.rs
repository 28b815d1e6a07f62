//! Publishing and reading batch views (see [`crate::published_views`]): the new version's table
//! is created, filled by the fastest bulk path of its database ([`super::bulk`]) and indexed;
//! then one transaction records the version, which makes it current. Tables older than the previous
//! version are dropped after that commit (MySQL would commit a `DROP` inside the transaction).

use sqlx::pool::PoolConnection;
use sqlx::{Any, Connection, Row};

use super::{SqlStore, bulk, text, text_not_null, unsigned};
use crate::published_views::{
    Column, ColumnKind, VERSION_COLUMN, ViewPublication, ViewVersionRow, check_view_name, columns, quoted,
    table_name,
};
use crate::view_query::{Filter, Value, ViewQuery, ViewRows};
use crate::{Result, StoreChange, StoreError, now_ms};

pub(super) async fn publish(store: &SqlStore, p: &ViewPublication<'_>) -> Result<ViewVersionRow> {
    check_view_name(p.view)?;
    let columns = columns(&p.schema)?;
    for c in p.index {
        if !columns.iter().any(|k| &k.name == c) {
            return Err(StoreError::Invalid(format!(
                "view {}: index column {c:?} is not a column of the view",
                p.view
            )));
        }
    }
    let previous: Option<i64> =
        sqlx::query_scalar(&store.sql("SELECT MAX(version) FROM batch_view_versions WHERE \"view\" = ?"))
            .bind(p.view)
            .fetch_one(&store.pool)
            .await?;
    let version = previous.unwrap_or(0) + 1;
    let table = table_name(p.view, version as u64);

    // A table of this name can only be left over from a publish that died before its flip.
    sqlx::query::<Any>(&format!("DROP TABLE IF EXISTS {}", quoted(&table))).execute(&store.pool).await?;
    let definitions: Vec<String> = std::iter::once(format!("{} BIGINT NOT NULL", quoted(VERSION_COLUMN)))
        .chain(columns.iter().map(|c| {
            let indexed = p.index.contains(&c.name);
            format!("{} {}", quoted(&c.name), store.dialect.column_type(c.kind, indexed))
        }))
        .collect();
    sqlx::query::<Any>(&format!("CREATE TABLE {} ({})", quoted(&table), definitions.join(", ")))
        .execute(&store.pool)
        .await?;
    let rows = bulk::fill(store, &table, &columns, p, version).await?;
    if !p.index.is_empty() {
        let keys: Vec<String> = p.index.iter().map(|c| quoted(c)).collect();
        sqlx::query::<Any>(&format!(
            "CREATE INDEX {} ON {} ({})",
            quoted(&format!("{table}_key")),
            quoted(&table),
            keys.join(", ")
        ))
        .execute(&store.pool)
        .await?;
    }

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
    flip(store, &record).await?;
    Ok(record)
}

/// Makes the version current; then drops what is older than the one before it.
async fn flip(store: &SqlStore, r: &ViewVersionRow) -> Result<()> {
    let mut conn = store.writer().await?;
    let result = record_version(&mut conn, store, r).await;
    SqlStore::settle(&mut conn, result)?;
    drop(conn);

    // Older versions: their tables first, then their records, so that a crash in between leaves
    // records whose tables the next publish drops again (IF EXISTS).
    let stale: Vec<String> = sqlx::query_scalar(
        &store.sql("SELECT table_name FROM batch_view_versions WHERE \"view\" = ? AND version < ?"),
    )
    .bind(&r.view)
    .bind(r.version as i64 - 1)
    .fetch_all(&store.pool)
    .await?;
    for table in stale {
        sqlx::query::<Any>(&format!("DROP TABLE IF EXISTS {}", quoted(&table))).execute(&store.pool).await?;
    }
    sqlx::query(&store.sql("DELETE FROM batch_view_versions WHERE \"view\" = ? AND version < ?"))
        .bind(&r.view)
        .bind(r.version as i64 - 1)
        .execute(&store.pool)
        .await?;
    Ok(())
}

/// Records the version, which makes it current (one transaction).
async fn record_version(conn: &mut PoolConnection<Any>, store: &SqlStore, r: &ViewVersionRow) -> Result<()> {
    let json = |e: serde_json::Error| StoreError::Invalid(e.to_string());
    let mut tx = conn.begin_with(store.dialect.begin_write()).await?;
    sqlx::query(&store.sql(
        "INSERT INTO batch_view_versions (\"view\", version, definition, table_name, published_ms, row_count, dataset_versions, columns) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    ))
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
    tx.commit().await?;
    Ok(())
}

/// The current version of each view, or of one view, or (with `version`) that version of it.
pub(super) async fn versions(
    store: &SqlStore,
    view: Option<&str>,
    version: Option<u64>,
) -> Result<Vec<ViewVersionRow>> {
    let mut sql = String::from(
        "SELECT v.\"view\", v.version, v.definition, v.table_name, v.published_ms, v.row_count, v.dataset_versions, v.columns
         FROM batch_view_versions v WHERE ",
    );
    sql.push_str(match version {
        Some(_) => "v.version = ?",
        None => "v.version = (SELECT MAX(version) FROM batch_view_versions w WHERE w.\"view\" = v.\"view\")",
    });
    if view.is_some() {
        sql.push_str(" AND v.\"view\" = ?");
    }
    sql.push_str(" ORDER BY v.\"view\"");
    let sql = store.sql(&sql);
    let mut q = sqlx::query(&sql);
    if let Some(version) = version {
        q = q.bind(i64::try_from(version).unwrap_or(i64::MAX));
    }
    if let Some(view) = view {
        q = q.bind(view);
    }
    let rows = q.fetch_all(&store.pool).await?;
    let json = |e: serde_json::Error| StoreError::Invalid(format!("batch_view_versions: {e}"));
    rows.into_iter()
        .map(|r| {
            Ok(ViewVersionRow {
                view: text_not_null(&r, "view")?,
                version: unsigned::<u64>(&r, "version")?,
                definition: text_not_null(&r, "definition")?,
                table: text_not_null(&r, "table_name")?,
                published_ms: r.try_get("published_ms")?,
                rows: unsigned::<u64>(&r, "row_count")?,
                dataset_versions: serde_json::from_str(&text_not_null(&r, "dataset_versions")?)
                    .map_err(json)?,
                columns: serde_json::from_str(&text_not_null(&r, "columns")?).map_err(json)?,
            })
        })
        .collect()
}

/// Runs a typed query on a published view.
///
/// The version is looked up first and its table read next, outside one transaction: the
/// previous version's table is kept through the next publish, so the read finds its table unless
/// two publishes land in between; then the read is retried once on the newer version.
pub(super) async fn query(store: &SqlStore, q: &ViewQuery) -> Result<ViewRows> {
    let mut attempt = 0;
    loop {
        let version = versions(store, Some(&q.view), q.version).await?.pop().ok_or_else(|| {
            StoreError::NotFound(match q.version {
                Some(v) => format!(
                    "view {:?} has no version {v} (only the current and the previous are kept)",
                    q.view
                ),
                None => format!("view {:?} has not been published", q.view),
            })
        })?;
        match read(store, q, &version).await {
            Err(StoreError::Database(e)) if attempt == 0 && q.version.is_none() => {
                tracing::debug!(view = %q.view, error = %e, "view read failed; retrying on the current version");
                attempt += 1;
            }
            other => return other,
        }
    }
}

async fn read(store: &SqlStore, q: &ViewQuery, version: &ViewVersionRow) -> Result<ViewRows> {
    let column = |name: &str| -> Result<Column> {
        version.columns.iter().find(|c| c.name == name).cloned().ok_or_else(|| {
            StoreError::Invalid(format!(
                "view {:?} has no column {name:?}; its columns: {}",
                q.view,
                version.columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")
            ))
        })
    };
    let selected: Vec<Column> = if q.columns.is_empty() {
        version.columns.clone()
    } else {
        q.columns.iter().map(|c| column(c)).collect::<Result<_>>()?
    };
    let mut sql = format!(
        "SELECT {} FROM {}",
        selected.iter().map(|c| quoted(&c.name)).collect::<Vec<_>>().join(", "),
        quoted(&version.table)
    );
    let mut binds: Vec<&Value> = Vec::new();
    let mut conditions: Vec<String> = Vec::new();
    for f in &q.filters {
        let c = quoted(&column(f.column())?.name);
        match f {
            Filter::Eq(_, v) => {
                conditions.push(format!("{c} = ?"));
                binds.push(v);
            }
            Filter::In(_, values) if values.is_empty() => conditions.push("1 = 0".into()),
            Filter::In(_, values) => {
                conditions.push(format!("{c} IN ({})", vec!["?"; values.len()].join(", ")));
                binds.extend(values);
            }
            Filter::Range { min, max, .. } => {
                if let Some(min) = min {
                    conditions.push(format!("{c} >= ?"));
                    binds.push(min);
                }
                if let Some(max) = max {
                    conditions.push(format!("{c} <= ?"));
                    binds.push(max);
                }
            }
            Filter::NotNull(_) => conditions.push(format!("{c} IS NOT NULL")),
        }
    }
    if !conditions.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&conditions.join(" AND "));
    }
    if !q.order_by.is_empty() {
        let mut keys = Vec::new();
        for o in &q.order_by {
            let c = quoted(&column(&o.column)?.name);
            let expression = if o.absolute { format!("ABS({c})") } else { c };
            // NULLs last in either direction, the same on every backend.
            keys.push(format!("CASE WHEN {expression} IS NULL THEN 1 ELSE 0 END"));
            keys.push(format!("{expression} {}", if o.descending { "DESC" } else { "ASC" }));
        }
        sql.push_str(" ORDER BY ");
        sql.push_str(&keys.join(", "));
    }
    sql.push_str(" LIMIT ?");
    let sql = store.sql(&sql);
    let mut query = sqlx::query::<Any>(&sql);
    for v in binds {
        query = match v {
            Value::Null => query.bind(None::<i64>),
            Value::Integer(i) => query.bind(*i),
            Value::Real(r) => query.bind(*r),
            Value::Text(t) => query.bind(t.as_str()),
            Value::Boolean(b) => query.bind(*b),
        };
    }
    let rows = query.bind(i64::from(q.limit)).fetch_all(&store.pool).await?;
    let rows = rows
        .iter()
        .map(|r| selected.iter().enumerate().map(|(i, c)| decode(r, i, c.kind)).collect::<Result<Vec<_>>>())
        .collect::<Result<Vec<_>>>()?;
    Ok(ViewRows { version: version.clone(), columns: selected, rows })
}

/// One cell of a result row as a [`Value`] of the column's kind.
fn decode(row: &sqlx::any::AnyRow, i: usize, kind: ColumnKind) -> Result<Value> {
    Ok(match kind {
        ColumnKind::Integer => row.try_get::<Option<i64>, _>(i)?.map_or(Value::Null, Value::Integer),
        ColumnKind::Real => row.try_get::<Option<f64>, _>(i)?.map_or(Value::Null, Value::Real),
        ColumnKind::Text | ColumnKind::Date => text(row, i)?.map_or(Value::Null, Value::Text),
        // Booleans are stored as integers outside PostgreSQL (see `Dialect::column_type`).
        ColumnKind::Boolean => match row.try_get::<Option<bool>, _>(i) {
            Ok(b) => b.map_or(Value::Null, Value::Boolean),
            Err(_) => row.try_get::<Option<i64>, _>(i)?.map_or(Value::Null, |n| Value::Boolean(n != 0)),
        },
    })
}

#[async_trait::async_trait]
impl crate::Views for SqlStore {
    async fn publish_view(&self, publication: &ViewPublication<'_>) -> Result<ViewVersionRow> {
        let published = publish(self, publication).await?;
        let _ =
            self.changes.send(StoreChange::View { view: published.view.clone(), version: published.version });
        Ok(published)
    }

    async fn current_views(&self) -> Result<Vec<ViewVersionRow>> {
        versions(self, None, None).await
    }

    async fn current_view(&self, view: &str) -> Result<Option<ViewVersionRow>> {
        Ok(versions(self, Some(view), None).await?.pop())
    }

    async fn query_view(&self, q: &ViewQuery) -> Result<ViewRows> {
        query(self, q).await
    }
}

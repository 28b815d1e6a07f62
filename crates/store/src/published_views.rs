//! Batch views in the serving store: each published version of a view is a table of its own,
//! `view_<name>_v<version>`, filled first and then made current by one small transaction that
//! records the version (`batch_view_versions`). Readers look the current table up there, so they
//! see the old version or the new one, never a mix, and a version that was being filled when the
//! process died is never seen. The previous version's table is kept until the next publish, so a
//! reader that looked up the version just before a flip can still finish its query.
//!
//! Every row carries its `view_version`; the version's record carries the lake versions of the
//! datasets it was computed from.
//!
//! The rows come as Arrow record batches. Columns are stored as one of [`ColumnKind`]; other Arrow
//! types are refused with the column's name.

use std::collections::BTreeMap;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, Int64Type, SchemaRef};

use crate::{Result, StoreError};

/// A new version of a batch view, for [`crate::ServingStore::publish_view`].
#[derive(Debug, Clone)]
pub struct ViewPublication<'a> {
    /// The view's name: letters, digits and `_`, starting with a letter, at most 48 characters.
    pub view: &'a str,
    /// Identifies the view's definition (a hash of its SQL), so that a runner can tell whether
    /// the current version came from the same SQL and the same dataset versions.
    pub definition: &'a str,
    pub schema: SchemaRef,
    pub batches: &'a [RecordBatch],
    /// The lake version of each dataset the rows were computed from.
    pub dataset_versions: BTreeMap<String, u64>,
    /// The columns of the index the table gets (in order; empty: none): those that readers
    /// filter on, such as a series and a date.
    pub index: &'a [String],
}

/// One published version of a view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewVersionRow {
    pub view: String,
    pub version: u64,
    pub definition: String,
    /// The table holding the rows.
    pub table: String,
    pub published_ms: i64,
    pub rows: u64,
    pub dataset_versions: BTreeMap<String, u64>,
    pub columns: Vec<Column>,
}

/// A column of a published view.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Column {
    pub name: String,
    pub kind: ColumnKind,
}

/// How a column is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnKind {
    /// Signed 64-bit integers (from any Arrow integer that fits).
    Integer,
    /// 64-bit floats.
    Real,
    Text,
    Boolean,
    /// Calendar dates, stored as `YYYY-MM-DD` text where the database has no better type.
    Date,
}

/// The name every published table gives the view version column.
pub const VERSION_COLUMN: &str = "view_version";

/// Checks a view name before it becomes part of a table name.
pub fn check_view_name(view: &str) -> Result<()> {
    let mut chars = view.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && view.len() <= 48;
    if ok {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "view name {view:?}: letters, digits and _, starting with a letter, at most 48 characters"
        )))
    }
}

/// The table of one version of a view.
pub fn table_name(view: &str, version: u64) -> String {
    format!("view_{view}_v{version}")
}

/// A double-quoted SQL identifier (SQLite and PostgreSQL; MySQL in ANSI_QUOTES mode).
pub fn quoted(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

/// The stored columns of a schema, or an error naming the first column that cannot be stored.
pub fn columns(schema: &SchemaRef) -> Result<Vec<Column>> {
    let mut out = Vec::with_capacity(schema.fields().len());
    for field in schema.fields() {
        let kind = match field.data_type() {
            DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64 => ColumnKind::Integer,
            DataType::Float16 | DataType::Float32 | DataType::Float64 => ColumnKind::Real,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => ColumnKind::Text,
            DataType::Dictionary(_, value) if matches!(**value, DataType::Utf8 | DataType::LargeUtf8) => {
                ColumnKind::Text
            }
            DataType::Boolean => ColumnKind::Boolean,
            DataType::Date32 | DataType::Date64 => ColumnKind::Date,
            other => {
                return Err(StoreError::Invalid(format!(
                    "column {:?} is {other}, which the serving store cannot hold (integers, floats, text, booleans and dates can be published)",
                    field.name()
                )));
            }
        };
        if field.name() == VERSION_COLUMN {
            return Err(StoreError::Invalid(format!(
                "column {VERSION_COLUMN:?} is the store's own; rename the view's column"
            )));
        }
        if out.iter().any(|c: &Column| c.name == *field.name()) {
            return Err(StoreError::Invalid(format!(
                "two columns are named {:?}; give them distinct names",
                field.name()
            )));
        }
        out.push(Column { name: field.name().clone(), kind });
    }
    Ok(out)
}

/// One column of a batch, cast to the array type its [`ColumnKind`] binds from (typed once, so
/// that reading a cell does not downcast the array again).
pub enum CellColumn {
    Integer(Int64Array),
    Real(Float64Array),
    Text(StringArray),
    Boolean(BooleanArray),
}

/// A stored value (borrowed from the batch).
pub enum Cell<'a> {
    Integer(Option<i64>),
    Real(Option<f64>),
    Text(Option<&'a str>),
    Boolean(Option<bool>),
}

impl CellColumn {
    /// Casts `array` for `kind` (dates become `YYYY-MM-DD` text).
    pub fn new(array: &ArrayRef, kind: ColumnKind, name: &str) -> Result<Self> {
        let cast_to =
            |t: &DataType| cast(array, t).map_err(|e| StoreError::Invalid(format!("column {name:?}: {e}")));
        Ok(match kind {
            ColumnKind::Integer => {
                let cast = cast_to(&DataType::Int64)?;
                // A cast that overflowed (u64 beyond i64) gives NULL where the input had a value.
                if cast.null_count() != array.null_count() {
                    return Err(StoreError::Invalid(format!(
                        "column {name:?}: a value does not fit a signed 64-bit integer"
                    )));
                }
                Self::Integer(cast.as_primitive::<Int64Type>().clone())
            }
            ColumnKind::Real => {
                Self::Real(cast_to(&DataType::Float64)?.as_primitive::<Float64Type>().clone())
            }
            ColumnKind::Text | ColumnKind::Date => {
                Self::Text(cast_to(&DataType::Utf8)?.as_string::<i32>().clone())
            }
            ColumnKind::Boolean => Self::Boolean(
                array
                    .as_boolean_opt()
                    .ok_or_else(|| StoreError::Invalid(format!("column {name:?} is not boolean")))?
                    .clone(),
            ),
        })
    }

    /// The value in row `i`.
    pub fn cell(&self, i: usize) -> Cell<'_> {
        match self {
            Self::Integer(a) => Cell::Integer(a.is_valid(i).then(|| a.value(i))),
            Self::Real(a) => Cell::Real(a.is_valid(i).then(|| a.value(i))),
            Self::Text(a) => Cell::Text(a.is_valid(i).then(|| a.value(i))),
            Self::Boolean(a) => Cell::Boolean(a.is_valid(i).then(|| a.value(i))),
        }
    }
}

/// The columns of a batch, ready to bind.
pub fn cell_columns(batch: &RecordBatch, columns: &[Column]) -> Result<Vec<CellColumn>> {
    batch.columns().iter().zip(columns).map(|(a, c)| CellColumn::new(a, c.kind, &c.name)).collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::datatypes::{Field, Schema};

    use super::*;

    #[test]
    fn names_and_types_that_cannot_be_stored_are_refused_by_name() {
        assert!(check_view_name("correlations").is_ok());
        for bad in ["", "1x", "a-b", "a\"; DROP TABLE x; --", &"x".repeat(49)] {
            assert!(check_view_name(bad).is_err(), "{bad}");
        }
        let schema = |fields: Vec<Field>| Arc::new(Schema::new(fields));
        let ok = columns(&schema(vec![
            Field::new("a", DataType::Int32, true),
            Field::new("b", DataType::Utf8View, true),
            Field::new("c", DataType::Date32, true),
        ]))
        .unwrap();
        assert_eq!(
            ok.iter().map(|c| c.kind).collect::<Vec<_>>(),
            [ColumnKind::Integer, ColumnKind::Text, ColumnKind::Date]
        );
        let list = DataType::List(Arc::new(Field::new_list_field(DataType::Int32, true)));
        let error = columns(&schema(vec![Field::new("xs", list, true)])).unwrap_err().to_string();
        assert!(error.contains("\"xs\"") && error.contains("cannot hold"), "{error}");
        let error = columns(&schema(vec![Field::new(VERSION_COLUMN, DataType::Int64, true)])).unwrap_err();
        assert!(error.to_string().contains("the store's own"));
        assert_eq!(quoted("we\"ird"), "\"we\"\"ird\"");
    }
}

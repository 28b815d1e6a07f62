//! Typed reads of published batch views: which columns, which filters, which order, how many
//! rows. The store turns a [`ViewQuery`] into SQL whose identifiers all come from the version's
//! own column list and whose values are all bound, so nothing a user types becomes SQL.

use serde::Serialize;

use crate::published_views::{Column, ViewVersionRow};

/// A stored value.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Value {
    Null,
    Integer(i64),
    Real(f64),
    /// Text; dates are `YYYY-MM-DD` text.
    Text(String),
    Boolean(bool),
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Self::Text(v.to_string())
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Self::Integer(v)
    }
}

/// A condition on one column; rows must meet all of a query's filters.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `column = value`.
    Eq(String, Value),
    /// `column IN (values)`; no values match no rows.
    In(String, Vec<Value>),
    /// `min <= column <= max`, either bound optional.
    Range { column: String, min: Option<Value>, max: Option<Value> },
    /// `column IS NOT NULL`.
    NotNull(String),
}

impl Filter {
    /// The column the filter reads.
    pub fn column(&self) -> &str {
        match self {
            Self::Eq(c, _) | Self::In(c, _) | Self::NotNull(c) => c,
            Self::Range { column, .. } => column,
        }
    }
}

/// One key of a query's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderBy {
    pub column: String,
    pub descending: bool,
    /// Order by the absolute value (the strongest correlations, whatever their sign).
    pub absolute: bool,
}

impl OrderBy {
    /// Ascending by `column`.
    pub fn asc(column: &str) -> Self {
        Self { column: column.to_string(), descending: false, absolute: false }
    }

    /// Descending by the absolute value of `column`; NULLs last.
    pub fn strongest(column: &str) -> Self {
        Self { column: column.to_string(), descending: true, absolute: true }
    }
}

/// A read of one published view.
///
/// ```
/// use tributary_store::{Filter, OrderBy, ViewQuery};
/// let q = ViewQuery::new("correlations")
///     .filter(Filter::Eq("series".into(), "IT".into()))
///     .order(OrderBy::asc("lag"))
///     .limit(100);
/// assert_eq!(q.filters.len(), 1);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ViewQuery {
    pub view: String,
    /// A version still kept (the current or the one before it); `None` reads the current one.
    pub version: Option<u64>,
    /// The columns to return, in order; empty returns all of the view's columns.
    pub columns: Vec<String>,
    pub filters: Vec<Filter>,
    pub order_by: Vec<OrderBy>,
    pub limit: u32,
}

impl ViewQuery {
    /// All columns of the current version, no filter, at most 1,000 rows.
    pub fn new(view: &str) -> Self {
        Self {
            view: view.to_string(),
            version: None,
            columns: Vec::new(),
            filters: Vec::new(),
            order_by: Vec::new(),
            limit: 1_000,
        }
    }

    /// Adds a filter.
    pub fn filter(mut self, filter: Filter) -> Self {
        self.filters.push(filter);
        self
    }

    /// Adds an order key (after those already given).
    pub fn order(mut self, order: OrderBy) -> Self {
        self.order_by.push(order);
        self
    }

    /// Sets the row limit.
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = limit;
        self
    }

    /// Returns only these columns.
    pub fn select(mut self, columns: &[&str]) -> Self {
        self.columns = columns.iter().map(|c| c.to_string()).collect();
        self
    }
}

/// What a [`ViewQuery`] found: the version read, the columns, the rows.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewRows {
    pub version: ViewVersionRow,
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Value>>,
}

impl ViewRows {
    /// The index of a column by name.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }
}

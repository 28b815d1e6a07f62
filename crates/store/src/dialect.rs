//! The SQL dialects of the three backends. Queries are written once, in the subset the three
//! share, with `?` placeholders and double-quoted identifiers; a [`Dialect`] supplies what
//! differs: PostgreSQL's numbered placeholders, MySQL's upsert, column types, and how a
//! transaction takes the write lock.

use std::borrow::Cow;

use crate::published_views::ColumnKind;

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
    /// MySQL or MariaDB. Connections run with `sql_mode` `ANSI_QUOTES`, so that double quotes
    /// quote identifiers as in the other two.
    MySql,
}

/// How [`Dialect::upsert_merging`] merges a column of a new row into the existing one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Merge {
    /// The new value.
    Replace,
    /// The existing value plus the new one.
    Add,
    /// The new value, unless it is NULL.
    ReplaceUnlessNull,
}

impl Dialect {
    /// The dialect of a connection URL's scheme, if it is one of ours.
    pub fn of_url(url: &str) -> Option<Self> {
        let scheme = url.split_once(':')?.0.to_ascii_lowercase();
        match scheme.as_str() {
            "sqlite" => Some(Self::Sqlite),
            "postgres" | "postgresql" => Some(Self::Postgres),
            "mysql" | "mariadb" => Some(Self::MySql),
            _ => None,
        }
    }

    /// A short name for messages and metrics labels.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
            Self::MySql => "mysql",
        }
    }

    /// `sql` with its `?` placeholders in this dialect: PostgreSQL numbers them (`$1`, `$2`, …).
    /// Question marks inside quoted identifiers or string literals are left alone.
    pub fn sql<'a>(self, sql: &'a str) -> Cow<'a, str> {
        if self != Self::Postgres || !sql.contains('?') {
            return Cow::Borrowed(sql);
        }
        let mut out = String::with_capacity(sql.len() + 16);
        let mut n = 0;
        let mut quote: Option<char> = None;
        for c in sql.chars() {
            match (quote, c) {
                (None, '"' | '\'') => quote = Some(c),
                (Some(q), c) if c == q => quote = None,
                (None, '?') => {
                    n += 1;
                    out.push('$');
                    out.push_str(&n.to_string());
                    continue;
                }
                _ => {}
            }
            out.push(c);
        }
        Cow::Owned(out)
    }

    /// `INSERT … VALUES …` followed by this, to overwrite `columns` when a row with the same key
    /// (`key`) exists.
    pub fn upsert(self, key: &[&str], columns: &[&str]) -> String {
        match self {
            Self::MySql => {
                let sets: Vec<String> = columns.iter().map(|c| format!("{c} = VALUES({c})")).collect();
                format!(" ON DUPLICATE KEY UPDATE {}", sets.join(", "))
            }
            Self::Sqlite | Self::Postgres => {
                let sets: Vec<String> = columns.iter().map(|c| format!("{c} = excluded.{c}")).collect();
                format!(" ON CONFLICT ({}) DO UPDATE SET {}", key.join(", "), sets.join(", "))
            }
        }
    }

    /// `INSERT … VALUES …` followed by this, to merge the new row into an existing one with the
    /// same key (`key`): each column is replaced, added to, or replaced only when the new value
    /// is not NULL.
    pub fn upsert_merging(self, table: &str, key: &[&str], columns: &[(&str, Merge)]) -> String {
        let (new, old) = match self {
            Self::MySql => ("VALUES({c})", "{c}"),
            Self::Sqlite | Self::Postgres => ("excluded.{c}", "{table}.{c}"),
        };
        let sets: Vec<String> = columns
            .iter()
            .map(|(c, merge)| {
                let new = new.replace("{c}", c);
                let old = old.replace("{c}", c).replace("{table}", table);
                match merge {
                    Merge::Replace => format!("{c} = {new}"),
                    Merge::Add => format!("{c} = {old} + {new}"),
                    Merge::ReplaceUnlessNull => format!("{c} = COALESCE({new}, {old})"),
                }
            })
            .collect();
        match self {
            Self::MySql => format!(" ON DUPLICATE KEY UPDATE {}", sets.join(", ")),
            Self::Sqlite | Self::Postgres => {
                format!(" ON CONFLICT ({}) DO UPDATE SET {}", key.join(", "), sets.join(", "))
            }
        }
    }

    /// The statement that begins a transaction which will write: SQLite takes its write lock
    /// at once (`BEGIN IMMEDIATE`), so that two writers cannot both read and then deadlock on the
    /// upgrade; the others lock rows as they go.
    pub fn begin_write(self) -> &'static str {
        match self {
            Self::Sqlite => "BEGIN IMMEDIATE",
            Self::Postgres | Self::MySql => "BEGIN",
        }
    }

    /// The column type of a published view's column, chosen so that sqlx's `Any` driver reads
    /// it back: dates are `YYYY-MM-DD` text (they compare correctly as text and bind as text
    /// everywhere), booleans are integers outside PostgreSQL (the driver reads neither SQLite's
    /// `BOOLEAN` nor MySQL's `TINYINT`). A column readers filter on (`indexed`) is a `VARCHAR` in
    /// MySQL, which cannot index `TEXT` whole.
    pub fn column_type(self, kind: ColumnKind, indexed: bool) -> &'static str {
        match (self, kind) {
            (_, ColumnKind::Integer) => "BIGINT",
            (_, ColumnKind::Real) => "DOUBLE PRECISION",
            (Self::MySql, ColumnKind::Text) if indexed => "VARCHAR(255)",
            (_, ColumnKind::Text) => "TEXT",
            (Self::Postgres, ColumnKind::Boolean) => "BOOLEAN",
            (Self::Sqlite, ColumnKind::Boolean) => "INTEGER",
            (Self::MySql, ColumnKind::Boolean) => "SMALLINT",
            (Self::Sqlite, ColumnKind::Date) => "TEXT",
            (_, ColumnKind::Date) => "VARCHAR(10)",
        }
    }

    /// The most values one statement may bind (SQLite: 32,766; PostgreSQL and MySQL: 65,535),
    /// with room to spare.
    pub fn max_bound_values(self) -> usize {
        match self {
            Self::Sqlite => 30_000,
            Self::Postgres | Self::MySql => 60_000,
        }
    }

    /// `CAST(expression AS <64-bit integer>)`: PostgreSQL and MySQL sum integers into decimals.
    pub fn as_bigint(self, expression: &str) -> String {
        match self {
            Self::MySql => format!("CAST({expression} AS SIGNED)"),
            Self::Sqlite | Self::Postgres => format!("CAST({expression} AS BIGINT)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_placeholders_are_numbered_outside_quotes() {
        let sql = "SELECT \"a?\" FROM t WHERE x = ? AND y = '?' AND z IN (?, ?)";
        assert_eq!(Dialect::Sqlite.sql(sql), sql);
        assert_eq!(
            Dialect::Postgres.sql(sql),
            "SELECT \"a?\" FROM t WHERE x = $1 AND y = '?' AND z IN ($2, $3)"
        );
    }

    #[test]
    fn urls_name_their_dialect() {
        assert_eq!(Dialect::of_url("postgres://u@h/db"), Some(Dialect::Postgres));
        assert_eq!(Dialect::of_url("postgresql://h/db"), Some(Dialect::Postgres));
        assert_eq!(Dialect::of_url("MySQL://root@h/test"), Some(Dialect::MySql));
        assert_eq!(Dialect::of_url("sqlite:///tmp/x.db"), Some(Dialect::Sqlite));
        assert_eq!(Dialect::of_url("redis://h"), None);
        assert_eq!(Dialect::of_url("no scheme"), None);
    }

    #[test]
    fn merging_upserts_in_each_dialect() {
        let columns = [("n", Merge::Add), ("t", Merge::Replace), ("f", Merge::ReplaceUnlessNull)];
        assert_eq!(
            Dialect::Sqlite.upsert_merging("s", &["k"], &columns),
            " ON CONFLICT (k) DO UPDATE SET n = s.n + excluded.n, t = excluded.t, f = COALESCE(excluded.f, s.f)"
        );
        assert_eq!(
            Dialect::MySql.upsert_merging("s", &["k"], &columns),
            " ON DUPLICATE KEY UPDATE n = n + VALUES(n), t = VALUES(t), f = COALESCE(VALUES(f), f)"
        );
    }

    #[test]
    fn upserts_in_each_dialect() {
        let key = ["a", "b"];
        assert_eq!(
            Dialect::Postgres.upsert(&key, &["c"]),
            " ON CONFLICT (a, b) DO UPDATE SET c = excluded.c"
        );
        assert_eq!(Dialect::MySql.upsert(&key, &["c"]), " ON DUPLICATE KEY UPDATE c = VALUES(c)");
    }
}

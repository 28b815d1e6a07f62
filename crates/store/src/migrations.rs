//! Versioned schema migrations: numbered SQL files applied in order, each once, each in a
//! transaction, recorded in `schema_migrations`. Every backend has its own folder of the same
//! numbered migrations in its dialect.

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

/// The SQLite migrations, in order.
pub const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        name: "kmeans_offsets_dead_letters",
        sql: include_str!("../migrations/sqlite/0001_kmeans_offsets_dead_letters.sql"),
    },
    Migration {
        version: 2,
        name: "batch_view_versions",
        sql: include_str!("../migrations/sqlite/0002_batch_view_versions.sql"),
    },
];

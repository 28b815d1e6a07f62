//! The store conformance suite: every case runs against SQLite (a temporary file), PostgreSQL and
//! MySQL/MariaDB (real servers, a fresh database per test, named by `TRIBUTARY_TEST_POSTGRES` and
//! `TRIBUTARY_TEST_MYSQL`, which `scripts/test` sets).

use std::future::Future;

use super::*;
use crate::Dialect;
use crate::*;

mod cases;
mod views;

/// Where a case runs: a fresh, empty database of one backend.
pub struct Ctx {
    pub url: String,
    pub dialect: Dialect,
}

impl Ctx {
    /// Opens the store (migrating it).
    pub async fn open(&self) -> SqlStore {
        SqlStore::connect(&self.url).await.unwrap_or_else(|e| panic!("opening {}: {e}", self.url))
    }
}

/// Runs `case` on a fresh database of `dialect`, or skips (see `tributary_test_data::service`).
pub async fn run<F, Fut>(dialect: Dialect, case: F)
where
    F: FnOnce(Ctx) -> Fut,
    Fut: Future<Output = ()>,
{
    match dialect {
        Dialect::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", dir.path().join("store.sqlite").display());
            case(Ctx { url, dialect }).await;
        }
        Dialect::Postgres | Dialect::MySql => {
            let variable =
                if dialect == Dialect::Postgres { "TRIBUTARY_TEST_POSTGRES" } else { "TRIBUTARY_TEST_MYSQL" };
            let Some(server) = tributary_test_data::service(variable) else { return };
            let database = format!("tributary_t_{}_{:08x}", std::process::id(), rand::random::<u32>());
            admin(&server, &format!("CREATE DATABASE {database}")).await;
            let mut url = url::Url::parse(&server).unwrap();
            url.set_path(&database);
            case(Ctx { url: url.to_string(), dialect }).await;
            // Left behind when a case fails; `scripts/test` drops such leftovers before a run.
            admin(&server, &format!("DROP DATABASE {database}")).await;
        }
    }
}

/// Runs one statement on the server's own database, outside any store.
async fn admin(server: &str, statement: &str) {
    install_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(server)
        .await
        .unwrap_or_else(|e| panic!("connecting to {server}: {e}"));
    conn.execute(statement).await.unwrap_or_else(|e| panic!("{statement}: {e}"));
}

/// `#[tokio::test]`s running each named case (an `async fn(Ctx)` in `cases` or `views`) on each
/// backend: `sqlite::case`, `postgres::case`, `mysql::case`.
macro_rules! conformance {
    ($($module:ident :: $case:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() { super::run(crate::Dialect::Sqlite, super::$module::$case).await })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() { super::run(crate::Dialect::Postgres, super::$module::$case).await })*
        }
        mod mysql {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() { super::run(crate::Dialect::MySql, super::$module::$case).await })*
        }
    };
}

conformance!(
    cases::versions_offsets_and_dead_letters_round_trip_exactly,
    cases::a_failed_commit_writes_nothing,
    cases::fenced_commits_write_only_over_the_offsets_they_continue_from,
    cases::migrations_apply_once_and_a_newer_schema_is_refused,
    cases::stores_opened_at_the_same_moment_migrate_once,
    cases::source_runs_add_up_per_source,
    cases::retention_folds_old_versions_and_keeps_counts_and_ranges_exact,
    cases::a_version_without_quality_first_leaves_the_columns_doubles,
    cases::values_that_do_not_fit_are_refused_on_read,
    views::versions_are_tables_made_current_in_turn_with_their_dataset_versions,
    views::a_reader_of_the_previous_version_still_reads_it_whole,
    views::a_fill_left_by_a_crash_is_replaced_and_bad_names_are_refused,
    views::typed_queries_filter_order_and_limit,
    views::queries_refuse_unknown_views_and_columns_and_bind_hostile_values,
    views::every_value_comes_back_exactly_through_the_bulk_fill,
);

#[test]
fn a_url_that_is_no_store_is_refused_by_name() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let error = runtime.block_on(SqlStore::connect("redis://u:secret@127.0.0.1/")).unwrap_err().to_string();
    assert!(error.contains("not a store URL") && !error.contains("secret"), "{error}");
    assert_eq!(redacted("mysql://root:pw@h/db"), "mysql://root:***@h/db");
    assert_eq!(redacted("mysql://root:p@ss@/x?y=1"), "mysql://root:***@/x?y=1");
    assert_eq!(redacted("postgres://u@h/db"), "postgres://u@h/db");
}

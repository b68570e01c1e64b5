//! Every golden case's generated `src/generated.rs` (codegen/tests/cases/<case>/expected/) compiles
//! against the runtime, and its migrations build a database. `codegen/tests/golden.rs` fails
//! when a case folder exists that this file does not include.

use kv2sql_runtime::sqlite::Sqlite;
use kv2sql_runtime::KvSnapshot;
use kv2sql_tests::{memory_db, row_counts};

// `rustfmt::skip`: the golden files must stay byte for byte what the generator writes
// (codegen/tests/golden.rs compares them), so `cargo fmt` must not reformat them.
#[rustfmt::skip]
#[path = "../../codegen/tests/cases/arrays/expected/src/generated.rs"]
pub mod arrays;
#[rustfmt::skip]
#[path = "../../codegen/tests/cases/entries/expected/src/generated.rs"]
pub mod entries;
#[rustfmt::skip]
#[path = "../../codegen/tests/cases/fan_out/expected/src/generated.rs"]
pub mod fan_out;
#[rustfmt::skip]
#[path = "../../codegen/tests/cases/groups/expected/src/generated.rs"]
pub mod groups;
#[rustfmt::skip]
#[path = "../../codegen/tests/cases/history/expected/src/generated.rs"]
pub mod history;
#[rustfmt::skip]
#[path = "../../codegen/tests/cases/hostile/expected/src/generated.rs"]
pub mod hostile;
#[rustfmt::skip]
#[path = "../../codegen/tests/cases/key_pattern/expected/src/generated.rs"]
pub mod key_pattern;
#[rustfmt::skip]
#[path = "../../codegen/tests/cases/scalars/expected/src/generated.rs"]
pub mod scalars;
#[rustfmt::skip]
#[path = "../../codegen/tests/cases/strict/expected/src/generated.rs"]
pub mod strict;

/// One case's entry points, so that every case runs through the same checks.
struct Case {
    name: &'static str,
    migrations: &'static [kv2sql_runtime::migrations::Migration],
    schema_sql: &'static str,
    table_count: usize,
    migrate:
        fn(&mut dyn kv2sql_runtime::SqlExecutor, &KvSnapshot) -> Result<kv2sql_runtime::Report, kv2sql_runtime::Error>,
    export: fn(&mut dyn kv2sql_runtime::SqlExecutor) -> Result<KvSnapshot, kv2sql_runtime::Error>,
}

macro_rules! case {
    ($m:ident) => {
        Case {
            name: stringify!($m),
            migrations: $m::MIGRATIONS,
            schema_sql: $m::SCHEMA_SQL,
            table_count: $m::TABLE_COUNT,
            migrate: |db, kv| $m::migrate(db, kv, &$m::MigrateOptions::default()),
            export: $m::export,
        }
    };
}

fn all_cases() -> Vec<Case> {
    vec![
        case!(arrays),
        case!(entries),
        case!(fan_out),
        case!(groups),
        case!(history),
        case!(hostile),
        case!(key_pattern),
        case!(scalars),
        case!(strict),
    ]
}

#[test]
fn migrations_build_every_table() {
    for case in all_cases() {
        assert_eq!(case.migrations.len(), 1, "{}", case.name);
        let conn = memory_db();
        let tx = conn.unchecked_transaction().expect("transaction");
        let report = (case.migrate)(&mut Sqlite::new(&tx), &KvSnapshot::default())
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        assert_eq!(report.schema_version, 1, "{}", case.name);
        assert_eq!(report.schema_migrations_applied, vec![1], "{}", case.name);
        tx.commit().expect("commit");
        let tables: Vec<String> =
            row_counts(&conn).into_iter().map(|(n, _)| n).filter(|n| !n.starts_with("kv2sql_")).collect();
        assert_eq!(tables.len(), case.table_count, "{}: tables {tables:?}", case.name);
        let exported = (case.export)(&mut Sqlite::new(&conn)).expect("export of an empty database");
        assert!(exported.entries().is_empty(), "{}", case.name);
    }
}

#[test]
fn schema_sql_builds_the_same_tables() {
    // schema.sql (for reviewers) is valid SQL too, and defines the same tables as the migration.
    for case in all_cases() {
        let conn = memory_db();
        conn.execute_batch(case.schema_sql).unwrap_or_else(|e| panic!("{}: schema.sql: {e}", case.name));
        assert_eq!(row_counts(&conn).len(), case.table_count, "{}", case.name);
    }
}

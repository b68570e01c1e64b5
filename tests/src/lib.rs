//! Shared helpers for the integration tests in `tests/tests/`.

use std::path::PathBuf;

use kv2sql_runtime::dump::parse_dump;
use kv2sql_runtime::sqlite::Sqlite;
use kv2sql_runtime::{DbError, KvSnapshot, SqlExecutor, SqlRef, SqlValue};
use rusqlite::Connection;

/// An executor over SQLite that calls `before_write(sql, params)` ahead of every write
/// (`execute`, and `execute_script` with no parameters), failing the write when it fails, and
/// binds at most `max_params` parameters per statement (100, a Durable Object's limit, unless
/// set).
pub struct Watched<'c, F> {
    pub inner: Sqlite<'c>,
    pub before_write: F,
    pub max_params: usize,
}

impl<'c, F: FnMut(&str, &[SqlRef<'_>]) -> Result<(), DbError>> Watched<'c, F> {
    pub fn new(conn: &'c Connection, before_write: F) -> Self {
        Watched { inner: Sqlite::new(conn), before_write, max_params: 100 }
    }
}

impl<F: FnMut(&str, &[SqlRef<'_>]) -> Result<(), DbError>> SqlExecutor for Watched<'_, F> {
    fn execute(&mut self, sql: &str, params: &[SqlRef<'_>]) -> Result<(), DbError> {
        (self.before_write)(sql, params)?;
        self.inner.execute(sql, params)
    }
    fn query(&mut self, sql: &str, params: &[SqlRef<'_>]) -> Result<Vec<Vec<SqlValue>>, DbError> {
        self.inner.query(sql, params)
    }
    fn execute_script(&mut self, sql: &str) -> Result<(), DbError> {
        (self.before_write)(sql, &[])?;
        self.inner.execute_script(sql)
    }
    fn max_params(&self) -> usize {
        self.max_params
    }
}

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The v1 fixtures (copied from the data model's examples).
pub fn fixtures() -> PathBuf {
    root().join("tests/fixtures/v1")
}

/// The example dump built from the fixtures.
pub fn example_dump() -> KvSnapshot {
    let text = std::fs::read_to_string(root().join("examples/v1-dump.json")).expect("examples/v1-dump.json");
    parse_dump(&text, 0).expect("the example dump parses")
}

/// A new in-memory database configured like the command line's.
pub fn memory_db() -> Connection {
    let conn = Connection::open_in_memory().expect("in-memory SQLite");
    kv2sql_runtime::sqlite::configure(&conn).expect("configure");
    conn
}

/// Total rows in every table of the mapping (for "nothing was written" checks). The lifecycle's
/// bookkeeping (`kv2sql_lifecycle`: when and from what the last migration ran; `kv2sql_changes`)
/// is left out: tests/tests/guard.rs checks it.
pub fn row_counts(conn: &Connection) -> Vec<(String, i64)> {
    let mut stmt = conn
        .prepare(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
             AND name NOT IN ('kv2sql_lifecycle', 'kv2sql_changes') ORDER BY name",
        )
        .expect("list tables");
    let names: Vec<String> = stmt.query_map([], |r| r.get(0)).expect("query").map(|r| r.expect("name")).collect();
    names
        .into_iter()
        .map(|n| {
            let c: i64 = conn.query_row(&format!("SELECT COUNT(*) FROM \"{n}\""), [], |r| r.get(0)).expect("count");
            (n, c)
        })
        .collect()
}

/// The rows of one table (optionally filtered by a `WHERE …` clause), as text with SQLite's
/// storage types, sorted.
pub fn table_rows(conn: &Connection, table: &str, filter: &str) -> Vec<String> {
    let mut stmt = conn.prepare(&format!("SELECT * FROM \"{table}\" {filter}")).expect("select");
    let n = stmt.column_count();
    let rows = stmt
        .query_map([], |r| {
            let mut cells = Vec::with_capacity(n);
            for i in 0..n {
                cells.push(format!("{:?}", r.get::<_, rusqlite::types::Value>(i)?));
            }
            Ok(format!("{table}: {}", cells.join(" | ")))
        })
        .expect("rows");
    let mut out: Vec<String> = rows.map(|r| r.expect("row")).collect();
    out.sort();
    out
}

/// Every row of every table, as text, sorted: a full picture of the database.
pub fn all_rows(conn: &Connection) -> Vec<String> {
    let mut out = Vec::new();
    for (table, _) in row_counts(conn) {
        out.extend(table_rows(conn, &table, ""));
    }
    out.sort();
    out
}

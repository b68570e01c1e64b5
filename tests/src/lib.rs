//! Shared helpers for the integration tests in `tests/tests/`.

use std::path::PathBuf;

use kv2sql_runtime::dump::parse_dump;
use kv2sql_runtime::KvSnapshot;
use rusqlite::Connection;

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

/// Total rows in every table of the mapping (for "nothing was written" checks).
pub fn row_counts(conn: &Connection) -> Vec<(String, i64)> {
    let mut stmt = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
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

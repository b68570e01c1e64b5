//! [`SqlExecutor`] over rusqlite (bundled SQLite), for the command line and the tests.

use rusqlite::types::ValueRef;
use rusqlite::Connection;

use crate::error::DbError;
use crate::value::{SqlRef, SqlValue};
use crate::SqlExecutor;

/// Runs statements on a connection (or a transaction, through `Deref`), caching prepared
/// statements.
pub struct Sqlite<'c> {
    conn: &'c Connection,
}

impl<'c> Sqlite<'c> {
    pub fn new(conn: &'c Connection) -> Self {
        Sqlite { conn }
    }
}

/// Opens (or creates) a database file with the settings kv2sql expects.
pub fn open(path: &std::path::Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    configure(&conn)?;
    Ok(conn)
}

/// Foreign keys on (as in a Durable Object), a page cache large enough that a 25 MiB
/// migration is not spilled to disk in the middle of its transaction, statement journals in
/// memory (an INSERT of several rows keeps one, to undo itself if a row fails; on disk that
/// cost more than the INSERTs), and a statement cache large enough for every table's
/// statements.
///
/// The journal mode is left as the file has it (a new file: SQLite's rollback journal). A
/// migration is one bulk transaction: WAL would write every page twice, to the log and back at
/// the checkpoint, and readers are blocked only while the commit writes.
pub fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "cache_size", -131_072)?; // KiB: 128 MiB, allocated only as used
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.set_prepared_statement_cache_capacity(256);
    Ok(())
}

/// SQLite's message and the failing statement's first line: never a whole script (rusqlite's
/// own message for a statement that does not prepare embeds all of its SQL).
fn sql_err(sql: &str, e: rusqlite::Error) -> DbError {
    match e {
        rusqlite::Error::SqlInputError { msg, sql: input, offset, .. } => {
            // From the end of the statement before the offending token.
            let at = usize::try_from(offset).ok().filter(|&o| input.is_char_boundary(o)).unwrap_or(0);
            let start = input[..at].rfind(';').map_or(0, |i| i + 1);
            DbError::Sql { sql: excerpt(&input[start..]), message: msg }
        }
        e => DbError::Sql { sql: excerpt(sql), message: e.to_string() },
    }
}

/// The first line of SQL that is not a comment, cut at 120 characters.
pub fn excerpt(sql: &str) -> String {
    const MAX: usize = 120;
    let line = sql.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with("--")).unwrap_or("");
    if line.chars().count() > MAX {
        format!("{}…", line.chars().take(MAX).collect::<String>())
    } else {
        line.to_string()
    }
}

/// Binds a value without copying it.
struct Bind<'a>(&'a SqlRef<'a>);

impl rusqlite::ToSql for Bind<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(rusqlite::types::ToSqlOutput::Borrowed(match *self.0 {
            SqlRef::Null => ValueRef::Null,
            SqlRef::Integer(i) => ValueRef::Integer(i),
            SqlRef::Real(f) => ValueRef::Real(f),
            SqlRef::Text(s) => ValueRef::Text(s.as_bytes()),
        }))
    }
}

fn from_ref(v: ValueRef<'_>) -> Result<SqlValue, String> {
    Ok(match v {
        ValueRef::Null => SqlValue::Null,
        ValueRef::Integer(i) => SqlValue::Integer(i),
        ValueRef::Real(f) => SqlValue::Real(f),
        ValueRef::Text(t) => SqlValue::Text(String::from_utf8(t.to_vec()).map_err(|e| e.to_string())?),
        ValueRef::Blob(_) => return Err("BLOB values are not used by kv2sql".into()),
    })
}

impl SqlExecutor for Sqlite<'_> {
    fn execute(&mut self, sql: &str, params: &[SqlRef<'_>]) -> Result<(), DbError> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(|e| sql_err(sql, e))?;
        stmt.execute(rusqlite::params_from_iter(params.iter().map(Bind))).map(|_| ()).map_err(|e| sql_err(sql, e))
    }

    fn query(&mut self, sql: &str, params: &[SqlRef<'_>]) -> Result<Vec<Vec<SqlValue>>, DbError> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(|e| sql_err(sql, e))?;
        let n = stmt.column_count();
        let mut rows = stmt.query(rusqlite::params_from_iter(params.iter().map(Bind))).map_err(|e| sql_err(sql, e))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(|e| sql_err(sql, e))? {
            let mut values = Vec::with_capacity(n);
            for i in 0..n {
                let v = row.get_ref(i).map_err(|e| sql_err(sql, e))?;
                values.push(from_ref(v).map_err(|m| DbError::Sql { sql: excerpt(sql), message: m })?);
            }
            out.push(values);
        }
        Ok(out)
    }

    fn execute_script(&mut self, sql: &str) -> Result<(), DbError> {
        self.conn.execute_batch(sql).map_err(|e| sql_err(sql, e))
    }

    /// SQLite's own default limit before 3.32 (later builds allow 32766).
    fn max_params(&self) -> usize {
        999
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A statement of a long script that does not prepare: the message names the statement by
    /// its first line, not the whole script.
    #[test]
    fn errors_show_the_failing_statement_not_the_script() {
        let conn = Connection::open_in_memory().unwrap();
        let mut db = Sqlite::new(&conn);
        let script = format!(
            "-- a comment\nCREATE TABLE t (a INTEGER);\n{}CREATE TABLE t (b INTEGER);\n",
            "CREATE TABLE IF NOT EXISTS pad (x INTEGER);\n".repeat(300)
        );
        let e = db.execute_script(&script).unwrap_err();
        let text = crate::Error::Db(e).to_string();
        assert_eq!(text, "SQL error: table t already exists (in `CREATE TABLE t (b INTEGER);`)");
        assert!(text.len() < 300, "{} bytes: {text}", text.len());
        // No statement to show: no empty `(in ``)`.
        let e = DbError::Sql { sql: String::new(), message: "disk I/O error".into() };
        assert_eq!(e.to_string(), "SQL error: disk I/O error");
        assert_eq!(excerpt("-- c\n\n  SELECT 1;\nSELECT 2;"), "SELECT 1;");
        assert_eq!(excerpt(&"x".repeat(500)).chars().count(), 121);
    }
}

//! [`SqlExecutor`] over rusqlite (bundled SQLite), for the command line and the tests.

use rusqlite::types::{Value as RValue, ValueRef};
use rusqlite::Connection;

use crate::error::DbError;
use crate::value::SqlValue;
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

/// Foreign keys on (as in a Durable Object), and a statement cache large enough for every
/// table's statements.
pub fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.set_prepared_statement_cache_capacity(256);
    Ok(())
}

fn sql_err(sql: &str, e: rusqlite::Error) -> DbError {
    DbError::Sql { sql: sql.chars().take(200).collect(), message: e.to_string() }
}

fn to_rusqlite(v: &SqlValue) -> RValue {
    match v {
        SqlValue::Null => RValue::Null,
        SqlValue::Integer(i) => RValue::Integer(*i),
        SqlValue::Real(f) => RValue::Real(*f),
        SqlValue::Text(s) => RValue::Text(s.clone()),
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
    fn execute(&mut self, sql: &str, params: &[SqlValue]) -> Result<usize, DbError> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(|e| sql_err(sql, e))?;
        let params: Vec<RValue> = params.iter().map(to_rusqlite).collect();
        stmt.execute(rusqlite::params_from_iter(params)).map_err(|e| sql_err(sql, e))
    }

    fn query(&mut self, sql: &str, params: &[SqlValue]) -> Result<Vec<Vec<SqlValue>>, DbError> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(|e| sql_err(sql, e))?;
        let n = stmt.column_count();
        let params: Vec<RValue> = params.iter().map(to_rusqlite).collect();
        let mut rows = stmt.query(rusqlite::params_from_iter(params)).map_err(|e| sql_err(sql, e))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(|e| sql_err(sql, e))? {
            let mut values = Vec::with_capacity(n);
            for i in 0..n {
                let v = row.get_ref(i).map_err(|e| sql_err(sql, e))?;
                values.push(from_ref(v).map_err(|m| DbError::Sql { sql: sql.into(), message: m })?);
            }
            out.push(values);
        }
        Ok(out)
    }

    fn execute_script(&mut self, sql: &str) -> Result<(), DbError> {
        self.conn.execute_batch(sql).map_err(|e| sql_err(sql, e))
    }
}

//! Schema migrations: numbered SQL scripts generated from `mapping.yaml`, applied once each, in
//! order, and recorded with their checksum in `kv2sql_migrations`.

use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::value::{SqlRef, SqlValue};
use crate::SqlExecutor;

pub const MIGRATIONS_TABLE: &str = "kv2sql_migrations";

/// One generated migration (`generated/migrations/NNNN_<name>.sql`).
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

impl Migration {
    /// SHA-256 of the SQL text, hex.
    pub fn checksum(&self) -> String {
        checksum(self.sql)
    }
}

pub fn checksum(sql: &str) -> String {
    let digest = Sha256::digest(sql.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The schema version recorded in the database (0 for a new one).
pub fn current_version(db: &mut dyn SqlExecutor) -> Result<i64, Error> {
    ensure_table(db)?;
    recorded_version(db)
}

/// [`current_version`] without creating the bookkeeping table: reads only (0 when it is missing).
pub fn recorded_version(db: &mut dyn SqlExecutor) -> Result<i64, Error> {
    let exists =
        db.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1", &[SqlRef::Text(MIGRATIONS_TABLE)])?;
    if exists.is_empty() {
        return Ok(0);
    }
    let rows = db.query(&format!("SELECT COALESCE(MAX(version), 0) FROM {MIGRATIONS_TABLE}"), &[])?;
    match rows.first().and_then(|r| r.first()) {
        Some(SqlValue::Integer(v)) => Ok(*v),
        other => Err(Error::Schema(format!(
            "unexpected schema version {other:?} in {MIGRATIONS_TABLE}: the table was edited by hand; restore the \
             database from a backup"
        ))),
    }
}

/// Whether the database has a table of this name.
pub(crate) fn table_exists(db: &mut dyn SqlExecutor, name: &str) -> Result<bool, Error> {
    let rows = db.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1", &[SqlRef::Text(name)])?;
    Ok(!rows.is_empty())
}

fn ensure_table(db: &mut dyn SqlExecutor) -> Result<(), Error> {
    db.execute_script(&format!(
        "CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (\n  version INTEGER PRIMARY KEY,\n  name TEXT NOT NULL,\n  checksum TEXT NOT NULL\n) STRICT;"
    ))?;
    Ok(())
}

/// The migrations not yet applied, after checking the ones that were: a database newer than
/// this code, or an applied migration whose SQL changed since, is refused.
pub fn pending<'m>(db: &mut dyn SqlExecutor, migrations: &'m [Migration]) -> Result<Vec<&'m Migration>, Error> {
    ensure_table(db)?;
    let applied = db.query(&format!("SELECT version, name, checksum FROM {MIGRATIONS_TABLE} ORDER BY version"), &[])?;
    let latest = migrations.iter().map(|m| m.version).max().unwrap_or(0);
    let mut done = std::collections::HashSet::new();
    for row in applied {
        let (version, name, sum) = match row.as_slice() {
            [SqlValue::Integer(v), SqlValue::Text(n), SqlValue::Text(c)] => (*v, n.clone(), c.clone()),
            other => {
                return Err(Error::Schema(format!(
                    "malformed row in {MIGRATIONS_TABLE}: {other:?}: the table was edited by hand; restore the \
                     database from a backup"
                )))
            }
        };
        if version > latest {
            return Err(Error::Schema(format!(
                "the database is at schema version {version} ({name}), newer than this build's {latest}: \
                 refusing to run older code against it (deploy the newer build, or restore a backup)"
            )));
        }
        let Some(m) = migrations.iter().find(|m| m.version == version) else {
            return Err(Error::Schema(format!(
                "the database has migration {version:04}_{name}, which this build does not know: it was migrated by \
                 another build of kv2sql (another mapping.yaml); use that build, or restore a backup"
            )));
        };
        let expected = m.checksum();
        if expected != sum {
            return Err(Error::Schema(format!(
                "migration {version:04}_{} was changed after it was applied (checksum in the database {sum}, \
                 in this build {expected}); released migrations must not be edited: revert the edit and \
                 add a new migration instead",
                m.name
            )));
        }
        done.insert(version);
    }
    let mut todo: Vec<&Migration> = migrations.iter().filter(|m| !done.contains(&m.version)).collect();
    todo.sort_by_key(|m| m.version);
    Ok(todo)
}

/// Applies the pending migrations, in order; returns their versions. The caller provides the
/// transaction.
pub fn apply(db: &mut dyn SqlExecutor, migrations: &[Migration]) -> Result<Vec<i64>, Error> {
    let todo = pending(db, migrations)?;
    let fresh = todo.len() == migrations.len();
    let mut applied = Vec::new();
    for m in todo {
        if let Err(e) = db.execute_script(m.sql) {
            // Tables already there while none is recorded: say so, rather than which one clashed.
            if fresh && applied.is_empty() {
                let tables = unrecorded_tables(db)?;
                if !tables.is_empty() {
                    return Err(no_bookkeeping(&tables));
                }
            }
            return Err(Error::Schema(format!("migration {:04}_{} failed: {e}", m.version, m.name)));
        }
        db.execute(
            &format!("INSERT INTO {MIGRATIONS_TABLE} (version, name, checksum) VALUES (?1, ?2, ?3)"),
            &[SqlRef::Integer(m.version), SqlRef::Text(m.name), SqlRef::Text(&m.checksum())],
        )?;
        applied.push(m.version);
    }
    Ok(applied)
}

/// The tables of a database other than kv2sql's bookkeeping (`kv2sql_*`: no mapped table may
/// take that prefix) and SQLite's or the platform's own (`sqlite_*`, `_cf_*`).
pub fn unrecorded_tables(db: &mut dyn SqlExecutor) -> Result<Vec<String>, Error> {
    let rows = db.query(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
         AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\' AND name NOT LIKE 'kv2sql\\_%' ESCAPE '\\' ORDER BY name",
        &[],
    )?;
    Ok(rows
        .into_iter()
        .filter_map(|r| match r.into_iter().next() {
            Some(SqlValue::Text(t)) => Some(t),
            _ => None,
        })
        .collect())
}

/// A database with tables but no recorded migration: kv2sql cannot tell their schema, and
/// running `migrate` again cannot help.
pub fn no_bookkeeping(tables: &[String]) -> Error {
    let shown: Vec<&str> = tables.iter().take(5).map(String::as_str).collect();
    let more = if tables.len() > shown.len() { format!(", … {} in all", tables.len()) } else { String::new() };
    Error::Schema(format!(
        "the database has tables ({}{more}) but no kv2sql bookkeeping ({MIGRATIONS_TABLE} is missing or empty), \
         so kv2sql cannot tell which schema they have: it was not created by `kv2sql migrate`, or its \
         {MIGRATIONS_TABLE} rows were deleted. kv2sql will not guess: restore the database from a backup, or \
         migrate the dump into a new database file",
        shown.join(", ")
    ))
}

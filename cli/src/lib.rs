//! The native front end: runs the generated migration against embedded SQLite (rusqlite,
//! bundled), one transaction per run. The `kv2sql` binary is a thin command line over this.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use kv2sql_generated as generated;
use kv2sql_runtime::diff::{diff, Difference};
use kv2sql_runtime::dump::{parse_dump, write_dump};
use kv2sql_runtime::sqlite::{self, Sqlite};
use kv2sql_runtime::{Error, KvSnapshot, Report};
use rusqlite::Connection;

pub use generated::MigrateOptions;

pub mod pull;

/// Seconds since the Unix epoch (turns `expiration_ttl` into an expiration).
pub fn now_unix() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// Reads a `wrangler kv bulk` dump file.
pub fn read_dump(path: &Path) -> Result<KvSnapshot, Error> {
    let bytes = std::fs::read(path).map_err(|e| Error::Dump(format!("{}: {e}", path.display())))?;
    let text = String::from_utf8(bytes).map_err(|e| Error::Dump(format!("{}: not UTF-8 text: {e}", path.display())))?;
    parse_dump(&text, now_unix())
}

/// Opens (or creates) a database file.
pub fn open_db(path: &Path) -> Result<Connection, Error> {
    sqlite::open(path).map_err(|e| {
        Error::Db(kv2sql_runtime::DbError::Sql { sql: String::new(), message: format!("{}: {e}", path.display()) })
    })
}

fn db_err(e: rusqlite::Error) -> Error {
    Error::Db(kv2sql_runtime::DbError::Sql { sql: String::new(), message: e.to_string() })
}

/// Migrates a snapshot into the database in one transaction: the schema is created or
/// upgraded, every value is checked as it is extracted, and any error rolls the whole run back
/// (nothing is written). A dry run rolls back even on success.
pub fn migrate(conn: &mut Connection, kv: &KvSnapshot, dry_run: bool) -> Result<Report, Error> {
    migrate_with(conn, kv, &MigrateOptions { dry_run, ..Default::default() })
}

/// [`migrate`], calling `progress(done, total, step)` as each step starts.
pub fn migrate_with_progress(
    conn: &mut Connection,
    kv: &KvSnapshot,
    dry_run: bool,
    progress: Option<fn(usize, usize, &str)>,
) -> Result<Report, Error> {
    migrate_with(conn, kv, &MigrateOptions { dry_run, progress, ..Default::default() })
}

/// [`migrate`] with every option of the generated migration.
pub fn migrate_with(conn: &mut Connection, kv: &KvSnapshot, opts: &MigrateOptions) -> Result<Report, Error> {
    let before = conn.total_changes();
    let tx = conn.transaction().map_err(db_err)?;
    let mut report = {
        let mut db = Sqlite::new(&tx);
        generated::migrate(&mut db, kv, opts)?
    };
    if opts.dry_run {
        tx.rollback().map_err(db_err)?;
        report.rows_written = Some(0);
    } else {
        let written = tx.total_changes() - before;
        tx.commit().map_err(db_err)?;
        report.rows_written = Some(written);
    }
    Ok(report)
}

/// Rebuilds the KV values from the database.
pub fn export(conn: &mut Connection) -> Result<KvSnapshot, Error> {
    let tx = conn.transaction().map_err(db_err)?;
    let mut db = Sqlite::new(&tx);
    let version = generated::schema_version(&mut db)?;
    if version == 0 {
        return Err(Error::Schema("the database has no kv2sql schema: run `kv2sql migrate` first".into()));
    }
    // Refuses a database newer than this build, or with edited migrations.
    let pending = kv2sql_runtime::migrations::pending(&mut db, generated::MIGRATIONS)?;
    if !pending.is_empty() {
        return Err(Error::Schema(format!(
            "the database is at schema version {version}; run `kv2sql migrate` to apply the {} pending migration(s) first",
            pending.len()
        )));
    }
    generated::export(&mut db)
}

pub fn export_to_file(conn: &mut Connection, out: &Path) -> Result<KvSnapshot, Error> {
    let snap = export(conn)?;
    std::fs::write(out, write_dump(&snap)).map_err(|e| Error::Dump(format!("{}: {e}", out.display())))?;
    Ok(snap)
}

/// One difference between the upgraded dump and the database.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyDifference {
    pub key: String,
    pub difference: Difference,
}

/// Compares the database with the upgraded dump: every mapped key, its value (as JSON, key
/// order aside) and its expiration.
pub fn verify(conn: &mut Connection, kv: &KvSnapshot) -> Result<Vec<KeyDifference>, Error> {
    let expected = generated::upgraded(kv)?;
    let found = export(conn)?;
    Ok(compare(&expected, &found))
}

pub fn compare(expected: &KvSnapshot, found: &KvSnapshot) -> Vec<KeyDifference> {
    let mut out = Vec::new();
    let parse =
        |s: &str| serde_json::from_str::<serde_json::Value>(s).unwrap_or(serde_json::Value::String(s.to_string()));
    for e in expected.entries() {
        match found.get(&e.key) {
            None => out.push(KeyDifference {
                key: e.key.clone(),
                difference: Difference { pointer: "/".into(), left: Some(parse(&e.value)), right: None },
            }),
            Some(f) => {
                for d in diff(&parse(&e.value), &parse(&f.value)) {
                    out.push(KeyDifference { key: e.key.clone(), difference: d });
                }
                if e.expiration != f.expiration {
                    out.push(KeyDifference {
                        key: e.key.clone(),
                        difference: Difference {
                            pointer: "(expiration)".into(),
                            left: e.expiration.map(Into::into),
                            right: f.expiration.map(Into::into),
                        },
                    });
                }
            }
        }
    }
    for f in found.entries() {
        if expected.get(&f.key).is_none() {
            out.push(KeyDifference {
                key: f.key.clone(),
                difference: Difference { pointer: "/".into(), left: None, right: Some(parse(&f.value)) },
            });
        }
    }
    out
}

/// The schema migrations a database still needs, with their SQL.
pub fn pending_sql(conn: &mut Connection) -> Result<Vec<(i64, String, String)>, Error> {
    let tx = conn.transaction().map_err(db_err)?;
    let mut db = Sqlite::new(&tx);
    let pending = kv2sql_runtime::migrations::pending(&mut db, generated::MIGRATIONS)?;
    Ok(pending.iter().map(|m| (m.version, m.name.to_string(), m.sql.to_string())).collect())
}

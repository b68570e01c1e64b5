//! The native front end: runs the generated migration against embedded SQLite (rusqlite,
//! bundled), one transaction per run. The `kv2sql` binary is a thin command line over this.

pub mod files;
pub mod pull;

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use kv2sql_generated as generated;
use kv2sql_runtime::diff::{diff, Difference};
use kv2sql_runtime::dump::{read_bulk, write_dump};
use kv2sql_runtime::lifecycle::{self, State, Status};
use kv2sql_runtime::sqlite::{self, Sqlite};
use kv2sql_runtime::{Error, KvSnapshot, Report};
use rusqlite::Connection;

pub use generated::MigrateOptions;

/// Seconds since the Unix epoch.
pub fn now_unix() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// Reads a `wrangler kv bulk` dump file; an `expiration_ttl` in it is refused (see [`read_bulk`]).
pub fn read_dump(path: &Path) -> Result<KvSnapshot, Error> {
    read_dump_with(path, None)
}

/// [`read_dump`], counting each `expiration_ttl` from `ttl_base` (Unix seconds) when given.
pub fn read_dump_with(path: &Path, ttl_base: Option<i64>) -> Result<KvSnapshot, Error> {
    let bytes = std::fs::read(path).map_err(|e| Error::Dump(format!("cannot read {}: {e}", path.display())))?;
    let text = String::from_utf8(bytes)
        .map_err(|e| Error::Dump(format!("{}: not UTF-8 text: {e}; save the dump as UTF-8", path.display())))?;
    read_bulk(&text, ttl_base)
}

/// Opens (or creates) a database file, for `migrate`. An existing file must be a SQLite database.
pub fn open_db(path: &Path) -> Result<Connection, Error> {
    files::check_migrate_db(path)?;
    open(path)
}

/// Opens a database file that must already exist (it is never created): for `export`,
/// `verify` and `plan`.
pub fn open_existing_db(path: &Path) -> Result<Connection, Error> {
    files::check_existing_db(path)?;
    open(path)
}

fn open(path: &Path) -> Result<Connection, Error> {
    sqlite::open(path).map_err(|e| Error::File(format!("cannot open the database {}: {e}", path.display())))
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
    migrate_guarded(conn, kv, opts, false)
}

/// [`migrate_with`], guarded ([`lifecycle`]): refuses a database that is cut over, and one
/// whose tables were written outside a migration since the last one unless `force` (then it
/// overwrites them and the report names them). A dry run reports the divergence instead.
/// `rows_written` counts data rows; the lifecycle's own rows are `bookkeeping_writes`.
pub fn migrate_guarded(
    conn: &mut Connection,
    kv: &KvSnapshot,
    opts: &MigrateOptions,
    force: bool,
) -> Result<Report, Error> {
    migrate_run(conn, kv, opts, force, false)
}

/// A source's name and whether a KV key belongs to it.
type SourcePredicate = (&'static str, Box<dyn Fn(&str) -> bool>);

/// The per-source digests of a snapshot under this build's model ([`lifecycle::source_digests`]).
pub fn source_digests(kv: &KvSnapshot) -> String {
    let preds: Vec<SourcePredicate> = generated::KV_SOURCES
        .iter()
        .map(|s| -> SourcePredicate {
            match *s {
                generated::KvSource::Key(k) => (k, Box::new(move |key: &str| key == k)),
                generated::KvSource::Prefix(p) => (p, Box::new(move |key: &str| key.starts_with(p))),
            }
        })
        .collect();
    let fingerprint = lifecycle::model_fingerprint(generated::MIGRATIONS, env!("CARGO_PKG_VERSION"));
    lifecycle::source_digests(kv, preds.iter().map(|(n, f)| (*n, f.as_ref())), &fingerprint)
}

/// [`migrate_guarded`], skipping the run when every source is unchanged since the last
/// migration ([`lifecycle::unchanged`]): same KV entries and model, no divergence, no pending
/// schema migration. `full`, `force` and a dry run never skip.
pub fn migrate_run(
    conn: &mut Connection,
    kv: &KvSnapshot,
    opts: &MigrateOptions,
    force: bool,
    full: bool,
) -> Result<Report, Error> {
    let sources = source_digests(kv);
    if !(full || force || opts.dry_run) {
        if let Some(report) = skip_if_unchanged(conn, &sources)? {
            return Ok(report);
        }
    }
    let mut report = migrate_all(conn, kv, opts, force, &sources)?;
    report.skipped.clear();
    Ok(report)
}

/// The report of a run that skipped every source, or `None` when one of them must be compared.
fn skip_if_unchanged(conn: &mut Connection, sources: &str) -> Result<Option<Report>, Error> {
    let tx = conn.transaction().map_err(db_err)?;
    let mut db = Sqlite::new(&tx);
    if !lifecycle::unchanged(&mut db, sources, generated::TABLES, generated::MIGRATIONS)? {
        return Ok(None);
    }
    let schema_version = generated::schema_version(&mut db)?;
    let skipped = generated::KV_SOURCES
        .iter()
        .map(|s| match *s {
            generated::KvSource::Key(k) => k.to_string(),
            generated::KvSource::Prefix(p) => format!("{p}*"),
        })
        .collect();
    let report =
        Report { schema_version, skipped, rows_written: Some(0), bookkeeping_writes: Some(0), ..Default::default() };
    tx.rollback().map_err(db_err)?;
    Ok(Some(report))
}

fn migrate_all(
    conn: &mut Connection,
    kv: &KvSnapshot,
    opts: &MigrateOptions,
    force: bool,
    sources: &str,
) -> Result<Report, Error> {
    let digest = lifecycle::kv_digest(kv, generated::is_mapped);
    let tx = conn.transaction().map_err(db_err)?;
    let (mut report, data, bookkeeping) = {
        let mut db = Sqlite::new(&tx);
        let c0 = tx.total_changes();
        let guard = lifecycle::begin(&mut db, force, opts.dry_run)?;
        let c1 = tx.total_changes();
        let mut report = generated::migrate(&mut db, kv, opts)?;
        let c2 = tx.total_changes();
        lifecycle::finish(&mut db, generated::TABLES, &guard, &digest, &lifecycle::iso8601(now_unix()))?;
        lifecycle::record_source_digests(&mut db, sources)?;
        report.diverged = guard.diverged;
        report.forced = force;
        (report, c2 - c1, (c1 - c0) + (tx.total_changes() - c2))
    };
    if opts.dry_run {
        tx.rollback().map_err(db_err)?;
        report.rows_written = Some(0);
        report.bookkeeping_writes = Some(0);
    } else {
        tx.commit().map_err(db_err)?;
        report.rows_written = Some(data);
        report.bookkeeping_writes = Some(bookkeeping);
    }
    Ok(report)
}

/// Opens a database file that must already exist ([`files::check_existing_db`]) without
/// writing to it.
fn open_existing_read_only(path: &Path) -> Result<Connection, Error> {
    files::check_existing_db(path)?;
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
    Connection::open_with_flags(path, flags)
        .map_err(|e| Error::File(format!("cannot open the database {}: {e}", path.display())))
}

/// The database's phase, last migration and divergence, read-only. A missing file is reported
/// as never migrated and is not created.
pub fn status(path: &Path) -> Result<Status, Error> {
    if !path.exists() {
        return Ok(Status {
            schema_version: 0,
            state: State::never_migrated(),
            diverged: false,
            diverged_tables: Vec::new(),
        });
    }
    let conn = open_existing_read_only(path)?;
    lifecycle::status(&mut Sqlite::new(&conn))
}

/// Records the cutover (`undo`: undoes it) in an existing database, in one transaction.
pub fn cutover(path: &Path, undo: bool) -> Result<State, Error> {
    let mut conn = open_existing_db(path)?;
    let tx = conn.transaction().map_err(db_err)?;
    let state = {
        let mut db = Sqlite::new(&tx);
        if undo {
            lifecycle::undo_cutover(&mut db)?
        } else {
            lifecycle::cutover(&mut db, &lifecycle::iso8601(now_unix()))?
        }
    };
    tx.commit().map_err(db_err)?;
    Ok(state)
}

/// Rebuilds the KV values from the database.
pub fn export(conn: &mut Connection) -> Result<KvSnapshot, Error> {
    let tx = conn.transaction().map_err(db_err)?;
    let mut db = Sqlite::new(&tx);
    let version = generated::schema_version(&mut db)?;
    if version == 0 {
        let tables = kv2sql_runtime::migrations::unrecorded_tables(&mut db)?;
        if !tables.is_empty() {
            return Err(kv2sql_runtime::migrations::no_bookkeeping(&tables));
        }
        return Err(Error::Schema(
            "the database is empty (no kv2sql schema): run `kv2sql migrate --kv <dump> --db <database>` first".into(),
        ));
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

/// Exports the database at `db` to the dump file `out`, written atomically: on any failure
/// the previous `out` is left whole. `out` may not be a database (see [`files::check_export_target`]).
pub fn export_to_file(db: &Path, out: &Path) -> Result<KvSnapshot, Error> {
    files::check_export_target(db, out)?;
    let mut conn = open_existing_db(db)?;
    let snap = export(&mut conn)?;
    kv2sql_codegen::io::atomic::write_file(out, write_dump(&snap).as_bytes())
        .map_err(|e| Error::File(e.to_string()))?;
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
    let parse = |s: &str| kv2sql_runtime::json::from_text(s).unwrap_or(serde_json::Value::String(s.to_string()));
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
    // Every migration pending over tables kv2sql did not record: applying them would fail.
    if pending.len() == generated::MIGRATIONS.len() {
        let tables = kv2sql_runtime::migrations::unrecorded_tables(&mut db)?;
        if !tables.is_empty() {
            return Err(kv2sql_runtime::migrations::no_bookkeeping(&tables));
        }
    }
    Ok(pending.iter().map(|m| (m.version, m.name.to_string(), m.sql.to_string())).collect())
}

//! The files the command line is given: a database must exist (except for `migrate`) and be a
//! SQLite file, and nothing is ever written over a database, whatever the spelling of its path.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use kv2sql_runtime::Error;

/// The first 16 bytes of every SQLite database file.
pub const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// SQLite's companion files of a database, which hold pages not yet in the database itself.
const SIBLINGS: [&str; 3] = ["-journal", "-wal", "-shm"];

/// Whether `path` is a regular file starting with the SQLite header (false when it cannot be
/// read). Streams are not opened: reading `/dev/stdout` would wait on the pipe.
pub fn is_sqlite_file(path: &Path) -> bool {
    let mut head = [0u8; 16];
    fs::metadata(path).is_ok_and(|m| m.is_file())
        && fs::File::open(path).and_then(|mut f| f.read_exact(&mut head)).is_ok()
        && &head == SQLITE_MAGIC
}

/// The path with symbolic links, `.` and `..` resolved; for a file that does not exist yet, its
/// resolved directory joined with its name.
fn resolved(path: &Path) -> PathBuf {
    if let Ok(p) = fs::canonicalize(path) {
        return p;
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    match (fs::canonicalize(dir), path.file_name()) {
        (Ok(d), Some(name)) => d.join(name),
        _ => path.to_path_buf(),
    }
}

/// Whether two paths name the same existing file (hard links included).
#[cfg(unix)]
fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (fs::metadata(a), fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(a: &Path, b: &Path) -> bool {
    resolved(a) == resolved(b)
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Refuses an export file that is the database, one of its journal/WAL files, or any SQLite
/// database: writing the dump there would destroy what only the database holds.
pub fn check_export_target(db: &Path, out: &Path) -> Result<(), Error> {
    let refuse = |what: String| {
        Err(Error::File(format!(
            "refusing to export to {}: {what}; writing the dump there would destroy it. Give --kv a new file \
             name (for example {}.json)",
            out.display(),
            db.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "export".into())
        )))
    };
    let db_real = resolved(db);
    let out_real = resolved(out);
    if out_real == db_real || same_file(db, out) {
        return refuse(format!("it is the database given to --db ({})", db.display()));
    }
    for suffix in SIBLINGS {
        let sibling = with_suffix(&db_real, suffix);
        if out_real == sibling || same_file(&sibling, out) {
            return refuse(format!("it is the database's {suffix} file, which SQLite needs to keep it whole"));
        }
    }
    if is_sqlite_file(out) {
        return refuse("it is a SQLite database".into());
    }
    Ok(())
}

/// Refuses a database path that does not exist, is a directory, or is not a SQLite file, so
/// that `export`, `verify` and `plan` never create an empty database by mistake.
pub fn check_existing_db(db: &Path) -> Result<(), Error> {
    match fs::metadata(db) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::File(format!(
            "the database {} does not exist: check the path given to --db (only `kv2sql migrate` creates a \
             database)",
            db.display()
        ))),
        Err(e) => Err(Error::File(format!("cannot read the database {}: {e}", db.display()))),
        Ok(m) => check_db_file(db, &m),
    }
}

/// For `migrate`: the database may be new, but an existing path must be a SQLite file.
pub fn check_migrate_db(db: &Path) -> Result<(), Error> {
    match fs::metadata(db) {
        Ok(m) => check_db_file(db, &m),
        Err(_) => Ok(()),
    }
}

/// The dump read by `migrate` and `verify` cannot be the database.
pub fn check_dump_is_not_db(kv: &Path, db: &Path) -> Result<(), Error> {
    if same_file(kv, db) || resolved(kv) == resolved(db) {
        return Err(Error::File(format!(
            "--kv and --db are the same file ({}): give the dump file to --kv and the database file to --db",
            db.display()
        )));
    }
    Ok(())
}

/// A directory, or a non-empty file without the SQLite header, is refused. (An empty file is
/// an empty database, as SQLite sees it.)
fn check_db_file(db: &Path, m: &fs::Metadata) -> Result<(), Error> {
    if m.is_dir() {
        return Err(Error::File(format!(
            "the database {} is a directory: give --db the path of a database file",
            db.display()
        )));
    }
    if m.len() > 0 && !is_sqlite_file(db) {
        return Err(Error::File(format!(
            "{} is not a SQLite database (it does not start with the SQLite header): check the path given to \
             --db; a dump file goes to --kv",
            db.display()
        )));
    }
    Ok(())
}

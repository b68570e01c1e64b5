//! Databases any SQLite can read: the files kv2sql writes are checked, dumped, restored and
//! written to by the distribution's `sqlite3` (Debian 12's is 3.40), not only by the SQLite
//! bundled with kv2sql.
//!
//! Before SQLite 3.45, `json_valid(NULL)` is 0, so schema 1's `CHECK (json_valid(col))` on a
//! nullable `json` column failed on every NULL there: `PRAGMA integrity_check` reported it, and
//! `sqlite3 db .dump | sqlite3 new.db` silently restored none of those rows. Migration 0002
//! (`null_safe_checks`) rebuilds those tables with `CHECK (col IS NULL OR json_valid(col))`.
//!
//! `sqlite3` is looked up on PATH (`SQLITE3=/path/to/sqlite3` overrides it). When it is
//! missing the tests fail under CI (`CI=true`; scripts/setup.sh installs it) and otherwise skip
//! with a notice.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use kv2sql_codegen::ir::ColType;
use kv2sql_runtime::migrations;
use kv2sql_runtime::sqlite::Sqlite;
use kv2sql_runtime::KvSnapshot;
use kv2sql_tests as tests;
use rusqlite::types::Value;
use rusqlite::Connection;

// ------------------------------------------------------------------------------------------
// The distribution's sqlite3

struct Sqlite3 {
    bin: PathBuf,
    /// (major, minor)
    version: (u32, u32),
}

/// The `sqlite3` command line, or None (with a notice) when it is missing outside CI.
fn sqlite3() -> Option<Sqlite3> {
    let bin = PathBuf::from(std::env::var_os("SQLITE3").unwrap_or_else(|| "sqlite3".into()));
    let out = Command::new(&bin).arg("--version").output();
    let text = match out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
        other => {
            let why = match other {
                Ok(o) => format!("`{} --version` exited with {}", bin.display(), o.status),
                Err(e) => format!("`{}` cannot be run: {e}", bin.display()),
            };
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("{why}: these tests need the distribution's sqlite3; install it with scripts/setup.sh (apt-get install sqlite3)");
            }
            eprintln!("NOTICE: skipping the sqlite3 tests: {why}; install sqlite3 (scripts/setup.sh) to run them");
            return None;
        }
    };
    let mut parts = text.split_whitespace().next().unwrap_or_default().split('.');
    let mut num = || parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let version = (num(), num());
    eprintln!("sqlite3 {}", text.trim());
    Some(Sqlite3 { bin, version })
}

impl Sqlite3 {
    /// Runs `sqlite3 db` with `sql` on standard input; (stdout, stderr, success).
    fn run(&self, db: &Path, sql: &str) -> (String, String, bool) {
        use std::io::Write;
        let mut child = Command::new(&self.bin)
            .arg("-batch")
            .arg(db)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("sqlite3 starts");
        child.stdin.take().expect("stdin").write_all(sql.as_bytes()).expect("write to sqlite3");
        let out = child.wait_with_output().expect("sqlite3 runs");
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
            out.status.success(),
        )
    }

    fn integrity_check(&self, db: &Path) -> String {
        let (out, err, ok) = self.run(db, "PRAGMA integrity_check;\n");
        assert!(ok && err.is_empty(), "sqlite3 integrity_check on {}: {err}", db.display());
        out.trim_end().to_string()
    }

    /// `sqlite3 db .dump | sqlite3 new.db`; returns what the restoring sqlite3 printed on stderr.
    fn dump_and_restore(&self, db: &Path, new: &Path) -> String {
        let (dump, err, ok) = self.run(db, ".dump\n");
        assert!(ok && err.is_empty(), "sqlite3 .dump of {}: {err}", db.display());
        assert!(dump.contains("CREATE TABLE"), "the dump has the schema:\n{dump}");
        let (_, err, _) = self.run(new, &dump);
        err
    }

    /// Whether this sqlite3 has the bug the migration works around.
    fn json_valid_null_is_false(&self) -> bool {
        self.version < (3, 45)
    }
}

// ------------------------------------------------------------------------------------------
// Databases

fn scratch(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::Builder::new().prefix(&format!("kv2sql-old-sqlite-{name}-")).tempdir().expect("temp dir");
    let db = dir.path().join("db.sqlite");
    (dir, db)
}

/// A database file created and filled by `kv2sql migrate` (this build).
fn migrated(path: &Path, kv: &KvSnapshot) -> Connection {
    let mut conn = kv2sql::open_db(path).expect("open");
    let report = kv2sql::migrate(&mut conn, kv, false).expect("migrates");
    assert!(report.rows_changed() > 0, "{report:?}");
    conn
}

fn user_tables(conn: &Connection) -> Vec<String> {
    let mut stmt = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY rowid")
        .expect("tables");
    stmt.query_map([], |r| r.get(0)).expect("query").map(|r| r.expect("name")).collect()
}

fn columns(conn: &Connection, table: &str) -> Vec<String> {
    let mut stmt = conn.prepare("SELECT name FROM pragma_table_info(?1)").expect("columns");
    stmt.query_map([table], |r| r.get(0)).expect("query").map(|r| r.expect("name")).collect()
}

/// A database as the previous release (schema version 1) left it: migration 0001 as released,
/// holding exactly the rows this build writes for `kv` (release 2 changed only CHECKs, so the
/// rows are the same), copied in with bound values.
fn release_1_database(path: &Path, kv: &KvSnapshot) {
    let mut current = tests::memory_db();
    kv2sql::migrate(&mut current, kv, false).expect("migrates");
    let mut v1 = kv2sql::open_db(path).expect("open");
    let tx = v1.transaction().expect("begin");
    migrations::apply(&mut Sqlite::new(&tx), &kv2sql_generated::MIGRATIONS[..1]).expect("0001 applies");
    tx.execute_batch("PRAGMA defer_foreign_keys = ON;").expect("defer");
    for t in user_tables(&current).into_iter().filter(|t| !t.starts_with("kv2sql_")) {
        let cols = columns(&current, &t);
        let list = cols.iter().map(|c| format!("\"{c}\"")).collect::<Vec<_>>().join(", ");
        let params = (1..=cols.len()).map(|i| format!("?{i}")).collect::<Vec<_>>().join(", ");
        let mut insert = tx.prepare(&format!("INSERT INTO \"{t}\" ({list}) VALUES ({params})")).expect("insert");
        let mut select = current.prepare(&format!("SELECT {list} FROM \"{t}\"")).expect("select");
        let rows = select
            .query_map([], |r| (0..cols.len()).map(|i| r.get::<_, Value>(i)).collect::<Result<Vec<_>, _>>())
            .expect("rows");
        for row in rows {
            insert.execute(rusqlite::params_from_iter(row.expect("row"))).expect("copy a row into schema 1");
        }
    }
    tx.commit().expect("commit");
    assert_eq!(data_rows(&v1), data_rows(&current), "schema 1 holds the same rows");
    let version: i64 = v1.query_row("SELECT MAX(version) FROM kv2sql_migrations", [], |r| r.get(0)).expect("version");
    assert_eq!(version, 1);
}

/// How many NULLs each nullable column holds, by mapping type, over every table.
fn nulls_by_kind(conn: &Connection) -> Vec<(ColType, String, i64)> {
    let text = std::fs::read_to_string(tests::root().join("mapping.yaml")).expect("mapping.yaml");
    let model = kv2sql_codegen::parse("mapping.yaml", &text).unwrap_or_else(|d| panic!("{d}"));
    let mut out = Vec::new();
    for t in &model.tables {
        for c in t.columns.iter().filter(|c| c.sql_nullable) {
            let sql = format!("SELECT COUNT(*) FROM \"{}\" WHERE \"{}\" IS NULL", t.name, c.name);
            let n: i64 = conn.query_row(&sql, [], |r| r.get(0)).expect("count NULLs");
            out.push((c.ty, format!("{}.{}", t.name, c.name), n));
        }
    }
    out
}

/// The datagen namespaces that, together, put a NULL in every kind of nullable column.
fn generated_namespace() -> KvSnapshot {
    let mut opts = kv2sql_datagen::Options::new(7, kv2sql_datagen::Size::Small);
    opts.legacy_versions = true;
    kv2sql_datagen::snapshot(&opts)
}

/// Every row of every mapped table (the migration history left out).
fn data_rows(conn: &Connection) -> Vec<String> {
    let history = format!("{}: ", migrations::MIGRATIONS_TABLE);
    tests::all_rows(conn).into_iter().filter(|r| !r.starts_with(&history)).collect()
}

fn export(conn: &mut Connection) -> String {
    kv2sql_runtime::dump::write_dump(&kv2sql::export(conn).expect("export"))
}

// ------------------------------------------------------------------------------------------
// The tests

/// The example database: `integrity_check` is ok, and a `.dump` restores every row of every
/// table, with the same export.
#[test]
fn example_database_checks_dumps_and_restores_on_sqlite3() {
    let Some(s3) = sqlite3() else { return };
    let (_dir, db) = scratch("example");
    let mut conn = migrated(&db, &tests::example_dump());
    assert_eq!(s3.integrity_check(&db), "ok");
    let restored = db.with_file_name("restored.sqlite");
    let err = s3.dump_and_restore(&db, &restored);
    assert_eq!(err, "", "restoring the dump with sqlite3 reports nothing");
    let mut back = kv2sql::open_db(&restored).expect("open the restored copy");
    assert_eq!(tests::row_counts(&back), tests::row_counts(&conn));
    assert_eq!(tests::all_rows(&back), tests::all_rows(&conn));
    assert_eq!(export(&mut back), export(&mut conn), "kv2sql export of the restored copy");
    assert_eq!(s3.integrity_check(&restored), "ok");
}

/// A generated namespace with a NULL in every kind of nullable column (json, any, number,
/// boolean, text, integer, …): `integrity_check` is ok and `.dump` restores it whole.
#[test]
fn nulls_in_every_nullable_column_kind_check_and_restore_on_sqlite3() {
    let Some(s3) = sqlite3() else { return };
    let (_dir, db) = scratch("nulls");
    let mut conn = migrated(&db, &generated_namespace());
    let nulls = nulls_by_kind(&conn);
    let kinds: std::collections::BTreeSet<String> = nulls.iter().map(|(k, _, _)| format!("{k:?}")).collect();
    for kind in &kinds {
        let with_null: Vec<&String> =
            nulls.iter().filter(|(k, _, n)| format!("{k:?}") == *kind && *n > 0).map(|x| &x.1).collect();
        assert!(!with_null.is_empty(), "no NULL in any nullable {kind} column: {nulls:?}");
    }
    assert!(kinds.contains("Json") && kinds.contains("Any"), "{kinds:?}");
    let json_nulls: i64 = nulls.iter().filter(|(k, _, _)| *k == ColType::Json).map(|x| x.2).sum();
    eprintln!("NULLs in nullable json columns: {json_nulls}; kinds with NULLs: {kinds:?}");

    assert_eq!(s3.integrity_check(&db), "ok");
    let restored = db.with_file_name("restored.sqlite");
    assert_eq!(s3.dump_and_restore(&db, &restored), "");
    let mut back = kv2sql::open_db(&restored).expect("open the restored copy");
    assert_eq!(tests::all_rows(&back), tests::all_rows(&conn));
    assert_eq!(export(&mut back), export(&mut conn));
}

/// Through sqlite3: a row with NULL in nullable json columns is accepted; invalid JSON text is
/// still refused by the CHECK, and nothing of it is stored.
#[test]
fn sqlite3_inserts_null_json_and_refuses_invalid_json() {
    let Some(s3) = sqlite3() else { return };
    let (_dir, db) = scratch("insert");
    let conn = migrated(&db, &tests::example_dump());
    // A copy of an item under a new id, with `github_data` and `extra_fields` NULL.
    let cols = columns(&conn, "items");
    let copy = |id: &str, github_data: &str| {
        let select: Vec<String> = cols
            .iter()
            .map(|c| match c.as_str() {
                "id" => format!("'{id}'"),
                "github_data" => github_data.into(),
                "extra_fields" => "NULL".into(),
                other => format!("\"{other}\""),
            })
            .collect();
        let list = cols.iter().map(|c| format!("\"{c}\"")).collect::<Vec<_>>().join(", ");
        format!("INSERT INTO items ({list}) SELECT {} FROM items LIMIT 1;\n", select.join(", "))
    };
    let (_, err, ok) = s3.run(&db, &copy("old-sqlite-null", "NULL"));
    assert!(ok && err.is_empty(), "sqlite3 inserts NULL json: {err}");
    let (_, err, ok) = s3.run(&db, "INSERT INTO items_doc (kv_key, version, write_version, updated_at, extra_fields) VALUES ('old-sqlite:doc', 10, 1, NULL, NULL);\n");
    assert!(ok && err.is_empty(), "sqlite3 inserts NULL extra_fields: {err}");
    let got: (Option<String>, Option<String>) = conn
        .query_row("SELECT github_data, extra_fields FROM items WHERE id = 'old-sqlite-null'", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .expect("the row sqlite3 inserted");
    assert_eq!(got, (None, None));

    let (_, err, ok) = s3.run(&db, &copy("old-sqlite-bad", "'{\"unterminated\": '"));
    assert!(!ok && err.contains("CHECK constraint failed"), "invalid JSON is refused: ok={ok} {err}");
    let (_, err, ok) = s3.run(&db, "INSERT INTO items_doc (kv_key, version, write_version, updated_at, extra_fields) VALUES ('old-sqlite:bad', 10, 1, NULL, 'not json');\n");
    assert!(!ok && err.contains("CHECK constraint failed"), "invalid extra_fields is refused: ok={ok} {err}");
    let n: i64 = conn
        .query_row("SELECT (SELECT COUNT(*) FROM items WHERE id = 'old-sqlite-bad') + (SELECT COUNT(*) FROM items_doc WHERE kv_key = 'old-sqlite:bad')", [], |r| r.get(0))
        .expect("count");
    assert_eq!(n, 0, "nothing of the refused rows is stored");
    assert_eq!(s3.integrity_check(&db), "ok");
}

/// A database of the previous release (schema 1) upgrades on the next `kv2sql migrate`: every
/// row kept, nothing rewritten, the same export, the schema of a new database; and sqlite3
/// then checks and restores it. On a sqlite3 older than 3.45 the schema-1 file shows the
/// problem first (CHECK failures, rows lost by a dump and restore).
#[test]
fn release_1_database_upgrades_and_then_restores_on_sqlite3() {
    let (_dir, db) = scratch("release1");
    let kv = tests::example_dump();
    release_1_database(&db, &kv);
    let s3 = sqlite3();
    if let Some(s3) = s3.as_ref().filter(|s| s.json_valid_null_is_false()) {
        let report = s3.integrity_check(&db);
        assert!(report.contains("CHECK constraint failed"), "schema 1 on sqlite3 < 3.45: {report}");
        let lost = db.with_file_name("lost.sqlite");
        let err = s3.dump_and_restore(&db, &lost);
        assert!(err.contains("CHECK constraint failed"), "{err}");
        let back = kv2sql::open_db(&lost).expect("open");
        let items: i64 = back.query_row("SELECT COUNT(*) FROM items", [], |r| r.get(0)).expect("count");
        assert_eq!(items, 0, "schema 1's dump loses the items on sqlite3 < 3.45");
    }

    let mut conn = kv2sql::open_db(&db).expect("open");
    let before = data_rows(&conn);
    let report = kv2sql::migrate(&mut conn, &kv, false).expect("the next migrate upgrades it");
    assert_eq!(report.schema_migrations_applied, vec![2], "{report:?}");
    assert_eq!(report.schema_version, 2);
    assert_eq!(report.rows_changed(), 0, "no row rewritten: {report:?}");
    assert_eq!(data_rows(&conn), before, "every row of every table kept");
    assert_eq!(kv2sql::verify(&mut conn, &kv).expect("verify"), vec![], "the export is the upgraded dump");

    // The same schema, statement for statement, as a database this build creates.
    let (_dir2, fresh_path) = scratch("fresh");
    let mut fresh = migrated(&fresh_path, &kv);
    let schema = |c: &Connection| -> Vec<(String, Option<String>)> {
        let mut stmt = c.prepare("SELECT name, sql FROM sqlite_schema ORDER BY name").expect("schema");
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).expect("query").map(|r| r.expect("row")).collect()
    };
    assert_eq!(schema(&conn), schema(&fresh));
    assert_eq!(export(&mut conn), export(&mut fresh));
    let fk: i64 = conn.query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |r| r.get(0)).expect("fk");
    assert_eq!(fk, 0);
    let json_nulls: i64 =
        conn.query_row("SELECT COUNT(*) FROM items WHERE extra_fields IS NULL", [], |r| r.get(0)).expect("n");
    assert!(json_nulls > 0, "the example has NULL json values, the case schema 1 broke");

    let Some(s3) = s3 else { return };
    drop(conn);
    assert_eq!(s3.integrity_check(&db), "ok");
    let restored = db.with_file_name("restored.sqlite");
    assert_eq!(s3.dump_and_restore(&db, &restored), "");
    let mut back = kv2sql::open_db(&restored).expect("open");
    assert_eq!(data_rows(&back), before);
    assert_eq!(export(&mut back), export(&mut fresh));
}

/// Every nullable column the generator writes for the roadmap mapping and every golden case
/// (each kind: json, any, number, boolean, shape, plain types) holds NULL on sqlite3: the
/// INSERT passes its CHECK, `integrity_check` is ok, and a `.dump` restores the NULL.
#[test]
fn every_nullable_column_definition_holds_null_on_sqlite3() {
    let Some(s3) = sqlite3() else { return };
    let mut mappings = vec![tests::root().join("mapping.yaml")];
    let cases = tests::root().join("codegen/tests/cases");
    for e in std::fs::read_dir(&cases).expect("golden cases") {
        let m = e.expect("entry").path().join("mapping.yaml");
        if m.is_file() {
            mappings.push(m);
        }
    }
    let mut defs = std::collections::BTreeSet::new();
    let mut kinds = std::collections::BTreeSet::new();
    for path in &mappings {
        let text = std::fs::read_to_string(path).expect("mapping");
        let model = kv2sql_codegen::parse("mapping.yaml", &text).unwrap_or_else(|d| panic!("{}: {d}", path.display()));
        for c in model.tables.iter().flat_map(|t| &t.columns).filter(|c| c.sql_nullable) {
            kinds.insert(format!("{:?}", c.ty));
            // The definition under one column name, so that equal definitions are tried once.
            let def = kv2sql_codegen::sql::column_def(&kv2sql_codegen::ir::Column { name: "v".into(), ..c.clone() });
            defs.insert(def);
        }
    }
    for kind in ["Json", "Any", "Number", "Boolean", "Text", "Integer"] {
        assert!(kinds.contains(kind), "no nullable {kind} column in the mappings: {kinds:?}");
    }
    let mut script = String::new();
    for (i, def) in defs.iter().enumerate() {
        script.push_str(&format!(
            "CREATE TABLE t{i} (k INTEGER PRIMARY KEY, {def}) STRICT;\nINSERT INTO t{i} (k, v) VALUES (1, NULL);\n"
        ));
    }
    let (_dir, db) = scratch("defs");
    let (_, err, ok) = s3.run(&db, &script);
    assert!(ok && err.is_empty(), "sqlite3 stores NULL in every nullable column definition: {err}\n{script}");
    assert_eq!(s3.integrity_check(&db), "ok");
    let restored = db.with_file_name("restored.sqlite");
    assert_eq!(s3.dump_and_restore(&db, &restored), "");
    let back = Connection::open(&restored).expect("open");
    for (i, def) in defs.iter().enumerate() {
        let v: Option<i64> = back
            .query_row(&format!("SELECT v IS NULL FROM t{i} WHERE k = 1"), [], |r| r.get(0))
            .unwrap_or_else(|e| panic!("{def}: the restored row is missing: {e}"));
        assert_eq!(v, Some(1), "{def}");
    }
    eprintln!("{} nullable column definitions checked: {defs:#?}", defs.len());
}

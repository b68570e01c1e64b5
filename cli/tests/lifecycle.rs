//! `kv2sql migrate --force`, `kv2sql status` and `kv2sql cutover` as a user runs them: the
//! reproduction of issue 13 (a re-run after v2 wrote must refuse and change nothing), exit
//! codes, messages and `--format json`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{kv2sql, text};

use rusqlite::Connection;
use serde_json::Value;

fn scratch(name: &str) -> PathBuf {
    common::scratch("lifecycle", name)
}

/// Every row of every table, bookkeeping included, sorted.
fn all_rows(db: &Path) -> Vec<String> {
    common::all_rows(db, &[])
}

fn migrate(db: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["migrate", "--kv", "examples/v1-dump.json", "--db", db.to_str().unwrap()];
    args.extend_from_slice(extra);
    kv2sql(&args)
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out.stdout)))
}

/// What another SQL client (the v2 app, sqlite3) does: edit an item, create one.
fn v2_writes(db: &Path) {
    let conn = Connection::open(db).unwrap();
    conn.execute_batch(
        "UPDATE items SET title = 'edited in v2' WHERE position = 0;
         CREATE TEMP TABLE n AS SELECT * FROM items WHERE position = 0;
         UPDATE n SET position = 1000, id = 'created-in-v2';
         INSERT INTO items SELECT * FROM n;",
    )
    .unwrap();
}

#[test]
fn the_issue_13_reproduction_refuses_and_changes_nothing() {
    let dir = scratch("repro");
    let db = dir.join("c.db");
    assert!(migrate(&db, &[]).status.success());
    v2_writes(&db);
    let before = all_rows(&db);
    let out = migrate(&db, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let err = text(&out.stderr);
    assert!(err.contains("written outside a migration since the last one (items: 2 rows)"), "{err}");
    assert!(err.contains("--force") && err.contains("kv2sql cutover"), "{err}");
    assert!(err.contains("nothing was written"), "{err}");
    assert_eq!(all_rows(&db), before);

    let out = migrate(&db, &["--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert_eq!(v["error"]["kind"], "diverged");
    assert_eq!(v["error"]["tables"], serde_json::json!([{"table": "items", "rows": 2}]));
    assert_eq!(all_rows(&db), before);

    // The dry run shows it; --force overwrites and says so.
    let out = migrate(&db, &["--dry-run"]);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("diverged since the last migration (items: 2 rows)"), "{}", text(&out.stdout));
    assert_eq!(all_rows(&db), before);
    let out = migrate(&db, &["--force", "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v = json(&out);
    assert_eq!(v["forced"], true);
    assert_eq!(v["diverged"], serde_json::json!([{"table": "items", "rows": 2}]));
    assert_eq!(v["rows_written"], 2);
    let full = json(&migrate(&db, &["--full", "--format", "json"]));
    assert_eq!(full["rows_written"], 0);
    assert_eq!(full["bookkeeping_writes"], 2);
    let again = json(&migrate(&db, &["--format", "json"]));
    assert_eq!(again["rows_written"], 0);
    assert_eq!(again["bookkeeping_writes"], 0, "an unchanged re-run is skipped");
    assert_eq!(again["skipped"].as_array().map(Vec::len), Some(kv2sql_generated::KV_SOURCES.len()));
}

#[test]
fn status_and_cutover_from_the_command_line() {
    let dir = scratch("status");
    let db = dir.join("c.db");
    let d = db.to_str().unwrap();
    // Status never creates the file; cutover of a missing file fails without creating it.
    let out = kv2sql(&["status", "--db", d]);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("never migrated (no database file)"), "{}", text(&out.stdout));
    let out = kv2sql(&["status", "--db", d, "--format", "json"]);
    assert_eq!(json(&out)["phase"], "never_migrated");
    let out = kv2sql(&["cutover", "--db", d]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("does not exist: check the path given to --db"), "{}", text(&out.stderr));
    assert!(!db.exists(), "status or cutover created the database file");

    assert!(migrate(&db, &[]).status.success());
    let s = json(&kv2sql(&["status", "--db", d, "--format", "json"]));
    assert_eq!(
        (s["phase"].as_str(), s["diverged"].as_bool(), s["schema_version"].as_i64()),
        (Some("migrated"), Some(false), Some(2))
    );
    assert_eq!(s["kv_digest"].as_str().map(str::len), Some(64));
    v2_writes(&db);
    let out = kv2sql(&["status", "--db", d]);
    assert!(text(&out.stdout).contains("diverged        yes: items: 2 rows"), "{}", text(&out.stdout));

    let out = kv2sql(&["cutover", "--db", d]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("refused until `kv2sql cutover --undo`"));
    let before = all_rows(&db);
    let out = migrate(&db, &["--force"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("cut over to the app"), "{}", text(&out.stderr));
    assert_eq!(all_rows(&db), before);
    assert_eq!(json(&kv2sql(&["status", "--db", d, "--format", "json"]))["phase"], "cut_over");

    let out = kv2sql(&["cutover", "--db", d, "--undo"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(json(&kv2sql(&["status", "--db", d, "--format", "json"]))["phase"], "migrated");
    assert_eq!(migrate(&db, &[]).status.code(), Some(1), "v2's writes are still guarded after the undo");
    assert!(migrate(&db, &["--force"]).status.success());
}

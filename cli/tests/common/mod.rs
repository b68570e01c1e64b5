//! Helpers the command-line tests share: the workspace root, a scratch directory per test, the
//! `kv2sql` binary and what a database holds.

#![allow(dead_code)] // each test file uses its own part of these

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use rusqlite::Connection;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A fresh directory for one test, named after the test file's `prefix` and the test's `name`.
pub fn scratch(prefix: &str, name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "{prefix}-{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `kv2sql` from the workspace root (wrangler's metrics off, for `pull`).
pub fn kv2sql(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kv2sql"))
        .args(args)
        .current_dir(root())
        .env("WRANGLER_SEND_METRICS", "false")
        .output()
        .expect("run kv2sql")
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Every table (`table <name>`) and every row of every table but `except`, sorted; an absent
/// file is an empty list.
pub fn all_rows(db: &Path, except: &[&str]) -> Vec<String> {
    if !db.exists() {
        return vec![];
    }
    let conn = Connection::open(db).unwrap();
    let mut stmt = conn.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").unwrap();
    let tables: Vec<String> = stmt.query_map([], |r| r.get(0)).unwrap().map(|r| r.unwrap()).collect();
    let mut out = Vec::new();
    for t in tables.into_iter().filter(|t| !except.contains(&t.as_str())) {
        let mut stmt = conn.prepare(&format!("SELECT * FROM \"{t}\"")).unwrap();
        let n = stmt.column_count();
        let rows = stmt
            .query_map([], |r| {
                let cells: Vec<String> =
                    (0..n).map(|i| format!("{:?}", r.get::<_, rusqlite::types::Value>(i).unwrap())).collect();
                Ok(format!("{t}: {}", cells.join(" | ")))
            })
            .unwrap();
        out.extend(rows.map(|r| r.unwrap()));
        out.push(format!("table {t}"));
    }
    out.sort();
    out
}

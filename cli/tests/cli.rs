//! The `kv2sql` binary on bad and good input: exit codes, messages, `--format json`, dry runs,
//! idempotence, `verify` and `export`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use kv2sql_runtime::dump::{parse_dump, write_dump};
use kv2sql_runtime::{KvEntry, KvSnapshot};
use rusqlite::Connection;
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A fresh directory for one test.
fn scratch(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "cli-{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn kv2sql(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kv2sql")).args(args).current_dir(root()).output().expect("run kv2sql")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn example_path() -> PathBuf {
    root().join("examples/v1-dump.json")
}

fn example() -> KvSnapshot {
    parse_dump(&std::fs::read_to_string(example_path()).unwrap(), 0).unwrap()
}

/// Writes the example dump with `roadmap:items` edited.
fn bad_dump(dir: &Path) -> PathBuf {
    let snap = example();
    let mut v: Value = serde_json::from_str(&snap.get("roadmap:items").unwrap().value).unwrap();
    v["items"][0]["reputation"]["count"] = "5".into();
    let mut entries: Vec<KvEntry> = snap.into_entries().into_iter().filter(|e| e.key != "roadmap:items").collect();
    entries.push(KvEntry { key: "roadmap:items".into(), value: v.to_string(), expiration: None });
    let path = dir.join("bad.json");
    std::fs::write(&path, write_dump(&KvSnapshot::new(entries).unwrap())).unwrap();
    path
}

/// Every row of every table, sorted (an absent file is an empty list).
fn all_rows(db: &Path) -> Vec<String> {
    if !db.exists() {
        return vec![];
    }
    let conn = Connection::open(db).unwrap();
    let mut stmt = conn.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").unwrap();
    let tables: Vec<String> = stmt.query_map([], |r| r.get(0)).unwrap().map(|r| r.unwrap()).collect();
    let mut out = Vec::new();
    for t in tables {
        // When and from which dump the last migration ran (tests/lifecycle.rs checks it).
        if t == "kv2sql_lifecycle" {
            continue;
        }
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

fn migrate_ok(kv: &Path, db: &Path) -> String {
    let out = kv2sql(&["migrate", "--kv", kv.to_str().unwrap(), "--db", db.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
}

#[test]
fn migrate_then_second_run_writes_nothing() {
    let dir = scratch("idempotent");
    let db = dir.join("db.sqlite");
    let first = migrate_ok(&example_path(), &db);
    assert!(first.starts_with("schema version 2, rows written "), "{first}");
    assert!(first.contains("(applied 0001, 0002)"), "{first}");
    assert!(!first.contains("rows written 0"), "{first}");
    let second = migrate_ok(&example_path(), &db);
    assert!(second.starts_with("schema version 2, rows written 0\n"), "{second}");
    let out = kv2sql(&[
        "--format",
        "json",
        "migrate",
        "--kv",
        example_path().to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["rows_written"], 0);
}

#[test]
fn bad_input_exits_non_zero_names_key_and_pointer_and_writes_nothing() {
    let dir = scratch("bad");
    let db = dir.join("db.sqlite");
    migrate_ok(&example_path(), &db);
    let before = all_rows(&db);
    let bad = bad_dump(&dir);
    let out = kv2sql(&["migrate", "--kv", bad.to_str().unwrap(), "--db", db.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "error: roadmap:items /items/0/reputation/count: expected an integer, found string \"5\"\nnothing was written.\n"
    );
    assert_eq!(text(&out.stdout), "");
    assert_eq!(all_rows(&db), before, "the database is unchanged");
    // Into a new file: no table rows either.
    let fresh = dir.join("fresh.sqlite");
    let out = kv2sql(&["migrate", "--kv", bad.to_str().unwrap(), "--db", fresh.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(all_rows(&fresh), Vec::<String>::new());
}

#[test]
fn json_error_shape() {
    let dir = scratch("json-error");
    let db = dir.join("db.sqlite");
    let bad = bad_dump(&dir);
    let out = kv2sql(&["--format", "json", "migrate", "--kv", bad.to_str().unwrap(), "--db", db.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).expect("stdout is one JSON document");
    assert_eq!(
        v,
        serde_json::json!({"ok": false, "error": {
            "kind": "data",
            "message": "roadmap:items /items/0/reputation/count: expected an integer, found string \"5\"",
            "kv_key": "roadmap:items",
            "pointer": "/items/0/reputation/count",
            "expected": "an integer",
            "found": "string \"5\"",
        }})
    );
    // A dump error has kind and message.
    let not_bulk = dir.join("not-bulk.json");
    std::fs::write(&not_bulk, "{\"roadmap:items\": {}}").unwrap();
    let out =
        kv2sql(&["--format", "json", "migrate", "--kv", not_bulk.to_str().unwrap(), "--db", db.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["error"]["kind"], "dump");
    assert!(v["error"]["message"].as_str().unwrap().contains("not a `wrangler kv bulk` JSON file"), "{v}");
    // Malformed JSON in a value: kind json with the key.
    let snap = example();
    let mut entries = snap.into_entries();
    entries.iter_mut().find(|e| e.key == "roadmap:events").unwrap().value = "{\"version\":1,".into();
    let malformed = dir.join("malformed.json");
    std::fs::write(&malformed, write_dump(&KvSnapshot::new(entries).unwrap())).unwrap();
    let out =
        kv2sql(&["--format", "json", "migrate", "--kv", malformed.to_str().unwrap(), "--db", db.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["error"]["kind"], "json");
    assert_eq!(v["error"]["kv_key"], "roadmap:events");
    assert!(!db.exists() || all_rows(&db).iter().all(|r| r.starts_with("table ")));
}

#[test]
fn bad_dump_files() {
    let dir = scratch("dump-files");
    let db = dir.join("db.sqlite");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("not-utf8.json", b"[{\"key\": \"roadmap:items\", \"value\": \"\xff\"}]".to_vec(), "not UTF-8 text"),
        ("object.json", b"{}".to_vec(), "not a `wrangler kv bulk` JSON file"),
        (
            "metadata.json",
            br#"[{"key": "roadmap:github-map", "value": "{}", "metadata": {"a": 1}}]"#.to_vec(),
            "roadmap:github-map: has KV metadata",
        ),
        (
            "base64-utf8.json",
            br#"[{"key": "roadmap:items", "value": "/w==", "base64": true}]"#.to_vec(),
            "roadmap:items: the value is not valid UTF-8",
        ),
    ];
    for (name, bytes, message) in cases {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        let out = kv2sql(&["migrate", "--kv", path.to_str().unwrap(), "--db", db.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{name}");
        let err = text(&out.stderr);
        assert!(err.starts_with("error: ") && err.contains(message), "{name}: {err}");
        assert!(err.ends_with("nothing was written.\n"), "{name}: {err}");
        assert!(!db.exists(), "{name}: a dump error happens before the database is opened");
    }
    let out = kv2sql(&["migrate", "--kv", dir.join("missing.json").to_str().unwrap(), "--db", db.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("missing.json"));
}

#[test]
fn dry_run_writes_nothing() {
    let dir = scratch("dry-run");
    let db = dir.join("db.sqlite");
    let out = kv2sql(&["migrate", "--dry-run", "--kv", example_path().to_str().unwrap(), "--db", db.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    assert!(report.starts_with("dry run: nothing was written\nschema version 2, rows written 0"), "{report}");
    assert!(report.contains("items"), "the report shows what would change: {report}");
    assert_eq!(all_rows(&db), Vec::<String>::new(), "no table, no row");
    // Over a migrated database, with a changed dump: the tables are unchanged.
    migrate_ok(&example_path(), &db);
    let before = all_rows(&db);
    let snap = example();
    let entries: Vec<KvEntry> = snap.into_entries().into_iter().filter(|e| e.key != "roadmap:items").collect();
    let changed = dir.join("changed.json");
    std::fs::write(&changed, write_dump(&KvSnapshot::new(entries).unwrap())).unwrap();
    let out = kv2sql(&["migrate", "--dry-run", "--kv", changed.to_str().unwrap(), "--db", db.to_str().unwrap()]);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("dry run: nothing was written"));
    assert_eq!(all_rows(&db), before);
}

#[test]
fn verify_exit_codes_and_differences() {
    let dir = scratch("verify");
    let db = dir.join("db.sqlite");
    migrate_ok(&example_path(), &db);
    let out = kv2sql(&["verify", "--kv", example_path().to_str().unwrap(), "--db", db.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "ok: the database holds exactly the upgraded dump (8 KV entries)\n");
    // Tamper with two rows.
    {
        let conn = Connection::open(&db).unwrap();
        conn.execute("UPDATE items SET title = 'Tampered' WHERE id = 'r_3f9a1c2e'", []).unwrap();
        conn.execute("UPDATE github_mappings SET btc_address = 'bc1qtampered' WHERE login = 'arc0btc'", []).unwrap();
    }
    let out = kv2sql(&["verify", "--kv", example_path().to_str().unwrap(), "--db", db.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("roadmap:items /items/0/title: expected \"AIBTC Projects\", found \"Tampered\"\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("roadmap:github-map /mappings/arc0btc: expected \"bc1qlezz2cgktx0t680ymrytef92wxksywx0jaw933\", found \"bc1qtampered\"\n"),
        "{stdout}"
    );
    assert!(stdout.ends_with("2 difference(s)\n"), "{stdout}");
    let out =
        kv2sql(&["--format", "json", "verify", "--kv", example_path().to_str().unwrap(), "--db", db.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["differences"].as_array().unwrap().len(), 2);
    assert_eq!(v["differences"][0]["pointer"], "/mappings/arc0btc");
    // A migration refuses to overwrite rows written outside it; a forced one repairs them.
    let (kv, d) = (example_path(), db.to_str().unwrap().to_string());
    let out = kv2sql(&["migrate", "--kv", kv.to_str().unwrap(), "--db", &d]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let out = kv2sql(&["migrate", "--kv", kv.to_str().unwrap(), "--db", &d, "--force"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = kv2sql(&["verify", "--kv", example_path().to_str().unwrap(), "--db", db.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn verify_and_export_refuse_a_database_without_schema() {
    let dir = scratch("no-schema");
    let db = dir.join("empty.sqlite");
    let out = kv2sql(&["verify", "--kv", example_path().to_str().unwrap(), "--db", db.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("run `kv2sql migrate` first"), "{}", text(&out.stderr));
    let out = kv2sql(&["export", "--db", db.to_str().unwrap(), "--kv", dir.join("out.json").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!dir.join("out.json").exists());
}

#[test]
fn export_equals_the_upgraded_dump() {
    let dir = scratch("export");
    let db = dir.join("db.sqlite");
    migrate_ok(&example_path(), &db);
    let out_path = dir.join("out.json");
    let out = kv2sql(&["export", "--db", db.to_str().unwrap(), "--kv", out_path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), format!("exported 8 KV entries to {}\n", out_path.display()));
    let exported = parse_dump(&std::fs::read_to_string(&out_path).unwrap(), 0).unwrap();
    let upgraded = kv2sql_generated::upgraded(&example()).unwrap();
    assert_eq!(kv2sql::compare(&upgraded, &exported), vec![]);
    // The export is itself a dump that migrates to the same database.
    let db2 = dir.join("db2.sqlite");
    migrate_ok(&out_path, &db2);
    assert_eq!(all_rows(&db2), all_rows(&db));
}

#[test]
fn validate_prints_file_line_column() {
    let dir = scratch("validate");
    let mapping = dir.join("broken.yaml");
    std::fs::write(
        &mapping,
        "schema:\n  version: 1\n  name: x\nsources:\n  - key: \"a\"\n    table: t\n    columns:\n      k: { from: kv_key }\n      v: { path: v, type: integr }\n    primary_key: [k]\n",
    )
    .unwrap();
    let out = kv2sql(&["validate", "--mapping", mapping.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("broken.yaml:9:21"), "{err}");
    assert!(err.contains("unknown column type `integr`"), "{err}");
    assert!(err.contains("did you mean `integer`?"), "{err}");
    // Not YAML at all.
    std::fs::write(&mapping, "sources: [\n  - {key: \n").unwrap();
    let out = kv2sql(&["validate", "--mapping", mapping.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("broken.yaml:"), "{err}");
    // The real mapping is valid.
    let out = kv2sql(&["validate", "--mapping", "mapping.yaml"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("mapping.yaml is valid: 7 sources, 20 tables"), "{}", text(&out.stdout));
}

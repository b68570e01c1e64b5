//! The `kv2sql` binary on bad and good input: exit codes, messages, `--format json`, dry runs,
//! idempotence, `verify` and `export`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{kv2sql, root, text};

use kv2sql_runtime::dump::{parse_dump, write_dump};
use kv2sql_runtime::{KvEntry, KvSnapshot};
use rusqlite::Connection;
use serde_json::Value;

fn scratch(name: &str) -> PathBuf {
    common::scratch("cli", name)
}

/// Every row of every table, sorted (an absent file is an empty list), but when and from which
/// dump the last migration ran (`kv2sql_lifecycle`; tests/lifecycle.rs checks it).
fn all_rows(db: &Path) -> Vec<String> {
    common::all_rows(db, &["kv2sql_lifecycle"])
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
    std::fs::write(&db, b"").unwrap();
    let out = kv2sql(&["verify", "--kv", example_path().to_str().unwrap(), "--db", db.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "error: schema: the database is empty (no kv2sql schema): run `kv2sql migrate --kv <dump> --db <database>` first\n"
    );
    let out = kv2sql(&["export", "--db", db.to_str().unwrap(), "--kv", dir.join("out.json").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).ends_with(&format!("{} was not written.\n", dir.join("out.json").display())));
    assert!(!dir.join("out.json").exists());
}

/// `export`, `verify` and `plan --db` never create a database: a missing one is refused and
/// stays missing; a directory or a file that is not SQLite is refused too.
#[test]
fn only_migrate_creates_a_database() {
    let dir = scratch("missing-db");
    let db = dir.join("missing.sqlite");
    let kv = example_path();
    let out_json = dir.join("out.json");
    let runs: [Vec<&str>; 3] = [
        vec!["export", "--db", db.to_str().unwrap(), "--kv", out_json.to_str().unwrap()],
        vec!["verify", "--kv", kv.to_str().unwrap(), "--db", db.to_str().unwrap()],
        vec!["plan", "--db", db.to_str().unwrap()],
    ];
    for args in &runs {
        let out = kv2sql(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = text(&out.stderr);
        assert!(
            err.contains(&format!("the database {} does not exist: check the path given to --db", db.display())),
            "{args:?}: {err}"
        );
        assert!(!err.contains("nothing was written"), "{args:?}: {err}");
        assert!(!db.exists(), "{args:?} created the database");
        assert!(!out_json.exists());
    }
    // A directory, or a dump given as the database.
    let out = kv2sql(&["verify", "--kv", kv.to_str().unwrap(), "--db", dir.to_str().unwrap()]);
    assert!(
        text(&out.stderr).contains("is a directory: give --db the path of a database file"),
        "{}",
        text(&out.stderr)
    );
    let out = kv2sql(&["migrate", "--kv", kv.to_str().unwrap(), "--db", kv.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("--kv and --db are the same file"), "{}", text(&out.stderr));
    let copy = dir.join("dump-copy.json");
    std::fs::copy(&kv, &copy).unwrap();
    let out = kv2sql(&["migrate", "--kv", kv.to_str().unwrap(), "--db", copy.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("is not a SQLite database"), "{}", text(&out.stderr));
    assert_eq!(std::fs::read(&copy).unwrap(), std::fs::read(&kv).unwrap(), "the file is untouched");
}

/// With the bookkeeping rows deleted, `migrate` and `verify` say what is wrong in a few lines
/// (no migration script) and give advice that can work.
#[test]
fn a_database_without_its_bookkeeping_is_explained() {
    let dir = scratch("no-bookkeeping");
    let db = dir.join("db.sqlite");
    migrate_ok(&example_path(), &db);
    Connection::open(&db).unwrap().execute("DELETE FROM kv2sql_migrations", []).unwrap();
    let before = all_rows(&db);
    let (kv, dbs) = (example_path().to_str().unwrap().to_string(), db.to_str().unwrap().to_string());
    let out_json = dir.join("out.json").to_str().unwrap().to_string();
    let runs: [Vec<&str>; 5] = [
        vec!["export", "--db", &dbs, "--kv", &out_json],
        vec!["migrate", "--kv", &kv, "--db", &dbs],
        vec!["migrate", "--dry-run", "--kv", &kv, "--db", &dbs],
        vec!["verify", "--kv", &kv, "--db", &dbs],
        vec!["plan", "--db", &dbs],
    ];
    for args in &runs {
        let cmd = args.join(" ");
        let out = kv2sql(args);
        assert_eq!(out.status.code(), Some(1), "{cmd}");
        let err = text(&out.stderr);
        assert!(err.len() < 700, "{cmd}: {} bytes: {err}", err.len());
        assert!(
            err.starts_with("error: schema: the database has tables (agent_cache, contributors, deliverables, event_log, events, … 20 in all) but no kv2sql bookkeeping"),
            "{cmd}: {err}"
        );
        assert!(
            err.contains("restore the database from a backup, or migrate the dump into a new database file"),
            "{err}"
        );
        assert!(!err.contains("run `kv2sql migrate` first") && !err.contains("CREATE TABLE"), "{cmd}: {err}");
        assert!(!err.contains("(in ``)"), "{err}");
    }
    assert_eq!(all_rows(&db), before);
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

/// `export` never writes over a database: not its own (by any spelling: `./`, `..`, a symbolic
/// link, a hard link), not its journal or WAL, not any other SQLite file. Each stays
/// byte-for-byte as it was.
#[test]
fn export_refuses_to_write_over_a_database() {
    let dir = scratch("export-over-db");
    let db = dir.join("db.sqlite");
    migrate_ok(&example_path(), &db);
    let other = dir.join("other.sqlite");
    migrate_ok(&example_path(), &other);
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(&db, dir.join("link.json")).unwrap();
    std::fs::hard_link(&db, dir.join("hard.json")).unwrap();
    std::fs::write(dir.join("db.sqlite-wal"), b"wal pages").unwrap();
    let before = std::fs::read(&db).unwrap();
    let spellings = [
        (db.to_str().unwrap().to_string(), "it is the database given to --db"),
        (format!("{}/./db.sqlite", dir.display()), "it is the database given to --db"),
        (format!("{}/sub/../db.sqlite", dir.display()), "it is the database given to --db"),
        (dir.join("link.json").to_str().unwrap().to_string(), "it is the database given to --db"),
        (dir.join("hard.json").to_str().unwrap().to_string(), "it is the database given to --db"),
        (format!("{}-journal", db.display()), "it is the database's -journal file"),
        (format!("{}-wal", db.display()), "it is the database's -wal file"),
        (other.to_str().unwrap().to_string(), "it is a SQLite database"),
    ];
    let other_before = std::fs::read(&other).unwrap();
    for (target, why) in &spellings {
        let out = kv2sql(&["export", "--db", db.to_str().unwrap(), "--kv", target]);
        assert_eq!(out.status.code(), Some(1), "{target}");
        let err = text(&out.stderr);
        assert!(err.starts_with(&format!("error: refusing to export to {target}: {why}")), "{target}: {err}");
        assert!(err.contains("Give --kv a new file name (for example db.json)"), "{err}");
        assert_eq!(text(&out.stdout), "");
    }
    assert_eq!(std::fs::read(&db).unwrap(), before, "the database is untouched");
    assert_eq!(std::fs::read(&other).unwrap(), other_before);
    assert_eq!(std::fs::read(dir.join("db.sqlite-wal")).unwrap(), b"wal pages");
    assert!(!Path::new(&format!("{}-journal", db.display())).exists());
    // The database still verifies.
    let out = kv2sql(&["verify", "--kv", example_path().to_str().unwrap(), "--db", db.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stdout));
}

/// A failed export leaves the previous output whole and says so; an output in a missing
/// directory or a directory is refused naming it; a good export replaces the file atomically
/// (no temporary file left beside it).
#[test]
fn a_failed_export_leaves_the_old_file_and_says_so() {
    let dir = scratch("export-fail");
    let db = dir.join("db.sqlite");
    migrate_ok(&example_path(), &db);
    let out_path = dir.join("out.json");
    std::fs::write(&out_path, b"the previous export").unwrap();
    // A database without the schema: the export stops before writing.
    let empty = dir.join("empty.sqlite");
    std::fs::write(&empty, b"").unwrap();
    let out = kv2sql(&["export", "--db", empty.to_str().unwrap(), "--kv", out_path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.ends_with(&format!("\n{} was left as it was.\n", out_path.display())), "{err}");
    assert!(!err.contains("nothing was written"), "{err}");
    assert_eq!(std::fs::read(&out_path).unwrap(), b"the previous export");
    // Into a directory that does not exist, or onto a directory.
    let nowhere = dir.join("no/such/out.json");
    let out = kv2sql(&["export", "--db", db.to_str().unwrap(), "--kv", nowhere.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        format!(
            "error: {} was not written: the directory {} does not exist; create it first\n",
            nowhere.display(),
            dir.join("no/such").display()
        )
    );
    let out = kv2sql(&["export", "--db", db.to_str().unwrap(), "--kv", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("it is a directory; give a file name"), "{}", text(&out.stderr));
    // Success replaces the old file; only the expected files remain.
    let out = kv2sql(&["export", "--db", db.to_str().unwrap(), "--kv", out_path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let exported = parse_dump(&std::fs::read_to_string(&out_path).unwrap(), 0).unwrap();
    assert_eq!(exported.entries().len(), 8);
    let mut names: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(names, ["db.sqlite", "empty.sqlite", "out.json"]);
    // A stream is written into, as before: `--kv /dev/stdout` pipes the dump.
    #[cfg(unix)]
    {
        let out = kv2sql(&["export", "--db", db.to_str().unwrap(), "--kv", "/dev/stdout"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let stdout = text(&out.stdout);
        let (dump, last) = stdout.rsplit_once("exported 8 KV entries to /dev/stdout").expect("the summary line");
        assert_eq!(last, "\n");
        assert_eq!(parse_dump(dump, 0).unwrap(), exported);
    }
}

/// `expiration_ttl` has no fixed instant: refused naming the key and the fixes; with
/// `--ttl-base` a re-run writes 0 rows and `verify` passes with the same base.
#[test]
fn a_ttl_is_refused_unless_its_base_is_fixed() {
    let dir = scratch("ttl");
    let db = dir.join("db.sqlite");
    let mut entries = example().into_entries();
    let value = r#"{"btcAddress":"bc1qttl","displayName":"TTL"}"#;
    entries.push(KvEntry { key: "roadmap:agent-cache:bc1qttl".into(), value: value.into(), expiration: None });
    let mut raw: Vec<Value> = serde_json::from_str(&write_dump(&KvSnapshot::new(entries).unwrap())).unwrap();
    for e in raw.iter_mut().filter(|e| e["key"] == "roadmap:agent-cache:bc1qttl") {
        e["expiration_ttl"] = 3600.into();
    }
    let dump = dir.join("ttl.json");
    std::fs::write(&dump, serde_json::to_string(&raw).unwrap()).unwrap();
    let (kv, dbs) = (dump.to_str().unwrap(), db.to_str().unwrap());
    let out = kv2sql(&["migrate", "--kv", kv, "--db", dbs]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.starts_with("error: dump: roadmap:agent-cache:bc1qttl: has `expiration_ttl` 3600"), "{err}");
    assert!(err.contains("Pass --ttl-base <unix-seconds>") && err.contains("jq --argjson now"), "{err}");
    assert!(!db.exists(), "refused before the database is created");
    let first = text(&kv2sql(&["migrate", "--ttl-base", "2000000000", "--kv", kv, "--db", dbs]).stdout);
    assert!(first.starts_with("schema version 2, rows written "), "{first}");
    let again = kv2sql(&["migrate", "--ttl-base", "2000000000", "--kv", kv, "--db", dbs]);
    assert!(text(&again.stdout).starts_with("schema version 2, rows written 0\n"), "{}", text(&again.stdout));
    let out = kv2sql(&["verify", "--ttl-base", "2000000000", "--kv", kv, "--db", dbs]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let exp: i64 = Connection::open(&db)
        .unwrap()
        .query_row("SELECT expires_at FROM agent_cache WHERE address = 'bc1qttl'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(exp, 2_000_003_600);
    // Another base is another instant: verify sees the moved expiry.
    let out = kv2sql(&["verify", "--ttl-base", "2000000001", "--kv", kv, "--db", dbs]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("roadmap:agent-cache:bc1qttl (expiration): expected 2000003601, found 2000003600")
    );
}

/// Keys that no source maps are named by `verify` (text and JSON), and fail it under `--strict`.
#[test]
fn verify_names_the_keys_it_did_not_verify() {
    let dir = scratch("unverified");
    let db = dir.join("db.sqlite");
    migrate_ok(&example_path(), &db);
    let mut entries = example().into_entries();
    for k in ["zz:one", "zz:two"] {
        entries.push(KvEntry { key: k.into(), value: "x".into(), expiration: None });
    }
    let dump = dir.join("extra.json");
    std::fs::write(&dump, write_dump(&KvSnapshot::new(entries).unwrap())).unwrap();
    let (kv, dbs) = (dump.to_str().unwrap(), db.to_str().unwrap());
    let out = kv2sql(&["verify", "--kv", kv, "--db", dbs]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stdout),
        "not verified: 2 KV key(s) that no source in mapping.yaml maps: \"zz:one\", \"zz:two\"\n\
         ok: the database holds exactly the upgraded dump (8 KV entries)\n"
    );
    let out = kv2sql(&["verify", "--strict", "--kv", kv, "--db", dbs]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!text(&out.stdout).contains("ok:"), "{}", text(&out.stdout));
    assert!(text(&out.stderr).starts_with("error: --strict: 2 key(s) of the dump were not verified"));
    let out = kv2sql(&["--format", "json", "verify", "--strict", "--kv", kv, "--db", dbs]);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["verified"], 8);
    assert_eq!(v["unverified"], serde_json::json!(["zz:one", "zz:two"]));
    // Without extra keys, --strict passes.
    let out = kv2sql(&["verify", "--strict", "--kv", example_path().to_str().unwrap(), "--db", dbs]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

/// A byte order mark before the dump or before a KV value is named, with the fix.
#[test]
fn a_byte_order_mark_is_named() {
    let dir = scratch("bom");
    let db = dir.join("db.sqlite");
    let dump = dir.join("bom-file.json");
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend(std::fs::read(example_path()).unwrap());
    std::fs::write(&dump, bytes).unwrap();
    let out = kv2sql(&["migrate", "--kv", dump.to_str().unwrap(), "--db", db.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("the file starts with a byte order mark (U+FEFF, bytes EF BB BF)"), "{err}");
    assert!(err.contains("sed -i"), "{err}");
    for key in ["roadmap:items", "roadmap:github-map"] {
        let mut entries = example().into_entries();
        let e = entries.iter_mut().find(|e| e.key == key).unwrap();
        e.value.insert(0, '\u{feff}');
        let dump = dir.join("bom-value.json");
        std::fs::write(&dump, write_dump(&KvSnapshot::new(entries).unwrap())).unwrap();
        let out = kv2sql(&["migrate", "--kv", dump.to_str().unwrap(), "--db", db.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            text(&out.stderr),
            format!(
                "error: {key}: the value is not valid JSON: the value starts with a byte order mark (U+FEFF), which \
                 JSON does not allow; remove it from the value (or write the value again without it) and run again \
                 (line 1, column 1)\nnothing was written.\n"
            )
        );
    }
}

/// A real write failure, without root: the file size limit (`ulimit -f`, with SIGXFSZ ignored)
/// makes the export's writes fail with EFBIG partway through, as a full disk would. The
/// previous export is byte-for-byte intact, no temporary file is left, and the message says so.
#[cfg(unix)]
#[test]
fn an_export_that_runs_out_of_room_leaves_the_old_file_whole() {
    let dir = scratch("export-efbig");
    let db = dir.join("db.sqlite");
    migrate_ok(&example_path(), &db);
    let out_path = dir.join("out.json");
    let out = kv2sql(&["export", "--db", db.to_str().unwrap(), "--kv", out_path.to_str().unwrap()]);
    assert!(out.status.success());
    // A previous export that differs from the next one.
    let mut old = std::fs::read(&out_path).unwrap();
    old.extend_from_slice(b"\n");
    std::fs::write(&out_path, &old).unwrap();
    assert!(old.len() > 8192, "the export is larger than the limit below");
    let script = "trap '' XFSZ; ulimit -f 8; exec \"$0\" export --db \"$1\" --kv \"$2\"";
    let out = Command::new("bash")
        .args(["-c", script, env!("CARGO_BIN_EXE_kv2sql"), db.to_str().unwrap(), out_path.to_str().unwrap()])
        .output()
        .expect("bash runs");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr),
        format!(
            "error: {0} was not written: File too large (os error 27); {0} was left as it was\n",
            out_path.display()
        )
    );
    assert_eq!(std::fs::read(&out_path).unwrap(), old, "the old export is intact");
    let mut names: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(names, ["db.sqlite", "out.json"], "no temporary file is left");
}

/// `generate` writes each file atomically too: a file size limit failing the write of the
/// large `src/generated.rs` leaves the old one byte-for-byte, with no temporary file, and the
/// error names the file; without the limit the files are regenerated exactly.
#[cfg(unix)]
#[test]
fn generate_that_runs_out_of_room_leaves_the_old_files_whole() {
    let dir = scratch("generate-efbig");
    let out = dir.join("generated");
    std::fs::create_dir_all(out.join("migrations")).unwrap();
    for e in std::fs::read_dir(root().join("generated/migrations")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), out.join("migrations").join(e.file_name())).unwrap();
    }
    for rel in ["schema.sql", "SCHEMA.md"] {
        std::fs::copy(root().join("generated").join(rel), out.join(rel)).unwrap();
    }
    std::fs::create_dir_all(out.join("src")).unwrap();
    let stale = b"// an older generated.rs, larger than the limit\n".repeat(400);
    std::fs::write(out.join("src/generated.rs"), &stale).unwrap();
    let mapping = root().join("mapping.yaml");
    let script = "trap '' XFSZ; ulimit -f 8; exec \"$0\" generate --mapping \"$1\" --out \"$2\"";
    let run = Command::new("bash")
        .args(["-c", script, env!("CARGO_BIN_EXE_kv2sql"), mapping.to_str().unwrap(), out.to_str().unwrap()])
        .output()
        .expect("bash runs");
    assert_eq!(run.status.code(), Some(1));
    let target = out.join("src/generated.rs");
    assert_eq!(
        text(&run.stderr),
        format!("error: {0} was not written: File too large (os error 27); {0} was left as it was\n", target.display())
    );
    assert_eq!(std::fs::read(&target).unwrap(), stale);
    let names: Vec<String> = std::fs::read_dir(out.join("src"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["generated.rs"], "no temporary file is left");
    // Without the limit: regenerated exactly as committed.
    let run = kv2sql(&["generate", "--mapping", mapping.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    assert_eq!(std::fs::read(&target).unwrap(), std::fs::read(root().join("generated/src/generated.rs")).unwrap());
}

//! Schema evolution, proven at the SQL and data level.
//!
//! A database is built from the released migrations in `generated/migrations/` (0001 and 0002)
//! and filled with the example dump; it is then taken through the edited mappings in `tests/evolution/` (each one a
//! copy of `mapping.yaml` with one more release), generating every migration with
//! `kv2sql_codegen::generate` exactly as `cargo build` does and applying it with the runtime's
//! `migrations::apply`, with foreign keys on. The generated Rust for an edited mapping cannot be
//! compiled inside a test, so the data checks read the tables directly.

use std::collections::{BTreeMap, BTreeSet};

use kv2sql_codegen::evolve::Snapshot;
use kv2sql_codegen::{generate, Generated, Released};
use kv2sql_runtime::migrations::{self, Migration, MIGRATIONS_TABLE};
use kv2sql_runtime::sqlite::Sqlite;
use kv2sql_tests as tests;
use rusqlite::types::Value;
use rusqlite::Connection;

// ------------------------------------------------------------------------------------------
// Helpers

fn read(rel: &str) -> String {
    let path = tests::root().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn leak(s: &str) -> &'static str {
    Box::leak(s.to_string().into_boxed_str())
}

/// One migration as released in `generated/migrations/`.
fn released_migration(version: i64, name: &str) -> Released {
    let base = format!("generated/migrations/{version:04}_{name}");
    Released {
        version,
        name: name.into(),
        sql: read(&format!("{base}.sql")),
        snapshot: serde_json::from_str(&read(&format!("{base}.json"))).expect("released snapshot"),
    }
}

/// The migrations the roadmap mapping has released: 0001 and 0002 (the fixtures in
/// `tests/evolution/` start from version 3).
fn released_now() -> Vec<Released> {
    vec![released_migration(1, "initial"), released_migration(2, "null_safe_checks")]
}

/// The runtime's view of the released migrations (what the generated `MIGRATIONS` would hold).
fn runtime_migrations(released: &[Released]) -> Vec<Migration> {
    released.iter().map(|r| Migration { version: r.version, name: leak(&r.name), sql: leak(&r.sql) }).collect()
}

/// Generates from a fixture mapping, as `cargo build` would with `released` on disk.
fn generate_fixture(fixture: &str, released: &[Released]) -> Generated {
    let text = read(&format!("tests/evolution/{fixture}"));
    generate("mapping.yaml", &text, released).unwrap_or_else(|d| panic!("{fixture}:\n{d}"))
}

/// The migration a generation produced, as a release.
fn migration_of(g: &Generated) -> Released {
    let n = g.model.schema_version;
    let base = format!("migrations/{n:04}_{}", g.model.schema_name);
    let sql = g.files.get(&format!("{base}.sql")).unwrap_or_else(|| panic!("{base}.sql was not generated")).clone();
    let snapshot: Snapshot = serde_json::from_str(&g.files[&format!("{base}.json")]).expect("snapshot parses");
    Released { version: n, name: g.model.schema_name.clone(), sql, snapshot }
}

/// Applies the pending migrations in one transaction, committed on success and rolled back on
/// error (as `kv2sql migrate` and the Durable Object do).
fn apply(conn: &mut Connection, released: &[Released]) -> Result<Vec<i64>, String> {
    let ms = runtime_migrations(released);
    let tx = conn.transaction().expect("begin");
    let applied = migrations::apply(&mut Sqlite::new(&tx), &ms).map_err(|e| e.to_string());
    match applied {
        Ok(v) => {
            tx.commit().map_err(|e| format!("COMMIT failed: {e}"))?;
            Ok(v)
        }
        Err(e) => {
            tx.rollback().expect("rollback");
            Err(e)
        }
    }
}

/// A database at the mapping's schema version (2), filled from the example dump by the real
/// generated code.
fn v2_database() -> Connection {
    let mut conn = tests::memory_db();
    {
        let tx = conn.transaction().expect("begin");
        migrations::apply(&mut Sqlite::new(&tx), kv2sql_generated::MIGRATIONS).expect("0001 and 0002 apply");
        tx.commit().expect("commit");
    }
    let report = kv2sql::migrate(&mut conn, &tests::example_dump(), false).expect("the example dump migrates");
    assert!(report.rows_written.unwrap_or(0) > 50, "the example dump fills the tables: {report:?}");
    conn
}

fn user_tables(conn: &Connection) -> Vec<String> {
    let mut stmt = conn
        .prepare(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
             AND name NOT IN ('kv2sql_migrations', 'kv2sql_lifecycle', 'kv2sql_changes') ORDER BY name",
        )
        .expect("list tables");
    stmt.query_map([], |r| r.get(0)).expect("query").map(|r| r.expect("name")).collect()
}

type Row = BTreeMap<String, Value>;

/// Every row of every table, by column name.
fn dump(conn: &Connection) -> BTreeMap<String, Vec<Row>> {
    let mut out = BTreeMap::new();
    for t in user_tables(conn) {
        let mut stmt = conn.prepare(&format!("SELECT * FROM \"{t}\"")).expect("select");
        let names: Vec<String> = stmt.column_names().iter().map(|s| s.to_string()).collect();
        let rows: Vec<Row> = stmt
            .query_map([], |r| {
                let mut row = Row::new();
                for (i, n) in names.iter().enumerate() {
                    row.insert(n.clone(), r.get::<_, Value>(i)?);
                }
                Ok(row)
            })
            .expect("query")
            .map(|r| r.expect("row"))
            .collect();
        out.insert(t, rows);
    }
    out
}

/// The rows of a table projected on some columns, in a stable order.
fn project(rows: &[Row], cols: &[&str]) -> Vec<Vec<Value>> {
    let mut out: Vec<Vec<Value>> = rows
        .iter()
        .map(|r| cols.iter().map(|c| r.get(*c).unwrap_or_else(|| panic!("no column {c}")).clone()).collect())
        .collect();
    out.sort_by_cached_key(|r| format!("{r:?}"));
    out
}

/// Asserts that every row of `old_table` before is in `new_table` after, column for column,
/// with `renames` (old, new) applied and `skip` (old names) left out.
fn assert_rows_kept(
    before: &BTreeMap<String, Vec<Row>>,
    after: &BTreeMap<String, Vec<Row>>,
    old_table: &str,
    new_table: &str,
    renames: &[(&str, &str)],
    skip: &[&str],
) {
    let old_rows = &before[old_table];
    let new_rows = after.get(new_table).unwrap_or_else(|| panic!("table {new_table} is missing"));
    assert_eq!(old_rows.len(), new_rows.len(), "row count of {old_table} → {new_table}");
    let Some(first) = old_rows.first() else { return };
    let old_cols: Vec<&str> = first.keys().map(String::as_str).filter(|c| !skip.contains(c)).collect();
    let new_cols: Vec<&str> =
        old_cols.iter().map(|c| renames.iter().find(|(o, _)| o == c).map_or(*c, |(_, n)| *n)).collect();
    assert_eq!(project(old_rows, &old_cols), project(new_rows, &new_cols), "rows of {old_table} → {new_table}");
}

fn fk_violations(conn: &Connection) -> Vec<String> {
    let mut stmt = conn.prepare("PRAGMA foreign_key_check").expect("fk check");
    stmt.query_map([], |r| {
        Ok(format!("{}:{:?}→{}", r.get::<_, String>(0)?, r.get::<_, Value>(1)?, r.get::<_, String>(2)?))
    })
    .expect("query")
    .map(|r| r.expect("row"))
    .collect()
}

fn assert_healthy(conn: &Connection) {
    assert_eq!(fk_violations(conn), Vec::<String>::new(), "PRAGMA foreign_key_check");
    let ok: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).expect("integrity_check");
    assert_eq!(ok, "ok", "PRAGMA integrity_check");
}

/// Per table: strictness, columns (name, type, NOT NULL, key position), foreign keys and
/// indexes. Defaults are left out: an added column may carry a backfill default that a fresh
/// table does not (see docs/schema-evolution.md). Column order is left out too: ADD COLUMN
/// appends.
type Structure = BTreeMap<String, (bool, BTreeSet<(String, String, bool, i64)>, BTreeSet<String>, BTreeSet<String>)>;

fn structure(conn: &Connection) -> Structure {
    let mut out = Structure::new();
    for t in user_tables(conn) {
        let strict: bool = conn
            .query_row("SELECT strict FROM pragma_table_list WHERE name = ?1 AND schema = 'main'", [&t], |r| r.get(0))
            .expect("table_list");
        let mut stmt = conn.prepare("SELECT name, type, \"notnull\", pk FROM pragma_table_info(?1)").expect("info");
        let cols = stmt
            .query_map([&t], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .expect("query")
            .map(|r| r.expect("col"))
            .collect();
        let mut stmt = conn
            .prepare("SELECT \"table\", group_concat(\"from\" || '→' || \"to\", ',') FROM pragma_foreign_key_list(?1) GROUP BY id")
            .expect("fks");
        let fks = stmt
            .query_map([&t], |r| Ok(format!("{}({})", r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .expect("query")
            .map(|r| r.expect("fk"))
            .collect();
        let mut stmt = conn
            .prepare(
                "SELECT l.name, l.\"unique\", (SELECT group_concat(name, ',') FROM pragma_index_info(l.name)) \
                 FROM pragma_index_list(?1) AS l WHERE l.origin = 'c'",
            )
            .expect("indexes");
        let ixs = stmt
            .query_map([&t], |r| {
                Ok(format!("{} unique={} ({})", r.get::<_, String>(0)?, r.get::<_, bool>(1)?, r.get::<_, String>(2)?))
            })
            .expect("query")
            .map(|r| r.expect("index"))
            .collect();
        out.insert(t, (strict, cols, fks, ixs));
    }
    out
}

/// The evolved database has exactly the schema a new database gets from the same mapping's
/// `schema.sql`.
fn assert_schema_is(conn: &Connection, g: &Generated) {
    let fresh = tests::memory_db();
    fresh.execute_batch(&g.files["schema.sql"]).expect("schema.sql runs");
    let (got, want) = (structure(conn), structure(&fresh));
    for (t, s) in &want {
        assert_eq!(got.get(t), Some(s), "table {t} after migration {}", g.model.schema_version);
    }
    assert_eq!(got.keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>(), "tables");
}

fn applied_rows(conn: &Connection) -> Vec<(i64, String, String)> {
    let mut stmt = conn
        .prepare(&format!("SELECT version, name, checksum FROM {MIGRATIONS_TABLE} ORDER BY version"))
        .expect("rows");
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).expect("query").map(|r| r.expect("row")).collect()
}

/// `sqlite_schema` (type, name, sql), every row, and the migration history.
type State = (Vec<(String, String, Option<String>)>, BTreeMap<String, Vec<Row>>, Vec<(i64, String, String)>);

/// Everything in the database: its schema and every row.
fn full_state(conn: &Connection) -> State {
    let mut stmt = conn.prepare("SELECT type, name, sql FROM sqlite_schema ORDER BY type, name").expect("schema");
    let schema = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("query")
        .map(|r| r.expect("row"))
        .collect();
    (schema, dump(conn), applied_rows(conn))
}

fn column_values(conn: &Connection, sql: &str) -> Vec<Value> {
    let mut stmt = conn.prepare(sql).expect("prepare");
    stmt.query_map([], |r| r.get(0)).expect("query").map(|r| r.expect("value")).collect()
}

/// `text` with `old` replaced by `new`, which must be there.
fn edit(text: &str, old: &str, new: &str) -> String {
    assert!(text.contains(old), "the fixture has no {old:?}");
    text.replacen(old, new, 1)
}

// ------------------------------------------------------------------------------------------
// The sequence, on top of the released v2: v3 (new columns) → v4 (renames) → v5 (child table,
// indexes) → v6 (type change rebuilding a parent table).

#[test]
#[allow(clippy::too_many_lines)]
fn four_releases_keep_every_row() {
    let mut conn = v2_database();
    assert_healthy(&conn);
    let before = dump(&conn);
    let items_before = before["items"].len();
    assert!(items_before > 0 && !before["contributors"].is_empty() && !before["scan_state"].is_empty());
    let mut released = released_now();

    // v3: nullable columns and a column with a default: ALTER TABLE ADD COLUMN, no rebuild.
    let g3 = generate_fixture("v3_add_priority.yaml", &released);
    let m3 = migration_of(&g3);
    assert!(m3.sql.contains(r#"ALTER TABLE "items" ADD COLUMN "priority" INTEGER DEFAULT 0;"#), "{}", m3.sql);
    assert!(m3.sql.contains(r#"ALTER TABLE "items" ADD COLUMN "triage_note" TEXT;"#), "{}", m3.sql);
    // The `_absent` companion of a newly mapped field: existing rows never had it mapped.
    assert!(
        m3.sql.contains(
            r#"ADD COLUMN "triage_note_absent" INTEGER NOT NULL DEFAULT 1 CHECK ("triage_note_absent" IN (0, 1));"#
        ),
        "{}",
        m3.sql
    );
    assert!(!m3.sql.contains("kv2sql_old_") && !m3.sql.contains("DROP"), "no rebuild:\n{}", m3.sql);
    released.push(m3);
    assert_eq!(apply(&mut conn, &released), Ok(vec![3]));
    assert_healthy(&conn);
    assert_schema_is(&conn, &g3);
    // Every existing row gets the default; the nullable column is NULL, recorded as absent.
    let triage: Vec<Vec<Value>> = {
        let mut stmt = conn.prepare("SELECT priority, triage_note, triage_note_absent FROM items").expect("select");
        stmt.query_map([], |r| Ok(vec![r.get(0)?, r.get(1)?, r.get(2)?])).expect("q").map(|r| r.expect("r")).collect()
    };
    assert_eq!(triage.len(), items_before);
    assert!(triage.iter().all(|r| r == &[Value::Integer(0), Value::Null, Value::Integer(1)]), "{triage:?}");
    let after = dump(&conn);
    for t in before.keys() {
        assert_rows_kept(&before, &after, t, t, &[], &[]);
    }

    // v4: a column rename and two table renames (one of them a parent): no rebuild.
    let g4 = generate_fixture("v4_renames.yaml", &released);
    let m4 = migration_of(&g4);
    for s in [
        r#"ALTER TABLE "items" RENAME COLUMN "github_url" TO "repo_url";"#,
        r#"ALTER TABLE "contributors" RENAME TO "item_contributors";"#,
        r#"ALTER TABLE "scan_repos" RENAME TO "github_scan_repos";"#,
        r#"DROP INDEX "contributors_by_btc_address";"#,
        r#"CREATE INDEX "item_contributors_by_btc_address" ON "item_contributors" ("btc_address");"#,
    ] {
        assert!(m4.sql.contains(s), "{s} in\n{}", m4.sql);
    }
    assert!(!m4.sql.contains("kv2sql_old_"), "no rebuild:\n{}", m4.sql);
    released.push(m4);
    assert_eq!(apply(&mut conn, &released), Ok(vec![4]));
    assert_healthy(&conn);
    assert_schema_is(&conn, &g4);
    let after = dump(&conn);
    assert_rows_kept(&before, &after, "items", "items", &[("github_url", "repo_url")], &[]);
    assert_rows_kept(&before, &after, "contributors", "item_contributors", &[], &[]);
    assert_rows_kept(&before, &after, "scan_repos", "github_scan_repos", &[], &[]);
    assert_rows_kept(&before, &after, "scan_state", "scan_state", &[], &[]);
    assert!(!after.contains_key("contributors") && !after.contains_key("scan_repos"));

    // v5: a new optional child table with an index, and a new index on its parent.
    let g5 = generate_fixture("v5_labels.yaml", &released);
    let m5 = migration_of(&g5);
    for s in [
        "CREATE TABLE \"labels\" (",
        r#"FOREIGN KEY ("item_id") REFERENCES "items" ("id")"#,
        r#"CREATE INDEX "labels_by_label" ON "labels" ("label");"#,
        r#"CREATE INDEX "items_recently_updated" ON "items" ("updated_at");"#,
        // Existing items were written before `labels` was mapped: absent.
        r#"ALTER TABLE "items" ADD COLUMN "labels_shape" TEXT NOT NULL DEFAULT 'absent' CHECK ("labels_shape" IN ('present', 'absent'));"#,
    ] {
        assert!(m5.sql.contains(s), "{s} in\n{}", m5.sql);
    }
    released.push(m5);
    assert_eq!(apply(&mut conn, &released), Ok(vec![5]));
    assert_healthy(&conn);
    assert_schema_is(&conn, &g5);
    assert_eq!(column_values(&conn, "SELECT DISTINCT labels_shape FROM items"), vec![Value::Text("absent".into())]);
    let after = dump(&conn);
    assert!(after["labels"].is_empty());
    assert_rows_kept(&before, &after, "items", "items", &[("github_url", "repo_url")], &[]);

    // v6: a type change on `items`, which seven child tables reference: a rebuild under
    // foreign keys, committed (the commit is where a miscounted rebuild fails).
    let pre_v6 = dump(&conn);
    let g6 = generate_fixture("v6_real_averages.yaml", &released);
    let m6 = migration_of(&g6);
    for s in [
        "PRAGMA defer_foreign_keys = ON;",
        "CREATE TABLE \"kv2sql_old_items\" (",
        r#"DROP TABLE "items";"#,
        r#""reputation_average" REAL NOT NULL,"#,
        r#"DROP TABLE "kv2sql_old_items";"#,
        r#"CREATE INDEX "items_by_doc_key_position" ON "items" ("doc_key", "position");"#,
        r#"CREATE INDEX "items_recently_updated" ON "items" ("updated_at");"#,
    ] {
        assert!(m6.sql.contains(s), "{s} in\n{}", m6.sql);
    }
    assert!(!m6.sql.contains("RENAME"), "{}", m6.sql);
    released.push(m6);
    assert_eq!(apply(&mut conn, &released), Ok(vec![6]));
    assert_eq!(conn.query_row("PRAGMA foreign_keys", [], |r| r.get::<_, i64>(0)).expect("pragma"), 1);
    assert_healthy(&conn);
    assert_schema_is(&conn, &g6);
    let after = dump(&conn);
    for t in pre_v6.keys() {
        let skip: &[&str] = if t == "items" { &["reputation_average"] } else { &[] };
        assert_rows_kept(&pre_v6, &after, t, t, &[], skip);
    }
    // The retyped column: the same numbers, now all REAL.
    let avg = |rows: &[Row]| -> Vec<(String, f64)> {
        let mut v: Vec<(String, f64)> = rows
            .iter()
            .map(|r| {
                let Value::Text(id) = &r["id"] else { panic!("id") };
                let x = match &r["reputation_average"] {
                    Value::Integer(i) => *i as f64,
                    Value::Real(f) => *f,
                    other => panic!("average {other:?}"),
                };
                (id.clone(), x)
            })
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };
    assert_eq!(avg(&pre_v6["items"]), avg(&after["items"]));
    assert_eq!(
        column_values(&conn, "SELECT DISTINCT typeof(reputation_average) FROM items"),
        vec![Value::Text("real".into())]
    );

    // 3. The original data, after all six releases: every table, every unchanged column.
    let renamed_tables = [("contributors", "item_contributors"), ("scan_repos", "github_scan_repos")];
    for t in before.keys() {
        let new = renamed_tables.iter().find(|(o, _)| o == t).map_or(t.as_str(), |(_, n)| *n);
        let (renames, skip): (&[(&str, &str)], &[&str]) =
            if t == "items" { (&[("github_url", "repo_url")], &["reputation_average"]) } else { (&[], &[]) };
        assert_rows_kept(&before, &after, t, new, renames, skip);
    }
    assert_eq!(avg(&before["items"]), avg(&after["items"]));

    // Applying again does nothing; the history is complete.
    let state = full_state(&conn);
    assert_eq!(apply(&mut conn, &released), Ok(vec![]));
    assert_eq!(full_state(&conn), state);
    assert_eq!(applied_rows(&conn).iter().map(|r| r.0).collect::<Vec<_>>(), vec![1, 2, 3, 4, 5, 6]);

    // A new database gets the same schema by running all six migrations in order.
    let mut fresh = tests::memory_db();
    assert_eq!(apply(&mut fresh, &released), Ok(vec![1, 2, 3, 4, 5, 6]));
    assert_eq!(structure(&fresh), structure(&conn));
    assert_healthy(&fresh);

    // Regenerating the last release with every migration released is stable (what the next
    // `cargo build` does before anyone bumps `schema.version`).
    let again = generate_fixture("v6_real_averages.yaml", &released[..5]);
    assert_eq!(migration_of(&again).sql, released[5].sql);
}

/// Dropping a column (allowed) rebuilds the table and keeps every other value.
#[test]
fn allowed_drop_column_rebuilds_and_keeps_the_rest() {
    let mut conn = v2_database();
    let before = dump(&conn);
    let mut released = released_now();
    let g3 = generate_fixture("v3_add_priority.yaml", &released);
    released.push(migration_of(&g3));
    assert_eq!(apply(&mut conn, &released), Ok(vec![3]));

    let text = read("tests/evolution/v3_add_priority.yaml");
    let text = edit(
        &text,
        "  version: 3\n  name: add_priority\n",
        "  version: 4\n  name: drop_description\n  allow:\n    drop_columns: [items.description]\n",
    );
    let text = edit(&text, "          description: { path: description, type: text }\n", "");
    let g4 = generate("mapping.yaml", &text, &released).unwrap_or_else(|d| panic!("{d}"));
    let m4 = migration_of(&g4);
    assert!(
        m4.sql.contains("kv2sql_old_items") && !m4.sql.contains("\"description\" TEXT NOT NULL,\n  \"github_url\"\n")
    );
    released.push(m4);
    assert_eq!(apply(&mut conn, &released), Ok(vec![4]));
    assert_healthy(&conn);
    assert_schema_is(&conn, &g4);
    let after = dump(&conn);
    assert!(!after["items"][0].contains_key("description"));
    for t in before.keys() {
        let skip: &[&str] = if t == "items" { &["description"] } else { &[] };
        assert_rows_kept(&before, &after, t, t, &[], skip);
    }
}

/// A rebuild and a new optional+nullable field in the same release: the copy back fills the new
/// `_absent` companion with its backfill, 1 (existing rows never had the field mapped), not
/// the column's default 0, which would make every existing item export `"triageNote": null`.
#[test]
fn rebuild_with_a_new_companion_column_backfills_it() {
    let mut conn = v2_database();
    let before = dump(&conn);
    let released = released_now();
    let text = edit(
        &read("mapping.yaml"),
        "  version: 2\n  name: null_safe_checks\n",
        "  version: 3\n  name: retype_and_add\n  allow:\n    type_changes: [items.reputation_average]\n",
    );
    let text = edit(
        &text,
        "average: { path: average, type: number, doc: \"one decimal, or the integer 0\" }",
        "average: { path: average, type: real, doc: \"one decimal\" }",
    );
    let text = edit(
        &text,
        "          created_at: { path: createdAt, type: text }\n",
        "          created_at: { path: createdAt, type: text }\n          triage_note: { path: triageNote, type: text, optional: true, nullable: true }\n",
    );
    let g3 = generate("mapping.yaml", &text, &released).unwrap_or_else(|d| panic!("{d}"));
    let m3 = migration_of(&g3);
    assert!(m3.sql.contains("kv2sql_old_items") && !m3.sql.contains("ADD COLUMN"), "a rebuild:\n{}", m3.sql);
    assert!(m3.sql.contains(r#""triage_note_absent") SELECT "#), "{}", m3.sql);
    assert!(m3.sql.contains(r#""extra_fields", 1 FROM "kv2sql_old_items";"#), "{}", m3.sql);
    let mut all = released.clone();
    all.push(m3);
    assert_eq!(apply(&mut conn, &all), Ok(vec![3]));
    assert_healthy(&conn);
    assert_schema_is(&conn, &g3);
    let after = dump(&conn);
    assert_eq!(after["items"].len(), before["items"].len());
    assert!(
        after["items"].iter().all(|r| r["triage_note"] == Value::Null && r["triage_note_absent"] == Value::Integer(1)),
        "existing items record the new field as absent"
    );
    for t in before.keys() {
        let skip: &[&str] = if t == "items" { &["reputation_average"] } else { &[] };
        assert_rows_kept(&before, &after, t, t, &[], skip);
    }
}

// ------------------------------------------------------------------------------------------
// 4. Checksums, newer databases, idempotence.

#[test]
fn edited_released_migration_is_refused() {
    let mut conn = v2_database();
    let mut released = released_now();
    released.push(migration_of(&generate_fixture("v3_add_priority.yaml", &released)));
    assert_eq!(apply(&mut conn, &released), Ok(vec![3]));
    let state = full_state(&conn);

    let mut edited = released.clone();
    edited[2].sql = edited[2].sql.replace("DEFAULT 0;", "DEFAULT 1;");
    assert_ne!(edited[2].sql, released[2].sql);
    let err = apply(&mut conn, &edited).expect_err("an edited migration is refused");
    assert!(err.contains("migration 0003_add_priority was changed after it was applied"), "{err}");
    assert!(err.contains("released migrations must not be edited"), "{err}");
    assert!(err.contains(&migrations::checksum(&released[2].sql)), "names the applied checksum: {err}");
    assert_eq!(full_state(&conn), state);
}

#[test]
fn newer_database_is_refused() {
    let mut conn = v2_database();
    let mut released = released_now();
    released.push(migration_of(&generate_fixture("v3_add_priority.yaml", &released)));
    assert_eq!(apply(&mut conn, &released), Ok(vec![3]));
    let state = full_state(&conn);

    let err = apply(&mut conn, &released[..2]).expect_err("older code is refused");
    assert!(err.contains("schema version 3 (add_priority), newer than this build's 2"), "{err}");
    // The real generated code (which knows only 0001 and 0002) refuses it too, before writing anything.
    let err = kv2sql::migrate(&mut conn, &tests::example_dump(), false).expect_err("refused").to_string();
    assert!(err.contains("newer"), "{err}");
    assert_eq!(full_state(&conn), state);
}

#[test]
fn applying_twice_is_a_no_op() {
    let mut conn = v2_database();
    let mut released = released_now();
    released.push(migration_of(&generate_fixture("v3_add_priority.yaml", &released)));
    assert_eq!(apply(&mut conn, &released), Ok(vec![3]));
    let rows = applied_rows(&conn);
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[2], (3, "add_priority".to_string(), migrations::checksum(&released[2].sql)));
    let state = full_state(&conn);
    assert_eq!(apply(&mut conn, &released), Ok(vec![]));
    assert_eq!(apply(&mut conn, &released), Ok(vec![]));
    assert_eq!(full_state(&conn), state);
}

// ------------------------------------------------------------------------------------------
// 5. Diagnostics: each mistake is an error located in the mapping, saying what to write.

/// Generates the in-progress v4 from an edit of the v3 fixture, with 0001 to 0003 released.
fn v4_error(edits: &[(&str, &str)]) -> String {
    let mut released = released_now();
    released.push(migration_of(&generate_fixture("v3_add_priority.yaml", &released)));
    let mut text = edit(
        &read("tests/evolution/v3_add_priority.yaml"),
        "  version: 3\n  name: add_priority\n",
        "  version: 4\n  name: next\n",
    );
    for (old, new) in edits {
        text = edit(&text, old, new);
    }
    let d = generate("mapping.yaml", &text, &released).expect_err("the edit is refused");
    let shown = d.to_string();
    assert!(shown.contains("--> mapping.yaml:"), "located: {shown}");
    shown
}

#[test]
fn dropping_a_column_needs_allow_drop_columns() {
    let e = v4_error(&[("          description: { path: description, type: text }\n", "")]);
    assert!(e.contains("the column `items.description` was removed from the mapping"), "{e}");
    assert!(e.contains("add `schema: {allow: {drop_columns: [items.description]}}`"), "{e}");
    assert!(e.contains("renamed_from: description"), "suggests a rename too: {e}");
}

#[test]
fn changing_a_type_needs_allow_type_changes() {
    let e =
        v4_error(&[("created_at: { path: createdAt, type: text }", "created_at: { path: createdAt, type: integer }")]);
    assert!(e.contains("the type of `items.created_at` changes from text to integer"), "{e}");
    assert!(e.contains("type_changes: [items.created_at]"), "{e}");
    assert!(e.contains("(sources[0].children[0].columns.created_at.type)"), "{e}");
}

#[test]
fn new_not_null_column_needs_a_default() {
    let e = v4_error(&[(
        "          created_at: { path: createdAt, type: text }\n",
        "          created_at: { path: createdAt, type: text }\n          severity: { path: severity, type: integer }\n",
    )]);
    assert!(e.contains("the new column `items.severity` is NOT NULL with no default"), "{e}");
    assert!(e.contains("give it a `default:`"), "{e}");
    // A new required object group or child table is the same mistake.
    let e = v4_error(&[(
        "        children:\n          - table: contributors\n",
        "        children:\n          - table: labels\n            array: labels\n            nullable: true\n            columns:\n              item_id: { from: parent.id }\n              position: { from: position }\n              label: { from: value, type: text }\n            primary_key: [item_id, position]\n          - table: contributors\n",
    )]);
    assert!(e.contains("the new column `items.labels_shape` is NOT NULL with no default"), "{e}");
    assert!(e.contains("`optional: true`"), "{e}");
}

#[test]
fn renamed_from_must_name_a_released_table_or_column() {
    let e = v4_error(&[(
        "github_url: { path: githubUrl, type: text }",
        "repo_url: { path: githubUrl, type: text, renamed_from: github_uri }",
    )]);
    assert!(
        e.contains(
            "`renamed_from: github_uri` on `items.repo_url`, but the released table `items` has no column `github_uri`"
        ),
        "{e}"
    );
    // The old column is then reported as removed, with the rename to write.
    assert!(e.contains("the column `items.github_url` was removed"), "{e}");

    let e = v4_error(&[(
        "          - table: ratings\n",
        "          - table: item_ratings\n            renamed_from: rating\n",
    )]);
    assert!(e.contains("`renamed_from: rating`, but the released schema has no table `rating`"), "{e}");

    // The old name still being mapped is also a mistake, not a silent copy.
    let e = v4_error(&[(
        "          title: { path: title, type: text }\n          description:",
        "          title: { path: title, type: text }\n          headline: { path: headline, type: text, optional: true, renamed_from: title }\n          description:",
    )]);
    assert!(e.contains("`renamed_from: title` on `items.headline`, but `title` is still a column of `items`"), "{e}");
}

#[test]
fn schema_version_cannot_go_below_a_released_migration() {
    let mut released = released_now();
    released.push(migration_of(&generate_fixture("v3_add_priority.yaml", &released)));
    released.push(migration_of(&generate_fixture("v4_renames.yaml", &released)));
    let text = edit(&read("tests/evolution/v4_renames.yaml"), "  version: 4\n", "  version: 3\n");
    let e = generate("mapping.yaml", &text, &released).expect_err("refused").to_string();
    assert!(e.contains("`schema.version` is 3, but generated/migrations already has 0004_renames"), "{e}");
    assert!(e.contains("versions only go up: set `schema.version: 4` or higher"), "{e}");
    assert!(e.contains("--> mapping.yaml:"), "located: {e}");
}

// ------------------------------------------------------------------------------------------
// 6. Rollback.

#[test]
fn failed_migration_rolls_back_completely() {
    let mut conn = v2_database();
    let released = released_now();
    // Titles are text like "Agent marketplace": they do not convert to INTEGER.
    let text = edit(
        &read("mapping.yaml"),
        "  version: 2\n  name: null_safe_checks\n",
        "  version: 3\n  name: numeric_titles\n  allow:\n    type_changes: [items.title]\n",
    );
    let text = edit(
        &text,
        "          title: { path: title, type: text }\n          description:",
        "          title: { path: title, type: integer }\n          description:",
    );
    let g = generate("mapping.yaml", &text, &released).unwrap_or_else(|d| panic!("{d}"));
    let m3 = migration_of(&g);
    assert!(m3.sql.contains("kv2sql_old_items"), "{}", m3.sql);
    let mut all = released.clone();
    all.push(m3);
    let state = full_state(&conn);
    let ms = runtime_migrations(&all);

    // The caller's transaction: the migration fails halfway (after the old table is dropped),
    // and rolling back restores everything.
    {
        let tx = conn.transaction().expect("begin");
        let err = migrations::apply(&mut Sqlite::new(&tx), &ms).expect_err("the conversion fails").to_string();
        assert!(err.contains("migration 0003_numeric_titles failed"), "{err}");
        assert!(err.contains("cannot store TEXT value in INTEGER column items.title"), "{err}");
        // Halfway: inside the transaction the rows are only in the holding table.
        let n: i64 = tx.query_row("SELECT COUNT(*) FROM kv2sql_old_items", [], |r| r.get(0)).expect("halfway");
        assert!(n > 0);
        tx.rollback().expect("rollback");
    }
    assert_eq!(full_state(&conn), state);
    assert_healthy(&conn);
    assert_eq!(applied_rows(&conn).len(), 2);
    // The database is still usable by the released code.
    let report = kv2sql::migrate(&mut conn, &tests::example_dump(), false).expect("still usable");
    assert_eq!(report.rows_written, Some(0), "{report:?}");
}

/// Why the rebuild drops and re-creates the table under its own name: SQLite's
/// create-new/drop/rename leaves the children's deferred foreign-key count raised, and the
/// COMMIT fails; the copy-back procedure commits, and still fails on a real orphan.
#[test]
fn rebuild_procedure_keeps_foreign_keys_exact() {
    let setup = "CREATE TABLE p (id TEXT NOT NULL, v INTEGER NOT NULL, PRIMARY KEY (id)) STRICT;
        CREATE TABLE c (pid TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (pid, n),
          FOREIGN KEY (pid) REFERENCES p (id)) STRICT;
        INSERT INTO p VALUES ('a', 1), ('b', 2);
        INSERT INTO c VALUES ('a', 1), ('a', 2), ('b', 1);";
    let run = |script: &str| -> Result<(), String> {
        let mut conn = tests::memory_db();
        conn.execute_batch(setup).expect("setup");
        let tx = conn.transaction().expect("begin");
        tx.execute_batch(script).map_err(|e| e.to_string())?;
        tx.commit().map_err(|e| e.to_string())
    };
    let rename = "PRAGMA defer_foreign_keys = ON;
        CREATE TABLE kv2sql_new_p (id TEXT NOT NULL, v REAL NOT NULL, PRIMARY KEY (id)) STRICT;
        INSERT INTO kv2sql_new_p (id, v) SELECT id, v FROM p;
        DROP TABLE p;
        ALTER TABLE kv2sql_new_p RENAME TO p;";
    assert_eq!(run(rename), Err("FOREIGN KEY constraint failed".to_string()));
    let copy_back = |filter: &str| {
        format!(
            "PRAGMA defer_foreign_keys = ON;
            CREATE TABLE kv2sql_old_p (id TEXT NOT NULL, v INTEGER NOT NULL, PRIMARY KEY (id)) STRICT;
            INSERT INTO kv2sql_old_p (id, v) SELECT id, v FROM p;
            DROP TABLE p;
            CREATE TABLE p (id TEXT NOT NULL, v REAL NOT NULL, PRIMARY KEY (id)) STRICT;
            INSERT INTO p (id, v) SELECT id, v FROM kv2sql_old_p {filter};
            DROP TABLE kv2sql_old_p;"
        )
    };
    assert_eq!(run(&copy_back("")), Ok(()));
    assert_eq!(run(&copy_back("WHERE id = 'a'")), Err("FOREIGN KEY constraint failed".to_string()));
}

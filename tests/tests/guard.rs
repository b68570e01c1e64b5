//! The divergence guard and the lifecycle (runtime/src/lifecycle.rs) through the native front
//! end: a migration never overwrites rows written outside a migration, unless forced; a cut-over
//! database refuses every migration; status shows each phase.

use kv2sql::{migrate_run, MigrateOptions};
use kv2sql_runtime::lifecycle::{self, Divergence, Phase};
use kv2sql_runtime::sqlite::Sqlite;
use kv2sql_runtime::{Error, Report};
use kv2sql_tests as tests;
use rusqlite::Connection;

fn run(conn: &mut Connection, force: bool, dry_run: bool) -> Result<Report, Error> {
    let opts = MigrateOptions { dry_run, ..Default::default() };
    // `full`: these tests are about the guard of a run that compares (tests/rerun.rs in the
    // CLI covers the skip of an unchanged re-run).
    migrate_run(conn, &tests::example_dump(), &opts, force, true)
}

/// A database after one migration of the example dump.
fn migrated() -> Connection {
    let mut conn = tests::memory_db();
    let first = run(&mut conn, false, false).expect("first migration");
    assert!(first.rows_written.unwrap() > 0);
    conn
}

fn div(table: &str, rows: u64) -> Divergence {
    Divergence { table: table.into(), rows }
}

/// The data tables only (the bookkeeping tables change when a run is recorded).
fn data(conn: &Connection) -> Vec<String> {
    tests::all_rows(conn).into_iter().filter(|r| !r.starts_with("kv2sql_")).collect()
}

/// Every row, bookkeeping included: what "changes nothing" compares.
fn everything(conn: &Connection) -> Vec<String> {
    let mut out = tests::all_rows(conn);
    out.extend(tests::table_rows(conn, "kv2sql_lifecycle", ""));
    out.extend(tests::table_rows(conn, "kv2sql_changes", ""));
    out
}

fn status(conn: &Connection) -> lifecycle::Status {
    lifecycle::status(&mut Sqlite::new(conn)).expect("status")
}

/// v2 edits an item's title and creates an item (the reproduction of issue 13).
fn v2_edits_and_inserts(conn: &Connection) {
    conn.execute_batch(
        "UPDATE items SET title = 'edited in v2' WHERE position = 0;
         CREATE TEMP TABLE new_item AS SELECT * FROM items WHERE position = 0;
         UPDATE new_item SET position = 1000, id = 'created-in-v2', title = 'created in v2';
         INSERT INTO items SELECT * FROM new_item;
         DROP TABLE new_item;",
    )
    .expect("v2 writes");
}

fn diverged(e: Error) -> Vec<Divergence> {
    match e {
        Error::Diverged { tables } => tables,
        other => panic!("expected a divergence, got {other:?}"),
    }
}

#[test]
fn a_rerun_after_v2_writes_is_refused_and_changes_nothing() {
    let mut conn = migrated();
    v2_edits_and_inserts(&conn);
    let before = everything(&conn);
    let e = run(&mut conn, false, false).unwrap_err();
    assert_eq!(e.kind(), "diverged");
    assert!(e.to_string().contains("items: 2 rows"), "{e}");
    assert!(e.to_string().contains("--force"), "{e}");
    assert_eq!(diverged(e), vec![div("items", 2)]);
    assert_eq!(everything(&conn), before, "a refused migration wrote something");
    let title: String = conn.query_row("SELECT title FROM items WHERE position = 0", [], |r| r.get(0)).unwrap();
    assert_eq!(title, "edited in v2");
    // Refused again, and again: a refusal does not clear the record.
    for _ in 0..2 {
        assert_eq!(diverged(run(&mut conn, false, false).unwrap_err()), vec![div("items", 2)]);
    }
    assert_eq!(everything(&conn), before);
}

#[test]
fn edits_inserts_and_deletes_are_each_counted_per_row() {
    let cases: &[(&str, &[(&str, u64)])] = &[
        ("UPDATE items SET title = title || '!'", &[("items", 0)]), // every item: counted below
        ("UPDATE items SET title = 'x' WHERE position IN (0, 1)", &[("items", 2)]),
        (
            "UPDATE items SET title = 'x' WHERE position = 0; UPDATE items SET title = 'y' WHERE position = 0",
            &[("items", 1)],
        ),
        ("DELETE FROM search_terms WHERE rowid IN (SELECT rowid FROM search_terms LIMIT 2)", &[("search_terms", 2)]),
        (
            "INSERT INTO search_terms SELECT * FROM search_terms WHERE 0; \
             CREATE TEMP TABLE t AS SELECT * FROM events LIMIT 1; UPDATE t SET position = 99999, id = 'v2-event'; \
             INSERT INTO events SELECT * FROM t; DROP TABLE t; \
             UPDATE items_doc SET write_version = write_version + 1",
            &[("events", 1), ("items_doc", 1)],
        ),
    ];
    for (sql, expected) in cases {
        let mut conn = migrated();
        conn.execute_batch(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        let mut expected: Vec<Divergence> = expected.iter().map(|(t, n)| div(t, *n)).collect();
        if expected[0].rows == 0 {
            let items: u64 = conn.query_row("SELECT COUNT(*) FROM items", [], |r| r.get(0)).unwrap();
            expected[0].rows = items;
        }
        let before = everything(&conn);
        assert_eq!(diverged(run(&mut conn, false, false).unwrap_err()), expected, "{sql}");
        assert_eq!(status(&conn).diverged_tables, expected, "{sql}");
        assert!(status(&conn).diverged);
        assert_eq!(everything(&conn), before, "{sql}");
    }
}

#[test]
fn a_dry_run_shows_the_divergence_without_refusing_or_writing() {
    let mut conn = migrated();
    v2_edits_and_inserts(&conn);
    let before = everything(&conn);
    let r = run(&mut conn, false, true).expect("a dry run reports");
    assert_eq!(r.diverged, vec![div("items", 2)]);
    assert!(!r.forced);
    // What a forced run would do: put the title back, delete the created item.
    let items = r.tables.iter().find(|t| t.table == "items").unwrap();
    assert_eq!((items.updated, items.deleted), (1, 1));
    assert_eq!(r.rows_written, Some(0));
    assert!(r.render_text().contains("diverged since the last migration (items: 2 rows)"), "{}", r.render_text());
    assert_eq!(everything(&conn), before);
    assert_eq!(diverged(run(&mut conn, false, false).unwrap_err()), vec![div("items", 2)]);
}

#[test]
fn force_overwrites_reports_what_it_overwrote_and_clears_the_record() {
    let mut conn = migrated();
    let fresh = data(&conn);
    v2_edits_and_inserts(&conn);
    let r = run(&mut conn, true, false).expect("forced");
    assert!(r.forced);
    assert_eq!(r.diverged, vec![div("items", 2)]);
    assert!(r.render_text().contains("forced: overwrote rows written outside a migration (items: 2 rows)"));
    assert_eq!(r.rows_written, Some(2), "the edit reverted, the created item deleted");
    assert_eq!(data(&conn), fresh, "a forced run restores exactly the KV data");
    assert!(!status(&conn).diverged);
    let again = run(&mut conn, false, false).expect("repeatable again");
    assert_eq!(again.rows_written, Some(0));
    assert!(again.diverged.is_empty());
}

#[test]
fn an_unchanged_rerun_writes_no_data_row_and_records_itself() {
    let mut conn = migrated();
    let digest = status(&conn).state.kv_digest.clone().expect("digest recorded");
    let before = data(&conn);
    for _ in 0..3 {
        let r = run(&mut conn, false, false).expect("re-run");
        assert_eq!(r.rows_written, Some(0));
        assert_eq!(r.bookkeeping_writes, Some(2), "the flag set, then the run recorded");
        assert!(r.diverged.is_empty());
    }
    assert_eq!(data(&conn), before);
    let s = status(&conn);
    assert_eq!(s.state.phase, Phase::Migrated);
    assert_eq!(s.state.kv_digest.as_deref(), Some(digest.as_str()));
    assert_eq!(digest, lifecycle::kv_digest(&tests::example_dump(), kv2sql_generated::is_mapped));
    assert!(!s.diverged);
}

#[test]
fn a_cutover_refuses_every_migration_until_undone() {
    let mut conn = migrated();
    let state = lifecycle::cutover(&mut Sqlite::new(&conn), "2026-01-01T00:00:00Z").unwrap();
    assert_eq!(state.phase, Phase::CutOver);
    assert_eq!(status(&conn).state.cut_over_at.as_deref(), Some("2026-01-01T00:00:00Z"));
    v2_edits_and_inserts(&conn);
    let before = everything(&conn);
    for (force, dry_run) in [(false, false), (true, false), (false, true), (true, true)] {
        let e = run(&mut conn, force, dry_run).unwrap_err();
        assert_eq!(e.kind(), "cut_over", "force {force} dry_run {dry_run}: {e}");
        assert!(e.to_string().contains("cutover --undo"), "{e}");
    }
    assert_eq!(everything(&conn), before);
    // v2's writes since the cutover are still known.
    assert_eq!(status(&conn).diverged_tables, vec![div("items", 2)]);

    let state = lifecycle::undo_cutover(&mut Sqlite::new(&conn)).unwrap();
    assert_eq!((state.phase, state.cut_over_at), (Phase::Migrated, None));
    // Undone: migrations run again, and still refuse to overwrite v2's writes without force.
    assert_eq!(diverged(run(&mut conn, false, false).unwrap_err()), vec![div("items", 2)]);
    assert_eq!(run(&mut conn, true, false).unwrap().rows_written, Some(2));
    assert_eq!(run(&mut conn, false, false).unwrap().rows_written, Some(0));
}

#[test]
fn lifecycle_commands_refuse_the_wrong_phase() {
    let conn = tests::memory_db();
    let e = lifecycle::cutover(&mut Sqlite::new(&conn), "t").unwrap_err();
    assert_eq!(e.kind(), "lifecycle");
    assert!(e.to_string().contains("never migrated"), "{e}");
    let conn = migrated();
    let e = lifecycle::undo_cutover(&mut Sqlite::new(&conn)).unwrap_err();
    assert!(e.to_string().contains("not cut over"), "{e}");
    lifecycle::cutover(&mut Sqlite::new(&conn), "first").unwrap();
    let again = lifecycle::cutover(&mut Sqlite::new(&conn), "second").unwrap();
    assert_eq!(again.cut_over_at.as_deref(), Some("first"), "cutting over twice keeps the first time");
}

#[test]
fn status_shows_each_phase() {
    let mut conn = tests::memory_db();
    let s = status(&conn);
    assert_eq!((s.state.phase, s.schema_version, s.diverged), (Phase::NeverMigrated, 0, false));
    let objects: i64 = conn.query_row("SELECT COUNT(*) FROM sqlite_master", [], |r| r.get(0)).unwrap();
    assert_eq!(objects, 0, "status created something");
    // A dry run records nothing.
    run(&mut conn, false, true).unwrap();
    assert_eq!(status(&conn).state.phase, Phase::NeverMigrated);
    run(&mut conn, false, false).unwrap();
    let s = status(&conn);
    assert_eq!((s.state.phase, s.schema_version), (Phase::Migrated, kv2sql_generated::MIGRATIONS.len() as i64));
    assert!(s.state.last_migrated_at.as_deref().is_some_and(|t| t.ends_with('Z') && t.len() == 20), "{s:?}");
    assert_eq!(s.state.kv_digest.as_ref().map(String::len), Some(64));
    conn.execute_batch("DELETE FROM search_terms WHERE rowid IN (SELECT rowid FROM search_terms LIMIT 2)").unwrap();
    let s = status(&conn);
    assert!(s.diverged);
    assert_eq!(s.diverged_tables, vec![div("search_terms", 2)]);
    lifecycle::cutover(&mut Sqlite::new(&conn), "2026-02-02T00:00:00Z").unwrap();
    let s = status(&conn);
    assert_eq!(s.state.phase, Phase::CutOver);
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["phase"], "cut_over");
    assert_eq!(json["diverged_tables"][0]["rows"], 2);
}

#[test]
fn a_database_migrated_before_the_guard_existed_is_adopted() {
    // What an earlier build left: the data tables and kv2sql_migrations, nothing else.
    let mut conn = migrated();
    let triggers: Vec<String> = {
        let mut st = conn.prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'").unwrap();
        st.query_map([], |r| r.get(0)).unwrap().map(|r| r.unwrap()).collect()
    };
    assert_eq!(triggers.len(), 3 * kv2sql_generated::TABLES.len());
    for t in triggers {
        conn.execute_batch(&format!("DROP TRIGGER \"{t}\"")).unwrap();
    }
    conn.execute_batch("DROP TABLE kv2sql_lifecycle; DROP TABLE kv2sql_changes").unwrap();
    assert_eq!(status(&conn).state.phase, Phase::NeverMigrated);
    assert_eq!(run(&mut conn, false, false).unwrap().rows_written, Some(0));
    assert_eq!(status(&conn).state.phase, Phase::Migrated);
    conn.execute_batch("UPDATE items SET title = 'v2' WHERE position = 0").unwrap();
    assert_eq!(diverged(run(&mut conn, false, false).unwrap_err()), vec![div("items", 1)]);
}

// ---------------------------------------------------------------------------------------------
// Schema upgrades.

/// Rebuilds `table` the way codegen/src/evolve.rs does (copy out, drop, create, copy back),
/// which drops the table's triggers with it.
fn rebuild(conn: &Connection, table: &str) {
    let create: String = conn
        .query_row("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?1", [table], |r| r.get(0))
        .unwrap();
    conn.execute_batch(&format!(
        "PRAGMA defer_foreign_keys = ON;
         CREATE TABLE kv2sql_old AS SELECT * FROM \"{table}\";
         DROP TABLE \"{table}\";
         {create};
         INSERT INTO \"{table}\" SELECT * FROM kv2sql_old;
         DROP TABLE kv2sql_old;"
    ))
    .unwrap();
}

fn guard_triggers(conn: &Connection, table: &str) -> usize {
    conn.query_row(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?1 AND name LIKE 'kv2sql_guard_%'",
        [table],
        |r| r.get(0),
    )
    .unwrap()
}

#[test]
fn the_next_migration_recreates_triggers_a_table_rebuild_dropped() {
    let mut conn = migrated();
    assert_eq!(guard_triggers(&conn, "items"), 3);
    // A rebuild inside a transaction with the flag set, as a migration applies it.
    conn.execute_batch("BEGIN; UPDATE kv2sql_lifecycle SET migrating = 1").unwrap();
    rebuild(&conn, "items");
    conn.execute_batch("UPDATE kv2sql_lifecycle SET migrating = 0; COMMIT").unwrap();
    assert_eq!(guard_triggers(&conn, "items"), 0);
    assert!(!status(&conn).diverged, "the rebuild itself is not a divergence");
    assert_eq!(run(&mut conn, false, false).unwrap().rows_written, Some(0));
    assert_eq!(guard_triggers(&conn, "items"), 3);
    v2_edits_and_inserts(&conn);
    assert_eq!(diverged(run(&mut conn, false, false).unwrap_err()), vec![div("items", 2)]);
}

/// The front end that upgrades the schema outside a migration (a Durable Object when it starts)
/// uses `lifecycle::apply_schema`: the four evolution releases on top of this build's (the last rebuilds `items`, which seven
/// tables reference), then the guard still sees every write and the upgrade itself is not one.
#[test]
fn a_schema_upgrade_with_a_rebuild_keeps_the_guard_working() {
    use kv2sql_codegen::evolve::Snapshot;
    use kv2sql_codegen::{generate, Released};
    use kv2sql_runtime::migrations::Migration;

    let read = |rel: &str| std::fs::read_to_string(tests::root().join(rel)).unwrap();
    let leak = |s: &str| -> &'static str { Box::leak(s.to_string().into_boxed_str()) };
    // The releases this build already has (0001, 0002), then the evolution fixtures on top.
    let mut released: Vec<Released> = kv2sql_generated::MIGRATIONS
        .iter()
        .map(|m| {
            let base = format!("generated/migrations/{:04}_{}", m.version, m.name);
            Released {
                version: m.version,
                name: m.name.into(),
                sql: read(&format!("{base}.sql")),
                snapshot: serde_json::from_str(&read(&format!("{base}.json"))).unwrap(),
            }
        })
        .collect();
    let first_new = released.len() as i64 + 1;
    let mut last = None;
    for fixture in ["v3_add_priority.yaml", "v4_renames.yaml", "v5_labels.yaml", "v6_real_averages.yaml"] {
        let g = generate("mapping.yaml", &read(&format!("tests/evolution/{fixture}")), &released).unwrap();
        let n = g.model.schema_version;
        let base = format!("migrations/{n:04}_{}", g.model.schema_name);
        let snapshot: Snapshot = serde_json::from_str(&g.files[&format!("{base}.json")]).unwrap();
        released.push(Released {
            version: n,
            name: g.model.schema_name.clone(),
            sql: g.files[&format!("{base}.sql")].clone(),
            snapshot,
        });
        last = Some(g);
    }
    let newest = last.unwrap();
    assert!(released.last().unwrap().sql.contains("DROP TABLE \"items\";"), "the last release rebuilds items");
    let tables: Vec<&'static str> = newest.model.tables.iter().map(|t| leak(&t.name)).collect();
    let all: Vec<Migration> =
        released.iter().map(|r| Migration { version: r.version, name: leak(&r.name), sql: leak(&r.sql) }).collect();

    let conn = migrated();
    conn.execute_batch("BEGIN").unwrap();
    let applied = lifecycle::apply_schema(&mut Sqlite::new(&conn), &tables, &all).unwrap();
    conn.execute_batch("COMMIT").unwrap();
    assert_eq!(applied, (first_new..first_new + 4).collect::<Vec<i64>>());
    assert!(!status(&conn).diverged, "the upgrade's own writes are not a divergence: {:?}", status(&conn));
    for t in &tables {
        assert_eq!(guard_triggers(&conn, t), 3, "{t}");
    }
    let stale: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'kv2sql_guard_%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(stale as usize, 3 * tables.len(), "no trigger of a renamed table is left behind");
    conn.execute_batch("UPDATE items SET title = 'after the upgrade' WHERE position = 0").unwrap();
    assert_eq!(status(&conn).diverged_tables, vec![div("items", 1)]);
    // Nothing pending: applying again writes nothing and keeps the triggers.
    conn.execute_batch("BEGIN").unwrap();
    assert_eq!(lifecycle::apply_schema(&mut Sqlite::new(&conn), &tables, &all).unwrap(), Vec::<i64>::new());
    conn.execute_batch("COMMIT").unwrap();
    assert_eq!(status(&conn).diverged_tables, vec![div("items", 1)]);
}
